"""A deployable bundle folder: one precision, the voices that ship, the lexicons they need.

    export_folder(source, out, precision="int8", voices=["af_heart", "bf_emma"])

writes to `out` a bundle folder that `Bundle.open`, `Kokoro.from_bundles`, `say`/`serve`/`voices
--bundles` and the JVM runner load as they load the full folder `convert` writes:

- the three graphs of ONE precision (default: the source's default precision);
- voices.bin with the chosen voices only (default: all), in the source's order;
- the portable lexicons of the chosen voices' languages only (lexicon-a.tsv with an a* voice,
  lexicon-b.tsv with a b* voice; the Python front-end does not read them, the JVM/Android one does);
- manifest.json in the same format, naming just these files, with each one's sha256;
- with `gpu_frames`, the vocoder's GPU variant at those sizes (manifest `gpu`): per size a body and a
  float32 head, one signature each, cut from the same graph (runtime/gpu.py), for hosts that cannot
  cut graphs at load time as the Python runtime does (the JVM and Android runners).

Never the XNNPACK weight cache (.xnnpack/: packed for one CPU and one LiteRT version, rebuilt on
the device at first use) and never the conversion logs. The source is checked first (`Bundle.open`:
every file against its checksum), each copy is checked against the source's checksum, and the
result is opened as a bundle before it is renamed into place; until then it lives in a temporary
sibling folder, removed on any failure. Needs no torch and no weights: only the source folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from kokoro_litert.buckets.ladder import vocoder_signature
from kokoro_litert.buckets.manifest import VOICES_FILE, Manifest

from .bundle import Bundle
from .cache import sha256_file
from .errors import BundleError, KokoroError, UnknownVoice
from .text.languages import language_of_voice

MANIFEST_FILE = "manifest.json"
DEFAULT_GPU_FRAMES = (128, 256, 512)
"""The vocoder sizes of a GPU variant unless told (each one a ~60 MB int8 body: a model per size,
since the GPU copies weights per signature); the largest bucket's size is always added."""


def export_folder(source: str | os.PathLike, out: str | os.PathLike, precision: str | None = None,
                  voices: Iterable[str] | None = None, log: Callable[[str], None] | None = None,
                  gpu_frames: Iterable[int] | None = None) -> Manifest:
    """Write the deployable folder `out` from the bundle folder `source`; return its manifest.

    precision: one the source has (default: its default). voices: names the source has, as a list
    or comma-separated (default: all). log: called with a line per file written, then the total.
    gpu_frames: vocoder sizes of a GPU variant to add (() for DEFAULT_GPU_FRAMES; None: none).
    `out` must not exist, or be an empty folder.
    """
    source, out = Path(source), Path(out)
    log = log or (lambda line: None)
    bundle = Bundle.open(source)
    graphs = bundle.files(precision)  # names the precisions the source has when it lacks this one
    precision = precision or bundle.manifest.default_precision
    names = _chosen_voices(bundle, voices)
    languages = {lang.code for lang in map(language_of_voice, names) if lang is not None}
    lexicons = {code: file for code, file in bundle.manifest.lexicons.items() if code in languages}
    gpu_sizes = None if gpu_frames is None else _gpu_sizes(bundle, gpu_frames)
    _check_out(out)

    tmp = _temporary_sibling(out)
    try:
        checksums = {}
        for name in sorted(set(graphs.values()) | set(lexicons.values())):
            shutil.copyfile(source / name, tmp / name)
            checksums[name] = _checked(tmp / name, bundle.manifest.sha256[name])
            log(f"  {name}: {_mb(tmp / name)}")
        table = np.stack([bundle.voices.pack(name) for name in names]).astype("<f4")
        table.tofile(tmp / VOICES_FILE)
        checksums[VOICES_FILE] = sha256_file(tmp / VOICES_FILE)
        log(f"  {VOICES_FILE}: {len(names)} voice(s), {_mb(tmp / VOICES_FILE)}")
        gpu = {}
        if gpu_sizes:
            gpu["vocoder"] = _write_gpu_variant(tmp, graphs["vocoder"], gpu_sizes, log)
            checksums.update({name: sha256_file(tmp / name) for parts in gpu["vocoder"].values()
                              for name in parts.values()})
        manifest = dataclasses.replace(bundle.manifest, precisions={precision: graphs}, default_precision=precision,
                                       sha256=dict(sorted(checksums.items())), voices=names, lexicons=lexicons,
                                       gpu=gpu)
        manifest.save(tmp / MANIFEST_FILE)
        Bundle.open(tmp)  # what was written opens as a bundle
        os.replace(tmp, out)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise KokoroError(f"Cannot write the bundle folder {out}: {e.strerror or e}.",
                              "Pass --out a new or empty folder on a writable disk with room for it.") from e
        raise
    gpu_line = f", GPU vocoder at {', '.join(map(str, gpu_sizes))} frames" if gpu_sizes else ""
    log(f"{out}: {precision}, {len(names)} voice(s), lexicons {', '.join(sorted(lexicons)) or 'none'}{gpu_line}; "
        f"{folder_bytes(out) / 1e6:.1f} MB")
    return manifest


def _gpu_sizes(bundle: Bundle, wanted: Iterable[int]) -> tuple[int, ...]:
    """The GPU variant's vocoder sizes: those asked (default: DEFAULT_GPU_FRAMES the source has),
    each one the source has, plus the largest bucket's (the longest chunk must fit)."""
    have = bundle.manifest.vocoder_frames
    wanted = tuple(int(f) for f in wanted) or tuple(f for f in DEFAULT_GPU_FRAMES if f in have)
    unknown = sorted(set(wanted) - set(have))
    if unknown:
        raise KokoroError(f"{bundle.folder} has no vocoder size {', '.join(map(str, unknown))}.",
                          f"Pick --gpu sizes among {', '.join(map(str, have))}, or leave them out for "
                          f"{', '.join(str(f) for f in DEFAULT_GPU_FRAMES if f in have) or 'the largest'}.")
    return tuple(sorted(set(wanted) | {max(b.frames for b in bundle.manifest.buckets)}))


def _write_gpu_variant(folder: Path, vocoder_file: str, sizes: tuple[int, ...],
                       log: Callable[[str], None]) -> dict[str, dict[str, str]]:
    """Cut the vocoder graph in `folder` into a body and a float32 head per size -> manifest `gpu` entry."""
    from .gpu import extract_signature, split_head

    entry = {}
    stem = Path(vocoder_file).stem
    for frames in sizes:
        signature = vocoder_signature(frames)
        single = folder / f".{stem}.{signature}.tflite"
        parts = {"body": f"{stem}.gpu.{signature}.body.tflite", "head": f"{stem}.gpu.{signature}.head.tflite"}
        if not (extract_signature(folder / vocoder_file, signature, single)
                and split_head(single, folder / parts["body"], folder / parts["head"])):
            raise BundleError(f"{vocoder_file} cannot be cut into a GPU body and head at {signature}.",
                              "Convert the bundles again with this version of kokoro-litert.")
        single.unlink()
        entry[signature] = parts
        log(f"  {parts['body']} + head: {_mb(folder / parts['body'])}")
    return entry


def folder_bytes(folder: str | os.PathLike) -> int:
    """Bytes of the files directly in `folder`, as shipped (hidden entries such as the weight cache left out)."""
    return sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))


def _chosen_voices(bundle: Bundle, voices: Iterable[str] | None) -> tuple[str, ...]:
    """The voices to ship, in the source's order; each must be one of the source's."""
    known = bundle.manifest.voices
    if voices is None:
        return known
    wanted = [v.strip() for v in (voices.split(",") if isinstance(voices, str) else voices)]
    if not any(wanted):
        raise UnknownVoice("No voice chosen for the exported folder.",
                           "Name voices, e.g. --voices af_heart,bf_emma, or leave --voices out for all of them.",
                           param="voices")
    for name in wanted:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"Did you mean {', '.join(close)}? " if close else ""
            raise UnknownVoice(f"{bundle.folder} has no voice {name!r}.",
                               f"{hint}List its voices with `kokoro-litert voices --bundles {bundle.folder}`.",
                               param="voices")
    return tuple(v for v in known if v in wanted)


def _check_out(out: Path) -> None:
    if out.is_dir() and not any(out.iterdir()):
        return
    if out.exists() or out.is_symlink():
        raise KokoroError(f"{out} already exists and is not an empty folder.",
                          "Pass --out a new or empty folder: an export never writes over anything.")


def _temporary_sibling(out: Path) -> Path:
    """An empty folder beside `out` (same file system, so it can be renamed into place), with the
    permissions an ordinary folder gets (mkdtemp makes it 0700)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part"))
    except OSError as e:
        raise KokoroError(f"Cannot write to {out.parent}: {e.strerror}.",
                          "Pass --out a folder on a writable disk.") from e
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    return tmp


def _checked(path: Path, expected: str) -> str:
    actual = sha256_file(path)
    if actual != expected:  # Bundle.open checked the source: it changed while being copied
        raise BundleError(f"{path.name} changed while it was copied (sha256 {actual[:16]}…, the source's manifest "
                          f"lists {expected[:16]}…).", "Export again once nothing writes to the source folder.")
    return actual


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"
