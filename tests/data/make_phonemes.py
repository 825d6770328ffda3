"""Fill the `phonemes` column of the dev and heldout sentence sets.

    python tests/data/make_phonemes.py           # rewrite the files in place
    python tests/data/make_phonemes.py --check   # exit 1 if a file is out of date

Phonemes are what kokoro-onnx feeds Kokoro-82M: espeak-ng en-us with stress marks and punctuation,
filtered to the model vocabulary (`kokoro_onnx.tokenizer.Tokenizer.phonemize`). The texts are the
source; ids and texts are kept as they are. Every string is checked against the vocabulary in
kokoro_onnx/config.json and against MAX_PHONEMES; symbols espeak emitted that the vocabulary lacks
(silently dropped by the tokenizer) are reported.

The numbers set is left alone: its phonemes column stays empty for the project's own G2P.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support.sentences import Sentence, read_tsv, sentences_path, write_tsv  # noqa: E402

SETS = ("dev", "heldout")
LANG = "en-us"
MAX_PHONEMES = 500  # kokoro-onnx allows 510; keep headroom for the two pad tokens and bucket edges


def vocab() -> set[str]:
    import kokoro_onnx

    with open(Path(kokoro_onnx.__file__).parent / "config.json", encoding="utf-8") as f:
        return set(json.load(f)["vocab"])


def phonemize_all(texts: list[str]) -> tuple[list[str], list[str]]:
    """(kokoro phonemes, raw espeak phonemes) per text."""
    import phonemizer
    from kokoro_onnx.tokenizer import Tokenizer

    tokenizer = Tokenizer()  # points phonemizer at the espeak-ng bundled by espeakng_loader
    ours = [tokenizer.phonemize(t, lang=LANG) for t in texts]
    # The same call the tokenizer makes, minus its vocabulary filter: only to report what it drops.
    raw = [phonemizer.phonemize(t, LANG, preserve_punctuation=True, with_stress=True) for t in texts]
    return ours, raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify only, write nothing")
    args = parser.parse_args()

    allowed = vocab()
    stale, failed = [], False
    for name in SETS:
        path = sentences_path(name)
        rows = read_tsv(path)
        ours, raw = phonemize_all([s.text for s in rows])
        new_rows = []
        for s, ph, rw in zip(rows, ours, raw):
            outside = sorted(set(ph) - allowed)
            dropped = sorted(set(rw) - allowed - {"\n"})
            if outside:
                print(f"{s.id}: symbols outside the vocabulary: {outside}", file=sys.stderr)
                failed = True
            if len(ph) > MAX_PHONEMES:
                print(f"{s.id}: {len(ph)} phonemes > {MAX_PHONEMES}; shorten the text", file=sys.stderr)
                failed = True
            if not ph:
                print(f"{s.id}: empty phoneme string", file=sys.stderr)
                failed = True
            if dropped:
                print(f"{s.id}: note: tokenizer dropped espeak symbols {dropped}", file=sys.stderr)
            new_rows.append(Sentence(s.id, s.text, ph))
        longest = max(new_rows, key=lambda s: len(s.phonemes))
        print(f"{name}: {len(new_rows)} sentences, longest {longest.id} = {len(longest.phonemes)} phonemes")
        if new_rows != rows:
            stale.append(path)
            if not args.check and not failed:
                write_tsv(path, new_rows)
                print(f"wrote {path}")
    if failed:
        return 1
    if args.check and stale:
        print("out of date: " + ", ".join(map(str, stale)) + "; run python tests/data/make_phonemes.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
