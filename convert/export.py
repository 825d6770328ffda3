"""Convert the three stages to LiteRT: predictor.tflite, prosody.tflite, vocoder.tflite + manifest.json.

One .tflite per stage, one signature per bucket shape (weights stored once per file):

    predictor.tflite  tokens_{T}            input_ids, style, token_mask -> durations, d, t_en
    prosody.tflite    tokens_{T}_frames_{L} d, t_en, alignment, style, frame_mask -> asr, f0, n
    vocoder.tflite    frames_{L}            asr, f0, n, style, har, frame_mask -> magnitude, phase

Inputs and outputs are fed and read by name (litert-torch sorts signature I/O alphabetically); the
manifest records the names, shapes and dtypes as read back from the written files. Converted
bundles are cached under `<cache>/bundles/<key>/`, key = checkpoint sha256 + CONVERTER_VERSION +
ladder, written to a temporary folder and renamed into place when complete.

    python -m kokoro_litert.convert.export [--out DIR] [--ladder 32x128,64x256,128x512] [--jobs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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
from kokoro_litert.buckets.ladder import F0_PER_FRAME, LADDER, STFT_FRAMES_PER_FRAME, Bucket, parse_ladder
from kokoro_litert.buckets.manifest import STAGES, BucketSpec, Manifest, SignatureSpec, TensorSpec

# Bump whenever stages.py, the blocks it swaps in, or the conversion settings change what a
# bundle computes: it is part of the cache key, so stale bundles are never reused.
CONVERTER_VERSION = "0.1.0+stages.3"

FILES = {stage: f"{stage}.tflite" for stage in STAGES}
# precision -> the stage files that differ from the float32 FILES (see convert/quantize.py).
VARIANTS = {"int8": {"vocoder": "vocoder.int8.tflite"}}
HIDDEN_DIM = 512  # config.json hidden_dim: t_en / asr channels
D_DIM = HIDDEN_DIM + STYLE_DIM // 2  # 640: duration-encoder features, hidden + prosody style


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


def cache_key(sha256: str, ladder: tuple[Bucket, ...]) -> str:
    """Folder name of a converted bundle: checkpoint hash, converter version, bucket ladder."""
    buckets = "-".join(b.name for b in sorted(ladder))
    return f"{sha256[:16]}-v{CONVERTER_VERSION}-{buckets}"


def sample_inputs(stage: str, bucket: Bucket) -> dict:
    """Tracing inputs of a stage at a bucket's shape (values are realistic but do not matter)."""
    import torch

    T, L = bucket.tokens, bucket.frames
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
            "har": torch.randn(1, 2 * N_FREQ, bucket.stft_frames, generator=gen),
            "frame_mask": frame_mask,
        }
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")


def signature_names(stage: str, bucket: Bucket) -> str:
    return {"predictor": bucket.predictor_signature, "prosody": bucket.prosody_signature,
            "vocoder": bucket.vocoder_signature}[stage]


def _stage_buckets(stage: str, ladder: tuple[Bucket, ...]) -> dict[str, Bucket]:
    """signature name -> a bucket with that shape (predictor: one per T, vocoder: one per L)."""
    out = {}
    for bucket in sorted(ladder):
        out.setdefault(signature_names(stage, bucket), bucket)
    return out


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def read_signatures(path: Path) -> dict[str, SignatureSpec]:
    """Signature name -> I/O names, shapes, dtypes, as the LiteRT interpreter sees the file."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    specs = {}
    for name in interp.get_signature_list():
        runner = interp.get_signature_runner(name)

        def tensors(details: dict) -> dict[str, TensorSpec]:
            return {k: TensorSpec(tuple(int(s) for s in v["shape"]), v["dtype"].__name__)
                    for k, v in sorted(details.items())}

        specs[name] = SignatureSpec(name, tensors(runner.get_input_details()), tensors(runner.get_output_details()))
    return specs


def convert_stage(stage: str, module, ladder: tuple[Bucket, ...], path: Path, log=print) -> dict:
    """Convert one stage module at every shape of the ladder into one .tflite; return figures."""
    import litert_torch

    start = time.perf_counter()
    converter = None
    for name, bucket in _stage_buckets(stage, ladder).items():
        kwargs = sample_inputs(stage, bucket)
        if converter is None:
            converter = litert_torch.signature(name, module, sample_kwargs=kwargs)
        else:
            converter = converter.signature(name, module, sample_kwargs=kwargs)
    edge = converter.convert()
    edge.export(str(path))
    figures = {"seconds": time.perf_counter() - start, "peak_rss_mb": _peak_rss_mb(),
               "bytes": path.stat().st_size, "max_rel_error": verify_stage(stage, module, ladder, path)}
    worst = max(figures["max_rel_error"].items(), key=lambda kv: kv[1])
    log(f"{stage}: {', '.join(_stage_buckets(stage, ladder))} converted in {figures['seconds']:.1f} s, "
        f"{figures['bytes'] / 1e6:.1f} MB, peak RSS so far {figures['peak_rss_mb']:.0f} MB; "
        f"worst error vs PyTorch {worst[1]:.1e} ({worst[0]})")
    return figures


def verify_stage(stage: str, module, ladder: tuple[Bucket, ...], path: Path) -> dict[str, float]:
    """Run every signature of the written file on its tracing inputs against the PyTorch module.

    Returns {"signature/output": max |tflite - torch| / max |torch|}. A sanity check of the
    conversion itself (NOTES.md: a miscompile can be silent); the tests compare on real inputs.
    """
    import numpy as np
    import torch
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    errors = {}
    for name, bucket in _stage_buckets(stage, ladder).items():
        kwargs = sample_inputs(stage, bucket)
        with torch.no_grad():
            expected = {k: v.numpy() for k, v in module(**kwargs).items()}
        got = interp.get_signature_runner(name)(**{k: v.numpy() for k, v in kwargs.items()})
        for k, v in expected.items():
            scale = max(float(np.abs(v).max()), 1e-12)
            errors[f"{name}/{k}"] = float(np.abs(got[k] - v).max()) / scale
    return errors


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"converter": CONVERTER_VERSION}
    for pkg in ("kokoro-litert", "kokoro", "torch", "litert-torch", "ai-edge-litert"):
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


def _convert_stage_job(weights_dir: str, stage: str, ladder: tuple[Bucket, ...], path: str) -> dict:
    """Load the checkpoint, build and fold one stage, convert it (runs in a worker process)."""
    import torch

    from kokoro_litert.convert.checkpoint import load_model
    from kokoro_litert.convert.stages import Predictor, Prosody, Vocoder, fold_weight_norm

    kmodel = load_model(Path(weights_dir))
    cls = {"predictor": Predictor, "prosody": Prosody, "vocoder": Vocoder}[stage]
    module = fold_weight_norm(cls(kmodel).eval())
    del kmodel
    with torch.no_grad():
        figures = convert_stage(stage, module, ladder, Path(path))
        if stage == "vocoder":
            figures["int8"] = _quantize_vocoder(module, ladder, Path(path))
    return figures


def _quantize_vocoder(module, ladder: tuple[Bucket, ...], path: Path, log=print) -> dict:
    from kokoro_litert.convert.quantize import quantize_vocoder, residual_conv_widths

    widths, count = residual_conv_widths(module)
    int8_path = path.with_name(VARIANTS["int8"]["vocoder"])
    figures = quantize_vocoder(path, int8_path, widths, count)
    figures["max_rel_error"] = verify_stage("vocoder", module, ladder, int8_path)
    worst = max(figures["max_rel_error"].items(), key=lambda kv: kv[1])
    log(f"vocoder int8: {figures['int8_convs']} residual convs quantized in {figures['seconds']:.1f} s, "
        f"{figures['bytes'] / 1e6:.1f} MB; worst error vs PyTorch {worst[1]:.1e} ({worst[0]})")
    return figures


def convert_bundles(weights_dir: str | os.PathLike, out_dir: str | os.PathLike,
                    buckets: tuple[Bucket, ...] = LADDER, jobs: int = 1, log=print) -> Manifest:
    """Convert the three stages at every bucket of `buckets` into out_dir; return the manifest.

    jobs > 1 converts the stages in that many worker processes at once (conversion is mostly
    single-threaded; each worker's peak RSS is then that stage's own). out_dir is replaced only
    when everything is converted (temporary sibling folder + rename).
    """
    from kokoro_litert.convert.checkpoint import load_model

    weights_dir, out_dir = Path(weights_dir), Path(out_dir)
    ladder = tuple(sorted(set(buckets)))
    if not ladder:
        raise ValueError("no buckets to convert")
    sha = checkpoint_sha256(weights_dir)
    l_linear = load_model(weights_dir).decoder.generator.m_source.l_linear

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".part"))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; the bundle folder is an ordinary one
    start = time.perf_counter()
    try:
        args = {stage: (str(weights_dir), stage, ladder, str(tmp / FILES[stage])) for stage in STAGES}
        if jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(min(jobs, len(STAGES)), mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = {stage: pool.submit(_convert_stage_job, *a) for stage, a in args.items()}
                figures = {stage: f.result() for stage, f in futures.items()}
        else:
            figures = {stage: _convert_stage_job(*a) for stage, a in args.items()}
        specs = {stage: read_signatures(tmp / FILES[stage]) for stage in STAGES}
        manifest = Manifest(
            converter_version=CONVERTER_VERSION,
            checkpoint_sha256=sha,
            files=dict(FILES),
            variants={k: dict(v) for k, v in VARIANTS.items()},
            buckets=tuple(
                BucketSpec(b, *(specs[stage][signature_names(stage, b)] for stage in STAGES)) for b in ladder
            ),
            dsp=dsp_constants(),
            sine_source_weight=tuple(float(v) for v in l_linear.weight.detach().reshape(-1)),
            sine_source_bias=float(l_linear.bias.detach().reshape(())),
            versions=_versions(),
            vocab=dict(json.loads((weights_dir / "config.json").read_text(encoding="utf-8"))["vocab"]),
        )
        manifest.save(tmp / "manifest.json")
        figures["wall_seconds"] = time.perf_counter() - start
        (tmp / "conversion.json").write_text(json.dumps(figures, indent=1) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"bundles in {out_dir}: {figures['wall_seconds']:.0f} s wall (jobs={jobs}), peak RSS per stage "
        + ", ".join(f"{s} {figures[s]['peak_rss_mb']:.0f} MB" for s in STAGES))
    return manifest


def cached_bundles(weights_dir: str | os.PathLike, cache_dir: str | os.PathLike,
                   buckets: tuple[Bucket, ...] = LADDER, jobs: int = 1, log=print) -> Path:
    """The converted bundle folder for these weights and buckets, converting on first use."""
    ladder = tuple(sorted(set(buckets)))
    out = Path(cache_dir) / "bundles" / cache_key(checkpoint_sha256(Path(weights_dir)), ladder)
    if not (out / "manifest.json").is_file():
        convert_bundles(weights_dir, out, ladder, jobs=jobs, log=log)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, help="folder with kokoro-v1_0.pth + config.json "
                        "(default: the cache's weights/)")
    parser.add_argument("--out", type=Path, help="output folder (default: the cache's bundles/<key>)")
    parser.add_argument("--ladder", default=",".join(f"{b.tokens}x{b.frames}" for b in LADDER),
                        help="buckets as TOKENSxFRAMES,... (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=1, help="stages converted in parallel processes (1-3)")
    args = parser.parse_args(argv)
    from kokoro_litert.runtime.cache import cache_root

    weights = args.weights or cache_root() / "weights"
    ladder = parse_ladder(args.ladder)
    if args.out:
        convert_bundles(weights, args.out, ladder, jobs=args.jobs)
    else:
        print(cached_bundles(weights, cache_root(), ladder, jobs=args.jobs))


if __name__ == "__main__":
    main()
