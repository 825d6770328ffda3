"""Measures shared by tests/test_aarch64.py and tests/aarch64/bench.py, on stages.py traces (npz)."""

from __future__ import annotations

import numpy as np


def spectrogram_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of |STFT| (scipy.signal.stft, 1200-sample window, 900 overlap): the measure
    tests/test_bundles.py uses against PyTorch, so the figures compare."""
    from scipy.signal import stft

    _, _, za = stft(a, nperseg=1200, noverlap=900)
    _, _, zb = stft(b, nperseg=1200, noverlap=900)
    return float(np.corrcoef(np.abs(za).ravel(), np.abs(zb).ravel())[0, 1])


def relative_error(reference: np.ndarray, value: np.ndarray) -> float:
    """max |value - reference| / max |reference|."""
    scale = float(np.abs(reference).max())
    return float(np.abs(value - reference).max()) / (scale if scale > 0 else 1.0)


def stage_errors(x86, arm, n: int) -> dict[str, float]:
    """stage/output -> worst relative error of ARM's replayed outputs over the sentences."""
    worst: dict[str, float] = {}
    for i in range(n):
        prefix = f"{i}/replay/"
        for key in arm.files:
            if key.startswith(prefix):
                name = key[len(prefix):]
                worst[name] = max(worst.get(name, 0.0), relative_error(x86[f"{i}/free/{name}"], arm[key]))
    return worst


def compare_durations(x86, arm, n: int, ids: list[str]) -> dict:
    """Rounded durations of the free runs: how many sentences agree, and for each that does not,
    the tokens that differ with both hosts' raw (unrounded) values; the worst raw difference."""
    differing = []
    for i in range(n):
        dx, da = x86[f"{i}/free/durations"], arm[f"{i}/free/durations"]
        if not np.array_equal(dx, da):
            where = np.flatnonzero(dx != da) if dx.shape == da.shape else []
            differing.append({"id": ids[i], "tokens": [int(t) for t in where],
                              "x86_raw": [float(x86[f"{i}/free/durations_raw"][t]) for t in where],
                              "arm_raw": [float(arm[f"{i}/free/durations_raw"][t]) for t in where]})
    raw = max(float(np.abs(x86[f"{i}/free/durations_raw"] - arm[f"{i}/free/durations_raw"]).max()) for i in range(n))
    return {"sentences": n, "identical": n - len(differing), "differing": differing, "max_raw_difference": raw}
