"""`kokoro-litert serve` in a subprocess for the server tests and tests/benchmarks/server_load.py."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CLI = [sys.executable, "-m", "kokoro_litert.runtime.cli"]
SAMPLE_RATE = 24000
START_TIMEOUT = 300  # s: the first start may pack every bucket's weights on a loaded 2-core box


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`kokoro-litert serve` in a subprocess on free loopback ports; stderr goes to a log file."""

    def __init__(self, bundles: Path, log_path: Path, *extra: str, cache_dir: Path | None = None):
        self.bundles = Path(bundles)
        self.port, self.wyoming_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("KOKORO_LITERT_API_KEY", None)
        if cache_dir is not None:
            env["KOKORO_LITERT_CACHE"] = str(cache_dir)
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--bundles", str(bundles), "--port", str(self.port),
             "--wyoming", f"tcp://127.0.0.1:{self.wyoming_port}", *extra],
            stdout=subprocess.DEVNULL, stderr=self._log, env=env)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()[-3000:]}")

    def health(self) -> dict:
        import httpx

        return httpx.get(f"{self.url}/health", timeout=30).json()

    def wait_idle(self, timeout: float = 120) -> dict:
        """/health once no request holds a place and nothing is being synthesized."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.health()
            if state["admitted"] == 0 and state["synthesizing"] == 0:
                return state
            time.sleep(0.2)
        raise AssertionError(f"server still busy after {timeout} s: {self.health()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self._log.close()


@contextlib.contextmanager
def serving(bundles: Path, log_path: Path, *extra: str):
    """A ready `ServerProcess` for the `with` block; afterwards it must have stopped cleanly (exit
    status 0 on SIGTERM, no traceback in its log)."""
    srv = ServerProcess(bundles, log_path, *extra)
    try:
        srv.wait_ready()
        yield srv
    finally:
        code = srv.stop()
        log = srv.log_path.read_text(errors="replace")
        assert code == 0, log[-3000:]
        assert "Traceback" not in log, log[-5000:]


def decode(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    """Mono float samples and their rate, from a response body of `fmt`."""
    if fmt == "pcm":
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0, SAMPLE_RATE
    import av

    with av.open(io.BytesIO(data)) as container:
        frames = [f for f in container.decode(audio=0)]
    rate = frames[0].sample_rate
    samples = np.concatenate([f.to_ndarray().reshape(-1) if f.format.is_packed else f.to_ndarray()[0] for f in frames])
    if samples.dtype.kind == "i":
        samples = samples.astype(np.float32) / -np.iinfo(samples.dtype).min
    return samples.astype(np.float32), rate


def pcm_of(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i2")
