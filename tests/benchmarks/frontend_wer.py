"""Side by side: this project's English front-end vs kokoro-onnx's espeak-only one, judged by ear.

    python tests/benchmarks/frontend_wer.py [--limit N] [--set numbers] [--json out.json]

Each sentence of the set is phonemized twice, (a) by `kokoro_litert.runtime.text.phonemize` and
(b) by `kokoro_onnx.tokenizer.Tokenizer().phonemize(text, "en-us")` (espeak-ng through phonemizer,
no text normalization), then both phoneme strings are spoken by the same PyTorch reference model
with the same voice and seed and transcribed by Whisper tiny.en (tests/support/asr_judge.py). Only the
front-end differs, so the WER gap is the front-end's.

Front-end speed is words of source text per second, after a warm-up call (lexicon loaded, espeak
initialized), best of `--repeats` passes over the whole set. Synthesis and ASR are not timed.

Needs the real weights (`KOKORO_LITERT_CACHE` or the default cache; fetched by `kokoro-litert
fetch`) and the dev extra (faster-whisper, jiwer, num2words, kokoro-onnx).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR))  # support

ESPEAK_LANG = "en-us"  # kokoro-onnx's language code for American English
OUR_LANG = "a"  # the same accent in this project's front-end
FRONTENDS = ("kokoro_litert", "espeak")


def frontends() -> dict:
    """name -> text -> Kokoro phonemes."""
    from kokoro_onnx.tokenizer import Tokenizer

    from kokoro_litert.runtime.text import phonemize

    tokenizer = Tokenizer()
    return {
        "kokoro_litert": lambda text: phonemize(text, OUR_LANG).phonemes,
        "espeak": lambda text: tokenizer.phonemize(text, ESPEAK_LANG),
    }


def words_per_second(fn, texts: list[str], repeats: int) -> float:
    """Source words per second of `fn` over `texts`, best of `repeats` passes after a warm-up."""
    fn(texts[0])
    n_words = sum(len(t.split()) for t in texts)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for t in texts:
            fn(t)
        best = min(best, time.perf_counter() - start)
    return n_words / best


def run(set_name: str, limit: int | None, voice: str, repeats: int) -> dict:
    from support import asr_judge
    from support.sentences import load_sentences

    from kokoro_litert.buckets import SAMPLE_RATE
    from kokoro_litert.convert.reference import TorchReference
    from kokoro_litert.runtime.cache import cache_root
    from kokoro_litert.runtime.voices import load_voice

    sentences = load_sentences(set_name)[:limit]
    texts = [s.text for s in sentences]
    fns = frontends()
    speed = {name: words_per_second(fn, texts, repeats) for name, fn in fns.items()}

    cache = cache_root()
    reference = TorchReference(cache / "weights")
    pack = load_voice(voice, cache / "voices")
    rows = []
    for i, s in enumerate(sentences, 1):
        row = {"id": s.id, "text": s.text}
        for name, fn in fns.items():
            phonemes = fn(s.text)
            audio = reference.synthesize(phonemes, pack).audio
            heard = asr_judge.transcribe(audio, SAMPLE_RATE)
            row[name] = {"phonemes": phonemes, "heard": heard, "wer": asr_judge.wer([s.text], [heard])}
        rows.append(row)
        print(f"[{i}/{len(sentences)}] {s.id}: " + "  ".join(f"{n} {row[n]['wer']:.0%}" for n in fns),
              file=sys.stderr, flush=True)
    wer = {name: asr_judge.wer(texts, [r[name]["heard"] for r in rows]) for name in fns}
    return {
        "set": set_name,
        "sentences": len(sentences),
        "words": sum(len(t.split()) for t in texts),
        "voice": voice,
        "judge": "whisper tiny.en (faster-whisper int8, beam 5, temperature 0)",
        "synthesizer": "kokoro_litert.convert.reference.TorchReference, seed 0",
        "frontends": {name: {"wer": wer[name], "words_per_second": speed[name]} for name in fns},
        "rows": rows,
    }


def table(result: dict) -> str:
    lines = [f"{result['sentences']} '{result['set']}' sentences ({result['words']} words), "
             f"voice {result['voice']}, judge Whisper tiny.en",
             f"{'front-end':<16}{'WER':>8}{'words/s':>12}"]
    for name, fig in result["frontends"].items():
        lines.append(f"{name:<16}{fig['wer']:>8.1%}{fig['words_per_second']:>12,.0f}")
    return "\n".join(lines)


def mismatches(result: dict) -> str:
    from support import asr_judge

    out = []
    for r in result["rows"]:
        for name in FRONTENDS:
            if asr_judge.normalize(r[name]["heard"]) != asr_judge.normalize(r["text"]):
                out.append(f"  {r['id']} [{name}] {r['text']!r}\n      heard: {r[name]['heard']!r}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="numbers", help="sentence set in tests/data (default: numbers)")
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--repeats", type=int, default=3, help="timing passes per front-end (best is kept)")
    parser.add_argument("--json", type=Path, default=None, help="write figures and transcripts here")
    parser.add_argument("--verbose", action="store_true", help="list every sentence heard differently")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")

    result = run(args.set, args.limit, args.voice, args.repeats)
    print(table(result))
    if args.verbose:
        print(mismatches(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
