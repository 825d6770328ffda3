"""What a device has to ship: the size of an exported bundle folder, per precision and voice choice.

    python tests/benchmarks/folder_size.py [--bundles DIR] [--precision P] [--voice af_heart] [--json out.json]

Exports (runtime/deploy.py `export_folder`, as `kokoro-litert export` does) the bundle folder
(default: the cache's converted one) into a temporary folder with one voice, with all voices, and
with one voice plus the vocoder's GPU variant (`export --gpu`: the JVM and Android GPU runners need
it), and prints each folder's size in MB (10^6 bytes) per file, beside the full folder's (every
precision, every voice, both lexicons; the weight cache and conversion logs left out).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def _cached_bundles() -> Path:
    from kokoro_litert.buckets.ladder import DEFAULT_LADDER
    from kokoro_litert.convert.export import cache_key, checkpoint_sha256
    from kokoro_litert.runtime.cache import cache_root

    folder = cache_root() / "bundles" / cache_key(checkpoint_sha256(cache_root() / "weights"), DEFAULT_LADDER)
    if not (folder / "manifest.json").is_file():
        sys.exit(f"no converted bundles at {folder}: run `kokoro-litert convert` first, or pass --bundles DIR")
    return folder


def sizes(folder: Path) -> dict[str, float]:
    """file -> MB of what the folder's manifest names (and the manifest), with "total"."""
    from kokoro_litert.buckets.manifest import Manifest

    names = sorted(Manifest.load(folder).file_names | {"manifest.json"})
    out = {name: (folder / name).stat().st_size / 1e6 for name in names}
    out["total"] = sum(out.values())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundles", type=Path, help="the bundle folder to export from (default: the cache's)")
    parser.add_argument("--precision", default=None, help="default: the folder's default precision")
    parser.add_argument("--voice", default="af_heart", help="the voice of the one-voice export")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    from kokoro_litert.buckets.manifest import Manifest
    from kokoro_litert.runtime.deploy import export_folder

    source = args.bundles or _cached_bundles()
    precision = args.precision or Manifest.load(source).default_precision
    figures = {"source": str(source), "precision": precision, "full folder": sizes(source)}
    with tempfile.TemporaryDirectory() as tmp:
        exports = ((f"one voice ({args.voice})", [args.voice], None), ("all voices", None, None),
                   ("one voice + GPU vocoder", [args.voice], ()))
        for index, (label, voices, gpu_frames) in enumerate(exports):
            out = Path(tmp) / str(index)
            export_folder(source, out, precision=precision, voices=voices, gpu_frames=gpu_frames)
            figures[label] = sizes(out)
    print(f"{source}, precision {precision}")
    for label in ["full folder"] + [label for label, _, _ in exports]:
        files = ", ".join(f"{name} {mb:.1f}" for name, mb in figures[label].items() if name != "total")
        print(f"  {label:<22} {figures[label]['total']:7.1f} MB  ({files})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
