"""Sentence sets for intelligibility tests and benchmarks.

Each set is `tests/data/{name}_sentences.tsv`: UTF-8, one header line `id<TAB>text<TAB>phonemes`, one
sentence per line, no quoting (texts contain `"` and `,` but never a tab or a newline). The sets:

- `dev`: 40 ordinary sentences, no digits, for tuning.
- `heldout`: 24 other sentences, 2 words up to one that nearly fills the 500-phoneme limit; judge only.
- `numbers`: 40 sentences full of numbers, currency, times, dates, abbreviations and units; the
  phonemes column is empty (the project's own G2P reads these).

`phonemes` is Kokoro's phoneme string from espeak-ng en-us as kokoro-onnx produces it; regenerate
it with `python tests/data/make_phonemes.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
HEADER = ("id", "text", "phonemes")


class Sentence(NamedTuple):
    id: str
    """Stable name, `{set}_{NNN}`; keep it when editing a text so results stay comparable."""
    text: str
    """What a user would type."""
    phonemes: str
    """Kokoro phonemes for `text` (espeak-ng en-us via kokoro-onnx), or "" where not provided."""


def sentences_path(name: str) -> Path:
    return DATA_DIR / f"{name}_sentences.tsv"


def available() -> list[str]:
    return sorted(p.name.removesuffix("_sentences.tsv") for p in DATA_DIR.glob("*_sentences.tsv"))


def read_tsv(path: Path) -> list[Sentence]:
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or tuple(lines[0].split("\t")) != HEADER:
        raise ValueError(f"{path}: the first line must be the header {'<TAB>'.join(HEADER)!r}")
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(HEADER):
            raise ValueError(
                f"{path}:{lineno}: expected {len(HEADER)} tab-separated fields, got {len(fields)}; "
                "texts must not contain tabs"
            )
        rows.append(Sentence(*fields))
    ids = [s.id for s in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate ids")
    return rows


def write_tsv(path: Path, rows: list[Sentence]) -> None:
    for s in rows:
        if any(c in field for field in s for c in "\t\r\n"):
            raise ValueError(f"{s.id}: fields must not contain tabs or line breaks")
    body = "".join("\t".join(s) + "\n" for s in rows)
    path.write_text("\t".join(HEADER) + "\n" + body, encoding="utf-8", newline="\n")


def load_sentences(name: str) -> list[Sentence]:
    """The sentence set `name` ("dev", "heldout", "numbers"), in file order."""
    path = sentences_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no sentence set {name!r} ({path}); available: {', '.join(available())}")
    return read_tsv(path)
