"""The host pipeline between the three stages: phoneme ids + style -> 24 kHz audio.

Upstream KModel.forward_with_tokens + Generator.forward, split at the host steps:

    predictor  tokens_T               ids, style, token mask -> durations (sum of sigmoids), d, t_en
    host                              round(durations / speed), clamp >= 1 -> alignment [T, L], frame mask
    prosody    tokens_T_frames_L      -> asr, f0, n
    host                              sine source(f0; merge weights from the manifest; seeded) -> STFT -> har
    vocoder    frames_F               (the fewest frames that hold the utterance) -> magnitude, phase
    host                              iSTFT -> audio, n_frames * 600 samples

`synthesize` takes any `run(stage, signature, **inputs) -> outputs` callable, so the same code
drives the .tflite bundles (`runtime.runner.StageRunner`) and, in tests, the PyTorch stages.
Torch-free: numpy and `kokoro_litert.dsp`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from kokoro_litert.buckets import N_FREQ, PAD_TOKEN, SAMPLES_PER_FRAME, STYLE_DIM
from kokoro_litert.buckets.ladder import F0_PER_FRAME, Ladder, stft_frames, vocoder_signature
from kokoro_litert.dsp import (N_HARMONICS, alignment_matrix, excitation_noise, excitation_rand_ini, istft, noise_rows,
                               round_durations, sine_source, stft)

from .backend import Synthesis

Runner = Callable[..., dict]
"""run(stage, signature name, **inputs) -> {output name: array}. An input may be `Donated`."""

HOST_ALIGNMENT = 64
"""LiteRT uses a host-memory buffer in place only if it starts on a 64-byte boundary (otherwise it
binds an aligned copy, and an output written there would never reach the array)."""


class Donated(np.ndarray):
    """An input the caller gives up (as buffer donation in XLA): a runner that has copied it into
    its own input buffer may write the call's outputs into its memory, so the largest vocoder call
    does not hold its 5.4 MB `har` and its 5.4 MB of magnitude and phase at once. The caller must
    not read it after the call. `pool`: the aligned bytes behind it, a little longer than it."""

    pool: np.ndarray | None

    def __array_finalize__(self, obj):
        self.pool = None  # views, copies and results of a donated array are not donated

    @classmethod
    def zeros(cls, shape, dtype) -> "Donated":
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        pool = aligned_zeros(nbytes + 4 * HOST_ALIGNMENT)  # room to align a few outputs
        array = pool[:nbytes].view(dtype).reshape(shape).view(cls)
        array.pool = pool
        return array


def aligned_zeros(nbytes: int) -> np.ndarray:
    """nbytes zero bytes starting on a HOST_ALIGNMENT boundary."""
    raw = np.zeros(nbytes + HOST_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % HOST_ALIGNMENT
    return raw[start:start + nbytes]


@dataclass(frozen=True)
class Excitation:
    """Pinned harmonic-source randomness (upstream's torch.rand / torch.randn_like), for tests."""

    rand_ini: np.ndarray
    """[9] initial harmonic phases in [0, 1)."""
    noise: np.ndarray
    """[n_frames * 600, 9] standard normal."""

    @classmethod
    def from_seed(cls, seed: int, n_frames: int) -> "Excitation":
        """What `synthesize` draws for `seed` (dsp/noise.py: the same on every host)."""
        return cls(*excitation_noise(seed, n_frames * SAMPLES_PER_FRAME, N_HARMONICS))


@dataclass(frozen=True)
class SineSource:
    """The learned 9 -> 1 merge of the harmonic sines (Generator.m_source.l_linear), from the manifest."""

    weight: np.ndarray
    bias: float


def synthesize(run: Runner, ladder: Ladder, source: SineSource, ids: Sequence[int], style: np.ndarray,
               speed: float = 1.0, seed: int = 0, excitation: Excitation | None = None,
               durations: np.ndarray | None = None, trace: dict | None = None) -> Synthesis:
    """The host pipeline around three stage runners (see the module docstring).

    ids: phoneme token ids WITHOUT the boundary pads (added here, as upstream KModel.forward).
    style: the voice pack row [1, 256] or [256] for this utterance's length.
    seed: seeds the excitation (`Excitation.from_seed`); `excitation` pins it explicitly instead.
    durations: impose integer frames per token (boundary pads included) instead of the predicted ones.
    trace: if a dict, every stage's inputs and outputs and every host step's result are stored in
        it (the golden vectors other hosts are checked against).
    Raises NoBucketError when the tokens or the predicted frames overflow the largest bucket.
    """
    tokens = np.array([PAD_TOKEN, *ids, PAD_TOKEN], dtype=np.int32)
    n_tokens = tokens.shape[0]
    style = np.asarray(style, dtype=np.float32).reshape(1, STYLE_DIM)
    record = trace.__setitem__ if trace is not None else (lambda key, value: None)

    first = ladder.pick(n_tokens)
    input_ids = np.zeros((1, first.tokens), dtype=np.int32)
    input_ids[0, :n_tokens] = tokens
    token_mask = np.zeros((1, first.tokens), dtype=np.float32)
    token_mask[0, :n_tokens] = 1
    feed = dict(input_ids=input_ids, style=style, token_mask=token_mask)
    pred = run("predictor", first.predictor_signature, **feed)
    record("predictor", (first.predictor_signature, feed, pred))
    raw = np.asarray(pred["durations"], dtype=np.float32)[0, :n_tokens]
    if durations is None:
        pred_dur = round_durations(raw, speed)
    else:
        pred_dur = np.asarray(durations, dtype=np.int64)
        if pred_dur.shape != (n_tokens,) or np.any(pred_dur < 1):
            raise ValueError(f"durations must be {n_tokens} positive integers (boundary pads included), "
                             f"got shape {pred_dur.shape}")
    n_frames = int(pred_dur.sum())
    record("durations", pred_dur)

    bucket = ladder.pick(n_tokens, n_frames)
    alignment = alignment_matrix(pred_dur, bucket.tokens, bucket.frames)[None]  # [1, T, L]
    frame_mask = np.zeros((1, bucket.frames), dtype=np.float32)
    frame_mask[0, :n_frames] = 1
    feed = dict(d=_pad_axis(pred["d"], 1, bucket.tokens),  # [1, T, 640]; padded tokens have no frames
                t_en=_pad_axis(pred["t_en"], 2, bucket.tokens),  # [1, 512, T]
                alignment=alignment, style=style, frame_mask=frame_mask)
    pros = run("prosody", bucket.prosody_signature, **feed)
    record("prosody", (bucket.prosody_signature, feed, pros))

    # Harmonic source on the real F0 only, STFT'd at the real length (upstream's har has exactly
    # 120 n + 1 frames; the vocoder sees zeros past them, as its conv padding would give).
    f0 = np.asarray(pros["f0"], dtype=np.float32)[0, : F0_PER_FRAME * n_frames]
    if excitation is None:  # the noise of Excitation.from_seed, drawn block by block (11 MB whole at 512 frames)
        rand_ini, noise = excitation_rand_ini(seed, N_HARMONICS), functools.partial(noise_rows, seed, N_HARMONICS)
    else:
        rand_ini, noise = excitation.rand_ini, excitation.noise
    har_source = sine_source(f0, source.weight, source.bias, rand_ini=rand_ini, noise=noise)
    magnitude, phase = stft(har_source)  # [11, 120 n + 1] each
    record("har_source", har_source)
    n_stft = magnitude.shape[1]
    # The vocoder runs at the fewest frames that hold the utterance (often fewer than prosody's
    # bucket): prosody's outputs are zero past the real length, so cutting them drops padding only.
    frames = ladder.pick_frames(n_frames)
    # Donated unless traced: the trace keeps the vocoder's inputs, which donation would overwrite.
    har = (np.zeros if trace is not None else Donated.zeros)((1, 2 * N_FREQ, stft_frames(frames)), np.float32)
    har[0, :N_FREQ, :n_stft] = magnitude
    har[0, N_FREQ:, :n_stft] = phase
    # Not needed past here: freed before the vocoder call, the process's peak (8 MB at 512 frames).
    del har_source, magnitude, phase
    f0_len = F0_PER_FRAME * frames
    feed = dict(asr=_fit_axis(pros["asr"], 2, frames), f0=_fit_axis(pros["f0"], 1, f0_len),
                n=_fit_axis(pros["n"], 1, f0_len), style=style, har=har, frame_mask=_fit_axis(frame_mask, 1, frames))
    voc = run("vocoder", vocoder_signature(frames), **feed)
    record("vocoder", (vocoder_signature(frames), feed, voc))
    del feed, har  # before the iSTFT's temporaries
    audio = istft(np.asarray(voc["magnitude"])[0, :, :n_stft], np.asarray(voc["phase"])[0, :, :n_stft])
    record("audio", audio)
    return Synthesis(audio=audio, durations=pred_dur, durations_raw=raw / np.float32(speed),
                     shapes={"predictor": first.predictor_signature, "prosody": bucket.prosody_signature,
                             "vocoder": vocoder_signature(frames)})


def _pad_axis(x: np.ndarray, axis: int, size: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, size - x.shape[axis])
    return np.pad(x, pad) if pad[axis][1] else x


def _fit_axis(x: np.ndarray, axis: int, size: int) -> np.ndarray:
    """x cut or zero-padded to `size` along `axis` (the vocoder's frames may be fewer or more than prosody's)."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[axis] >= size:
        return np.ascontiguousarray(np.take(x, np.arange(size), axis=axis))
    return _pad_axis(x, axis, size)
