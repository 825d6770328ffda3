"""STFT and iSTFT of the iSTFTNet head in numpy: n_fft 20, hop 5, periodic Hann, center=True.

ADAPTED from kokoro 0.9.4 `istftnet.py` TorchSTFT (the default path, disable_complex=False), i.e.
torch.stft / torch.istft with onesided, unnormalized transforms and reflect padding. All frames go
through one batched numpy (pocketfft, single-threaded) real FFT; the overlap-add is n_fft / hop = 4
shifted slice additions. (A DFT-matrix GEMM was tried first: multithreaded OpenBLAS on a loaded
2-core box made it 5-8x slower than the FFT.)

Shapes: a signal of N samples has N // hop + 1 frames; istft of F frames gives hop * (F - 1) samples,
so a bucket of L alignment frames is N = L * SAMPLES_PER_FRAME samples and F = 120 L + 1 frames.
"""

from __future__ import annotations

import functools

import numpy as np

from kokoro_litert.buckets import ISTFT_HOP, ISTFT_N_FFT, ISTFT_WIN, N_FREQ, SAMPLES_PER_FRAME

assert ISTFT_WIN == ISTFT_N_FFT  # the window is not zero-padded
assert ISTFT_N_FFT % ISTFT_HOP == 0  # overlap-add by whole hops
OVERLAP = ISTFT_N_FFT // ISTFT_HOP  # 4 frames cover each output sample
PAD = ISTFT_N_FFT // 2  # 10: center=True padding on each side


@functools.cache
def _window() -> np.ndarray:
    """Periodic Hann [n_fft] float32, as torch.hann_window(n, periodic=True)."""
    # torch computes it in float32 (arange * 2 pi / N, cos, * -0.5, + 0.5); this recipe matches it
    # to within one ulp (numpy's and torch's float32 cos differ by an ulp at some points).
    arg = np.arange(ISTFT_WIN, dtype=np.float32) * np.float32(2 * np.pi / ISTFT_WIN)
    window = np.cos(arg) * np.float32(-0.5) + np.float32(0.5)
    window.flags.writeable = False
    return window


def stft(x: np.ndarray, pad_mode: str = "reflect") -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and phase [N_FREQ, N // hop + 1] float32 of a 1-D signal (TorchSTFT.transform).

    pad_mode: "reflect" as torch.stft (upstream's default TorchSTFT); "replicate" reproduces
        CustomSTFT's default (disable_complex=True), which differs in the first and last two frames.
    Phase is atan2(Im, Re) in (-pi, pi]; where the magnitude is ~0 it is as arbitrary as upstream's.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"stft expects a 1-D signal, got shape {x.shape}")
    if pad_mode == "reflect":
        if x.shape[0] <= PAD:
            raise ValueError(f"reflect padding needs more than {PAD} samples, got {x.shape[0]}")
        padded = np.pad(x, PAD, mode="reflect")
    elif pad_mode == "replicate":
        padded = np.pad(x, PAD, mode="edge")
    else:
        raise ValueError(f"pad_mode must be 'reflect' or 'replicate', got {pad_mode!r}")
    frames = np.lib.stride_tricks.sliding_window_view(padded, ISTFT_N_FFT)[::ISTFT_HOP]  # [F, n_fft]
    magnitude = np.empty((N_FREQ, frames.shape[0]), dtype=np.float32)
    phase = np.empty_like(magnitude)
    for blk in _frame_blocks(frames.shape[0]):
        # The windowed frames in float32 as upstream, the DFT, magnitude and angle in float64,
        # rounded once: a value every host computes alike (a float32 FFT's last bit depends on its
        # algorithm).
        spec = np.fft.rfft((frames[blk] * _window()).astype(np.float64), axis=-1).T  # [n_freq, block]
        # A real FFT leaves Im of DC and Nyquist at +0; force it so a negative real bin always gets
        # phase +pi as from torch.angle (a -0 would give -pi).
        spec.imag[0] = 0.0
        spec.imag[-1] = 0.0
        magnitude[:, blk] = np.hypot(spec.real, spec.imag)
        phase[:, blk] = np.arctan2(spec.imag, spec.real)
    return magnitude, phase


def _frame_blocks(n_frames: int, block: int = 1 << 13):
    """Slices of at most `block` frames: every frame is transformed on its own, so working through
    them in blocks gives the same numbers and keeps the float64 temporaries of a 12.8 s utterance
    (~30 MB whole) at a few MB."""
    return [slice(b, min(b + block, n_frames)) for b in range(0, n_frames, block)]


def istft(magnitude: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Inverse of `stft` from magnitude and phase [N_FREQ, F]: hop * (F - 1) samples, float32.

    As TorchSTFT.inverse (torch.istft, center=True, length=None): inverse real DFT per frame, times
    the window, overlap-added, divided by the overlap-added squared window, the PAD samples at
    each end dropped.
    """
    magnitude = np.asarray(magnitude, dtype=np.float32)
    phase = np.asarray(phase, dtype=np.float32)
    if magnitude.ndim != 2 or magnitude.shape[0] != N_FREQ or magnitude.shape != phase.shape:
        raise ValueError(
            f"magnitude and phase must both be [{N_FREQ}, frames], got {magnitude.shape} and {phase.shape}"
        )
    n_frames = magnitude.shape[1]
    if n_frames < 2:
        raise ValueError(f"istft needs at least 2 frames, got {n_frames}")
    frames = np.empty((n_frames, ISTFT_N_FFT), dtype=np.float32)
    for blk in _frame_blocks(n_frames):
        spec = np.empty((N_FREQ, blk.stop - blk.start), dtype=np.complex64)
        np.multiply(magnitude[:, blk], np.cos(phase[:, blk]), out=spec.real)
        np.multiply(magnitude[:, blk], np.sin(phase[:, blk]), out=spec.imag)
        # c2r inverse with 1/n_fft like torch.istft (it ignores Im of the DC and Nyquist bins too).
        frames[blk] = np.fft.irfft(spec.T, n=ISTFT_N_FFT, axis=-1)
    frames *= _window()
    blocks = frames.reshape(n_frames, OVERLAP, ISTFT_HOP)
    out = np.zeros((n_frames + OVERLAP - 1, ISTFT_HOP), dtype=np.float32)  # hop-sized blocks
    for j in range(OVERLAP):
        out[j : j + n_frames] += blocks[:, j]
    del frames, blocks
    y = out.reshape(-1)[PAD:-PAD]
    y /= _envelope(n_frames)
    return y


def _envelope(n_frames: int) -> np.ndarray:
    """Overlap-added squared window over n_frames frames, with the center padding trimmed.
    (Not cached: one per utterance length would pile up, 1.2 MB each at 512 frames.)"""
    w2 = (_window() ** 2).reshape(OVERLAP, ISTFT_HOP)
    env = np.zeros((n_frames + OVERLAP - 1, ISTFT_HOP), dtype=np.float32)
    for j in range(OVERLAP):
        env[j : j + n_frames] += w2[j]
    env = env.reshape(-1)[PAD:-PAD]
    if env.min() < 1e-11:  # torch.istft's NOLA check; never true for Hann 20/5 with >= 2 frames
        raise ValueError("window overlap-add is ~0 somewhere: the STFT parameters are not invertible")
    return env


def trim(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """The first n_frames * SAMPLES_PER_FRAME samples: the real audio of a padded bucket."""
    n = n_frames * SAMPLES_PER_FRAME
    if n > audio.shape[-1]:
        raise ValueError(f"{n_frames} frames need {n} samples but the audio has {audio.shape[-1]}")
    return audio[..., :n]
