"""Where a stage's memory peaks: the activations its graph needs at once, and one call's measured peak.

    python tests/benchmarks/workspace.py [--bundles DIR] [--precision P] [--stage vocoder] [--signature frames_512]

For one signature (default: the vocoder's largest, which sets the runtime's peak RSS):
- replayed op by op in the graph's order, every tensor freed after its last reader and, as XNNPACK's
  memory planner does, an elementwise op (or a reshape) writing over an input that only it reads,
  when that input has the output's size and the output has one reader: the bytes of activations
  alive at the worst op, and the largest buffers alive there with the op that first wrote each;
- the same buffers laid out as XNNPACK's memory planner lays them out (`planned_arena`): the arena
  a call of this signature allocates, but for the ops' own small workspaces (a conv's transient
  indirection buffer). Above the worst op's figure when buffers of different sizes leave gaps;
- measured: a fresh process creates the stage's model (with the bundle's weight cache) and makes
  that one call; what creating the model added (LiteRT's and XNNPACK's structures for every
  signature: the packed weights stay in the mmapped cache until a call reads them), its RSS
  before the call and its peak.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from folder_size import _cached_bundles

TOP = 8


IN_PLACE = {"ABS", "ADD", "CEIL", "DIV", "ELU", "EXP", "FLOOR", "HARD_SWISH", "LEAKY_RELU", "LOGISTIC", "MAXIMUM",
            "MINIMUM", "MUL", "NEG", "PRELU", "RELU", "RELU6", "RESHAPE", "ROUND", "RSQRT", "SIN", "SQRT", "SQUARE",
            "SQUARED_DIFFERENCE", "SUB", "TANH"}
"""Ops whose output may take an input's memory (XNNPACK's unary and binary elementwise nodes)."""


def activation_peak(path: Path, signature: str) -> dict:
    """The worst point of the signature's graph: op index and kind, bytes alive, largest buffers there."""
    from collections import Counter

    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    sig = next(s for s in model.signatureDefs if s.signatureKey.decode() == signature)
    graph = model.subgraphs[sig.subgraphIndex]

    def nbytes(t: int) -> int:
        tensor = graph.tensors[t]
        return int(np.prod(tensor.shape)) * np.dtype(flatbuffer_utils.type_to_name(tensor.type).lower()).itemsize

    kinds = [flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) for op in graph.operators]
    readers = Counter(t for op in graph.operators for t in set(op.inputs) if t >= 0)
    constant = {t for t, tensor in enumerate(graph.tensors)
                if model.buffers[tensor.buffer].data is not None and len(model.buffers[tensor.buffer].data)}
    # float16 weights: XNNPACK converts them once, at model creation, not in the workspace
    weights = {op.outputs[0] for i, op in enumerate(graph.operators)
               if kinds[i] == "DEQUANTIZE" and all(t in constant for t in op.inputs)}
    produced = {t for op in graph.operators for t in op.outputs} - weights
    owner: dict[int, int] = {}  # tensor -> the tensor whose buffer it writes into
    for i, op in enumerate(graph.operators):
        if kinds[i] not in IN_PLACE or len(op.outputs) != 1 or readers[op.outputs[0]] != 1:
            continue
        out = op.outputs[0]
        reusable = [t for t in op.inputs if t in produced and readers[t] == 1 and nbytes(t) == nbytes(out)]
        if reusable:
            owner[out] = owner.get(reusable[0], reusable[0])
    buffer_end: dict[int, int] = {}  # buffer -> the last op reading any tensor in it
    for i, op in enumerate(graph.operators):
        for t in op.inputs:
            if t >= 0:
                b = owner.get(t, t)
                buffer_end[b] = max(buffer_end.get(b, -1), i)
    external = set(graph.inputs) | set(graph.outputs)  # in the caller's buffers, not the arena
    placed = {b: (nbytes(b), first, buffer_end.get(b, first))
              for first, op in enumerate(graph.operators) for b in op.outputs
              if b not in owner and b not in weights and b not in external}
    first_writer = {t: i for i, op in reversed(list(enumerate(graph.operators))) for t in op.outputs}
    alive: dict[int, int] = {}
    worst = (0, 0, {})
    for i, op in enumerate(graph.operators):
        for t in op.outputs:
            if t not in owner and t not in weights:
                alive[t] = nbytes(t)
        total = sum(alive.values())
        if total > worst[0]:
            worst = (total, i, dict(alive))
        for b in [b for b in alive if buffer_end.get(b, -1) <= i and b not in graph.outputs]:
            del alive[b]
    total, at, buffers = worst
    largest = sorted(buffers.items(), key=lambda kv: -kv[1])[:TOP]
    return {"ops": len(graph.operators), "peak_mb": total / 1e6, "arena_mb": planned_arena(placed) / 1e6,
            "at_op": at, "at_kind": kinds[at],
            "largest": [{"mb": b / 1e6, "shape": list(graph.tensors[t].shape),
                         "written_by": f"{first_writer[t]} {kinds[first_writer[t]]}"} for t, b in largest]}


def planned_arena(buffers: dict[int, tuple[int, int, int]]) -> int:
    """Bytes of the arena XNNPACK's memory planner lays these buffers out in ({id: (bytes, first op,
    last op)}; two buffers may share memory when no op uses both): largest first (ties in id
    order), each at the start of the smallest gap between the buffers already placed whose ops
    overlap its own, else after the last of them (read in XNNPACK's src/memory-planner.c)."""
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first op, last op)
    arena = 0
    for _, (size, first, last) in sorted(buffers.items(), key=lambda kv: (-kv[1][0], kv[0])):
        live = sorted((start, end) for start, end, begins, ends in placed if begins <= last and first <= ends)
        spans: list[list[int]] = []
        for o, e in live:  # overlapping or touching blocks, merged
            if spans and o <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], e)
            else:
                spans.append([o, e])
        offset, best = (spans[-1][1] if spans else 0), None
        gaps = ([(0, spans[0][0])] if spans else []) + [(a[1], b[0]) for a, b in zip(spans, spans[1:])]
        for start, stop in gaps:
            if stop - start >= size and (best is None or stop - start < best):
                offset, best = start, stop - start
        placed.append((offset, offset + size, first, last))
        arena = max(arena, offset + size)
    return arena


_CALL = """
import json, resource, sys
from pathlib import Path
import numpy as np
from kokoro_litert.buckets.manifest import Manifest
from kokoro_litert.runtime.runner import StageRunner, WeightCache
folder, precision, stage, signature = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
manifest = Manifest.load(folder)
runner = StageRunner(folder, manifest, manifest.files_for(precision), 2, WeightCache(folder, manifest))
spec = manifest.signature(stage, signature)
rng = np.random.default_rng(0)
inputs = {n: (rng.standard_normal(t.shape) * 0.5).astype(t.dtype) for n, t in spec.inputs.items()}
base = rss()
runner.model(stage)
before = rss()
runner.run(stage, signature, **inputs)
print(json.dumps({"model_creation_mb": before - base, "rss_before_call_mb": before,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measured_call(folder: Path, precision: str, stage: str, signature: str) -> dict:
    """Peak RSS of a fresh process that creates the stage's model and makes one call."""
    proc = subprocess.run([sys.executable, "-c", _CALL, str(folder), precision, stage, signature],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the measured call failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundles", type=Path, help="the bundle folder (default: the cache's converted one)")
    parser.add_argument("--precision", default=None, help="default: the folder's default precision")
    parser.add_argument("--stage", default="vocoder")
    parser.add_argument("--signature", default=None, help="default: the stage's largest")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    from kokoro_litert.buckets.manifest import Manifest

    folder = args.bundles or _cached_bundles()
    manifest = Manifest.load(folder)
    precision = args.precision or manifest.default_precision
    signature = args.signature or list(manifest.signatures[args.stage])[-1]
    path = folder / manifest.files_for(precision)[args.stage]
    figures = {"file": path.name, "signature": signature, "graph": activation_peak(path, signature),
               "measured": measured_call(folder, precision, args.stage, signature)}
    g, m = figures["graph"], figures["measured"]
    print(f"{path.name} {signature}: {g['ops']} ops; activations alive at its worst op ({g['at_op']}, {g['at_kind']}): "
          f"{g['peak_mb']:.1f} MB; laid out as XNNPACK's planner does: {g['arena_mb']:.1f} MB")
    for t in g["largest"]:
        print(f"  {t['mb']:6.1f} MB {t['shape']} written by op {t['written_by']}")
    print(f"one call in a fresh process: RSS {m['rss_before_call_mb']:.0f} MB with the model created (creating it: "
          f"+{m['model_creation_mb']:.0f} MB), peak {m['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
