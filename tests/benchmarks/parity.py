"""LiteRT bundles vs the PyTorch reference on held-out sentences, full bucket ladder, real weights.

    python tests/benchmarks/parity.py [--limit N] [--json out.json] [--bundles DIR] [--precision P]

Per sentence: rounded durations identical?; magnitude-spectrogram and waveform correlation with
the excitation noise pinned to the same draw in both; then Whisper tiny.en WER of each backend
running free (its own seeded noise). Sentences: the held-out set and the number-heavy set (through
our G2P), those that fit the largest bucket in one chunk (<= 126 phonemes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import asr_judge  # noqa: E402
from support.sentences import load_sentences  # noqa: E402
from support.parity import pinned_excitation, random_excitation, spectrogram_correlation  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--bundles", type=Path, help="a bundle folder (default: the cache's, full ladder)")
    parser.add_argument("--precision", default="fp32", help="a precision of the bundle folder (default: fp32)")
    parser.add_argument("--no-asr", action="store_true", help="skip the Whisper round trip")
    args = parser.parse_args()

    from kokoro_litert.convert.export import cached_bundles
    from kokoro_litert.convert.reference import TorchReference
    from kokoro_litert.runtime.cache import cache_root
    from kokoro_litert.runtime.litert import LiteRTBackend
    from kokoro_litert.runtime.text import phonemize
    from kokoro_litert.runtime.voices import load_voice

    cache = cache_root()
    reference = TorchReference(cache / "weights")
    litert = LiteRTBackend(args.bundles or cached_bundles(cache / "weights", cache), precision=args.precision)
    max_len = litert.max_phonemes
    heart = load_voice("af_heart", cache / "voices")

    cases = [(s.id, s.text, s.phonemes) for s in load_sentences("heldout")]
    cases += [(s.id, s.text, phonemize(s.text).phonemes) for s in load_sentences("numbers")]
    cases = [c for c in cases if len(c[2]) <= max_len][: args.limit]

    rows = []
    for sid, text, phonemes in cases:
        free = litert.synthesize(phonemes, heart, 1.0, 0)
        ref_free = reference.synthesize(phonemes, heart, seed=0)
        same_durations = bool(np.array_equal(free.durations, ref_free.durations))
        excitation = random_excitation(int(free.durations.sum()), seed=1)
        ours = litert.synthesize(phonemes, heart, 1.0, 0, excitation=excitation)
        with pinned_excitation(excitation):
            ref = reference.synthesize(phonemes, heart, durations=ours.durations)
        row = {"id": sid, "phonemes": len(phonemes), "shapes": ours.shapes, "same_durations": same_durations,
               "spec_corr": spectrogram_correlation(ours.audio, ref.audio),
               "wave_corr": float(np.corrcoef(ours.audio, ref.audio)[0, 1]), "text": text}
        if not args.no_asr:
            row["heard_litert"] = asr_judge.transcribe(free.audio, 24_000)
            row["heard_torch"] = asr_judge.transcribe(ref_free.audio, 24_000)
        rows.append(row)
        print(f"{sid:12} {len(phonemes):4} {ours.shapes['prosody']:22} {ours.shapes['vocoder']:11} durations "
              f"{'same' if same_durations else 'DIFF'} spec {row['spec_corr']:.6f} wave {row['wave_corr']:.6f}",
              flush=True)

    spec = np.array([r["spec_corr"] for r in rows])
    wave = np.array([r["wave_corr"] for r in rows])
    refs = [r["text"] for r in rows]
    summary = {
        "precision": args.precision,
        "sentences": len(rows),
        "durations_identical": int(sum(r["same_durations"] for r in rows)),
        "spec_corr_mean": float(spec.mean()), "spec_corr_min": float(spec.min()),
        "wave_corr_mean": float(wave.mean()), "wave_corr_min": float(wave.min()),
    }
    if not args.no_asr:
        summary["wer_litert"] = asr_judge.wer(refs, [r["heard_litert"] for r in rows])
        summary["wer_torch"] = asr_judge.wer(refs, [r["heard_torch"] for r in rows])
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
