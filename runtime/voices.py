"""Voice packs: reading every published format without torch, naming, blending, picking a style row.

Voices come from a `VoiceLibrary`: a bundle folder's voices.bin (`BundleVoices`, the names in its
manifest), or a folder of NAME.bin files (`FolderVoices`, the fetch cache's voices/).

A Kokoro voice pack is a [510, 256] float32 table: row n-1 is the style for an utterance of n
phonemes (upstream `KPipeline`: `pack[len(phonemes) - 1]`). Columns 0:128 condition the decoder,
128:256 the prosody predictor. Formats read here:

- `.bin`: raw little-endian float32, 510 x 1 x 256 (kokoro-js; also the cache's own format)
- `.npy`: the same array saved by numpy
- `.pt`: the official checkpoint's `torch.save`d tensor, read from its zip container without torch
- `voices-v1.0.bin` (kokoro-onnx): an `.npz` archive with one array per voice name
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import numpy as np

from kokoro_litert.buckets import STYLE_DIM, VOICE_ROWS
from kokoro_litert.buckets.manifest import VOICE_BYTES

from .errors import KokoroError, UnknownVoice


def _check_pack(array: np.ndarray, origin: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float32)
    if array.size != VOICE_ROWS * STYLE_DIM:
        raise KokoroError(f"{origin} is not a Kokoro voice pack (shape {array.shape}, expected 510 x 1 x 256).",
                          "Use a voice from `kokoro-litert voices` or an official voices/*.pt file.")
    array = array.reshape(VOICE_ROWS, STYLE_DIM)
    if not np.isfinite(array).all():
        raise KokoroError(f"{origin} contains NaN or infinite values.", "The file is corrupt: fetch it again.")
    return array


class _TorchZipUnpickler(pickle.Unpickler):
    """Reads a `torch.save`d float tensor: persistent ids name raw storages inside the zip."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name == "FloatStorage":
            return np.float32
        if module == "collections" and name == "OrderedDict":
            import collections
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unsupported object {module}.{name} in a voice file")

    def persistent_load(self, pid):
        _, dtype, key, _location, numel = pid
        if dtype is not np.float32:
            raise pickle.UnpicklingError("voice storage is not float32")
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        return np.frombuffer(raw, dtype="<f4", count=numel)


def _rebuild_tensor(storage, offset, size, stride, *_):
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=[s * 4 for s in stride]).copy()


def _read_torch_zip(path: Path) -> np.ndarray:
    with zipfile.ZipFile(path) as archive:
        pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        prefix = pkl[: -len("/data.pkl")]
        with archive.open(pkl) as f:
            return _TorchZipUnpickler(f, archive, prefix).load()


def read_voice_file(path: str | Path) -> np.ndarray:
    """One voice pack from a .bin, .npy or official .pt file -> [510, 256] float32."""
    path = Path(path)
    if not path.is_file():
        raise KokoroError(f"Voice file {path} does not exist.", "Check the path, or pick a name from `kokoro-litert voices`.")
    try:
        if path.suffix == ".pt":
            return _check_pack(_read_torch_zip(path), str(path))
        if path.suffix == ".npy":
            return _check_pack(np.load(path, allow_pickle=False), str(path))
        if path.stat().st_size != VOICE_BYTES:
            raise KokoroError(f"{path} has {path.stat().st_size} bytes; a raw voice pack has {VOICE_BYTES}.",
                              "Use a kokoro-js .bin voice, an official .pt voice or a .npy array.")
        return _check_pack(np.fromfile(path, dtype="<f4"), str(path))
    except (zipfile.BadZipFile, pickle.UnpicklingError, ValueError, StopIteration, KeyError) as e:
        raise KokoroError(f"Cannot read voice file {path}: {e}.", "The file is corrupt or not a Kokoro voice.") from e


def read_voice_archive(path: str | Path) -> dict[str, np.ndarray]:
    """kokoro-onnx's voices-v1.0.bin (an .npz of name -> [510, 1, 256])."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: _check_pack(npz[name], f"{path}:{name}") for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise KokoroError(f"Cannot read voice archive {path}: {e}.",
                          "Pass kokoro-onnx's voices-v1.0.bin, or a folder of .pt/.bin voices.") from e


def list_voices(voices_dir: Path) -> list[str]:
    return sorted(p.stem for p in Path(voices_dir).glob("*.bin"))


class FolderVoices:
    """A folder of NAME.bin voice packs (the fetch cache's voices/)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.where = str(self.folder)

    def names(self) -> list[str]:
        return list_voices(self.folder)

    def pack(self, name: str) -> np.ndarray | None:
        path = self.folder / f"{name}.bin"
        return read_voice_file(path) if path.is_file() else None


class BundleVoices:
    """A bundle folder's voices.bin: [n, 510, 256] float32, names from its manifest (memory-mapped)."""

    def __init__(self, path: str | Path, names: tuple[str, ...]):
        self.path = Path(path)
        self.where = str(self.path)
        self._names = tuple(names)
        size = self.path.stat().st_size if self.path.is_file() else -1
        if size != len(self._names) * VOICE_BYTES:
            raise KokoroError(f"{self.path} has {size if size >= 0 else 'no'} bytes; its manifest lists "
                              f"{len(self._names)} voices of {VOICE_BYTES} bytes each.",
                              "Copy the whole bundle folder again, or convert it again with `kokoro-litert convert`.")
        self._table = np.memmap(self.path, dtype="<f4", mode="r", shape=(len(self._names), VOICE_ROWS, STYLE_DIM))

    def names(self) -> list[str]:
        return sorted(self._names)

    def pack(self, name: str) -> np.ndarray | None:
        if name not in self._names:
            return None
        return _check_pack(np.array(self._table[self._names.index(name)]), f"{self.path}:{name}")


def blend_parts(spec: str) -> list[tuple[str, float]]:
    """(name, weight) per part of a voice spec ("af_heart", "af_heart:0.7,bf_emma:0.3"); weights
    default to 1. `UnknownVoice` (param "voice") for an empty part, or a weight that is not a
    positive number."""
    remedy = "Name a voice (see `kokoro-litert voices`) or a blend like af_heart:0.7,bf_emma:0.3."
    if not isinstance(spec, str) or not spec.strip() or any(not p.strip() for p in spec.split(",")):
        raise UnknownVoice(f"Voice {spec!r} is empty or has an empty part.", remedy, param="voice")
    out = []
    for part in spec.split(","):
        name, sep, written = part.strip().rpartition(":") if ":" in part and not _looks_like_path(part) \
            else (part.strip(), "", "")
        try:
            weight = float(written) if sep else 1.0
        except ValueError:
            weight = float("nan")
        if not name.strip() or not np.isfinite(weight) or weight <= 0:
            raise UnknownVoice(f"Voice part {part.strip()!r} is not name or name:weight with a weight above 0.",
                               remedy, param="voice")
        out.append((name.strip(), weight))
    return out


def _looks_like_path(part: str) -> bool:
    """A Windows-style path "C:\\voices\\x.bin" has a colon that is not a blend weight."""
    return bool(re.match(r"^\s*[A-Za-z]:[\\/]", part))


def load_voice(spec: str, library) -> np.ndarray:
    """A voice by name, by file path, or a weighted blend 'af_heart:0.7,bf_emma:0.3' -> [510, 256].

    library: a VoiceLibrary (`BundleVoices`, `FolderVoices`) or a folder of NAME.bin files.

    A blend without weights averages its voices equally, as upstream `KPipeline.load_voice` does;
    weights are normalized to sum to 1.
    """
    packs, weights = [], []
    for name, weight in blend_parts(spec):
        packs.append(_resolve_one(name, library))
        weights.append(weight)
    w = np.asarray(weights, dtype=np.float64) / sum(weights)
    return np.tensordot(w, np.stack(packs).astype(np.float64), axes=1).astype(np.float32)


def _resolve_one(name: str, library) -> np.ndarray:
    as_path = Path(name).expanduser()
    if as_path.suffix in (".bin", ".pt", ".npy") and (as_path.is_file() or "/" in name):
        return read_voice_file(as_path)
    if not hasattr(library, "pack"):
        library = FolderVoices(library)
    pack = library.pack(name)
    if pack is not None:
        return pack
    known = library.names()
    if not known:
        raise KokoroError(f"No voices in {library.where}.", "Run `kokoro-litert fetch` first.")
    close = [v for v in known if v.split("_")[-1] == name.split("_")[-1] or v.startswith(name[:2])][:5]
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnknownVoice(f"Unknown voice {name!r}.{hint}", "List voices with `kokoro-litert voices`.", param="voice")


def style_for(pack: np.ndarray, n_phonemes: int) -> np.ndarray:
    """The [1, 256] style row upstream uses for an utterance of `n_phonemes` phonemes."""
    row = min(max(n_phonemes, 1), VOICE_ROWS) - 1
    return pack[row : row + 1].astype(np.float32)
