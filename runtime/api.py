"""Text in, speech out: chunking, streaming, voices, speed and word timings over a synthesis backend.

    tts = Kokoro.from_bundles(bundles_dir)      # or Kokoro(backend, voices): any runtime.backend.Backend
    samples, sample_rate = tts.create("Hello there.", voice="af_heart", speed=1.0)
    for chunk in tts.stream(long_text): ...     # chunk.audio, chunk.text, chunk.words (start/end s)

A backend raises `ChunkTooLong` when a chunk's predicted frames overflow its largest bucket; the
chunk is then split and retried. One `Kokoro` may be shared by threads: calls into the backend are
serialized (one chunk at a time), everything else is per call.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterator

import numpy as np

from kokoro_litert.buckets import SAMPLE_RATE, SAMPLES_PER_FRAME

from .backend import Backend, ChunkTooLong
from .checks import DEFAULT_VOICE, check_language, check_speed
from .errors import EmptyInput, KokoroError
from .live_text import Segmenter
from .text import limit_rates
from .text.g2p import FALLBACKS
from .text.languages import language
from .voices import FolderVoices, load_voice

SENTENCE_END = ".!?…"
CLAUSE_END = ",;:—"
PAUSE_AFTER_SENTENCE = 0.20  # s of silence inserted after a sentence ends
PAUSE_AFTER_CLAUSE = 0.08  # s after a clause split of an over-long sentence
EDGE_FADE = 0.005  # s raised-cosine fade at both ends of every chunk: no clicks at the joins
# Where a sentence had to be cut into several chunks, each chunk is still synthesized as a whole
# utterance: its leading boundary pad is 13-19 frames (0.3-0.5 s) of silence and its last phoneme
# trails off for another 0.1-0.5 s. Left in, every cut became a long pause in mid-sentence (on the
# dev set at 32 tokens: 254 s of audio instead of PyTorch's 188 s, and Whisper WER 3.5% vs 0.4%).
# So at a cut inside a sentence the silence on both sides is trimmed to JOIN_KEEP: silence is
# what stays below JOIN_SILENCE_DB of the chunk's peak in 5 ms windows. Speech starts up to
# ~115 ms before the first phoneme token (median 50 ms), so the leading cut never reaches into it.
JOIN_SILENCE_DB = -50.0
JOIN_KEEP = 0.025  # s of silence kept on each side of a cut inside a sentence
STRESS_MARKS = "ˈˌ"
FIRST_CHUNK_PHONEMES = 36
"""A stream's first chunk ends at the first sentence's last clause mark within this many phonemes,
if it has one: with its leading boundary pad that is at most ~120 frames, which the vocoder runs
in its 128-frame size or less, so the first audio is ready in a fraction of the time a whole first
sentence takes."""


UNIT_ENDS = {"clause": (PAUSE_AFTER_CLAUSE, True), "words": (0.0, True)}
"""How a live unit that ended inside its sentence is joined to the next: as a whole text's clause
or word cut is (a unit that ends a sentence keeps its sentence pause)."""
PAUSE_FLUSH = 1.0
"""s without a new piece of live text after which what has arrived is spoken (a pause in a pipe)."""
_END = object()


def _read_ahead(pieces: Iterator[str]) -> Iterator[str | None]:
    """The pieces, read on a thread of their own so a slow source and synthesis overlap; None
    whenever PAUSE_FLUSH seconds pass without a new one."""
    import queue as queue_module

    arrived: queue_module.Queue = queue_module.Queue()

    def read():
        try:
            for piece in pieces:
                arrived.put(piece)
            arrived.put(_END)
        except BaseException as e:  # the source's own error, raised in the reader below
            arrived.put(e)

    threading.Thread(target=read, name="kokoro-live-text", daemon=True).start()
    while True:
        try:
            piece = arrived.get(timeout=PAUSE_FLUSH)
        except queue_module.Empty:
            yield None
            continue
        if piece is _END:
            return
        if isinstance(piece, BaseException):
            raise piece
        if not isinstance(piece, str):
            raise TypeError(f"live text pieces must be str, got {type(piece).__name__}")
        yield piece


VOICE_CACHE_SIZE = 32
"""Voice packs (and blends) kept decoded per Kokoro instance; 0.5 MB each."""


@dataclass
class WordTiming:
    word: str
    start: float  # seconds from the start of the whole output
    end: float


@dataclass
class Chunk:
    index: int
    text: str
    phonemes: str
    audio: np.ndarray  # float32 at 24 kHz, including the pause that follows the chunk
    start: float  # seconds from the start of the whole output
    words: list[WordTiming] = field(default_factory=list)


@dataclass
class _Piece:
    phonemes: str
    words: list[tuple[int, int, str]]  # (start char, end char, source text) within `phonemes`
    pause: float  # s of silence after it
    trim_after: bool = True  # a cut inside a sentence: the silence at the join is trimmed to JOIN_KEEP
    rate: float = 1.0  # times the call's speed (SSML prosody rate)


def _word_spans(phonemes: str, words) -> list[tuple[int, int, str]]:
    """(start, end, source text) of each spoken word in the phoneme string.

    Words normalized from one source token ("$3.50" -> three dollars and fifty cents) are merged
    back into one timed word.
    """
    spans: list[tuple[int, int, str]] = []
    cursor = 0
    for w in words:
        if not w.phonemes.strip() or not any(ch.isalpha() for ch in w.phonemes):
            continue  # punctuation-only tokens carry no timing
        at = phonemes.find(w.phonemes, cursor)
        if at < 0:
            continue
        end = at + len(w.phonemes)
        # one source token read as several words: "$3.50" -> three dollars..., <sub>WWW</sub> -> World Wide Web
        if spans and spans[-1][2] == w.text and (not w.text.isalpha() or w.normalized not in ("", w.text)):
            spans[-1] = (spans[-1][0], end, w.text)
        else:
            spans.append((at, end, w.text))
        cursor = end
    return spans


def _cut_points(phonemes: str, marks: str) -> list[int]:
    """Positions just after a mark (and its trailing space) where a chunk may end."""
    return [m.end() for m in re.finditer(f"[{re.escape(marks)}]+[\"”)]*( |$)", phonemes)]


def split_phonemes(phonemes: str, spans, max_len: int, breaks=(), rates=()) -> list[_Piece]:
    """Sentences first; an over-long sentence at clauses, then spaces, then any phoneme boundary.

    breaks: `Break`s, more places a chunk ends, where no mark shows one (Hindi's danda, a pause
    asked for in the text), each with its own pause; rates: `Rate`s, stretches spoken at another
    speed (a chunk takes the rate of the stretch it starts in)."""
    ends = {c: None for c in _cut_points(phonemes, SENTENCE_END)}  # offset -> pause (None: a sentence's)
    for b in breaks:
        at = b.at
        while at < len(phonemes) and phonemes[at] == " ":
            at += 1  # where a mark's cut would be: after the space
        ends[at] = b.pause
    pieces: list[_Piece] = []
    if ends.get(0) is not None:  # a pause before the first word: a chunk of silence
        pieces.append(_Piece("", [], ends[0]))
    start = 0
    for end in sorted(c for c in ends if 0 < c < len(phonemes)) + [len(phonemes)]:
        if end <= start:
            continue
        rate = next((r.factor for r in rates if r.start <= start < r.end), 1.0)
        sentence = _split_long(phonemes, start, end, max_len, spans)
        for piece in sentence:
            piece.rate = rate
        pause = ends.get(end)
        if sentence and pause is not None:
            sentence[-1].pause, sentence[-1].trim_after = pause, True
        pieces.extend(sentence)
        start = end
    return [p for p in pieces if p.phonemes.strip() or p.pause]


def _cut(phonemes: str, start: int, end: int, max_len: int) -> tuple[int, float]:
    """Where a chunk starting at `start` ends (<= start + max_len), and the pause after it."""
    if end - start <= max_len:
        return end, PAUSE_AFTER_SENTENCE
    window = phonemes[start : start + max_len + 1]
    clause = [c for c in _cut_points(window, CLAUSE_END) if 0 < c <= max_len]
    if clause:
        return start + clause[-1], PAUSE_AFTER_CLAUSE
    space = [m.end() for m in re.finditer(" ", window) if 0 < m.end() <= max_len]
    if space:
        return start + space[-1], 0.0
    stop = start + max_len  # one enormous word: cut at a phoneme boundary, never after a stress mark
    while stop - 1 > start and phonemes[stop - 1] in STRESS_MARKS:
        stop -= 1
    return stop, 0.0


def _piece(phonemes: str, start: int, stop: int, spans, pause: float) -> _Piece:
    text = phonemes[start:stop]
    lead = len(text) - len(text.lstrip())
    piece_spans = [(max(s, start) - start - lead, min(e, stop) - start - lead, w)
                   for s, e, w in spans if s < stop and e > start]
    return _Piece(text.strip(), [(s, e, w) for s, e, w in piece_spans if e > s], pause,
                  trim_after=pause < PAUSE_AFTER_SENTENCE)


def _split_long(phonemes: str, start: int, end: int, max_len: int, spans) -> list[_Piece]:
    out = []
    while start < end:
        stop, pause = _cut(phonemes, start, end, max_len)
        out.append(_piece(phonemes, start, stop, spans, pause))
        start = stop
    return out


def _split_first(pieces: list[_Piece], limit: int | None) -> list[_Piece]:
    """The first piece cut at its last clause mark within `limit` phonemes, so the first audio of a
    stream comes from a short chunk; the rest of its sentence follows as the second piece. Only at
    a clause: a cut between two words of a clause measurably hurt intelligibility (dev set,
    Whisper tiny.en: WER 0.62% -> 1.87% with every sentence cut at a word within 24 phonemes)."""
    if not pieces or limit is None or len(pieces[0].phonemes) <= limit:
        return pieces
    first = pieces[0]
    clause = [c for c in _cut_points(first.phonemes[: limit + 1], CLAUSE_END) if 0 < c <= limit]
    if not clause:
        return pieces
    head = _piece(first.phonemes, 0, clause[-1], first.words, PAUSE_AFTER_CLAUSE)
    tail = _piece(first.phonemes, clause[-1], len(first.phonemes), first.words, first.pause)
    head.rate = tail.rate = first.rate
    tail.trim_after = first.trim_after
    return [p for p in (head, tail) if p.phonemes] + pieces[1:]


def _sound_bounds(audio: np.ndarray) -> tuple[int, int]:
    """First and one-past-last sample of the 5 ms windows louder than JOIN_SILENCE_DB re the peak."""
    width = int(0.005 * SAMPLE_RATE)
    n = audio.size // width
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if n == 0 or peak == 0.0:
        return 0, audio.size
    rms = np.sqrt(np.mean(np.square(audio[: n * width].reshape(n, width), dtype=np.float64), axis=1))
    loud = np.flatnonzero(rms > peak * 10 ** (JOIN_SILENCE_DB / 20))
    return int(loud[0]) * width, min(audio.size, (int(loud[-1]) + 1) * width)


def _trim_cut(audio: np.ndarray, lead_pad_frames: int, cut_before: bool, cut_after: bool) -> tuple[np.ndarray, int]:
    """A chunk's audio with the silence at a cut inside its sentence trimmed; and the samples cut from
    its start (never more than its leading boundary pad, so word timings stay non-negative)."""
    if not (cut_before or cut_after):
        return audio, 0
    first, last = _sound_bounds(audio)
    keep = int(JOIN_KEEP * SAMPLE_RATE)
    lead = min(max(0, first - keep), lead_pad_frames * SAMPLES_PER_FRAME) if cut_before else 0
    end = min(audio.size, last + keep) if cut_after else audio.size
    return audio[lead:max(end, lead)], lead


def _fade_edges(audio: np.ndarray) -> np.ndarray:
    n = min(int(EDGE_FADE * SAMPLE_RATE), audio.size // 2)
    if n > 1:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n, dtype=np.float32))
        audio = audio.copy()
        audio[:n] *= ramp
        audio[-n:] *= ramp[::-1]
    return audio


def speakable(text: str, lang: str = "a", fallback: str = "espeak", lexicon=None):
    """`phonemize(text, lang)`, or `EmptyInput` naming what was skipped when nothing in it can be spoken.

    The error comes before any warning is reported, so a CLI prints one line for unspeakable input.
    lang: a language code or name (runtime/text/languages.py).
    fallback: English only, what reads words outside the lexicon, "espeak" or "spell" (letter by
    letter, what the Android demo does).
    """
    from .text import phonemize

    lang = language(lang)
    if fallback not in FALLBACKS:
        raise KokoroError(f"Unknown fallback {fallback!r}.", f"Use one of {', '.join(FALLBACKS)}.", param="fallback")
    result = phonemize(text, lang=lang.code, fallback=fallback, lexicon=lexicon)
    if not result.phonemes.strip() and not any(b.pause for b in result.breaks):
        skipped = f" ({'; '.join(result.warnings)})" if result.warnings else ""
        raise EmptyInput(f"Nothing speakable in the input{skipped}.",
                         f"Pass text with {lang.label} words in it.", param="input")
    return result


class Kokoro:
    """Speaks text in Kokoro's nine languages through a synthesis backend. See the module docstring."""

    def __init__(self, backend: Backend, voices):
        """voices: a VoiceLibrary (runtime.voices) or a folder of NAME.bin voice packs."""
        self.backend = backend
        self.voices = voices if hasattr(voices, "pack") else FolderVoices(voices)
        self._voice_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._voice_lock = threading.Lock()
        self._synthesis_lock = threading.Lock()

    @classmethod
    def from_bundles(cls, bundles_dir: str | Path, threads: int | None = None, precision: str | None = None,
                     **backend_options) -> "Kokoro":
        """A bundle folder (what `kokoro-litert convert` writes): graphs, voices, manifest. Nothing else.

        threads: CPU threads (default: all cores); precision: one the folder has (default: its default).
        """
        from .litert import LiteRTBackend

        backend = LiteRTBackend(bundles_dir, threads=threads, precision=precision, **backend_options)
        return cls(backend, backend.bundle.voices)

    def voice_names(self) -> list[str]:
        return self.voices.names()

    def voice(self, spec: str) -> np.ndarray:
        """A voice pack by name, path or blend (see runtime.voices.load_voice); the last few are kept."""
        with self._voice_lock:
            if spec in self._voice_cache:
                self._voice_cache.move_to_end(spec)
                return self._voice_cache[spec]
        pack = load_voice(spec, self.voices)
        with self._voice_lock:
            self._voice_cache[spec] = pack
            while len(self._voice_cache) > VOICE_CACHE_SIZE:
                self._voice_cache.popitem(last=False)
        return pack

    def create(self, text, voice: str = DEFAULT_VOICE, speed: float = 1.0, lang: str | None = None,
               seed: int = 0, lexicon=None) -> tuple[np.ndarray, int]:
        """All the audio at once (sentences whole: no short first chunk, nothing streams)."""
        chunks = [c.audio for c in self.stream(text, voice, speed, lang, seed, first_chunk=None, lexicon=lexicon)]
        return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), SAMPLE_RATE

    def stream(self, text, voice: str = DEFAULT_VOICE, speed: float = 1.0, lang: str | None = None,
               seed: int = 0, warn=None, progress=None,
               first_chunk: int | None = FIRST_CHUNK_PHONEMES, lexicon=None) -> Iterator[Chunk]:
        """Chunks as they are synthesized: nothing is synthesized before the caller asks for a chunk.

        text: a string; what `speakable(text, lang)` returned for one (then `lang` is unused), so a
        caller can reject unspeakable input before it builds a backend; or an iterable of text
        pieces as they arrive (an LLM's tokens): each sentence (the first: each clause) is spoken
        as soon as it is complete, without waiting for the rest (runtime/live_text.py; for an
        async iterable use `astream`).
        lang: a language code or name; None: the voice's own (its first letter: "ef_dora" reads
        Spanish; a blend, its first voice's), American English for a voice file without one.
        first_chunk: cut the first chunk to at most this many phonemes (None: sentences whole).
        lexicon: a user lexicon (runtime.text.user_lexicon.UserLexicon) that wins over the built-in one.
        """
        speed = check_speed(speed)
        pack = self.voice(voice)
        lang = check_language(lang, voice)
        if isinstance(text, str) or hasattr(text, "phonemes"):
            result = speakable(text, lang, lexicon=lexicon) if isinstance(text, str) else text
            pieces = self._pieces(result, speed, first_chunk, warn)
        elif hasattr(text, "__aiter__"):
            raise TypeError("stream() reads a string or an iterable of strings; use astream() for an async iterable")
        else:
            pieces, progress = self._live_pieces(text, lang, speed, first_chunk, warn, lexicon), None
        yield from self._synthesize_pieces(pieces, pack, speed, seed, progress)

    async def astream(self, text, voice: str = DEFAULT_VOICE, speed: float = 1.0, lang: str | None = None,
                      seed: int = 0, warn=None, first_chunk: int | None = FIRST_CHUNK_PHONEMES,
                      lexicon=None) -> AsyncIterator[Chunk]:
        """`stream` for asyncio: text may also be an async iterable of pieces. Synthesis runs on a
        worker thread, so the event loop stays free while a chunk is made."""
        import asyncio
        import queue as queue_module

        loop = asyncio.get_running_loop()
        pump = None
        if hasattr(text, "__aiter__"):
            pieces: queue_module.Queue = queue_module.Queue()
            source = text

            async def feed():
                try:
                    async for piece in source:
                        pieces.put(piece)
                finally:
                    pieces.put(_END)

            pump = asyncio.ensure_future(feed())
            text = iter(pieces.get, _END)
        chunks = self.stream(text, voice, speed, lang, seed, warn, None, first_chunk, lexicon)
        try:
            while (chunk := await loop.run_in_executor(None, next, chunks, _END)) is not _END:
                yield chunk
        finally:
            chunks.close()
            if pump is not None:
                pump.cancel()

    def _pieces(self, result, speed: float, first_chunk: int | None, warn, first: bool = True) -> list[_Piece]:
        """A phonemized text's chunks, its warnings reported (rates kept within the speed range)."""
        rates, rate_warnings = limit_rates(result.rates, speed)
        for message in [*result.warnings, *rate_warnings]:
            if warn:
                warn(message)
        spans = _word_spans(result.phonemes, result.words)
        pieces = split_phonemes(result.phonemes, spans, self.backend.max_phonemes, result.breaks, rates)
        return _split_first(pieces, first_chunk) if first else pieces

    def _live_pieces(self, text_pieces, lang, speed: float, first_chunk: int | None, warn, lexicon) -> Iterator[_Piece]:
        """Chunks of text arriving in pieces, unit by unit (runtime/live_text.py), as they complete.
        A unit with nothing speakable in it is skipped with a warning; a stream with nothing
        speakable at all ends in `EmptyInput`."""
        segmenter = Segmenter(lang.code)
        spoken = 0

        def units():
            for piece in _read_ahead(iter(text_pieces)):
                yield from segmenter.flush() if piece is None else segmenter.push(piece)
            yield from segmenter.finish()

        for unit in units():
            try:
                result = speakable(unit.text, lang, lexicon=lexicon)
            except EmptyInput as e:
                if warn:
                    warn(str(e))
                continue
            pieces = self._pieces(result, speed, first_chunk, warn, first=spoken == 0)
            if pieces and unit.end in UNIT_ENDS:
                pieces[-1].pause, pieces[-1].trim_after = UNIT_ENDS[unit.end]
            spoken += len(pieces)
            yield from pieces
        if not spoken:
            raise EmptyInput("Nothing speakable in the input.", f"Pass text with {lang.label} words in it.",
                             param="input")

    def stream_phonemes(self, phonemes: str, voice: str = DEFAULT_VOICE, speed: float = 1.0,
                        seed: int = 0, progress=None, first_chunk: int | None = None) -> Iterator[Chunk]:
        """Chunks of a phoneme string (sentences whole unless first_chunk is given)."""
        speed = check_speed(speed)
        pack = self.voice(voice)
        spans = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", phonemes)]
        pieces = _split_first(split_phonemes(phonemes, spans, self.backend.max_phonemes), first_chunk)
        yield from self._synthesize_pieces(pieces, pack, speed, seed, progress)

    def _synthesize_pieces(self, pieces, pack, speed: float, seed: int, progress=None) -> Iterator[Chunk]:
        """Chunks for pieces (a list, or an iterator read one piece at a time as they are needed)."""
        clock = 0.0
        queue: list[_Piece] = list(pieces) if isinstance(pieces, list) else []
        source = iter(()) if isinstance(pieces, list) else iter(pieces)
        index = 0
        cut_before = False  # the previous chunk ended inside a sentence
        while queue or (queue := [p for p in [next(source, None)] if p is not None]):
            piece = queue.pop(0)
            if not piece.phonemes:  # a pause asked for before any word: silence only
                yield Chunk(index, "", "", np.zeros(int(piece.pause * SAMPLE_RATE), np.float32), clock)
                clock += int(piece.pause * SAMPLE_RATE) / SAMPLE_RATE
                index += 1
                cut_before = True
                continue
            try:
                with self._synthesis_lock:
                    out = self.backend.synthesize(piece.phonemes, pack, speed * piece.rate, seed + index)
            except ChunkTooLong:
                halves = _split_long(piece.phonemes, 0, len(piece.phonemes), max(len(piece.phonemes) // 2, 1),
                                     piece.words)
                halves[-1].pause, halves[-1].trim_after = piece.pause, piece.trim_after
                for half in halves:
                    half.rate = piece.rate
                queue[:0] = halves
                continue
            cut_after = piece.trim_after
            audio, lead = _trim_cut(np.asarray(out.audio, dtype=np.float32), int(out.durations[0]), cut_before,
                                    cut_after)
            audio = _fade_edges(audio)
            frames = np.concatenate([[0], np.cumsum(out.durations)])
            words = []
            for s, e, w in piece.words:
                # phoneme character j is token j + 1 (token 0 is the leading boundary pad)
                t0 = (frames[min(s + 1, len(frames) - 1)] * SAMPLES_PER_FRAME - lead) / SAMPLE_RATE
                t1 = (frames[min(e + 1, len(frames) - 1)] * SAMPLES_PER_FRAME - lead) / SAMPLE_RATE
                end = audio.size / SAMPLE_RATE
                words.append(WordTiming(w, clock + min(t0, end), clock + min(t1, end)))
            pause = np.zeros(int(piece.pause * SAMPLE_RATE), np.float32)
            chunk_audio = np.concatenate([audio, pause])
            yield Chunk(index, " ".join(w for _, _, w in piece.words), piece.phonemes, chunk_audio, clock, words)
            clock += chunk_audio.size / SAMPLE_RATE
            index += 1
            cut_before = cut_after
            if progress:  # a list of pieces: the total is known
                progress(index, index + len(queue))
