"""Where a stage's memory peaks: the activations its graph needs at once, and one call's measured peak.

    python tests/benchmarks/workspace.py [--bundles DIR] [--precision P] [--stage vocoder] [--signature frames_512]

For one signature (default: the vocoder's largest, which sets the runtime's peak RSS):
- replayed op by op in the graph's order, every tensor freed after its last reader, the bytes of
  activations alive at the worst op, and the largest tensors alive there with the op that wrote
  each: the least any memory planner can hold for this graph (XNNPACK's lands a few % above);
- measured: a fresh process creates the stage's model (with the bundle's weight cache) and makes
  that one call; its peak RSS, and its RSS before the call.
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


def activation_peak(path: Path, signature: str) -> dict:
    """The worst point of the signature's graph: op index and kind, bytes alive, largest tensors there."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    sig = next(s for s in model.signatureDefs if s.signatureKey.decode() == signature)
    graph = model.subgraphs[sig.subgraphIndex]

    def nbytes(t: int) -> int:
        tensor = graph.tensors[t]
        return int(np.prod(tensor.shape)) * np.dtype(flatbuffer_utils.type_to_name(tensor.type).lower()).itemsize

    last_read = {t: i for i, op in enumerate(graph.operators) for t in op.inputs if t >= 0}
    writer = {t: i for i, op in enumerate(graph.operators) for t in op.outputs}
    kinds = [flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) for op in graph.operators]
    alive: dict[int, int] = {}
    worst = (0, 0, {})
    for i, op in enumerate(graph.operators):
        for t in op.outputs:
            alive[t] = nbytes(t)
        total = sum(alive.values())
        if total > worst[0]:
            worst = (total, i, dict(alive))
        for t in [*op.inputs, *op.outputs]:
            if t in alive and last_read.get(t, -1) <= i and t not in graph.outputs:
                del alive[t]
    total, at, tensors = worst
    largest = sorted(tensors.items(), key=lambda kv: -kv[1])[:TOP]
    return {"ops": len(graph.operators), "peak_mb": total / 1e6, "at_op": at, "at_kind": kinds[at],
            "largest": [{"mb": b / 1e6, "shape": list(graph.tensors[t].shape),
                         "written_by": f"{writer[t]} {kinds[writer[t]]}"} for t, b in largest]}


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
runner.model(stage)
before = rss()
runner.run(stage, signature, **inputs)
print(json.dumps({"rss_before_call_mb": before, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
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
          f"{g['peak_mb']:.1f} MB")
    for t in g["largest"]:
        print(f"  {t['mb']:6.1f} MB {t['shape']} written by op {t['written_by']}")
    print(f"one call in a fresh process: RSS {m['rss_before_call_mb']:.0f} MB with the model created, "
          f"peak {m['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
