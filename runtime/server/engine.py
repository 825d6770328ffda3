"""One shared `Kokoro` for every client of the server: admission, validation and fair chunk scheduling.

    engine = Engine(tts, capacity=8)
    with engine.admit() as ticket:                  # Busy when `capacity` requests are already in
        utterance = await engine.prepare(text, voice, speed, lang)   # KokoroError on bad input
        async for chunk in engine.synthesize(utterance):             # runtime.api.Chunk, one per sentence
            ...

Responsibilities:

- Admission: at most `capacity` requests are in the server at once (an HTTP request, a Wyoming
  `synthesize`, or a whole Wyoming stream from `synthesize-start` to `synthesize-stopped`). One more
  raises `Busy` with a Retry-After estimate; the protocol layer turns it into a 503 or an error event.
- Validation: runtime/checks.py's checks (text, speed, voice, language) plus the server's own input
  limit, raised as typed `KokoroError`s (runtime/errors.py) before any synthesis, which each protocol
  maps to its errors by type. Phonemization runs on one thread of its own, off the event loop
  (espeak-ng is not re-entrant, so G2P calls are serialized).
- Scheduling: one scheduler thread is the only caller of the model. It pulls one chunk at a time
  from each running utterance in turn (round robin), so a new request's first audio waits for at
  most one chunk of every other request, never for whole requests. It keeps at most `AHEAD` chunks
  ready per utterance that its client has not taken yet (backpressure: a slow reader holds no more
  than that in memory), and a cancelled utterance (its client went away) is dropped before its next
  chunk: its generator is closed and nothing more is synthesized for it.

Synthesis goes only through `Kokoro.stream`: the engine never touches the backend itself.
"""

from __future__ import annotations

import asyncio
import collections
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import AsyncIterator, Iterator

from kokoro_litert.runtime.api import Chunk, Kokoro, speakable
from kokoro_litert.runtime.checks import check_language, check_speed, check_text, check_voice, default_voice
from kokoro_litert.runtime.errors import EmptyInput, InputTooLong, KokoroError, MissingExtra
from kokoro_litert.runtime.text.languages import LANGUAGES, Language, installed

MAX_INPUT_CHARS = 4096  # OpenAI's limit for /v1/audio/speech; the server applies it to every request
AHEAD = 2  # chunks synthesized ahead of a client that has not taken them yet
RETRY_AFTER_MIN, RETRY_AFTER_MAX = 1, 60  # s, bounds of the Retry-After estimate
CHUNK_SECONDS_PRIOR = 1.0  # s per chunk assumed for Retry-After until one has been measured
CHUNK_SECONDS_SMOOTHING = 0.2  # weight of the newest chunk in the running mean of synthesis time


class Busy(Exception):
    """Every place in the server is taken; `retry_after` is an estimate in whole seconds."""

    def __init__(self, capacity: int, retry_after: int):
        self.capacity = capacity
        self.retry_after = retry_after
        held = "1 request is" if capacity == 1 else f"{capacity} requests are"
        super().__init__(f"The server is busy: {held} already being spoken, its limit (--queue). "
                         f"Retry in about {retry_after} s.")


@dataclass(frozen=True)
class Utterance:
    """A validated request: what `Engine.synthesize` speaks."""

    phonemized: object | None
    """What `runtime.api.speakable` returned for the text (phonemes, source words, warnings); None
    when nothing in the text is speakable (see `Engine.prepare`): the utterance is silent."""
    voice: str
    """A voice name or a blend of names, checked against the bundle's voices."""
    speed: float
    """Within runtime.checks' SPEED_MIN..SPEED_MAX."""
    warnings: tuple[str, ...] = field(default=())
    """What the front-end could not speak (emoji, letters of another script), one line each."""


class Ticket:
    """A place in the server, held from admission until the response is finished. Release is idempotent."""

    def __init__(self, engine: "Engine"):
        self._engine = engine
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._engine._release()

    def __enter__(self) -> "Ticket":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


_DONE = object()


class _Job:
    """One utterance being synthesized for one client: the chunk generator, and chunks ready for it."""

    def __init__(self, chunks: Iterator[Chunk], loop: asyncio.AbstractEventLoop):
        self.chunks = chunks
        self.loop = loop
        self.ready: asyncio.Queue = asyncio.Queue()
        self.ahead = 0  # chunks delivered to `ready` and not yet taken (guarded by Engine._cond)
        self.cancelled = False
        self.finished = False

    def deliver(self, item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.ready.put_nowait, item)
        except RuntimeError:  # the event loop is closed: the server is shutting down
            self.cancelled = True


class Engine:
    """Shares one `Kokoro` between every connection of both protocols. See the module docstring."""

    def __init__(self, tts: Kokoro, capacity: int, lexicon=None):
        """lexicon: a user lexicon (runtime.text.UserLexicon) every request is read with (serve --lexicon)."""
        if capacity < 1:
            raise KokoroError(f"A queue of {capacity} requests cannot serve anyone.", "Pass --queue 1 or more.")
        self.tts = tts
        self.lexicon = lexicon
        self.capacity = capacity
        self.voices: tuple[str, ...] = tuple(tts.voice_names())
        self.default_voice = default_voice(self.voices)
        """af_heart, or the folder's first voice when it has no af_heart (an exported folder)."""
        """The bundle's voice names, in its order."""
        self.readable = frozenset(lang.code for lang in LANGUAGES if installed(lang))
        """Codes of the languages this install can read."""
        self._cond = threading.Condition()
        self._jobs: collections.deque[_Job] = collections.deque()
        self._admitted = 0
        self._closed = False
        self._chunk_seconds = CHUNK_SECONDS_PRIOR
        self.stats = collections.Counter()  # chunks, requests, busy, cancelled, failed
        self._g2p = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kokoro-g2p")
        self._thread = threading.Thread(target=self._run, name="kokoro-scheduler", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ admission

    def admit(self) -> Ticket:
        """A place in the server, or `Busy` when `capacity` requests hold one already."""
        with self._cond:
            if self._closed or self._admitted >= self.capacity:
                self.stats["busy"] += 1
                raise Busy(self.capacity, self._retry_after())
            self._admitted += 1
            self.stats["requests"] += 1
        return Ticket(self)

    def _release(self) -> None:
        with self._cond:
            self._admitted -= 1

    def _retry_after(self) -> int:
        # Every admitted request gets one chunk per round, so a place frees up in about one round.
        seconds = self._chunk_seconds * max(self._admitted, 1)
        return int(min(max(math.ceil(seconds), RETRY_AFTER_MIN), RETRY_AFTER_MAX))

    # ------------------------------------------------------------------ validation

    def check(self, text: str, voice: str | None = None, speed: float = 1.0,
              lang: str | None = None) -> tuple[str, Language]:
        """The cheap checks (no G2P): a typed `KokoroError` on bad input, else (voice, language).

        voice: bundle voice names only (never a file path), blends 'a:0.7,b:0.3'; None: `default_voice`.
        lang: a language code or name; None: the (first) voice's own.
        """
        check_text(text)
        if len(text) > MAX_INPUT_CHARS:
            raise InputTooLong(f"The input has {len(text)} characters; the limit is {MAX_INPUT_CHARS}.",
                               f"Split the text into requests of at most {MAX_INPUT_CHARS} characters.",
                               param="input")
        check_speed(speed)
        return self.check_voice(voice, lang)

    def check_voice(self, voice: str | None = None, lang: str | None = None) -> tuple[str, Language]:
        """The voice and language checks alone (a Wyoming stream sends its text later)."""
        voice = check_voice(self.default_voice if voice is None else voice, self.voices)
        self.tts.voice(voice)  # decoded once, kept for the synthesis
        language = check_language(lang, voice)
        if language.code not in self.readable:
            raise MissingExtra(f"This server cannot read {language.label}: its front-end is not installed.",
                               f"pip install 'kokoro-litert[{language.extra}]' on the server and restart it.",
                               param="voice" if lang is None else "lang")
        return voice, language

    async def prepare(self, text: str, voice: str | None = None, speed: float = 1.0,
                      lang: str | None = None, silent_if_unspeakable: bool = False) -> Utterance:
        """Every check, then the text phonemized (off the event loop); a `KokoroError` on bad input.

        Text with nothing speakable in it (only emoji, or a script the language cannot read) raises
        EmptyInput, or with `silent_if_unspeakable` is a silent utterance carrying the reason.
        """
        voice, language = self.check(text, voice, speed, lang)
        loop = asyncio.get_running_loop()
        try:
            phonemized = await loop.run_in_executor(self._g2p, speakable, text, language, "espeak", self.lexicon)
        except EmptyInput as e:  # check() passed, so the text is not blank: nothing in it is speakable
            if not silent_if_unspeakable:
                raise
            return Utterance(None, voice, float(speed), (e.problem,))
        return Utterance(phonemized, voice, float(speed), tuple(phonemized.warnings))

    # ------------------------------------------------------------------ synthesis

    async def synthesize(self, utterance: Utterance) -> AsyncIterator[Chunk]:
        """The utterance's chunks as the scheduler synthesizes them. Closing the iterator early (a
        client that went away) cancels the rest: no further chunk is synthesized for it."""
        if utterance.phonemized is None:
            return
        job = _Job(self.tts.stream(utterance.phonemized, utterance.voice, utterance.speed),
                   asyncio.get_running_loop())
        with self._cond:
            if self._closed:
                raise KokoroError("The server is shutting down.", "Retry against a running server.")
            self._jobs.append(job)
            self._cond.notify()
        try:
            while True:
                item = await job.ready.get()
                with self._cond:
                    job.ahead -= 1
                    self._cond.notify()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            with self._cond:
                if not job.finished:
                    job.cancelled = True
                    self.stats["cancelled"] += 1
                    self._cond.notify()

    def _next_job(self) -> _Job | None:
        """The next job in round-robin order that may get a chunk (or must be dropped); under _cond."""
        for _ in range(len(self._jobs)):
            job = self._jobs[0]
            self._jobs.rotate(-1)
            if job.cancelled or job.ahead < AHEAD:
                return job
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (job := self._next_job()) is None:
                    self._cond.wait()
                if self._closed:
                    break
                drop = job.cancelled
                if drop:
                    self._jobs.remove(job)
                else:
                    job.ahead += 1
            if drop:
                job.chunks.close()  # unwinds the generator at its last yield; synthesizes nothing
                continue
            start = time.perf_counter()
            try:
                item = next(job.chunks)
            except StopIteration:
                item = _DONE
            except Exception as e:  # noqa: BLE001 - handed to the client's side, which reports it
                item = e
                self.stats["failed"] += 1
            else:
                self.stats["chunks"] += 1
                seconds = time.perf_counter() - start
                self._chunk_seconds += CHUNK_SECONDS_SMOOTHING * (seconds - self._chunk_seconds)
            if item is _DONE or isinstance(item, BaseException):
                with self._cond:
                    job.finished = True
                    if job in self._jobs:
                        self._jobs.remove(job)
            job.deliver(item)
        for job in list(self._jobs):
            job.chunks.close()
            job.deliver(KokoroError("The server is shutting down.", "Retry against a running server."))

    # ------------------------------------------------------------------ state

    def status(self) -> dict:
        with self._cond:
            return {"admitted": self._admitted, "capacity": self.capacity, "synthesizing": len(self._jobs),
                    "chunk_seconds": round(self._chunk_seconds, 3), **{k: self.stats[k] for k in
                                                                       ("requests", "chunks", "busy", "cancelled", "failed")}}

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=30)
        self._g2p.shutdown(wait=False, cancel_futures=True)
