"""Convert the three stages to a self-contained LiteRT bundle folder.

    predictor.tflite  tokens_{T}            input_ids, style, token_mask -> durations, d, t_en
    prosody.tflite    tokens_{T}_frames_{L} d, t_en, alignment, style, frame_mask -> asr, f0, n
    vocoder.tflite    frames_{F}            asr, f0, n, style, har, frame_mask -> magnitude, phase
    *.int8.tflite     the quantized precisions (convert/quantize.py): int8 (the default), fp16
    *.fp16.tflite
    voices.bin        every voice, [n, 510, 256] float32 (names in the manifest)
    lexicon-{a,b}.tsv the portable lexicons (American, British) for hosts without misaki's data
    manifest.json     see buckets/manifest.py

One .tflite per stage and precision, one signature per shape (weights stored once per file).
Inputs and outputs are fed and read by name (litert-torch sorts signature I/O alphabetically); the
manifest records them as read back from the written files. The folder is written under a
temporary name and renamed into place when complete; `cached_bundles` keeps converted folders
under `<cache>/bundles/<key>/`, key = checkpoint sha256 + CONVERTER_VERSION + ladder.

Conversion runs in a worker process (one stage after another; with jobs=2, the vocoder in one
worker and the predictor and prosody in another: faster on 2+ cores, but both workers' memory
at once). Each worker's library output goes to `conversion-<stage>.log` in the folder; progress
goes to stderr.

    python -m kokoro_litert.convert.export [--out DIR] [--ladder '32x128,64x256,128x512;48,64,...'] [--jobs 1]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from kokoro_litert.buckets import (
    F0_UPSAMPLE,
    HARMONIC_NUM,
    ISTFT_HOP,
    ISTFT_N_FFT,
    ISTFT_WIN,
    N_FREQ,
    NOISE_STD,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    SINE_AMP,
    VOICED_THRESHOLD,
)
from kokoro_litert.buckets.ladder import (
    DEFAULT_LADDER,
    F0_PER_FRAME,
    STFT_FRAMES_PER_FRAME,
    Ladder,
    parse_ladder,
)
from kokoro_litert.buckets.manifest import (
    DEFAULT_PRECISION,
    STAGES,
    VOICE_BYTES,
    VOICES_FILE,
    Manifest,
    SignatureSpec,
    TensorSpec,
)
from kokoro_litert.convert.signatures import FILES, sample_inputs, stage_shapes, verify_stage

# Bump whenever stages.py, the blocks it swaps in, or the conversion settings change what a
# bundle computes: it is part of the cache key, so stale bundles are never reused.
CONVERTER_VERSION = "0.3.0+stages.17"

def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def checkpoint_sha256(weights_dir: Path) -> str:
    """sha256 of kokoro-v1_0.pth: from weights.json (written by fetch) or hashed here."""
    weights_dir = Path(weights_dir)
    meta = weights_dir / "weights.json"
    if meta.is_file():
        sha = json.loads(meta.read_text()).get("checkpoint_sha256")
        if sha:
            return sha
    from kokoro_litert.runtime.cache import sha256_file

    return sha256_file(weights_dir / "kokoro-v1_0.pth")


def cache_key(sha256: str, ladder: Ladder) -> str:
    """Folder name of a converted bundle: checkpoint hash, converter version, ladder."""
    digest = hashlib.sha256(ladder.spec.encode()).hexdigest()[:10]
    return f"{sha256[:16]}-v{CONVERTER_VERSION}-{digest}"


def _peak_rss_mb() -> float:
    """This process's peak RSS since `_reset_peak_rss` (a worker's task), else since it started."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _reset_peak_rss() -> None:
    """Start this process's peak RSS over from its current RSS (Linux; elsewhere a no-op), so a
    worker's task reports its own peak rather than that of the tasks the worker ran before."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def read_signatures(path: Path) -> dict[str, SignatureSpec]:
    """Signature name -> I/O names, shapes, dtypes, as the LiteRT interpreter sees the file."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    specs = {}
    for name in interp.get_signature_list():
        runner = interp.get_signature_runner(name)

        def tensors(details: dict) -> dict[str, TensorSpec]:
            return {k: TensorSpec(tuple(int(s) for s in v["shape"]), v["dtype"].__name__)
                    for k, v in sorted(details.items())}

        specs[name] = SignatureSpec(name, tensors(runner.get_input_details()), tensors(runner.get_output_details()))
    return specs


def convert_stage(stage: str, module, ladder: Ladder, path: Path, log=_stderr, names: tuple[str, ...] | None = None,
                  expected: dict | None = None) -> dict:
    """Convert one stage module at the shapes `names` (default: every shape of the ladder) into one
    .tflite in one lowering, check each signature against PyTorch; return figures.

    expected: filled with the PyTorch outputs of the checked signatures (see `verify_stage`)."""
    import litert_torch

    from kokoro_litert.convert.tfl_ops import expand_sequence_lstms, register_lowering

    register_lowering()
    start = time.perf_counter()
    shapes = [(name, shape) for name, shape in stage_shapes(stage, ladder).items() if names is None or name in names]
    converter = None
    for name, shape in shapes:
        kwargs = sample_inputs(stage, *shape, module.hidden_dim)
        if converter is None:
            converter = litert_torch.signature(name, module, sample_kwargs=kwargs)
        else:
            converter = converter.signature(name, module, sample_kwargs=kwargs)
    try:
        with one_decomposition():
            edge = converter.convert()
        del converter
        edge.export(str(path))
        del edge
    finally:
        _HEAVY.release()  # taken when the lowering started writing the flatbuffer (see _init_worker)
    loops = expand_sequence_lstms(path) if _has_sequence_lstms(path) else 0
    converted = time.perf_counter() - start
    figures = {"seconds_lowering": converted, "bytes": path.stat().st_size, "lstm_loops": loops,
               "max_rel_error": verify_stage(stage, module, ladder, path, only=tuple(n for n, _ in shapes),
                                             expected=expected)}
    figures["seconds"] = time.perf_counter() - start
    figures["peak_rss_mb"] = _peak_rss_mb()
    return figures


@contextlib.contextmanager
def one_decomposition():
    """litert-torch decomposes each exported program twice: after torch.export (its pre-convert
    table) and again in its FX passes (`CanonicalizePass`, an empty table). Each is a full
    AOTAutograd retrace, together about half of a lowering's Python time; the passes between them
    leave core ATen ops only, so the second changes nothing on these graphs: measured byte-identical
    .tflite files for the three stages (tests/test_conversion.py keeps checking it on the tiny model).
    Within this block the second is skipped (13-27% less CPU time per lowering)."""
    from litert_torch.fx_infra import _canonicalize_pass, pass_base

    canonicalize = _canonicalize_pass.CanonicalizePass
    call = canonicalize.call
    canonicalize.call = lambda self, exported_program: pass_base.ExportedProgramPassResult(exported_program, False)
    try:
        yield
    finally:
        canonicalize.call = call


def _has_sequence_lstms(path: Path) -> bool:
    """Whether a written file still holds sequence_lstm placeholders (convert/tfl_ops.py)."""
    import mmap

    from ai_edge_litert import schema_py_generated as schema

    from kokoro_litert.convert.tfl_ops import CUSTOM_CODE

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        model = schema.Model.GetRootAs(data, 0)
        codes = {model.OperatorCodes(i).CustomCode() for i in range(model.OperatorCodesLength())}
    return bool({c.encode() for c in CUSTOM_CODE.values()} & codes)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"converter": CONVERTER_VERSION}
    for pkg in ("kokoro-litert", "kokoro", "torch", "litert-torch", "ai-edge-litert", "ai-edge-quantizer"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def dsp_constants() -> dict:
    return {
        "sample_rate": SAMPLE_RATE, "samples_per_frame": SAMPLES_PER_FRAME, "n_fft": ISTFT_N_FFT,
        "hop": ISTFT_HOP, "win": ISTFT_WIN, "n_freq": N_FREQ, "stft_frames_per_frame": STFT_FRAMES_PER_FRAME,
        "f0_per_frame": F0_PER_FRAME, "f0_upsample": F0_UPSAMPLE, "harmonic_num": HARMONIC_NUM,
        "sine_amp": SINE_AMP, "noise_std": NOISE_STD, "voiced_threshold": VOICED_THRESHOLD,
    }


class _HeavyPhase:
    """At most one worker process at a time in a memory-heavy phase: building a stage module from
    the checkpoint (~1.6 GB at its peak for the vocoder), a lowering writing its flatbuffer (the
    LiteRT converter's passes and the export: +1.2 GB above the worker's ~0.9 GB), the merge, or
    writing and checking a quantized precision (~2 GB each, and the two are the last tasks, so they
    would otherwise run side by side). The other phases (torch.export, litert-torch's FX passes,
    checking a part against PyTorch) stay under ~1.4 GB, so two workers together peak below 4 GB
    where each alone reaches ~2.3 GB.

    The lock is shared by the pool's workers (`_init_worker`); without one (a direct call) the
    phases just run. `acquire` is idempotent within a process."""

    def __init__(self):
        self.lock = None
        self.held = False

    def acquire(self) -> None:
        if not self.held and self.lock is not None:
            self.lock.acquire()
        self.held = True

    def release(self) -> None:
        if self.held:
            _trim_heap()
            if self.lock is not None:
                self.lock.release()
        self.held = False

    def __enter__(self):
        self.acquire()

    def __exit__(self, *exc):
        self.release()


_HEAVY = _HeavyPhase()


def _trim_heap() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc keeps ~0.5 GB of a freed
    checkpoint otherwise, counted in the worker's RSS for the rest of its life)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _init_worker(lock) -> None:
    """A conversion worker: quiet progress bars, the heavy-phase lock around litert-torch's
    flatbuffer writing (taken when it starts, released by convert_stage once the file is written)."""
    os.environ["LITERT_TORCH_SHOW_PROGRESS"] = "n"
    _HEAVY.lock = lock
    from litert_torch._convert import core, litert_converter

    write = litert_converter.exported_programs_to_flatbuffer
    if getattr(write, "_kokoro_heavy", False):
        return

    def heavy_write(*args, **kwargs):
        _HEAVY.acquire()
        return write(*args, **kwargs)

    heavy_write._kokoro_heavy = True
    litert_converter.exported_programs_to_flatbuffer = heavy_write  # core.py calls it through the module
    assert core.litert_converter is litert_converter


def _build_stage(weights_dir: Path, stage: str):
    from kokoro_litert.convert.checkpoint import load_model
    from kokoro_litert.convert.stages import Predictor, Prosody, Vocoder, fold_weight_norm

    kmodel = load_model(weights_dir)
    cls = {"predictor": Predictor, "prosody": Prosody, "vocoder": Vocoder}[stage]
    return fold_weight_norm(cls(kmodel).eval())


_MODULE: dict[str, object] = {}
"""The stage module a worker built last (one at a time: the vocoder's is 217 MB)."""


def _stage_module(weights_dir: str, stage: str, log):
    if stage not in _MODULE:
        _MODULE.clear()
        _trim_heap()
        log(f"{stage}: building from the checkpoint")
        with _HEAVY:
            _MODULE[stage] = _build_stage(Path(weights_dir), stage)
    return _MODULE[stage]


def _checkpoint_facts(weights_dir: str) -> tuple[tuple[float, ...], float, dict[str, int]]:
    """What the manifest copies from the checkpoint: the sine source's l_linear and the vocab."""
    from kokoro_litert.convert.checkpoint import load_model

    with _HEAVY:
        kmodel = load_model(Path(weights_dir))
    l_linear = kmodel.decoder.generator.m_source.l_linear
    return (tuple(float(v) for v in l_linear.weight.detach().reshape(-1)), float(l_linear.bias.detach().reshape(())),
            dict(kmodel.vocab))


class _TaskLog:
    """A task's output in a worker: library output (litert-torch, the MLIR converter's C++ logs)
    appended to conversion-<stage>.log in the folder, the task's own progress lines to the parent's
    stderr."""

    def __init__(self, folder: str, stage: str):
        self.path = Path(folder) / f"conversion-{stage}.log"

    def __enter__(self):
        _reset_peak_rss()
        sys.stdout.flush(), sys.stderr.flush()
        self.progress = os.fdopen(os.dup(2), "w", buffering=1)
        self.library = open(self.path, "a")
        self.saved = os.dup(1), os.dup(2)
        os.dup2(self.library.fileno(), 1)
        os.dup2(self.library.fileno(), 2)
        return lambda msg: print(msg, file=self.progress, flush=True)

    def __exit__(self, *exc):
        _trim_heap()  # a worker may wait idle beside the other's heaviest task: hold only what it keeps
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        os.close(self.saved[0]), os.close(self.saved[1])
        self.library.close()
        self.progress.close()


def _stage_task(weights_dir: str, stage: str, ladder: Ladder, folder: str) -> dict:
    """Convert every signature of a stage in one lowering, check them, write its quantized
    precisions (runs in a worker process)."""
    import torch

    from kokoro_litert.convert.quantize import quantize_stage

    with _TaskLog(folder, stage) as log:
        module = _stage_module(weights_dir, stage, log)
        names = list(stage_shapes(stage, ladder))
        log(f"  {stage}: lowering {', '.join(names)} to LiteRT")
        expected = {}
        with torch.no_grad():
            figures = convert_stage(stage, module, ladder, Path(folder) / FILES[stage], log, expected=expected)
            _log_converted(stage, figures, len(names), log)
            figures["variants"] = quantize_stage(stage, module, ladder, Path(folder), log, expected)
        figures["peak_rss_mb"] = _peak_rss_mb()
    return figures


def _part_task(weights_dir: str, stage: str, ladder: Ladder, folder: str, name: str, index: int) -> dict:
    """Convert one signature of a stage into a part file and check it (runs in a worker process);
    the PyTorch outputs of the ladder's smallest and largest shapes are kept for `_quantize_task`."""
    import numpy as np
    import torch

    names = list(stage_shapes(stage, ladder))
    with _TaskLog(folder, stage) as log:
        module = _stage_module(weights_dir, stage, log)
        log(f"  {stage}: lowering {name} to LiteRT (part {index + 1}/{len(names)}, worker {os.getpid()})")
        expected = {}
        with torch.no_grad():
            figures = convert_stage(stage, module, ladder, _part_path(folder, stage, name), log, names=(name,),
                                    expected=expected)
        if name in (names[0], names[-1]):
            np.savez(_expected_path(folder, stage, name), **expected[name])
        worst = max(figures["max_rel_error"].items(), key=lambda kv: kv[1])
        figures["peak_rss_mb"] = _peak_rss_mb()
        log(f"  {stage}: {name} converted and checked in {figures['seconds']:.0f} s (peak {figures['peak_rss_mb']:.0f} "
            f"MB), worst error vs PyTorch {worst[1]:.1e} ({worst[0]})")
    return figures


def _part_path(folder: str, stage: str, name: str) -> Path:
    return Path(folder) / WORK_FOLDER / f"{stage}.{name}.tflite"


def _expected_path(folder: str, stage: str, name: str) -> Path:
    return Path(folder) / WORK_FOLDER / f"{stage}.{name}.expected.npz"


WORK_FOLDER = ".work"
"""Inside the folder being written: part files and kept PyTorch outputs, removed before it is complete."""


def _merge_task(stage: str, ladder: Ladder, folder: str) -> dict:
    """Merge a stage's part files (in ladder order) into its file, weights stored once, and prove each
    signature of the result is its part's graph unchanged (runs in a worker process)."""
    from kokoro_litert.convert.merge import merge_tflite

    names = list(stage_shapes(stage, ladder))
    parts = [_part_path(folder, stage, name) for name in names]
    with _TaskLog(folder, stage) as log:
        log(f"  {stage}: merging {len(parts)} parts (weights stored once)")
        start = time.perf_counter()
        out = Path(folder) / FILES[stage]
        with _HEAVY:
            merged = merge_tflite(parts, out)
            for name, part in zip(names, parts):
                same_signature(out, part, name)
        for part in parts:
            part.unlink()
        return {**merged, "seconds": time.perf_counter() - start, "bytes": out.stat().st_size,
                "peak_rss_mb": _peak_rss_mb()}


def same_signature(merged: Path, part: Path, name: str) -> None:
    """Raise unless signature `name` of `merged` is the graph of `part`'s: the same ops with the same
    options and tensor indices, every tensor with the same shape, type, quantization and buffer
    contents (names may differ: the merge makes them unique)."""
    import mmap

    from ai_edge_litert import schema_py_generated as schema

    def open_model(path):
        f = open(path, "rb")
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        f.close()
        return data, schema.Model.GetRootAs(data, 0)

    def subgraph(model, key):
        for i in range(model.SignatureDefsLength()):
            sig = model.SignatureDefs(i)
            if sig.SignatureKey().decode() == key:
                return model.Subgraphs(sig.SubgraphIndex())
        raise ValueError(f"no signature {key} in the merged file")

    def tables(model, graph):
        ops = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            options = schema.BuiltinOptionsCreator(op.BuiltinOptionsType(), op.BuiltinOptions())
            ops.append((max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), code.CustomCode(),
                        tuple(op.InputsAsNumpy()), tuple(op.OutputsAsNumpy()), op.BuiltinOptionsType(),
                        None if options is None else vars(options)))
        tensors = []
        for i in range(graph.TensorsLength()):
            t = graph.Tensors(i)
            q = t.Quantization()
            data = model.Buffers(t.Buffer()).DataAsNumpy()
            tensors.append((tuple(t.ShapeAsNumpy()) if t.ShapeLength() else (), t.Type(),
                            None if q is None else (q.ScaleAsNumpy().tobytes() if q.ScaleLength() else b""),
                            hashlib.sha1(data.tobytes()).digest() if not isinstance(data, int) else b""))
        return ops, tensors

    (a_data, a), (b_data, b) = open_model(merged), open_model(part)
    try:
        if tables(a, subgraph(a, name)) != tables(b, subgraph(b, name)):
            raise RuntimeError(f"signature {name} of {merged} differs from its part {part}: convert/merge.py is wrong")
    finally:
        del a, b
        a_data.close(), b_data.close()


def _quantize_task(weights_dir: str, stage: str, ladder: Ladder, folder: str, precision: str) -> dict:
    """Write one quantized precision of a merged stage and check it at the ladder's smallest and
    largest shapes against the kept PyTorch outputs (runs in a worker process)."""
    import numpy as np

    from kokoro_litert.convert.quantize import quantize_file

    names = list(stage_shapes(stage, ladder))
    ends = (names[0], names[-1])
    with _TaskLog(folder, stage) as log:
        module = _stage_module(weights_dir, stage, log)
        name = f"{stage}.{precision}.tflite"
        expected = {}
        for end in ends:
            with np.load(_expected_path(folder, stage, end)) as kept:
                expected[end] = {k: kept[k] for k in kept.files}
        with _HEAVY:
            figures = quantize_file(Path(folder) / FILES[stage], Path(folder) / name, precision, stage, module)
            errors = verify_stage(stage, module, ladder, Path(folder) / name, only=ends, expected=expected)
        worst = max(errors.items(), key=lambda kv: kv[1])
        log(f"{stage} {precision}: {figures['selected']} in {figures['seconds']:.1f} s, "
            f"{figures['bytes'] / 1e6:.1f} MB; worst error vs PyTorch on tracing inputs {worst[1]:.1e} ({worst[0]})")
        return {"file": name, "peak_rss_mb": _peak_rss_mb()}


def _log_converted(stage: str, figures: dict, signatures: int, log) -> None:
    worst = max(figures["max_rel_error"].items(), key=lambda kv: kv[1])
    log(f"{stage}: {signatures} signature(s) converted in {figures['seconds']:.0f} s ({figures['lstm_loops']} LSTM "
        f"loops), {figures['bytes'] / 1e6:.1f} MB, worker peak RSS {figures['peak_rss_mb']:.0f} MB; "
        f"worst error vs PyTorch {worst[1]:.1e} ({worst[0]})")


SPLIT_STAGES = ("vocoder",)
"""Stages converted one signature per lowering (then merged): litert-torch's export and lowering
take ~45 s per signature whatever the shape, and one vocoder signature peaks ~1.1 GB lower than
two. The others are converted in one lowering each (3 signatures, ~1.9 GB)."""


def _run_conversion(weights_dir: str, ladder: Ladder, folder: str, jobs: int, log) -> tuple[dict, tuple]:
    """Every stage converted, checked and quantized into `folder` by `jobs` worker processes;
    return (figures, checkpoint facts).

    Tasks: predictor and prosody whole (convert, check, quantize), each vocoder signature alone
    (convert, check), then the vocoder's merge and its quantized precisions. Workers take the next
    task when they are free; a worker keeps the stage module it built last."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    (Path(folder) / WORK_FOLDER).mkdir()
    context = multiprocessing.get_context("spawn")
    lock = context.Lock() if jobs > 1 else None
    figures: dict = {stage: {} for stage in STAGES}
    busy = {stage: 0.0 for stage in STAGES}  # worker seconds per stage
    sampler = _MemorySampler()
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(lock,)) as pool:
        sampler.start(pool)
        # the parent never imports torch: its memory stays out of the conversion's peak
        facts = pool.submit(_checkpoint_facts, weights_dir)
        pending = {}
        for stage in STAGES:
            if stage in SPLIT_STAGES:
                for i, name in enumerate(stage_shapes(stage, ladder)):
                    pending[pool.submit(_part_task, weights_dir, stage, ladder, folder, name, i)] = (stage, "part", name)
            else:
                pending[pool.submit(_stage_task, weights_dir, stage, ladder, folder)] = (stage, "stage", None)
        parts_left = {stage: len(stage_shapes(stage, ladder)) for stage in SPLIT_STAGES}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                stage, kind, name = pending.pop(future)
                result = future.result()
                busy[stage] += result.get("seconds", 0.0)
                fig = figures[stage]
                if kind == "stage":
                    fig.update(result)
                elif kind == "part":
                    fig.setdefault("max_rel_error", {}).update(result["max_rel_error"])
                    fig["seconds_lowering"] = fig.get("seconds_lowering", 0.0) + result["seconds_lowering"]
                    fig["peak_rss_mb"] = max(fig.get("peak_rss_mb", 0.0), result["peak_rss_mb"])
                    parts_left[stage] -= 1
                    if not parts_left[stage]:
                        pending[pool.submit(_merge_task, stage, ladder, folder)] = (stage, "merge", None)
                elif kind == "merge":
                    fig.update(bytes=result["bytes"], lstm_loops=0, merge=result)
                    _log_converted(stage, {**fig, "seconds": busy[stage]}, len(stage_shapes(stage, ladder)), log)
                    for precision in _precisions(stage):
                        pending[pool.submit(_quantize_task, weights_dir, stage, ladder, folder, precision)] = (
                            stage, "quantize", precision)
                else:
                    fig.setdefault("variants", {})[name] = result["file"]
                    fig.setdefault("variants_peak_rss_mb", {})[name] = result["peak_rss_mb"]
                    fig["peak_rss_mb"] = max(fig["peak_rss_mb"], result["peak_rss_mb"])
        result_facts = facts.result()
    for stage in SPLIT_STAGES:
        figures[stage]["variants"] = {**{p: f for p, f in _same_as_files(stage).items()},
                                      **figures[stage].get("variants", {})}
        figures[stage]["seconds"] = busy[stage]
    figures["peak_all_processes"] = sampler.stop()
    shutil.rmtree(Path(folder) / WORK_FOLDER)
    return figures, result_facts


def _precisions(stage: str) -> list[str]:
    from kokoro_litert.convert.quantize import PRECISIONS, SAME_AS

    return [p for p in PRECISIONS if (stage, p) not in SAME_AS]


def _same_as_files(stage: str) -> dict[str, str]:
    from kokoro_litert.convert.quantize import PRECISIONS, SAME_AS

    return {p: FILES[stage] if SAME_AS[stage, p] == "fp32" else f"{stage}.{SAME_AS[stage, p]}.tflite"
            for p in PRECISIONS if (stage, p) in SAME_AS}


class _MemorySampler:
    """What the conversion's processes (parent and workers) held at once, sampled twice a second:
    the largest sum of their proportional set sizes (PSS: a page shared by n processes counts 1/n
    in each, so the ~250 MB of library code every worker maps counts once), and the largest sum of
    their RSS (which counts those pages once per worker). Summing each worker's own peak over-counts
    either way: the workers peak at different times."""

    def __init__(self):
        import threading

        self.peak_kb = {"Pss:": 0, "Rss:": 0}
        self.stopped, self.thread = threading.Event(), None

    def start(self, pool) -> None:
        import threading

        def sample():
            while not self.stopped.wait(0.5):
                pids = [os.getpid(), *list(getattr(pool, "_processes", None) or {})]
                total = dict.fromkeys(self.peak_kb, 0)
                for pid in pids:
                    try:
                        with open(f"/proc/{pid}/smaps_rollup") as f:
                            for line in f:
                                key, value = line.split()[:2]
                                if key in total:
                                    total[key] += int(value)
                    except (OSError, ValueError):
                        pass
                for key, kb in total.items():
                    self.peak_kb[key] = max(self.peak_kb[key], kb)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()

    def stop(self) -> dict[str, float]:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()
        return {"pss_mb": self.peak_kb["Pss:"] / 1024, "rss_mb": self.peak_kb["Rss:"] / 1024}


def write_voices(voices_dir: Path, path: Path) -> tuple[str, ...]:
    """Every .bin voice of the cache's voices/ into one voices.bin (sorted by name); return the names."""
    files = sorted(Path(voices_dir).glob("*.bin"))
    if not files:
        from kokoro_litert.runtime.errors import KokoroError

        raise KokoroError(f"No voices in {voices_dir}.", "Run `kokoro-litert fetch` first.")
    with open(path, "wb") as out:
        for f in files:
            data = f.read_bytes()
            if len(data) != VOICE_BYTES:
                raise ValueError(f"{f} has {len(data)} bytes, a voice has {VOICE_BYTES}: fetch the voices again")
            out.write(data)
    return tuple(f.stem for f in files)


def _sha256(path: Path) -> str:
    from kokoro_litert.runtime.cache import sha256_file

    return sha256_file(path)


def convert_bundles(weights_dir: str | os.PathLike, out_dir: str | os.PathLike, ladder: Ladder = DEFAULT_LADDER,
                    jobs: int | None = None, log=_stderr, voices_dir: str | os.PathLike | None = None) -> Manifest:
    """Convert the three stages at every shape of `ladder` into out_dir; return the manifest.

    jobs: worker processes (default `default_jobs()`).
    voices_dir: the .bin voices to bundle (default: the `voices/` beside weights_dir).
    out_dir is replaced only when everything is converted (temporary sibling folder + rename).
    """
    weights_dir, out_dir = Path(weights_dir), Path(out_dir)
    voices_dir = Path(voices_dir) if voices_dir else weights_dir.parent / "voices"
    jobs = jobs or default_jobs()
    sha = checkpoint_sha256(weights_dir)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".part"))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; the bundle folder is an ordinary one
    start = time.perf_counter()
    jobs = max(1, min(jobs, 2))
    log(f"converting {', '.join(STAGES)} for {len(ladder.buckets)} bucket(s) and {len(ladder.vocoder_frames)} "
        f"vocoder size(s) in {jobs} worker(s) (logs: {out_dir.name}/conversion-*.log)")
    try:
        figures, (sine_weight, sine_bias, vocab) = _run_conversion(str(weights_dir), ladder, str(tmp), jobs, log)
        voices = write_voices(voices_dir, tmp / VOICES_FILE)
        from kokoro_litert.runtime.text import export_lexicon

        lexicons = {lang: f"lexicon-{lang}.tsv" for lang in ("a", "b")}
        for lang, name in lexicons.items():
            export_lexicon(tmp / name, lang)
        precisions = {"fp32": dict(FILES)}
        for stage in STAGES:
            for precision, name in figures[stage]["variants"].items():
                precisions.setdefault(precision, dict(FILES))[stage] = name
        names = sorted({n for files in precisions.values() for n in files.values()} | {VOICES_FILE}
                       | set(lexicons.values()))
        specs = {stage: read_signatures(tmp / FILES[stage]) for stage in STAGES}
        manifest = Manifest(
            converter_version=CONVERTER_VERSION,
            checkpoint_sha256=sha,
            precisions=precisions,
            default_precision=DEFAULT_PRECISION if DEFAULT_PRECISION in precisions else "fp32",
            sha256={name: _sha256(tmp / name) for name in names},
            buckets=ladder.buckets,
            vocoder_frames=ladder.vocoder_frames,
            signatures=specs,
            dsp=dsp_constants(),
            sine_source_weight=sine_weight,
            sine_source_bias=sine_bias,
            vocab=vocab,
            voices=voices,
            lexicons=lexicons,
            versions=_versions(),
        )
        manifest.save(tmp / "manifest.json")
        Manifest.load(tmp)  # what was written reads back
        figures["wall_seconds"] = time.perf_counter() - start
        figures["jobs"] = jobs
        (tmp / "conversion.json").write_text(json.dumps(figures, indent=1) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"bundles in {out_dir}: {figures['wall_seconds']:.0f} s wall with {jobs} worker(s); peak RSS of a worker "
        + ", ".join(f"{s} {figures[s]['peak_rss_mb']:.0f} MB" for s in STAGES)
        + f"; all processes together held at most {figures['peak_all_processes']['pss_mb']:.0f} MB (PSS; RSS summed "
        + f"{figures['peak_all_processes']['rss_mb']:.0f} MB, sampled every 0.5 s)"
        + f"; {sum((out_dir / n).stat().st_size for n in names) / 1e6:.0f} MB in all")
    return manifest


TWO_WORKERS_BYTES = 6 * 1024**3
"""Memory available from which conversion runs two workers: measured 3.2 GB held by all processes at
once with two (3.6 GB of RSS summed), 7.0 min on 2 cores; with one, its largest task peaks at 2.3 GB,
~12 min."""


def default_jobs() -> int:
    """Two conversion workers where there are two cores and room for them, else one."""
    try:
        with open("/proc/meminfo") as f:
            available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return 1
    return 2 if (os.cpu_count() or 1) >= 2 and available >= TWO_WORKERS_BYTES else 1


def cached_bundles(weights_dir: str | os.PathLike, cache_dir: str | os.PathLike, ladder: Ladder = DEFAULT_LADDER,
                   jobs: int | None = None, log=_stderr) -> Path:
    """The converted bundle folder for these weights and ladder, converting on first use (jobs:
    worker processes, default `default_jobs()`)."""
    out = Path(cache_dir) / "bundles" / cache_key(checkpoint_sha256(Path(weights_dir)), ladder)
    if not (out / "manifest.json").is_file():
        convert_bundles(weights_dir, out, ladder, jobs=jobs, log=log, voices_dir=Path(cache_dir) / "voices")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, help="folder with kokoro-v1_0.pth + config.json "
                        "(default: the cache's weights/)")
    parser.add_argument("--out", type=Path, help="output folder (default: the cache's bundles/<key>)")
    parser.add_argument("--ladder", default=DEFAULT_LADDER.spec, help="buckets;vocoder frames (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes, 1 or 2 (default: 2 with 2+ cores "
                        "and 6 GB available)")
    args = parser.parse_args(argv)
    from kokoro_litert.runtime.cache import cache_root

    weights = args.weights or cache_root() / "weights"
    ladder = parse_ladder(args.ladder)
    if args.out:
        convert_bundles(weights, args.out, ladder, jobs=args.jobs)
        print(args.out)
    else:
        print(cached_bundles(weights, cache_root(), ladder, jobs=args.jobs))


if __name__ == "__main__":
    main()
