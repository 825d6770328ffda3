"""Text that arrives in pieces: the segmenter's cuts, and `Kokoro.stream`/`astream` over a stub backend
whose audio depends on the chunk's phonemes, speed and seed (so equal audio means equal chunks)."""

from __future__ import annotations

import asyncio
import time
import zlib

import numpy as np
import pytest

from kokoro_litert.runtime import api
from kokoro_litert.runtime.api import Kokoro
from kokoro_litert.runtime.errors import EmptyInput
from kokoro_litert.runtime.live_text import MAX_WORDS, Segmenter


class PhonemeStub:
    """Two frames per phoneme; noise seeded by (phonemes, speed, seed): any difference shows."""

    max_phonemes = 120

    def __init__(self):
        self.calls = []

    def synthesize(self, phonemes, voice_pack, speed, seed):
        self.calls.append(phonemes)
        durations = np.full(len(phonemes) + 2, 2, dtype=np.int64)
        rng = np.random.default_rng(zlib.crc32(f"{phonemes}|{speed}|{seed}".encode()))
        audio = (0.1 * rng.standard_normal(durations.sum() * 600)).astype(np.float32)
        return type("Out", (), {"audio": audio, "durations": durations})


@pytest.fixture
def tts(tmp_path):
    for name in ("af_test", "ef_test", "zf_test"):
        (tmp_path / f"{name}.bin").write_bytes(np.random.default_rng(0).random((510, 1, 256), np.float32).tobytes())
    return Kokoro(PhonemeStub(), tmp_path)


def tokens(text: str, size: int = 2):
    """The text as an LLM sends it: a few words (or characters) per token."""
    if " " not in text.strip():
        return [text[i:i + size] for i in range(0, len(text), size)]
    words = text.split(" ")
    return [" ".join(words[i:i + size]) + (" " if i + size < len(words) else "") for i in range(0, len(words), size)]


def units(text: str, lang: str = "a", size: int = 2) -> list[tuple[str, str]]:
    seg = Segmenter(lang)
    out = [(u.end, u.text) for piece in tokens(text, size) for u in seg.push(piece)]
    return out + [(u.end, u.text) for u in seg.finish()]


# -- the segmenter -----------------------------------------------------------------------------------

def test_a_short_first_sentence_is_not_cut_at_its_clause():
    assert units("Open the window, please. Thanks.") == [("sentence", "Open the window, please."),
                                                        ("final", "Thanks.")]


def test_first_clause_then_sentences():
    text = "The morning train was late again, so Maria walked. She was tired, but happy. The end"
    assert units(text) == [("clause", "The morning train was late again,"), ("sentence", "so Maria walked."),
                           ("sentence", "She was tired, but happy."), ("final", "The end")]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_the_cuts_do_not_depend_on_how_the_text_is_split(size):
    text = "Dr. Smith paid $3.50 at 3:30 p.m. on Thursday. Then he left, quietly! Why? Because."
    assert units(text, size=size) == units(text, size=1000)


def test_abbreviations_decimals_and_lowercase_continuations_are_not_sentence_ends():
    assert units("Dr. Smith met J. R. Jones at 3.50 p.m. on time. Next.")[0] == \
        ("sentence", "Dr. Smith met J. R. Jones at 3.50 p.m. on time.")


def test_a_run_without_marks_is_cut_before_a_phrase_start():
    text = " ".join(["word"] * 10) + " and " + " ".join(["more"] * 10)
    first = units(text)[0]
    assert first == ("words", " ".join(["word"] * 10)) and len(first[1].split()) <= MAX_WORDS


def test_chinese_and_japanese_cut_at_their_own_marks_without_spaces():
    assert units("早上的火车又晚点了，所以玛丽亚走路去了办公室。村子里有喷泉。", "z", 1) == [
        ("clause", "早上的火车又晚点了，"), ("sentence", "所以玛丽亚走路去了办公室。"), ("sentence", "村子里有喷泉。")]


def test_spanish_questions_and_hindi_dandas_end_sentences():
    assert units("Hola a todos, mis queridos amigos de siempre. ¿Qué tal? Bien.", "e") == [
        ("clause", "Hola a todos,"), ("sentence", "mis queridos amigos de siempre."), ("sentence", "¿Qué tal?"),
        ("final", "Bien.")]
    assert [u for _, u in units("वह आया। फिर गया। ठीक है", "h")] == ["वह आया।", "फिर गया।", "ठीक है"]


def test_markup_is_never_cut_open():
    text = "Say [Kokoro. Now](/kˈOkəɹO/) twice. Then stop."
    assert units(text, size=1)[0] == ("sentence", "Say [Kokoro. Now](/kˈOkəɹO/) twice.")


# -- Kokoro.stream over pieces -------------------------------------------------------------------------

def test_a_token_stream_sounds_exactly_like_the_whole_text(tts):
    text = "The morning train was late again, so Maria walked the last mile. She counted steps. It rained."
    whole = list(tts.stream(text, voice="af_test"))
    live = list(tts.stream(iter(tokens(text)), voice="af_test"))
    assert [c.phonemes for c in live] == [c.phonemes for c in whole]
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(live, whole))
    assert [w.word for c in live for w in c.words] == [w.word for c in whole for w in c.words]


def test_a_stream_that_stops_mid_sentence_speaks_what_arrived(tts):
    chunks = list(tts.stream(iter(["Hello there", " my friend, how are", " you"]), voice="af_test"))
    assert [w.word for c in chunks for w in c.words] == ["Hello", "there", "my", "friend", "how", "are", "you"]


def test_the_first_audio_comes_before_the_text_ends(tts):
    def slow():
        yield "The first clause is here, "
        yield "and then the "  # enough words after the clause to know the sentence is long
        time.sleep(0.3)
        yield "rest comes later."

    started = time.perf_counter()
    stream = tts.stream(slow(), voice="af_test")
    first = next(stream)
    assert first.phonemes.endswith(",") and time.perf_counter() - started < 0.3
    assert len(list(stream)) == 1


def test_a_pause_in_the_source_speaks_what_has_arrived(tts, monkeypatch):
    monkeypatch.setattr(api, "PAUSE_FLUSH", 0.1)

    def typed():
        yield "no mark here yet"
        time.sleep(0.5)
        yield " and then more."

    chunks = []
    for chunk in tts.stream(typed(), voice="af_test"):
        chunks.append((time.perf_counter(), chunk))
    assert [c.words[0].word for _, c in chunks] == ["no", "and"]


def test_language_follows_the_voice_in_a_stream(tts):
    chunks = list(tts.stream(iter(["Hola a ", "todos, ", "amigos."]), voice="ef_test"))
    assert chunks[0].phonemes == "ˈola a tˈoðos, amˈiɣos."


def test_a_source_error_reaches_the_caller(tts):
    def broken():
        yield "Hello there. "
        raise RuntimeError("the LLM went away")

    with pytest.raises(RuntimeError, match="went away"):
        list(tts.stream(broken(), voice="af_test"))


def test_nothing_speakable_in_a_stream_is_an_error(tts):
    with pytest.raises(EmptyInput):
        list(tts.stream(iter(["😀", " "]), voice="af_test"))


def test_astream_reads_an_async_iterable(tts):
    text = "The first part is here, and then the second part follows on and on. And a third."

    async def llm():
        for piece in tokens(text):
            await asyncio.sleep(0)
            yield piece

    async def collect():
        return [c async for c in tts.astream(llm(), voice="af_test")]

    chunks = asyncio.run(collect())
    whole = list(tts.stream(text, voice="af_test"))
    assert [c.phonemes for c in chunks] == [c.phonemes for c in whole]
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(chunks, whole))


def test_stream_refuses_an_async_iterable_with_the_remedy(tts):
    async def gen():
        yield "x"

    with pytest.raises(TypeError, match="astream"):
        list(tts.stream(gen(), voice="af_test"))
