"""The Kokoro API over a stub backend: chunking, joins, timings, odd text. No weights needed.

At the end, `Kokoro.from_bundles` on the tiny bundle (tests/support/tiny_bundle.py): random
weights through the real graphs, so what is checked is the pipeline's contract, not the sound."""

from __future__ import annotations

import numpy as np
import pytest

from kokoro_litert.runtime.api import ChunkTooLong, Kokoro, split_phonemes
from kokoro_litert.runtime.errors import KokoroError


class StubBackend:
    """Two frames per phoneme character, a constant tone per frame; records what it was asked."""

    def __init__(self, max_phonemes=60, max_frames=None):
        self.max_phonemes = max_phonemes
        self.max_frames = max_frames
        self.calls = []

    def synthesize(self, phonemes, voice_pack, speed, seed):
        assert 0 < len(phonemes) <= self.max_phonemes
        durations = np.full(len(phonemes) + 2, 2, dtype=np.int64)
        if self.max_frames and durations.sum() > self.max_frames:
            raise ChunkTooLong(phonemes)
        self.calls.append(phonemes)
        audio = 0.1 * np.sin(np.arange(durations.sum() * 600, dtype=np.float32) / 10)
        return type("Out", (), {"audio": audio.astype(np.float32), "durations": durations})


@pytest.fixture
def voices_dir(tmp_path):
    (tmp_path / "af_test.bin").write_bytes(np.random.default_rng(0).random((510, 1, 256), np.float32).tobytes())
    return tmp_path


def test_sentences_become_chunks_and_nothing_is_dropped(voices_dir):
    backend = StubBackend()
    text = "The first sentence is here. A second one follows! Does a third ask?"
    chunks = list(Kokoro(backend, voices_dir).stream(text, voice="af_test", first_chunk=None))
    assert len(chunks) == 3
    spoken = [w.word for c in chunks for w in c.words]
    assert spoken == ["The", "first", "sentence", "is", "here", "A", "second", "one", "follows",
                      "Does", "a", "third", "ask"]
    starts = [w.start for c in chunks for w in c.words]
    assert starts == sorted(starts)
    assert chunks[1].start == pytest.approx(chunks[0].audio.size / 24000)


def test_over_long_sentences_split_at_clauses_then_words_never_truncated(voices_dir):
    backend = StubBackend(max_phonemes=40)
    text = ("This rather long sentence keeps going, and going, with many words in it "
            "so that it cannot possibly fit in one small bucket of forty phonemes.")
    tts = Kokoro(backend, voices_dir)
    chunks = list(tts.stream(text, voice="af_test", first_chunk=None))
    assert len(chunks) > 2 and all(len(c.phonemes) <= 40 for c in chunks)
    words = [w.word for c in chunks for w in c.words]
    assert words == [w.strip(",.") for w in text.split()]


def test_a_2000_character_word_is_split_at_phoneme_boundaries(voices_dir):
    backend = StubBackend(max_phonemes=50)
    chunks = list(Kokoro(backend, voices_dir).stream("ab" * 1000, voice="af_test", first_chunk=None))
    joined = "".join(backend.calls)
    assert len(chunks) > 1 and all(0 < len(p) <= 50 for p in backend.calls)
    assert not any(p[-1] in "ˈˌ" for p in backend.calls)  # a stress mark stays with its vowel
    assert len(joined) >= 1000


def test_frames_overflow_splits_the_chunk_and_retries(voices_dir):
    backend = StubBackend(max_phonemes=200, max_frames=100)
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    chunks = list(Kokoro(backend, voices_dir).stream(text, voice="af_test", first_chunk=None))
    assert len(chunks) > 1
    assert [w.word for c in chunks for w in c.words] == text.split()


def test_word_timings_follow_durations(voices_dir):
    backend = StubBackend()
    chunk = next(Kokoro(backend, voices_dir).stream("Hi there.", voice="af_test"))
    # stub: 2 frames (50 ms) per phoneme character; token 0 is the leading pad
    first, second = chunk.words
    assert first.start == pytest.approx(0.05)
    assert first.end == pytest.approx(0.05 + 0.05 * len("hˈI"), abs=0.051)
    assert second.start >= first.end


def test_joins_are_faded_and_padded_with_silence(voices_dir):
    chunks = list(Kokoro(StubBackend(), voices_dir).stream("One. Two.", voice="af_test"))
    a = chunks[0].audio
    assert abs(a[0]) < 1e-6 and np.all(a[-int(0.2 * 24000):] == 0)


@pytest.mark.parametrize("text", ["", "   \n\t ", "🙂🙂🙂", "☃"])
def test_nothing_speakable_is_a_clear_error(voices_dir, text):
    with pytest.raises(KokoroError, match="Nothing speakable"):
        list(Kokoro(StubBackend(), voices_dir).stream(text, voice="af_test", first_chunk=None))


def test_mixed_scripts_speak_the_english_and_warn(voices_dir):
    warnings = []
    chunks = list(Kokoro(StubBackend(), voices_dir).stream("Hello 世界 friend 🙂", voice="af_test",
                                                          warn=warnings.append))
    assert [w.word for c in chunks for w in c.words] == ["Hello", "friend"]
    assert warnings


def test_speed_and_voice_are_checked(voices_dir):
    tts = Kokoro(StubBackend(), voices_dir)
    with pytest.raises(KokoroError, match="Speed"):
        list(tts.stream("hi", voice="af_test", speed=2.5))
    with pytest.raises(KokoroError, match="Unknown voice"):
        list(tts.stream("hi", voice="af_missing"))


def test_blend_weights_are_normalized(voices_dir):
    (voices_dir / "af_zero.bin").write_bytes(np.zeros((510, 1, 256), np.float32).tobytes())
    tts = Kokoro(StubBackend(), voices_dir)
    np.testing.assert_allclose(tts.voice("af_test:0.75,af_zero:0.25"), 0.75 * tts.voice("af_test"), rtol=1e-6)


def test_split_phonemes_keeps_every_character():
    phonemes = "ðɪs ɪz wˈʌn. ænd ðɪs, ɪz ɐnˈʌðɚ wˈʌn!"
    pieces = split_phonemes(phonemes, [], max_len=12)
    assert "".join(p.phonemes.replace(" ", "") for p in pieces) == phonemes.replace(" ", "")


def test_a_stream_starts_with_a_short_chunk_and_loses_nothing(voices_dir):
    """The first chunk of a stream ends at a clause within first_chunk phonemes, never between two
    words of a clause; the rest of that sentence follows, every word once; create() keeps
    sentences whole."""
    text = ("When the music finally stopped, the children froze in their funniest poses and waited. "
            "Then they laughed.")
    tts = Kokoro(StubBackend(max_phonemes=120), voices_dir)
    chunks = list(tts.stream(text, voice="af_test", first_chunk=32))  # the comma is 30 phonemes in
    assert chunks[0].text == "When the music finally stopped" and chunks[0].phonemes.endswith(",")
    assert chunks[1].text.startswith("the children")
    words = [w.word for c in chunks for w in c.words]
    assert " ".join(words) == text.replace(",", "").replace(".", "")
    whole = list(tts.stream(text, voice="af_test", first_chunk=None))
    assert len(whole) == len(chunks) - 1
    # the clause mark is out of reach, or there is none: the sentence stays whole
    assert len(list(tts.stream(text, voice="af_test", first_chunk=24))) == len(whole)
    commas = "Nobody expected such a long and winding sentence without any commas at all."
    assert len(list(tts.stream(commas, voice="af_test", first_chunk=12))) == 1


# --------------------------------------------------------------------------- on the tiny bundle


@pytest.mark.parametrize("precision", ["int8", "fp16", "fp32"])
def test_from_bundles_speaks_in_every_precision(tiny, precision):
    """Each precision's three graphs run; the audio is float32, finite, as long as the predicted
    durations (600 samples per frame), and the same for the same seed."""
    from kokoro_litert.buckets import SAMPLES_PER_FRAME

    tts = Kokoro.from_bundles(tiny.bundle, threads=1, precision=precision)
    pack = tts.voice("af_heart")
    out = tts.backend.synthesize("ðə tɹˈeɪn wʌz lˈeɪt.", pack, seed=3)
    assert out.audio.dtype == np.float32 and np.isfinite(out.audio).all() and np.abs(out.audio).max() > 0
    assert out.durations.min() >= 1 and out.audio.size == out.durations.sum() * SAMPLES_PER_FRAME
    np.testing.assert_array_equal(tts.backend.synthesize("ðə tɹˈeɪn wʌz lˈeɪt.", pack, seed=3).audio, out.audio)


def test_from_bundles_has_the_folder_s_voices_and_blends_them(tiny):
    from kokoro_litert.buckets.manifest import Manifest

    tts = Kokoro.from_bundles(tiny.bundle, threads=1)
    names = tts.voice_names()
    assert sorted(names) == sorted(Manifest.load(tiny.bundle).voices)
    assert {name[0] for name in names} >= set("abefhijpz")  # a voice for every language prefix
    blend = tts.voice(f"{names[0]}:0.25,{names[-1]}:0.75")
    np.testing.assert_allclose(blend, 0.25 * tts.voice(names[0]) + 0.75 * tts.voice(names[-1]), rtol=1e-5, atol=1e-7)
    samples, rate = tts.create("Hello there. How are you?", voice=f"{names[0]}:0.5,{names[1]}:0.5", lang="a")
    assert rate == 24000 and samples.dtype == np.float32 and samples.size > rate


def test_a_program_using_the_api_exits_without_litert_teardown_lines(tiny):
    """LiteRT logs "DestroyAccelerator" when its environments go away, the last one after Python has
    finished: none of it reaches the program's stderr, and what the program itself writes there at
    exit still does."""
    import subprocess
    import sys

    program = (
        "import atexit, sys\n"
        "from kokoro_litert.runtime.api import Kokoro\n"
        f"kokoro = Kokoro.from_bundles({str(tiny.bundle)!r})\n"
        "kokoro.create('Hello there.', voice='af_heart')\n"
        "atexit.register(lambda: print('the program says goodbye', file=sys.stderr))\n"
    )
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "DestroyAccelerator" not in run.stderr
    assert run.stderr.strip().splitlines() == ["the program says goodbye"]
