"""hn-NSF harmonic source in numpy, reproducing kokoro/istftnet.py bit for bit where it can.

ADAPTED from kokoro 0.9.4 `istftnet.py` (itself from StyleTTS2 / NSF): `Generator.forward`'s
`f0_upsamp`, `SineGen` (flag_for_pulse=False) and the harmonic branch of `SourceModuleHnNSF`. The 9->1
merge layer is learned, so its weight and bias are arguments; the noise branch of SourceModuleHnNSF
(`noi_source`) is not computed because Generator.forward discards it.

Randomness (upstream's `torch.rand` initial phases and `torch.randn_like` noise) is injected: an
explicit array, or drawn from a numpy Generator, so tests can pin it.

Float32 like upstream, with torch's CPU arithmetic reproduced where it differs from plain numpy:
cumsum accumulates in float64, and F.interpolate(mode="linear") computes its source index and its
blend with fused multiply-adds (see `_fma_f32`). Where upstream calls a transcendental function
(sin, tanh) or sums the 9 harmonics, this computes in float64 and rounds once, so that every host
gets the same float32 values (the JVM port does the same); that is within an ulp of upstream.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from kokoro_litert.buckets import (
    F0_UPSAMPLE,
    HARMONIC_NUM,
    NOISE_STD,
    SAMPLE_RATE,
    SINE_AMP,
    VOICED_THRESHOLD,
)

N_HARMONICS = HARMONIC_NUM + 1  # 9 sine channels: F0 and 8 overtones
_BLOCK = 1 << 13  # audio samples per block of the excitation (0.34 s)

_F32 = np.float32


def _fma_f32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Correctly rounded float32 `a * b + c` (one rounding), for float32 inputs.

    torch's x86 CPU kernels are compiled with FMA contraction, so F.interpolate's index and blend
    round once where numpy would round twice; a one-ulp phase difference is worth ~0.03 rad at the
    phases SineGen reaches, so we emulate it. a * b is exact in float64 (24 + 24 bits); the float64
    sum is rounded once, and a second rounding to float32 can only be wrong when that sum lands
    exactly on a float32 midpoint (or in float32's subnormal range): those rare elements are redone
    with the exact error of the float64 addition (TwoSum).
    """
    s = a.astype(np.float64)
    s *= b
    s += c
    r = s.astype(_F32)
    # Float64 values whose low 29 mantissa bits are 1000...0 are float32 midpoints (normal range).
    low = s.view(np.uint64) & np.uint64((1 << 29) - 1)
    # An exact float64 zero is an exact sum (no underflow to 0 with subnormals), so it is safe.
    suspect = (low == np.uint64(1 << 28)) | ((np.abs(s) < np.finfo(_F32).tiny) & (s != 0))
    if np.any(suspect):
        idx = np.nonzero(suspect)
        a_s, b_s, c_s = (np.broadcast_to(v, s.shape)[idx].astype(np.float64) for v in (a, b, c))
        p = a_s * b_s
        s_s = s[idx]
        bv = s_s - p
        err = (p - (s_s - bv)) + (c_s - bv)  # exact: p + c == s + err
        r_s = r[idx]
        other = np.nextafter(r_s, np.where(s_s > r_s, _F32(np.inf), _F32(-np.inf)))
        midpoint = (s_s != r_s) & ((r_s.astype(np.float64) + other) * 0.5 == s_s) & (err != 0)
        # The true value lies on err's side of the midpoint: take the float32 on that side.
        fixed = np.where(err > 0, np.maximum(r_s, other), np.minimum(r_s, other))
        r[idx] = np.where(midpoint, fixed, r_s)
    return r


def _linear_taps(n_in: int, scale_factor: float,
                 out: slice | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Taps and weights of F.interpolate(mode="linear", align_corners=False, scale_factor=...).

    Mirrors ATen's CPU path (UpSample.h): out_len = floor(n_in * scale_factor) in double; the ratio
    is float32(1 / scale_factor); src = max(ratio * (i + 0.5) - 0.5, 0) in float32 (fused);
    i0 = min(floor(src), n_in - 1); i1 = i0 + 1 except at the end; lambda1 = clamp(src - i0, 0, 1).
    Returns (i0, i1, lambda0, lambda1), each [out_len], or for the outputs in `out` only.
    """
    n_out = math.floor(n_in * scale_factor)
    ratio = _F32(1.0 / scale_factor)
    first, stop, _ = (out or slice(0, n_out)).indices(n_out)
    dst = np.arange(first, stop, dtype=_F32) + _F32(0.5)  # exact: indices are far below 2**24
    src = _fma_f32(np.full_like(dst, ratio), dst, _F32(-0.5))
    src = np.maximum(src, _F32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lambda1 = np.clip(src - i0.astype(_F32), _F32(0), _F32(1))
    i1 = i0 + (i0 < n_in - 1)
    lambda0 = _F32(1) - lambda1
    return i0, i1, lambda0, lambda1


def _blend(x0: np.ndarray, x1: np.ndarray, lambda0: np.ndarray, lambda1: np.ndarray) -> np.ndarray:
    """ATen's linear blend `x0 * lambda0 + x1 * lambda1`, contracted to fma(x0, lambda0, x1 * lambda1)."""
    return _fma_f32(x0, lambda0, x1 * lambda1)


def upsample_f0(f0: np.ndarray) -> np.ndarray:
    """Frame-rate F0 [2 * L] -> audio-rate F0 [2 * L * F0_UPSAMPLE], nearest (Generator.f0_upsamp).

    For the sizes met here torch's nearest index floor(i * float32(1/300)) is exactly i // 300 (the
    float32 ratio is above 1/300 and the rounding error stays far below 1/300), i.e. np.repeat.
    """
    f0 = np.asarray(f0, dtype=_F32)
    if f0.ndim != 1:
        raise ValueError(f"f0 must be 1-D [2 * frames], got shape {f0.shape}")
    return np.repeat(f0, F0_UPSAMPLE)


def sine_gen(
    f0_up: np.ndarray,
    rand_ini: np.ndarray,
    noise: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """SineGen.forward for one utterance: harmonic sines, voiced-masked, plus noise.

    f0_up: [N] audio-rate F0 in Hz (N a multiple of F0_UPSAMPLE, as from `upsample_f0`).
    rand_ini: [N_HARMONICS] initial phases in [0, 1) (upstream's torch.rand); entry 0 is ignored
        (upstream zeroes the fundamental's).
    noise: [N, N_HARMONICS] standard normal (upstream's torch.randn_like(sine_waves)), or a
        function (start, stop) -> its rows start..stop-1, so that it need not be held whole.
    Returns (sine_waves [N, N_HARMONICS] float32, uv [N] float32).
    """
    blocks, uv = _sine_wave_blocks(f0_up, rand_ini, noise)
    sine_waves = np.empty((uv.shape[0], N_HARMONICS), dtype=_F32)
    for blk, sine in blocks:
        sine_waves[blk] = sine
    return sine_waves, uv


def _sine_wave_blocks(f0_up: np.ndarray, rand_ini: np.ndarray, noise: np.ndarray):
    """`sine_gen` in blocks of _BLOCK samples: (an iterator of (slice, sine_waves[slice]), uv).
    Elementwise past the phase cumsum, so the blocks hold the same numbers as the whole array."""
    f0_up = np.asarray(f0_up, dtype=_F32)
    n = f0_up.shape[0]
    if f0_up.ndim != 1 or n == 0 or n % F0_UPSAMPLE:
        raise ValueError(f"f0_up must be 1-D with a length multiple of {F0_UPSAMPLE}, got {f0_up.shape}")
    rand_ini = np.array(rand_ini, dtype=_F32).reshape(N_HARMONICS)
    rand_ini[0] = 0  # no initial phase for the fundamental
    if callable(noise):
        noise_rows = noise
    else:
        noise = np.asarray(noise, dtype=_F32)
        if noise.shape != (n, N_HARMONICS):
            raise ValueError(f"noise must have shape {(n, N_HARMONICS)}, got {noise.shape}")
        noise_rows = lambda start, stop: noise[start:stop]  # noqa: E731
    harmonics = np.arange(1, N_HARMONICS + 1, dtype=_F32)

    # _f02sine. rad_values = (fn / sr) % 1, plus rand_ini on the first sample, then downsampled
    # linearly by 1/F0_UPSAMPLE. Only the 2 taps per output sample are needed, so rad_values is
    # evaluated at those 2 N / 300 taps instead of at all N samples (same numbers).
    # Note: the taps of output i are samples 300 i + 149 and 300 i + 150, so upstream's initial
    # phase (added to sample 0 only) never reaches the output; it is kept for fidelity.
    i0, i1, lam0, lam1 = _linear_taps(n, 1.0 / F0_UPSAMPLE)

    def rad_at(idx: np.ndarray) -> np.ndarray:
        rad = np.mod((f0_up[idx, None] * harmonics) / _F32(SAMPLE_RATE), _F32(1))  # [n_out, 9]
        return np.where((idx == 0)[:, None], rad + rand_ini, rad)

    rad_down = _blend(rad_at(i0), rad_at(i1), lam0[:, None], lam1[:, None])  # [N/300, 9]
    # torch's CPU cumsum accumulates float32 in double and rounds each partial sum.
    phase = np.cumsum(rad_down, axis=0, dtype=np.float64).astype(_F32) * _F32(2) * _F32(np.pi)
    phase = phase * _F32(F0_UPSAMPLE)
    uv = (f0_up > _F32(VOICED_THRESHOLD)).astype(_F32)

    def blocks():
        # Block by block, taps included (elementwise, so the same numbers): a whole 12.8 s
        # utterance at once needed ~100 MB of float64 temporaries.
        for b in range(0, n, _BLOCK):
            blk = slice(b, min(b + _BLOCK, n))
            j0, j1, mu0, mu1 = _linear_taps(phase.shape[0], float(F0_UPSAMPLE), blk)
            phase_up = _blend(phase[j0], phase[j1], mu0[:, None], mu1[:, None])  # [block, 9]
            # sin in float64, rounded once: a value every host computes alike (numpy's float32 sin is a
            # SIMD approximation that differs from a correctly rounded one in the last bit).
            sine = np.sin(phase_up.astype(np.float64)).astype(_F32) * _F32(SINE_AMP)
            voiced = uv[blk, None]
            # Upstream: uv * noise_std + (1 - uv) * sine_amp / 3, evaluated left to right in float32.
            noise_amp = voiced * _F32(NOISE_STD) + ((_F32(1) - voiced) * _F32(SINE_AMP)) / _F32(3)
            yield blk, sine * voiced + noise_amp * noise_rows(blk.start, blk.stop)

    return blocks(), uv


def sine_source(
    f0: np.ndarray,
    weight: np.ndarray,
    bias: float | np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    rand_ini: np.ndarray | None = None,
    noise: np.ndarray | Callable[[int, int], np.ndarray] | None = None,
) -> np.ndarray:
    """Harmonic excitation har_source [2 * L * F0_UPSAMPLE] from the F0 predictor's curve.

    f0: [2 * L] F0 in Hz, two values per alignment frame (F0_pred / Generator's `f0` input).
    weight, bias: the learned merge layer `m_source.l_linear` ([1, 9] or [9], and [1] or scalar).
    rng: draws whichever of rand_ini ([9] uniform) and noise ([N, 9] standard normal, or a
        function of a row range as in `sine_gen`) is not given; defaults to a fresh unseeded
        Generator (upstream is unseeded too).
    Returns float32 [N]: tanh(sine_waves @ weight + bias), upstream's har_source.
    """
    f0_up = upsample_f0(f0)
    n = f0_up.shape[0]
    if rand_ini is None or noise is None:
        rng = np.random.default_rng() if rng is None else rng
        if rand_ini is None:
            rand_ini = rng.random(N_HARMONICS, dtype=_F32)
        if noise is None:
            noise = rng.standard_normal((n, N_HARMONICS), dtype=_F32)
    weight = np.asarray(weight, dtype=_F32).reshape(N_HARMONICS)
    bias = _F32(np.asarray(bias, dtype=_F32).reshape(()))
    # The 9 -> 1 merge and tanh in float64, summed k = 0..8 in order, rounded once: specified so
    # that every host (the JVM port too) gets the same float32 excitation, whatever its BLAS or
    # SIMD libm does. Upstream computes it in float32 (within an ulp of this). Merged block by
    # block: the [N, 9] sines of a 12.8 s utterance alone are 11 MB.
    har_source = np.empty(n, dtype=_F32)
    blocks, _ = _sine_wave_blocks(f0_up, rand_ini, noise)
    for blk, sine in blocks:
        merged = np.full(sine.shape[0], np.float64(bias))
        for k in range(N_HARMONICS):
            merged += sine[:, k].astype(np.float64) * np.float64(weight[k])
        har_source[blk] = np.tanh(merged)
    return har_source
