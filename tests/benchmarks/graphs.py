"""Per .tflite file and signature: op count (loop bodies included), XNNPACK partitions, and load time.

    python tests/benchmarks/graphs.py FILE.tflite [FILE.tflite ...] [--threads 2] [--json out.json]

Load time is LiteRT CompiledModel creation (with a fresh XNNPACK weight cache file, as a first
start) plus the first call of each signature, measured in a fresh process per file, then the
same again with the cache already built (a later start). Used for the README's before/after table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def op_counts(path: Path) -> dict[str, int]:
    """signature -> ops in its subgraph plus the subgraphs its WHILE loops run (each counted once)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))

    def count(index: int, seen: set) -> int:
        seen.add(index)
        total = 0
        for op in model.subgraphs[index].operators:
            total += 1
            options = op.builtinOptions
            if op.builtinOptionsType == schema.BuiltinOptions.WhileOptions:
                for sub in (options.condSubgraphIndex, options.bodySubgraphIndex):
                    if sub not in seen:
                        total += count(sub, seen)
        return total

    return {s.signatureKey.decode() if isinstance(s.signatureKey, bytes) else s.signatureKey: count(s.subgraphIndex, set())
            for s in model.signatureDefs}


def partitions(path: Path) -> int:
    """XNNPACK partitions of the file's first subgraph (DELEGATE nodes once the delegate is applied)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    return sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())


def load_times(path: str, threads: int, cache: str) -> dict:
    """Run in a child: creation + first call per signature (random inputs, all steps real)."""
    import time

    import numpy as np
    from ai_edge_litert.compiled_model import CompiledModel

    from kokoro_litert.runtime.runner import StageRunner, quiet_native_logs

    t0 = time.perf_counter()
    with quiet_native_logs():
        model = CompiledModel.from_file(path, options=StageRunner.options(threads, cache))
    out = {"create_s": round(time.perf_counter() - t0, 4), "first_call_s": {}}
    rng = np.random.default_rng(0)
    for name, io in model.get_signature_list().items():
        index = model.get_signature_index(name)
        details = model.get_input_tensor_details(name)
        with quiet_native_logs():
            inputs, outputs = model.create_input_buffers(index), model.create_output_buffers(index)
            for key, buffer in zip(io["inputs"], inputs):
                d = details[key]
                value = rng.standard_normal(d["shape"]).astype(d["dtype"]) if np.dtype(d["dtype"]).kind == "f" \
                    else np.zeros(d["shape"], d["dtype"])
                if "mask" in key:
                    value[:] = 1
                if key == "input_ids":
                    value[:] = rng.integers(1, 170, value.shape)
                buffer.write(value)
            t1 = time.perf_counter()
            model.run_by_index(index, inputs, outputs)
        out["first_call_s"][name] = round(time.perf_counter() - t1, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = {}
    for path in args.files:
        with tempfile.TemporaryDirectory() as tmp:
            cache = str(Path(tmp) / "weights.xnnpack")
            runs = []
            for _ in ("first start", "later start"):
                code = ("import json, sys; sys.path.insert(0, %r); from graphs import load_times; "
                        "print(json.dumps(load_times(%r, %d, %r)))" % (str(Path(__file__).parent), str(path), args.threads, cache))
                proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        report[str(path)] = {"ops": op_counts(path), "partitions": partitions(path), "bytes": path.stat().st_size,
                             "first_start": runs[0], "later_start": runs[1]}
        r = report[str(path)]
        print(f"{path} ({r['bytes'] / 1e6:.1f} MB, {r['partitions']} XNNPACK partition(s) in its first signature)")
        for name, ops in r["ops"].items():
            print(f"  {name:24} {ops:6d} ops  first call {r['first_start']['first_call_s'][name]:.3f} s "
                  f"(cache built) / {r['later_start']['first_call_s'][name]:.3f} s (cache present)")
        print(f"  creation {r['first_start']['create_s']:.3f} s (cache built) / {r['later_start']['create_s']:.3f} s "
              f"(cache present)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
