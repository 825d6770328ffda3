"""`kokoro-litert serve` speaks every voice in its own language, over HTTP and Wyoming.

The voice picks the language as upstream does (ef_dora reads Spanish); HTTP's `lang_code` and
Wyoming's `voice.language` override it. Synthesis is deterministic (seed 0), so each check is exact:
the server's samples equal `Kokoro.stream` in this process on the same bundle with the same voice and
language, and differ from the same text read as English, which proves which front-end's phonemes
the server used.

Mandarin and Japanese are checked only where their front-ends are installed (skipped otherwise).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections import Counter

import pytest
from support.server import ServerProcess

pytestmark = [pytest.mark.real_weights, pytest.mark.slow]

SPANISH = "Hola, ¿cómo estás hoy? Tengo tres manzanas y dos peras."
SPANISH_SENTENCES = ("Hola, ¿cómo estás hoy?", "Tengo tres manzanas y dos peras.")  # as sentence-stream cuts it
VOICES_PER_LANGUAGE = {"en-us": 20, "en-gb": 8, "es": 3, "fr-fr": 1, "hi": 4, "it": 2, "ja": 5, "pt-br": 3, "zh": 8}
"""Kokoro-82M v1.0's 54 voices by language (upstream's VOICES.md)."""
CJK = [("zh", "mandarin", "zf_xiaobei", "今天天气很好，我们去公园散步吧。"),
       ("ja", "japanese", "jf_alpha", "今日はいい天気ですね。公園に行きましょう。")]
"""(language, front-end module, its first voice in the bundle, a sentence)."""


@pytest.fixture(scope="module")
def server(bundle_dir, tmp_path_factory):
    """`kokoro-litert serve` with Wyoming on free loopback ports: (http url, wyoming port)."""
    srv = ServerProcess(bundle_dir, tmp_path_factory.mktemp("server") / "serve.log")
    try:
        srv.wait_ready()
        yield srv.url, srv.wyoming_port
    finally:
        code = srv.stop()
        log = srv.log_path.read_text(errors="replace")
        assert code == 0 and "Traceback" not in log, log[-5000:]


@pytest.fixture(scope="module")
def http(server):
    import httpx

    with httpx.Client(base_url=server[0], timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
def tts(bundle_dir):
    """The API on the same bundle, in this process: what the server must equal."""
    from kokoro_litert.runtime.api import Kokoro

    return Kokoro.from_bundles(bundle_dir)


def reference_pcm(tts, text: str, voice: str, lang: str | None = None) -> bytes:
    """What the server speaks for one request: `Kokoro.stream`'s chunks as 16-bit PCM."""
    from kokoro_litert.runtime.wav import to_pcm16

    return b"".join(to_pcm16(chunk.audio) for chunk in tts.stream(text, voice, lang=lang))


def speak(http, text: str, voice: str, **fields) -> bytes:
    r = http.post("/v1/audio/speech", json={"input": text, "voice": voice, "response_format": "pcm", **fields})
    assert r.status_code == 200, r.text
    return r.content


async def _wyoming(port: int, *events) -> list:
    """Send `events`, then read until audio-stop, synthesize-stopped or error."""
    from wyoming.client import AsyncTcpClient

    async with AsyncTcpClient("127.0.0.1", port) as client:
        for event in events:
            await client.write_event(event)
        received = []
        while True:
            event = await client.read_event()
            assert event is not None, "connection closed"
            received.append(event)
            last_of_stream = any(e.type == "synthesize-start" for e in events)
            if event.type == "error" or event.type == ("synthesize-stopped" if last_of_stream else "audio-stop"):
                return received


def wyoming_pcm(port: int, *events) -> bytes:
    received = asyncio.run(_wyoming(port, *events))
    assert "error" not in [e.type for e in received], [e.data for e in received if e.type == "error"]
    return b"".join(e.payload for e in received if e.type == "audio-chunk")


@pytest.fixture(scope="module")
def spanish(tts) -> bytes:
    """SPANISH in ef_dora's own language, as the API speaks it; it must not be the English reading."""
    from kokoro_litert.runtime.api import speakable

    assert speakable(SPANISH, "e").phonemes != speakable(SPANISH, "a").phonemes  # else the test proves nothing
    pcm = reference_pcm(tts, SPANISH, "ef_dora")
    assert pcm == reference_pcm(tts, SPANISH, "ef_dora", lang="es")
    assert pcm != reference_pcm(tts, SPANISH, "ef_dora", lang="a")
    return pcm


# --------------------------------------------------------------------------- HTTP


def test_spanish_voice_speaks_spanish_over_http(http, spanish):
    assert speak(http, SPANISH, "ef_dora") == spanish


def test_captioned_speech_speaks_the_same_spanish(http, spanish):
    import base64

    r = http.post("/v1/audio/captioned_speech", json={"input": SPANISH, "voice": "ef_dora", "response_format": "pcm"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert base64.b64decode(body["audio"]) == spanish
    words = [w["word"] for w in body["timestamps"]]
    assert {"Hola", "manzanas", "peras"} <= {w.strip("¿?,.") for w in words}, words


def test_lang_code_overrides_the_voice_language(http, tts):
    """af_heart reads Spanish with lang_code es (by code or name, in any case); ef_dora reads English with a."""
    af_spanish = reference_pcm(tts, SPANISH, "af_heart", lang="e")
    assert af_spanish != reference_pcm(tts, SPANISH, "af_heart")
    for lang_code in ("es", "e", "ES"):
        assert speak(http, SPANISH, "af_heart", lang_code=lang_code) == af_spanish, lang_code
    english = "I have three apples."
    assert speak(http, english, "ef_dora", lang_code="en-us") == reference_pcm(tts, english, "ef_dora", lang="a")


def test_unknown_lang_code_is_a_400_naming_it(http):
    r = http.post("/v1/audio/speech", json={"input": "Hola.", "voice": "ef_dora", "lang_code": "klingon"})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["param"], error["code"]) == ("lang_code", "unknown_language")
    assert "'klingon'" in error["message"] and "es" in error["message"]


def test_voices_report_their_language(http):
    from kokoro_litert.runtime.text.languages import language_of_voice

    body = http.get("/v1/audio/voices").json()
    assert len(body["voices"]) == 54 and [d["name"] for d in body["details"]] == body["voices"]
    for detail in body["details"]:
        lang = language_of_voice(detail["name"])
        assert (detail["language"], detail["lang_code"]) == (lang.name, lang.code), detail
    assert Counter(d["language"] for d in body["details"]) == VOICES_PER_LANGUAGE


def test_schema_offers_lang_code(http):
    schema = http.get("/openapi.json").json()
    for path in ("/v1/audio/speech", "/v1/audio/captioned_speech"):
        ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        field = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"]["lang_code"]
        enum = next(option["enum"] for option in field["anyOf"] if "enum" in option)
        assert {"e", "es", "f", "fr-fr", "h", "hi", "i", "it", "p", "pt-br", "a", "en-us", "b", "en-gb"} <= set(enum)


# --------------------------------------------------------------------------- Wyoming


def test_describe_lists_every_voice_with_its_language(server):
    from wyoming.info import Describe, Info

    from kokoro_litert.runtime.text.languages import language_of_voice

    async def describe():
        from wyoming.client import AsyncTcpClient

        async with AsyncTcpClient("127.0.0.1", server[1]) as client:
            await client.write_event(Describe().event())
            return Info.from_event(await client.read_event())

    (program,) = asyncio.run(describe()).tts
    assert len(program.voices) == 54
    for voice in program.voices:
        assert voice.languages == [language_of_voice(voice.name).name], voice
    assert Counter(v.languages[0] for v in program.voices) == VOICES_PER_LANGUAGE


def test_spanish_voice_speaks_spanish_over_wyoming(server, tts, spanish):
    from wyoming.event import Event
    from wyoming.tts import Synthesize, SynthesizeVoice

    port = server[1]
    assert wyoming_pcm(port, Synthesize(SPANISH, SynthesizeVoice(name="ef_dora")).event()) == spanish
    # A language alone picks its voice (ef_dora, the first Spanish one); a regional tag matches it.
    for tag in ("es", "es-MX"):
        assert wyoming_pcm(port, Synthesize(SPANISH, SynthesizeVoice(language=tag)).event()) == spanish, tag
    # The wyoming package sends a name or a language; a client that sends both gets both.
    both = Event("synthesize", {"text": SPANISH, "voice": {"name": "ef_dora", "language": "en-us"}})
    assert wyoming_pcm(port, both) == reference_pcm(tts, SPANISH, "ef_dora", lang="a") != spanish


def test_voice_language_overrides_over_wyoming(server, tts):
    from wyoming.event import Event

    af_spanish = reference_pcm(tts, SPANISH, "af_heart", lang="es")
    event = Event("synthesize", {"text": SPANISH, "voice": {"name": "af_heart", "language": "es"}})
    assert wyoming_pcm(server[1], event) == af_spanish


def test_wyoming_streaming_speaks_spanish(server, tts):
    """synthesize-start with a language, the text in pieces: each sentence as the API speaks it."""
    from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

    pieces = [SynthesizeChunk(SPANISH[i:i + 7]).event() for i in range(0, len(SPANISH), 7)]
    pcm = wyoming_pcm(server[1], SynthesizeStart(SynthesizeVoice(language="es")).event(), *pieces,
                      SynthesizeStop().event())
    assert pcm == b"".join(reference_pcm(tts, sentence, "ef_dora") for sentence in SPANISH_SENTENCES)


def test_unknown_wyoming_language_is_an_error_event(server):
    from wyoming.tts import Synthesize, SynthesizeVoice

    (reply,) = asyncio.run(_wyoming(server[1], Synthesize("Hola.", SynthesizeVoice(language="tlh")).event()))
    assert (reply.type, reply.data["code"]) == ("error", "unknown-language") and "'tlh'" in reply.data["text"]


# --------------------------------------------------------------------------- Mandarin, Japanese


@pytest.mark.parametrize("name,module,voice,text", CJK, ids=[c[0] for c in CJK])
def test_cjk_voice_speaks_its_language(http, server, tts, name, module, voice, text):
    from wyoming.tts import Synthesize, SynthesizeVoice

    from kokoro_litert.runtime.api import speakable
    from kokoro_litert.runtime.errors import MissingExtra

    if importlib.util.find_spec(f"kokoro_litert.runtime.text.{module}") is None:
        pytest.skip(f"runtime/text/{module}.py is not written yet")
    try:
        assert speakable(text, name).phonemes.strip()
    except (MissingExtra, ImportError) as e:
        pytest.skip(f"the {name} front-end cannot run here: {e}")
    expected = reference_pcm(tts, text, voice)
    assert expected != reference_pcm(tts, "Hello.", voice)
    assert speak(http, text, voice) == expected
    assert speak(http, text, "af_heart", lang_code=name) == reference_pcm(tts, text, "af_heart", lang=name)
    assert wyoming_pcm(server[1], Synthesize(text, SynthesizeVoice(language=name)).event()) == expected
