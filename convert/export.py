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
    STYLE_DIM,
    VOICED_THRESHOLD,
)
from kokoro_litert.buckets.ladder import (
    DEFAULT_LADDER,
    F0_PER_FRAME,
    STFT_FRAMES_PER_FRAME,
    Bucket,
    Ladder,
    parse_ladder,
    stft_frames,
    vocoder_signature,
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

# Bump whenever stages.py, the blocks it swaps in, or the conversion settings change what a
# bundle computes: it is part of the cache key, so stale bundles are never reused.
CONVERTER_VERSION = "0.3.0+stages.14"

FILES = {stage: f"{stage}.tflite" for stage in STAGES}
HIDDEN_DIM = 512  # config.json hidden_dim: t_en / asr channels
D_DIM = HIDDEN_DIM + STYLE_DIM // 2  # 640: duration-encoder features, hidden + prosody style

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


def stage_shapes(stage: str, ladder: Ladder) -> dict[str, tuple[int, int]]:
    """signature name -> (tokens, frames) it is traced at (0 where the stage has no such axis)."""
    if stage == "predictor":
        return {Bucket(t, 0).predictor_signature: (t, 0) for t in ladder.token_sizes}
    if stage == "prosody":
        return {b.prosody_signature: (b.tokens, b.frames) for b in ladder.buckets}
    if stage == "vocoder":
        return {vocoder_signature(f): (0, f) for f in ladder.vocoder_frames}
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")


def sample_inputs(stage: str, tokens: int, frames: int) -> dict:
    """Tracing inputs of a stage at one shape (values are realistic but do not matter)."""
    import torch

    T, L = tokens, frames
    gen = torch.Generator().manual_seed(0)
    style = torch.randn(1, STYLE_DIM, generator=gen) * 0.2
    if stage == "predictor":
        n = max(2, T // 2)
        ids = torch.zeros(1, T, dtype=torch.int32)
        ids[0, 1 : n - 1] = torch.randint(1, 170, (n - 2,), generator=gen, dtype=torch.int32)
        mask = (torch.arange(T) < n).float()[None]
        return {"input_ids": ids, "style": style, "token_mask": mask}
    frame_mask = (torch.arange(L) < L // 2).float()[None]
    if stage == "prosody":
        alignment = torch.zeros(1, T, L)
        alignment[0, torch.arange(L // 2) % max(1, T // 2), torch.arange(L // 2)] = 1
        return {
            "d": torch.randn(1, T, D_DIM, generator=gen),
            "t_en": torch.randn(1, HIDDEN_DIM, T, generator=gen),
            "alignment": alignment,
            "style": style,
            "frame_mask": frame_mask,
        }
    if stage == "vocoder":
        return {
            "asr": torch.randn(1, HIDDEN_DIM, L, generator=gen),
            "f0": 200 + 20 * torch.randn(1, F0_PER_FRAME * L, generator=gen),
            "n": torch.randn(1, F0_PER_FRAME * L, generator=gen),
            "style": style,
            "har": torch.randn(1, 2 * N_FREQ, stft_frames(L), generator=gen),
            "frame_mask": frame_mask,
        }
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


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


SIGNATURES_PER_CONVERSION = {"vocoder": 2}
"""litert-torch lowers all signatures of one conversion in one MLIR module: the vocoder's ten frame
sizes at once peaked at 4.0 GB, three at a time (then merged, convert/merge.py) at 3.0 GB."""


def convert_stage(stage: str, module, ladder: Ladder, path: Path, log=_stderr) -> dict:
    """Convert one stage module at every shape of the ladder into one .tflite; return figures."""
    import litert_torch

    from kokoro_litert.convert.merge import merge_tflite
    from kokoro_litert.convert.tfl_ops import expand_sequence_lstms, register_lowering

    register_lowering()
    start = time.perf_counter()
    shapes = list(stage_shapes(stage, ladder).items())
    step = SIGNATURES_PER_CONVERSION.get(stage, len(shapes))
    groups = [shapes[i : i + step] for i in range(0, len(shapes), step)]
    parts, loops = [], 0
    for g, group in enumerate(groups):
        converter = None
        for name, shape in group:
            kwargs = sample_inputs(stage, *shape)
            if converter is None:
                converter = litert_torch.signature(name, module, sample_kwargs=kwargs)
            else:
                converter = converter.signature(name, module, sample_kwargs=kwargs)
        names = ", ".join(name for name, _ in group)
        log(f"  {stage}: lowering {names} to LiteRT" + (f" (part {g + 1}/{len(groups)})" if len(groups) > 1 else ""))
        part = path if len(groups) == 1 else path.with_name(f".{path.stem}.part{g}.tflite")
        converter.convert().export(str(part))
        del converter
        loops += expand_sequence_lstms(part)
        parts.append(part)
    if len(parts) > 1:
        log(f"  {stage}: merging {len(parts)} parts (weights stored once)")
        merge_tflite(parts, path)
        for part in parts:
            part.unlink()
    log(f"  {stage}: checking every signature against PyTorch")
    figures = {"seconds": time.perf_counter() - start, "bytes": path.stat().st_size, "lstm_loops": loops,
               "max_rel_error": verify_stage(stage, module, ladder, path)}
    figures["peak_rss_mb"] = _peak_rss_mb()
    worst = max(figures["max_rel_error"].items(), key=lambda kv: kv[1])
    log(f"{stage}: {len(shapes)} signature(s) converted in {figures['seconds']:.0f} s ({loops} LSTM loops), "
        f"{figures['bytes'] / 1e6:.1f} MB, worker peak RSS {figures['peak_rss_mb']:.0f} MB; "
        f"worst error vs PyTorch {worst[1]:.1e} ({worst[0]})")
    return figures


def verify_stage(stage: str, module, ladder: Ladder, path: Path, only: tuple[str, ...] | None = None) -> dict[str, float]:
    """Run every signature (or those in `only`) of the written file on its tracing inputs against
    the PyTorch module.

    Returns {"signature/output": max |tflite - torch| / max |torch|}. A sanity check of the
    conversion itself (NOTES.md: a miscompile can be silent); the tests compare on real inputs.
    Runs as the runtime does (CompiledModel, one weight cache for all signatures), one signature
    per model instance so that only one activation arena is alive at a time.
    """
    import numpy as np
    import torch
    from ai_edge_litert.compiled_model import CompiledModel

    from kokoro_litert.runtime.runner import StageRunner

    errors = {}
    with tempfile.TemporaryDirectory() as tmp:
        options = StageRunner.options(threads=2, cache_path=str(Path(tmp) / "weights.xnnpack"))
        for name, shape in stage_shapes(stage, ladder).items():
            if only is not None and name not in only:
                continue
            kwargs = sample_inputs(stage, *shape)
            with torch.no_grad():
                expected = {k: v.numpy() for k, v in module(**kwargs).items()}
            model = CompiledModel.from_file(str(path), options=options)
            index = model.get_signature_index(name)
            order = model.get_signature_list()[name]
            inputs, outputs = model.create_input_buffers(index), model.create_output_buffers(index)
            for key, buffer in zip(order["inputs"], inputs):
                buffer.write(np.ascontiguousarray(kwargs[key].numpy()))
            model.run_by_index(index, inputs, outputs)
            for key, buffer in zip(order["outputs"], outputs):
                v = expected[key]
                got = buffer.read(v.size, np.float32).reshape(v.shape)
                errors[f"{name}/{key}"] = float(np.abs(got - v).max()) / max(float(np.abs(v).max()), 1e-12)
            del model, inputs, outputs, expected
    return errors


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


def _build_stage(weights_dir: Path, stage: str):
    from kokoro_litert.convert.checkpoint import load_model
    from kokoro_litert.convert.stages import Predictor, Prosody, Vocoder, fold_weight_norm

    kmodel = load_model(weights_dir)
    cls = {"predictor": Predictor, "prosody": Prosody, "vocoder": Vocoder}[stage]
    return fold_weight_norm(cls(kmodel).eval())


def _checkpoint_facts(weights_dir: str) -> tuple[tuple[float, ...], float, dict[str, int]]:
    """What the manifest copies from the checkpoint: the sine source's l_linear and the vocab
    (runs in a worker process)."""
    from kokoro_litert.convert.checkpoint import load_model

    kmodel = load_model(Path(weights_dir))
    l_linear = kmodel.decoder.generator.m_source.l_linear
    return (tuple(float(v) for v in l_linear.weight.detach().reshape(-1)), float(l_linear.bias.detach().reshape(())),
            dict(kmodel.vocab))


def _convert_stages_job(weights_dir: str, stages: tuple[str, ...], ladder: Ladder, folder: str) -> dict:
    """Build, convert and quantize `stages` one after another (runs in a worker process).

    Library output (litert-torch's progress, the MLIR converter's C++ logs) goes to
    conversion-<stage>.log in `folder`; this job's own progress lines go to the parent's stderr.
    """
    import torch

    from kokoro_litert.convert.quantize import quantize_stage

    os.environ["LITERT_TORCH_SHOW_PROGRESS"] = "n"
    progress = os.fdopen(os.dup(2), "w", buffering=1)
    log = lambda msg: print(msg, file=progress, flush=True)  # noqa: E731
    figures = {}
    try:
        for stage in stages:
            with open(Path(folder) / f"conversion-{stage}.log", "w") as library_log:
                sys.stdout.flush(), sys.stderr.flush()
                saved = os.dup(1), os.dup(2)
                os.dup2(library_log.fileno(), 1)
                os.dup2(library_log.fileno(), 2)
                try:
                    log(f"{stage}: building from the checkpoint")
                    module = _build_stage(Path(weights_dir), stage)
                    with torch.no_grad():
                        figures[stage] = convert_stage(stage, module, ladder, Path(folder) / FILES[stage], log)
                        figures[stage]["variants"] = quantize_stage(stage, module, ladder, Path(folder), log)
                    del module
                finally:
                    sys.stdout.flush(), sys.stderr.flush()
                    os.dup2(saved[0], 1)
                    os.dup2(saved[1], 2)
                    os.close(saved[0]), os.close(saved[1])
    finally:
        progress.close()
    return figures


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
                    jobs: int = 1, log=_stderr, voices_dir: str | os.PathLike | None = None) -> Manifest:
    """Convert the three stages at every shape of `ladder` into out_dir; return the manifest.

    voices_dir: the .bin voices to bundle (default: the `voices/` beside weights_dir).
    out_dir is replaced only when everything is converted (temporary sibling folder + rename).
    """
    weights_dir, out_dir = Path(weights_dir), Path(out_dir)
    voices_dir = Path(voices_dir) if voices_dir else weights_dir.parent / "voices"
    sha = checkpoint_sha256(weights_dir)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".part"))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; the bundle folder is an ordinary one
    start = time.perf_counter()
    groups = [("vocoder",), ("predictor", "prosody")] if jobs >= 2 else [("predictor", "prosody", "vocoder")]
    log(f"converting {', '.join(STAGES)} for {len(ladder.buckets)} bucket(s) and {len(ladder.vocoder_frames)} "
        f"vocoder size(s) in {len(groups)} worker(s) (logs: {out_dir.name}/conversion-*.log)")
    try:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        figures: dict = {}
        with ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("spawn")) as pool:
            # the parent never imports torch: its memory stays out of the conversion's peak
            facts = pool.submit(_checkpoint_facts, str(weights_dir))
            futures = [pool.submit(_convert_stages_job, str(weights_dir), g, ladder, str(tmp)) for g in groups]
            sine_weight, sine_bias, vocab = facts.result()
            for f in futures:
                figures.update(f.result())
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
        figures["peak_rss_mb_total"] = _children_peak_rss_mb() * len(groups) + _peak_rss_mb()
        (tmp / "conversion.json").write_text(json.dumps(figures, indent=1) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"bundles in {out_dir}: {figures['wall_seconds']:.0f} s wall with {len(groups)} worker(s); peak RSS per "
        "worker " + ", ".join(f"{s} {figures[s]['peak_rss_mb']:.0f} MB" for s in STAGES)
        + f" (all processes together at most {figures['peak_rss_mb_total']:.0f} MB)"
        + f"; {sum((out_dir / n).stat().st_size for n in names) / 1e6:.0f} MB in all")
    return manifest


def _children_peak_rss_mb() -> float:
    """The largest peak RSS of any finished child process (Linux ru_maxrss of RUSAGE_CHILDREN)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def cached_bundles(weights_dir: str | os.PathLike, cache_dir: str | os.PathLike, ladder: Ladder = DEFAULT_LADDER,
                   jobs: int = 1, log=_stderr) -> Path:
    """The converted bundle folder for these weights and ladder, converting on first use."""
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
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (1 or 2)")
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
