"""kokoro_litert.dsp vs its upstream torch counterparts (kokoro 0.9.4), over many shapes.

Every comparison is float32 (ours) vs float32 (upstream); each tolerance says where the remaining
difference comes from. Upstream's randomness (torch.rand, torch.randn_like) is pinned by
monkeypatching it to return the arrays handed to our functions.
"""

from __future__ import annotations

import subprocess
import sys
import functools
import warnings
from fractions import Fraction

import numpy as np
import pytest

from kokoro_litert.buckets import (
    F0_UPSAMPLE,
    ISTFT_HOP,
    ISTFT_N_FFT,
    N_FREQ,
    SAMPLES_PER_FRAME,
    UPSAMPLE_RATES,
    VOICED_THRESHOLD,
)
from kokoro_litert.dsp import (
    N_HARMONICS,
    FramesExceedBucketError,
    align,
    alignment_matrix,
    excitation_noise,
    excitation_rand_ini,
    istft,
    noise_rows,
    round_durations,
    sine_gen,
    sine_source,
    stft,
    trim,
    upsample_f0,
)
from kokoro_litert.dsp.sine_source import _blend, _fma_f32, _linear_taps
from kokoro_litert.dsp.stft import _window

torch = pytest.importorskip("torch")
istftnet = pytest.importorskip("kokoro.istftnet")
custom_stft = pytest.importorskip("kokoro.custom_stft")
F = torch.nn.functional

EPS32 = float(np.finfo(np.float32).eps)  # 1.19e-7


@pytest.fixture(scope="module")
def generator():
    """A tiny upstream Generator (4 channels): only its f0_upsamp, m_source and stft are used, so the
    DSP constants (24 kHz, x300, 8 harmonics, threshold 10, n_fft 20 / hop 5) are upstream's own."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weight_norm deprecation
        gen = istftnet.Generator(
            style_dim=4,
            resblock_kernel_sizes=[3],
            upsample_rates=list(UPSAMPLE_RATES),
            upsample_initial_channel=8,
            resblock_dilation_sizes=[[1, 3, 5]],
            upsample_kernel_sizes=[20, 12],
            gen_istft_n_fft=ISTFT_N_FFT,
            gen_istft_hop_size=ISTFT_HOP,
        ).eval()
    with torch.no_grad():  # merge weights larger than the default init, to drive tanh off its linear part
        gen.m_source.l_linear.weight.normal_(0.0, 3.0)
        gen.m_source.l_linear.bias.fill_(0.05)
    return gen


def test_dsp_does_not_import_torch():
    code = "import sys, kokoro_litert.dsp; assert 'torch' not in sys.modules, 'dsp imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- align --------------------------------------------------------------------------------------


def _upstream_alignment(duration: np.ndarray, speed: float):
    """KModel.forward_with_tokens' duration -> pred_dur -> pred_aln_trg, on the summed sigmoids."""
    d = torch.from_numpy(duration)[None] / speed
    pred_dur = torch.round(d).clamp(min=1).long().squeeze(0)
    indices = torch.repeat_interleave(torch.arange(duration.shape[0]), pred_dur)
    aln = torch.zeros((duration.shape[0], indices.shape[0]))
    aln[indices, torch.arange(indices.shape[0])] = 1
    return pred_dur.numpy(), aln.numpy()


@pytest.mark.parametrize("speed", [1.0, 0.5, 0.7, 0.8, 1.1, 1.3, 1 / 3, 2.0])
def test_round_durations_match_torch(speed):
    rng = np.random.default_rng(1)
    # Sums of 50 sigmoids live in [0, 50]; half-integers and their float32 neighbours probe the ties.
    d = (rng.random(20_000) * 50).astype(np.float32)
    halves = np.arange(0.5, 20, 1.0, dtype=np.float32) * np.float32(speed)
    d = np.concatenate([d, halves, np.nextafter(halves, 0), np.nextafter(halves, 100), [0.0, 0.1]])
    d = d.astype(np.float32)
    expected = torch.round(torch.from_numpy(d) / speed).clamp(min=1).long().numpy()
    np.testing.assert_array_equal(round_durations(d, speed), expected)  # integers: exact


def test_round_half_to_even_and_min_one():
    d = np.array([0.0, 0.4, 0.5, 1.5, 2.5, 3.5, 4.49], np.float32)
    np.testing.assert_array_equal(round_durations(d), [1, 1, 1, 2, 2, 4, 4])


@pytest.mark.parametrize("t_real,speed", [(1, 1.0), (2, 1.0), (3, 0.8), (17, 1.2), (64, 1.0), (200, 0.9)])
def test_alignment_matches_upstream(t_real, speed):
    rng = np.random.default_rng(t_real)
    duration = (rng.random(t_real) * 12).astype(np.float32)
    pred_dur_t, aln_t = _upstream_alignment(duration, speed)
    n_tokens, n_frames = t_real + 5, aln_t.shape[1] + 37  # a bucket with padding on both axes
    out = align(duration, speed, n_tokens, n_frames)
    np.testing.assert_array_equal(out.pred_dur, pred_dur_t)
    assert out.n_frames == aln_t.shape[1] == pred_dur_t.sum()
    assert out.matrix.dtype == np.float32 and out.matrix.shape == (n_tokens, n_frames)
    np.testing.assert_array_equal(out.matrix[:t_real, : out.n_frames], aln_t)
    assert not out.matrix[t_real:].any() and not out.matrix[:, out.n_frames :].any()


def test_alignment_exact_fit():
    m = alignment_matrix(np.array([2, 1, 3]), n_tokens=3, n_frames=6)
    np.testing.assert_array_equal(m.sum(axis=0), np.ones(6))
    np.testing.assert_array_equal(m.sum(axis=1), [2, 1, 3])


def test_alignment_overflow_carries_remedy():
    with pytest.raises(FramesExceedBucketError, match="larger frame bucket.*split the text"):
        align(np.full(10, 30.0, np.float32), 1.0, n_tokens=16, n_frames=256)
    with pytest.raises(FramesExceedBucketError, match="larger token bucket"):
        alignment_matrix(np.ones(20, np.int64), n_tokens=16, n_frames=256)


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_speed_rejected(speed):
    with pytest.raises(ValueError, match="speed"):
        round_durations(np.ones(3, np.float32), speed)


# --- F.interpolate emulation (the part of SineGen where numpy differs from torch) ---------------


def test_fma_f32_is_correctly_rounded():
    rng = np.random.default_rng(2)
    a = rng.standard_normal(300).astype(np.float32)
    b = rng.standard_normal(300).astype(np.float32)
    c = (rng.standard_normal(300) * 1e-3).astype(np.float32)
    # Adversarial: (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 is a float32 midpoint; +-2^-80 decides the side,
    # which plain float64 rounding would lose (it rounds to the midpoint, then ties to even).
    a = np.concatenate([a, np.float32([1 + 2**-12] * 3)])
    b = np.concatenate([b, np.float32([1 + 2**-12] * 3)])
    c = np.concatenate([c, np.float32([2**-80, -(2**-80), 0.0])])
    got = _fma_f32(a, b, c)
    for x, y, z, g in zip(a, b, c, got):
        exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        near = np.float32(float(exact))
        candidates = [np.nextafter(near, np.float32(-np.inf)), near, np.nextafter(near, np.float32(np.inf))]
        errors = [abs(Fraction(float(q)) - exact) for q in candidates]
        best = min(errors)
        assert abs(Fraction(float(g)) - exact) == best
    assert got[-3] == np.float32(1 + 2**-11 + 2**-23) and got[-2] == np.float32(1 + 2**-11)


@pytest.mark.parametrize(
    "n_in,scale_factor",
    [(1, 300), (2, 300), (7, 300), (1024, 300), (2048, 300), (3, 2), (5, 6.5),
     (600, 1 / 300), (1800, 1 / 300), (600 * 1024, 1 / 300), (97, 0.5), (1000, 0.37)],
)
def test_linear_interpolate_bit_exact(n_in, scale_factor):
    # Bit-exact: the index and the blend are emulated with torch's fused multiply-adds (x86 build).
    rng = np.random.default_rng(n_in)
    x = (rng.standard_normal((3, n_in)) * 1e4).astype(np.float32)
    ref = F.interpolate(torch.from_numpy(x)[None], scale_factor=scale_factor, mode="linear")[0].numpy()
    i0, i1, lam0, lam1 = _linear_taps(n_in, scale_factor)
    np.testing.assert_array_equal(_blend(x[:, i0], x[:, i1], lam0, lam1), ref)


@pytest.mark.parametrize("n_f0", [1, 2, 14, 1024, 4096])
def test_upsample_f0_matches_nn_upsample(generator, n_f0):
    f0 = np.random.default_rng(n_f0).random(n_f0, dtype=np.float32) * 400
    ref = generator.f0_upsamp(torch.from_numpy(f0)[None, None])[0, 0].numpy()
    np.testing.assert_array_equal(upsample_f0(f0), ref)


# --- sine source ----------------------------------------------------------------------------------


def _f0_curve(n_f0: int, rng: np.random.Generator) -> np.ndarray:
    """F0 like the predictor's: voiced stretches of smooth 70-450 Hz contours, unvoiced ~0, values at
    the voicing threshold, and a few negative values (the predictor is unconstrained)."""
    t = np.arange(n_f0)
    f0 = 180 + 120 * np.sin(2 * np.pi * t / max(n_f0, 8) * rng.uniform(1, 4)) + rng.normal(0, 15, n_f0)
    f0 = np.clip(f0, 70, 450)
    unvoiced = np.repeat(rng.random(n_f0 // 6 + 1) < 0.3, 6)[:n_f0]
    f0[unvoiced] = rng.normal(0, 3, unvoiced.sum())
    f0[rng.random(n_f0) < 0.05] = VOICED_THRESHOLD
    f0[rng.random(n_f0) < 0.05] = np.nextafter(np.float32(VOICED_THRESHOLD), np.float32(11))
    return f0.astype(np.float32)


def _upstream_source(generator, f0, rand_ini, noise, monkeypatch):
    """Generator.forward's source path with torch.rand / torch.randn_like pinned to our arrays."""
    n = f0.shape[0] * F0_UPSAMPLE
    monkeypatch.setattr(torch, "rand", lambda *shape, **kw: torch.from_numpy(rand_ini.copy())[None])

    def randn_like(x, **kw):  # SineGen's noise [1, N, 9]; SourceModuleHnNSF's noise branch [1, N, 1]
        return torch.from_numpy(noise)[None] if x.shape[-1] == N_HARMONICS else torch.zeros_like(x)

    monkeypatch.setattr(torch, "randn_like", randn_like)
    with torch.no_grad():
        f0_up = generator.f0_upsamp(torch.from_numpy(f0)[None, None]).transpose(1, 2)  # [1, N, 1]
        sine_waves, uv, _ = generator.m_source.l_sin_gen(f0_up)
        har_source, _, _ = generator.m_source(f0_up)
    assert sine_waves.shape == (1, n, N_HARMONICS)
    return sine_waves[0].numpy(), uv[0, :, 0].numpy(), har_source[0, :, 0].numpy()


@pytest.mark.parametrize("n_frames", [1, 2, 5, 33, 128, 512])
def test_sine_source_matches_upstream(generator, monkeypatch, n_frames):
    rng = np.random.default_rng(n_frames)
    f0 = _f0_curve(2 * n_frames, rng)
    n = n_frames * SAMPLES_PER_FRAME
    rand_ini = rng.random(N_HARMONICS, dtype=np.float32)
    noise = rng.standard_normal((n, N_HARMONICS), dtype=np.float32)
    sine_t, uv_t, har_t = _upstream_source(generator, f0, rand_ini, noise, monkeypatch)

    sine, uv = sine_gen(upsample_f0(f0), rand_ini, noise)
    np.testing.assert_array_equal(uv, uv_t)
    # The phases are bit-identical (test_linear_interpolate_bit_exact); what is left is numpy's vs
    # torch's float32 sin (each within ~1 ulp: <= 2.4e-7 apart), times SINE_AMP = 0.1, plus one
    # rounding of the noise add (~1e-8 at these amplitudes): 5e-8 absolute.
    np.testing.assert_allclose(sine, sine_t, rtol=0, atol=5e-8)

    weight = generator.m_source.l_linear.weight.detach().numpy()
    bias = generator.m_source.l_linear.bias.detach().numpy()
    har = sine_source(f0, weight, bias, rand_ini=rand_ini, noise=noise)
    assert har.shape == (n,) and har.dtype == np.float32
    # The 9-term dot product + bias is summed in another order than torch's addmm: each side rounds
    # 9 times by <= half an ulp of the largest pre-activation (~2 here: ulp 2.4e-7), tanh has slope
    # <= 1 and rounds once more (<= 6e-8). Measured <= 2.4e-7 (one ulp of 2).
    pre_max = np.abs(sine @ weight.T + bias).max()
    np.testing.assert_allclose(har, har_t, rtol=0, atol=9 * np.spacing(pre_max) + EPS32)


def test_initial_phase_never_reaches_output():
    # Upstream adds rand_ini to sample 0 only, and the x1/300 linear downsampling reads samples
    # 300 i + 149 and 300 i + 150: the random initial phase has no effect (kept for fidelity).
    rng = np.random.default_rng(3)
    f0_up = upsample_f0(_f0_curve(64, rng))
    noise = rng.standard_normal((f0_up.shape[0], N_HARMONICS), dtype=np.float32)
    a, _ = sine_gen(f0_up, np.zeros(N_HARMONICS, np.float32), noise)
    b, _ = sine_gen(f0_up, rng.random(N_HARMONICS, dtype=np.float32), noise)
    np.testing.assert_array_equal(a, b)


def test_noise_drawn_in_blocks_is_the_whole_draw():
    # The pipeline draws its excitation noise block by block (noise_rows) instead of whole
    # (excitation_noise, which the golden vectors pin): any row range, odd starts included, must
    # give exactly the same float32 values, and so must the excitation built from it.
    rand_ini, noise = excitation_noise(-3, 3 * 600, N_HARMONICS)
    np.testing.assert_array_equal(excitation_rand_ini(-3, N_HARMONICS), rand_ini)
    for start, stop in [(0, 1), (1, 2), (5, 6), (7, 300), (299, 1201), (3 * 600 - 3, 3 * 600)]:
        np.testing.assert_array_equal(noise_rows(-3, N_HARMONICS, start, stop), noise[start:stop])
    f0 = _f0_curve(2 * 3, np.random.default_rng(2))
    w, b = np.linspace(-1, 1, N_HARMONICS, dtype=np.float32), 0.1
    whole = sine_source(f0, w, b, rand_ini=rand_ini, noise=noise)
    blocks = sine_source(f0, w, b, rand_ini=rand_ini, noise=functools.partial(noise_rows, -3, N_HARMONICS))
    np.testing.assert_array_equal(blocks, whole)


def test_stft_frames_are_transformed_alike_in_any_block():
    # stft works through its frames in blocks; each frame's numbers must not depend on the block
    # it fell in (checked against each frame transformed on its own, across block boundaries).
    x = _signal(70 * 600, "noise", np.random.default_rng(3))  # 8401 frames: two blocks
    mag, phase = stft(x, pad_mode="replicate")
    padded = np.pad(x, ISTFT_N_FFT // 2, mode="edge")
    window = _window()
    for f in [0, 1, 8191, 8192, 8193, mag.shape[1] - 1]:
        frame = padded[f * ISTFT_HOP : f * ISTFT_HOP + ISTFT_N_FFT]
        spec = np.fft.rfft((frame * window).astype(np.float64))
        spec.imag[[0, -1]] = 0.0
        np.testing.assert_array_equal(mag[:, f], np.hypot(spec.real, spec.imag).astype(np.float32))
        np.testing.assert_array_equal(phase[:, f], np.arctan2(spec.imag, spec.real).astype(np.float32))


def test_sine_source_rng_is_reproducible():
    f0 = _f0_curve(40, np.random.default_rng(4))
    w, b = np.linspace(-1, 1, N_HARMONICS, dtype=np.float32), 0.1
    one = sine_source(f0, w, b, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(one, sine_source(f0, w, b, rng=np.random.default_rng(7)))
    assert not np.array_equal(one, sine_source(f0, w, b, rng=np.random.default_rng(8)))


# --- STFT / iSTFT ---------------------------------------------------------------------------------


def _signal(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / 24_000
    if kind == "noise":
        x = np.tanh(rng.standard_normal(n))
    elif kind == "tones":
        x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 3_000 * t + 1.0)
    elif kind == "negative_dc":  # every DC bin negative: phase must be +pi as torch.angle gives
        x = -0.5 + 0.01 * rng.standard_normal(n)
    elif kind == "zeros":  # magnitude 0 everywhere: atan2(0, 0) = 0 in both
        x = np.zeros(n)
    return x.astype(np.float32)


def _assert_spectra_close(mag, phase, mag_t, phase_t, rel):
    """Compare magnitude, then phase through the complex value.

    atan2 is unstable where the magnitude is ~0, so phase is not compared raw: the complex values
    must agree to `rel` x the largest magnitude, and the wrapped phase difference is bounded by the
    tangential part of that error, |dphi| * |X| <= rel * max|X| (no bound where |X| ~ 0).
    """
    scale = max(float(mag_t.max()), 1e-30)
    np.testing.assert_allclose(mag, mag_t, rtol=0, atol=rel * scale)
    z = mag * np.exp(1j * phase.astype(np.float64))
    z_t = mag_t * np.exp(1j * phase_t.astype(np.float64))
    assert np.abs(z - z_t).max() <= rel * scale
    dphi = np.angle(np.exp(1j * (phase.astype(np.float64) - phase_t)))
    assert np.all(np.abs(dphi) * mag_t <= rel * scale)
    # DC and Nyquist are real: their phase is exactly 0 or +pi where the bin is clearly nonzero.
    edge = mag_t[[0, -1]] > 1e-3 * scale
    np.testing.assert_array_equal(phase[[0, -1]][edge], phase_t[[0, -1]][edge])


LENGTHS = [11, 12, 19, 20, 21, 599, 600, 601, 1234, 7 * 600, 64 * 600, 512 * 600]


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("kind", ["noise", "tones", "negative_dc", "zeros"])
def test_stft_matches_torch_stft(generator, n, kind):
    x = _signal(n, kind, np.random.default_rng(n))
    mag, phase = stft(x)
    mag_t, phase_t = (v[0].numpy() for v in generator.stft.transform(torch.from_numpy(x)[None]))
    assert mag.shape == phase.shape == (N_FREQ, n // ISTFT_HOP + 1) == mag_t.shape
    assert mag.dtype == phase.dtype == np.float32
    # Both are float32 FFTs (ours numpy's pocketfft, torch's MKL): each a few ulps of the frame's
    # largest bin, plus a <= 1 ulp window difference (float32 cos). Measured <= 2.4e-7 of max|X|
    # (magnitude, complex value and the phase's tangential error); 1e-6 allowed.
    _assert_spectra_close(mag, phase, mag_t, phase_t, rel=1e-6)


@pytest.mark.parametrize("pad_mode", ["reflect", "replicate"])
@pytest.mark.parametrize("n", [21, 600, 5 * 600])
def test_stft_matches_custom_stft(n, pad_mode):
    # CustomSTFT (disable_complex=True) pads with "replicate" by default: our pad_mode reproduces it.
    ref = custom_stft.CustomSTFT(ISTFT_N_FFT, ISTFT_HOP, ISTFT_N_FFT, pad_mode=pad_mode)
    x = _signal(n, "noise", np.random.default_rng(n))
    mag, phase = stft(x, pad_mode=pad_mode)
    with torch.no_grad():
        mag_t, phase_t = (v[0].numpy() for v in ref.transform(torch.from_numpy(x)[None]))
    # CustomSTFT is a float32 conv (20-term sums: a few ulps of max|X|) and adds 1e-14 under its sqrt
    # (+1e-7 absolute at |X| = 0); its Nyquist Im is not exactly 0 (float32 sin(pi n)), so only the
    # complex comparison is meaningful there: 2e-6 of max|X|, and no exact DC/Nyquist phase check.
    scale = float(mag_t.max())
    np.testing.assert_allclose(mag, mag_t, rtol=0, atol=2e-6 * scale + 1e-7)
    z, z_t = mag * np.exp(1j * phase.astype(np.float64)), mag_t * np.exp(1j * phase_t.astype(np.float64))
    assert np.abs(z - z_t).max() <= 2e-6 * scale + 1e-7


def _spectrum(n_frames: int, kind: str, rng: np.random.Generator):
    if kind == "generator":  # what Generator.forward feeds stft.inverse: exp(x) and sin(x)
        x = rng.normal(-1.0, 1.5, (2, N_FREQ, n_frames))
        return np.exp(x[0]).astype(np.float32), np.sin(x[1]).astype(np.float32)
    mag = rng.gamma(2.0, 1.0, (N_FREQ, n_frames))
    return mag.astype(np.float32), rng.uniform(-np.pi, np.pi, (N_FREQ, n_frames)).astype(np.float32)


@pytest.mark.parametrize("n_frames", [2, 3, 4, 5, 7, 121, 1201, 120 * 64 + 1, 120 * 512 + 1])
@pytest.mark.parametrize("kind", ["generator", "uniform_phase"])
def test_istft_matches_torch_istft(generator, n_frames, kind):
    mag, phase = _spectrum(n_frames, kind, np.random.default_rng(n_frames))
    y = istft(mag, phase)
    y_t = generator.stft.inverse(torch.from_numpy(mag)[None], torch.from_numpy(phase)[None])[0, 0].numpy()
    assert y.shape == y_t.shape == (ISTFT_HOP * (n_frames - 1),) and y.dtype == np.float32
    # Both sides are float32 c2r FFTs (torch: MKL, ours: pocketfft) rounding in a different order,
    # then overlap-add 4 frames and divide by the same envelope (>= 0.5 after the trim): a few ulps of
    # `_istft_scale`, the bound on a sample's magnitude. Measured <= 0.72 ulps of it; 4 allowed.
    np.testing.assert_allclose(y, y_t, rtol=0, atol=4 * EPS32 * _istft_scale(mag))


def _istft_scale(mag: np.ndarray) -> float:
    """Bound on |windowed frame sample| summed over the 4 frames overlapping one output sample:
    each inverse DFT term is at most 2 |X_k| / n_fft."""
    overlapping = np.convolve(mag.sum(axis=0), np.ones(ISTFT_N_FFT // ISTFT_HOP))
    return 2 * float(overlapping.max()) / ISTFT_N_FFT


@pytest.mark.parametrize("n", [20, 25, 600, 1234 - 4, 64 * 600])
@pytest.mark.parametrize("kind", ["noise", "tones", "negative_dc"])
def test_stft_istft_round_trip(n, kind):
    x = _signal(n, kind, np.random.default_rng(n))
    assert istft(*stft(x)).shape == x.shape  # n is a multiple of the hop
    # Hann 20/5 satisfies NOLA, so the round trip is exact up to float32 rounding of the spectrum,
    # abs/angle, cos/sin and the overlap-add: ulps of the iSTFT's scale (measured <= 0.48; 4 allowed).
    mag, phase = stft(x)
    np.testing.assert_allclose(istft(mag, phase), x, rtol=0, atol=4 * EPS32 * _istft_scale(mag))


def test_har_source_round_trip():
    # The generator's own path: har_source -> stft (its input features); stft -> istft recovers it.
    f0 = _f0_curve(2 * 16, np.random.default_rng(5))
    har = sine_source(f0, np.linspace(-2, 2, N_HARMONICS, dtype=np.float32), 0.0, rng=np.random.default_rng(0))
    mag, phase = stft(har)
    np.testing.assert_allclose(istft(mag, phase), har, rtol=0, atol=4 * EPS32 * _istft_scale(mag))


def test_trim_keeps_real_frames():
    audio = np.arange(10 * SAMPLES_PER_FRAME, dtype=np.float32)
    np.testing.assert_array_equal(trim(audio, 3), audio[: 3 * SAMPLES_PER_FRAME])
    with pytest.raises(ValueError, match="frames need"):
        trim(audio, 11)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: stft(np.zeros((2, 600), np.float32)), "1-D"),
        (lambda: stft(np.zeros(10, np.float32)), "more than 10 samples"),
        (lambda: stft(np.zeros(600, np.float32), pad_mode="constant"), "pad_mode"),
        (lambda: istft(np.zeros((10, 5), np.float32), np.zeros((10, 5), np.float32)), r"\[11, frames\]"),
        (lambda: istft(np.zeros((11, 1), np.float32), np.zeros((11, 1), np.float32)), "at least 2 frames"),
        (lambda: sine_gen(np.zeros(599, np.float32), np.zeros(9), np.zeros((599, 9))), "multiple of 300"),
        (lambda: sine_gen(np.zeros(600, np.float32), np.zeros(9), np.zeros((600, 8))), "noise must have"),
        (lambda: upsample_f0(np.zeros((1, 4), np.float32)), "1-D"),
    ],
)
def test_bad_input_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bucket_shapes_line_up():
    # L alignment frames -> 2L F0 values -> 600 L samples -> 120 L + 1 STFT frames -> 600 L samples.
    n_frames = 7
    f0 = np.full(2 * n_frames, 150.0, np.float32)
    har = sine_source(f0, np.ones(N_HARMONICS, np.float32), 0.0, rng=np.random.default_rng(0))
    assert har.shape == (n_frames * SAMPLES_PER_FRAME,)
    mag, phase = stft(har)
    assert mag.shape == (N_FREQ, n_frames * SAMPLES_PER_FRAME // ISTFT_HOP + 1)
    assert istft(mag, phase).shape == har.shape
