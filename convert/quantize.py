"""The quantized precisions of the converted stages, written beside the fp32 graphs by `convert`.

Every weight of a converted graph is traced back to the stage module's parameter it was lowered
from (`find_weights`), and a precision's recipe says, per parameter name, how it is stored. What
decides it is the fidelity yardstick (tests/benchmarks/yardstick.py, issue 24's floor: durations
identical on >= 98% of sentences, predicted F0 within 5 cents RMSE of fp32's on average and 15 on
the worst sentence, MCD at most 0.6 dB above the seed-to-seed floor, Whisper's word error rate within
0.5 points of PyTorch's), and what each storage costs in memory on XNNPACK (NOTES.md, "Smaller
weights in LiteRT"):

    int8  dynamic range: int8 weights per output channel, activations quantized on the fly. The
          weights stay int8 in memory (CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV).
    fp16  float16 weights read through a DEQUANTIZE: half the file; XNNPACK packs them straight
          into float32 and computes in float32, without keeping a second float32 copy, for
          CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D only (TRANSPOSE_CONV, BATCH_MATMUL and
          EMBEDDING_LOOKUP would keep one: never float16 in the default).
    fp32  as converted.

Why a float16 F0 path is fine: the F0 curve drives the host sine source, whose phase integrates
every error in it, so float16 weights there decorrelate the waveform (the old floor, waveform
correlation, kept everything F0 sees float32); but the curve itself moves by a fraction of a cent,
far below the ~5 cents anyone can hear (the yardstick compares the predicted curves directly).

    int8 (the default: `RECIPES["int8"]`; each group's cost measured by tests/benchmarks/precision_sweep.py,
    the result by tests/benchmarks/yardstick.py, figures in tests/benchmarks/RESULTS.md)
    stage      int8                                  float16                         float32
    predictor  the text encoder (its convs and       ALBERT, the duration encoder    the embeddings
               LSTM input projections)               and duration LSTMs, every
                                                     LSTM's recurrent weights
    prosody    the N branch (convs, style affines)   -                               the shared LSTM,
                                                                                     the F0 branch
    vocoder    the decoder's convs, the generator's  the residual blocks at the      conv_post, noise
               upsamplers and other residual convs,  output rate                     convs, F0_conv,
               every AdaIN's style affine                                            N_conv, asr_res

    fp16  every weight of the predictor and the vocoder float16 (computed in float32 on CPUs),
          prosody fp32 (its own file would be a third copy of a small graph). Half the file, not
          less memory or start-up on a CPU: LiteRT expands the vocoder's float16 transposed-conv
          weights and the embeddings to float32 at creation. Opt-in, for float16 targets.

Each recipe is checked against the graph when it is applied: every rule must find weights, every
weight it picks must sit on an op that precision serves (above), so a change in how a graph is
lowered fails here instead of silently storing something else.

The files are written here directly (`write_weights`), one pass over the flatbuffer: the int8
values are ai-edge-quantizer's (per output channel, symmetric, scale max|w| / 127 in float32,
round half to even, clipped to +-127: bit-identical, tests/test_bundles.py), in seconds where
ai-edge-quantizer took 110 s for the predictor; each set of quantization parameters is stored once
however many signatures share the weight.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PRECISIONS = ("fp16", "int8")
SAME_AS = {("prosody", "fp16"): "fp32"}
"""(stage, precision) -> the precision whose file it uses (no second copy of the same graph)."""

WEIGHT_INPUTS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "TRANSPOSE_CONV": 1, "FULLY_CONNECTED": 1,
                 "EMBEDDING_LOOKUP": 1, "BATCH_MATMUL": 1}
"""Op -> the input index of its weight: the tensors a precision may store otherwise (biases, norm
and elementwise constants stay float32, as ai-edge-quantizer leaves them)."""

KERNELS = {
    "int8": frozenset({"CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}),
    "fp16": frozenset({"CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D"}),
    "int4": frozenset({"FULLY_CONNECTED"}),
}
"""Precision -> the ops whose XNNPACK kernels keep it cheap in memory (module doc): where a recipe
may use it."""


@dataclass(frozen=True)
class Rule:
    """The weights lowered from the stage module's parameters named like `parameters` (an fnmatch
    pattern over `named_parameters()` names) are stored as `precision` ("int8", "fp16", "fp32").
    The first rule that matches a parameter decides."""

    parameters: str
    precision: str


def default_rules(stage: str, module) -> tuple[Rule, ...]:
    """The default precision's rules for a stage module (the module doc says why)."""
    if stage == "predictor":
        return (
            Rule("text_encoder.embedding.*", "fp32"),  # EMBEDDING_LOOKUP: float16 would be expanded
            Rule("text_encoder.*_hh_*", "fp16"),  # the recurrent weights, in the LSTM loop bodies
            Rule("text_encoder.*", "int8"),  # t_en reaches the audio only through the vocoder's asr
            Rule("bert.embeddings.*", "fp32"),
            Rule("*", "fp16"),
        )
    if stage == "prosody":
        return (
            Rule("N.*", "int8"),  # n feeds the vocoder's N_conv only
        )
    if stage == "vocoder":
        gen = module.generator
        kernels, stages = module.num_kernels, module.num_upsamples
        # the residual blocks at the output rate (upstream's last upsampling stage)
        last = tuple(Rule(f"generator.resblocks.{i}.*", "fp16") for i in range((stages - 1) * kernels, stages * kernels))
        assert len(gen["resblocks"]) == stages * kernels
        return (
            Rule("decoder.F0_conv.*", "fp32"),
            Rule("decoder.N_conv.*", "fp32"),
            Rule("decoder.asr_res.*", "fp32"),
            Rule("decoder.*", "int8"),
            Rule("generator.noise_convs.*", "fp32"),
            Rule("generator.conv_post.*", "fp32"),  # feeds sin() with arguments up to |50|
            *last,
            Rule("generator.*", "int8"),
        )
    raise ValueError(f"no default rules for the {stage} stage")


RECIPES = {"int8": default_rules}
"""Precision -> its rules for a stage module (parameters no rule names stay float32)."""


# --- which parameter each weight of a graph was lowered from --------------------------------------


@dataclass
class Weight:
    """One constant weight buffer of a converted graph, and where it is read."""

    buffer: int
    shape: tuple[int, ...]
    nbytes: int
    ops: set[str] = field(default_factory=set)
    """Op kinds reading it as their weight (WEIGHT_INPUTS)."""
    uses: list[tuple[int, int]] = field(default_factory=list)
    """(subgraph, op) of every such read."""
    other_uses: int = 0
    """Reads as anything else than a weight input (then it cannot change type in place)."""
    parameter: str | None = None
    """The stage module's parameter it holds (exactly, or scaled per input column where the
    converter folded a preceding norm's gain into it: ALBERT's layers after the first); None when
    none matches (e.g. a weight the graph computes, such as the depthwise `pool`'s folded norm)."""


def _content_key(values: np.ndarray) -> str:
    """A key equal for two arrays holding the same float32 values in any order or layout."""
    return hashlib.sha1(np.sort(np.asarray(values, np.float32).ravel()).tobytes()).hexdigest()


def _folded_match(weight: np.ndarray, candidates: list[tuple[str, np.ndarray]]) -> str | None:
    """The candidate [O, I] parameter p with weight = p * c[None, :] for some per-column c (a
    LayerNorm's gain folded into the next fully-connected layer), to float32 rounding."""
    for name, p in candidates:
        dot = np.einsum("oi,oi->i", p, p, dtype=np.float64)
        c = np.einsum("oi,oi->i", weight, p, dtype=np.float64) / np.where(dot > 0, dot, 1.0)
        if np.abs(p * c[None, :] - weight).max() <= 1e-5 * float(np.abs(weight).max()):
            return name
    return None


@functools.cache
def _builtin_names() -> dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def op_name(model, op) -> str:
    """The builtin name ("CONV_2D", ...) of an OperatorT of a ModelT (flatbuffer_utils.opcode_to_name,
    without its scan of every name per call: the vocoder graph has ~20,000 ops)."""
    code = model.operatorCodes[op.opcodeIndex]
    return _builtin_names()[max(code.builtinCode, code.deprecatedBuiltinCode)]


def find_weights(model, module) -> dict[int, Weight]:
    """{buffer index: Weight} for every constant float32 weight of a ModelT (all subgraphs), each
    traced to the `module` parameter it was lowered from."""
    from ai_edge_litert import schema_py_generated as schema

    weights: dict[int, Weight] = {}
    reads = Counter()  # buffer -> reads of any kind
    for g, graph in enumerate(model.subgraphs):
        for i, op in enumerate(graph.operators):
            name = op_name(model, op)
            k = WEIGHT_INPUTS.get(name)
            for j, t in enumerate(op.inputs):
                if t < 0:
                    continue
                tensor = graph.tensors[t]
                data = model.buffers[tensor.buffer].data
                if data is None or not len(data):
                    continue
                reads[tensor.buffer] += 1
                if j != k or tensor.type != schema.TensorType.FLOAT32:
                    continue
                w = weights.setdefault(tensor.buffer, Weight(tensor.buffer, tuple(int(s) for s in tensor.shape),
                                                             len(data)))
                w.ops.add(name)
                w.uses.append((g, i))
    for b, w in weights.items():
        w.other_uses = reads[b] - len(w.uses)

    exact, by_shape = {}, {}
    for name, p in module.named_parameters():
        if p.dim() < 2:
            continue
        values = p.detach().float().numpy()
        exact.setdefault(_content_key(values), name)
        if values.ndim == 2:
            by_shape.setdefault(values.shape, []).append((name, values))
    for w in weights.values():
        values = np.frombuffer(model.buffers[w.buffer].data.tobytes(), np.float32)
        w.parameter = exact.get(_content_key(values))
        if w.parameter is None and len(w.shape) == 2:
            w.parameter = _folded_match(values.reshape(w.shape), by_shape.get(w.shape, []))
    return weights


def plan_precision(stage: str, precision: str, weights: dict[int, Weight], module) -> dict[int, str]:
    """{buffer: "int8" | "fp16"} for a precision's file of a stage (buffers not named stay float32).

    fp16 stores every weight as float16; the other precisions follow RECIPES, checked: each rule
    must pick at least one weight, and only weights of ops its precision serves (KERNELS)."""
    if precision == "fp16":
        return {b: "fp16" for b in weights}
    rules = RECIPES[precision](stage, module)
    plan, picked = {}, Counter()
    for b, w in weights.items():
        rule = next((r for r in rules if w.parameter and fnmatch.fnmatchcase(w.parameter, r.parameters)), None)
        if rule is None:
            continue
        picked[rule] += 1
        if rule.precision == "fp32":
            continue
        if w.ops - KERNELS[rule.precision] or (rule.precision == "int8" and w.other_uses):
            raise ValueError(f"{stage} {precision}: rule {rule} picks {w.parameter}, read by "
                             f"{sorted(w.ops)} (+{w.other_uses} other reads), which {rule.precision} does not "
                             "serve without a float32 copy: narrow the rule in convert/quantize.py")
        plan[b] = rule.precision
    idle = [r for r in rules if not picked[r]]
    if idle:
        raise RuntimeError(f"{stage} {precision}: {idle} pick no weight of the graph: the graph or the module "
                           "changed, review convert/quantize.py")
    return plan


# --- writing a precision's file --------------------------------------------------------------------


def int8_channelwise(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 values, float32 scales [O]) of a weight, per output channel (axis 0), symmetric, as
    ai-edge-quantizer's dynamic int8 recipe computes them: scale = max|w| / 127 in float32 (at
    least 1e-9 / 127), values rint(w / scale) clipped to [-127, 127]."""
    w = np.asarray(weight, np.float32)
    bound = np.maximum(np.abs(w.reshape(w.shape[0], -1)).max(axis=1), np.float32(1e-9))
    scale = (bound / np.float32(127)).astype(np.float32)
    q = np.clip(np.rint(w / scale.reshape(-1, *(1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
    return q, scale


def write_weights(src: Path, dst: Path, plan: dict[int, str], model=None) -> Counter:
    """Write `src` (or the ModelT `model` read from it) to `dst` with the weight buffers of `plan`
    stored as planned; return how many buffers went to each precision.

    int8: the tensors reading the buffer become INT8 with per-channel scales (zero points 0,
    quantized dimension 0), the graph unchanged (XNNPACK runs them as dynamic-range ops).
    fp16: the buffer is stored as float16 and every subgraph reading it gets one DEQUANTIZE at its
    start, whose output the ops read instead. Each set of quantization parameters is written once.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    from kokoro_litert.convert.tfl_ops import opcode_index

    model = model if model is not None else flatbuffer_utils.read_model(str(src))
    counts = Counter(plan.values())
    int4_ops = _op_output_names(model, {b for b, p in plan.items() if p == "int4"})
    plan = {b: p for b, p in plan.items() if p != "int4"}
    for b, precision in plan.items():
        if precision not in ("int8", "fp16"):
            raise ValueError(f"no writer for {precision!r} weights")
    dequantize = opcode_index(model, schema.BuiltinOperator.DEQUANTIZE) if counts["fp16"] else None
    params = {}  # int8 buffer -> its QuantizationParametersT
    half_buffer = {}  # float32 buffer -> its float16 copy
    for graph in model.subgraphs:
        half_tensor = {}  # float32 tensor -> the float16 tensor its DEQUANTIZE reads, per subgraph
        for t, tensor in enumerate(graph.tensors):
            precision = plan.get(tensor.buffer) if tensor.type == schema.TensorType.FLOAT32 else None
            if precision == "int8":
                if tensor.buffer not in params:
                    data = model.buffers[tensor.buffer].data
                    q, scale = int8_channelwise(np.frombuffer(data.tobytes(), np.float32).reshape(tensor.shape))
                    model.buffers[tensor.buffer].data = q.view(np.uint8).ravel()
                    p = schema.QuantizationParametersT()
                    p.scale, p.zeroPoint, p.quantizedDimension = scale, np.zeros(len(scale), np.int64), 0
                    params[tensor.buffer] = p
                tensor.type, tensor.quantization = schema.TensorType.INT8, params[tensor.buffer]
            elif precision == "fp16":
                if tensor.buffer not in half_buffer:
                    data = model.buffers[tensor.buffer].data
                    buffer = schema.BufferT()
                    buffer.data = np.frombuffer(data.tobytes(), np.float32).astype(np.float16).view(np.uint8)
                    model.buffers.append(buffer)
                    half_buffer[tensor.buffer] = len(model.buffers) - 1
                half = schema.TensorT()
                half.shape, half.type, half.buffer = list(tensor.shape), schema.TensorType.FLOAT16, half_buffer[tensor.buffer]
                half.name = tensor.name + (b"/float16" if isinstance(tensor.name, bytes) else "/float16")
                graph.tensors.append(half)
                half_tensor[t] = len(graph.tensors) - 1
                tensor.buffer = 0  # now computed: the DEQUANTIZE output
        cast = []
        for full, half in half_tensor.items():
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = dequantize, [half], [full]
            cast.append(op)
        graph.operators = cast + list(graph.operators)
    for b in half_buffer:
        model.buffers[b].data = None  # the float32 copy, no longer read
    with _quantization_tables_once():
        flatbuffer_utils.write_model(model, str(dst))
    if int4_ops:
        _int4_blockwise(dst, int4_ops)
    return counts


def _op_output_names(model, buffers: set[int]) -> list[str]:
    """Output tensor names of the ops reading one of `buffers` as their weight."""
    names = []
    for graph in model.subgraphs:
        for op in graph.operators:
            if op_name(model, op) == "FULLY_CONNECTED" and len(op.inputs) > 1 \
                    and op.inputs[1] >= 0 and graph.tensors[op.inputs[1]].buffer in buffers:
                name = graph.tensors[op.outputs[0]].name
                names.append(name.decode() if isinstance(name, bytes) else name)
    return names


def _int4_blockwise(path: Path, op_names: list[str]) -> None:
    """Rewrite `path` with the fully-connected ops `op_names` (output tensor names) on blockwise int4
    weights (blocks of 32 input values, ai-edge-quantizer's dynamic_wi4b32 recipe; XNNPACK runs them
    as qbint4). ai-edge-quantizer matches an op by its output names joined with ";" plus a final ";"."""
    import re

    from ai_edge_quantizer import qtyping, quantizer

    _patch_duplicate_tensor_names()
    qt = quantizer.Quantizer(str(path))
    qt.add_dynamic_config("^(" + "|".join(re.escape(n) for n in op_names) + ");$",
                          qtyping.TFLOperationName.FULLY_CONNECTED, num_bits=4,
                          granularity=qtyping.QuantGranularity.BLOCKWISE_32)
    qt.quantize().export_model(str(path), overwrite=True)
    path.chmod(0o644)  # the quantizer writes it executable


def _patch_duplicate_tensor_names() -> None:
    """ai-edge-quantizer 0.10.0 names a duplicated constant tensor with a str where the rest of the
    model has bytes, and its dequantize insertion then fails on `str + bytes`. Keep names bytes."""
    from ai_edge_quantizer.transformations import duplicate_tensor

    if getattr(duplicate_tensor.duplicate_tensor, "_kokoro_bytes_names", False):
        return
    original = duplicate_tensor.duplicate_tensor

    def duplicate_with_bytes_name(transformation_input):
        info = original(transformation_input)
        tensor = transformation_input.subgraph.tensors[info.output_tensor_id]
        if isinstance(tensor.name, str):
            tensor.name = tensor.name.encode()
        return info

    duplicate_with_bytes_name._kokoro_bytes_names = True
    duplicate_tensor.duplicate_tensor = duplicate_with_bytes_name


class _quantization_tables_once:
    """While active, ModelT.Pack writes each distinct set of quantization parameters once and points
    every tensor with it there (a flatbuffer table may be referenced from many places). The stock
    writer gives each signature's tensor of a shared int8 weight its own copy of the weight's scales
    and zero points: 7.3 MB of the ten-signature vocoder, of which one copy is 0.7 MB. The values,
    hence the outputs, are the same (bit-identical, tests/test_bundles.py)."""

    def __enter__(self):
        from ai_edge_litert import schema_py_generated as schema

        self.schema, self.pack, written = schema, schema.QuantizationParametersT.Pack, {}
        pack = self.pack

        def key(q):
            if q.details is not None:
                return None
            values = [None if v is None else (np.asarray(v).dtype.str, np.asarray(v).tobytes())
                      for v in (q.min, q.max, q.scale, q.zeroPoint)]
            return (*values, q.quantizedDimension, q.detailsType)

        def pack_once(params, builder):
            k = key(params)
            if k is None:
                return pack(params, builder)
            if k not in written:
                written[k] = pack(params, builder)
            return written[k]

        schema.QuantizationParametersT.Pack = pack_once
        return written

    def __exit__(self, *exc):
        self.schema.QuantizationParametersT.Pack = self.pack


def share_quantization_tables(path: Path) -> int:
    """Rewrite `path` with every distinct set of quantization parameters stored once; return how many."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    with _quantization_tables_once() as written:
        flatbuffer_utils.write_model(model, str(path))
    return len(written)


def quantize_file(src: Path, dst: Path, precision: str, stage: str, module) -> dict:
    """Write one quantized precision of a converted stage; return figures (and the plan's weights)."""
    from ai_edge_litert.tools import flatbuffer_utils

    start = time.perf_counter()
    model = flatbuffer_utils.read_model(str(src))
    weights = find_weights(model, module)
    plan = plan_precision(stage, precision, weights, module)
    counts = write_weights(src, dst, plan, model)
    mb = Counter()
    for b, w in weights.items():
        mb[plan.get(b, "fp32")] += w.nbytes / 1e6
    selected = ", ".join(f"{precision_} {counts[precision_]} weights ({mb[precision_]:.1f} MB as float32)"
                         for precision_ in ("int8", "fp16") if counts[precision_])
    untraced = [w for w in weights.values() if w.parameter is None and w.buffer not in plan]
    selected += f", float32 {len(weights) - len(plan)} ({mb['fp32']:.1f} MB"
    selected += f"; {len(untraced)} not traced to a parameter)" if untraced else ")"
    return {"selected": selected, "seconds": time.perf_counter() - start, "bytes": dst.stat().st_size,
            "counts": dict(counts)}


def quantize_stage(stage: str, module, ladder, folder: Path, log, expected=None) -> dict[str, str]:
    """Write every quantized precision of one converted stage into `folder`; return {precision: file}.

    expected: {signature: PyTorch outputs on its tracing inputs} from checking the fp32 file
    (`verify_stage`), reused instead of running the module again."""
    from kokoro_litert.convert.signatures import FILES, stage_shapes, verify_stage

    names = list(stage_shapes(stage, ladder))
    ends = (names[0], names[-1])  # the fp32 file was checked at every shape; a quantized one only loads and runs
    written = {"fp32": FILES[stage]}
    for precision in PRECISIONS:
        if (stage, precision) in SAME_AS:
            written[precision] = written[SAME_AS[stage, precision]]
            log(f"{stage} {precision}: the {SAME_AS[stage, precision]} file ({written[precision]})")
            continue
        name = f"{stage}.{precision}.tflite"
        figures = quantize_file(folder / FILES[stage], folder / name, precision, stage, module)
        errors = verify_stage(stage, module, ladder, folder / name, only=ends, expected=expected)
        worst = max(errors.items(), key=lambda kv: kv[1])
        log(f"{stage} {precision}: {figures['selected']} in {figures['seconds']:.1f} s, "
            f"{figures['bytes'] / 1e6:.1f} MB; worst error vs PyTorch on tracing inputs {worst[1]:.1e} ({worst[0]})")
        written[precision] = name
    del written["fp32"]
    return written
