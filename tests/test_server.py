"""`kokoro-litert serve` on loopback, talked to by real clients: the `openai` client and httpx for
HTTP, the `wyoming` package's client and `wyoming-bench` for Wyoming.

Two servers, each a subprocess on free ports with an API key and a queue of QUEUE (support/server.py,
which other server tests can start the same way):

- `server`, on the tiny bundle (tests/support/tiny_bundle.py), for everything the protocols do.
  Synthesis is deterministic (seed 0), which gives exact checks across paths: a streamed body
  equals the whole one, SSE deltas add up to the same PCM, Wyoming speaks the same samples as HTTP,
  and requests served side by side equal the same requests served alone.
- `real_server`, on the real bundles (`real_weights`), for what must be heard: intelligibility
  through the ASR judge (Whisper tiny.en, tests/support/asr_judge.py) of each format, a blend, and Wyoming
  streaming.

Nothing here asserts on speed.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from support.server import SAMPLE_RATE, ServerProcess, decode, pcm_of, serving

pytestmark = pytest.mark.slow

WYOMING_BENCH = Path(sys.executable).with_name("wyoming-bench")
API_KEY = "test-key"
QUEUE = 3
WER_MAX = 0.05  # per test input of two or three dev sentences (~30 words): at most one word misheard
LONG_TEXT = " ".join(f"This is sentence number {i} of a long story." for i in range(1, 31))  # 30 sentences


def dev_text(*ids: str) -> str:
    from support.sentences import load_sentences

    by_id = {s.id: s.text for s in load_sentences("dev")}
    return " ".join(by_id[i] for i in ids)


def assert_intelligible(samples: np.ndarray, rate: int, text: str, label: str) -> None:
    from support.asr_judge import transcribe, wer

    heard = transcribe(samples, rate)
    score = wer([text], [heard])
    print(f"\n{label}: WER {score:.1%}, heard {heard!r}")
    assert score <= WER_MAX, (label, heard)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tiny, tmp_path_factory):
    with serving(tiny.bundle, tmp_path_factory.mktemp("server") / "serve.log",
                 "--api-key", API_KEY, "--queue", str(QUEUE)) as srv:
        yield srv


@pytest.fixture(scope="module")
def real_server(bundle_dir, tmp_path_factory):
    with serving(bundle_dir, tmp_path_factory.mktemp("server") / "serve.log",
                 "--api-key", API_KEY, "--queue", str(QUEUE)) as srv:
        yield srv


def _openai_client(srv: ServerProcess):
    import openai

    return openai.OpenAI(base_url=f"{srv.url}/v1", api_key=API_KEY, max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def client(server):
    return _openai_client(server)


@pytest.fixture(scope="module")
def real_client(real_server):
    return _openai_client(real_server)


@pytest.fixture(scope="module")
def http(server):
    import httpx

    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300) as c:
        yield c


def speak(client, text: str, fmt: str = "pcm", voice: str = "af_heart", **kw) -> bytes:
    return client.audio.speech.create(model="kokoro", input=text, voice=voice, response_format=fmt, **kw).content


TWO = ("dev_002", "dev_006")  # two ordinary sentences, 20 words
LOSSY = ("mp3", "opus", "aac")


@pytest.fixture(scope="module")
def reference_pcm(client) -> bytes:
    """The two TWO sentences as pcm through the plain (non-streaming) path: what every other path must equal."""
    return speak(client, dev_text(*TWO))


# --------------------------------------------------------------------------- no server needed


def test_runtime_does_not_import_the_server_libraries():
    code = ("import sys, kokoro_litert.runtime.api, kokoro_litert.runtime.cli; "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'wyoming', 'av') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- HTTP


def _lossy_as_long_as(client, text: str, fmt: str, reference_seconds: float) -> tuple[np.ndarray, int]:
    """`text` in a lossy format, decoded; as long as the reference to within the codec's delay and
    padding (mp3 ~1,100 samples, aac 1,024, Ogg Opus pre-skip 312 at 48 kHz)."""
    response = client.audio.speech.create(model="tts-1", input=text, voice="af_heart", response_format=fmt)
    samples, rate = decode(response.content, fmt)
    assert abs(samples.size / rate - reference_seconds) < 0.1, (fmt, samples.size / rate, reference_seconds)
    return samples, rate


def test_speech_in_every_format(client, reference_pcm):
    """The same audio in all six formats: wav and flac bit-exact to pcm, the lossy ones as long
    (whether they are intelligible: `test_every_format_is_intelligible`)."""
    text = dev_text(*TWO)
    expected = pcm_of(reference_pcm)
    assert expected.size > SAMPLE_RATE  # over a second of speech
    for fmt in ("wav", "flac"):
        data = client.audio.speech.create(model="tts-1", input=text, voice="af_heart", response_format=fmt).content
        samples, _ = decode(data, fmt)
        if fmt == "wav":
            assert data[:4] == b"RIFF" and int.from_bytes(data[40:44], "little") == expected.size * 2  # exact sizes
        np.testing.assert_array_equal(np.round(samples * 32768).astype(np.int16), expected, err_msg=fmt)
    for fmt in LOSSY:
        _lossy_as_long_as(client, text, fmt, expected.size / SAMPLE_RATE)


@pytest.mark.real_weights
def test_every_format_is_intelligible(real_client):
    text = dev_text(*TWO)
    expected = pcm_of(speak(real_client, text))
    for fmt in LOSSY:
        samples, rate = _lossy_as_long_as(real_client, text, fmt, expected.size / SAMPLE_RATE)
        assert_intelligible(samples, rate, text, fmt)
    assert_intelligible(expected.astype(np.float32) / 32768, SAMPLE_RATE, text, "pcm")


def test_stream_format_audio_is_sent_as_synthesized(client, server, reference_pcm):
    """stream_format audio: the first bytes arrive while most of the text is still unsynthesized,
    and the streamed body equals the whole one."""
    before = server.wait_idle()["chunks"]
    with client.audio.speech.with_streaming_response.create(
            model="kokoro", input=LONG_TEXT, voice="af_heart", response_format="pcm", stream_format="audio") as r:
        parts = r.iter_bytes()
        first = next(parts)
        at_first_bytes = server.health()["chunks"] - before
        body = first + b"".join(parts)
    total = server.health()["chunks"] - before
    print(f"\nchunks synthesized when the first bytes arrived: {at_first_bytes} of {total}")
    assert total >= 30 and at_first_bytes <= total // 2  # AHEAD chunks + what the socket buffers, not all
    assert len(body) % 2 == 0 and len(body) > 30 * SAMPLE_RATE  # 30 sentences, over a second each

    with client.audio.speech.with_streaming_response.create(
            model="kokoro", input=dev_text(*TWO), voice="af_heart", response_format="pcm", stream_format="audio") as r:
        assert r.read() == reference_pcm
    with client.audio.speech.with_streaming_response.create(
            model="kokoro", input=dev_text(*TWO), voice="af_heart", response_format="wav", stream_format="audio") as r:
        streamed_wav = r.read()
    assert streamed_wav[4:8] == b"\xff\xff\xff\xff"  # a streamed WAV cannot know its length
    assert streamed_wav[44:] == reference_pcm


def test_stream_format_sse(client, reference_pcm):
    with client.audio.speech.with_streaming_response.create(
            model="kokoro", input=dev_text(*TWO), voice="af_heart", response_format="pcm", stream_format="sse") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: "):]) for line in r.iter_lines() if line.startswith("data: ")]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 2 and events[-1]["type"] == "speech.audio.done" and len(events) == len(deltas) + 1
    assert b"".join(base64.b64decode(e["audio"]) for e in deltas) == reference_pcm
    assert events[-1]["usage"]["output_tokens"] == len(reference_pcm) // 2 // 600  # 25 Hz frames


BLEND = "af_heart:0.7,bf_emma:0.3"


def test_voice_blend(client, reference_pcm):
    blend = speak(client, dev_text(*TWO), voice=BLEND)
    assert blend != reference_pcm and len(blend) > 0


@pytest.mark.real_weights
def test_voice_blend_is_intelligible(real_client):
    blend = speak(real_client, dev_text(*TWO), voice=BLEND)
    assert_intelligible(pcm_of(blend).astype(np.float32) / 32768, SAMPLE_RATE, dev_text(*TWO), "blend")


def test_captioned_speech_times_the_words_of_the_source_text(http):
    text = "I paid $3.50 for 2 apples at 6:30, said Dr. Smith."
    r = http.post("/v1/audio/captioned_speech", json={"input": text, "voice": "af_heart", "response_format": "wav"})
    assert r.status_code == 200, r.text
    body = r.json()
    words = body["timestamps"]
    assert [w["word"] for w in words] == ["I", "paid", "$3.50", "for", "2", "apples", "at", "6:30", "said", "Dr.",
                                          "Smith"]
    samples, rate = decode(base64.b64decode(body["audio"]), "wav")
    seconds = samples.size / rate
    starts = [w["start_time"] for w in words]
    assert starts == sorted(starts) and all(0 <= w["start_time"] < w["end_time"] <= seconds for w in words)
    assert body["sample_rate"] == SAMPLE_RATE and body["audio_format"] == "wav"

    r = http.post("/v1/audio/captioned_speech", json={"input": text, "response_format": "pcm", "stream_format": "sse"})
    events = [json.loads(line[len("data: "):]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert [w for e in events if e["type"] == "speech.audio.delta" for w in e["timestamps"]] == words
    streamed = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    assert streamed == base64.b64decode(body["audio"])[44:]


def test_voices_models_health_and_schema(http, server):
    from kokoro_litert.buckets.manifest import Manifest

    voices = http.get("/v1/audio/voices").json()["voices"]
    assert sorted(voices) == sorted(Manifest.load(server.bundles).voices)
    assert "af_heart" in voices and "bf_emma" in voices  # the defaults (HTTP; Wyoming's en_GB)
    models = [m["id"] for m in http.get("/v1/models").json()["data"]]
    assert "kokoro" in models and "tts-1" in models
    health = server.health()
    assert health["status"] == "ok" and health["capacity"] == QUEUE
    schema = http.get("/openapi.json").json()
    body = schema["paths"]["/v1/audio/speech"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    fields = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]["properties"]
    assert {"model", "input", "voice", "response_format", "speed", "stream_format"} <= set(fields)
    assert "/v1/audio/captioned_speech" in schema["paths"]


def test_api_key(server):
    import httpx

    body = {"input": "Hello."}
    assert httpx.post(f"{server.url}/v1/audio/speech", json=body).status_code == 401
    r = httpx.post(f"{server.url}/v1/audio/speech", json=body, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{server.url}/v1/audio/voices").status_code == 401
    assert httpx.get(f"{server.url}/health").status_code == 200  # liveness probes need no key


BAD_REQUESTS = [
    # (label, request kwargs, status, words the message must contain)
    ("empty input", {"json": {"input": ""}}, 400, "empty"),
    ("whitespace input", {"json": {"input": " \n\t "}}, 400, "empty"),
    ("unknown voice", {"json": {"input": "Hello.", "voice": "af_nobody"}}, 400, "GET /v1/audio/voices"),
    ("voice as a file path", {"json": {"input": "Hello.", "voice": "/etc/passwd.bin"}}, 400, "Unknown voice"),
    ("bad blend weight", {"json": {"input": "Hello.", "voice": "af_heart:-1"}}, 400, "weight above 0"),
    ("speed too low", {"json": {"input": "Hello.", "speed": 0.25}}, 400, "0.5 and 2.0"),
    ("speed too high", {"json": {"input": "Hello.", "speed": 4.0}}, 400, "0.5 and 2.0"),
    ("speed not a number", {"json": {"input": "Hello.", "speed": "fast"}}, 400, "speed"),
    ("input over the limit", {"json": {"input": "word " * 820}}, 400, "4096"),  # the schema's maxLength
    ("body over the limit", {"content": b'{"input": "' + b"a" * (2 << 20) + b'"}',
                             "headers": {"content-type": "application/json"}}, 413, "limit"),
    ("malformed JSON", {"content": b'{"input": "Hello."', "headers": {"content-type": "application/json"}}, 400,
     "not valid JSON"),
    ("JSON that is not an object", {"json": ["Hello."]}, 400, "object"),
    ("no body", {}, 400, "no body"),
    ("wrong content type", {"content": b"Hello.", "headers": {"content-type": "text/plain"}}, 415, "JSON"),
    ("form body", {"data": {"input": "Hello."}}, 415, "JSON"),
    ("unsupported format", {"json": {"input": "Hello.", "response_format": "ogg"}}, 400, "response_format"),
    ("unknown stream format", {"json": {"input": "Hello.", "stream_format": "chunks"}}, 400, "stream_format"),
    ("unknown model", {"json": {"input": "Hello.", "model": "whisper-1"}}, 400, "GET /v1/models"),
    ("unknown language", {"json": {"input": "Hello.", "lang_code": "x"}}, 400, "lang_code"),
]


@pytest.mark.parametrize("label,request_kw,status,needle", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_http_input_is_a_clear_error(http, label, request_kw, status, needle):
    r = http.post("/v1/audio/speech", **request_kw)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert needle in error["message"] or needle == error["param"], error
    assert "Traceback" not in r.text


def test_nothing_speakable_is_silence_and_says_why(http):
    """Schema-valid text with nothing speakable in it (only emoji) is not an error: no audio, and the
    reason in the Kokoro-Warnings header (a JSON list of strings)."""
    for fmt in ("pcm", "wav"):
        r = http.post("/v1/audio/speech", json={"input": "🙂🙂", "response_format": fmt})
        assert r.status_code == 200, r.text
        warnings = json.loads(r.headers["kokoro-warnings"])
        assert len(warnings) == 1 and "Nothing speakable" in warnings[0] and "SLIGHTLY SMILING FACE" in warnings[0]
        if fmt == "wav":
            with wave.open(io.BytesIO(r.content)) as w:
                assert w.getnframes() == 0
        else:
            assert r.content == b""


def test_errors_reach_the_openai_client(client, http):
    import openai

    with pytest.raises(openai.BadRequestError, match="GET /v1/audio/voices"):
        speak(client, "Hello.", voice="nobody")
    r = http.post("/v1/audio/captioned_speech", json={"input": "Hello.", "stream_format": "audio"})
    assert r.status_code == 400 and "sse" in r.json()["error"]["message"]
    assert http.get("/v1/audio/speech").status_code == 405
    assert len(speak(client, "Still serving.")) > 0


def test_disconnect_stops_synthesis(server, http):
    """A client that goes away after the first bytes: its 30-chunk text stops being synthesized."""
    before = server.wait_idle()
    with http.stream("POST", "/v1/audio/speech", json={"input": LONG_TEXT, "response_format": "pcm",
                                                       "stream_format": "audio"}) as r:
        next(r.iter_raw())
    after = server.wait_idle()
    print(f"\nHTTP: {after['chunks'] - before['chunks']} chunks synthesized for 30 sentences")
    assert after["chunks"] - before["chunks"] <= 10 and after["cancelled"] == before["cancelled"] + 1
    # A wav sent whole (nothing written until the end) is cancelled as well.
    with http.stream("POST", "/v1/audio/speech", json={"input": LONG_TEXT, "response_format": "wav"}):
        while server.health()["chunks"] < after["chunks"] + 1:
            time.sleep(0.1)
    again = server.wait_idle()
    print(f"HTTP wav file: {again['chunks'] - after['chunks']} chunks synthesized for 30 sentences")
    assert again["chunks"] - after["chunks"] <= 10 and again["cancelled"] == after["cancelled"] + 1

    async def wyoming_client_leaves():
        from wyoming.client import AsyncTcpClient
        from wyoming.tts import Synthesize

        async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as c:
            await c.write_event(Synthesize(LONG_TEXT).event())
            while (await c.read_event()).type != "audio-chunk":
                pass

    asyncio.run(wyoming_client_leaves())
    last = server.wait_idle()
    print(f"Wyoming: {last['chunks'] - again['chunks']} chunks synthesized for 30 sentences")
    assert last["chunks"] - again["chunks"] <= 10 and last["cancelled"] == again["cancelled"] + 1


def test_full_queue_is_503_and_a_wyoming_error(server, http):
    """QUEUE clients hold every place (long streams they do not read); one more is refused on both
    protocols, with Retry-After; once they leave, the server serves again."""
    import httpx

    server.wait_idle()
    holders = [httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300)
               for _ in range(QUEUE)]
    streams = [h.stream("POST", "/v1/audio/speech", json={"input": LONG_TEXT, "response_format": "pcm",
                                                          "stream_format": "audio"}) for h in holders]
    try:
        for s in streams:
            s.__enter__()  # response headers received: the request holds its place
        assert server.health()["admitted"] == QUEUE
        r = http.post("/v1/audio/speech", json={"input": "One too many."})
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "server_busy"

        async def wyoming_refused():
            from wyoming.client import AsyncTcpClient
            from wyoming.info import Describe
            from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

            async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as c:
                await c.write_event(Synthesize("One too many.").event())
                refused = await c.read_event()
                await c.write_event(SynthesizeStart().event())
                refused_stream = await c.read_event()
                await c.write_event(SynthesizeChunk("Ignored. ").event())
                await c.write_event(SynthesizeStop().event())
                await c.write_event(Describe().event())
                after = await c.read_event()  # the refused stream produced nothing; the connection works
                return refused, refused_stream, after

        refused, refused_stream, after = asyncio.run(wyoming_refused())
        assert (refused.type, refused.data["code"]) == ("error", "busy")
        assert (refused_stream.type, refused_stream.data["code"]) == ("error", "busy")
        assert after.type == "info"
    finally:
        for s, h in zip(streams, holders):
            s.__exit__(None, None, None)
            h.close()
    server.wait_idle()
    assert http.post("/v1/audio/speech", json={"input": "Served again.", "response_format": "pcm"}).status_code == 200


def test_concurrent_requests_share_the_model_and_match_sequential(client, server):
    """QUEUE clients at once, interleaved chunk by chunk on one model: each gets exactly what it gets alone."""
    texts = [dev_text("dev_001", "dev_008"), dev_text("dev_010", "dev_012"), dev_text("dev_021", "dev_031")]
    alone = [speak(client, t) for t in texts]
    server.wait_idle()
    results: list[bytes | Exception] = [b""] * len(texts)

    def run(i):
        try:
            results[i] = speak(client, texts[i])
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == alone


# --------------------------------------------------------------------------- Wyoming


async def _events_until(c, last_type: str) -> list:
    events = []
    while True:
        event = await c.read_event()
        assert event is not None, f"connection closed before {last_type}"
        events.append(event)
        if event.type in (last_type, "error"):
            return events


def _pcm(events) -> bytes:
    return b"".join(e.payload for e in events if e.type == "audio-chunk")


LANGUAGE_OF_PREFIX = {"a": "en-us", "b": "en-gb", "e": "es", "f": "fr-fr", "h": "hi", "i": "it", "j": "ja",
                      "p": "pt-br", "z": "zh"}


def test_wyoming_describe_lists_every_voice(server, http):
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info

    async def describe():
        async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as c:
            await c.write_event(Describe().event())
            return Info.from_event(await c.read_event())

    info = asyncio.run(describe())
    (program,) = info.tts
    assert program.supports_synthesize_streaming and program.installed
    assert [v.name for v in program.voices] == http.get("/v1/audio/voices").json()["voices"]
    # Each voice in the language it was trained on, named by its prefix (Kokoro's language codes).
    assert {v.name: v.languages for v in program.voices} == {v.name: [LANGUAGE_OF_PREFIX[v.name[0]]]
                                                             for v in program.voices}


def test_wyoming_synthesize_equals_http(server, reference_pcm):
    from wyoming.audio import AudioStart
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize, SynthesizeVoice

    async def synthesize():
        async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as c:
            await c.write_event(Synthesize(dev_text(*TWO), SynthesizeVoice("af_heart")).event())
            return await _events_until(c, "audio-stop")

    events = asyncio.run(synthesize())
    assert events[0].type == "audio-start" and events[-1].type == "audio-stop"
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (SAMPLE_RATE, 2, 1)
    assert _pcm(events) == reference_pcm


STREAMED_TEXT = ("dev_001", "dev_015", "dev_010")


def _wyoming_stream(srv: ServerProcess, text: str) -> list:
    """synthesize-start, text in pieces that cut words and sentences, Home Assistant's compatibility
    synthesize, synthesize-stop: every event up to synthesize-stopped. Checks that the first
    unit is spoken before synthesize-stop, one audio cycle per unit, no error."""
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

    pieces = [text[i:i + 7] for i in range(0, len(text), 7)]

    async def stream():
        async with AsyncTcpClient("127.0.0.1", srv.wyoming_port) as c:
            await c.write_event(SynthesizeStart(SynthesizeVoice("bf_emma")).event())
            for piece in pieces:
                await c.write_event(SynthesizeChunk(piece).event())
            first = await c.read_event()  # the first sentence is spoken before synthesize-stop
            await c.write_event(Synthesize(text).event())
            await c.write_event(SynthesizeStop().event())
            return [first, *await _events_until(c, "synthesize-stopped")]

    events = asyncio.run(stream())
    assert events[0].type == "audio-start" and events[-1].type == "synthesize-stopped"
    # one audio cycle per unit the live-text segmenter cuts: the first clause, then each sentence
    from kokoro_litert.runtime.live_text import Segmenter

    segmenter = Segmenter("b")
    units = [u for piece in pieces for u in segmenter.push(piece)] + segmenter.finish()
    assert len(units) == 3  # three sentences; the first ("Open the window, please.") too short to cut at its comma
    assert [e.type for e in events].count("audio-start") == len(units) == [e.type for e in events].count("audio-stop")
    assert "error" not in [e.type for e in events]
    return events


def test_wyoming_streaming_speaks_each_sentence_as_it_completes(server):
    assert len(_pcm(_wyoming_stream(server, dev_text(*STREAMED_TEXT)))) > 0


@pytest.mark.real_weights
def test_wyoming_streaming_is_intelligible(real_server):
    text = dev_text(*STREAMED_TEXT)
    events = _wyoming_stream(real_server, text)
    assert_intelligible(pcm_of(_pcm(events)).astype(np.float32) / 32768, SAMPLE_RATE, text, "Wyoming streaming")


def test_bad_wyoming_events_are_errors_and_the_connection_goes_on(server):
    from wyoming.client import AsyncTcpClient
    from wyoming.event import Event
    from wyoming.tts import Synthesize

    cases = [
        (Event("synthesize", {}), "bad-event", "'text'"),
        (Event("synthesize", {"text": 42}), "bad-event", "string"),
        (Event("synthesize", {"text": "  "}), "bad-input", "empty"),
        (Event("synthesize", {"text": "Hello.", "voice": {"name": "zz_nobody"}}), "unknown-voice", "describe"),
        (Event("synthesize", {"text": "x" * 5000}), "bad-input", "4096"),
        (Event("synthesize-chunk", {"text": "Hello."}), "bad-event", "synthesize-start"),
        (Event("synthesize-stop"), "bad-event", "synthesize-start"),
        (Event("synthesize-start", {"voice": {"name": "zz_nobody"}}), "unknown-voice", "describe"),
        (b"{this is not json\n", "bad-event", "Not a Wyoming event"),
        (b'{"data": {"text": "Hello."}}\n', "bad-event", "type"),
    ]

    async def run():
        replies = []
        async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as c:
            for what, _, _ in cases:
                if isinstance(what, bytes):
                    c._writer.write(what)  # raw bytes: the client library only writes well-formed events
                    await c._writer.drain()
                else:
                    await c.write_event(what)
                replies.append(await c.read_event())
            await c.write_event(Event("synthesize-stop"))  # ends the refused stream quietly
            await c.write_event(Synthesize("Still here.").event())
            return replies, await _events_until(c, "audio-stop")

    replies, events = asyncio.run(run())
    for (what, code, needle), reply in zip(cases, replies):
        assert reply.type == "error" and reply.data["code"] == code, (what, reply)
        assert needle in reply.data["text"], (what, reply.data)
    assert events[0].type == "audio-start" and len(_pcm(events)) > 0


def test_wyoming_bench_both_modes(server):
    result = subprocess.run([str(WYOMING_BENCH), "tts", f"127.0.0.1:{server.wyoming_port}",
                             "--mode", "both", "--rounds", "1", "--warmup", "0", "--timeout", "120"],
                            capture_output=True, text=True, timeout=900)
    print(result.stdout[-2500:])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = dict(re.findall(r"^\[(non_streaming|streaming)\] ok=\d+ fail=(\d+)", result.stdout, re.M))
    oks = dict(re.findall(r"^\[(non_streaming|streaming)\] ok=(\d+)", result.stdout, re.M))
    assert counts == {"non_streaming": "0", "streaming": "0"}, result.stdout[-3000:]
    assert oks == {"non_streaming": "4", "streaming": "4"}
