"""The three PyTorch stages (convert/stages.py) vs upstream KModel on the real weights.

Each stage runs padded into a bucket; upstream runs the same utterance unpadded, as
KModel.forward_with_tokens does. On the real part the outputs must agree to float32 reassociation
(the masked bi-LSTM folds b_hh into the hoisted projection, masked AdaIN takes two-pass
statistics): see TOLERANCES. Padding must be inert: garbage token ids under the mask change nothing.
End to end (stages + host DSP + iSTFT, via runtime.pipeline.synthesize) must match
TorchReference.synthesize with the durations and the excitation noise pinned.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kokoro_litert.buckets.ladder import Bucket, Ladder  # noqa: E402
from kokoro_litert.dsp import align, round_durations  # noqa: E402
from kokoro_litert.runtime.pipeline import synthesize  # noqa: E402
from support.parity import SHORT, pinned_excitation, random_excitation, rel_err, torch_runner  # noqa: E402

pytestmark = pytest.mark.real_weights

SMALL = Bucket(32, 128)
MEDIUM = Bucket(64, 256)
SMALL_LADDER = Ladder((SMALL,), (128,))
TWO_BUCKETS = Ladder((SMALL, MEDIUM), (128, 256))

# A real phoneme string for the 64-token bucket (dev_002, 50 phonemes); support.parity.SHORT fit the smallest.
LONGER = "ðə kˈɛɾəl wˈɪsəld wˌaɪl wiː ˈɑːɹɡjuːd ɐbˌaʊt ðə mˈæp."

# Stage output vs upstream on the real part: max |error| / max |upstream|. Measured on SHORT with
# af_heart (max over sentences) in brackets; the bound leaves ~5-10x headroom. Every difference
# is float32 reassociation, none is an approximation.
TOLERANCES = {
    "durations": 1e-5,  # [2.7e-7] sum of 50 sigmoids after 4 bi-LSTMs; values 1..20 frames
    "d": 5e-5,  # [4.5e-6] 3 masked bi-LSTMs + AdaLayerNorm; upstream packs, we freeze state
    "t_en": 1e-5,  # [1.4e-6] embedding + 3 conv/LayerNorm + masked bi-LSTM
    "asr": 1e-5,  # [1.4e-6] t_en @ alignment: t_en's error, one-hot matmul is exact
    "f0": 1e-5,  # [9.8e-7] shared bi-LSTM + 3 AdainResBlk1d with real-frame AdaIN; F0 up to ~300 Hz
    "n": 2e-5,  # [2.4e-6] same path as F0
    "magnitude": 1e-5,  # [1.8e-6] exp of conv_post: decoder + generator, 100+ masked AdaINs
    "phase": 5e-5,  # [7.9e-6] sin of conv_post (values in [-1, 1]): absolute, its slope is 1 near 0
}
# End to end the same float32 differences pass through the host sine source (F0 -> phase, so a
# 1e-6 relative F0 error becomes a slowly growing phase offset); measured 0.999982 - 0.999998.
WAVE_CORRELATION = 0.999


def upstream_trace(model, ids: list[int], style: np.ndarray) -> dict:
    """Every stage boundary of KModel.forward_with_tokens on one unpadded utterance (numpy).

    Generator's har (input of noise_convs) and its (spec, phase) before the iSTFT are captured by
    wrapping its TorchSTFT; the excitation noise is zeroed (har is fed to our vocoder as is).
    """
    from kokoro_litert.convert.reference import zero_excitation_noise

    gen = model.decoder.generator
    captured = {}
    transform, inverse = gen.stft.transform, gen.stft.inverse

    def capture_transform(x):
        mag, phase = transform(x)
        captured["har"] = torch.cat([mag, phase], dim=1)
        return mag, phase

    def capture_inverse(mag, phase):
        captured["magnitude"], captured["phase"] = mag, phase
        return inverse(mag, phase)

    input_ids = torch.LongTensor([[0, *ids, 0]])
    n = input_ids.shape[1]
    ref_s = torch.from_numpy(style)
    with torch.no_grad(), zero_excitation_noise(), \
            mock.patch.object(gen.stft, "transform", capture_transform), \
            mock.patch.object(gen.stft, "inverse", capture_inverse):
        lengths = torch.full((1,), n, dtype=torch.long)
        text_mask = torch.zeros((1, n), dtype=torch.bool)
        bert_dur = model.bert(input_ids, attention_mask=(~text_mask).int())
        d_en = model.bert_encoder(bert_dur).transpose(-1, -2)
        s = ref_s[:, 128:]
        d = model.predictor.text_encoder(d_en, s, lengths, text_mask)
        x, _ = model.predictor.lstm(d)
        duration = torch.sigmoid(model.predictor.duration_proj(x)).sum(axis=-1)
        pred_dur = torch.round(duration).clamp(min=1).long().squeeze(0)
        indices = torch.repeat_interleave(torch.arange(n), pred_dur)
        aln = torch.zeros((n, indices.shape[0]))
        aln[indices, torch.arange(indices.shape[0])] = 1
        aln = aln.unsqueeze(0)
        f0, noise = model.predictor.F0Ntrain(d.transpose(-1, -2) @ aln, s)
        t_en = model.text_encoder(input_ids, lengths, text_mask)
        asr = t_en @ aln
        model.decoder(asr, f0, noise, ref_s[:, :128])
    out = {"durations": duration, "pred_dur": pred_dur, "d": d, "t_en": t_en, "asr": asr, "f0": f0, "n": noise,
           **captured}
    return {k: v.numpy() for k, v in out.items()}


def run_stages(stages, ids, style, bucket, har=None):
    """Our stages padded into `bucket`, upstream's har (padded) fed to the vocoder if given."""
    run = torch_runner(stages)
    n = len(ids) + 2
    input_ids = np.zeros((1, bucket.tokens), np.int32)
    input_ids[0, :n] = [0, *ids, 0]
    token_mask = (np.arange(bucket.tokens) < n).astype(np.float32)[None]
    out = run("predictor", bucket.predictor_signature, input_ids=input_ids, style=style, token_mask=token_mask)
    a = align(out["durations"][0, :n], 1.0, bucket.tokens, bucket.frames)
    frame_mask = (np.arange(bucket.frames) < a.n_frames).astype(np.float32)[None]
    out.update(run("prosody", bucket.prosody_signature, d=out["d"], t_en=out["t_en"], alignment=a.matrix[None], style=style,
                   frame_mask=frame_mask))
    if har is not None:
        padded = np.zeros((1, har.shape[1], bucket.stft_frames), np.float32)
        padded[..., : har.shape[-1]] = har
        out.update(run("vocoder", f"frames_{bucket.frames}", asr=out["asr"], f0=out["f0"], n=out["n"], style=style, har=padded,
                       frame_mask=frame_mask))
    return out, a


def real_part(ours: dict, n_tokens: int, n_frames: int) -> dict:
    """Our padded outputs cut to upstream's unpadded shapes."""
    f = 120 * n_frames + 1
    cuts = {"durations": np.s_[:, :n_tokens], "d": np.s_[:, :n_tokens], "t_en": np.s_[..., :n_tokens],
            "asr": np.s_[..., :n_frames], "f0": np.s_[:, : 2 * n_frames], "n": np.s_[:, : 2 * n_frames],
            "magnitude": np.s_[..., :f], "phase": np.s_[..., :f]}
    return {k: ours[k][c] for k, c in cuts.items() if k in ours}


@pytest.mark.parametrize("phonemes", SHORT)
def test_stages_match_upstream(reference, stages, heart, phonemes):
    from kokoro_litert.runtime.voices import style_for

    ids = [reference.vocab[c] for c in phonemes]
    style = style_for(heart, len(ids))
    ref = upstream_trace(reference.model, ids, style)
    ours, a = run_stages(stages, ids, style, SMALL, har=ref["har"])
    np.testing.assert_array_equal(a.pred_dur, ref["pred_dur"])  # rounding sees the same durations
    real = real_part(ours, len(ids) + 2, a.n_frames)
    errors = {k: rel_err(real[k], ref[k]) for k in TOLERANCES}
    print(phonemes, {k: f"{v:.1e}" for k, v in errors.items()})
    assert {k: v for k, v in errors.items() if v > TOLERANCES[k]} == {}


def test_padding_is_inert(reference, stages, heart):
    """Padded positions never reach real ones: garbage ids under the mask, and a larger bucket."""
    from kokoro_litert.runtime.voices import style_for

    ids = [reference.vocab[c] for c in SHORT[1]]
    n = len(ids) + 2
    style = style_for(heart, len(ids))
    predictor = stages[0]
    clean = np.zeros((1, SMALL.tokens), np.int32)
    clean[0, :n] = [0, *ids, 0]
    dirty = clean.copy()
    dirty[0, n:] = np.random.default_rng(0).integers(1, 178, SMALL.tokens - n)
    mask = torch.from_numpy((np.arange(SMALL.tokens) < n).astype(np.float32)[None])
    with torch.no_grad():
        a = predictor(torch.from_numpy(clean), torch.from_numpy(style), mask)
        b = predictor(torch.from_numpy(dirty), torch.from_numpy(style), mask)
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)
        assert not a[k][:, n:].any() if k != "t_en" else not a[k][..., n:].any(), f"{k} nonzero on padding"
    small, sa = run_stages(stages, ids, style, SMALL)
    large, la = run_stages(stages, ids, style, MEDIUM)
    assert sa.n_frames == la.n_frames
    for k, v in real_part(small, n, sa.n_frames).items():
        # a larger bucket changes only summation order (matmuls over more zeros): ~1e-7 relative
        assert rel_err(real_part(large, n, la.n_frames)[k], v) < 1e-5, k


@pytest.mark.parametrize("phonemes,bucket", [(p, SMALL) for p in SHORT[:2]] + [(LONGER, MEDIUM)])
def test_end_to_end_matches_reference(reference, stages, heart, sine_params, phonemes, bucket):
    """stages + host DSP + iSTFT vs TorchReference.synthesize, durations and excitation pinned.

    The excitation is pinned to the same random draw, not zeroed: with zero noise the unvoiced
    harmonic source is a constant, most STFT bins are ~1e-9 and their phase (an input channel of
    the vocoder) is arbitrary rounding noise, different in numpy and torch; that alone drops the
    correlation to ~0.98 even with upstream's own F0. With noise every bin has a defined phase.
    """
    from kokoro_litert.runtime.voices import style_for

    ids = [reference.vocab[c] for c in phonemes]
    style = style_for(heart, len(ids))
    ladder = TWO_BUCKETS if bucket == MEDIUM else SMALL_LADDER
    # durations from our predictor (checked against upstream's rounding in test_stages_match_upstream)
    first = synthesize(torch_runner(stages), ladder, sine_params, ids, style, seed=0)
    excitation = random_excitation(int(first.durations.sum()), seed=1)
    ours = synthesize(torch_runner(stages), ladder, sine_params, ids, style, excitation=excitation)
    assert ours.shapes["prosody"] == bucket.prosody_signature
    with pinned_excitation(excitation):
        ref = reference.synthesize(phonemes, heart, durations=ours.durations)
    # upstream's own (unimposed) prediction rounds to the same durations
    np.testing.assert_array_equal(ours.durations, round_durations(ref.durations_raw))
    assert ours.audio.shape == ref.audio.shape
    corr = float(np.corrcoef(ours.audio, ref.audio)[0, 1])
    print(f"{phonemes}: waveform correlation {corr:.6f}")
    assert corr > WAVE_CORRELATION


def test_bucket_promotion_when_frames_overflow(reference, stages, heart, sine_params):
    """Slow speech overflows the token bucket's frames: prosody/vocoder move up a bucket and the
    predictor's outputs are zero-padded to its T (padded tokens own no frames)."""
    from kokoro_litert.runtime.voices import style_for

    phonemes, speed = SHORT[3], 0.6
    ids = [reference.vocab[c] for c in phonemes]
    style = style_for(heart, len(ids))
    first = synthesize(torch_runner(stages), TWO_BUCKETS, sine_params, ids, style, speed=speed, seed=0)
    assert len(ids) + 2 <= SMALL.tokens and first.durations.sum() > SMALL.frames, "pick a case that overflows"
    assert first.shapes["prosody"] == MEDIUM.prosody_signature
    excitation = random_excitation(int(first.durations.sum()), seed=2)
    ours = synthesize(torch_runner(stages), TWO_BUCKETS, sine_params, ids, style, speed=speed, excitation=excitation)
    with pinned_excitation(excitation):
        ref = reference.synthesize(phonemes, heart, speed=speed, durations=ours.durations)
    # upstream's own rounding at this speed (durations_raw is after the speed division)
    np.testing.assert_array_equal(ours.durations, np.maximum(np.round(ref.durations_raw), 1))
    corr = float(np.corrcoef(ours.audio, ref.audio)[0, 1])
    print(f"speed {speed}: {first.durations.sum()} frames in {first.shapes['prosody']}, waveform correlation {corr:.6f}")
    assert corr > WAVE_CORRELATION


def test_vocoder_runs_at_the_fewest_frames_that_fit(reference, stages, heart, sine_params):
    """Many tokens, few frames (fast speech): prosody needs the 64-token bucket, the vocoder only
    128 frames; prosody's outputs are cut to 128 frames for it, which drops padding only."""
    from kokoro_litert.runtime.voices import style_for

    phonemes, speed = LONGER, 2.0
    ids = [reference.vocab[c] for c in phonemes]
    style = style_for(heart, len(ids))
    first = synthesize(torch_runner(stages), TWO_BUCKETS, sine_params, ids, style, speed=speed, seed=0)
    assert len(ids) + 2 > SMALL.tokens and first.durations.sum() <= SMALL.frames, "pick a case that needs this"
    assert (first.shapes["prosody"], first.shapes["vocoder"]) == (MEDIUM.prosody_signature, "frames_128")
    excitation = random_excitation(int(first.durations.sum()), seed=3)
    ours = synthesize(torch_runner(stages), TWO_BUCKETS, sine_params, ids, style, speed=speed, excitation=excitation)
    with pinned_excitation(excitation):
        ref = reference.synthesize(phonemes, heart, speed=speed, durations=ours.durations)
    corr = float(np.corrcoef(ours.audio, ref.audio)[0, 1])
    print(f"speed {speed}: {first.durations.sum()} frames, vocoder at {first.shapes['vocoder']}, "
          f"waveform correlation {corr:.6f}")
    assert corr > WAVE_CORRELATION


def test_ladder_pick():
    from kokoro_litert.buckets.ladder import DEFAULT_LADDER, LADDER, NoBucketError, parse_ladder, pick

    ladder = DEFAULT_LADDER
    assert ladder.pick_frames(100) == 128 and ladder.pick_frames(129) == 160 and ladder.pick_frames(512) == 512
    assert ladder.pick_frames(1) == 48 and ladder.max_phonemes == 126
    with pytest.raises(NoBucketError):
        ladder.pick_frames(513)
    assert pick(12) == SMALL and pick(32, 128) == SMALL
    assert pick(12, 129) == MEDIUM  # frames overflow promotes the bucket
    assert pick(33) == MEDIUM and pick(128, 512) == LADDER[-1]
    with pytest.raises(NoBucketError, match="split the text"):
        pick(129)
    with pytest.raises(NoBucketError):
        pick(10, 513)
    assert parse_ladder("64x256, 32x128") == TWO_BUCKETS  # vocoder frames: the buckets' own
    assert parse_ladder(ladder.spec) == ladder
    assert parse_ladder("32x128;48,128").vocoder_frames == (48, 128)
    with pytest.raises(ValueError, match="must hold the largest"):
        parse_ladder("32x128;48,64")
    with pytest.raises(ValueError, match="TOKENSxFRAMES"):
        parse_ladder("32-128")
    assert SMALL.stft_frames == 120 * 128 + 1 and SMALL.samples == 128 * 600
