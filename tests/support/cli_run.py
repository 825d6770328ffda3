"""Running `kokoro-litert` in a subprocess for the CLI tests, and reading what it wrote.

Every run gets the test cache through both `--cache-dir` and $KOKORO_LITERT_CACHE, and the tests
always pass `--bundles` for the LiteRT backend, so a CLI test never converts the full ladder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

CLI = [sys.executable, "-m", "kokoro_litert.runtime.cli"]


def cli_env(cache_dir: Path) -> dict[str, str]:
    return {**os.environ, "KOKORO_LITERT_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def say_args(cache_dir: Path, *args, bundles: Path | None = None) -> list[str]:
    """`say ARGS --cache-dir CACHE [--bundles B]`; bundles must be given for the LiteRT backend."""
    extra = ["--bundles", str(bundles)] if bundles is not None else []
    return ["say", *map(str, args), "--cache-dir", str(cache_dir), *extra]


def run_cli(args: list[str], cache_dir: Path, timeout: float = 1800, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], check=False, env=cli_env(cache_dir), capture_output=True, text=True,
                          timeout=timeout, **kw)


def stderr_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit mono 24 kHz WAV as float32 in [-1, 1]."""
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
