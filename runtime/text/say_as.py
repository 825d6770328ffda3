"""SSML <say-as>: numbers, dates, telephone numbers and spelled characters as words to speak.

`say_as` returns the segments to read, the written form kept for word timings, or None where it
cannot read the content (with a warning; the caller then reads it as written).
"""

from __future__ import annotations

import re

from . import numbers
from .g2p import LANGS as ENGLISH
from .normalize import MONTHS, SYMBOLS
from .segments import Fixed, Segment, Text

SAY_AS_ALIASES = {"spell-out": "characters", "verbatim": "characters", "letters": "characters",
                  "number": "cardinal", "phone": "telephone"}
MONTH_NAMES = {
    "e": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "f": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "i": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "p": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "h": "जनवरी फ़रवरी मार्च अप्रैल मई जून जुलाई अगस्त सितंबर अक्टूबर नवंबर दिसंबर",
}
HINDI_ORDINALS = {1: "पहला", 2: "दूसरा", 3: "तीसरा", 4: "चौथा", 6: "छठा"}
# Japanese reads Latin letters by these names; its front-end passes Latin letters through unread.
JAPANESE_LETTER_NAMES = dict(zip(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "エー ビー シー ディー イー エフ ジー エイチ アイ ジェー ケー エル エム エヌ オー ピー キュー アール エス ティー "
    "ユー ブイ ダブリュー エックス ワイ ゼット".split()))
# espeak-ng reads "3º" as the ordinal in Spanish, Italian and Portuguese, and "3ème"/"1er" in French.
ORDINAL_INDICATORS = "ºª"


class _Unreadable(Exception):
    pass


def say_as(kind: str, content: str, fmt: str | None, lang: str, rate: float,
           warnings: list) -> list[Segment] | None:
    """Segments for `<say-as interpret-as=kind format=fmt>content</say-as>` in `lang`, or None (with
    a warning) where it cannot read the content.

    English: spelled out in words here (runtime/text/numbers.py), the written form kept for timings.
    Other languages (a documented best effort): cardinals are left as digits for the front-end, which
    reads numbers natively (espeak-ng; cn2an for Mandarin; num2kana for Japanese); ordinals are
    written the way each reads them (3º, 3ème/1er, 第3, Hindi's irregular words, else 5वाँ); dates
    in the language's own order with its month names (3 de marzo de 2026, 2026年3月3日); digits and
    telephone numbers one digit at a time (groups split by commas); characters one by one (Latin
    letters by their katakana names in Japanese; Mandarin passes Latin letters through unread)."""
    text = " ".join(content.split())
    if not text:
        return []
    kind = SAY_AS_ALIASES.get(kind, kind)
    english = lang in ENGLISH
    try:
        if kind == "characters":
            if english:
                return [_spell(text, lang, rate, warnings)]
            letters = [JAPANESE_LETTER_NAMES.get(c.upper(), c) if lang == "j" else c for c in text if not c.isspace()]
            return [Text(" ".join(letters), source=text, rate=rate)]
        if kind == "cardinal":
            spoken = _cardinal(text) if english else _has_digits(text)
        elif kind == "ordinal":
            spoken = _ordinal(text, lang)
        elif kind == "digits":
            spoken = numbers.digits(_has_digits(text)) if english else " ".join(c for c in text if c.isdigit())
        elif kind == "telephone":
            spoken = _telephone(text, english)
        elif kind == "date":
            spoken = _date(text, fmt, lang)
        else:
            warnings.append(f'<say-as interpret-as="{_short(kind)}"> is not supported (characters, cardinal, '
                            f"ordinal, digits, date, telephone are); {_short(text)!r} is read as written")
            return None
    except _Unreadable as e:
        warnings.append(f'<say-as interpret-as="{kind}">: {e}; read as written')
        return None
    return [Text(spoken, source=text, rate=rate)]


def _has_digits(text: str) -> str:
    if not any(c.isdigit() for c in text):
        raise _Unreadable(f"{_short(text)!r} has no digits")
    return text


def _spell(text: str, lang: str, rate: float, warnings: list) -> Segment:
    """English letters by name, digits and symbols as words, one after another."""
    from .g2p import lexicon

    lex = lexicon(lang)
    parts = []
    for c in text:
        if c.isspace():
            continue
        if c.isdigit() and c.isascii():
            ps = lex.word(numbers.ONES[int(c)])
        elif c in SYMBOLS:
            ps = lex.word(SYMBOLS[c])
        else:
            ps = lex.spell(c.upper()) if c.isalpha() else None
        if ps:
            parts.append(ps)
        else:
            warnings.append(f"<say-as characters>: no English name for {c!r}; not spoken")
    return Fixed(text, " ".join(parts), rate=rate) if parts else Text(text, rate=rate)


_NUMBER = re.compile(r"([-+−]?)\s*(\d{1,3}(?:[, ]\d{3})+|\d+)(?:\.(\d+))?")


def _cardinal(text: str) -> str:
    m = _NUMBER.fullmatch(text)
    if m is None:
        raise _Unreadable(f"{_short(text)!r} is not a number")
    sign, whole, fraction = m.groups()
    whole = re.sub("[, ]", "", whole)
    words = numbers.decimal(whole, fraction) if fraction else numbers.cardinal(int(whole))
    return ("minus " if sign in ("-", "−") else "") + words


def _ordinal(text: str, lang: str) -> str:
    m = re.fullmatch(r"(\d{1,3}(?:,\d{3})+|\d+)\s*(?:st|nd|rd|th|\.|º|ª|er|re|e|ème|°)?", text, re.IGNORECASE)
    if m is None:
        raise _Unreadable(f"{_short(text)!r} is not a number")
    n = int(m.group(1).replace(",", ""))
    if lang in ENGLISH:
        return numbers.ordinal(n)
    if lang in "eip":
        return f"{n}º"
    if lang == "f":
        return "1er" if n == 1 else f"{n}ème"
    if lang == "h":
        return HINDI_ORDINALS.get(n, f"{n}वाँ")
    return f"第{n}"  # Mandarin, Japanese


def _telephone(text: str, english: bool) -> str:
    groups = re.findall(r"\+|\d+|[^\W\d_]+", text)
    if not any(g.isdigit() for g in groups):
        raise _Unreadable(f"{_short(text)!r} has no digits")
    spoken: list[str] = []
    for g in groups:
        if g == "+":
            spoken.append("plus" if english else "+")
        elif g.isdigit():
            spoken.append(numbers.digits(g) if english else " ".join(g))
        else:
            spoken.append(g)
    out = spoken[0]
    for prev, word in zip(spoken, spoken[1:]):
        out += (" " if prev in ("plus", "+") else ", ") + word
    return out


def _date_order(fmt: str | None, parts: list[str], lang: str) -> tuple[str, list[str]]:
    """The order of day (d), month (m) and year (y) in the parts, and the parts (a run of digits
    written without separators is cut by the format's letter counts, "yyyymmdd")."""
    if fmt:
        fmt = fmt.strip().lower()
        if not fmt or any(c not in "dmy" for c in fmt):
            raise _Unreadable(f'format="{_short(fmt)}" is not an order of d, m and y')
        order = re.sub(r"(.)\1+", r"\1", fmt)
        if len(parts) == 1 and len(order) > 1 and parts[0].isdigit() and len(parts[0]) == len(fmt):
            runs = re.findall(r"d+|m+|y+", fmt)
            cuts, at = [], 0
            for run in runs:
                cuts.append(parts[0][at:at + len(run)])
                at += len(run)
            parts = cuts
        return order, parts
    if len(parts) == 3:
        if len(parts[0]) == 4:
            return "ymd", parts
        return {"a": "mdy", "z": "ymd", "j": "ymd"}.get(lang, "dmy"), parts
    if len(parts) == 2:
        if len(parts[0]) == 4:
            return "ym", parts
        if len(parts[1]) == 4:
            return "my", parts
        return ("md" if lang in "azj" else "dm"), parts
    if len(parts) == 1 and len(parts[0]) == 4 and parts[0].isdigit():
        return "y", parts
    raise _Unreadable("give a format (mdy, dmy, ymd, ...) for a date like this")


def _month(part: str, lang: str) -> int:
    if part.isdigit():
        month = int(part)
    else:
        names = [m.lower() for m in MONTHS] if lang in ENGLISH else MONTH_NAMES.get(lang, "").split()
        key = part.lower().rstrip(".")
        month = next((i + 1 for i, name in enumerate(names) if name == key or (len(key) >= 3 and name.startswith(key))),
                     0)
    if not 1 <= month <= 12:
        raise _Unreadable(f"{part!r} is not a month")
    return month


def _date(text: str, fmt: str | None, lang: str) -> str:
    parts = re.findall(r"\d+|[^\W\d_]+", text)
    order, parts = _date_order(fmt, parts, lang)
    if len(parts) != len(order):
        raise _Unreadable(f"{_short(text)!r} does not have the {len(order)} parts format {order!r} names")
    fields = dict(zip(order, parts))
    month = _month(fields["m"], lang) if "m" in fields else None
    day = year = None
    if "d" in fields:
        if not fields["d"].isdigit() or not 1 <= int(fields["d"]) <= 31:
            raise _Unreadable(f"{fields['d']!r} is not a day of the month")
        day = int(fields["d"])
    if "y" in fields:
        if not fields["y"].isdigit():
            raise _Unreadable(f"{fields['y']!r} is not a year")
        year = int(fields["y"])
    if lang in ENGLISH:  # as runtime/text/normalize.py reads dates: "March third, twenty twenty-six"
        month_day = " ".join(w for w in (MONTHS[month - 1] if month else "", numbers.ordinal(day) if day else "") if w)
        if year is None:
            return month_day
        if not month_day:
            return numbers.year(year)
        return month_day + (", " if day and month else " ") + numbers.year(year)
    if lang in "zj":
        return "".join(f"{v}{unit}" for v, unit in ((year, "年"), (month, "月"), (day, "日")) if v is not None)
    name = MONTH_NAMES[lang].split()[month - 1] if month else None
    day_text = None if day is None else ("1º" if lang in "ip" and day == 1 else "1er" if lang == "f" and day == 1
                                         else str(day))
    joiner = " de " if lang in "ep" else " "
    return joiner.join(str(v) for v in (day_text, name, year) if v is not None)


def _short(s: str, limit: int = 40) -> str:
    return s if len(s) <= limit else s[:limit] + "..."
