"""`kokoro-litert serve`: one process, one loaded model, OpenAI-compatible HTTP and Wyoming.

    kokoro-litert serve --bundles DIR [--host 127.0.0.1] [--port 8880] [--wyoming tcp://127.0.0.1:10200]

Layout: `engine.py` shares the one `Kokoro` (admission, validation, a scheduler thread that is the
model's only caller), `http.py` (FastAPI on uvicorn) and `wyoming.py` are thin protocol adapters
over it, `audio.py` encodes chunks into each response format. Both protocols run on one asyncio
loop in the main thread; synthesis runs on the scheduler thread and G2P on a thread of its own.

Needs the `server` extra (fastapi, uvicorn, wyoming, av); the runtime itself never
imports it. Ports are bound before the model loads, so a port in use fails at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

from kokoro_litert.runtime.errors import KokoroError, MissingExtra

SERVER_MODULES = ("fastapi", "uvicorn", "wyoming", "av")
API_KEY_ENV = "KOKORO_LITERT_API_KEY"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
GRACEFUL_SHUTDOWN_S = 5  # s that open responses get to finish on SIGINT/SIGTERM
_LOG = logging.getLogger("kokoro_litert.server")


def _check_extra() -> None:
    import importlib.util

    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(f"The server needs {', '.join(missing)}, which is not installed.",
                           "pip install 'kokoro-litert[server]'")


def _bind_tcp(host: str, port: int, what: str) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        raise KokoroError(f"Cannot listen for {what} on {host}:{port}: {e.strerror or e}.",
                          "Pick another port, or stop what is using it.") from e
    sock.setblocking(False)
    return sock


def _bind_wyoming(uri: str) -> socket.socket:
    parsed = urlparse(uri)
    if parsed.scheme == "tcp" and parsed.hostname and parsed.port:
        return _bind_tcp(parsed.hostname, parsed.port, "Wyoming")
    if parsed.scheme == "unix" and parsed.path:
        path = Path(parsed.path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(path))
        except OSError as e:
            raise KokoroError(f"Cannot listen for Wyoming on {path}: {e.strerror or e}.",
                              "Pass a writable socket path.") from e
        sock.listen(128)
        sock.setblocking(False)
        return sock
    raise KokoroError(f"Cannot serve Wyoming at {uri!r}.", "Pass --wyoming tcp://HOST:PORT or unix:///PATH.")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kokoro-litert")
    except PackageNotFoundError:
        return "0"


def serve(args, find_bundles: Callable[[], Path] | None = None) -> int:
    """Run until SIGINT/SIGTERM. `args`: the `serve` subcommand's argparse Namespace (runtime/cli.py).

    find_bundles: the bundle folder when --bundles is not given (the CLI's fetches and converts on
    first use); called once the ports are bound. The server never reaches into the CLI or the
    converter itself.
    """
    _check_extra()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    if args.queue < 1:
        raise KokoroError(f"--queue {args.queue} would refuse every request.", "Pass --queue 1 or more.")
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    http_sock = _bind_tcp(args.host, args.port, "HTTP")
    wyoming_sock = _bind_wyoming(args.wyoming) if args.wyoming else None
    if args.host not in LOOPBACK and api_key is None:
        _LOG.warning("HTTP listens on %s without an API key: anyone who can reach it can use it "
                     "(pass --api-key or set $%s)", args.host, API_KEY_ENV)

    from kokoro_litert.runtime.api import Kokoro

    from .engine import Engine
    from .http import create_app

    bundles = args.bundles or (find_bundles() if find_bundles is not None else None)
    if bundles is None:
        raise KokoroError("No bundle folder to serve.", "Pass --bundles DIR (a folder `kokoro-litert convert` wrote).")
    start = time.perf_counter()
    tts = Kokoro.from_bundles(bundles, threads=args.threads, precision=args.precision,
                              accelerator=getattr(args, "accelerator", "cpu"))
    from kokoro_litert.runtime.bench import sentences
    from kokoro_litert.runtime.checks import default_voice
    from kokoro_litert.runtime.text.languages import installed, resolve

    # Warm G2P and the graphs so the first client does not pay for them, in a language this install
    # reads, with a voice the folder has (an exported folder may lack af_heart).
    readable = [v for v in tts.voice_names() if installed(resolve(None, v))] or tts.voice_names()
    voice = default_voice(readable)
    tts.create(sentences(resolve(None, voice).code)[0], voice=voice)
    _LOG.info("model loaded from %s and warmed up in %.1f s: %d voices, queue of %d",
              bundles, time.perf_counter() - start, len(tts.voice_names()), args.queue)
    lexicon = None
    if getattr(args, "lexicon", None):
        from kokoro_litert.runtime.text.user_lexicon import UserLexicon

        lexicon = UserLexicon.load(args.lexicon)  # a bad line fails the start, in one line
    engine = Engine(tts, capacity=args.queue, lexicon=lexicon)
    try:
        asyncio.run(_serve(engine, create_app(engine, api_key), args, http_sock, wyoming_sock))
    finally:
        engine.close()
    return 0


async def _serve(engine, app, args, http_sock: socket.socket, wyoming_sock: socket.socket | None) -> None:
    import uvicorn

    from .wyoming import KokoroEventHandler, info_for

    class Uvicorn(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # _serve owns SIGINT/SIGTERM for both protocols
            yield

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="info", lifespan="off",
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    http = Uvicorn(config)
    tasks = [asyncio.create_task(http.serve(sockets=[http_sock]), name="http")]
    wyoming_server, handlers = None, set()
    if wyoming_sock is not None:
        info = info_for(engine, _version())

        async def connected(reader, writer):
            task = asyncio.create_task(KokoroEventHandler(engine, info, reader, writer).run())
            handlers.add(task)
            task.add_done_callback(handlers.discard)

        if wyoming_sock.family == socket.AF_UNIX:
            wyoming_server = await asyncio.start_unix_server(connected, sock=wyoming_sock)
        else:
            wyoming_server = await asyncio.start_server(connected, sock=wyoming_sock)
        _LOG.info("Wyoming on %s", args.wyoming)
    tasks.append(asyncio.create_task(stop.wait(), name="signal"))
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    _LOG.info("shutting down")
    http.should_exit = True
    if wyoming_server is not None:
        wyoming_server.close()
        for task in handlers:
            task.cancel()
    await asyncio.gather(*tasks[:1], return_exceptions=True)
    tasks[1].cancel()
