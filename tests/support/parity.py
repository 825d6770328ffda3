"""Comparing the converted stages and bundles with PyTorch: errors, excitation, runners, op lists.

Used by tests/test_stages.py, tests/test_bundles.py, tests/test_blocks.py and the parity scripts in
tests/benchmarks. torch is imported where it is needed, so importing this module stays light.
"""

from __future__ import annotations

import contextlib
from unittest import mock

import numpy as np

from kokoro_litert.runtime.pipeline import Excitation

# Real phoneme strings (tests/data heldout_001..003, dev_001) that fit the smallest bucket
# (<= 30 phonemes + 2 boundary pads).
SHORT = ["θˈæŋk juː.", "kˈʌm ɪnsˈaɪd kwˈɪkli.", "wˌɛɹ dˈɪd ðə kˈæt ɡˈoʊ?", "ˈoʊpən ðə wˈɪndoʊ, plˈiːz."]


def rel_err(ours, ref) -> float:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    return float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-12))


def spectrogram_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of |STFT| (scipy.signal.stft, 1200-sample window, 900 overlap)."""
    from scipy.signal import stft as scipy_stft

    _, _, za = scipy_stft(a, nperseg=1200, noverlap=900)
    _, _, zb = scipy_stft(b, nperseg=1200, noverlap=900)
    return float(np.corrcoef(np.abs(za).ravel(), np.abs(zb).ravel())[0, 1])


def torch_runner(stages):
    """run(stage, signature, **inputs) over the PyTorch stages, numpy in and out (pipeline.Runner);
    the PyTorch stages take any shape, so the signature name is not needed."""
    import torch

    predictor, prosody, vocoder = stages
    modules = {"predictor": predictor, "prosody": prosody, "vocoder": vocoder}

    def run(stage, signature, **inputs):
        with torch.no_grad():
            out = modules[stage](**{k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in out.items()}

    return run


@contextlib.contextmanager
def pinned_excitation(excitation: Excitation):
    """Make upstream's SineGen draw exactly `excitation` (torch.rand -> rand_ini, randn_like -> noise).

    SourceModuleHnNSF's own randn_like (the noise branch, shape [1, N, 1]) is discarded by
    Generator.forward; it gets zeros.
    """
    import torch

    rand_ini = torch.from_numpy(excitation.rand_ini.reshape(1, -1).copy())
    noise = torch.from_numpy(excitation.noise[None].copy())

    def rand(*size, **kw):
        return rand_ini.clone()

    def randn_like(x, **kw):
        return noise.clone() if x.shape == noise.shape else torch.zeros_like(x)

    with mock.patch("torch.rand", rand), mock.patch("torch.randn_like", randn_like):
        yield


def random_excitation(n_frames: int, seed: int) -> Excitation:
    from kokoro_litert.buckets import SAMPLES_PER_FRAME
    from kokoro_litert.dsp import N_HARMONICS

    rng = np.random.default_rng(seed)
    return Excitation(rng.random(N_HARMONICS, dtype=np.float32),
                      rng.standard_normal((n_frames * SAMPLES_PER_FRAME, N_HARMONICS), dtype=np.float32))


def tflite_ops(path) -> list[str]:
    """Operator names in a .tflite flatbuffer, custom ops as 'CUSTOM:<customCode>'."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(path)
    names = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            name = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
            if name == "CUSTOM":
                name = "CUSTOM:" + model.operatorCodes[op.opcodeIndex].customCode.decode()
            names.append(name)
    return names
