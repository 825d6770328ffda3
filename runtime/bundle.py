"""A bundle folder, checked at load time: manifest, stage files, voices.

`Bundle.open(folder)` fails in one line with a remedy (a `KokoroError`) before any synthesis when
the folder is unusable: no or unreadable manifest, a file it names missing or not a .tflite, a
signature it lists absent from its file or with other input/output names, voices.bin of the wrong
size. Each file's signature list is read without applying a delegate (the file is memory-mapped;
a few ms per file). Nothing here imports torch or the converter.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from kokoro_litert.buckets.manifest import STAGES, VOICES_FILE, Manifest, ManifestError

from .errors import KokoroError
from .voices import BundleVoices

BUNDLE_REMEDY = ("Copy the whole bundle folder again, convert it again with `kokoro-litert convert`, "
                 "or pass --bundles a complete bundle folder.")


@dataclass(frozen=True)
class Bundle:
    folder: Path
    manifest: Manifest
    voices: BundleVoices

    @classmethod
    def open(cls, folder: str | os.PathLike) -> "Bundle":
        folder = Path(folder)
        if not folder.is_dir():
            raise KokoroError(f"There is no bundle folder at {folder}.", BUNDLE_REMEDY)
        try:
            manifest = Manifest.load(folder)
        except ManifestError as e:
            raise KokoroError(f"The bundle manifest in {folder} is unusable ({_one_line(e)}).", BUNDLE_REMEDY) from e
        for name in sorted({f for files in manifest.precisions.values() for f in files.values()}):
            stages = [s for s in STAGES if any(files[s] == name for files in manifest.precisions.values())]
            _check_file(folder / name, manifest, stages)
        for lang, name in manifest.lexicons.items():
            if not (folder / name).is_file():
                raise KokoroError(f"{folder / name} is missing: manifest.json names it as the {lang!r} lexicon.",
                                  BUNDLE_REMEDY)
        voices = BundleVoices(folder / VOICES_FILE, manifest.voices)
        return cls(folder, manifest, voices)

    def files(self, precision: str | None = None) -> dict[str, str]:
        """stage -> file name for a precision (default: the manifest's default precision)."""
        precision = precision or self.manifest.default_precision
        try:
            return self.manifest.files_for(precision)
        except ManifestError as e:
            raise KokoroError(f"{self.folder}: {_one_line(e)}.",
                              f"Use --precision {' or '.join(sorted(self.manifest.precisions))}.") from e


def _check_file(path: Path, manifest: Manifest, stages: list[str]) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if not path.is_file():
        raise KokoroError(f"{path} is missing: manifest.json names it for the {'/'.join(stages)} stage.", BUNDLE_REMEDY)
    try:
        found = Interpreter(model_path=str(path), experimental_op_resolver_type=
                            OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES).get_signature_list()
    except (ValueError, RuntimeError) as e:
        raise KokoroError(f"{path} is not a readable .tflite ({_one_line(e)}).", BUNDLE_REMEDY) from e
    for stage in stages:
        for sig in manifest.signatures[stage].values():
            if sig.name not in found:
                raise KokoroError(f"{path.name} has no signature {sig.name!r}, which manifest.json lists "
                                  f"(the file has {', '.join(sorted(found)) or 'none'}).", BUNDLE_REMEDY)
            names = (set(found[sig.name]["inputs"]), set(found[sig.name]["outputs"]))
            if names != (set(sig.inputs), set(sig.outputs)):
                raise KokoroError(f"{path.name} signature {sig.name!r} has inputs {sorted(names[0])} and outputs "
                                  f"{sorted(names[1])}; manifest.json lists {sorted(sig.inputs)} and "
                                  f"{sorted(sig.outputs)}.", BUNDLE_REMEDY)


def _one_line(e: BaseException) -> str:
    """An exception's message on one line, without ManifestError's own ": convert ..." advice."""
    return re.sub(r": (convert|run the converter|this is not)[^:]*$", "", " ".join(str(e).split())).rstrip(".")
