"""The fidelity yardstick (tests/benchmarks/yardstick.py): its figures move the right way under known
degradations of speech-like audio, and every shipped precision holds issue 24's floor on the smallest
bucket (real weights).

The speech-like audio is source-filter synthesis: a band-limited sawtooth (harmonic amplitudes 1/k,
as a glottal source's -6 dB per octave) on a falling, gently swinging F0 contour, through three
formant resonators per vowel, with a fricative (band-passed noise), pauses, and a -60 dBFS room
noise under everything, as a recording has. It is built, not recorded, so a degradation can be
exact: a pitch shift re-synthesizes the same vowels on a contour 20 cents higher, a time stretch
the same script 4% slower.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))

import yardstick  # noqa: E402
from yardstick import (  # noqa: E402
    SAMPLE_RATE,
    Heard,
    f0_rmse_cents,
    heard_distance,
    mel_cepstral_distortion,
)

pytest.importorskip("librosa")

FORMANTS = {"a": (730, 1090, 2440), "i": (270, 2290, 3010), "u": (300, 870, 2240), "e": (530, 1840, 2480),
            "o": (570, 840, 2410)}  # Hz, F1-F3 of adult vowels (Peterson & Barney's averages, rounded)
FORMANT_BANDWIDTHS = (80, 100, 120)  # Hz
SCRIPT = (("-", 0.10), ("a", 0.28), ("i", 0.22), ("-", 0.04), ("s", 0.12), ("-", 0.04), ("u", 0.25), ("-", 0.08),
          ("e", 0.24), ("o", 0.30), ("-", 0.04), ("s", 0.10), ("-", 0.04), ("a", 0.26), ("-", 0.10))
"""(segment, seconds): a vowel, "s" a fricative, "-" a pause; 2.21 s, 74% of the frames voiced.
The fricatives sit between short pauses: on a frame half vowel, half hiss, pyin's estimate is off by
a few semitones (in either audio), and two such frames, not the shift under test, would dominate an
RMSE over 150 frames."""
ROOM_NOISE_DBFS = -60
RAMP_SECONDS = 0.015  # segment on/offsets, no clicks


def resonator(x: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    """A two-pole formant resonance at `freq` Hz."""
    from scipy.signal import lfilter

    r = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
    theta = 2 * np.pi * freq / SAMPLE_RATE
    return lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)


def speech_like(pitch_cents: float = 0.0, stretch: float = 1.0, noise_seed: int = 0, mute_after: float | None = None):
    """SCRIPT spoken on a contour `pitch_cents` higher, `stretch` times slower, with the fricatives'
    and the room's noise drawn from `noise_seed`; from `mute_after` (a fraction of the length) on,
    only the room noise."""
    from scipy.signal import butter, sosfilt

    n = int(round(sum(seconds for _, seconds in SCRIPT) * stretch * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE / stretch  # the script's own clock
    semitones = -1.0 * t + 2.0 * np.sin(2 * np.pi * 0.5 * t)  # declination and a slow rise and fall
    f0 = 190 * 2 ** (semitones / 12 + pitch_cents / 1200)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    source = sum(np.sin(k * phase) / k for k in range(1, int(11_000 / f0.max()) + 1))
    hiss = sosfilt(butter(4, [3000, 8000], btype="band", fs=SAMPLE_RATE, output="sos"),
                   np.random.default_rng(noise_seed).standard_normal(n))
    audio = np.zeros(n)
    ramp = int(RAMP_SECONDS * SAMPLE_RATE)
    start = 0
    for segment, seconds in SCRIPT:
        stop = min(n, start + int(round(seconds * stretch * SAMPLE_RATE)))
        if segment == "s":
            piece = 0.3 * hiss[start:stop]
        elif segment in FORMANTS:
            piece = source[start:stop]
            for freq, bandwidth in zip(FORMANTS[segment], FORMANT_BANDWIDTHS):
                piece = resonator(piece, freq, bandwidth)
            piece = 0.5 * piece / np.abs(piece).max()
        else:
            piece = np.zeros(stop - start)
        envelope = np.ones(stop - start)
        envelope[:ramp], envelope[-ramp:] = np.linspace(0, 1, ramp), np.linspace(1, 0, ramp)
        audio[start:stop] = piece * envelope
        start = stop
    if mute_after is not None:
        audio[int(mute_after * n):] = 0
    audio += 10 ** (ROOM_NOISE_DBFS / 20) * np.random.default_rng(100 + noise_seed).standard_normal(n)
    return audio.astype(np.float32)


@pytest.fixture(scope="module")
def original():
    audio = speech_like()
    return audio, Heard.of(audio)


def distance(audio: np.ndarray, original) -> yardstick.Distance:
    return heard_distance(Heard.of(audio), original[1])


def with_noise(audio: np.ndarray, snr_db: float) -> np.ndarray:
    noise = np.random.default_rng(7).standard_normal(audio.size)
    return (audio + noise * np.sqrt(np.mean(audio**2) / 10 ** (snr_db / 10))).astype(np.float32)


def test_identical_audio_is_at_zero(original):
    d = distance(original[0].copy(), original)
    assert (d.mcd_db, d.pitch_rmse_cents, d.voicing_disagreement) == (0.0, 0.0, 0.0)


def test_added_noise_raises_mcd_step_by_step(original):
    """White noise at 30, 20, 10 dB SNR: each step is farther, and even the faintest is far beyond
    what another draw of its noise does (the synthetic signal's own floor)."""
    floor = distance(speech_like(noise_seed=1), original).mcd_db
    noisy = [distance(with_noise(original[0], snr), original).mcd_db for snr in (30, 20, 10)]
    assert floor < noisy[0] / 2
    assert noisy[0] < noisy[1] < noisy[2]


@pytest.mark.parametrize("cents", [20, -20])
def test_pitch_shift_of_20_cents_reads_20_cents(original, cents):
    """pyin reports pitch on a 10-cent grid (resolution 0.1 semitone) and 20 cents is two grid steps,
    so a frame reads exactly 20 unless its two estimates round to neighbouring steps (+-10 on that
    frame). Measured 18.9 and 18.4; 3 cents is the tolerance (it allows a third of the frames a step
    off). The same vowels at another pitch keep their voicing."""
    d = distance(speech_like(pitch_cents=cents), original)
    assert d.pitch_rmse_cents == pytest.approx(20, abs=3)
    assert d.voicing_disagreement < 0.02  # measured 0: a frame at a segment edge may flip


def test_silencing_half_the_audio_raises_voicing_disagreement(original):
    """Muting the second half unvoices the voiced frames there, about 37% of all (measured 24.5%: the
    DTW band lets the path spend up to a tenth of its pairs on the last voiced frame before the cut)."""
    assert distance(original[0], original).voicing_disagreement == 0
    assert distance(speech_like(mute_after=0.5), original).voicing_disagreement > 0.15


@pytest.mark.parametrize("stretch", [1.04, 0.97])
def test_dtw_absorbs_a_time_stretch(original, stretch):
    """Speaking 4% slower or 3% faster costs little after DTW: within 50% of the MCD another draw of the
    noise alone gives (measured +18% and +22%: DTW pairs whole frames, and a stretched frame sits up
    to half a hop, 5 ms, off its original, which costs a little at every onset), while pairing frames
    in order reads it as a distortion several times larger (measured 3.9x and 3.1x)."""
    stretched = Heard.of(speech_like(stretch=stretch, noise_seed=1))
    floor = distance(speech_like(noise_seed=1), original).mcd_db
    aligned = heard_distance(stretched, original[1]).mcd_db
    frames = min(stretched.cepstra.shape[1], original[1].cepstra.shape[1])
    frame_by_frame = np.repeat(np.arange(frames)[:, None], 2, axis=1)
    in_order = mel_cepstral_distortion(stretched.cepstra, original[1].cepstra, frame_by_frame)
    assert aligned < 1.5 * floor
    assert in_order > 2.5 * aligned


def test_f0_curves_compare_in_cents_over_frames_both_voice():
    f0 = np.concatenate([np.zeros(10), np.linspace(180, 240, 50), np.zeros(5)])
    higher = f0 * 2 ** (5 / 1200)
    assert f0_rmse_cents(higher, f0) == pytest.approx(5, abs=1e-9)
    devoiced = higher.copy()
    devoiced[20:30] = 0  # frames only one curve voices are not pitch errors
    assert f0_rmse_cents(devoiced, f0) == pytest.approx(5, abs=1e-9)
    assert np.isnan(f0_rmse_cents(np.zeros(65), f0))
    with pytest.raises(ValueError, match="same durations"):
        f0_rmse_cents(f0[:-1], f0)


# --- real weights: issue 24's floor on the smallest bucket -------------------------------------------

SMALLEST_BUCKET_PHONEMES = 30  # tokens_32 minus the two boundary pads
SMALLEST_BUCKET_FRAMES = 128
FLOOR_SENTENCES = 4  # heldout_001, 002, 003, 009: 10 to 28 phonemes, 57 to 75 frames
MCD_ABOVE_FLOOR_DB = 0.6  # issue 24 item 2: at most this far above the seed-to-seed floor (int8 today: +0.54)
F0_MEAN_CENTS = 5.0  # predicted F0 vs fp32's: RMSE, mean over sentences
F0_WORST_CENTS = 15.0  # ... and the worst sentence


@pytest.fixture(scope="module")
def floor_run(bundle_dir, reference, heart):
    """The yardstick, without ASR, on the first held-out sentences that fit tokens_32 / frames_128."""
    from kokoro_litert.buckets.manifest import Manifest

    cases = yardstick.load_cases(SMALLEST_BUCKET_PHONEMES, FLOOR_SENTENCES, numbers=False)
    precisions = sorted(Manifest.load(bundle_dir).precisions)
    run = yardstick.measure(cases, reference, heart, bundle_dir, precisions, asr=False)
    print("\n" + yardstick.table(yardstick.summarize(run)))
    return run, precisions


@pytest.mark.real_weights
@pytest.mark.slow
def test_every_precision_holds_the_floor_on_the_smallest_bucket(floor_run):
    run, precisions = floor_run
    summary = yardstick.summarize(run)
    reference = f"torch-seed{yardstick.REFERENCE_SEED}"
    assert all(d.sum() <= SMALLEST_BUCKET_FRAMES for (system, _), d in run.durations.items() if system == reference)
    failures = []
    for precision in precisions:
        s = summary[f"litert-{precision}"]
        if s["durations_identical"]["same"] != s["sentences"]:
            failures.append(f"{precision}: durations differ on {s['sentences'] - s['durations_identical']['same']}")
        f0 = s["f0_rmse_cents"]
        if f0["n"] != s["sentences"] or f0["mean"] > F0_MEAN_CENTS or f0["worst"] > F0_WORST_CENTS:
            failures.append(f"{precision}: predicted F0 vs fp32 {f0}")
        if s["mcd_above_floor_db"] > MCD_ABOVE_FLOOR_DB:
            failures.append(f"{precision}: MCD {s['mcd_above_floor_db']:+.2f} dB above the seed floor")
    assert not failures, "; ".join(failures)


@pytest.mark.real_weights
@pytest.mark.slow
def test_a_seed_is_the_same_draw_in_pytorch_and_litert(floor_run):
    """The reference's seed-2 excitation (patched into upstream SineGen) is LiteRT's seed 2: fp32 with
    the reference's durations then matches it as test_bundles' pinned runs do (spectrogram above
    0.9999, waveform above 0.999), where another draw alone leaves 0.995-0.997 of the waveform."""
    run, _ = floor_run
    rows = [r for r in run.rows if r.system == "litert-fp32"]
    assert min(r.spec_corr for r in rows) > 0.9999
    assert min(r.wave_corr for r in rows) > 0.999


def test_a_seed_is_one_draw_in_pytorch_and_litert_on_the_tiny_model(tiny):
    """The plumbing on the random-weight tiny model: the reference's seed-2 excitation (patched into
    upstream SineGen) is what LiteRT draws for seed 2, so fp32 at the reference's durations matches
    its waveform (above 0.99; measured 0.997 and 0.998, the random-weight vocoder amplifying float32
    reassociation) where another draw does not (below 0.9; measured about 0.2); both runtimes'
    predicted F0 curves are captured, frame for frame."""
    pytest.importorskip("torch")
    from kokoro_litert.convert.reference import TorchReference
    from kokoro_litert.runtime.voices import load_voice

    cases = yardstick.load_cases(30, 2, numbers=False)  # the tiny ladder's largest bucket: 30 phonemes
    run = yardstick.measure(cases, TorchReference(tiny.weights), load_voice("af_heart", tiny.voices), tiny.bundle,
                            ["fp32"], asr=False)
    rows = [r for r in run.rows if r.system == "litert-fp32"]
    assert [r.id for r in rows] == [c.id for c in cases]
    assert all(r.wave_corr < 0.9 for r in run.rows if r.system == f"torch-seed{yardstick.OTHER_SEED}")
    for row in rows:
        assert row.durations_identical
        assert row.wave_corr > 0.99
        torch_f0, litert_f0 = run.f0["torch-seed2", row.id], run.f0["litert-fp32", row.id]
        assert torch_f0.shape == litert_f0.shape == (2 * run.durations["litert-fp32", row.id].sum(),)
        assert row.f0_rmse_cents == 0  # fp32 against itself
