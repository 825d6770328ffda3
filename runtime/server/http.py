"""OpenAI-compatible HTTP: `/v1/audio/speech` and friends over the shared `Engine` (FastAPI).

    POST /v1/audio/speech            {"model", "input", "voice", "response_format", "speed", "stream_format", "lang_code"}
    POST /v1/audio/captioned_speech  the same body -> {"audio": base64, "timestamps": [{word, start_time, end_time}]}
    GET  /v1/audio/voices            {"voices": [names], "default", "details": [{name, language, ...}]}
    GET  /v1/models                  OpenAI's model list
    GET  /health                     liveness and the engine's counters (never needs the API key)
    GET  /docs, /openapi.json        the schema, derived from the models below

Bodies are written as the engine synthesizes chunks. `stream_format` "audio" (OpenAI's default)
sends the encoded audio chunk by chunk; "sse" sends `speech.audio.delta` events (base64 audio of
the requested format) and then `speech.audio.done`. A `wav` without `stream_format` is sent as a
finished file with exact sizes in its header; with "audio" it streams (see `audio.py`).

The voice picks the language, as upstream does (ef_dora reads Spanish); `lang_code` (a code such as
"e" or a name such as "es") overrides it. Text with nothing speakable in it (only emoji, or only a
script the language cannot read) is spoken as silence, and what was skipped is said in the
`Kokoro-Warnings` header, as for any text the front-end could read only in part.

Errors use OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so the `openai` client
raises its usual exceptions with our message. The status follows the error's type
(runtime/errors.py), never its text: 400 an `InvalidRequest` (with its `param` and `code`), a body
that is not valid JSON or not of the schema, an input over MAX_INPUT_CHARS (as OpenAI answers it);
401 a missing or wrong API key (only with --api-key); 413 a body over MAX_BODY_BYTES; 415 a body that
is not JSON; 501 `MissingExtra` (a language whose extra this install lacks); 503 + Retry-After when
the engine's queue is full; 500 anything else.

The OpenAPI schema is the contract (tests/test_openapi_contract.py runs schemathesis against it):
every constraint the server enforces is stated in it (lengths, the speed range, the voices and
blends, the languages), every status an operation can answer is documented with its body, and the
bearer security scheme is declared only when the server has a key.
"""

import base64
import hmac
import json
import os
import re
import resource
import sys
from contextlib import aclosing, asynccontextmanager
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from kokoro_litert.buckets import SAMPLE_RATE, SAMPLES_PER_FRAME
from kokoro_litert.runtime.checks import SPEED_MAX, SPEED_MIN
from kokoro_litert.runtime.errors import InvalidRequest, KokoroError, MissingExtra, UnknownVoice
from kokoro_litert.runtime.text.languages import LANGUAGES, language_of_voice

from .audio import MEDIA_TYPES, encoder_for
from .engine import MAX_INPUT_CHARS, Busy, Engine

MODEL_ID = "kokoro"
MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")  # OpenAI's names, accepted so clients work unchanged
MAX_BODY_BYTES = 1 << 20  # a request body above this is refused (413) before it is read
WARNINGS_HEADER = "Kokoro-Warnings"
WARNINGS_HEADER_MAX = 1024  # characters: the header carries the first warnings, the captioned body all
VOICES_HINT = "GET /v1/audio/voices lists the voices."
HTTP_PARAM = {"lang": "lang_code"}  # runtime.errors' parameter names that this API spells otherwise
ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
assert set(ResponseFormat.__args__) == set(MEDIA_TYPES)
BLEND_WEIGHT = r"\+?0*(?:[1-9][0-9]{0,5}(?:\.[0-9]{0,6})?|\.[0-9]{0,5}[1-9][0-9]{0,5})"
"""A positive weight as runtime.voices.load_voice reads it ("0.7", "2", "+1.5"), bounded in digits."""


# --------------------------------------------------------------------------- bodies


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong and what to do about it.")
    type: str = Field(description="invalid_request_error, or server_error for 5xx.")
    param: str | None = Field(description="The request field at fault, when there is one.")
    code: str | None = Field(description="A stable machine-readable kind, e.g. unknown_voice, server_busy.")


class ErrorResponse(BaseModel):
    """OpenAI's error body."""

    error: ErrorDetail


class WordTimestamp(BaseModel):
    word: str = Field(description="The input's own text for the word (\"$3.50\", not its reading).")
    start_time: float = Field(description="Seconds from the start of the audio.")
    end_time: float


class CaptionedSpeech(BaseModel):
    audio: str = Field(description="The whole audio in response_format, base64.")
    audio_format: ResponseFormat
    sample_rate: int
    timestamps: list[WordTimestamp]
    warnings: list[str] = Field(description="What the front-end could not speak (emoji, another script).")


class Usage(BaseModel):
    """OpenAI's usage block in Kokoro's units: phoneme tokens in, 25 Hz audio frames out."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


class SpeechAudioDelta(BaseModel):
    """An SSE event's data: the next piece of the audio."""

    type: Literal["speech.audio.delta"]
    audio: str = Field(description="Audio in response_format, base64; the deltas concatenated are the file.")


class CaptionedAudioDelta(SpeechAudioDelta):
    timestamps: list[WordTimestamp] = Field(description="The words complete so far that no earlier event carried.")


class SpeechAudioDone(BaseModel):
    """The last SSE event's data."""

    type: Literal["speech.audio.done"]
    usage: Usage


SSE_EVENTS = (SpeechAudioDelta, CaptionedAudioDelta, SpeechAudioDone)


def _sse_schema(*events: type[BaseModel]) -> dict:
    """One server-sent event (schemathesis and OpenAPI 3.1 read an event stream's schema per event):
    its `data` is JSON of one of `events`."""
    return {"type": "object", "required": ["data"],
            "properties": {"event": {"type": "string"},
                           "data": {"type": "string", "contentMediaType": "application/json",
                                    "contentSchema": {"oneOf": [{"$ref": f"#/components/schemas/{e.__name__}"}
                                                                for e in events]}}}}


class VoiceDetail(BaseModel):
    name: str
    language: str | None = Field(description="The language it speaks by default: en-us, en-gb, es, fr-fr, hi, it, "
                                             "ja, pt-br or zh (null for a voice without a Kokoro prefix).")
    lang_code: str | None = Field(description="Kokoro's one-letter code for that language.")
    language_label: str | None
    gender: Literal["female", "male"] | None
    readable: bool = Field(description="Whether this server can read its language (Mandarin and Japanese "
                                       "need their extras).")


class VoiceList(BaseModel):
    voices: list[str] = Field(description="The names `voice` accepts (blend them as 'af_heart:0.7,bf_emma:0.3').")
    default: str
    details: list[VoiceDetail]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"]
    voices: int
    admitted: int = Field(description="Requests holding a place (at most capacity).")
    capacity: int
    synthesizing: int
    chunk_seconds: float = Field(description="Running mean of the synthesis time of one chunk.")
    requests: int
    chunks: int
    busy: int
    cancelled: int
    failed: int
    peak_rss_mb: float
    rss_mb: float | None = None


def _case_blind(key: str) -> str:
    """A regex for `key` as runtime.text.languages.language reads it: any case, '_' for '-'."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else "[-_]" if c == "-" else re.escape(c)
                   for c in key)


def _request_models(voices: tuple[str, ...], readable: frozenset[str], default: str):
    """The two request bodies, their schema stating what this server accepts (its bundle's voices,
    the languages it can read). Fields are strict JSON types; values are checked by runtime.checks
    and the engine, whose limits the schema repeats from their constants."""
    # A voice whose language this install cannot read is left out: it would be answered 501.
    voices = [v for v in voices if (lang := language_of_voice(v)) is None or lang.code in readable]
    names = "(?:" + "|".join(re.escape(v) for v in sorted(voices, key=len, reverse=True)) + ")"
    part = rf"\s*{names}\s*(?::\s*{BLEND_WEIGHT}\s*)?"
    keys = [key for lang in LANGUAGES if lang.code in readable for key in (lang.code, lang.name)]
    any_case_key = rf"^\s*(?:{'|'.join(map(_case_blind, keys))})\s*$"
    language_list = ", ".join(f"{lang.code} or {lang.name} ({lang.label})" for lang in LANGUAGES
                              if lang.code in readable)

    class SpeechRequest(BaseModel):
        """OpenAI's `POST /v1/audio/speech` body, plus `lang_code`."""

        model_config = ConfigDict(strict=True)

        model: str = Field(MODEL_ID, description=f"{MODEL_ID!r}; OpenAI's {', '.join(MODEL_ALIASES)} are aliases.",
                           json_schema_extra={"enum": [MODEL_ID, *MODEL_ALIASES]})
        input: str = Field(description=f"The text to speak: 1 to {MAX_INPUT_CHARS} characters, not only "
                                       "white space.",
                           json_schema_extra={"minLength": 1, "maxLength": MAX_INPUT_CHARS, "pattern": r"\S"})
        voice: str = Field(default, description="A voice from GET /v1/audio/voices, or a blend of them "
                                                      "with positive weights, e.g. 'af_heart:0.7,bf_emma:0.3'. "
                                                      "Its first voice picks the language unless lang_code is set.",
                           json_schema_extra={"anyOf": [{"enum": list(voices)}, {"pattern": rf"^{part}(?:,{part})*$"}]})
        response_format: ResponseFormat = Field("mp3", description="pcm is 16-bit little-endian mono at 24 kHz; "
                                                                    "opus is Ogg Opus; aac is ADTS.")
        speed: float = Field(1.0, description=f"{SPEED_MIN} to {SPEED_MAX} (Kokoro's range; narrower than "
                                              "OpenAI's 0.25-4.0).",
                             json_schema_extra={"minimum": SPEED_MIN, "maximum": SPEED_MAX})
        stream_format: Literal["audio", "sse"] | None = Field(
            None, description="audio: the encoded audio, sent chunk by chunk as it is synthesized (the default; "
                              "a wav without stream_format is sent whole, with exact header sizes); sse: "
                              "speech.audio.delta events with base64 audio, then speech.audio.done.")
        lang_code: str | None = Field(
            None, description=f"The language to read the input in, in any case: {language_list}. "
                              "Default: the voice's own.",
            json_schema_extra={"anyOf": [{"type": "string", "enum": keys},
                                         {"type": "string", "pattern": any_case_key},
                                         {"type": "null"}]})
        instructions: str | None = Field(None, description="Accepted for compatibility and ignored: Kokoro "
                                                           "takes no style prompt.")

    class CaptionedSpeechRequest(SpeechRequest):
        """The speech body; its answer is JSON (or SSE events), never raw audio."""

        stream_format: Literal["sse"] | None = Field(
            None, description="Without it: one JSON object once the audio is complete; sse: one "
                              "speech.audio.delta event per chunk with its audio and words, then speech.audio.done.")

    return SpeechRequest, CaptionedSpeechRequest


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error response in OpenAI's shape."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.kind = kind or ("server_error" if status >= 500 else "invalid_request_error")
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def _kokoro_error(e: KokoroError) -> ApiError:
    """The response for a typed runtime error, by its type (runtime/errors.py)."""
    param = HTTP_PARAM.get(e.param, e.param)
    if isinstance(e, UnknownVoice):
        return ApiError(400, f"{e.problem} {VOICES_HINT}", param, e.code)
    if isinstance(e, InvalidRequest):
        # InputTooLong too: the schema states the input's maxLength, and a value outside the schema is
        # a 400 like any other (as OpenAI answers it); 413 is for a body over MAX_BODY_BYTES.
        return ApiError(400, str(e), param, e.code)
    if isinstance(e, MissingExtra):  # the install lacks what a valid request needs: "not implemented" here
        return ApiError(501, str(e), param, e.code)
    return ApiError(500, str(e), param, e.code)


def _busy(e: Busy) -> ApiError:
    return ApiError(503, str(e), code="server_busy", headers={"Retry-After": str(e.retry_after)})


ERROR_RESPONSES = {
    400: "Bad input: the body is not JSON of this schema, or a value is out of its range (the message "
         "says which and how to fix it; `param` names the field).",
    401: "Missing or wrong API key.",
    413: f"The body is over {MAX_BODY_BYTES} bytes.",
    415: "The body is not JSON.",
    500: "The server failed (a bug: the message says where).",
    501: "This install cannot read the language asked for (its extra is not installed).",
    503: "Every place in the queue is taken: retry after Retry-After seconds.",
}
HEADER_DOCS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds after which a retry is likely to be served.", "required": True,
                          "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
}


def _errors(*statuses: int) -> dict:
    return {status: {"model": ErrorResponse, "description": ERROR_RESPONSES[status],
                     **({"headers": HEADER_DOCS[status]} if status in HEADER_DOCS else {})}
            for status in statuses}


# --------------------------------------------------------------------------- streaming


def _sse(event: dict) -> bytes:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _warnings_header(warnings) -> dict:
    """`Kokoro-Warnings: ["...", ...]` (JSON, ASCII-escaped), cut to WARNINGS_HEADER_MAX characters."""
    if not warnings:
        return {}
    shown = list(warnings)
    while len(json.dumps(shown)) > WARNINGS_HEADER_MAX and len(shown) > 1:
        shown.pop()
    value = json.dumps(shown)
    if len(value) > WARNINGS_HEADER_MAX:
        value = json.dumps([shown[0][: WARNINGS_HEADER_MAX // 8] + "..."])
    return {WARNINGS_HEADER: value}


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


def _voice_detail(name: str, readable: frozenset[str]) -> dict:
    lang = language_of_voice(name)
    if lang is None:  # a voice without a Kokoro prefix
        return {"name": name, "language": None, "lang_code": None, "language_label": None, "gender": None,
                "readable": True}
    return {"name": name, "language": lang.name, "lang_code": lang.code, "language_label": lang.label,
            "gender": {"f": "female", "m": "male"}[name[1]], "readable": lang.code in readable}


# --------------------------------------------------------------------------- the app


def create_app(engine: Engine, api_key: str | None = None) -> FastAPI:
    app = FastAPI(title="kokoro-litert", version="1", summary="Kokoro-82M text to speech, OpenAI-compatible.")
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    SpeechRequest, CaptionedSpeechRequest = _request_models(engine.voices, engine.readable, engine.default_voice)

    def key_ok(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return api_key is None or (scheme.lower() == "bearer" and
                                   hmac.compare_digest(token.strip().encode(), api_key.encode()))

    def unauthorized() -> ApiError:
        return ApiError(401, "Missing or wrong API key.", code="invalid_api_key",
                        headers={"WWW-Authenticate": "Bearer"})

    # The schema declares the bearer scheme only on a server that has a key; without one the
    # operations take no credentials.
    bearer = HTTPBearer(auto_error=False, description="The key the server was started with (--api-key).")

    async def authorized(request: Request, _: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if not key_ok(request):
            raise unauthorized()

    protected = [Depends(authorized)] if api_key is not None else []
    auth_errors = (401,) if api_key is not None else ()

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError):
        return e.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        if not key_ok(request):  # a bad body is parsed before the key is checked: the key comes first
            return unauthorized().response()
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
        return ApiError(400, "Invalid request: " + "; ".join(parts) + ".", param, "invalid_value").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, e: StarletteHTTPException):
        # Starlette's 405 carries `Allow` (RFC 9110 requires it); its 404 carries nothing.
        return ApiError(e.status_code, str(e.detail), headers=e.headers).response()

    @app.exception_handler(Exception)
    async def _failed(request: Request, e: Exception):
        return ApiError(500, f"The server failed: {type(e).__name__}: {e}", code="server_error").response()

    def admit(body):
        """Every check that needs no G2P, then a place in the queue: (ticket, voice, language)."""
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

    async def prepare(body):
        """(ticket, utterance); text with nothing speakable in it is a silent utterance."""
        ticket, voice, lang = admit(body)
        try:
            return ticket, await engine.prepare(body.input, voice, body.speed, lang, silent_if_unspeakable=True)
        except BaseException as e:
            ticket.release()
            if isinstance(e, KokoroError):
                raise _kokoro_error(e) from e
            raise

    speech_errors = _errors(400, *auth_errors, 413, 415, 500, 501, 503)
    warnings_doc = {WARNINGS_HEADER: {"description": "What the front-end could not speak (a JSON list of lines), "
                                                     "when anything.", "schema": {"type": "string"}}}
    binary = {"schema": {"type": "string", "format": "binary"}}

    @app.post("/v1/audio/speech", dependencies=protected, response_class=StreamingResponse,
              responses={200: {"content": {**{t: binary for t in MEDIA_TYPES.values()},
                                           "text/event-stream": {"schema": _sse_schema(SpeechAudioDelta,
                                                                                        SpeechAudioDone)}},
                               "description": "The audio, or SSE events with stream_format sse.",
                               "headers": warnings_doc},
                         **speech_errors})
    async def speech(body: SpeechRequest):
        """Speak `input`: the audio, written as it is synthesized."""
        ticket, utterance = await prepare(body)
        fmt = body.response_format
        encoder = encoder_for(fmt, wav_file=fmt == "wav" and body.stream_format is None)
        headers = _warnings_header(utterance.warnings)

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
                                      headers={"Cache-Control": "no-cache", **headers})
        return _SynthesisResponse(audio(), ticket, media_type=MEDIA_TYPES[fmt], headers=headers)

    @app.post("/v1/audio/captioned_speech", dependencies=protected, response_class=StreamingResponse,
              responses={200: {"model": CaptionedSpeech,
                               "content": {"text/event-stream": {"schema": _sse_schema(CaptionedAudioDelta,
                                                                                       SpeechAudioDone)}},
                               "description": "Audio (base64) and each word's start and end in seconds.",
                               "headers": warnings_doc},
                         **speech_errors})
    async def captioned_speech(body: CaptionedSpeechRequest):
        """Speak `input` and time its words. Each timestamp's `word` is the input's own text ("$3.50",
        not "three dollars and fifty cents"), times in seconds from the start of the audio.

        Without stream_format: one JSON object once the audio is complete. With "sse": one
        speech.audio.delta event per chunk, carrying that chunk's audio and the words complete so far
        (a chunk's last word comes with the next event, in case the next chunk goes on with it)."""
        ticket, utterance = await prepare(body)
        fmt = body.response_format
        encoder = encoder_for(fmt, wav_file=body.stream_format is None)
        headers = _warnings_header(utterance.warnings)

        async def whole():
            parts, words, timestamps = [], [], _Timestamps()
            async with _synthesis(engine, utterance, encoder) as chunks:
                async for chunk in chunks:
                    parts.append(encoder.write(chunk.audio))
                    words.extend(timestamps.add(chunk))
                parts.append(encoder.finish())
                words.extend(timestamps.finish())
            yield json.dumps({"audio": _b64(b"".join(parts)), "audio_format": fmt, "sample_rate": SAMPLE_RATE,
                              "timestamps": words, "warnings": list(utterance.warnings)}).encode()

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
                                      headers={"Cache-Control": "no-cache", **headers})
        return _SynthesisResponse(whole(), ticket, media_type="application/json", headers=headers)

    @app.get("/v1/audio/voices", dependencies=protected, response_model=VoiceList, responses=_errors(*auth_errors))
    async def voices():
        """The voice names `voice` accepts, each with the language it speaks by default."""
        return {"voices": list(engine.voices), "default": engine.default_voice,
                "details": [_voice_detail(name, engine.readable) for name in engine.voices]}

    @app.get("/v1/models", dependencies=protected, response_model=ModelList, responses=_errors(*auth_errors))
    async def models():
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "kokoro-litert"}
                                           for name in (MODEL_ID, *MODEL_ALIASES)]}

    @app.get("/health", response_model=Health)
    async def health():
        """Liveness, the queue's state and counters, and this process's memory."""
        return {"status": "ok", "voices": len(engine.voices), **engine.status(), **_rss_mb()}

    def openapi() -> dict:
        # FastAPI documents a 422 on every operation with a body; this server answers bad bodies 400
        # (OpenAI's status), which is documented instead, so the 422 and its models go.
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            for path in schema["paths"].values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            _, events = models_json_schema([(e, "serialization") for e in SSE_EVENTS],
                                           ref_template="#/components/schemas/{model}")
            components.update(events["$defs"])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app


def _usage(utterance, samples: int) -> dict:
    """OpenAI's usage block in Kokoro's units: phoneme tokens in, 25 Hz audio frames out."""
    tokens_in = len(utterance.phonemized.phonemes) if utterance.phonemized is not None else 0
    frames_out = samples // SAMPLES_PER_FRAME
    return {"input_tokens": tokens_in, "output_tokens": frames_out, "total_tokens": tokens_in + frames_out}
