"""Wyoming (Home Assistant) TTS over the shared `Engine`: describe, synthesize, and text streaming.

Events handled, after wyoming-piper's handler (the reference server):

- `describe` -> `info`: one TtsProgram listing every voice of the bundle with its language (es,
  fr-fr, hi, it, pt-br, ja, zh, en-us, en-gb), so Home Assistant offers each voice for its language;
  a voice whose language this install cannot read (an extra missing) is listed as not installed.
  supports_synthesize_streaming.
- `synthesize` {text, voice?} -> `audio-start`, `audio-chunk`*, `audio-stop` for the whole text.
- `synthesize-start` {voice?}, `synthesize-chunk` {text}*, `synthesize-stop` -> one audio-start /
  audio-chunk* / audio-stop cycle per unit as soon as it is complete in the text received so far
  (runtime/live_text.py's `Segmenter`, the same cuts `Kokoro.stream` makes of an LLM's tokens: the
  first clause, then each sentence, in the stream's language), then
  `synthesize-stopped`. A `synthesize` inside a stream is the compatibility copy Home Assistant
  sends for old servers, and is ignored.
- `ping` -> `pong`; other event types are ignored, as the protocol asks.

The voice: `voice.name` picks it (its first letter is its language, as upstream: ef_dora reads
Spanish); `voice.language` (a Kokoro code or name, or a tag such as "es-MX" or "pt-PT" matched by its
primary subtag) sets the language to read the text in, and alone picks that language's default voice.
The wyoming package's SynthesizeVoice keeps only one of the two, so both are read from the raw event.

Every failure is an `error` event {text, code} and the connection stays open. The code follows the
error's type (runtime/errors.py), never its text: `busy` (at `synthesize` or `synthesize-start`; the
rest of a refused stream is ignored), `unknown-voice`, `unknown-language`, `bad-input` (any other
invalid request: empty text, over MAX_INPUT_CHARS, nothing speakable), `missing-extra` (a language
this install cannot read), `bad-event` (an event missing a field or out of order, or a line that is
not a Wyoming event; an over-long line closes the connection, since it cannot be resynchronized),
`synthesis-failed` (anything else). Inside a stream a sentence with nothing speakable in it (an
emoji) is skipped. A client that disconnects stops its synthesis at the next chunk written.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import aclosing

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from kokoro_litert.buckets import SAMPLE_RATE
from kokoro_litert.runtime.checks import default_voice
from kokoro_litert.runtime.errors import (EmptyInput, InvalidRequest, KokoroError, MissingExtra, UnknownLanguage,
                                          UnknownVoice)
from kokoro_litert.runtime.live_text import Segmenter
from kokoro_litert.runtime.text.languages import LANGUAGES, Language, language, language_of_voice
from kokoro_litert.runtime.wav import to_pcm16

from .audio import CHANNELS, SAMPLE_WIDTH
from .engine import Busy, Engine

_LOG = logging.getLogger(__name__)
SAMPLES_PER_CHUNK = 1024  # samples per audio-chunk event (wyoming-piper's default)
PROGRAM = "kokoro-litert"
ATTRIBUTION = Attribution(name="hexgrad", url="https://huggingface.co/hexgrad/Kokoro-82M")

def info_for(engine: Engine, version: str) -> Info:
    voices = []
    for name in engine.voices:
        lang = language_of_voice(name)
        kind = f"{lang.label} {'female' if name[1] == 'f' else 'male'} voice" if lang else "custom voice"
        voices.append(TtsVoice(name=name, description=f"{name} ({kind})", attribution=ATTRIBUTION,
                               installed=lang is None or lang.code in engine.readable, version=None,
                               languages=[lang.name] if lang else []))
    program = TtsProgram(name=PROGRAM, description="Kokoro-82M text to speech on LiteRT", attribution=ATTRIBUTION,
                         installed=True, version=version, voices=voices, supports_synthesize_streaming=True)
    return Info(tts=[program])


def wyoming_language(tag: str) -> Language:
    """The language for a Wyoming language tag: a Kokoro code or name as it is ("e", "es", "en-gb"), else
    by the tag's primary subtag, preferring the same region ("es-MX" -> es, "en-AU" -> en-us,
    "pt-PT" -> pt-br, "zh-Hans-CN" -> zh). UnknownLanguage when Kokoro has no voice of it."""
    try:
        return language(tag)
    except UnknownLanguage:
        pass
    primary, _, rest = tag.strip().lower().replace("_", "-").partition("-")
    same = [lang for lang in LANGUAGES if lang.name.split("-")[0] == primary]
    if not same:
        raise UnknownLanguage(f"Unknown language {tag!r}.",
                              f"Use one of {', '.join(lang.name for lang in LANGUAGES)}; send describe: "
                              "its info lists each voice's language.", param="voice.language")
    return next((lang for lang in same if lang.name == f"{primary}-{rest.split('-')[0]}"), same[0])


class BadEvent(Exception):
    """An event the handler cannot act on; sent back as an error event with code bad-event."""


class _Stream:
    """State of one synthesize-start ... synthesize-stop stream."""

    def __init__(self, ticket, voice: str | None = None, lang: str | None = None, reads: str = "a"):
        self.ticket = ticket  # None when the stream was refused (busy, bad voice): ignore it to its stop
        self.voice = voice
        self.lang = lang
        self.units = Segmenter(reads)


class KokoroEventHandler(AsyncEventHandler):
    """One Wyoming connection: its events in order, synthesis through the shared engine."""

    def __init__(self, engine: Engine, info: Info, reader, writer):
        super().__init__(reader, writer)
        self.engine = engine
        self.info = info
        self._stream: _Stream | None = None

    # wyoming's own reader closes the connection on a line that is not JSON and raises on one
    # without "type"; this one answers both with an error event and goes on reading.
    async def run(self) -> None:
        self._is_running = True
        try:
            while self._is_running:
                try:
                    event = await self._read_event()
                except BadEvent as e:
                    await self._error(str(e), "bad-event")
                    continue
                if event is None or not await self.handle_event(event):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; its synthesis stopped with the failed write
        finally:
            await self.disconnect()
            self.writer.close()

    async def _read_event(self) -> Event | None:
        try:
            line = await self.reader.readline()
        except ValueError:  # longer than the stream's limit: there is no way to find the next event
            await self._error("An event header line is too long.", "bad-event")
            return None
        if not line:
            return None
        try:
            header = json.loads(line)
            data = header.get("data") or {}
            if header.get("data_length"):
                data.update(json.loads(await self.reader.readexactly(header["data_length"])))
            payload = None
            if header.get("payload_length"):
                payload = await self.reader.readexactly(header["payload_length"])
            if not isinstance(header.get("type"), str) or not isinstance(data, dict):
                raise BadEvent("An event needs a string 'type' and an object 'data'.")
        except (ValueError, AttributeError, TypeError) as e:
            raise BadEvent(f"Not a Wyoming event: {e}.") from e
        return Event(type=header["type"], data=data, payload=payload)

    async def handle_event(self, event: Event) -> bool:
        try:
            if Describe.is_type(event.type):
                await self.write_event(self.info.event())
            elif Ping.is_type(event.type):
                await self.write_event(Pong(text=Ping.from_event(event).text).event())
            elif Synthesize.is_type(event.type):
                if self._stream is None:  # inside a stream it is the compatibility copy: ignored
                    await self._synthesize(_field(Synthesize, event), _voice_fields(event))
            elif SynthesizeStart.is_type(event.type):
                _field(SynthesizeStart, event)
                await self._start(_voice_fields(event))
            elif SynthesizeChunk.is_type(event.type):
                await self._chunk(_field(SynthesizeChunk, event))
            elif SynthesizeStop.is_type(event.type):
                await self._stop()
        except BadEvent as e:
            await self._error(str(e), "bad-event")
        except ConnectionError:
            raise
        except Exception as e:  # noqa: BLE001 - a synthesis failure is this request's, not the server's
            _LOG.exception("synthesis failed")
            await self._error(f"Synthesis failed: {e}", "synthesis-failed")
        return True

    async def disconnect(self) -> None:
        if self._stream is not None and self._stream.ticket is not None:
            self._stream.ticket.release()
        self._stream = None

    # ------------------------------------------------------------------ events

    async def _synthesize(self, request: Synthesize, voice_fields: tuple[str | None, str | None]) -> None:
        try:
            voice, lang = _voice_and_language(*voice_fields, self.engine.voices)
            self.engine.check(request.text, voice, lang=lang)
            ticket = self.engine.admit()
        except (KokoroError, Busy) as e:
            return await self._refuse(e)
        with ticket:
            try:
                utterance = await self.engine.prepare(request.text, voice, lang=lang)
            except KokoroError as e:
                return await self._refuse(e)
            await self._speak(utterance)

    async def _start(self, voice_fields: tuple[str | None, str | None]) -> None:
        if self._stream is not None:
            await self.disconnect()
            await self._error("synthesize-start inside a stream: the earlier stream was dropped.", "bad-event")
        try:
            voice, lang = _voice_and_language(*voice_fields, self.engine.voices)
            _, reads = self.engine.check_voice(voice, lang)
            ticket = self.engine.admit()
        except (KokoroError, Busy) as e:
            self._stream = _Stream(None)
            return await self._refuse(e)
        self._stream = _Stream(ticket, voice, lang, reads.code)

    async def _chunk(self, chunk: SynthesizeChunk) -> None:
        stream = self._require_stream("synthesize-chunk")
        if stream.ticket is None:
            return
        for unit in stream.units.push(chunk.text):
            await self._speak_sentence(unit.text, stream)

    async def _stop(self) -> None:
        stream = self._require_stream("synthesize-stop")
        try:
            if stream.ticket is not None:  # a refused stream ends quietly
                for unit in stream.units.finish():
                    await self._speak_sentence(unit.text, stream)
                await self.write_event(SynthesizeStopped().event())
        finally:  # the stream's place is freed even when its last sentence failed
            await self.disconnect()

    def _require_stream(self, what: str) -> _Stream:
        if self._stream is None:
            raise BadEvent(f"{what} without synthesize-start: send synthesize-start first.")
        return self._stream

    async def _speak_sentence(self, sentence: str, stream: _Stream) -> None:
        try:
            utterance = await self.engine.prepare(sentence, stream.voice, lang=stream.lang)
        except EmptyInput as e:
            _LOG.info("skipped a sentence with nothing speakable: %r (%s)", sentence, e.problem)
            return
        except KokoroError as e:
            return await self._refuse(e)
        await self._speak(utterance)

    async def _speak(self, utterance) -> None:
        """One audio-start / audio-chunk* / audio-stop cycle, each chunk sent as it is synthesized."""
        await self.write_event(AudioStart(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS).event())
        step = SAMPLES_PER_CHUNK * SAMPLE_WIDTH * CHANNELS
        async with aclosing(self.engine.synthesize(utterance)) as chunks:
            async for chunk in chunks:
                pcm = to_pcm16(chunk.audio)
                for at in range(0, len(pcm), step):
                    await self.write_event(AudioChunk(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS,
                                                      audio=pcm[at:at + step]).event())
        await self.write_event(AudioStop().event())

    async def _refuse(self, e: Exception) -> None:
        """The error event for a refused request, its code by the error's type."""
        if isinstance(e, Busy):
            await self._error(str(e), "busy")
        elif isinstance(e, UnknownVoice):
            await self._error(f"{e.problem} Send describe: its info lists every voice.", "unknown-voice")
        elif isinstance(e, UnknownLanguage):
            await self._error(str(e), "unknown-language")
        elif isinstance(e, InvalidRequest):
            await self._error(str(e), "bad-input")
        elif isinstance(e, MissingExtra):
            await self._error(str(e), "missing-extra")
        else:
            await self._error(str(e), "synthesis-failed")

    async def _error(self, text: str, code: str) -> None:
        await self.write_event(Error(text=text, code=code).event())


def _field(kind, event: Event):
    """kind.from_event(event), or BadEvent naming what is missing or malformed."""
    try:
        parsed = kind.from_event(event)
    except KeyError as e:
        raise BadEvent(f"{event.type} needs {e.args[0]!r} in its data.") from e
    except (TypeError, AttributeError, ValueError) as e:
        raise BadEvent(f"{event.type} has malformed data: {e}.") from e
    if hasattr(parsed, "text") and not isinstance(parsed.text, str):
        raise BadEvent(f"{event.type} needs 'text' to be a string.")
    return parsed


def _voice_fields(event: Event) -> tuple[str | None, str | None]:
    """(voice.name, voice.language) of a synthesize or synthesize-start event, either None if unset."""
    voice = event.data.get("voice")
    if voice is None:
        return None, None
    if not isinstance(voice, dict):
        raise BadEvent(f"{event.type} needs 'voice' to be an object such as {{\"name\": \"af_heart\"}}.")
    fields = voice.get("name"), voice.get("language")
    for key, value in zip(("name", "language"), fields):
        if value is not None and not isinstance(value, str):
            raise BadEvent(f"voice.{key} must be a string.")
    return fields


def _voice_and_language(name: str | None, tag: str | None, voices) -> tuple[str, str | None]:
    """The voice to speak with and the language code to read in (None: the voice's own)."""
    lang = wyoming_language(tag) if tag is not None else None
    if name is None:
        name = default_voice(voices, lang)
    return name, lang and lang.code


async def serve_wyoming(uri: str, engine: Engine, version: str) -> None:
    """Serve Wyoming at `uri` (tcp://HOST:PORT, unix://PATH) until cancelled."""
    from functools import partial

    from wyoming.server import AsyncServer

    info = info_for(engine, version)
    server = AsyncServer.from_uri(uri)
    await server.run(partial(KokoroEventHandler, engine, info))
