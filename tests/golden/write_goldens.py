"""Golden vectors from the Python runtime, for the JVM host (android_demo/) to be checked against.

    python tests/golden/write_goldens.py --bundles BUNDLE_DIR --out OUT_DIR [--lexicon-words N]

writes a small versioned folder that a reader without a JSON or numpy library can parse:

    OUT_DIR/index.json     {"format": "kokoro-litert-goldens", "version": 1, ...}: every array below named
                           by {"file", "dtype", "shape"}; texts and small lists inline
    OUT_DIR/arrays/*.bin   raw little-endian arrays: dtype "float32" | "int32" | "float64", C order

Contents (all from the same code paths `kokoro-litert say` runs):

- `noise`: dsp/noise.py's uniforms and normals (float64) and `excitation_noise` (float32) for a few
  seeds, negative and above 2**32 included: the generator both hosts implement from its specification.
- `utterances`: per phoneme string, voice, speed and seed, and per precision the bundle folder has
  (the default first), `LiteRTBackend.synthesize(..., trace=...)` on the bundle folder: the phoneme ids, the style row, every stage's (signature, inputs, outputs) and
  the host intermediates (integer durations, har_source, audio). One sentence needs the 64-token
  bucket, one runs at speed 1.25, one at a negative seed.
- `chunking`: `split_phonemes` on a long phoneme string at a small max_len; `_fade_edges` and
  `_trim_cut` on a synthetic chunk; `to_pcm16`.
- `lexicon`: `lexicon("a").word(w)` for the dev sentences' words and a list of rule cases (stems,
  capitals, heteronyms, compounds), and the letter spelling `spell(w)`.
- `phonemize`: `phonemize(text)` (normalized text, phonemes, words) for the dev sentences, the
  numbers sentences and tests/data/g2p_cases.tsv, with the default espeak-ng fallback; and for a few
  out-of-lexicon words with `fallback="spell"` too.

Regenerated from the current bundles in every test run (tests/test_android_demo.py): nothing large is
committed. Tools for developers, outside the runtime package.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

FORMAT = "kokoro-litert-goldens"
VERSION = 1

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

# (id, phonemes, voice, speed, seed). Held-out and dev phonemes are judged elsewhere; these are
# the shapes the host steps must handle: the smallest bucket, a cut vocoder, the 64-token bucket,
# a speed other than 1 and a negative seed (two's complement in the noise key).
UTTERANCES = (
    ("short", "həlˈO wˈɜɹld.", "af_heart", 1.0, 0),
    ("medium", "ðə kwˈɪk bɹˈWn fˈɑks ʤˈʌmps ˌOvəɹ ðə lˈAzi dˈɔɡ.", "am_michael", 1.0, 7),
    ("bucket64", "ðɪs ɪz ɐ lˈɔŋɡəɹ sˈɛntəns, wɪʧ nˈidz ðə sˈɛkənd bˈʌkɪt ʌv ðə lˈædəɹ tə fˈɪt ˈɔl ɪts fˈOnimz.",
     "bf_emma", 1.25, -3),
)
NOISE_SEEDS = (0, 1, 7, -1, 2**40 + 3)
LEXICON_CASES = (
    "hello", "Hello", "HELLO", "world's", "walked", "running", "picnicking", "cities", "wanted", "read", "lead",
    "US", "IT", "FBI", "NASA", "McDonald", "iPhone", "don't", "o'clock", "twenty-three", "well-known",
    "self-driving", "zzyzx", "Xiomara", "the", "a", "an", "to", "used", "Supercalifragilistic",
)
OOV_WORDS = ("Xiomara zzyzx flibbertigibbet.", "Qwxz is a Brzl.")


class Writer:
    """Arrays into OUT/arrays, described by {"file", "dtype", "shape"} entries."""

    def __init__(self, out: Path):
        self.out = out
        (out / "arrays").mkdir(parents=True, exist_ok=True)
        self.count = 0

    def array(self, value, dtype: str) -> dict:
        a = np.ascontiguousarray(np.asarray(value), dtype=np.dtype(dtype).newbyteorder("<"))
        name = f"arrays/{self.count:04d}.bin"
        self.count += 1
        a.tofile(self.out / name)
        return {"file": name, "dtype": dtype, "shape": list(a.shape)}


def _dtype(a: np.ndarray) -> str:
    return "int32" if np.issubdtype(np.asarray(a).dtype, np.integer) else "float32"


def _stage(w: Writer, call) -> dict:
    signature, inputs, outputs = call
    return {"signature": signature,
            "inputs": {k: w.array(v, _dtype(v)) for k, v in inputs.items()},
            "outputs": {k: w.array(v, _dtype(v)) for k, v in outputs.items()}}


def noise_goldens(w: Writer) -> list:
    from kokoro_litert.dsp import noise

    out = []
    for seed in NOISE_SEEDS:
        rand_ini, exc = noise.excitation_noise(seed, 1200, 9)
        out.append({"seed": seed,
                    "uniforms": {str(s): w.array(noise.uniforms(seed, s, 64), "float64") for s in (0, 1)},
                    "normals": {str(s): w.array(noise.normals(seed, s, 65), "float64") for s in (0, 1)},
                    "rand_ini": w.array(rand_ini, "float32"), "noise": w.array(exc, "float32"),
                    "samples": 1200, "harmonics": 9})
    return out


def utterance_goldens(w: Writer, bundles: Path, precision: str | None = None) -> list:
    from kokoro_litert.runtime.litert import LiteRTBackend
    from kokoro_litert.runtime.vocab import phoneme_ids
    from kokoro_litert.runtime.voices import load_voice, style_for

    backend = LiteRTBackend(bundles, threads=2, precision=precision)
    out = []
    for uid, phonemes, voice, speed, seed in UTTERANCES:
        pack = load_voice(voice, backend.bundle.voices)
        trace: dict = {}
        syn = backend.synthesize(phonemes, pack, speed, seed, trace=trace)
        out.append({"id": uid, "phonemes": phonemes, "voice": voice, "speed": speed, "seed": seed,
                    "precision": backend.precision,
                    "ids": w.array(phoneme_ids(phonemes, backend.vocab), "int32"),
                    "style": w.array(style_for(pack, len(phonemes))[0], "float32"),
                    "durations": w.array(trace["durations"], "int32"),
                    "durations_raw": w.array(syn.durations_raw, "float32"),
                    "har_source": w.array(trace["har_source"], "float32"),
                    "audio": w.array(trace["audio"], "float32"),
                    "shapes": syn.shapes,
                    "stages": {s: _stage(w, trace[s]) for s in ("predictor", "prosody", "vocoder")}})
    backend.runner.close()
    return out


def chunking_goldens(w: Writer) -> dict:
    from kokoro_litert.runtime import api
    from kokoro_litert.runtime.wav import to_pcm16
    from support.sentences import load_sentences

    long = " ".join(s.phonemes for s in load_sentences("heldout")[:8])
    spans = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", long)]
    splits = []
    for max_len in (30, 62, 126):
        pieces = api.split_phonemes(long, spans, max_len)
        splits.append({"max_len": max_len, "pieces": [{"phonemes": p.phonemes, "pause": p.pause,
                                                       "words": [list(x) for x in p.words]} for p in pieces]})
    first = []
    if hasattr(api, "_split_first"):  # a stream's short first chunk
        for limit in (24, 40):
            pieces = api._split_first(api.split_phonemes(long, spans, 126), limit)
            first.append({"max_len": 126, "limit": limit, "pieces": [
                {"phonemes": p.phonemes, "pause": p.pause, "words": [list(x) for x in p.words]} for p in pieces]})
    rng = np.random.default_rng(5)
    chunk = np.concatenate([np.zeros(9000), rng.standard_normal(20000) * 0.2 * np.hanning(20000), np.zeros(7000)])
    chunk = chunk.astype(np.float32)
    trims = []
    for before, after in ((True, False), (False, True), (True, True)):
        audio, lead = api._trim_cut(chunk, 14, before, after)
        trims.append({"cut_before": before, "cut_after": after, "lead_pad_frames": 14, "lead": lead,
                      "audio": w.array(audio, "float32")})
    pcm = np.frombuffer(to_pcm16(np.concatenate([chunk * 6, [1.0, -1.0, 0.5 / 32767, 1.5 / 32767]])), "<i2")
    return {"phonemes": long, "splits": splits, "split_first": first, "chunk": w.array(chunk, "float32"),
            "fade": w.array(api._fade_edges(chunk), "float32"), "trims": trims,
            "pcm_in": w.array(np.concatenate([chunk * 6, [1.0, -1.0, 0.5 / 32767, 1.5 / 32767]]), "float32"),
            "pcm16": w.array(pcm.astype(np.int32), "int32")}


def lexicon_goldens(limit: int) -> list:
    from kokoro_litert.runtime.text import lexicon, phonemize
    from support.sentences import load_sentences

    lex = lexicon("a")
    words = []
    for s in load_sentences("dev"):
        words += [w.normalized for w in phonemize(s.text).words if any(c.isalpha() for c in w.normalized)]
    words = list(dict.fromkeys(list(LEXICON_CASES) + words))[:limit]
    return [{"word": w, "phonemes": lex.word(w, None, False), "spell": lex.spell(w)} for w in words]


def phonemize_goldens() -> list:
    from kokoro_litert.runtime.text import phonemize
    from support.sentences import DATA_DIR, load_sentences

    texts = [("dev", s.text) for s in load_sentences("dev")] + [("numbers", s.text) for s in load_sentences("numbers")]
    cases = (DATA_DIR / "g2p_cases.tsv").read_text(encoding="utf-8").splitlines()
    header = cases[0].split("\t") if cases else []
    col = header.index("text") if "text" in header else 0
    texts += [("g2p_cases", line.split("\t")[col]) for line in cases[1:] if line.strip()]
    out = []
    for group, text in texts:
        r = phonemize(text)
        out.append({"set": group, "text": text, "fallback": "espeak", "normalized": r.normalized,
                    "phonemes": r.phonemes, "words": [[x.text, x.phonemes] for x in r.words]})
    for text in OOV_WORDS:
        for fallback in ("espeak", "spell"):
            r = phonemize(text, fallback=fallback)
            out.append({"set": "oov", "text": text, "fallback": fallback, "normalized": r.normalized,
                        "phonemes": r.phonemes, "words": [[x.text, x.phonemes] for x in r.words],
                        "warnings": r.warnings})
    return out


def write_goldens(bundles: Path, out: Path, lexicon_words: int = 2000) -> Path:
    """Write the golden folder for a bundle folder; returns the index path."""
    from kokoro_litert.buckets.manifest import Manifest
    from kokoro_litert.runtime.cache import sha256_file

    out.mkdir(parents=True, exist_ok=True)
    w = Writer(out)
    manifest = Manifest.load(bundles)
    index = {
        "format": FORMAT, "version": VERSION,
        "bundle": {"manifest_sha256": sha256_file(Path(bundles) / "manifest.json"),
                   "default_precision": manifest.default_precision},
        "noise": noise_goldens(w),
        "utterances": [u for p in [manifest.default_precision] + sorted(set(manifest.precisions) - {manifest.default_precision})
                       for u in utterance_goldens(w, Path(bundles), p)],
        "chunking": chunking_goldens(w),
        "lexicon": lexicon_goldens(lexicon_words),
        "phonemize": phonemize_goldens(),
    }
    path = out / "index.json"
    path.write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundles", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--lexicon-words", type=int, default=2000)
    args = p.parse_args(argv)
    print(write_goldens(args.bundles, args.out, args.lexicon_words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
