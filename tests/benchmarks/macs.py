"""Multiply-accumulates per stage and signature, counted from the .tflite graphs; Raspberry Pi ESTIMATES.

    python tests/benchmarks/macs.py [--bundles DIR] [--precision int8|fp32] [--json out.json]
                                    [--calibrate] [--threads N]

Counts the five ops that do (almost) all of the arithmetic: CONV_2D, DEPTHWISE_CONV_2D,
TRANSPOSE_CONV, FULLY_CONNECTED and BATCH_MATMUL, from their static tensor shapes, in each
signature's subgraph and, for a WHILE op (each bi-LSTM direction is one), in its body subgraph
times the trip count. A loop runs over the *real* steps (its condition compares the step with the
real length), so the counts are for a full bucket: an upper bound for shorter utterances, where the
loops run fewer steps (everything else runs at the bucket's size whatever the utterance's length).
A MAC is int8 when the op's weight tensor is stored int8 (the int8 vocoder's dynamic-range convs),
else fp32.

Then the time those MACs imply on a Raspberry Pi, clearly an ESTIMATE (no Pi was used):

    seconds = MACs / (cores * GHz * MACs per cycle per core * efficiency)

MACs per cycle per core are the cores' peak NEON rates, from Arm's Software Optimization Guides:
Cortex-A72 (Pi 4; "Cortex-A72 Software Optimization Guide", ARM UAN 0016A, 2015, section 3.15: ASIMD
FP multiply-accumulate Q-form, throughput 2 per cycle on pipelines F0/F1) -> 2 x 4 fp32 lanes = 8
fp32 MACs per cycle; no dot product, so int8 runs through widening multiplies (SMULL/SMLAL, one
pipeline) at about the same 8 per cycle. Cortex-A76 (Pi 5; "Arm Cortex-A76 Software Optimization
Guide", PJDOC-466751330-7215 v8.0, 2019, section 3.17: ASIMD FP multiply-accumulate Q-form and ASIMD
dot product, throughput 2 per cycle on V0/V1) -> 8 fp32 and 2 x 16 = 32 int8 MACs per cycle.
Clocks are Raspberry Pi's published defaults: Pi 4 1.5 GHz (BCM2711; 1.8 GHz on boards from late
2020), Pi 5 2.4 GHz (BCM2712). Efficiency (the share of peak a whole graph reaches: XNNPACK's GEMM
kernels get close to peak, the graph's many memory-bound elementwise ops and transposes do not) is
an assumption, given as a range: 0.5 (optimistic) to 0.2 (pessimistic). `--calibrate` measures the
share this x86 host reaches, per stage, on the same graphs (its peak from its AVX-512 FMA rate and
the clock in /proc/cpuinfo) as a sanity check on that range. A Pi owner's `kokoro-litert bench`
replaces all of this with real figures.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COUNTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "BATCH_MATMUL")


@dataclass(frozen=True)
class Board:
    name: str
    core: str
    cores: int
    ghz: float
    fp32_macs_per_cycle: int
    int8_macs_per_cycle: int


BOARDS = (
    Board("Raspberry Pi 4", "Cortex-A72", 4, 1.5, 8, 8),
    Board("Raspberry Pi 5", "Cortex-A76", 4, 2.4, 8, 32),
)
EFFICIENCY = (0.5, 0.2)
"""Share of peak assumed: optimistic, pessimistic (see the module docstring)."""


@dataclass
class Count:
    """MACs of one signature, by op type and by arithmetic."""

    by_op: dict[str, int] = field(default_factory=dict)
    fp32: int = 0
    int8: int = 0
    in_loops: int = 0

    @property
    def total(self) -> int:
        return self.fp32 + self.int8

    def add(self, op: str, macs: int, int8: bool, looped: bool) -> None:
        self.by_op[op] = self.by_op.get(op, 0) + macs
        if int8:
            self.int8 += macs
        else:
            self.fp32 += macs
        if looped:
            self.in_loops += macs


class Graph:
    """A .tflite file read with the flatbuffer schema that ships in ai-edge-litert (no interpreter)."""

    def __init__(self, path: Path):
        from ai_edge_litert import schema_py_generated as schema

        self.schema = schema
        self.model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
        self.op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        self.int8 = schema.TensorType.INT8

    def signatures(self) -> dict[str, int]:
        m = self.model
        return {m.SignatureDefs(i).SignatureKey().decode(): m.SignatureDefs(i).SubgraphIndex()
                for i in range(m.SignatureDefsLength())}

    def _op(self, op) -> str:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        return self.op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")

    @staticmethod
    def _shape(subgraph, index: int) -> tuple[int, ...]:
        t = subgraph.Tensors(index)
        return tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()

    def count(self, subgraph_index: int, into: Count | None = None, times: int = 1, looped: bool = False) -> Count:
        """MACs of a subgraph (`times` runs of it), WHILE bodies included."""
        into = into if into is not None else Count()
        sg = self.model.Subgraphs(subgraph_index)
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            name = self._op(op)
            if name == "WHILE":
                options = self.schema.WhileOptions()
                table = op.BuiltinOptions()
                options.Init(table.Bytes, table.Pos)
                self.count(options.BodySubgraphIndex(), into, times * self.trip_count(sg, op), True)
                continue
            if name not in COUNTED:
                continue
            inputs = [op.Inputs(j) for j in range(op.InputsLength())]
            out = self._shape(sg, op.Outputs(0))
            weight = inputs[0 if name == "BATCH_MATMUL" else 1]
            if name == "TRANSPOSE_CONV":  # inputs: output shape, weights [Cout, KH, KW, Cin], input
                cout, kh, kw, _ = self._shape(sg, inputs[1])
                macs = int(np.prod(self._shape(sg, inputs[2]))) * kh * kw * cout
            elif name == "CONV_2D":  # weights [Cout, KH, KW, Cin per group]
                _, kh, kw, cin = self._shape(sg, inputs[1])
                macs = int(np.prod(out)) * kh * kw * cin
            elif name == "DEPTHWISE_CONV_2D":  # weights [1, KH, KW, Cout]
                _, kh, kw, _ = self._shape(sg, inputs[1])
                macs = int(np.prod(out)) * kh * kw
            elif name == "FULLY_CONNECTED":  # weights [N, K]
                macs = int(np.prod(out)) * self._shape(sg, inputs[1])[-1]
            else:  # BATCH_MATMUL: A [..., M, K] (or [..., K, M] with adj_x)
                options = self.schema.BatchMatMulOptions()
                table = op.BuiltinOptions()
                options.Init(table.Bytes, table.Pos)
                a = self._shape(sg, inputs[0])
                macs = int(np.prod(out)) * (a[-2] if options.AdjX() else a[-1])
                weight = inputs[1]
            into.add(name, macs * times, sg.Tensors(weight).Type() == self.int8, looped)
        return into

    def trip_count(self, sg, op) -> int:
        """A full bucket's steps: the sequence axis of the loop's stacked input/output ([1, steps, dim]).

        The loop's limit is a runtime value (the real length); its carried tensors are the step
        counter, the limit, h, c, the output sequence and the hoisted input projection."""
        steps = {self._shape(sg, op.Inputs(j))[1] for j in range(op.InputsLength())
                 if len(self._shape(sg, op.Inputs(j))) == 3}
        if len(steps) != 1:
            raise ValueError(f"cannot tell this WHILE loop's steps from its inputs ({sorted(steps)})")
        return steps.pop()


def count_bundle(bundles: Path, precision: str | None) -> tuple[dict[str, dict[str, Count]], dict]:
    manifest = json.loads((bundles / "manifest.json").read_text())
    precision = precision or manifest["default_precision"]
    files = manifest["precisions"][precision]
    counts = {}
    for stage, file_name in files.items():
        graph = Graph(bundles / file_name)
        counts[stage] = {sig: graph.count(index) for sig, index in graph.signatures().items()}
    return counts, manifest


def estimate_seconds(macs_fp32: int, macs_int8: int, board: Board, cores: int, efficiency: float) -> float:
    rate = cores * board.ghz * 1e9 * efficiency
    return macs_fp32 / (rate * board.fp32_macs_per_cycle) + macs_int8 / (rate * board.int8_macs_per_cycle)


def buckets(manifest: dict) -> list[tuple[str, str, str, int]]:
    """(predictor, prosody, vocoder signature, frames) for each full bucket of the ladder."""
    return [(f"tokens_{b['tokens']}", f"tokens_{b['tokens']}_frames_{b['frames']}", f"frames_{b['frames']}",
             b["frames"]) for b in manifest["buckets"]]


def host_peak_gmacs(threads: int) -> float | None:
    """This x86 host's fp32 peak: 2 AVX-512 FMA ports x 16 lanes at the /proc/cpuinfo clock (None if
    it has no AVX-512 or no clock figure)."""
    text = Path("/proc/cpuinfo").read_text(errors="replace")
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)
    if not mhz or " avx512f" not in text:
        return None
    return threads * float(mhz[1]) / 1e3 * 2 * 16


def calibrate(bundles: Path, precision: str | None, threads: int, manifest: dict, counts) -> dict[str, float]:
    """Warm seconds of each full-bucket signature on this host, and the GMAC/s they imply."""
    from kokoro_litert.runtime.litert import LiteRTBackend

    backend = LiteRTBackend(bundles, threads=threads, precision=precision)
    rng = np.random.default_rng(0)
    measured = {}
    for stage, sigs in counts.items():
        for name in sigs:
            spec = backend.bundle.manifest.signatures[stage][name]
            inputs = {k: (rng.standard_normal(t.shape) if t.dtype.startswith("float") else np.ones(t.shape))
                      .astype(t.dtype) for k, t in spec.inputs.items()}
            for mask in {"token_mask", "frame_mask"} & set(inputs):
                inputs[mask][:] = 1
            backend.runner.run(stage, name, **inputs)  # first call: weight cache, planning
            start = time.perf_counter()
            backend.runner.run(stage, name, **inputs)
            measured[f"{stage}/{name}"] = time.perf_counter() - start
    return measured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=Path, help="a bundle folder (default: the cache's, full ladder)")
    parser.add_argument("--precision", default=None, help="default: the bundle's default (int8)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--calibrate", action="store_true", help="also time each signature here (x86)")
    parser.add_argument("--threads", type=int, default=2, help="threads for --calibrate")
    args = parser.parse_args(argv)
    if args.bundles is None:
        from kokoro_litert.convert.export import cached_bundles
        from kokoro_litert.runtime.cache import cache_root

        args.bundles = cached_bundles(cache_root() / "weights", cache_root())
    counts, manifest = count_bundle(args.bundles, args.precision)
    precision = args.precision or manifest["default_precision"]
    report: dict = {"bundles": str(args.bundles), "precision": precision, "signatures": {}, "estimates": [],
                    "boards": [vars(b) for b in BOARDS], "efficiency": EFFICIENCY}

    print(f"MACs per signature, full bucket ({args.bundles.name}, precision {precision}); G = 1e9")
    print(f"{'stage/signature':34} {'total G':>9} {'int8 G':>8} {'in loops G':>10}  by op (G)")
    for stage, sigs in counts.items():
        for name, c in sigs.items():
            ops = ", ".join(f"{op} {v / 1e9:.2f}" for op, v in sorted(c.by_op.items(), key=lambda kv: -kv[1]))
            print(f"{stage + '/' + name:34} {c.total / 1e9:9.2f} {c.int8 / 1e9:8.2f} {c.in_loops / 1e9:10.3f}  {ops}")
            report["signatures"][f"{stage}/{name}"] = {"total": c.total, "fp32": c.fp32, "int8": c.int8,
                                                       "in_loops": c.in_loops, "by_op": c.by_op}

    print("\nESTIMATES, not measurements (no Raspberry Pi was used; see this file's docstring for the")
    print("throughput figures, their sources and the assumed efficiency range): seconds per full")
    print(f"bucket, predictor + prosody + vocoder, efficiency {EFFICIENCY[0]} .. {EFFICIENCY[1]}, and the")
    print("real-time factor (seconds of compute per second of audio; 40 frames of 600 samples = 1 s)")
    print(f"{'board':16} {'threads':>7} {'bucket':>12} {'seconds (est.)':>16} {'RTF (est.)':>12}")
    for board in BOARDS:
        for cores in (1, 2, board.cores):
            for pred, pros, voc, frames in buckets(manifest):
                parts = [counts["predictor"][pred], counts["prosody"][pros], counts["vocoder"][voc]]
                fp32, int8 = sum(c.fp32 for c in parts), sum(c.int8 for c in parts)
                fast, slow = (estimate_seconds(fp32, int8, board, cores, e) for e in EFFICIENCY)
                audio = frames * 600 / 24000
                print(f"{board.name:16} {cores:>7} {pred[7:] + 'x' + str(frames):>12} "
                      f"{fast:7.2f} .. {slow:6.2f} {fast / audio:5.2f} .. {slow / audio:4.2f}")
                report["estimates"].append({"board": board.name, "threads": cores, "bucket": f"{pred}/{frames}",
                                            "seconds": [fast, slow], "rtf": [fast / audio, slow / audio]})

    if args.calibrate:
        measured = calibrate(args.bundles, args.precision, args.threads, manifest, counts)
        peak = host_peak_gmacs(args.threads)
        print(f"\nthis host (x86, {args.threads} threads): warm seconds per full-bucket call, the GMAC/s they "
              f"imply" + (f", and the share of its fp32 peak ({peak:.0f} GMAC/s)" if peak else ""))
        for key, seconds in measured.items():
            stage, name = key.split("/")
            gmacs = counts[stage][name].total / seconds / 1e9
            share = f" {gmacs / peak:6.1%}" if peak else ""
            print(f"  {key:34} {seconds:8.3f} s {gmacs:8.1f} GMAC/s{share}")
        report["calibration"] = {"threads": args.threads, "host_peak_gmacs": peak, "seconds": measured}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    sys.exit(main())
