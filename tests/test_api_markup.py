"""Markup through the API over a stub backend: pauses insert exactly the silence asked for, words after a
pause move by it, substitutions keep the original word, rates change the speed of their stretch."""

from __future__ import annotations

import numpy as np
import pytest

from kokoro_litert.buckets import SAMPLE_RATE, SAMPLES_PER_FRAME
from kokoro_litert.runtime.api import Kokoro


class SpeechStub:
    """Per chunk: 10 frames of silence, two loud frames per phoneme, 10 frames of silence; records speed."""

    max_phonemes = 120

    def __init__(self):
        self.speeds = []

    def synthesize(self, phonemes, voice_pack, speed, seed):
        self.speeds.append((phonemes, speed))
        durations = np.array([10] + [2] * len(phonemes) + [10], dtype=np.int64)
        audio = np.zeros(durations.sum() * SAMPLES_PER_FRAME, np.float32)
        audio[10 * SAMPLES_PER_FRAME:-10 * SAMPLES_PER_FRAME] = 0.3
        return type("Out", (), {"audio": audio, "durations": durations})


@pytest.fixture
def tts(tmp_path):
    (tmp_path / "af_test.bin").write_bytes(np.random.default_rng(0).random((510, 1, 256), np.float32).tobytes())
    return Kokoro(SpeechStub(), tmp_path)


def _audio(tts, text):
    chunks = list(tts.stream(text, voice="af_test", first_chunk=None))
    return np.concatenate([c.audio for c in chunks]), [w for c in chunks for w in c.words]


@pytest.mark.parametrize("mark", ["[pause:0.5s]", "[pause:500ms]", '<break time="500ms"/>'])
def test_a_pause_inserts_exactly_the_silence_asked_for(tts, mark):
    text = f"Hello there {mark} my friend."
    if mark.startswith("<"):
        text, zero = f"<speak>{text}</speak>", '<speak>Hello there <break time="0ms"/> my friend.</speak>'
    else:
        zero = "Hello there [pause:0s] my friend."
    with_pause, words = _audio(tts, text)
    without, words0 = _audio(tts, zero)
    assert with_pause.size - without.size == int(0.5 * SAMPLE_RATE)  # exact, well within one frame
    shift = {w.word: round(w.start - w0.start, 4) for w, w0 in zip(words, words0)}
    assert shift == {"Hello": 0.0, "there": 0.0, "my": 0.5, "friend": 0.5}


def test_a_pause_before_the_first_word_is_silence(tts):
    audio, words = _audio(tts, "[pause:1s] Hello.")
    assert not audio[: SAMPLE_RATE].any() and words[0].start >= 1.0


def test_a_substituted_word_keeps_the_original_in_the_timestamps(tts):
    _, words = _audio(tts, '<speak>Visit the <sub alias="World Wide Web">WWW</sub> today.</speak>')
    assert [w.word for w in words] == ["Visit", "the", "WWW", "today"]


def test_a_prosody_rate_changes_only_its_stretch(tts):
    list(tts.stream('<speak><s>Slow start.</s><prosody rate="x-fast">Quick middle part.</prosody> End.</speak>',
                    voice="af_test", speed=1.0, first_chunk=None))
    speeds = [speed for _, speed in tts.backend.speeds]
    assert speeds[0] == 1.0 and speeds[1] > 1.0 and speeds[-1] == 1.0


def test_a_rate_is_kept_within_the_speed_range_with_a_warning(tts):
    warnings = []
    list(tts.stream('<speak><prosody rate="x-fast">Very quick.</prosody></speak>', voice="af_test", speed=2.0,
                    warn=warnings.append))
    assert max(speed for _, speed in tts.backend.speeds) <= 2.0
    assert any("rate" in w for w in warnings)
