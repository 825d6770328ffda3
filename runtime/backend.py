"""The synthesis backend contract: what `Kokoro` asks of the LiteRT bundles and the PyTorch reference.

    backend.max_phonemes                                   the longest chunk it takes
    backend.synthesize(phonemes, voice_pack, speed, seed)  -> Synthesis
    raises ChunkTooLong when the chunk's predicted frames overflow its largest bucket

Backends are not thread-safe; `Kokoro` serializes calls into one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class ChunkTooLong(Exception):
    """The backend's largest bucket cannot hold the chunk's predicted frames: split it and retry."""


@dataclass
class Synthesis:
    """One chunk's audio and the durations that timed it."""

    audio: np.ndarray
    """[n_frames * SAMPLES_PER_FRAME] float32 at SAMPLE_RATE."""
    durations: np.ndarray
    """[tokens] int64 frames per token, boundary pad tokens included (upstream's pred_dur)."""
    durations_raw: np.ndarray
    """[tokens] float32 frames per token before rounding (after the speed division)."""
    shapes: dict[str, str] | None = None
    """stage -> the signature it ran at (LiteRT only), e.g. {"vocoder": "frames_96"}."""


class Backend(Protocol):
    max_phonemes: int

    def synthesize(self, phonemes: str, voice_pack: np.ndarray, speed: float = 1.0, seed: int = 0) -> Synthesis: ...
