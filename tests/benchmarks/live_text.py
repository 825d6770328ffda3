"""Time to first audio for text that arrives in pieces (a simulated LLM) and for whole sentences.

    python tests/benchmarks/live_text.py [--bundles DIR] [--sentences 30] [--no-asr]

Sentences: the held-out set, then the number-heavy set, single sentences (tests/data). Warm API
(`Kokoro.stream`, the bundle's default precision, voice af_heart), one sentence after another:

- whole: the sentence passed as a string (what an app does today); first audio = the first chunk.
- llm: the sentence as tokens of 1-3 words (seeded) arriving at 20 tokens per second, passed as an
  iterator; first audio after the stream started, and after the first unit's text was complete
  (the moment the segmenter could cut it: what the issue's 0.3 s aim is about).
- how it sounds: Whisper tiny.en WER of the llm audio against the whole-sentence audio's (the live
  cuts at a first clause or a word boundary must not cost intelligibility).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.sentences import load_sentences  # noqa: E402

TOKENS_PER_SECOND = 20


def llm_tokens(text: str, rng: random.Random):
    """The text as an LLM streams it: 1-3 words per token, one token every 1/20 s."""
    words = text.split(" ")
    at = 0
    while at < len(words):
        n = rng.randint(1, 3)
        piece = " ".join(words[at:at + n]) + (" " if at + n < len(words) else "")
        at += n
        time.sleep(1 / TOKENS_PER_SECOND)
        yield piece


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=Path, help="a bundle folder (default: the cache's)")
    parser.add_argument("--sentences", type=int, default=30)
    parser.add_argument("--no-asr", action="store_true", help="skip the Whisper comparison")
    args = parser.parse_args()

    from kokoro_litert.runtime import api
    from kokoro_litert.runtime.api import Kokoro

    bundles = args.bundles
    if bundles is None:
        from kokoro_litert.convert.export import cached_bundles
        from kokoro_litert.runtime.cache import cache_root

        bundles = cached_bundles(cache_root() / "weights", cache_root())
    sentences = [s.text for s in load_sentences("heldout") + load_sentences("numbers")][: args.sentences]
    tts = Kokoro.from_bundles(bundles)
    list(tts.stream("Warm up, once. Then again.", voice="af_heart"))

    unit_done: list[float] = []

    class TimedSegmenter(api.Segmenter):  # records when the first unit could be cut
        def push(self, piece):
            units = super().push(piece)
            if units and not unit_done:
                unit_done.append(time.perf_counter())
            return units

        def finish(self):
            units = super().finish()
            if units and not unit_done:
                unit_done.append(time.perf_counter())
            return units

    api.Segmenter = TimedSegmenter
    rng = random.Random(0)
    rows, whole_audio, live_audio = [], [], []
    for text in sentences:
        t0 = time.perf_counter()
        chunks = tts.stream(text, voice="af_heart")
        first = next(chunks)
        whole_first = time.perf_counter() - t0
        whole_audio.append(np.concatenate([first.audio, *(c.audio for c in chunks)]))

        unit_done.clear()
        t0 = time.perf_counter()
        chunks = tts.stream(llm_tokens(text, rng), voice="af_heart")
        first = next(chunks)
        llm_first = time.perf_counter() - t0
        after_unit = time.perf_counter() - unit_done[0] if unit_done else float("nan")
        live_audio.append(np.concatenate([first.audio, *(c.audio for c in chunks)]))
        rows.append((whole_first, llm_first, after_unit, len(text.split())))
        print(f"{whole_first:6.2f} s whole  {llm_first:6.2f} s llm  {after_unit:6.2f} s after its first unit  "
              f"{text[:60]}", flush=True)

    def med(i):
        return statistics.median(r[i] for r in rows)

    print(f"\n{len(rows)} sentences ({min(r[3] for r in rows)}-{max(r[3] for r in rows)} words), warm, "
          f"{TOKENS_PER_SECOND} tokens/s of 1-3 words")
    print(f"first audio, whole sentence as a string:   median {med(0):.2f} s, worst {max(r[0] for r in rows):.2f} s")
    print(f"first audio, llm tokens (from the start):  median {med(1):.2f} s, worst {max(r[1] for r in rows):.2f} s")
    print(f"first audio after the first unit was complete: median {med(2):.2f} s, "
          f"worst {max(r[2] for r in rows):.2f} s")
    if not args.no_asr:
        from support import asr_judge

        whole_wer = asr_judge.wer(sentences, [asr_judge.transcribe(a, 24000) for a in whole_audio])
        live_wer = asr_judge.wer(sentences, [asr_judge.transcribe(a, 24000) for a in live_audio])
        print(f"Whisper tiny.en WER: whole {whole_wer:.2%}, llm stream {live_wer:.2%}")


if __name__ == "__main__":
    main()
