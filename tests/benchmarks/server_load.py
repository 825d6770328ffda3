"""Load and overload runs of `kokoro-litert serve` on loopback; stops by itself.

    python tests/benchmarks/server_load.py --bundles DIR [--requests 200] [--concurrency 4]
        [--overload-queue 2 --overload-requests 40 --overload-concurrency 8] [--json out.json]

1. Reference: the server starts (queue --queue, default 8), and speaks each dev sentence once,
   one request at a time, as pcm. Synthesis is deterministic (seed 0), so these are what every
   later response of the same sentence must contain.
2. Load: --requests requests, --concurrency at a time, cycling through the 40 dev sentences. One in
   five goes over Wyoming (`synthesize`; a different fifth of the sentences on each pass), the
   others over HTTP with stream_format "audio", in pcm, wav, mp3, opus, flac and aac by turns. A response is complete when pcm/wav/flac/Wyoming are
   sample-identical to the reference and mp3/opus/aac decode to its length (within codec padding).
   Every response is then transcribed by Whisper tiny.en (tests/support/asr_judge.py): corpus WER over all
   of them. First-byte latency: request sent -> first audio byte (HTTP body byte, Wyoming
   audio-chunk). Throughput: requests and seconds of audio per wall-clock second. RSS from the
   server's /health after the reference pass and after the load (peak).
3. Overload: a second server with --overload-queue places; --overload-requests requests at
   --overload-concurrency, no retries. Each must end as a complete response or as a refusal that
   says so (HTTP 503 with Retry-After, Wyoming error event code "busy"); anything else (a timeout,
   a reset, a truncated body, another status) counts as lost.

Exit status 0 only when the load had 0 errors, every response was complete, WER <= 3%, and the
overload lost nothing and refused at least one request. Never touches anything but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

TESTS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR))  # support

from support.server import SAMPLE_RATE, ServerProcess, decode  # noqa: E402

HTTP_FORMATS = ("pcm", "wav", "mp3", "opus", "flac", "aac")
EXACT = {"pcm", "wav", "flac", "wyoming"}  # sample-identical to the reference
WYOMING_EVERY = 5  # every fifth request goes over Wyoming
LENGTH_TOLERANCE = 0.1  # s: codec delay and padding of mp3/opus/aac
WER_MAX = 0.03
REQUEST_TIMEOUT = 300  # s for one request, however loaded the box
VOICE = "af_heart"


def sentences():
    from support.sentences import load_sentences

    return load_sentences("dev")


async def http_request(client, text: str, fmt: str, stream: bool = True) -> dict:
    """One POST /v1/audio/speech, streamed: {"status", "first_byte", "body", "retry_after", "error"}."""
    body = {"model": "kokoro", "input": text, "voice": VOICE, "response_format": fmt}
    if stream:
        body["stream_format"] = "audio"
    start = time.perf_counter()
    out = {"protocol": "http", "format": fmt, "first_byte": None}
    async with client.stream("POST", "/v1/audio/speech", json=body) as r:
        out["status"] = r.status_code
        out["retry_after"] = r.headers.get("retry-after")
        parts = []
        async for part in r.aiter_raw():
            if out["first_byte"] is None:
                out["first_byte"] = time.perf_counter() - start
            parts.append(part)
    out["seconds"] = time.perf_counter() - start
    out["body"] = b"".join(parts)
    if out["status"] != 200:
        out["error"] = json.loads(out["body"]).get("error", {})
    return out


async def wyoming_request(port: int, text: str) -> dict:
    """One Wyoming synthesize: {"status": 200 or "busy"/other error code, "first_byte", "body"}."""
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize, SynthesizeVoice

    start = time.perf_counter()
    out = {"protocol": "wyoming", "format": "wyoming", "first_byte": None, "retry_after": None}
    parts = []
    async with AsyncTcpClient("127.0.0.1", port) as c:
        await c.write_event(Synthesize(text, SynthesizeVoice(VOICE)).event())
        while True:
            event = await c.read_event()
            if event is None:
                out["status"] = "closed"
                break
            if event.type == "audio-chunk":
                if out["first_byte"] is None:
                    out["first_byte"] = time.perf_counter() - start
                parts.append(event.payload)
            elif event.type == "audio-stop":
                out["status"] = 200
                break
            elif event.type == "error":
                out["status"], out["error"] = event.data.get("code"), event.data
                break
    out["seconds"] = time.perf_counter() - start
    out["body"] = b"".join(parts)
    return out


def samples_of(result: dict) -> tuple[np.ndarray, int]:
    fmt, body = result["format"], result["body"]
    if fmt in ("pcm", "wyoming"):
        return np.frombuffer(body, "<i2").astype(np.float32) / 32768.0, SAMPLE_RATE
    return decode(body, fmt)


def complete(result: dict, reference: bytes) -> bool:
    if result["status"] != 200:
        return False
    try:
        samples, rate = samples_of(result)
    except Exception:  # noqa: BLE001 - an undecodable body is an incomplete response
        return False
    if result["format"] in EXACT:
        if result["format"] in ("pcm", "wyoming"):
            pcm16 = result["body"]
        else:  # wav and flac decode to 16-bit samples, exactly
            pcm16 = np.round(samples * 32768).astype("<i2").tobytes()
        return pcm16 == reference
    return abs(samples.size / rate - len(reference) / 2 / SAMPLE_RATE) <= LENGTH_TOLERANCE


async def run_all(jobs, concurrency: int, server: ServerProcess, http_client) -> list[dict]:
    """Run `jobs` [(index, sentence, kind)] with `concurrency` workers; every job gets a result."""
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    results: list[dict | None] = [None] * len(jobs)

    async def worker():
        while not queue.empty():
            index, sentence, kind = queue.get_nowait()
            try:
                if kind == "wyoming":
                    coro = wyoming_request(server.wyoming_port, sentence.text)
                else:
                    coro = http_request(http_client, sentence.text, kind)
                result = await asyncio.wait_for(coro, REQUEST_TIMEOUT)
            except Exception as e:  # noqa: BLE001 - counted as a lost request
                result = {"protocol": "wyoming" if kind == "wyoming" else "http", "format": kind,
                          "status": f"{type(e).__name__}: {e}", "first_byte": None, "body": b""}
            result["index"], result["sentence"] = index, sentence
            results[index] = result

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def kind_of(i: int, n_sentences: int = 40) -> str:
    """Request i's protocol and format: every fifth over Wyoming, shifted by one each pass over the
    sentences so every sentence goes over both protocols; HTTP formats in turn."""
    if (i + i // n_sentences) % WYOMING_EVERY == WYOMING_EVERY - 1:
        return "wyoming"
    return HTTP_FORMATS[i % len(HTTP_FORMATS)]


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


async def load_run(args, server: ServerProcess) -> dict:
    import httpx

    sents = sentences()
    async with httpx.AsyncClient(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:
        print(f"reference: {len(sents)} dev sentences, one at a time", flush=True)
        start = time.perf_counter()
        reference = {}
        for s in sents:
            r = await http_request(client, s.text, "pcm", stream=False)
            assert r["status"] == 200, (s.id, r.get("error"))
            reference[s.id] = r["body"]
        reference_wall = time.perf_counter() - start
        after_reference = server.health()
        print(f"  {reference_wall:.0f} s; server RSS {after_reference.get('rss_mb')} MB "
              f"(peak {after_reference['peak_rss_mb']} MB)", flush=True)

        jobs = [(i, sents[i % len(sents)], kind_of(i, len(sents))) for i in range(args.requests)]
        print(f"load: {len(jobs)} requests at concurrency {args.concurrency}", flush=True)
        start = time.perf_counter()
        results = await run_all(jobs, args.concurrency, server, client)
        wall = time.perf_counter() - start
    after_load = server.health()

    errors = [r for r in results if r["status"] != 200]
    incomplete = [r for r in results if r["status"] == 200 and not complete(r, reference[r["sentence"].id])]
    audio_seconds = sum(len(reference[r["sentence"].id]) / 2 / SAMPLE_RATE for r in results if r["status"] == 200)
    first = [r["first_byte"] for r in results if r["first_byte"] is not None]
    by_protocol = {p: [r["first_byte"] for r in results if r["protocol"] == p and r["first_byte"] is not None]
                   for p in ("http", "wyoming")}

    print(f"  transcribing {len(results) - len(errors)} responses", flush=True)
    from support.asr_judge import normalize, transcribe, wer

    refs, hyps, misheard = [], [], []
    for r in results:
        if r["status"] != 200:
            continue
        samples, rate = samples_of(r)
        heard = transcribe(samples, rate)
        refs.append(r["sentence"].text)
        hyps.append(heard)
        if normalize(heard) != normalize(r["sentence"].text):
            misheard.append((r["index"], r["format"], r["sentence"].text, heard))
    score = wer(refs, hyps) if refs else 1.0
    report = {
        "requests": len(results), "concurrency": args.concurrency, "errors": len(errors),
        "incomplete": len(incomplete), "wer": score, "wall_s": wall,
        "first_byte_p50_s": percentile(first, 50), "first_byte_p95_s": percentile(first, 95),
        "first_byte_by_protocol": {p: {"n": len(v), "p50_s": percentile(v, 50), "p95_s": percentile(v, 95)}
                                   for p, v in by_protocol.items() if v},
        "requests_per_s": len(results) / wall, "audio_s_per_s": audio_seconds / wall, "audio_s": audio_seconds,
        "reference_pass_s": reference_wall, "rss_mb_after_reference": after_reference.get("rss_mb"),
        "peak_rss_mb_after_reference": after_reference["peak_rss_mb"], "peak_rss_mb_after_load": after_load["peak_rss_mb"],
        "rss_mb_after_load": after_load.get("rss_mb"), "server": after_load,
        "errors_detail": [(r["index"], r["format"], str(r["status"]), r.get("error")) for r in errors][:20],
        "misheard": misheard[:20],
    }
    for index, fmt, text, heard in misheard:
        print(f"  misheard #{index} ({fmt}): said {text!r}, heard {heard!r}")
    return report


async def overload_run(args, server: ServerProcess) -> dict:
    import httpx

    sents = sentences()
    jobs = [(i, sents[i % len(sents)], kind_of(i, len(sents))) for i in range(args.overload_requests)]
    print(f"overload: {len(jobs)} requests at concurrency {args.overload_concurrency}, queue {args.overload_queue}",
          flush=True)
    async with httpx.AsyncClient(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:
        reference = {}
        for s in {s.id: s for _, s, _ in jobs}.values():
            r = await http_request(client, s.text, "pcm", stream=False)
            assert r["status"] == 200, (s.id, r.get("error"))
            reference[s.id] = r["body"]
        start = time.perf_counter()
        results = await run_all(jobs, args.overload_concurrency, server, client)
        wall = time.perf_counter() - start

    def refused(r) -> bool:
        if r["protocol"] == "http":
            return (r["status"] == 503 and r.get("error", {}).get("code") == "server_busy"
                    and (r["retry_after"] or "").isdigit())
        return r["status"] == "busy"

    served = [r for r in results if r["status"] == 200 and complete(r, reference[r["sentence"].id])]
    busy = [r for r in results if refused(r)]
    lost = [r for r in results if r not in served and r not in busy]
    health = server.health()
    report = {"requests": len(results), "concurrency": args.overload_concurrency, "queue": args.overload_queue,
              "served_complete": len(served), "refused_busy": len(busy),
              "refused_http_503": sum(r["protocol"] == "http" for r in busy),
              "refused_wyoming_busy": sum(r["protocol"] == "wyoming" for r in busy),
              "lost": len(lost), "wall_s": wall, "server_busy_count": health["busy"],
              "retry_after_values": sorted({r["retry_after"] for r in busy if r["retry_after"]}),
              "lost_detail": [(r["index"], r["format"], str(r["status"])) for r in lost][:20]}
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=Path, required=True, help="a bundle folder (kokoro-litert convert)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--queue", type=int, default=8, help="the load server's --queue")
    parser.add_argument("--overload-queue", type=int, default=2)
    parser.add_argument("--overload-requests", type=int, default=40)
    parser.add_argument("--overload-concurrency", type=int, default=8)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"), help="where the servers' logs go")
    args = parser.parse_args(argv)

    report = {}
    for name, queue, run in (("load", args.queue, load_run), ("overload", args.overload_queue, overload_run)):
        server = ServerProcess(args.bundles, args.log_dir / f"server_{name}.log", "--queue", str(queue))
        try:
            server.wait_ready()
            report[name] = asyncio.run(run(args, server))
        finally:
            server.stop()

    load, over = report["load"], report["overload"]
    print(f"\nload: {load['requests']} requests at concurrency {load['concurrency']} in {load['wall_s']:.0f} s: "
          f"{load['errors']} errors, {load['incomplete']} incomplete, WER {load['wer']:.2%}")
    print(f"  first byte p50 {load['first_byte_p50_s']:.2f} s, p95 {load['first_byte_p95_s']:.2f} s "
          + ", ".join(f"({p}: n={v['n']}, p50 {v['p50_s']:.2f} s, p95 {v['p95_s']:.2f} s)"
                      for p, v in load["first_byte_by_protocol"].items()))
    print(f"  throughput {load['requests_per_s']:.2f} requests/s, {load['audio_s_per_s']:.2f} s of audio per s "
          f"({load['audio_s']:.0f} s of audio)")
    print(f"  server RSS after the one-at-a-time reference pass {load['rss_mb_after_reference']} MB "
          f"(peak {load['peak_rss_mb_after_reference']} MB); after the load {load['rss_mb_after_load']} MB "
          f"(peak {load['peak_rss_mb_after_load']} MB)")
    print(f"overload: {over['requests']} requests at concurrency {over['concurrency']}, queue {over['queue']}: "
          f"{over['served_complete']} served complete, {over['refused_busy']} refused "
          f"({over['refused_http_503']} HTTP 503 with Retry-After {over['retry_after_values']}, "
          f"{over['refused_wyoming_busy']} Wyoming busy errors), {over['lost']} lost; server counted {over['server_busy_count']} refusals")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    ok = (load["errors"] == 0 and load["incomplete"] == 0 and load["wer"] <= WER_MAX
          and over["lost"] == 0 and over["refused_busy"] > 0 and over["served_complete"] > 0)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
