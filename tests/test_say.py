"""Streaming: each chunk goes out before the next one is synthesized. On the tiny bundle
(tests/support/tiny_bundle.py): what is checked is the order of events, not the audio.

Two sentences that each fit a 32-token bucket make two chunks. The API
test wraps the LiteRT backend's `synthesize` and checks the order of events in-process; the CLI
test holds the second synthesis until the test has read audio from the pipe, so it passes only if
`say --stream` really writes the first chunk before it synthesizes the second. Ordering checks
only: nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time

import pytest
from support.cli_run import CLI, cli_env, say_args

pytestmark = pytest.mark.slow

TWO_SENTENCES = "Open the window, please. What a ridiculous idea!"  # one chunk each at 32 tokens


@pytest.fixture(scope="module")
def tts(tiny):
    from kokoro_litert.runtime.api import Kokoro
    from kokoro_litert.runtime.litert import LiteRTBackend

    return Kokoro(LiteRTBackend(tiny.bundle), tiny.voices)


def test_stream_yields_each_chunk_before_synthesizing_the_next(tts, monkeypatch):
    events = []
    synthesize = tts.backend.synthesize

    def traced(phonemes, *args, **kw):
        events.append(("start", phonemes))
        out = synthesize(phonemes, *args, **kw)
        events.append(("done", phonemes))
        return out

    monkeypatch.setattr(tts.backend, "synthesize", traced)
    chunks = []
    for chunk in tts.stream(TWO_SENTENCES):
        events.append(("yielded", chunk.phonemes))
        chunks.append(chunk)
    first, second = (c.phonemes for c in chunks)
    assert events == [("start", first), ("done", first), ("yielded", first),
                      ("start", second), ("done", second), ("yielded", second)]
    assert [w.word for c in chunks for w in c.words] == ["Open", "the", "window", "please",
                                                          "What", "a", "ridiculous", "idea"]
    assert all(c.audio.size > 0.5 * 24000 for c in chunks)


# Runs the real CLI in a child process whose LiteRT backend, before synthesizing chunk 2, announces
# it on stderr and waits for a line on stdin. The test sends that line only once audio bytes have
# come out of the child's stdout, so the child cannot reach chunk 2 unless chunk 1 was written and
# flushed first. A CLI that synthesized everything before writing would wait forever (test fails
# at the deadline).
HOLD_SECOND_SYNTHESIS = """
import sys
from kokoro_litert.runtime import cli, litert

synthesize = litert.LiteRTBackend.synthesize
calls = 0

def held(self, *args, **kw):
    global calls
    calls += 1
    print(f"TRACE synthesize {calls}", file=sys.stderr, flush=True)
    if calls == 2:
        sys.stdin.readline()
        print("TRACE released", file=sys.stderr, flush=True)
    return synthesize(self, *args, **kw)

litert.LiteRTBackend.synthesize = held
status = cli.main(sys.argv[1:])
print("TRACE torch imported" if "torch" in sys.modules else "TRACE torch not imported", file=sys.stderr, flush=True)
sys.exit(status)
"""
DEADLINE = 900  # s: only a hung (non-streaming) CLI gets near it; two chunks take well under a minute


def test_say_stream_writes_the_first_chunk_before_synthesizing_the_second(tiny):
    args = say_args(tiny.root, TWO_SENTENCES, "--stream", "-o", "-", bundles=tiny.bundle)
    proc = subprocess.Popen([CLI[0], "-c", HOLD_SECOND_SYNTHESIS, *args], env=cli_env(tiny.root),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    audio = bytearray()
    err = b""
    released_after = None  # audio bytes read when the child was let into chunk 2
    lines_with_audio = []  # (stderr line, audio bytes read when the line was read)
    os.set_blocking(proc.stdout.fileno(), False)

    def drain_stdout() -> None:  # everything the child wrote to stdout so far
        while True:
            try:
                data = os.read(proc.stdout.fileno(), 1 << 16)
            except BlockingIOError:
                return
            if not data:
                return
            audio.extend(data)

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + DEADLINE
    try:
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1.0):
                try:
                    data = os.read(key.fileobj.fileno(), 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    sel.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    audio += data
                else:
                    # The child wrote its stdout before this stderr text: read it first, so each
                    # line is paired with at least the audio written before it.
                    drain_stdout()
                    err += data
                    *lines, err = err.split(b"\n")
                    lines_with_audio += [(line.decode(errors="replace"), len(audio)) for line in lines]
            waiting = any(line == "TRACE synthesize 2" for line, _ in lines_with_audio)
            if waiting and released_after is None and audio:
                released_after = len(audio)
                proc.stdin.write(b"go\n")
                proc.stdin.flush()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if sel.get_map():  # the deadline passed with the child still running: it hung
        proc.kill()
    rc = proc.wait(timeout=120)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        pipe.close()
    log = [line for line, _ in lines_with_audio]
    print("\n".join(log))
    assert released_after is not None, "no audio came out before the CLI wanted to synthesize chunk 2"
    assert rc == 0, log
    assert released_after > 0 and len(audio) % 2 == 0
    # One line per chunk, each logged after its audio went out: the bytes read by the time the
    # "chunk 1" line arrived cover chunk 1's reported length (to its 10 ms rounding).
    chunk_lines = [(m, n) for line, n in lines_with_audio if (m := re.fullmatch(
        r"chunk (\d+): ([\d.]+) s of audio out after ([\d.]+) s", line))]
    assert [int(m[1]) for m, _ in chunk_lines] == [1, 2]
    seconds = [float(m[2]) for m, _ in chunk_lines]
    assert chunk_lines[0][1] >= (seconds[0] - 0.01) * 24000 * 2
    assert abs(len(audio) / 2 / 24000 - sum(seconds)) <= 0.02
    assert log.index("TRACE synthesize 2") > log.index(chunk_lines[0][0][0])
    assert not any(re.fullmatch(r"chunk \d+/\d+", line) for line in log)  # --stream replaces the progress lines
    assert "TRACE torch not imported" in log  # the LiteRT say path is torch-free
