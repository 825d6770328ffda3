"""Cuts inside a sentence: the silence each chunk carries at its edges is trimmed there, and only
there; word timings follow the trimmed audio. A stub backend, no weights needed."""

from __future__ import annotations

import numpy as np
import pytest
from kokoro_litert.runtime.api import JOIN_KEEP, PAUSE_AFTER_SENTENCE, Kokoro

LEAD_PAD = 14  # frames of boundary pad before the first phoneme (Kokoro predicts 13-19)
ONSET = 2  # frames of that pad in which the sound already starts
TRAIL = 4  # frames at the end of the last phoneme that are already silent
FRAME = 600


class PaddedStub:
    """Like Kokoro: silence for most of the leading pad, sound from ONSET frames before the first
    phoneme, 2 frames per phoneme character, the last TRAIL frames and the end pad silent."""

    max_phonemes = 24

    def synthesize(self, phonemes, voice_pack, speed, seed):
        durations = np.array([LEAD_PAD, *([2] * len(phonemes)), 1], dtype=np.int64)
        audio = np.zeros(durations.sum() * FRAME, np.float32)
        sound = slice((LEAD_PAD - ONSET) * FRAME, (durations.sum() - 1 - TRAIL) * FRAME)
        audio[sound] = 0.3 * np.sin(np.arange(sound.stop - sound.start, dtype=np.float32) / 7)
        return type("Out", (), {"audio": audio, "durations": durations})


@pytest.fixture
def voices_dir(tmp_path):
    (tmp_path / "af_test.bin").write_bytes(np.random.default_rng(0).random((510, 1, 256), np.float32).tobytes())
    return tmp_path


def _silence(audio):
    """Samples of (near) silence before the first and after the last sound."""
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    return int(loud[0]), int(audio.size - 1 - loud[-1])


def test_silence_is_trimmed_at_cuts_inside_a_sentence_only(voices_dir):
    text = "one two three four five six seven eight nine ten. Eleven twelve."
    chunks = list(Kokoro(PaddedStub(), voices_dir).stream(text, voice="af_test", first_chunk=None))
    keep = int(JOIN_KEEP * 24000)
    sentence_ends = [i for i, c in enumerate(chunks) if c.phonemes.rstrip().endswith(".")]
    assert len(chunks) >= 4 and sentence_ends[-1] == len(chunks) - 1
    for i, c in enumerate(chunks):
        before, after = _silence(c.audio)
        starts_sentence = i == 0 or i - 1 in sentence_ends
        ends_sentence = i in sentence_ends
        # Leading silence: the pad's, untouched at a sentence start; JOIN_KEEP after a cut
        # (the 5 ms fade makes the first sample or two of the sound count as silence).
        expected_before = (LEAD_PAD - ONSET) * FRAME if starts_sentence else keep
        assert abs(before - expected_before) <= 0.005 * 24000, (i, before, expected_before)
        tail = (TRAIL + 1) * FRAME + int(PAUSE_AFTER_SENTENCE * 24000) if ends_sentence else keep
        assert abs(after - tail) <= 0.005 * 24000, (i, after, tail)
    # Word timings follow: each chunk's first word starts ONSET frames after its sound does.
    clock = 0.0
    for c in chunks:
        before, _ = _silence(c.audio)
        assert c.start == pytest.approx(clock)
        assert c.words[0].start == pytest.approx(clock + (before + ONSET * FRAME) / 24000, abs=0.006)
        assert all(clock <= w.start <= w.end <= clock + c.audio.size / 24000 for w in c.words)
        clock += c.audio.size / 24000
    assert [w.word for c in chunks for w in c.words] == [w.strip(".") for w in text.split()]
