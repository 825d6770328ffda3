"""Audio out: float samples in [-1, 1] -> 16-bit PCM, as a WAV file (written atomically) or raw."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

from kokoro_litert.buckets import SAMPLE_RATE

from .cache import atomic_write
from .errors import KokoroError


def to_pcm16(samples: np.ndarray) -> bytes:
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    path = Path(path)
    if path.is_dir():
        raise KokoroError(f"Output path {path} is a directory.", "Pass a file name such as out.wav.")
    with atomic_write(path) as f:
        with wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(to_pcm16(samples))


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise KokoroError(f"{path} is not 16-bit mono PCM.", "Pass a WAV written by kokoro-litert.")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.astype(np.float32) / 32767.0, w.getframerate()


def write_pcm_stdout(samples: np.ndarray) -> None:
    sys.stdout.buffer.write(to_pcm16(samples))
    sys.stdout.buffer.flush()


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
