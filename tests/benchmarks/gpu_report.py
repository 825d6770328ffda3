"""What LiteRT's GPU accelerator makes of each stage: the ops it takes, and the numbers that come out.

    python tests/benchmarks/gpu_report.py [--bundles DIR] [--precision fp32] [--stages predictor,prosody,vocoder]
                                          [--signatures frames_64,tokens_32,...] [--modes float32,float16]
                                          [--cpu-share] [--json FILE]

Per stage and signature:

- placement, from LiteRT's GPU delegate as it creates the model (runtime.runner.GpuPlacement): ops on the
  GPU, ops left to the CPU, GPU partitions created, what it rejects; and `partitions`, the pieces the
  graph splits into around the rejected ops (TFLite's partitioning, recomputed from the graph here:
  the delegate takes one of them, the largest);
- numbers: each output of the stage on the GPU, computing in float32 (`enforce_f32`), in float16
  (the GPU's default, what phones run), and in float16 but for the vocoder's head in float32 (what
  the runtime runs, `float16+head32`), against the same file on the CPU (XNNPACK), on a real
  sentence's inputs: relative L2 error ||gpu - cpu|| / ||cpu||, worst absolute error, correlation. For
  the vocoder also the audio (host iSTFT of both): spectrogram correlation (tests/support/parity.py)
  and mel-cepstral distortion between them (tests/benchmarks/yardstick.py's MCD, same durations and
  excitation, so 0 dB is identical audio);
- with --cpu-share (predictor, prosody): the share of the stage's CPU time spent in the ops the GPU
  leaves to the CPU, measured on XNNPACK by running the graph with the delegated partition cut out
  (its outputs fed in as inputs) against the whole graph, same inputs, same threads.

Inputs: the held-out sentences (tests/data) spoken by the CPU pipeline at the bundle precision, af_heart,
each stage's inputs traced; a signature takes the first sentence that lands in it at speed 1, else at a
slower or faster speed (real inputs at every size).

On a software GPU (Mesa's lavapipe, tests/gpu/setup.sh) speed means nothing and is not reported; and
LiteRT gives up on a GPU run after 120 s, which the larger vocoder signatures exceed there: they are
reported as failed with LiteRT's reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: support
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/benchmarks: yardstick

from kokoro_litert.buckets.manifest import STAGES

MODES = {"float32": (True, False), "float16": (False, False), "float16+head32": (False, True)}
"""GPU computation mode -> (GpuOptions.enforce_f32, the head computed in float32 by a second model):
float16+head32 is what `accelerator="gpu"` runs (runtime.runner.split_head)."""
SPEEDS = (1.0, 0.7, 1.4, 0.5, 0.35, 1.8)
"""Speeds tried, in order, to land a sentence in each signature."""
VOICE = "af_heart"


@dataclass
class Traced:
    """One stage call of the CPU pipeline."""

    sentence: str
    speed: float
    inputs: dict
    outputs: dict
    frames: int
    """Real alignment frames of the utterance (the vocoder's outputs are compared up to 120 frames + 1)."""


@dataclass
class OutputError:
    rel_l2: float
    max_abs: float
    corr: float


@dataclass
class ModeResult:
    """One signature run on the GPU in one computation mode."""

    outputs: dict[str, OutputError] = field(default_factory=dict)
    spec_corr: float | None = None
    mcd_db: float | None = None
    failed: str | None = None


@dataclass
class SignatureReport:
    stage: str
    signature: str
    gpu_ops: int | None = None
    cpu_ops: int | None = None
    gpu_partitions: int | None = None
    partitions: int | None = None
    rejected: tuple[str, ...] = ()
    sentence: str | None = None
    speed: float | None = None
    modes: dict[str, ModeResult] = field(default_factory=dict)
    cpu_share: float | None = None


# --- inputs --------------------------------------------------------------------------------------


def trace_inputs(bundles: Path, precision: str, wanted: dict[str, set[str]], log=print) -> dict[str, dict[str, Traced]]:
    """{stage: {signature: Traced}} for the signatures in `wanted` ({stage: names}), from held-out
    sentences spoken by the CPU pipeline (see the module doc)."""
    from kokoro_litert.runtime.backend import ChunkTooLong
    from kokoro_litert.runtime.litert import LiteRTBackend
    from support.sentences import load_sentences

    backend = LiteRTBackend(bundles, threads=2, precision=precision)
    voice = backend.bundle.voices.pack(VOICE)
    found: dict[str, dict[str, Traced]] = {stage: {} for stage in wanted}
    sentences = load_sentences("heldout")
    for speed in SPEEDS:
        for s in sentences:
            if all(set(found[st]) >= wanted[st] for st in wanted):
                return found
            trace: dict = {}
            try:
                out = backend.synthesize(s.phonemes, voice, speed, seed=1, trace=trace)
            except ChunkTooLong:
                continue
            for stage in wanted:
                name, inputs, outputs = trace[stage]
                if name in wanted[stage] and name not in found[stage]:
                    found[stage][name] = Traced(s.id, speed, {k: np.array(v) for k, v in inputs.items()},
                                                {k: np.array(v) for k, v in outputs.items()}, int(out.durations.sum()))
                    log(f"  inputs for {stage}/{name}: {s.id} at speed {speed}")
    return found


# --- placement -----------------------------------------------------------------------------------


def graph_partitions(path: Path, signature: str, rejected: tuple[str, ...]) -> tuple[int, list[set[int]]]:
    """(number of GPU partitions, the partitions as sets of op indices) of a signature's subgraph,
    with the ops the delegate rejects (its "OP: reason" lines) marked unsupported, partitioned as
    TFLite does: greedily, in execution order, a partition grows while ops of its kind have their
    inputs ready.

    A reason "Tensor dimensions must be less than 5." rejects the ops of that kind with a tensor of
    5 or more dimensions; any other reason every op of that kind."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    sig = next(s for s in model.signatureDefs if _name(s.signatureKey) == signature)
    graph = model.subgraphs[sig.subgraphIndex]
    by_kind: dict[str, str] = {}
    for line in rejected:
        kind, reason = line.split(": ", 1)
        rank_only = reason.startswith("Tensor dimensions must be less than 5") and by_kind.get(kind) != "all"
        by_kind[kind] = "rank" if rank_only else "all"
    supported = []
    for op in graph.operators:
        kind = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
        ranks = [len(graph.tensors[t].shape) for t in [*op.inputs, *op.outputs] if t >= 0]
        rule = by_kind.get(kind)
        supported.append(not (rule == "all" or (rule == "rank" and max(ranks, default=0) >= 5)))
    producer = {t: i for i, op in enumerate(graph.operators) for t in op.outputs}
    ready = {t for t in range(len(graph.tensors)) if t not in producer}
    todo = list(range(len(graph.operators)))
    parts: list[tuple[bool, set[int]]] = []
    while todo:
        first = next(i for i in todo if all(t < 0 or t in ready for t in graph.operators[i].inputs))
        kind, members = supported[first], set()
        grown = True
        while grown:
            grown = False
            for i in list(todo):
                op = graph.operators[i]
                if supported[i] == kind and all(t < 0 or t in ready for t in op.inputs):
                    members.add(i)
                    ready.update(op.outputs)
                    todo.remove(i)
                    grown = True
        parts.append((kind, members))
    gpu_parts = [m for kind, m in parts if kind]
    return len(gpu_parts), gpu_parts


# --- numbers -------------------------------------------------------------------------------------


def output_error(gpu: np.ndarray, cpu: np.ndarray) -> OutputError:
    gpu, cpu = np.asarray(gpu, np.float64).ravel(), np.asarray(cpu, np.float64).ravel()
    diff = gpu - cpu
    corr = float(np.corrcoef(gpu, cpu)[0, 1]) if cpu.std() > 0 and gpu.std() > 0 else float("nan")
    return OutputError(float(np.linalg.norm(diff) / max(np.linalg.norm(cpu), 1e-30)), float(np.abs(diff).max()), corr)


def real_part(stage: str, name: str, value: np.ndarray, traced: Traced) -> np.ndarray:
    """An output cut to the utterance's real steps (padding is zero on both sides anyway, and would
    flatter the figures)."""
    from kokoro_litert.buckets.ladder import F0_PER_FRAME

    if stage == "vocoder":
        return value[..., : 120 * traced.frames + 1]
    if stage == "prosody":
        return value[..., : (F0_PER_FRAME if name in ("f0", "n") else 1) * traced.frames]
    return value


def vocoder_audio(outputs: dict, traced: Traced) -> np.ndarray:
    from kokoro_litert.dsp import istft

    n = 120 * traced.frames + 1
    return istft(np.asarray(outputs["magnitude"])[0, :, :n], np.asarray(outputs["phase"])[0, :, :n])


def audio_figures(gpu: dict, traced: Traced) -> tuple[float, float]:
    """(spectrogram correlation, MCD in dB) of the GPU's audio against the CPU's."""
    import yardstick
    from support.parity import spectrogram_correlation

    a, b = vocoder_audio(gpu, traced), vocoder_audio(traced.outputs, traced)
    ca, cb = yardstick.mel_cepstra(a), yardstick.mel_cepstra(b)
    return spectrogram_correlation(a, b), yardstick.mel_cepstral_distortion(ca, cb, yardstick.dtw_path(ca, cb))


# --- the CPU's share of predictor and prosody ----------------------------------------------------


def cpu_share(path: Path, signature: str, delegated: set[int], inputs: dict, threads: int = 2,
              repeat: int = 15) -> float:
    """Seconds of the signature's ops outside `delegated` over seconds of all its ops, on XNNPACK:
    the graph is run whole, and with the delegated ops cut out (the tensors they made fed in,
    recorded from the whole run), alternately `repeat` times each, the fastest run of each."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from ai_edge_litert.tools import flatbuffer_utils

    # Without XNNPACK: it keeps no intermediate tensor of the partitions it runs.
    whole = Interpreter(model_path=str(path), num_threads=threads, experimental_preserve_all_tensors=True,
                        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    whole.get_signature_runner(signature)(**inputs)
    model = flatbuffer_utils.read_model(str(path))
    sig_index = next(i for i, s in enumerate(model.signatureDefs) if _name(s.signatureKey) == signature)
    sig = model.signatureDefs[sig_index]
    graph = model.subgraphs[sig.subgraphIndex]
    kept = [op for i, op in enumerate(graph.operators) if i not in delegated]
    made_by_cut = {t for i in delegated for t in graph.operators[i].outputs}
    fed = sorted({t for op in kept for t in op.inputs if t in made_by_cut})
    values = {t: whole.get_tensor(t, sig.subgraphIndex) for t in fed}
    made_by_kept = {t for op in kept for t in op.outputs}
    graph.operators = kept
    graph.inputs = sorted(set(graph.inputs) | set(fed))
    graph.outputs = [t for t in graph.outputs if t in made_by_kept]

    def tensor_map(name, index):
        m = schema.TensorMapT()
        m.name, m.tensorIndex = name, index
        return m

    sig.inputs = [m for m in sig.inputs] + [tensor_map(f"cut_{t}", t) for t in fed]
    sig.outputs = [m for m in sig.outputs if m.tensorIndex in made_by_kept]
    model.signatureDefs = [sig]
    with tempfile.TemporaryDirectory() as tmp:
        cut_path = Path(tmp) / "cut.tflite"
        flatbuffer_utils.write_model(model, str(cut_path))
        cut = Interpreter(model_path=str(cut_path), num_threads=threads).get_signature_runner(signature)
        cut_inputs = {**inputs, **{f"cut_{t}": v for t, v in values.items()}}
        timed = Interpreter(model_path=str(path), num_threads=threads).get_signature_runner(signature)
        cut(**cut_inputs), timed(**inputs)  # warm
        seconds = {"cut": [], "whole": []}
        for _ in range(repeat):  # alternating, so both see the same load; the fastest of each kept
            for key, run, feed in (("cut", cut, cut_inputs), ("whole", timed, inputs)):
                start = time.perf_counter()
                run(**feed)
                seconds[key].append(time.perf_counter() - start)
        return min(seconds["cut"]) / min(seconds["whole"])


# --- the report ----------------------------------------------------------------------------------


def report(bundles: Path, precision: str, stages: list[str], signatures: set[str] | None, modes: list[str],
           with_cpu_share: bool, log=print) -> list[SignatureReport]:
    """Placements of every signature of the stages; numbers (and CPU shares) for those in
    `signatures` (None: all)."""
    from kokoro_litert.runtime.bundle import Bundle
    from kokoro_litert.runtime.runner import StageRunner

    bundle = Bundle.open(bundles)
    manifest = bundle.manifest
    files = bundle.files(precision)
    names = {st: [n for n in manifest.signatures[st] if signatures is None or n in signatures] for st in stages}
    log("tracing the CPU pipeline's stage inputs on held-out sentences")
    traced = trace_inputs(bundles, precision, {st: set(n) for st, n in names.items()}, log)
    rows = {(st, n): SignatureReport(st, n) for st in stages for n in manifest.signatures[st]}
    for stage in stages:
        path = bundles / files[stage]
        for mode in modes:
            float32, head32 = MODES[mode]
            if head32 and stage != "vocoder":
                continue
            with tempfile.TemporaryDirectory() as graphs:
                # float16+head32 runs each signature as the runtime does: its own body and head models.
                runner = StageRunner(bundles, manifest, files, 2, None, release_idle_weights=False,
                                     gpu_stages=(stage,), gpu_float32=float32,
                                     gpu_folder=Path(graphs) if head32 else None,
                                     gpu_head_float32=(stage,) if head32 else ())
                if not head32:
                    start = time.perf_counter()
                    runner.model(stage)  # every signature at once: the placements
                    log(f"{stage} on the GPU ({mode}): created in {time.perf_counter() - start:.0f} s")
                    _record_placements(runner, stage, path, rows)
                for name in names[stage]:
                    t = traced[stage].get(name)
                    if t is not None:
                        rows[stage, name].sentence, rows[stage, name].speed = t.sentence, t.speed
                        rows[stage, name].modes[mode] = _run_mode(runner, stage, name, mode, t, log)
                runner.close()
        if with_cpu_share and stage != "vocoder":
            for name in names[stage]:
                row, t = rows[stage, name], traced[stage].get(name)
                if t is None or row.rejected == ():
                    continue
                _, parts = graph_partitions(path, name, row.rejected)
                delegated = max(parts, key=len)
                if abs(len(delegated) - row.gpu_ops) > 0.01 * row.gpu_ops:
                    log(f"  {stage}/{name}: the recomputed partition has {len(delegated)} ops, the delegate "
                        f"took {row.gpu_ops}: CPU share not measured")
                    continue
                row.cpu_share = cpu_share(path, name, delegated, t.inputs)
                log(f"  {stage}/{name}: {row.cpu_share:.0%} of its CPU time in the ops left to the CPU"
                    f" (delegated partition recomputed: {len(delegated)} ops, the delegate's {row.gpu_ops})")
    return list(rows.values())


def _record_placements(runner, stage: str, path: Path, rows: dict) -> None:
    if runner.gpu_fallback:
        raise SystemExit(f"no GPU here: {runner.gpu_fallback}. Install one (tests/gpu/setup.sh).")
    for name, placement in runner.gpu_placements.get(stage, {}).items():
        row = rows[stage, name]
        if row.gpu_ops is None:
            row.gpu_ops, row.cpu_ops = placement.gpu_ops, placement.cpu_ops
            row.gpu_partitions, row.rejected = placement.delegated_partitions, placement.rejected
            row.partitions, _ = graph_partitions(path, name, placement.rejected)


def _run_mode(runner, stage: str, name: str, mode: str, t: Traced, log) -> ModeResult:
    """One signature on the GPU in one mode against the CPU's outputs."""
    result = ModeResult()
    start = time.perf_counter()
    try:
        out = runner.run(stage, name, **t.inputs)
    except RuntimeError as e:
        result.failed = " ".join(str(e).split())[:200]
        log(f"  {stage}/{name} {mode}: failed after {time.perf_counter() - start:.0f} s ({result.failed})")
        return result
    if runner.gpu_fallback:
        raise SystemExit(f"no GPU here: {runner.gpu_fallback}. Install one (tests/gpu/setup.sh).")
    for key, value in out.items():
        result.outputs[key] = output_error(real_part(stage, key, value, t), real_part(stage, key, t.outputs[key], t))
    if stage == "vocoder":
        result.spec_corr, result.mcd_db = audio_figures(out, t)
    figures = ", ".join(f"{k} rel {e.rel_l2:.1e} corr {e.corr:.5f}" for k, e in result.outputs.items())
    if result.spec_corr is not None:
        figures += f"; audio spectrogram corr {result.spec_corr:.5f}, MCD {result.mcd_db:.2f} dB"
    log(f"  {stage}/{name} {mode}: {figures}")
    return result


def table(rows: list[SignatureReport], modes: list[str]) -> str:
    head = ["stage", "signature", "GPU ops", "CPU ops", "partitions (delegated)", "rejected"]
    for mode in modes:
        head += [f"GPU {mode} vs CPU"]
    audio_modes = [m for m in modes if m.startswith("float16")]
    head += [f"audio vs CPU, {m}: spec corr / MCD" for m in audio_modes] + ["CPU time share"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.stage, r.signature, _n(r.gpu_ops), _n(r.cpu_ops),
                 f"{_n(r.partitions)} ({_n(r.gpu_partitions)})", ", ".join(x.split(":")[0] for x in r.rejected) or "-"]
        for mode in modes:
            m = r.modes.get(mode)
            if m is None:
                cells.append("-")
            elif m.failed:
                cells.append("failed")
            else:
                cells.append(", ".join(f"{k} {e.rel_l2:.1e} ({e.corr:.4f})" for k, e in m.outputs.items()))
        for mode in audio_modes:
            m = r.modes.get(mode)
            cells.append(f"{m.spec_corr:.5f} / {m.mcd_db:.2f} dB" if m and m.spec_corr is not None else "-")
        cells.append(f"{r.cpu_share:.0%}" if r.cpu_share is not None else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _name(value) -> str:
    """A flatbuffer string (bytes in ai_edge_litert's object API) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _n(value) -> str:
    return "-" if value is None else f"{value:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundles", type=Path,
                        help="bundle folder (default: the converted default ladder in the cache)")
    parser.add_argument("--precision", default="fp32", help="which of the bundle's files (default fp32)")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--signatures", help="comma-separated signature names to run (default: all; placements are "
                        "always reported for every signature)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--cpu-share", action="store_true", help="measure the CPU's share of predictor and prosody")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    bundles = args.bundles
    if bundles is None:
        from kokoro_litert.buckets.ladder import DEFAULT_LADDER
        from kokoro_litert.convert.export import cached_bundles
        from kokoro_litert.runtime.cache import cache_root

        bundles = cached_bundles(cache_root() / "weights", cache_root(), DEFAULT_LADDER)
    modes = args.modes.split(",")
    wanted = set(args.signatures.split(",")) if args.signatures else None
    rows = report(bundles, args.precision, args.stages.split(","), wanted,
                  modes, args.cpu_share, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(table(rows, modes))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))


if __name__ == "__main__":
    main()
