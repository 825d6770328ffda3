"""Intelligibility per language: the LiteRT default vs the PyTorch reference on the same phonemes, by ear.

    python tests/benchmarks/language_asr.py [--langs e,f,h,i,p,j,z] [--sentences N] [--bundles DIR]
                                            [--precision P] [--seed S] [--json FILE]

For each language, N items of its test set (tests/data/languages/{lang}.txt; the "everyday prose"
section first, in file order, then the following sections if N asks for more) are phonemized once by
this project's front-end (`kokoro_litert.runtime.text.phonemize`). The same phonemes are then spoken
by two backends through `Kokoro.stream`, which chunks them as users get them:

- `litert`: the bundle folder's `LiteRTBackend` at its default precision (int8) unless --precision;
- `torch`: upstream KModel on the fetched weights (`TorchReference`), cut into the chunks LiteRT's
  largest bucket takes (`max_phonemes`), so both speak exactly the same chunks.

Each item gets the language's next voice in turn (round robin over its voices in name order, e.g.
ef_dora em_alex em_santa ef_dora ...), the same voice for both backends. Both draw the same
excitation numbers: the seed (default 0, `Kokoro`'s, plus the chunk index) picks the project's
excitation noise (dsp/noise.py), and PyTorch's SineGen is patched to draw those same numbers
(convert/reference.py `seeded_excitation`). Phonemes, voice, speed, chunks and excitation
are the same: what differs is the conversion and quantization alone.

Whisper base (multilingual, tests/support/asr_judge.py, language forced) transcribes every audio, and the
transcripts are scored against the source text: WER for es fr it pt, CER for ja zh, and a
consonant-skeleton CER for hi (asr_judge.error_rate). Printed: a table per language (metric, LiteRT,
PyTorch, difference, sentences), the items taken, the sentences heard worst with both transcripts,
and the wall time. --json writes every sentence's phonemes, transcripts and error counts.

Needs the real weights and a converted bundle folder in the cache (`kokoro-litert fetch`,
`kokoro-litert convert`; this script never converts) and the dev, zh and ja extras.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kokoro_litert.runtime.text import PhonemizeResult

BENCHMARKS_DIR = Path(__file__).resolve().parent
TESTS_DIR = BENCHMARKS_DIR.parent
sys.path.insert(0, str(TESTS_DIR))  # support

LANGUAGES = ("e", "f", "h", "i", "p", "j", "z")
"""Kokoro's languages other than English, by Kokoro code (English has its own judge runs)."""
TEST_SET_DIR = TESTS_DIR / "data" / "languages"
PREFERRED_SECTION = "everyday prose"
DEFAULT_SENTENCES = 20
DEFAULT_SEED = 0  # what Kokoro.create uses when a caller gives none
WORST_SHOWN = 3  # sentences per language listed with their transcripts
BACKENDS = ("litert", "torch")


# --- what is spoken ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One line of a language's test set."""

    id: str
    """"{lang}.txt:{line number}", 1-based, so a reader can find the line."""
    section: str
    """The "# " heading the line sits under, e.g. "everyday prose"."""
    text: str


def items_path(lang: str) -> Path:
    return TEST_SET_DIR / f"{lang}.txt"


def load_items(lang: str) -> list[Item]:
    """Every item of the language's test set in file order ("# " lines are headings and comments)."""
    path = items_path(lang)
    items, section = [], ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("# "):
            section = line[2:].strip()
        elif line.strip():
            items.append(Item(f"{path.name}:{number}", section, line.strip()))
    return items


def pick_items(lang: str, count: int) -> list[Item]:
    """`count` items: the everyday-prose section first, then the other sections, each in file order."""
    items = load_items(lang)
    preferred = [i for i in items if i.section == PREFERRED_SECTION]
    picked = (preferred + [i for i in items if i.section != PREFERRED_SECTION])[:count]
    if len(picked) < count:
        raise ValueError(f"{items_path(lang)} has {len(items)} items, {count} asked for")
    return picked


def language_voices(lang: str, voices_dir: Path) -> list[str]:
    """The language's voices in name order: the names that start with its code (ef_dora, em_alex, ...)."""
    from kokoro_litert.runtime.voices import list_voices

    names = sorted(v for v in list_voices(voices_dir) if v.startswith(lang) and v[1:2] in ("f", "m"))
    if not names:
        raise FileNotFoundError(f"no voices of language {lang!r} in {voices_dir}; run `kokoro-litert fetch`")
    return names


@dataclass
class Case:
    """An item, the voice that says it, and the phonemes both backends get."""

    lang: str
    item: Item
    voice: str
    phonemized: PhonemizeResult
    """`phonemize(item.text, lang)`: phonemes, words, breaks, warnings."""

    @property
    def phonemes(self) -> str:
        return self.phonemized.phonemes


def make_cases(lang: str, count: int, voices: list[str]) -> list[Case]:
    """`count` items of the language, phonemized once, the voices taken in turn."""
    from kokoro_litert.runtime.text import phonemize

    return [Case(lang, item, voices[i % len(voices)], phonemize(item.text, lang))
            for i, item in enumerate(pick_items(lang, count))]


# --- who speaks it ----------------------------------------------------------------------------------


class PinnedReference:
    """`TorchReference` as a `Kokoro` backend that chunks as another backend does and draws, for a
    seed, the excitation numbers LiteRT draws for it."""

    def __init__(self, reference, max_phonemes: int):
        self.reference = reference
        self.max_phonemes = max_phonemes
        """The LiteRT ladder's: Kokoro cuts a text at the same places for both backends."""

    def synthesize(self, phonemes: str, voice_pack: np.ndarray, speed: float = 1.0, seed: int = 0):
        from kokoro_litert.convert.reference import seeded_excitation

        with seeded_excitation(seed):
            return self.reference.synthesize(phonemes, voice_pack, speed)


def speakers(litert_backend, reference, voices_dir: Path) -> dict:
    """{"litert": Kokoro, "torch": Kokoro} over the same voice folder, chunking alike."""
    from kokoro_litert.runtime.api import Kokoro

    return {"litert": Kokoro(litert_backend, voices_dir),
            "torch": Kokoro(PinnedReference(reference, litert_backend.max_phonemes), voices_dir)}


@dataclass
class Spoken:
    audio: np.ndarray
    """float32, 24 kHz, the chunks and the pauses between them."""
    chunks: list[str]
    """The phonemes of each chunk synthesized."""
    seconds: float
    """Wall time of the synthesis."""


def speak(kokoro, case: Case, seed: int) -> Spoken:
    start = time.perf_counter()
    chunks = list(kokoro.stream(case.phonemized, voice=case.voice, seed=seed, first_chunk=None))
    audio = np.concatenate([c.audio for c in chunks]) if chunks else np.zeros(0, np.float32)
    return Spoken(audio, [c.phonemes for c in chunks], time.perf_counter() - start)


# --- how it is heard --------------------------------------------------------------------------------


@dataclass
class Heard:
    """One backend's audio of one sentence, as the judge heard it."""

    transcript: str
    errors: float
    """Edits (words or characters) between the normalized source text and transcript."""
    units: int
    """Words or characters of the normalized source text: error rate = errors / units."""
    chunks: int
    synthesis_s: float
    judge_s: float

    @property
    def rate(self) -> float:
        return self.errors / self.units


def reference_units(text: str, lang: str) -> int:
    """What `asr_judge.error_rate` divides by for this one text: words, or characters without spaces."""
    from support import asr_judge

    normalized = asr_judge.normalize_for(text, lang)
    return len(normalized.replace(" ", "")) if asr_judge.error_metric(lang) == "CER" else len(normalized.split())


def hear(spoken: Spoken, case: Case) -> Heard:
    from support import asr_judge

    from kokoro_litert.buckets import SAMPLE_RATE

    start = time.perf_counter()
    transcript = asr_judge.transcribe(spoken.audio, SAMPLE_RATE, case.lang)
    judge_s = time.perf_counter() - start
    units = reference_units(case.item.text, case.lang)
    errors = round(asr_judge.error_rate([case.item.text], [transcript], case.lang) * units, 6)
    return Heard(transcript, errors, units, len(spoken.chunks), spoken.seconds, judge_s)


@dataclass
class SentenceResult:
    id: str
    text: str
    voice: str
    phonemes: str
    heard: dict[str, Heard]
    """backend name -> what the judge heard."""
    same_chunks: bool
    """Both backends synthesized the same chunks (LiteRT splits a chunk whose frames overflow its
    largest bucket; PyTorch never has to)."""


@dataclass
class LanguageResult:
    lang: str
    metric: str
    """"WER" or "CER" (asr_judge.error_metric)."""
    sentences: list[SentenceResult] = field(default_factory=list)

    def rate(self, backend: str) -> float:
        """Corpus error rate: all edits / all reference units (what asr_judge.error_rate computes)."""
        heard = [s.heard[backend] for s in self.sentences]
        return sum(h.errors for h in heard) / sum(h.units for h in heard)


def measure_language(cases: list[Case], kokoros: dict, seed: int, log=None) -> LanguageResult:
    """Speak every case with every backend and judge it."""
    from support import asr_judge

    result = LanguageResult(cases[0].lang, asr_judge.error_metric(cases[0].lang))
    for n, case in enumerate(cases, 1):
        spoken = {name: speak(kokoros[name], case, seed) for name in BACKENDS}
        heard = {name: hear(spoken[name], case) for name in BACKENDS}
        result.sentences.append(SentenceResult(case.item.id, case.item.text, case.voice, case.phonemes, heard,
                                               spoken["litert"].chunks == spoken["torch"].chunks))
        if log:
            log(f"[{case.lang} {n}/{len(cases)}] {case.item.id} {case.voice}: "
                + "  ".join(f"{name} {heard[name].rate:.0%}" for name in BACKENDS))
    return result


# --- report -----------------------------------------------------------------------------------------


def table(results: list[LanguageResult], precision: str) -> str:
    lines = [f"{'language':<10}{'metric':<8}{f'LiteRT {precision}':>13}{'PyTorch':>10}{'diff':>9}{'sentences':>11}"]
    for r in results:
        litert, torch = r.rate("litert"), r.rate("torch")
        lines.append(f"{r.lang:<10}{r.metric:<8}{litert:>13.1%}{torch:>10.1%}{litert - torch:>+9.1%}"
                     f"{len(r.sentences):>11}")
    return "\n".join(lines)


def items_taken(results: list[LanguageResult]) -> str:
    lines = []
    for r in results:
        lines.append(f"  {r.lang}: " + " ".join(s.id.split(":")[1] for s in r.sentences)
                     + f"  (line numbers in {items_path(r.lang).name}; voices "
                     + " ".join(dict.fromkeys(s.voice for s in r.sentences)) + ")")
    return "\n".join(lines)


def worst_sentences(result: LanguageResult, count: int = WORST_SHOWN) -> str:
    """The sentences either backend was heard worst on, with both transcripts."""
    ranked = sorted(result.sentences, key=lambda s: -max(s.heard[b].rate for b in BACKENDS))
    lines = []
    for s in ranked[:count]:
        if max(s.heard[b].rate for b in BACKENDS) == 0:
            break
        lines.append(f"  {s.id} {s.voice}: {s.text}")
        for b in BACKENDS:
            lines.append(f"      {b:<7}{s.heard[b].rate:>6.0%}  {s.heard[b].transcript}")
    return "\n".join(lines) or "  (every sentence heard without an error)"


def report(results: list[LanguageResult], precision: str, seed: int, wall_s: float) -> str:
    parts = [table(results, precision), "", "items taken:", items_taken(results), ""]
    for r in results:
        parts += [f"worst heard, {r.lang} ({r.metric}):", worst_sentences(r)]
        split = [s.id for s in r.sentences if not s.same_chunks]
        if split:
            parts.append(f"  LiteRT split more chunks than PyTorch on: {', '.join(split)}")
    timing = {b: sum(s.heard[b].synthesis_s for r in results for s in r.sentences) for b in BACKENDS}
    judge = sum(s.heard[b].judge_s for r in results for s in r.sentences for b in BACKENDS)
    parts += ["", f"seed {seed}; synthesis: LiteRT {timing['litert']:.0f} s, PyTorch {timing['torch']:.0f} s; "
                  f"judge {judge:.0f} s; wall time {wall_s:.0f} s ({wall_s / 60:.1f} min)"]
    return "\n".join(parts)


def to_json(results: list[LanguageResult], meta: dict) -> dict:
    return {**meta, "languages": {
        r.lang: {"metric": r.metric, "litert": r.rate("litert"), "torch": r.rate("torch"),
                 "sentences": [{**asdict(s), "heard": {b: {**asdict(h), "rate": h.rate} for b, h in s.heard.items()}}
                               for s in r.sentences]}
        for r in results}}


# --- the run ----------------------------------------------------------------------------------------


def default_bundles(cache: Path) -> Path:
    from kokoro_litert.buckets.ladder import DEFAULT_LADDER
    from kokoro_litert.convert.export import cache_key, checkpoint_sha256

    return cache / "bundles" / cache_key(checkpoint_sha256(cache / "weights"), DEFAULT_LADDER)


def parse_langs(text: str) -> list[str]:
    langs = [code.strip() for code in text.split(",") if code.strip()]
    unknown = [code for code in langs if code not in LANGUAGES]
    if unknown or not langs:
        raise argparse.ArgumentTypeError(f"languages are Kokoro codes among {','.join(LANGUAGES)}; got {text!r}")
    return langs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--langs", type=parse_langs, default=list(LANGUAGES),
                        help=f"Kokoro codes, comma-separated (default: {','.join(LANGUAGES)})")
    parser.add_argument("--sentences", type=int, default=DEFAULT_SENTENCES, help="items per language")
    parser.add_argument("--bundles", type=Path, help="a bundle folder (default: the cache's, default ladder)")
    parser.add_argument("--precision", help="LiteRT precision (default: the bundle's default, int8)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="excitation seed, the same for both")
    parser.add_argument("--json", type=Path, help="write every sentence's phonemes, transcripts and errors here")
    args = parser.parse_args(argv)
    if args.sentences < 1:
        parser.error("--sentences must be at least 1")

    start = time.perf_counter()
    from kokoro_litert.convert.reference import TorchReference
    from kokoro_litert.runtime.cache import cache_root
    from kokoro_litert.runtime.errors import KokoroError
    from kokoro_litert.runtime.litert import LiteRTBackend

    cache = cache_root()
    bundles = args.bundles or default_bundles(cache)
    if not (bundles / "manifest.json").is_file():  # a conversion takes many minutes: never start one from here
        raise KokoroError(f"No bundle folder at {bundles}.",
                          "Run `kokoro-litert convert` first, or pass --bundles DIR.")
    litert = LiteRTBackend(bundles, precision=args.precision)
    kokoros = speakers(litert, TorchReference(cache / "weights"), cache / "voices")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    log(f"bundles {bundles}, LiteRT {litert.precision}; models loaded in {time.perf_counter() - start:.0f} s")

    results = []
    for lang in args.langs:
        cases = make_cases(lang, args.sentences, language_voices(lang, cache / "voices"))
        results.append(measure_language(cases, kokoros, args.seed, log))
    wall_s = time.perf_counter() - start

    print(report(results, litert.precision, args.seed, wall_s))
    if args.json:
        meta = {"command": " ".join(sys.argv), "wall_s": round(wall_s, 1), "bundles": str(bundles),
                "precision": litert.precision, "seed": args.seed,
                "judge": "whisper base (multilingual), faster-whisper int8, beam 5, temperature 0, language forced"}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(results, meta), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
