"""The LiteRT bundles as a synthesis backend for `runtime.api.Kokoro` (torch-free)."""

from __future__ import annotations

import os
import time
from collections import defaultdict

import numpy as np

from kokoro_litert.buckets.ladder import NoBucketError

from .backend import ChunkTooLong, Synthesis
from .bundle import Bundle
from .cache import cache_root
from .errors import KokoroError
from .pipeline import Excitation, SineSource, synthesize
from .gpu import ACCELERATORS, GPU_STAGES
from .runner import StageRunner, WeightCache, return_freed_memory
from .vocab import phoneme_ids
from .voices import style_for


class LiteRTBackend:
    """Phonemes + voice pack -> audio through a bundle folder's predictor, prosody and vocoder.

    `stage_times` accumulates seconds per stage (and "host" for the numpy DSP between them), for
    `kokoro-litert bench`.
    """

    def __init__(self, bundle: Bundle | str | os.PathLike, threads: int | None = None, precision: str | None = None,
                 weight_cache: bool = True, release_idle_weights: bool = True, accelerator: str = "cpu",
                 gpu_float32: bool = False):
        """accelerator: "cpu" (every stage on XNNPACK) or "gpu" (the vocoder on LiteRT's GPU
        accelerator, the rest on the CPU; falls back to the CPU with one warning line where no GPU
        can be created). On the GPU the vocoder computes in float16 (the GPU's default, as on
        phones) but for its head (conv_post, exp, sin: runner.split_head), which a second GPU
        model computes in float32; gpu_float32: all of it in float32."""
        if accelerator not in ACCELERATORS:
            raise KokoroError(f"unknown accelerator {accelerator!r}.", f"Choose one of: {', '.join(ACCELERATORS)}.")
        return_freed_memory()
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle.open(bundle)
        manifest = self.bundle.manifest
        self.precision = precision or manifest.default_precision
        self.accelerator = accelerator
        files = self.bundle.files(self.precision)
        cache = WeightCache(self.bundle.folder, manifest, cache_root() / "xnnpack") if weight_cache else None
        gpu_stages = GPU_STAGES[accelerator]
        # Single-signature copies of the GPU stages' graphs (runner.extract_signature), made once.
        gpu_folder = None
        if gpu_stages:
            gpu_folder = WeightCache.writable(self.bundle.folder / ".gpu") or WeightCache.writable(cache_root() / "gpu")
        # release_idle_weights=False keeps every stage's weights resident: ~140 MB more at the peak,
        # 3-4% less time (no page re-mapping between stages; see runtime/runner.py).
        self.runner = StageRunner(self.bundle.folder, manifest, files, threads or os.cpu_count() or 1, cache,
                                  release_idle_weights, gpu_stages=gpu_stages, gpu_float32=gpu_float32,
                                  gpu_folder=gpu_folder)
        self.vocab = manifest.vocab
        # A folder with a GPU variant of the vocoder runs it at that variant's sizes (a larger size
        # is exact: the vocoder masks padded frames), on the CPU too if no GPU can be created.
        self.ladder = (gpu_stages and manifest.gpu_ladder()) or manifest.ladder
        self.source = SineSource(np.asarray(manifest.sine_source_weight, np.float32), manifest.sine_source_bias)
        self.max_phonemes = self.ladder.max_phonemes
        self.stage_times: dict[str, float] = defaultdict(float)

    def _timed_run(self, stage: str, signature: str, **inputs):
        t0 = time.perf_counter()
        out = self.runner.run(stage, signature, **inputs)
        self.stage_times[stage] += time.perf_counter() - t0
        return out

    def synthesize(self, phonemes: str, voice_pack: np.ndarray, speed: float = 1.0, seed: int = 0,
                   excitation: Excitation | None = None, durations: np.ndarray | None = None,
                   trace: dict | None = None) -> Synthesis:
        ids = phoneme_ids(phonemes, self.vocab)
        t0 = time.perf_counter()
        before = sum(self.stage_times.values())
        try:
            out = synthesize(self._timed_run, self.ladder, self.source, ids, style_for(voice_pack, len(phonemes)),
                             speed, seed, excitation, durations, trace)
        except NoBucketError as e:
            raise ChunkTooLong(str(e)) from e
        self.stage_times["host"] += time.perf_counter() - t0 - (sum(self.stage_times.values()) - before)
        return out

    def warm_up(self, stages=("predictor", "prosody", "vocoder"), repeat: bool = False) -> dict[str, float]:
        """Run every signature once (model creation, weight cache, first-call planning); return
        {"stage/signature": seconds} of these calls, all frames real. repeat: run each signature a
        second time right away and time that call instead (warm, no model re-creation in it)."""
        rng = np.random.default_rng(0)
        seconds = {}
        for stage in stages:
            for name, spec in self.bundle.manifest.signatures[stage].items():
                inputs = random_inputs(spec, rng)
                for _ in range(2 if repeat else 1):
                    start = time.perf_counter()
                    self.runner.run(stage, name, **inputs)
                    seconds[f"{stage}/{name}"] = round(time.perf_counter() - start, 4)
        return seconds


def random_inputs(spec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Inputs for a signature with every step real: noise, not zeros (int8 kernels scale by range)."""
    inputs = {k: rng.standard_normal(t.shape, dtype=np.float32) if t.dtype == "float32" else np.zeros(t.shape, t.dtype)
              for k, t in spec.inputs.items()}
    for mask in {"token_mask", "frame_mask"} & set(inputs):
        inputs[mask][:] = 1
    return inputs
