"""Rebuild the official Kokoro-82M PyTorch state dict from a kokoro-onnx export.

The kokoro-onnx release files (`kokoro-v1.0.onnx`, `.fp16.onnx`, `.int8.onnx`) were exported from
upstream `KModel` wrapped as `encoder` (bert, bert_encoder, predictor, text_encoder) and
`decoder.decoder` (the iSTFTNet decoder). The exporter and onnxruntime's optimizer changed the
weights' form, and this module undoes each change:

- int8 dynamic quantization: `W = (q - zero_point) * scale` (per tensor, per output channel, or per
  LSTM direction); zero points are deduplicated across tensors, so each is read from the node that
  consumes the weight, never guessed from its name.
- Linear layers became MatMul(Integer) with the weight stored transposed ([in, out]).
- Weight-normalized convs were constant-folded into one tensor named after a `Mul` node; the module
  they belong to is read from the consuming Conv node's scope. We restore `weight_v = W` and
  `weight_g = ||W||` (norm over all but dim 0), which weight_norm maps back to `W`.
- LSTMs became (DynamicQuantize)LSTM nodes: W [dirs, in, 4H] and R [dirs, H, 4H] transposed, gate
  order i,o,f,c (PyTorch: i,f,g,o), biases packed as [W_b | R_b] per direction.

Parameters the export cannot carry because they do not affect `KModel.forward` are set to
documented values (see `ABSENT_FROM_EXPORT`). Every other parameter must come from the export and
every weight tensor in the export must be used: anything else is an `ImportMismatch`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kokoro_litert.runtime.errors import KokoroError

# Parameters that KModel owns but its forward pass never reads as anything but identity/unused,
# so the ONNX export folded them away. (pattern, value, reason)
ABSENT_FROM_EXPORT = (
    (re.compile(r"^bert\.pooler\.(weight|bias)$"), 0.0,
     "ALBERT pooler: KModel uses last_hidden_state only, so the exporter dropped it"),
    (re.compile(r"\.norm\.weight$"), 1.0,
     "InstanceNorm1d affine scale inside AdaIN: the export normalizes with no per-channel scale, i.e. 1"),
    (re.compile(r"\.norm\.bias$"), 0.0,
     "InstanceNorm1d affine shift inside AdaIN: the export normalizes with no per-channel shift, i.e. 0"),
)

# Modules the export wrapper called directly on `encoder` rather than through `encoder.predictor`.
_SCOPE_ALIASES = {"F0": "predictor.F0", "N": "predictor.N", "F0_proj": "predictor.F0_proj",
                  "N_proj": "predictor.N_proj", "shared": "predictor.shared"}
_WEIGHT_OPS = {"Gather", "MatMul", "MatMulInteger", "Conv", "ConvInteger", "ConvTranspose",
               "LSTM", "DynamicQuantizeLSTM"}
_ONNX_TO_TORCH_GATES = [0, 2, 3, 1]  # ONNX i,o,f,c -> PyTorch i,f,g(c),o


class ImportMismatch(KokoroError):
    """The export does not map one-to-one onto KModel's parameters."""

    def __init__(self, problem: str):
        super().__init__(problem, "Pass a kokoro-onnx export of Kokoro-82M v1.0 (kokoro-v1.0[.fp16|.int8].onnx).")


@dataclass
class ImportReport:
    source: str
    assigned_from_export: int = 0
    assigned_absent: int = 0
    total_tensors: int = 0
    params_from_export: int = 0
    params_total: int = 0
    absent_notes: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"imported {self.assigned_from_export + self.assigned_absent}/{self.total_tensors} tensors "
            f"({self.params_from_export:,}/{self.params_total:,} values from the export), strict load OK",
        ]
        for reason, n in self.absent_notes.items():
            lines.append(f"  {n} tensor(s) not in the export, set by rule: {reason}")
        return "\n".join(lines)


def _module_path(node_name: str, module_names: set[str]) -> str | None:
    """'/encoder/text_encoder/cnn.0/cnn.0.0/Conv_quant' -> 'text_encoder.cnn.0.0'."""
    segments = [s for s in node_name.split("/")[:-1] if s]
    if not segments or segments[0] not in ("encoder", "decoder"):
        return None
    collapsed: list[str] = []
    for seg in segments[1:]:
        seg = re.sub(r"_\d+$", "", seg)  # repeated calls of one module: attention_3 -> attention
        if collapsed and seg.startswith(collapsed[-1] + "."):
            collapsed[-1] = seg  # ModuleList child scopes repeat their parent: cnn.0/cnn.0.0
        else:
            collapsed.append(seg)
    if segments[0] == "decoder" and collapsed[:1] == ["decoder"]:
        pass  # '/decoder/decoder/...' is KModel.decoder
    elif collapsed and collapsed[0].split(".")[0] in _SCOPE_ALIASES:
        head, _, index = collapsed[0].partition(".")
        collapsed[0] = _SCOPE_ALIASES[head] + (f".{index}" if index else "")
    path = ".".join(collapsed)
    return path if path in module_names else None


class _Graph:
    def __init__(self, path: Path):
        import onnx
        from onnx import numpy_helper

        try:
            model = onnx.load(str(path))
        except Exception as e:  # protobuf raises several unrelated types on a damaged file
            raise KokoroError(f"Cannot parse {path} as ONNX ({type(e).__name__}).",
                              "The file is corrupt or not a kokoro-onnx export: download it again.") from e
        self.nodes = list(model.graph.node)
        self.init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.consumers: dict[str, list] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.used: set[str] = set()

    def tensor(self, name: str) -> np.ndarray:
        self.used.add(name)
        return self.init[name].astype(np.float32)

    def dequantized(self, name: str, zero_point_name: str, scale_name: str,
                    channel_axis: int | None) -> np.ndarray:
        q = self.init[name].astype(np.float32)
        zp = self.init[zero_point_name].astype(np.float32)
        scale = self.init[scale_name].astype(np.float32)
        self.used.update((name, scale_name))
        if scale.ndim and channel_axis is not None:
            shape = [1] * q.ndim
            shape[channel_axis] = -1
            scale, zp = scale.reshape(shape), (zp.reshape(shape) if zp.ndim else zp)
        return (q - zp) * scale

    def weight(self, node, index: int, channel_axis: int | None) -> np.ndarray:
        """Float value of a node's weight input, dequantized when it is an int8 tensor."""
        name = node.input[index]
        if not name.endswith("_quantized"):
            return self.tensor(name)
        base = name[: -len("_quantized")]
        if node.op_type in ("ConvInteger", "MatMulInteger"):
            zp_name = node.input[3]
        elif node.op_type == "Gather":
            dq = next(c for c in self.consumers[node.output[0]] if c.op_type == "DequantizeLinear")
            zp_name = dq.input[2]
        else:  # DynamicQuantizeLSTM: W scale/zp at 8/9, R at 10/11
            zp_name = node.input[9 if index == 1 else 11]
            return self.dequantized(name, zp_name, node.input[8 if index == 1 else 10], 0)
        return self.dequantized(name, zp_name, base + "_scale", channel_axis)


def _lstm_tensors(graph: _Graph, node, hidden: int) -> dict[str, np.ndarray]:
    w = graph.weight(node, 1, 0)  # [dirs, in, 4H] (quantized layout) or [dirs, 4H, in] (float LSTM)
    r = graph.weight(node, 2, 0)
    b = graph.tensor(node.input[3])  # [dirs, 8H]
    if node.op_type == "DynamicQuantizeLSTM":
        w, r = w.transpose(0, 2, 1), r.transpose(0, 2, 1)

    def torch_gates(x: np.ndarray) -> np.ndarray:
        blocks = x.reshape(4, hidden, *x.shape[1:])
        return blocks[_ONNX_TO_TORCH_GATES].reshape(x.shape)

    out = {}
    for d, suffix in enumerate(("", "_reverse")):
        out[f"weight_ih_l0{suffix}"] = torch_gates(w[d])
        out[f"weight_hh_l0{suffix}"] = torch_gates(r[d])
        out[f"bias_ih_l0{suffix}"] = torch_gates(b[d, : 4 * hidden])
        out[f"bias_hh_l0{suffix}"] = torch_gates(b[d, 4 * hidden:])
    return out


def _weight_from_node(graph: _Graph, node) -> np.ndarray:
    if node.op_type == "Gather":
        return graph.weight(node, 0, 0)
    if node.op_type in ("MatMul", "MatMulInteger"):
        return graph.weight(node, 1, 1).T  # stored [in, out], per-column scales
    return graph.weight(node, 1, 0)  # convs: per-output-channel scales on axis 0


def state_dict_from_onnx(onnx_path: str | Path, kmodel) -> tuple[dict, ImportReport]:
    """Map every KModel parameter to its tensor in the export. Returns (state_dict, report)."""
    import torch

    graph = _Graph(Path(onnx_path))
    modules = dict(kmodel.named_modules())
    expected = kmodel.state_dict()
    found: dict[str, np.ndarray] = {}

    # 1) tensors reached through the nodes that consume them (weights, folded convs, LSTMs)
    for node in graph.nodes:
        if node.op_type not in _WEIGHT_OPS:
            continue
        weight_index = 0 if node.op_type == "Gather" else 1
        if len(node.input) <= weight_index or node.input[weight_index] not in graph.init:
            continue
        path = _module_path(node.name, set(modules))
        if path is None:
            continue
        module = modules[path]
        if isinstance(module, torch.nn.LSTM):
            tensors = _lstm_tensors(graph, node, module.hidden_size)
        else:
            w = _weight_from_node(graph, node)
            if hasattr(module, "weight_v"):
                g = np.sqrt((w.astype(np.float64) ** 2).sum(axis=tuple(range(1, w.ndim)), keepdims=True))
                # int8 rounding zeroes some output channels entirely; weight_norm would give 0/0 there,
                # so such rows get v = 1 and g = 0, which still yields an all-zero row.
                v = np.where(g == 0, np.float32(1), w)
                tensors = {"weight_v": v, "weight_g": g.astype(np.float32)}
            else:
                tensors = {"weight": w}
            if node.op_type in ("Conv", "ConvTranspose") and len(node.input) > 2:
                tensors["bias"] = graph.tensor(node.input[2])
        for name, value in tensors.items():
            key = f"{path}.{name}"
            if key in found and not np.array_equal(found[key], value):
                raise ImportMismatch(f"{key}: two different tensors in the export ({node.name})")
            found[key] = value

    # 2) tensors stored under their own module path (biases, norms, Snake alphas, gamma/beta)
    for key in expected:
        if key in found:
            continue
        onnx_name = ("decoder." if key.startswith("decoder.") else "encoder.") + key
        if onnx_name in graph.init:
            found[key] = graph.tensor(onnx_name)

    report = ImportReport(source=str(onnx_path), total_tensors=len(expected),
                          params_total=sum(v.numel() for v in expected.values()))
    state_dict = {}
    missing = []
    for key, ref in expected.items():
        if key in found:
            value = found[key]
            if tuple(value.shape) != tuple(ref.shape):
                raise ImportMismatch(f"{key}: export gives shape {value.shape}, KModel has {tuple(ref.shape)}")
            state_dict[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
            report.assigned_from_export += 1
            report.params_from_export += ref.numel()
            continue
        rule = next(((v, why) for pat, v, why in ABSENT_FROM_EXPORT if pat.search(key)), None)
        if rule is None:
            missing.append(key)
            continue
        state_dict[key] = torch.full_like(ref, rule[0])
        report.assigned_absent += 1
        report.absent_notes[rule[1]] = report.absent_notes.get(rule[1], 0) + 1
    if missing:
        raise ImportMismatch(f"{len(missing)} KModel tensors not found in {onnx_path}: {missing[:8]}")

    weights_in_export = {n for n, a in graph.init.items()
                         if n.endswith("_quantized") or (a.ndim >= 1 and a.size > 1 and a.dtype == np.float32
                                                         and (n.startswith(("encoder.", "decoder."))
                                                              or "Mul_" in n or n.startswith("onnx::")))}
    unused = sorted(n for n in weights_in_export - graph.used
                    if not n.endswith("inverse_basis") and not n.endswith("forward_basis")
                    and graph.init[n].size >= 64)
    if unused:
        raise ImportMismatch(f"{len(unused)} weight tensors in the export were not mapped: {unused[:8]}")
    kmodel.load_state_dict(state_dict, strict=True)
    return state_dict, report
