"""A bundle folder, checked at load time: manifest, stage files, voices, checksums.

`Bundle.open(folder)` fails in one line with a remedy (a `BundleError`) before any synthesis when
the folder is unusable: no or unreadable manifest, a file it names missing or not a .tflite, a
signature it lists absent from its file or with other input/output names, voices.bin of the wrong
size, a file whose sha256 is not the one the manifest lists. Each file's signature list is read
without applying a delegate (the file is memory-mapped; a few ms per file). Nothing here imports
torch or the converter.

A folder holds what its manifest lists and nothing more is required: the full folder `convert`
writes (every precision, every voice, both English lexicons) and the one `kokoro-litert export`
writes (runtime/deploy.py: one precision, some voices, the lexicons they need) open the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from kokoro_litert.buckets.manifest import STAGES, VOICES_FILE, Manifest, ManifestError

from .cache import atomic_write, cache_root, sha256_file
from .errors import BundleError, KokoroError
from .voices import BundleVoices

BUNDLE_REMEDY = ("Copy the whole bundle folder again, convert it again with `kokoro-litert convert`, "
                 "or pass --bundles a complete bundle folder.")

CHECKED_FILES = "checked-files.json"
"""In the cache root: the files whose sha256 was found right, by device:inode (see `_check_checksums`)."""
CHECKED_FILES_KEPT = 2000
SETTLED_SECONDS = 2.0
"""A file modified this recently is hashed again on the next open (its mtime may not move on a rewrite)."""


@dataclass(frozen=True)
class Bundle:
    folder: Path
    manifest: Manifest
    voices: BundleVoices

    @classmethod
    def open(cls, folder: str | os.PathLike) -> "Bundle":
        folder = Path(folder)
        if not folder.is_dir():
            raise BundleError(f"There is no bundle folder at {folder}.", BUNDLE_REMEDY)
        try:
            manifest = Manifest.load(folder)
        except ManifestError as e:
            raise BundleError(f"The bundle manifest in {folder} is unusable ({_one_line(e)}).", BUNDLE_REMEDY) from e
        for name in sorted({f for files in manifest.precisions.values() for f in files.values()}):
            stages = [s for s in STAGES if any(files[s] == name for files in manifest.precisions.values())]
            _check_file(folder / name, manifest, stages)
        for lang, name in manifest.lexicons.items():
            if not (folder / name).is_file():
                raise BundleError(f"{folder / name} is missing: manifest.json names it as the {lang!r} lexicon.",
                                  BUNDLE_REMEDY)
        voices = BundleVoices(folder / VOICES_FILE, manifest.voices)
        _check_checksums(folder, manifest)
        return cls(folder, manifest, voices)

    def files(self, precision: str | None = None) -> dict[str, str]:
        """stage -> file name for a precision (default: the manifest's default precision)."""
        precision = precision or self.manifest.default_precision
        try:
            return self.manifest.files_for(precision)
        except ManifestError as e:
            raise BundleError(f"{self.folder}: {_one_line(e)}.",
                              f"Use --precision {' or '.join(sorted(self.manifest.precisions))}.") from e


def _check_file(path: Path, manifest: Manifest, stages: list[str]) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if not path.is_file():
        raise BundleError(f"{path} is missing: manifest.json names it for the {'/'.join(stages)} stage.", BUNDLE_REMEDY)
    try:
        found = Interpreter(model_path=str(path), experimental_op_resolver_type=
                            OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES).get_signature_list()
    except (ValueError, RuntimeError) as e:
        raise BundleError(f"{path} is not a readable .tflite ({_one_line(e)}).", BUNDLE_REMEDY) from e
    for stage in stages:
        for sig in manifest.signatures[stage].values():
            if sig.name not in found:
                raise BundleError(f"{path.name} has no signature {sig.name!r}, which manifest.json lists "
                                  f"(the file has {', '.join(sorted(found)) or 'none'}).", BUNDLE_REMEDY)
            names = (set(found[sig.name]["inputs"]), set(found[sig.name]["outputs"]))
            if names != (set(sig.inputs), set(sig.outputs)):
                raise BundleError(f"{path.name} signature {sig.name!r} has inputs {sorted(names[0])} and outputs "
                                  f"{sorted(names[1])}; manifest.json lists {sorted(sig.inputs)} and "
                                  f"{sorted(sig.outputs)}.", BUNDLE_REMEDY)


def _check_checksums(folder: Path, manifest: Manifest) -> None:
    """Every file the manifest lists has the sha256 it lists.

    Hashing the full folder (697 MB) took 1.6 s on the 2-core dev box, more on a Raspberry Pi: too
    long for every start. So, as git's index does, a file found right is remembered by device, inode, size
    and mtime, and hashed again only when one of them changes: a copy (new inodes) or an edit is
    always checked. A file modified within SETTLED_SECONDS is not remembered, since a rewrite that
    quick may leave its mtime where it was. Without a writable cache, every open hashes.
    """
    record = cache_root() / CHECKED_FILES
    try:
        checked = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        checked = {}
    if not isinstance(checked, dict):
        checked = {}
    remembered = {}
    for name, expected in sorted(manifest.sha256.items()):
        path = folder / name
        try:
            st = path.stat()
        except OSError:
            raise BundleError(f"{path} is missing: manifest.json lists its sha256.", BUNDLE_REMEDY) from None
        key = f"{st.st_dev}:{st.st_ino}"
        stamp = [expected, st.st_size, st.st_mtime_ns]
        if checked.get(key) != stamp:
            actual = sha256_file(path)
            if actual != expected:
                raise BundleError(f"{path} is corrupt: its sha256 is {actual[:16]}…, manifest.json lists "
                                  f"{expected[:16]}….", BUNDLE_REMEDY)
        if time.time_ns() - st.st_mtime_ns > SETTLED_SECONDS * 1e9:
            remembered[key] = stamp
    if all(checked.get(k) == v for k, v in remembered.items()):
        return
    kept = {k: v for k, v in checked.items() if k not in remembered} | remembered  # the latest last
    with contextlib.suppress(KokoroError, OSError):
        with atomic_write(record, "w") as f:
            json.dump(dict(list(kept.items())[-CHECKED_FILES_KEPT:]), f)


def _one_line(e: BaseException) -> str:
    """An exception's message on one line, without ManifestError's own ": convert ..." advice."""
    return re.sub(r": (convert|run the converter|this is not|pick one)[^:]*$", "", " ".join(str(e).split())).rstrip(".")
