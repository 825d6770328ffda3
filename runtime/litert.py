"""The converted LiteRT bundles as a synthesis backend for `runtime.api.Kokoro` (torch-free)."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from kokoro_litert.buckets.ladder import NoBucketError
from kokoro_litert.buckets.manifest import DEFAULT_PRECISION

from .api import ChunkTooLong
from .bundles import Bundles, synthesize_with
from .errors import KokoroError
from .vocab import phoneme_ids
from .voices import style_for


class LiteRTBackend:
    """Phonemes + voice pack -> audio through predictor, prosody and vocoder .tflite bundles.

    `stage_times` accumulates seconds per stage (and "host" for the numpy DSP between them), for
    `kokoro-litert bench`.
    """

    def __init__(self, bundles_dir: str | os.PathLike, vocab: dict[str, int] | None = None,
                 threads: int | None = None, precision: str = DEFAULT_PRECISION):
        folder = Path(bundles_dir)
        if not (folder / "manifest.json").is_file():
            raise KokoroError(f"No LiteRT bundles in {folder}.", "Run `kokoro-litert convert` first.")
        self.bundles = Bundles(folder, num_threads=threads or os.cpu_count() or 1, precision=precision)
        self.vocab = vocab or self.bundles.manifest.vocab
        if not self.vocab:
            raise KokoroError(f"{folder}/manifest.json has no phoneme vocabulary.",
                              "Re-run `kokoro-litert convert` with this version to rebuild the bundles.")
        self.max_phonemes = max(b.tokens for b in self.bundles.ladder) - 2  # two boundary pad tokens
        self.stage_times: dict[str, float] = defaultdict(float)

    def _timed_run(self, stage, bucket, **inputs):
        t0 = time.perf_counter()
        out = self.bundles.run(stage, bucket, **inputs)
        self.stage_times[stage] += time.perf_counter() - t0
        return out

    def synthesize(self, phonemes: str, voice_pack: np.ndarray, speed: float = 1.0, seed: int = 0, **pinned):
        ids = phoneme_ids(phonemes, self.vocab)
        manifest = self.bundles.manifest
        t0 = time.perf_counter()
        before = sum(self.stage_times.values())
        try:
            out = synthesize_with(self._timed_run, self.bundles.ladder,
                                  np.asarray(manifest.sine_source_weight, np.float32), manifest.sine_source_bias,
                                  ids, style_for(voice_pack, len(phonemes)), speed, seed, **pinned)
        except NoBucketError as e:
            raise ChunkTooLong(str(e)) from e
        self.stage_times["host"] += time.perf_counter() - t0 - (sum(self.stage_times.values()) - before)
        return out

