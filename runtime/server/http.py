"""OpenAI-compatible HTTP: `/v1/audio/speech` and friends over the shared `Engine` (FastAPI).

    POST /v1/audio/speech            {"model", "input", "voice", "response_format", "speed", "stream_format"}
    POST /v1/audio/captioned_speech  the same body -> {"audio": base64, "timestamps": [{word, start_time, end_time}]}
    GET  /v1/audio/voices            {"voices": [...]}
    GET  /v1/models                  OpenAI's model list
    GET  /health                     liveness and the engine's counters (never needs the API key)
    GET  /docs, /openapi.json        the schema FastAPI derives from the models below

Bodies are written as the engine synthesizes chunks. `stream_format` "audio" (OpenAI's default)
sends the encoded audio chunk by chunk; "sse" sends `speech.audio.delta` events (base64 audio of
the requested format) and then `speech.audio.done`. A `wav` without `stream_format` is sent as a
finished file with exact sizes in its header; with "audio" it streams (see `audio.py`).

Errors use OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so the `openai` client
raises its usual exceptions with our message: 400 bad input, 401 missing/wrong API key, 413 input
over MAX_INPUT_CHARS (or a body over MAX_BODY_BYTES), 415 a body that is not JSON, 503 + Retry-After
when the engine's queue is full.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import resource
import sys
from contextlib import aclosing, asynccontextmanager
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from kokoro_litert.buckets import SAMPLE_RATE, SAMPLES_PER_FRAME
from kokoro_litert.runtime.errors import KokoroError

from .audio import MEDIA_TYPES, encoder_for
from .engine import DEFAULT_VOICE, MAX_INPUT_CHARS, SPEED_MAX, SPEED_MIN, Busy, Engine, InputTooLong, UnknownVoice

MODEL_ID = "kokoro"
MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")  # OpenAI's names, accepted so clients work unchanged
MAX_BODY_BYTES = 1 << 20  # a request body above this is refused (413) before it is read
VOICES_HINT = "GET /v1/audio/voices lists the voices."
ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
assert set(ResponseFormat.__args__) == set(MEDIA_TYPES)


class SpeechRequest(BaseModel):
    """OpenAI's `POST /v1/audio/speech` body, plus `lang_code`."""

    model: str = Field(MODEL_ID, description=f"{MODEL_ID!r}; OpenAI's {', '.join(MODEL_ALIASES)} are aliases of it.")
    input: str = Field(description=f"The text to speak: 1 to {MAX_INPUT_CHARS} characters (more: 413).")
    voice: str = Field(DEFAULT_VOICE, description="A voice from GET /v1/audio/voices, or a weighted blend "
                                                  "such as 'af_heart:0.7,bf_emma:0.3'.")
    response_format: ResponseFormat = Field("mp3", description="pcm is 16-bit little-endian mono at 24 kHz; "
                                                                "opus is Ogg Opus; aac is ADTS.")
    speed: float = Field(1.0, description=f"{SPEED_MIN} to {SPEED_MAX} (Kokoro's range; OpenAI's 0.25-4.0 "
                                          "is refused outside it).",
                         json_schema_extra={"minimum": SPEED_MIN, "maximum": SPEED_MAX})
    stream_format: Literal["audio", "sse"] | None = Field(
        None, description="audio: the encoded audio, sent chunk by chunk as it is synthesized (the default; "
                          "a wav without stream_format is sent whole, with exact header sizes); sse: "
                          "speech.audio.delta events with base64 audio, then speech.audio.done.")
    lang_code: Literal["a", "b"] | None = Field(
        None, description="a: American English, b: British English (default: b for b* voices, else a).")
    instructions: str | None = Field(None, description="Accepted for compatibility and ignored: Kokoro "
                                                       "takes no style prompt.")


class ApiError(Exception):
    """An error response in OpenAI's shape."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error", headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def _kokoro_error(e: KokoroError) -> ApiError:
    if isinstance(e, InputTooLong):
        return ApiError(413, str(e), "input", "input_too_long")
    if isinstance(e, UnknownVoice):
        return ApiError(400, f"{e.problem} {VOICES_HINT}", "voice", "unknown_voice")
    prefixes = {"Speed": "speed", "Voice": "voice", "The voice": "voice", "Unknown language": "lang_code"}
    param = next((p for prefix, p in prefixes.items() if e.problem.startswith(prefix)), "input")
    return ApiError(400, str(e), param)


def _busy(e: Busy) -> ApiError:
    return ApiError(503, str(e), code="server_busy", kind="server_error",
                    headers={"Retry-After": str(e.retry_after)})


def _sse(event: dict) -> bytes:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@asynccontextmanager
async def _synthesis(engine: Engine, utterance, encoder):
    """The engine's chunks for `utterance`; the stream and the encoder are closed however it ends
    (finished, failed, or the client went away)."""
    try:
        async with aclosing(engine.synthesize(utterance)) as chunks:
            yield chunks
    finally:
        getattr(encoder, "close", lambda: None)()


class _Timestamps:
    """Word timings over a stream of chunks, each source word once.

    A chunk cut inside a sentence can fall inside one source word's reading ("$3.50" is spoken as
    "three dollars | and fifty cents"), and then both chunks time that word. It is merged back by
    the rule runtime.api uses within a chunk: consecutive timings of the same non-alphabetic source
    text are one word. So each chunk's last word is held until the next chunk shows whether it goes on.
    """

    def __init__(self):
        self._held: dict | None = None

    def add(self, chunk) -> list[dict]:
        """The words complete once `chunk` is in."""
        done = []
        for w in chunk.words:
            word = {"word": w.word, "start_time": round(w.start, 3), "end_time": round(w.end, 3)}
            if self._held is not None and self._held["word"] == w.word and not w.word.isalpha():
                self._held["end_time"] = word["end_time"]
                continue
            if self._held is not None:
                done.append(self._held)
            self._held = word
        return done

    def finish(self) -> list[dict]:
        held, self._held = self._held, None
        return [held] if held is not None else []


class _SynthesisResponse(StreamingResponse):
    """A streamed body that holds an engine ticket: released, and the synthesis closed, however the
    response ends (finished, client gone, error), even if the body was never started."""

    def __init__(self, content, ticket, **kwargs):
        super().__init__(content, **kwargs)
        self._ticket = ticket

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()
            self._ticket.release()


class _BodyLimit:
    """ASGI middleware: 413 for a declared Content-Length over the limit; an undeclared (chunked)
    body is cut off at the limit, which ends the request as a disconnect."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            error = ApiError(413, f"The request body has {int(length)} bytes; the limit is {self.limit}.",
                             code="body_too_large")
            return await error.response()(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    return {"type": "http.disconnect"}
            return message

        return await self.app(scope, limited, send)


def _rss_mb() -> dict:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 1 << 20)
    out = {"peak_rss_mb": round(peak, 1)}
    try:
        pages = int(open("/proc/self/statm").read().split()[1])
        out["rss_mb"] = round(pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20), 1)
    except (OSError, ValueError):
        pass
    return out


def create_app(engine: Engine, api_key: str | None = None) -> FastAPI:
    app = FastAPI(title="kokoro-litert", version="1", summary="Kokoro-82M text to speech, OpenAI-compatible.")
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    bearer = HTTPBearer(auto_error=False, description="Needed when the server was started with --api-key.")

    async def authorized(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if api_key is None:
            return
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), api_key.encode()):
            raise ApiError(401, "Missing or wrong API key.", code="invalid_api_key",
                           headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError):
        return e.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        content_type = request.headers.get("content-type", "")
        if content_type and content_type.split(";")[0].strip().lower() != "application/json":
            return ApiError(415, f"The body is {content_type.split(';')[0]}; this endpoint takes JSON.",
                            code="unsupported_media_type").response()
        errors = e.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            detail = next(err for err in errors if err.get("type") == "json_invalid").get("ctx", {}).get("error", "")
            return ApiError(400, f"The body is not valid JSON ({detail}).", code="invalid_json").response()
        if any(err["loc"] == ("body",) and err.get("type") == "missing" for err in errors):
            return ApiError(400, 'The request has no body; send JSON such as {"model": "kokoro", '
                                 '"input": "Hello.", "voice": "af_heart"}.', code="missing_body").response()
        parts, param = [], None
        for err in errors:
            field = ".".join(str(x) for x in err["loc"][1:]) or "body"
            param = param or field
            parts.append(f"{field}: {err['msg']}")
        return ApiError(400, "Invalid request: " + "; ".join(parts) + ".", param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, e: StarletteHTTPException):
        return ApiError(e.status_code, str(e.detail), kind="invalid_request_error").response()

    def admit(body: SpeechRequest):
        """Every check that needs no G2P, then a place in the queue: (ticket, voice, lang)."""
        if body.model != MODEL_ID and body.model not in MODEL_ALIASES:
            raise ApiError(400, f"Unknown model {body.model!r}. GET /v1/models lists the models.", "model",
                           "model_not_found")
        try:
            voice, lang = engine.check(body.input, body.voice, body.speed, body.lang_code)
            return engine.admit(), voice, lang
        except KokoroError as e:
            raise _kokoro_error(e) from e
        except Busy as e:
            raise _busy(e) from e

    async def prepare(body: SpeechRequest):
        ticket, voice, lang = admit(body)
        try:
            return ticket, await engine.prepare(body.input, voice, body.speed, lang)
        except BaseException as e:
            ticket.release()
            if isinstance(e, KokoroError):
                raise _kokoro_error(e) from e
            raise

    @app.post("/v1/audio/speech", dependencies=[Depends(authorized)], response_class=StreamingResponse,
              responses={200: {"content": {t: {} for t in {*MEDIA_TYPES.values(), "text/event-stream"}},
                               "description": "The audio, or SSE events with stream_format sse."},
                         400: {"description": "Bad input"}, 413: {"description": "Input too long"},
                         415: {"description": "Body is not JSON"}, 503: {"description": "Queue full (Retry-After)"}})
    async def speech(body: SpeechRequest):
        """Speak `input`: the audio, written as it is synthesized."""
        ticket, utterance = await prepare(body)
        fmt = body.response_format
        encoder = encoder_for(fmt, wav_file=fmt == "wav" and body.stream_format is None)

        async def audio():
            async with _synthesis(engine, utterance, encoder) as chunks:
                async for chunk in chunks:
                    if data := encoder.write(chunk.audio):
                        yield data
                if data := encoder.finish():
                    yield data

        async def events():
            samples = 0
            async with _synthesis(engine, utterance, encoder) as chunks:
                async for chunk in chunks:
                    samples += chunk.audio.size
                    if data := encoder.write(chunk.audio):
                        yield _sse({"type": "speech.audio.delta", "audio": _b64(data)})
                if data := encoder.finish():
                    yield _sse({"type": "speech.audio.delta", "audio": _b64(data)})
                yield _sse({"type": "speech.audio.done", "usage": _usage(utterance, samples)})

        if body.stream_format == "sse":
            return _SynthesisResponse(events(), ticket, media_type="text/event-stream",
                                      headers={"Cache-Control": "no-cache"})
        return _SynthesisResponse(audio(), ticket, media_type=MEDIA_TYPES[fmt])

    @app.post("/v1/audio/captioned_speech", dependencies=[Depends(authorized)],
              responses={200: {"content": {"application/json": {}, "text/event-stream": {}},
                               "description": "Audio (base64) and each word's start and end in seconds."}})
    async def captioned_speech(body: SpeechRequest):
        """Speak `input` and time its words. Each timestamp's `word` is the input's own text ("$3.50",
        not "three dollars and fifty cents"), times in seconds from the start of the audio.

        Without stream_format: one JSON object once the audio is complete. With "sse": one
        speech.audio.delta event per chunk, carrying that chunk's audio and the words complete so far
        (a chunk's last word comes with the next event, in case the next chunk goes on with it)."""
        if body.stream_format == "audio":
            raise ApiError(400, "Captioned speech is JSON: send no stream_format for one object, or "
                                "stream_format 'sse' for events.", "stream_format")
        ticket, utterance = await prepare(body)
        fmt = body.response_format
        encoder = encoder_for(fmt, wav_file=body.stream_format is None)

        async def whole():
            parts, words, timestamps = [], [], _Timestamps()
            async with _synthesis(engine, utterance, encoder) as chunks:
                async for chunk in chunks:
                    parts.append(encoder.write(chunk.audio))
                    words.extend(timestamps.add(chunk))
                parts.append(encoder.finish())
                words.extend(timestamps.finish())
            yield json.dumps({"audio": _b64(b"".join(parts)), "audio_format": fmt, "sample_rate": SAMPLE_RATE,
                              "timestamps": words}).encode()

        async def events():
            samples, timestamps = 0, _Timestamps()
            async with _synthesis(engine, utterance, encoder) as chunks:
                async for chunk in chunks:
                    samples += chunk.audio.size
                    yield _sse({"type": "speech.audio.delta", "audio": _b64(encoder.write(chunk.audio)),
                                "timestamps": timestamps.add(chunk)})
                yield _sse({"type": "speech.audio.delta", "audio": _b64(encoder.finish()),
                            "timestamps": timestamps.finish()})
                yield _sse({"type": "speech.audio.done", "usage": _usage(utterance, samples)})

        if body.stream_format == "sse":
            return _SynthesisResponse(events(), ticket, media_type="text/event-stream",
                                      headers={"Cache-Control": "no-cache"})
        return _SynthesisResponse(whole(), ticket, media_type="application/json")

    @app.get("/v1/audio/voices", dependencies=[Depends(authorized)])
    async def voices():
        """The voice names `voice` accepts (blend them as 'af_heart:0.7,bf_emma:0.3')."""
        return {"voices": engine.tts.voice_names(), "default": DEFAULT_VOICE}

    @app.get("/v1/models", dependencies=[Depends(authorized)])
    async def models():
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "kokoro-litert"}
                                           for name in (MODEL_ID, *MODEL_ALIASES)]}

    @app.get("/health")
    async def health():
        """Liveness, the queue's state and counters, and this process's memory."""
        return {"status": "ok", "voices": len(engine.tts.voice_names()), **engine.status(), **_rss_mb()}

    return app


def _usage(utterance, samples: int) -> dict:
    """OpenAI's usage block in Kokoro's units: phoneme tokens in, 25 Hz audio frames out."""
    tokens_in = len(utterance.phonemized.phonemes)
    frames_out = samples // SAMPLES_PER_FRAME
    return {"input_tokens": tokens_in, "output_tokens": frames_out, "total_tokens": tokens_in + frames_out}
