"""LiteRT's GPU accelerator for a stage: the environment it needs, what its delegate took (read from
its log), and the graph surgery that makes a stage fit it.

- A GPU model holds one signature (`extract_signature`): the delegate copies the weights per
  signature it compiles.
- The vocoder's head (conv_post, exp, sin) runs as a second model in float32 (`split_head`): in the
  GPU's default float16 it cost 4 dB of MCD.
- Where the ops ran is reported only in the delegate's log (`parse_gpu_placements`):
  `CompiledModel.is_fully_accelerated()` said True for a vocoder with 433 of 1,229 ops on the CPU.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GPU_LOG_NOISE = (r"|^Warning: |^WARNING: Logging before|^[IWE]\d{4} |^INFO: |"
                 r"^ERROR: Following operations|^[A-Z][A-Z0-9_]*: .*\.( \S+)?$|operations will run on the GPU|"
                 r"^\s+at |^ERROR: \[delegate_webgpu|^=== Source Location Trace|^(third_party|litert)/|^\./")
"""What LiteRT's GPU accelerator logs while it creates a model besides the CPU's start-up lines
(a regex alternation, appended to the runner's own)."""
ACCELERATORS = ("cpu", "gpu")
GPU_STAGES = {"cpu": (), "gpu": ("vocoder",)}
"""The stages each `accelerator` choice runs on LiteRT's GPU accelerator: "gpu" puts the vocoder there
(the predictor's and prosody's recurrent WHILE loops cannot leave the CPU; see tests/benchmarks/gpu_report.py)."""
LAVAPIPE_ICD = Path("/usr/share/vulkan/icd.d/lvp_icd.json")
"""Mesa's software Vulkan driver (Debian mesa-vulkan-drivers >= 25; tests/gpu/setup.sh installs it)."""


def prepare_gpu_environment() -> dict[str, str]:
    """Set, where unset, what LiteRT's GPU accelerator (WebGPU: Dawn over Vulkan) needs in this
    process's environment before it creates its first GPU; return what was set.

    - XDG_RUNTIME_DIR: a private folder in the temporary directory (Dawn warns without one).
    - VK_ICD_FILENAMES: Mesa's software driver (lavapipe) when the machine has no GPU device node
      (/dev/dri/renderD*) for any other driver to use, so the Vulkan loader does not probe the
      hardware drivers installed beside it. With a GPU device present, the loader picks among all
      installed drivers and Dawn prefers a hardware adapter.
    """
    changed = {}
    if not os.environ.get("XDG_RUNTIME_DIR"):
        folder = Path(tempfile.gettempdir()) / f"kokoro-litert-runtime-{os.getuid() if hasattr(os, 'getuid') else 0}"
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, exist_ok=True)
            changed["XDG_RUNTIME_DIR"] = str(folder)
    hardware = any(Path("/dev/dri").glob("renderD*")) if Path("/dev/dri").is_dir() else False
    if not (os.environ.get("VK_ICD_FILENAMES") or os.environ.get("VK_DRIVER_FILES")) and not hardware \
            and LAVAPIPE_ICD.is_file():
        changed["VK_ICD_FILENAMES"] = str(LAVAPIPE_ICD)
    os.environ.update(changed)
    return changed


@dataclass
class GpuPlacement:
    """Where one signature's ops run with a stage on the GPU accelerator, as its delegate logged them."""

    gpu_ops: int
    """Ops run on the GPU (the delegated partition; with a float32 head, its ops too)."""
    cpu_ops: int
    """Ops left to the CPU (XNNPACK or builtin kernels): those the delegate rejects, and every op of
    the graph's other partitions (the delegate takes one)."""
    delegated_partitions: int
    """GPU partitions created for the signature (1 when anything is delegated)."""
    rejected: tuple[str, ...] = ()
    """What the delegate refused, as "OP: reason" (sorted, each once)."""
    float32_head_ops: int = 0
    """Of gpu_ops, those of the head computed in float32 by a second model (`split_head`)."""

    @property
    def whole(self) -> bool:
        """Every op on the GPU."""
        return self.cpu_ops == 0

    def then(self, later: GpuPlacement, float32_head: bool = False) -> GpuPlacement:
        """This placement and that of the model run after it (a float32 head, or the next piece of
        a body cut in pieces), as one signature's."""
        return GpuPlacement(self.gpu_ops + later.gpu_ops, self.cpu_ops + later.cpu_ops,
                            self.delegated_partitions + later.delegated_partitions,
                            tuple(sorted(set(self.rejected) | set(later.rejected))),
                            self.float32_head_ops + (later.gpu_ops if float32_head else later.float32_head_ops))


_GPU_SPLIT = re.compile(r"(\d+) operations will run on the GPU, and the remaining (\d+) operations will run on the CPU")
_GPU_REJECTED = re.compile(r"^([A-Z][A-Z0-9_]*): (.*?\.)(?: \S+)?$")
GPU_PARTITION_LINE = "Initializing WebGPU-based API from graph"


def parse_gpu_placements(lines: list[str], op_counts: list[int]) -> list[GpuPlacement] | None:
    """The GPU delegate's log of one model creation -> one GpuPlacement per signature's subgraph, in
    subgraph order (op_counts: those subgraphs' op counts). None when the log does not read that way
    (another LiteRT version's wording).

    The delegate visits the subgraphs in index order (the signatures' first, loop bodies after) and
    logs, per subgraph: the ops it rejects ("ERROR: Following operations are not supported", then
    "OP: reason. name" lines), "N operations will run on the GPU, and the remaining M operations will
    run on the CPU" when not all of them go, then one "Initializing WebGPU-based API" line per
    delegated partition. A fully delegated subgraph logs only the last. Blocks past the signatures'
    (a loop body taken whole) are not reported."""
    blocks: list[dict] = []
    current: dict | None = None
    rejecting = False

    def start() -> dict:
        blocks.append({"rejected": set(), "split": None, "partitions": 0})
        return blocks[-1]

    for line in lines:
        if line.startswith("ERROR: Following operations are not supported"):
            current, rejecting = start(), True
            continue
        split = _GPU_SPLIT.search(line)
        if split:
            if current is None or current["split"] is not None or current["partitions"]:
                current = start()
            current["split"] = (int(split.group(1)), int(split.group(2)))
            rejecting = False
            continue
        if GPU_PARTITION_LINE in line:
            if current is None or current["partitions"]:
                current = start()
            current["partitions"] += 1
            rejecting = False
            continue
        reject = _GPU_REJECTED.match(line) if rejecting else None
        if reject:
            current["rejected"].add(f"{reject.group(1)}: {reject.group(2)}")
    if len(blocks) < len(op_counts):
        return None
    placements = []
    for block, total in zip(blocks, op_counts):
        gpu, cpu = block["split"] if block["split"] else ((total, 0) if block["partitions"] else (0, total))
        if gpu + cpu != total:
            return None
        placements.append(GpuPlacement(gpu, cpu, block["partitions"], tuple(sorted(block["rejected"]))))
    return placements


def subgraph_op_counts(path: Path) -> list[int]:
    """Ops in each subgraph of a .tflite file, in index order (read from its flatbuffer, mmapped)."""
    import mmap

    from ai_edge_litert import schema_py_generated as schema

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        model = schema.Model.GetRootAs(data, 0)
        return [model.Subgraphs(i).OperatorsLength() for i in range(model.SubgraphsLength())]


def signature_subgraphs(path: Path) -> dict[str, int]:
    """signature name -> its primary subgraph's index."""
    import mmap

    from ai_edge_litert import schema_py_generated as schema

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        model = schema.Model.GetRootAs(data, 0)
        return {model.SignatureDefs(i).SignatureKey().decode(): model.SignatureDefs(i).SubgraphIndex()
                for i in range(model.SignatureDefsLength())}


def extract_signature(path: Path, signature: str, out: Path) -> bool:
    """Write to `out` a copy of the .tflite at `path` holding one signature: its subgraph and the
    buffers it uses. False (nothing written) when the subgraph runs others (a WHILE loop's body):
    those graphs are small enough to keep whole.

    Why: LiteRT's GPU accelerator compiles every subgraph of a file when it creates the model, each
    with its own copy of the weights (GpuOptions' sharing crashes, see `StageRunner.gpu_options`):
    the ten-signature vocoder held ~4 GB on the software GPU, where one signature needs one copy."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    sig = next(s for s in model.signatureDefs if _text(s.signatureKey) == signature)
    graph = model.subgraphs[sig.subgraphIndex]
    calls = (schema.BuiltinOptions.WhileOptions, schema.BuiltinOptions.IfOptions,
             schema.BuiltinOptions.CallOnceOptions)
    if any(op.builtinOptionsType in calls for op in graph.operators):
        return False
    used = sorted({0} | {t.buffer for t in graph.tensors} | {m.buffer for m in model.metadata or []})
    new_index = {old: new for new, old in enumerate(used)}
    for tensor in graph.tensors:
        tensor.buffer = new_index[tensor.buffer]
    for entry in model.metadata or []:
        entry.buffer = new_index[entry.buffer]
    model.buffers = [model.buffers[i] for i in used]
    model.metadataBuffer = []  # indices of buffers that may be gone; nothing here reads them
    model.subgraphs, model.signatureDefs = [graph], [sig]
    sig.subgraphIndex = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    flatbuffer_utils.write_model(model, str(tmp))
    os.replace(tmp, out)
    return True


HEAD_START = "LEAKY_RELU"
"""The vocoder's head starts at its last op of this kind: upstream Generator.forward's final
leaky_relu, then conv_post (128 -> 22 channels, kernel 7), exp for the magnitude and sin for the phase."""


def split_head(path: Path, body_out: Path, head_out: Path) -> bool:
    """Split a one-signature .tflite (`extract_signature`) into its body, every op before the last
    HEAD_START op, and its head, that op and the rest: two one-signature files of the same name.
    The body's outputs, and the head's extra inputs, are the tensors the head reads from the body,
    named "head_input_<i>"; the head keeps the signature's outputs. False when there is no such op.

    Why: a GPU computing in float16 (LiteRT's default there, as on phones) accumulates the head's
    conv in float16, and its sums feed exp and sin with arguments up to |20|: measured on held-out
    sentences, the float16 vocoder was 4.3 dB (MCD) off PyTorch's seed-to-seed floor on one, +0.90 dB
    on five with the conv split into 16 shorter sums; with the head alone in float32 (and the body
    in float16) +0.21 dB. So the runner computes the head in float32, as a second model."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    graph = model.subgraphs[0]
    kinds = [flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) for op in graph.operators]
    if HEAD_START not in kinds or len(model.subgraphs) != 1:
        return False
    start = len(kinds) - 1 - kinds[::-1].index(HEAD_START)
    if any(t in graph.inputs for op in graph.operators[start:] for t in op.inputs):
        return False  # the head would need the signature's inputs too: not this graph
    _cut(path, model, [0, start], [body_out, head_out], "head_input_{index}")
    return True


def split_in_pieces(path: Path, pieces: int, outs: list[Path]) -> None:
    """Cut a one-signature .tflite into `pieces` consecutive parts of about equal arithmetic
    (`_op_costs`), written to `outs`, each a one-signature model of the same name. A part takes the
    signature inputs its ops read (same names) and the tensors earlier parts made ("cut_<tensor>");
    the last part gives the signature's outputs.

    Why: a software GPU (lavapipe) takes ~0.45 s per vocoder frame on two cores, and LiteRT gives
    up on a GPU call after 120 s, so the runner runs a long vocoder call there as several shorter
    ones, the same ops in the same precision (see `StageRunner.software_gpu_frames`)."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    costs = _op_costs(model)
    total, running, starts = sum(costs), 0, [0]
    for position, cost in enumerate(costs):
        if running >= total * len(starts) / pieces and len(starts) < pieces:
            starts.append(position)
        running += cost
    if len(starts) != pieces or len(outs) != pieces:
        raise ValueError(f"cannot cut {path.name} ({len(costs)} ops) into {pieces} pieces for {len(outs)} files")
    _cut(path, model, starts, outs, "cut_{tensor}")


def _op_costs(model) -> list[int]:
    """Per op of subgraph 0, an estimate of its arithmetic: output elements, times the reduction
    length (kernel taps x input channels) for convolutions and fully-connected layers."""
    from ai_edge_litert.tools import flatbuffer_utils

    graph = model.subgraphs[0]

    def size(t: int) -> int:
        return int(np.prod(graph.tensors[t].shape)) if t >= 0 else 0

    costs = []
    for op in graph.operators:
        kind = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
        out = sum(size(t) for t in op.outputs)
        weight = graph.tensors[op.inputs[1]].shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
        if kind in ("CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV") and weight is not None and len(weight) > 1:
            out *= int(np.prod(weight[1:]))
        elif kind == "DEPTHWISE_CONV_2D" and weight is not None and len(weight) == 4:
            out *= int(weight[1] * weight[2])
        costs.append(max(out, 1))
    return costs


def _cut(path: Path, model, starts: list[int], outs: list[Path], name: str) -> None:
    """Write the one-signature model's ops as consecutive parts beginning at op positions `starts`
    (the first 0) to `outs`. Tensors one part makes and a later one reads cross as outputs and
    inputs named `name` (formatted with `tensor`, its index, and `index`, its rank among them).
    Ops computed from constants alone (a float16 weight's DEQUANTIZE) go with the part that reads
    them, once per part that does: XNNPACK and the GPU delegate take weights as constants only."""
    graph, sig = model.subgraphs[0], model.signatureDefs[0]
    signature_names = {m.tensorIndex: _text(m.name) for m in [*sig.inputs, *sig.outputs]}
    constant = {i for i, t in enumerate(graph.tensors)
                if t.buffer and model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data)}
    made_by = {}  # tensor -> position of the op computing it from constants alone
    for position, op in enumerate(graph.operators):
        if all(t < 0 or t in constant or t in made_by for t in op.inputs):
            made_by.update({t: position for t in op.outputs})
    bounds = [*starts, len(graph.operators)]
    positions = []
    for k in range(len(starts)):
        own = [i for i in range(bounds[k], bounds[k + 1]) if graph.operators[i].outputs[0] not in made_by]
        needed, todo = set(), [t for i in own for t in graph.operators[i].inputs if t in made_by]
        while todo:
            position = made_by[todo.pop()]
            if position not in needed:
                needed.add(position)
                todo += [t for t in graph.operators[position].inputs if t in made_by]
        positions.append(sorted(set(own) | needed))
    part_of = {t: k for k, kept in enumerate(positions) for i in kept for t in graph.operators[i].outputs
               if t not in made_by}
    reads = [{t for i in kept for t in graph.operators[i].inputs if t >= 0 and t not in made_by} for kept in positions]
    crossing = sorted({t for k, read in enumerate(reads) for t in read if part_of.get(t, k) < k})
    names = {**{t: name.format(tensor=t, index=i) for i, t in enumerate(crossing)}, **signature_names}
    for k, out in enumerate(outs):
        inputs = sorted(t for t in reads[k] if t in graph.inputs or part_of.get(t, k) < k)
        later = set().union(*reads[k + 1:])
        outputs = sorted(t for t, owner in part_of.items() if owner == k and (t in later or t in graph.outputs))
        _write_part(path, out, positions[k], inputs, outputs,
                    {t: names[t] for t in inputs}, {t: names[t] for t in outputs})


def _write_part(path: Path, out: Path, kept: list[int], inputs: list[int], outputs: list[int],
                input_names: dict[int, str], output_names: dict[int, str]) -> None:
    """Write the one-signature model at `path` cut down to its ops at positions `kept`, with these
    inputs and outputs (tensor indices of its subgraph and their signature names); unused tensors
    and buffers dropped."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))  # a copy of its own: it is edited in place
    graph, sig = model.subgraphs[0], model.signatureDefs[0]
    ops = [graph.operators[i] for i in kept]
    used = sorted(set(inputs) | set(outputs) | {t for op in ops for t in [*op.inputs, *op.outputs] if t >= 0})
    new_tensor = {old: new for new, old in enumerate(used)}
    for op in ops:
        op.inputs = [new_tensor[t] if t >= 0 else t for t in op.inputs]
        op.outputs = [new_tensor[t] for t in op.outputs]
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = [new_tensor[t] for t in op.intermediates]
    graph.tensors = [graph.tensors[t] for t in used]
    graph.operators = ops
    graph.inputs, graph.outputs = [new_tensor[t] for t in inputs], [new_tensor[t] for t in outputs]

    def tensor_map(name: str, index: int):
        entry = schema.TensorMapT()
        entry.name, entry.tensorIndex = name, new_tensor[index]
        return entry

    # Signature I/O sorted by name, as litert-torch writes them (the runner reads them by name anyway).
    sig.inputs = [tensor_map(input_names[t], t) for t in sorted(inputs, key=lambda t: input_names[t])]
    sig.outputs = [tensor_map(output_names[t], t) for t in sorted(outputs, key=lambda t: output_names[t])]
    buffers = sorted({0} | {t.buffer for t in graph.tensors})
    new_buffer = {old: new for new, old in enumerate(buffers)}
    for tensor in graph.tensors:
        tensor.buffer = new_buffer[tensor.buffer]
    model.buffers = [model.buffers[i] for i in buffers]
    model.metadata, model.metadataBuffer = [], []
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    flatbuffer_utils.write_model(model, str(tmp))
    os.replace(tmp, out)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


