"""Golden vectors from the Python runtime, read by the JVM host's tests (android_demo/) and checked
against the Python runtime itself, so a change on either host shows up as a diff.

    python tests/golden/write_goldens.py --out tests/golden/vectors     # regenerate the committed set
    python tests/golden/write_goldens.py --check tests/golden/vectors   # the current Python against it
    python tests/golden/write_goldens.py --bundles DIR --out OUT        # pipeline vectors of a real bundle folder

Two kinds of golden folders, one format:

- The committed set, tests/golden/vectors/ (~1 MB): everything that needs no real weights. Regenerate
  it only on purpose (a front-end, DSP or converter change), review the diff, commit it.
  `tests/test_goldens.py` fails when the Python runtime no longer produces it; the JVM tests read it.
  Its pipeline vectors come from the tiny random-weight bundle (tests/support/tiny_bundle.py, the
  fast test layer's, built by the real converter; this command builds or reuses it in
  .pytest_cache/d/tiny-bundle), whose graphs depend only on the converter: a converter change that
  moves the numbers shows here too.
- Pipeline vectors of the real Kokoro-82M bundle folder (`--bundles`), written per test run into a
  temporary folder by tests/test_android_demo.py: they follow the converted folder in the user's
  cache, which changes with every conversion, and are several MB per utterance at real sizes (the
  vocoder's input and outputs alone are 5.4 MB at 512 frames), so they are not committed.

Layout (a reader without a JSON or numpy library can parse it):

    index.json     {"format": "kokoro-litert-goldens", "version": 2, "meta": {...}, SECTION: ...}: every
                   array below named by {"file", "dtype", "shape"}; texts and small lists inline
    arrays/...     raw little-endian arrays, C order, dtype "float32" | "int32" | "float64"; a name ending
                   in ".gz" is gzip-compressed; with "stored": [shape] only that leading part of the
                   last axis is in the file and the rest is zero (the vocoder's input past the
                   utterance is zero; its outputs there are never read by the host)

Sections:

- `noise`: dsp/noise.py's uniforms and normals (float64) and `excitation_noise` (float32) for a few
  seeds, negative and above 2**32 included: the generator both hosts implement from its specification.
- `dsp`: the STFT window (20 float32 values) and the STFT and iSTFT of a short signal.
- `chunking`: `split_phonemes` on a long phoneme string at several max_len, with breaks (a Hindi
  text's dandas; pauses and rate stretches) and the stream's short first chunk; `_fade_edges`,
  `_trim_cut` on a synthetic chunk; `to_pcm16`.
- `lexicon`: `lexicon("a").word(w)` for the dev sentences' words and rule cases, and `spell(w)`.
- `phonemize`: English `phonemize(text)` (normalized text, phonemes, words) for the dev and numbers
  sentences and tests/data/g2p_cases.tsv, with the espeak-ng fallback; a few out-of-lexicon words
  with `fallback="spell"` too.
- `languages`: `phonemize(text, code)` (phonemes after the vocabulary cut, words, breaks, warnings)
  for every item of tests/data/languages/{e,f,h,i,p}.txt and seeded hostile strings per language.
- `markup`: `phonemize(text, lang)` of texts with inline markup (`[word](/phonemes/)`, stress changes,
  `[pause:0.5s]`) in English and the espeak languages: phonemes, words, breaks, rates, warnings.
- `utterances`: per phoneme string, voice, speed, seed and precision, `LiteRTBackend.synthesize(...,
  trace=...)`: phoneme ids, style row, every stage's (signature, inputs, outputs), integer durations,
  har_source, audio. Committed set: the tiny bundle, as TINY_PLAN says (one utterance with every
  stage call, the other in every precision end to end).

Tolerances when the current Python is checked against a folder (`compare`): texts, integer arrays and
everything exact by construction (noise uniforms, token ids, style rows, masks, alignment, durations)
must be identical; float64 normals within 4 ulp (libm's last bit); float32 host DSP (excitation noise,
fades, trims) within 1 ulp; LiteRT stage tensors and what the host computes from them within
STAGE_TOLERANCE of the array's largest magnitude (XNNPACK picks kernels by CPU: another CPU sums in
another order, ~1e-6 relative in float32, and a dynamic int8 activation scale can move a value by a
quantization step, 1/127 of its tensor's range); audio correlation at least AUDIO_CORRELATION. On the
CPU and LiteRT build that wrote the folder, all of these differences are zero.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import sys
from pathlib import Path

import numpy as np

FORMAT = "kokoro-litert-goldens"
VERSION = 2

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
COMMITTED = Path(__file__).resolve().parent / "vectors"
"""The committed golden folder."""

# (id, phonemes, voice, speed, seed) for the real bundle folder: the smallest bucket, a cut vocoder,
# the 64-token bucket, a speed other than 1 and a negative seed (two's complement in the noise key).
UTTERANCES = (
    ("short", "həlˈO wˈɜɹld.", "af_heart", 1.0, 0),
    ("medium", "ðə kwˈɪk bɹˈWn fˈɑks ʤˈʌmps ˌOvəɹ ðə lˈAzi dˈɔɡ.", "am_michael", 1.0, 7),
    ("bucket64", "ðɪs ɪz ɐ lˈɔŋɡəɹ sˈɛntəns, wɪʧ nˈidz ðə sˈɛkənd bˈʌkɪt ʌv ðə lˈædəɹ tə fˈɪt ˈɔl ɪts fˈOnimz.",
     "bf_emma", 1.25, -3),
)
# The tiny bundle's ladder (16 tokens / 64 frames, 32 / 128; at most 30 phonemes), kept short so the
# committed vectors stay small: the first bucket; the second bucket's prosody with the vocoder at its
# smaller size (cut outputs), a Spanish voice, speed 2 and a negative seed.
TINY_UTTERANCES = (
    ("short", "hˈI.", "af_heart", 1.0, 0),
    ("cut", "ˈeste ˈes un tɾˈen.", "ef_dora", 2.0, -3),
)
TINY_PLAN = {("cut", "fp32"): "full", ("short", "fp32"): "partial", ("short", "fp16"): "partial",
             ("short", "int8"): "partial"}
"""What the committed set keeps of each (utterance, precision) of the tiny bundle: "full", every stage
call (the host steps are replayed on it); "partial", the predictor and prosody calls, durations and
audio (the JVM runs the graphs end to end on it). The vocoder's input and outputs are most of the
bytes (~0.4 MB per utterance even here), so one utterance carries them."""
NOISE_SEEDS = (0, 1, 7, -1, 2**40 + 3)
NOISE_SAMPLES = 240
LEXICON_CASES = (
    "hello", "Hello", "HELLO", "world's", "walked", "running", "picnicking", "cities", "wanted", "read", "lead",
    "US", "IT", "FBI", "NASA", "McDonald", "iPhone", "don't", "o'clock", "twenty-three", "well-known",
    "self-driving", "zzyzx", "Xiomara", "the", "a", "an", "to", "used", "Supercalifragilistic",
)
OOV_WORDS = ("Xiomara zzyzx flibbertigibbet.", "Qwxz is a Brzl.")
ESPEAK_CODES = ("e", "f", "h", "i", "p")
HOSTILE_PER_LANGUAGE = 60
# Pieces of hostile text for the espeak languages: marks in runs, brackets, quotes, numbers with
# separators, other scripts, emoji, dandas, tabs.
HOSTILE_ATOMS = ("casa", "la", "3", "25", "1.250", "2,5", "3:45", "10%", "€", "$5", "año", "l'été", "ábc", "ÿ", "Привет",
                 "😀", "हिंदी", "।", "॥", " ", "  ", "\t", ",", ".", "...", "¿", "?", "¡", "!", "(", ")", "«", "»", '"', "“",
                 "”", "—", "…", ";", ":", "[", "]", "{", "}", "-", "'", "_")
# Inline markup (runtime/text/markup.py) per language: pronunciations (Kokoro symbols, IPA that gets a
# hint, symbols that are not sounds), stress changes (English only), pauses (leading, in a row, too
# long, malformed, in ms), link targets that are not spoken.
MARKUP_TEXTS = (
    ("a", "Say [tomato](/təmˈɑːtO/) please, [Kokoro](/kˈOkəɹO/) is fast."),
    ("a", "[pause:1s]Hello there.[pause:0.5s] How are you?"),
    ("a", "Wait [pause:300ms] for it [pause:0.2s] [pause:0.4s] and go."),
    ("a", "A [word](-1) with its stress [changed](+2) and [this](0.5) one."),
    ("a", "The [chain](/t͡ʃeɪn/) is IPA, the [thing](/θ@ng/) is not, [nothing](/.,/) has no sound."),
    ("a", "A [link](https://example.com) and [flags](#1#) and [empty]() targets."),
    ("a", "Odd [pause:abc] and long [pause:20s] and [PAUSE:2 Seconds] pauses."),
    ("a", "The [apple](/ˈæpəl/) and the [egg](/ˈɛɡ/)."),
    ("b", "Tomato, [tomato](/təmˈɑːtQ/)[pause:0.3s] in British."),
    ("e", "Hola [mundo](/mˈundo/), ¿qué tal?[pause:0.5s] Bien, [gracias](-1)."),
    ("e", "[pause:0.4s]Empieza [pause:1s] aquí."),
    ("f", "Bonjour [Paris](/paʁˈi/) ! [pause:0.25s] Ça va ?"),
    ("h", "नमस्ते [दुनिया](/dunijaː/)। [pause:0.5s] ठीक है।"),
    ("i", "Ciao [Roma](/rˈoma/), [pause:500ms] a presto."),
    ("p", "Olá [Brasil](/bɾazˈiw/)! [pause:0.3s] Tudo bem?"),
)
COMPRESS_ABOVE = 16_384  # bytes: larger arrays are gzip-compressed
STAGE_TOLERANCE = {"fp32": 1e-4, "fp16": 1e-4, "int8": 2e-2}
AUDIO_CORRELATION = {"fp32": 0.9999, "fp16": 0.9999, "int8": 0.99}


class Writer:
    """Arrays into OUT/arrays/NAME(.gz), described by {"file", "dtype", "shape"(, "stored")} entries.
    Names follow what they hold, so regenerating changes only the files whose content changed."""

    def __init__(self, out: Path):
        self.out = out
        self.names: set[str] = set()

    def array(self, value, dtype: str, name: str, stored: int | None = None) -> dict:
        a = np.ascontiguousarray(np.asarray(value), dtype=np.dtype(dtype).newbyteorder("<"))
        desc = {"dtype": dtype, "shape": list(a.shape)}
        if stored is not None and stored < a.shape[-1]:
            a = np.ascontiguousarray(a[..., :stored])
            desc["stored"] = list(a.shape)
        data = a.tobytes()
        file = f"arrays/{name}.bin"
        if len(data) > COMPRESS_ABOVE:
            data, file = gzip.compress(data, compresslevel=9, mtime=0), file + ".gz"
        assert file not in self.names, file
        self.names.add(file)
        path = self.out / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return {"file": file, **desc}


def read_array(folder: Path, desc: dict) -> np.ndarray:
    """An array as `Writer.array` stored it, zero-padded back to its shape."""
    data = (Path(folder) / desc["file"]).read_bytes()
    if desc["file"].endswith(".gz"):
        data = gzip.decompress(data)
    stored = desc.get("stored", desc["shape"])
    a = np.frombuffer(data, dtype=np.dtype(desc["dtype"]).newbyteorder("<")).reshape(stored)
    if stored != desc["shape"]:
        a = np.concatenate([a, np.zeros((*stored[:-1], desc["shape"][-1] - stored[-1]), a.dtype)], axis=-1)
    return a


def _dtype(a: np.ndarray) -> str:
    return "int32" if np.issubdtype(np.asarray(a).dtype, np.integer) else "float32"


# -- sections -----------------------------------------------------------------------------------------


def noise_goldens(w: Writer) -> list:
    from kokoro_litert.dsp import noise

    out = []
    for seed in NOISE_SEEDS:
        rand_ini, exc = noise.excitation_noise(seed, NOISE_SAMPLES, 9)
        key = f"noise/seed{seed}"
        out.append({"seed": seed,
                    "uniforms": {str(s): w.array(noise.uniforms(seed, s, 64), "float64", f"{key}/uniforms{s}")
                                 for s in (0, 1)},
                    "normals": {str(s): w.array(noise.normals(seed, s, 65), "float64", f"{key}/normals{s}")
                                for s in (0, 1)},
                    "rand_ini": w.array(rand_ini, "float32", f"{key}/rand_ini"),
                    "noise": w.array(exc, "float32", f"{key}/noise"), "samples": NOISE_SAMPLES, "harmonics": 9})
    return out


def dsp_goldens(w: Writer) -> dict:
    """The STFT window as the Python runtime computes it, and the STFT / iSTFT of a short signal."""
    from kokoro_litert.dsp.stft import _window, istft, stft

    rng = np.random.default_rng(11)
    t = np.arange(1200) / 24000
    signal = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    signal[:100] = 0  # silence: bins of zero magnitude, whose phase is where hosts could disagree
    magnitude, phase = stft(signal)
    return {"window": w.array(_window(), "float32", "dsp/window"), "signal": w.array(signal, "float32", "dsp/signal"),
            "magnitude": w.array(magnitude, "float32", "dsp/magnitude"), "phase": w.array(phase, "float32", "dsp/phase"),
            "istft": w.array(istft(magnitude, phase), "float32", "dsp/istft")}


def _pieces(pieces) -> list:
    return [{"phonemes": p.phonemes, "pause": p.pause, "words": [list(x) for x in p.words],
             "trim_after": p.trim_after, "rate": p.rate} for p in pieces]


def chunking_goldens(w: Writer) -> dict:
    from kokoro_litert.runtime import api
    from kokoro_litert.runtime.text import Break, Rate, phonemize
    from kokoro_litert.runtime.wav import to_pcm16
    from support.sentences import load_sentences

    long = " ".join(s.phonemes for s in load_sentences("heldout")[:8])
    spans = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", long)]
    splits = [{"max_len": n, "pieces": _pieces(api.split_phonemes(long, spans, n))} for n in (30, 62, 126)]
    first = [{"max_len": 126, "limit": limit, "pieces": _pieces(api._split_first(api.split_phonemes(long, spans, 126), limit))}
             for limit in (24, 40)]
    # Breaks: a Hindi text's dandas (sentence ends espeak leaves unmarked), and pauses and rate
    # stretches placed by hand: one before the first word (a silence chunk), one mid-sentence.
    hindi = phonemize("वह आया। “ठीक है।” फिर गया और कुछ नहीं बोला, बस चुपचाप बैठ गया। अच्छा", "h")
    hindi_spans = api._word_spans(hindi.phonemes, hindi.words)
    marked = [Break(0, 0.3), Break(long.index(" ", 40), 0.5), Break(long.index(" ", 90), None)]
    rates = [Rate(long.index(" ", 40) + 1, long.index(" ", 200), 1.25)]
    with_breaks = [
        {"phonemes": hindi.phonemes, "words": [list(x) for x in hindi_spans], "max_len": n,
         "breaks": [[b.at, b.pause] for b in hindi.breaks], "rates": [],
         "pieces": _pieces(api.split_phonemes(hindi.phonemes, hindi_spans, n, hindi.breaks))} for n in (30, 126)
    ] + [
        {"phonemes": long, "words": [list(x) for x in spans], "max_len": n,
         "breaks": [[b.at, b.pause] for b in marked], "rates": [[r.start, r.end, r.factor] for r in rates],
         "pieces": _pieces(api.split_phonemes(long, spans, n, marked, rates))} for n in (62, 126)
    ]
    rng = np.random.default_rng(5)
    chunk = np.concatenate([np.zeros(1500), rng.standard_normal(3000) * 0.2 * np.hanning(3000), np.zeros(1500)])
    chunk = chunk.astype(np.float32)
    trims = []
    for before, after in ((True, False), (False, True), (True, True)):
        audio, lead = api._trim_cut(chunk, 2, before, after)
        trims.append({"cut_before": before, "cut_after": after, "lead_pad_frames": 2, "lead": lead,
                      "audio": w.array(audio, "float32", f"chunking/trim_{int(before)}{int(after)}")})
    pcm_in = np.concatenate([chunk * 6, [1.0, -1.0, 0.5 / 32767, 1.5 / 32767]]).astype(np.float32)
    pcm = np.frombuffer(to_pcm16(pcm_in), "<i2")
    return {"phonemes": long, "splits": splits, "split_first": first, "with_breaks": with_breaks,
            "chunk": w.array(chunk, "float32", "chunking/chunk"),
            "fade": w.array(api._fade_edges(chunk), "float32", "chunking/fade"), "trims": trims,
            "pcm_in": w.array(pcm_in, "float32", "chunking/pcm_in"),
            "pcm16": w.array(pcm.astype(np.int32), "int32", "chunking/pcm16")}


def lexicon_goldens(limit: int = 2000) -> list:
    from kokoro_litert.runtime.text import lexicon, phonemize
    from support.sentences import load_sentences

    lex = lexicon("a")
    words = []
    for s in load_sentences("dev"):
        words += [w.normalized for w in phonemize(s.text).words if any(c.isalpha() for c in w.normalized)]
    words = list(dict.fromkeys(list(LEXICON_CASES) + words))[:limit]
    return [{"word": w, "phonemes": lex.word(w, None, False), "spell": lex.spell(w)} for w in words]


def _result(r) -> dict:
    return {"normalized": r.normalized, "phonemes": r.phonemes, "words": [[x.text, x.phonemes] for x in r.words],
            "breaks": [[b.at, b.pause] for b in r.breaks], "warnings": list(r.warnings)}


def phonemize_goldens() -> list:
    from kokoro_litert.runtime.text import phonemize
    from support.sentences import DATA_DIR, load_sentences

    texts = [("dev", s.text) for s in load_sentences("dev")] + [("numbers", s.text) for s in load_sentences("numbers")]
    cases = (DATA_DIR / "g2p_cases.tsv").read_text(encoding="utf-8").splitlines()
    header = cases[0].split("\t") if cases else []
    col = header.index("text") if "text" in header else 0
    texts += [("g2p_cases", line.split("\t")[col]) for line in cases[1:] if line.strip()]
    out = [{"set": group, "text": text, "fallback": "espeak", **_result(phonemize(text))} for group, text in texts]
    for text in OOV_WORDS:
        for fallback in ("espeak", "spell"):
            out.append({"set": "oov", "text": text, "fallback": fallback, **_result(phonemize(text, fallback=fallback))})
    return out


def markup_goldens() -> list:
    from kokoro_litert.runtime.text import phonemize

    out = []
    for lang, text in MARKUP_TEXTS:
        r = phonemize(text, lang)
        out.append({"lang": lang, "text": text, **_result(r), "rates": [[x.start, x.end, x.factor] for x in r.rates]})
    return out


def hostile_texts(code: str, count: int = HOSTILE_PER_LANGUAGE) -> list[str]:
    rng = random.Random(f"goldens-{code}")
    texts = []
    while len(texts) < count:
        text = "".join(rng.choice(HOSTILE_ATOMS) + rng.choice(("", " ", "")) for _ in range(rng.randint(1, 8)))
        if text.strip():
            texts.append(text)
    return texts


def language_goldens() -> list:
    from kokoro_litert.runtime.text import phonemize
    from support.sentences import DATA_DIR

    out = []
    for code in ESPEAK_CODES:
        items = [t for t in (DATA_DIR / "languages" / f"{code}.txt").read_text(encoding="utf-8").splitlines()
                 if t.strip() and not t.startswith("# ")]
        for group, texts in (("test_set", items), ("hostile", hostile_texts(code))):
            out += [{"lang": code, "set": group, "text": t, **_result(phonemize(t, code))} for t in texts]
    return out


def utterance_goldens(w: Writer, bundles: Path, utterances=UTTERANCES, plan: dict | None = None) -> list:
    """Every precision of the folder, the default first. plan: (id, precision) -> "full" | "partial"
    (TINY_PLAN), pairs it does not name left out; None: all full."""
    from kokoro_litert.buckets.ladder import stft_frames
    from kokoro_litert.buckets.manifest import Manifest
    from kokoro_litert.runtime.litert import LiteRTBackend
    from kokoro_litert.runtime.vocab import phoneme_ids
    from kokoro_litert.runtime.voices import load_voice, style_for

    manifest = Manifest.load(bundles)
    precisions = [manifest.default_precision] + sorted(set(manifest.precisions) - {manifest.default_precision})
    out = []
    for precision in precisions:
        backend = LiteRTBackend(bundles, threads=2, precision=precision)
        for uid, phonemes, voice, speed, seed in utterances:
            kind = "full" if plan is None else plan.get((uid, precision))
            if kind is None:
                continue
            full = kind == "full"
            pack = load_voice(voice, backend.bundle.voices)
            trace: dict = {}
            syn = backend.synthesize(phonemes, pack, speed, seed, trace=trace)
            key = f"utterances/{uid}/{precision}"
            n_stft = stft_frames(int(np.sum(trace["durations"])))
            stages = {}
            for stage in ("predictor", "prosody", "vocoder") if full else ("predictor", "prosody"):
                signature, inputs, outputs = trace[stage]
                cut = {"har", "magnitude", "phase"} if stage == "vocoder" else set()
                stages[stage] = {
                    "signature": signature,
                    "inputs": {k: w.array(v, _dtype(v), f"{key}/{stage}/in_{k}", n_stft if k in cut else None)
                               for k, v in inputs.items()},
                    "outputs": {k: w.array(v, _dtype(v), f"{key}/{stage}/out_{k}", n_stft if k in cut else None)
                                for k, v in outputs.items()}}
            entry = {"id": uid, "phonemes": phonemes, "voice": voice, "speed": speed, "seed": seed, "precision": precision,
                     "ids": w.array(phoneme_ids(phonemes, backend.vocab), "int32", f"{key}/ids"),
                     "style": w.array(style_for(pack, len(phonemes))[0], "float32", f"{key}/style"),
                     "durations": w.array(trace["durations"], "int32", f"{key}/durations"),
                     "durations_raw": w.array(syn.durations_raw, "float32", f"{key}/durations_raw"),
                     "audio": w.array(trace["audio"], "float32", f"{key}/audio"),
                     "shapes": syn.shapes, "stages": stages}
            if full:
                entry["har_source"] = w.array(trace["har_source"], "float32", f"{key}/har_source")
            out.append(entry)
        backend.runner.close()
    return out


def _meta(bundles: Path | None) -> dict:
    from importlib.metadata import version

    try:
        from kokoro_litert.runtime.runner import cpu_fingerprint
    except ImportError:  # moved: the JVM then compares stage outputs within tolerance instead of exactly
        def cpu_fingerprint():
            return "unknown"

    meta = {"cpu": cpu_fingerprint(), "versions": {p: version(p) for p in ("ai-edge-litert", "numpy", "espeakng-loader",
                                                                           "misaki")}}
    if bundles is not None:
        from kokoro_litert.buckets.manifest import Manifest

        manifest = Manifest.load(bundles)
        stage_files = sorted({f for files in manifest.precisions.values() for f in files.values()} | {"voices.bin"})
        meta["bundle"] = {"converter_version": manifest.converter_version, "default_precision": manifest.default_precision,
                          "sha256": {f: manifest.sha256[f] for f in stage_files if f in manifest.sha256}}
    return meta


TEXT_SECTIONS = ("noise", "dsp", "chunking", "lexicon", "phonemize", "languages", "markup")


def write_goldens(out: Path, bundles: Path | None = None, sections=TEXT_SECTIONS + ("utterances",),
                  tiny: bool = False) -> Path:
    """Write a golden folder; returns the index path. bundles: the folder the `utterances` come from;
    tiny: it is the tiny bundle (TINY_UTTERANCES as TINY_PLAN says)."""
    out = Path(out)
    if (out / "index.json").is_file():  # regenerating: no stale array stays behind
        shutil.rmtree(out / "arrays", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    w = Writer(out)
    index: dict = {"format": FORMAT, "version": VERSION,
                   "meta": _meta(bundles if "utterances" in sections else None)}
    builders = {"noise": lambda: noise_goldens(w), "dsp": lambda: dsp_goldens(w), "chunking": lambda: chunking_goldens(w),
                "lexicon": lexicon_goldens, "phonemize": phonemize_goldens, "languages": language_goldens,
                "markup": markup_goldens,
                "utterances": lambda: utterance_goldens(w, Path(bundles), TINY_UTTERANCES if tiny else UTTERANCES,
                                                        TINY_PLAN if tiny else None)}
    for section in sections:
        index[section] = builders[section]()
    path = out / "index.json"
    path.write_text(_dumps(index), encoding="utf-8")
    return path


def _dumps(index: dict) -> str:
    """JSON with one list item per line (an item, a word list, an utterance): compact, and a diff names
    the items that changed."""
    def value(v) -> str:
        if isinstance(v, list) and v:
            return "[\n" + ",\n".join(json.dumps(x, ensure_ascii=False) for x in v) + "\n]"
        if isinstance(v, dict) and any(isinstance(x, list) and x for x in v.values()):
            return "{\n" + ",\n".join(f"{json.dumps(k)}: {value(x)}" for k, x in v.items()) + "\n}"
        return json.dumps(v, ensure_ascii=False)

    return value(index) + "\n"


def tiny_bundle() -> Path:
    """The tiny bundle folder the fast test layer uses (built, or reused from .pytest_cache)."""
    from support.tiny_bundle import cached_build

    cache, _, _ = cached_build(TESTS.parent / ".pytest_cache" / "d" / "tiny-bundle")
    return cache.bundle


# -- checking a folder against the current Python ----------------------------------------------------


def _float_check(path: str, precision: str | None):
    """(kind, bound) for a float array at `path` in the index (see the module docstring)."""
    leaf = path.rsplit("/", 1)[-1]
    if path.startswith("noise"):
        return ("ulp64", 4) if "normals" in path else ("exact", 0) if "uniforms" in path else ("ulp32", 1)
    if path.startswith("chunking"):
        return ("exact", 0) if leaf in ("chunk", "pcm_in") else ("ulp32", 1)
    if path.startswith("dsp"):  # the window: numpy's float32 cos, alike on every CPU with FMA (the JVM copies it)
        return ("exact", 0) if leaf in ("signal", "window") else ("relative", 1e-5)
    if leaf == "style" or "/inputs/style" in path or "/inputs/alignment" in path or "mask" in leaf:
        return "exact", 0
    if leaf == "audio":
        return "correlation", AUDIO_CORRELATION.get(precision, 0.99)
    return "relative", STAGE_TOLERANCE.get(precision, 2e-2)


def compare(expected: Path, actual: Path, sections=None) -> tuple[list[str], dict[str, float]]:
    """Differences between two golden folders beyond the tolerances (the module docstring), and the
    worst difference seen per kind of check. sections: the ones to compare (None: all of `expected`)."""
    problems: list[str] = []
    worst: dict[str, float] = {}
    e_index = json.loads((Path(expected) / "index.json").read_text(encoding="utf-8"))
    a_index = json.loads((Path(actual) / "index.json").read_text(encoding="utf-8"))

    def note(kind: str, value: float) -> None:
        worst[kind] = max(worst.get(kind, 0.0), value)

    def arrays(path: str, e: dict, a: dict, precision: str | None) -> None:
        x, y = read_array(expected, e), read_array(actual, a)
        if x.shape != y.shape or e.get("stored") != a.get("stored"):
            problems.append(f"{path}: shape {a['shape']} (stored {a.get('stored')}), expected {e['shape']} "
                            f"(stored {e.get('stored')})")
            return
        if x.dtype.kind == "i":
            if not np.array_equal(x, y):
                problems.append(f"{path}: {int(np.sum(x != y))} of {x.size} integers differ")
            return
        kind, bound = _float_check(path, precision)
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        if kind == "exact":
            diff = float(np.max(np.abs(x64 - y64))) if x.size else 0.0
            ok = diff == 0
        elif kind in ("ulp32", "ulp64"):
            spacing = np.spacing(np.abs(x).astype(np.float32 if kind == "ulp32" else np.float64)).astype(np.float64)
            diff = float(np.max(np.abs(x64 - y64) / spacing)) if x.size else 0.0
            ok = diff <= bound
        elif kind == "correlation":
            diff = 1 - float(np.corrcoef(x64, y64)[0, 1]) if x.size > 1 and np.std(x64) > 0 else 0.0
            ok = diff <= 1 - bound
        else:
            scale = max(1.0, float(np.max(np.abs(x64)))) if x.size else 1.0
            diff = float(np.max(np.abs(x64 - y64))) / scale if x.size else 0.0
            ok = diff <= bound
        note(kind, diff)
        if not ok:
            problems.append(f"{path}: {kind} difference {diff:.3g} over the bound {bound}")

    def walk(path: str, e, a, precision: str | None) -> None:
        if isinstance(e, dict) and "file" in e and "dtype" in e:
            if not (isinstance(a, dict) and "file" in a):
                problems.append(f"{path}: an array expected, got {str(a)[:80]}")
            else:
                arrays(path, e, a, precision)
        elif isinstance(e, dict):
            precision = e.get("precision", precision)
            if not isinstance(a, dict) or set(e) != set(a):
                problems.append(f"{path}: keys {sorted(a) if isinstance(a, dict) else a!r:.200}, expected {sorted(e)}")
                return
            for k in e:
                walk(f"{path}/{k}" if path else k, e[k], a[k], precision)
        elif isinstance(e, list):
            if not isinstance(a, list) or len(a) != len(e):
                problems.append(f"{path}: {len(a) if isinstance(a, list) else a!r} items, expected {len(e)}")
                return
            for i, (x, y) in enumerate(zip(e, a)):
                item = x.get("id", x.get("text", x.get("word", i))) if isinstance(x, dict) else i
                walk(f"{path}[{str(item)[:40]!r}]" if isinstance(item, str) else f"{path}[{item}]", x, y, precision)
        elif e != a:
            problems.append(f"{path}: {a!r:.300} != expected {e!r:.300}")

    for section in e_index if sections is None else sections:
        if section in ("meta", "format", "version"):
            continue
        if section not in a_index:
            problems.append(f"{section}: not written")
            continue
        walk(section, e_index[section], a_index[section], None)
    e_bundle, a_bundle = e_index["meta"].get("bundle"), a_index["meta"].get("bundle")
    if problems and e_bundle and a_bundle and e_bundle["sha256"] != a_bundle["sha256"]:
        changed = sorted(f for f in e_bundle["sha256"] if e_bundle["sha256"][f] != a_bundle["sha256"].get(f))
        problems.append(f"(the tiny bundle's {', '.join(changed)} differ from the ones the goldens were written from: "
                        "the converter changed; if on purpose, regenerate the goldens)")
    return problems, worst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="the folder to write (tests/golden/vectors: the committed set)")
    p.add_argument("--bundles", type=Path, help="write only the pipeline vectors of this (real) bundle folder")
    p.add_argument("--check", type=Path, help="compare the current Python runtime against this golden folder")
    p.add_argument("--tiny-bundle", type=Path, help="the tiny bundle folder to use (default: the fast test layer's, "
                   "built or reused in .pytest_cache/d/tiny-bundle)")
    args = p.parse_args(argv)
    tiny = (lambda: args.tiny_bundle) if args.tiny_bundle is not None else tiny_bundle
    if args.check is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            write_goldens(Path(tmp), tiny(), tiny=True)
            problems, worst = compare(args.check, Path(tmp))
        print("worst differences: " + ", ".join(f"{k} {v:.3g}" for k, v in sorted(worst.items())))
        print("\n".join(problems) or "the current Python runtime writes these goldens (within the tolerances)")
        return 1 if problems else 0
    if args.out is None:
        p.error("pass --out DIR or --check DIR")
    if args.bundles is not None:
        print(write_goldens(args.out, args.bundles, sections=("utterances",)))
    else:
        print(write_goldens(args.out, tiny(), tiny=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
