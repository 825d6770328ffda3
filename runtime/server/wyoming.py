"""Wyoming (Home Assistant) TTS over the shared `Engine`: describe, synthesize, and text streaming.

Events handled, after wyoming-piper's handler (the reference server):

- `describe` -> `info`: one TtsProgram listing every voice of the bundle, supports_synthesize_streaming.
- `synthesize` {text, voice?} -> `audio-start`, `audio-chunk`*, `audio-stop` for the whole text.
- `synthesize-start` {voice?}, `synthesize-chunk` {text}*, `synthesize-stop` -> one audio-start /
  audio-chunk* / audio-stop cycle per sentence as soon as the sentence is complete in the text
  received so far (sentence-stream's `SentenceBoundaryDetector`, as wyoming-piper), then
  `synthesize-stopped`. A `synthesize` inside a stream is the compatibility copy Home Assistant
  sends for old servers, and is ignored.
- `ping` -> `pong`; other event types are ignored, as the protocol asks.

Every failure is an `error` event {text, code} and the connection stays open: a busy engine (code
`busy`, at `synthesize` or `synthesize-start`; the rest of a refused stream is ignored), bad input
(`bad-input`, `unknown-voice`), an event missing a field or out of order (`bad-event`), a line that
is not a Wyoming event (`bad-event`; an over-long line closes the connection, since it cannot be
resynchronized). Inside a stream a sentence with nothing speakable in it (an emoji) is skipped.
A client that disconnects stops its synthesis at the next chunk written.
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
from kokoro_litert.runtime.errors import KokoroError
from kokoro_litert.runtime.wav import to_pcm16

from .audio import CHANNELS, SAMPLE_WIDTH
from .engine import DEFAULT_VOICE, Busy, Engine, UnknownVoice

_LOG = logging.getLogger(__name__)
SAMPLES_PER_CHUNK = 1024  # samples per audio-chunk event (wyoming-piper's default)
PROGRAM = "kokoro-litert"
ATTRIBUTION = Attribution(name="hexgrad", url="https://huggingface.co/hexgrad/Kokoro-82M")
# The front-end reads English only, so every voice speaks English; its first letter is the accent it
# was trained on (upstream's lang_code), which for a* and b* is also the front-end's accent.
ACCENTS = {"a": "American English", "b": "British English", "e": "Spanish", "f": "French", "h": "Hindi",
           "i": "Italian", "j": "Japanese", "p": "Brazilian Portuguese", "z": "Mandarin Chinese"}
LANGUAGE_OF_ACCENT = {"b": "en_GB"}  # others: en_US
DEFAULT_VOICE_OF_LANGUAGE = {"en_GB": "bf_emma"}


def voice_language(name: str) -> str:
    return LANGUAGE_OF_ACCENT.get(name[:1], "en_US")


def info_for(engine: Engine, version: str) -> Info:
    voices = []
    for name in engine.tts.voice_names():
        accent = ACCENTS.get(name[:1], "unknown")
        gender = {"f": "female", "m": "male"}.get(name[1:2], "")
        voices.append(TtsVoice(name=name, description=f"{name} ({accent} {gender} voice, speaking English)",
                               attribution=ATTRIBUTION, installed=True, version=None,
                               languages=[voice_language(name)]))
    program = TtsProgram(name=PROGRAM, description="Kokoro-82M text to speech on LiteRT", attribution=ATTRIBUTION,
                         installed=True, version=version, voices=voices, supports_synthesize_streaming=True)
    return Info(tts=[program])


class BadEvent(Exception):
    """An event the handler cannot act on; sent back as an error event with code bad-event."""


class _Stream:
    """State of one synthesize-start ... synthesize-stop stream."""

    def __init__(self, ticket, voice: str | None):
        from sentence_stream import SentenceBoundaryDetector

        self.ticket = ticket  # None when the stream was refused (busy, bad voice): ignore it to its stop
        self.voice = voice
        self.sentences = SentenceBoundaryDetector()


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
                    await self._synthesize(_field(Synthesize, event))
            elif SynthesizeStart.is_type(event.type):
                await self._start(_field(SynthesizeStart, event))
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

    async def _synthesize(self, request: Synthesize) -> None:
        voice = _voice_name(request.voice)
        try:
            self.engine.check(request.text, voice)
            ticket = self.engine.admit()
        except (KokoroError, Busy) as e:
            return await self._refuse(e)
        with ticket:
            try:
                utterance = await self.engine.prepare(request.text, voice)
            except KokoroError as e:
                return await self._refuse(e)
            await self._speak(utterance)

    async def _start(self, start: SynthesizeStart) -> None:
        if self._stream is not None:
            await self.disconnect()
            await self._error("synthesize-start inside a stream: the earlier stream was dropped.", "bad-event")
        voice = _voice_name(start.voice)
        try:
            voice = self.engine.check_voice(voice)
            ticket = self.engine.admit()
        except (KokoroError, Busy) as e:
            self._stream = _Stream(None, None)
            return await self._refuse(e)
        self._stream = _Stream(ticket, voice)

    async def _chunk(self, chunk: SynthesizeChunk) -> None:
        stream = self._require_stream("synthesize-chunk")
        if stream.ticket is None:
            return
        for sentence in stream.sentences.add_chunk(chunk.text):
            await self._speak_sentence(sentence, stream)

    async def _stop(self) -> None:
        stream = self._require_stream("synthesize-stop")
        if stream.ticket is None:
            self._stream = None
            return
        rest = stream.sentences.finish()
        if rest.strip():
            await self._speak_sentence(rest, stream)
        await self.write_event(SynthesizeStopped().event())
        await self.disconnect()

    def _require_stream(self, what: str) -> _Stream:
        if self._stream is None:
            raise BadEvent(f"{what} without synthesize-start: send synthesize-start first.")
        return self._stream

    async def _speak_sentence(self, sentence: str, stream: _Stream) -> None:
        try:
            utterance = await self.engine.prepare(sentence, stream.voice)
        except KokoroError as e:
            if e.problem.startswith("Nothing speakable"):
                _LOG.info("skipped a sentence with nothing speakable: %r", sentence)
                return
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
        if isinstance(e, Busy):
            await self._error(str(e), "busy")
        elif isinstance(e, UnknownVoice):
            await self._error(f"{e.problem} Send describe: its info lists every voice.", "unknown-voice")
        else:
            await self._error(str(e), "bad-input")

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


def _voice_name(voice) -> str:
    """The voice a SynthesizeVoice asks for: by name, else the default of its language."""
    if voice is None:
        return DEFAULT_VOICE
    if voice.name is not None:
        if not isinstance(voice.name, str):
            raise BadEvent("voice.name must be a string.")
        return voice.name
    return DEFAULT_VOICE_OF_LANGUAGE.get(str(voice.language).replace("-", "_"), DEFAULT_VOICE)


async def serve_wyoming(uri: str, engine: Engine, version: str) -> None:
    """Serve Wyoming at `uri` (tcp://HOST:PORT, unix://PATH) until cancelled."""
    from functools import partial

    from wyoming.server import AsyncServer

    info = info_for(engine, version)
    server = AsyncServer.from_uri(uri)
    await server.run(partial(KokoroEventHandler, engine, info))
