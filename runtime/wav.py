"""Audio out: float samples in [-1, 1] -> 16-bit PCM, streamed into a WAV written atomically."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from kokoro_litert.buckets import SAMPLE_RATE

from .cache import atomic_write
from .errors import KokoroError


def to_pcm16(samples: np.ndarray) -> bytes:
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


class WavStream:
    """Append float chunks to a 16-bit mono WAV; the file appears under its name only on success.

        with WavStream("out.wav") as wav:
            for chunk in chunks:
                wav.write(chunk)
    """

    def __init__(self, path: str | Path, sample_rate: int = SAMPLE_RATE):
        self.path = Path(path)
        if self.path.is_dir():
            raise KokoroError(f"Output path {self.path} is a directory.", "Pass a file name such as out.wav.")
        self.sample_rate = sample_rate
        self.samples = 0

    def __enter__(self) -> "WavStream":
        self._file_cm = atomic_write(self.path)
        self._file = self._file_cm.__enter__()
        self._wave = wave.open(self._file, "wb")
        self._wave.setnchannels(1)
        self._wave.setsampwidth(2)
        self._wave.setframerate(self.sample_rate)
        return self

    def write(self, samples: np.ndarray) -> None:
        self._wave.writeframes(to_pcm16(samples))
        self.samples += len(samples)

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self._wave.close()  # patches the header's sizes
        return self._file_cm.__exit__(*exc)
