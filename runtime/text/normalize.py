"""English text normalization: spell out numbers, symbols, units and abbreviations.

`normalize(text, lang)` rewrites text into words the lexicon can read. It is a fixed sequence of
regex passes; the order matters (dates and times before bare numbers, currency before units, ...):

    unicode cleanup -> urls/emails -> abbreviations -> ISO, numeric and month-name dates -> ranges
    -> times -> phone numbers -> fractions -> currency -> percentages -> units -> decades
    -> ordinals -> numbers -> Roman numerals -> symbols -> whitespace

Readings follow upstream misaki where it defines one (a four-digit integer is read as a year,
"$3.50" is "three dollars and fifty cents", a leading "-" is "minus", "and" is never inserted
into cardinals). Acronyms are left as written; the G2P decides whether to spell them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import regex

from . import numbers

MONTHS = (
    "January February March April May June July August September October November December"
).split()
_MONTH_ABBR = {m[:3]: m for m in MONTHS} | {"Sept": "September"}

# (singular, plural) per unit symbol; British spellings of -meter/-liter replace them for lang "b".
UNITS = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "mi": ("mile", "miles"), "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"), "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "l": ("liter", "liters"), "L": ("liter", "liters"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "km/h": ("kilometer per hour", "kilometers per hour"), "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "KB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"), "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "ms": ("millisecond", "milliseconds"), "sec": ("second", "seconds"), "min": ("minute", "minutes"),
    "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "kW": ("kilowatt", "kilowatts"), "kWh": ("kilowatt hour", "kilowatt hours"), "W": ("watt", "watts"),
    "mpg": ("mile per gallon", "miles per gallon"),
}
_UNIT_RE = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))

# Currency symbol -> (unit, plural, subunit, subunit plural).
CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
_MAGNITUDES = {"thousand": "thousand", "k": "thousand", "K": "thousand", "million": "million",
               "m": "million", "M": "million", "bn": "billion", "billion": "billion",
               "trillion": "trillion"}

# Abbreviation -> expansion. `keep_stop`: the period may also end the sentence, so it is kept
# when the abbreviation ends the text or precedes a capitalized word.
ABBREVIATIONS = {
    "Mr.": ("Mister", False), "Mrs.": ("Missus", False), "Ms.": ("Miz", False),
    "Prof.": ("Professor", False), "Gov.": ("Governor", False), "Sen.": ("Senator", False),
    "Rep.": ("Representative", False), "Gen.": ("General", False), "Capt.": ("Captain", False),
    "Lt.": ("Lieutenant", False), "Sgt.": ("Sergeant", False), "Col.": ("Colonel", False),
    "Mt.": ("Mount", False), "Fig.": ("Figure", False),
    "Jr.": ("Junior", True), "Sr.": ("Senior", True), "Ave.": ("Avenue", True), "Blvd.": ("Boulevard", True),
    "Rd.": ("Road", True), "Inc.": ("Incorporated", True), "Ltd.": ("Limited", True),
    "Corp.": ("Corporation", True), "Co.": ("Company", True), "Dept.": ("Department", True),
    "etc.": ("et cetera", True), "approx.": ("approximately", False), "vs.": ("versus", False),
    "e.g.": ("for example", False), "i.e.": ("that is", False),
}
# Roman numerals are read only where unambiguous: after one of these words (as cardinals), or
# after a capitalized name (as regnal ordinals, "Henry VIII" -> "Henry the Eighth").
ROMAN_KEYWORDS = frozenset(
    "Chapter Part Volume Vol Book Act Scene War Phase Section Article Type Class Level Stage Round "
    "Episode Season Title Appendix Psalm Grade Category Schedule Unit Bowl Rocky".split()
)
# Regnal numbers are read only after these names ("Louis XIV" -> "Louis the Fourteenth"); after
# other words a numeral may be a title's cardinal ("Final Fantasy VII"), so it is left alone.
REGNAL_NAMES = frozenset(
    "Henry Edward George William Elizabeth Charles Louis James Richard John Mary Victoria Philip "
    "Peter Frederick Alexander Nicholas Catherine Pius Benedict Gregory Leo Innocent Clement Urban "
    "Boniface Ferdinand Carlos Juan Felipe Alfonso Pedro Manuel Ludwig Wilhelm Friedrich Gustav "
    "Olaf Harald Christian Haakon Ramesses Ptolemy Constantine Napoleon Otto Rudolf Franz Leopold "
    "Albert Umberto Ivan Paul Anne Stephen Malcolm David Robert Sixtus Adrian Martin Eugene Felix "
    "Sergius Honorius Celestine Nicholas Amadeus Rama Selim Mehmed Murad Suleiman Casimir Sigismund "
    "Vladislav Wenceslaus Baldwin Bohemond Raymond Kamehameha".split()
)
# Names that follow "St." as Saint even after a capitalized word ("Mount St. Helens", "Yves St.
# Laurent"); elsewhere "St." between two capitalized words is read as Street ("Baker St. Then").
SAINT_NAMES = frozenset(
    "Agnes Albans Andrew Andrews Anne Anthony Asaph Augustine Austell Bernard Catherine Catharines "
    "Charles Christopher Clair Claire Clement Cloud Croix Cuthbert David Davids Denis Elizabeth Elmo "
    "Francis Gallen George Germain Gotthard Helena Helens Ives James Jean Joan John Johns Joseph Jude "
    "Kilda Kitts Laurent Lawrence Leger Louis Lucia Luke Maarten Malo Mark Martin Mary Marys Matthew "
    "Michael Moritz Nazaire Neots Nicholas Pancras Patrick Paul Pete Peter Petersburg Pierre Regis "
    "Thomas Tropez Valentine Vincent".split()
)
# Words before "St." that do not name a street ("in St. Kilda", "The St. Regis").
_NOT_STREET_NAMES = frozenset(
    "The A An In At On Of To From And Or For By With Near Into Onto Past Via Visit Visiting Dear".split()
)

# Fractions read as such: denominators people say ("five eighths", "seven sixteenths"); with
# other denominators "a/b" is a ratio, score or date ("24/7", "50/50", "9/11").
FRACTION_DENOMINATORS = frozenset(range(2, 11)) | {12, 16, 32, 64, 100}

_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}

SYMBOLS = {"&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "#": "number"}

_NUM = r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"  # int part (commas allowed), fraction
# A minus sign only at a token start; a number never starts after a digit (this also keeps the
# regexes linear on long digit runs).
_SIGN = r"(?:(?<![^\s(\[])([-−]))?(?<!\d)"


@dataclass
class Spanned:
    """Text being rewritten, with the (start, end) source span behind each character.

    A replaced stretch maps every new character to the whole source span it replaced, so each
    spoken word can name the source text it came from ("three" <- "$3.50")."""

    s: str
    spans: list

    @classmethod
    def of(cls, text: str) -> "Spanned":
        return cls(text, [(i, i + 1) for i in range(len(text))])

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Source span behind s[start:end]."""
        if start >= end:
            return (0, 0)
        return min(a for a, _ in self.spans[start:end]), max(b for _, b in self.spans[start:end])


def _sub(pattern, repl, text: Spanned, module=re) -> Spanned:
    """re.sub on a Spanned text. repl is a template string or a function of the match."""
    rx = module.compile(pattern) if isinstance(pattern, str) else pattern
    pieces, spans, last = [], [], 0
    for m in rx.finditer(text.s):
        new = repl(m) if callable(repl) else m.expand(repl)
        if new == m.group(0):
            continue
        start, end = m.span()
        pieces.append(text.s[last:start])
        spans.extend(text.spans[last:start])
        if end > start:
            src = text.source_span(start, end)
        else:  # zero-width match: borrow the neighbouring character's span
            if start < len(text.spans):
                near = text.spans[start][0]
            else:
                near = text.spans[-1][1] if text.spans else 0
            src = (near, near)
        pieces.append(new)
        spans.extend([src] * len(new))
        last = end
    if not pieces:
        return text
    pieces.append(text.s[last:])
    spans.extend(text.spans[last:])
    return Spanned("".join(pieces), spans)


def _spell(int_part: str, frac: str | None = None, sign: str = "", year_ok: bool = True) -> str:
    """One number as words. Four-digit integers without commas are years (upstream's rule)."""
    minus = "minus " if sign else ""
    if frac is not None:
        return minus + numbers.decimal(int_part, frac)
    plain = int_part.replace(",", "")
    if len(plain) > 1 and plain[0] == "0":
        return minus + numbers.digits(plain)
    if len(plain) > 15:
        return minus + numbers.digits(plain)
    if year_ok and not sign and len(int_part) == 4:
        return numbers.year(int(plain))
    return minus + numbers.cardinal(int(plain))


def _pad(m: re.Match, words: str) -> str:
    """Keep a converted span apart from letters glued to it ("mp3" -> "mp three")."""
    before = m.string[m.start() - 1] if m.start() > 0 else " "
    after = m.string[m.end()] if m.end() < len(m.string) else " "
    return (" " if before.isalnum() else "") + words + (" " if after.isalnum() else "")


def _sentence_stop(m: re.Match) -> str:
    """A period swallowed by an abbreviation is restored when it also ends the sentence."""
    rest = m.string[m.end():]
    return "." if not rest.strip() or re.match(r"\s+[A-Z]", rest) else ""


def _cleanup(text: Spanned) -> Spanned:
    if not unicodedata.is_normalized("NFC", text.s):
        text = _sub(r"\X", lambda m: unicodedata.normalize("NFC", m.group()), text, module=regex)
    text = _sub("[\u2018\u2019\u02bc]", "'", text)
    text = _sub(r"[\u00a0\u2000-\u200b\u202f\u205f\u3000\t\r\n]+", " ", text)
    text = _sub(r"\.{3,}", "…", text)
    text = _sub("\u2212", "-", text)  # unicode minus sign
    text = _sub(r"\s+[-–]{1,2}\s+|--|–(?![$£€]?\d)", " — ", text)  # spaced hyphen / en dash used as a dash
    return text


def _urls(text: Spanned) -> Spanned:
    def email(m):
        user, domain = m.group(1), m.group(2)
        return f"{user.replace('.', ' dot ')} at {domain.replace('.', ' dot ')}"

    text = _sub(r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b", email, text)

    def url(m):
        body = re.sub(r"^https?://|^www\.", "", m.group(0)).rstrip("/")
        return re.sub(r"\.", " dot ", body).replace("/", " slash ")

    return _sub(r"\b(?:https?://|www\.)[^\s,;!?)\"]+[^\s.,;!?)\"]", url, text)


def _abbreviations(text: Spanned) -> Spanned:
    for abbr, (word, keep_stop) in ABBREVIATIONS.items():
        pattern = r"(?<![\w.])" + re.escape(abbr)
        text = _sub(pattern, lambda m, w=word, k=keep_stop: w + (_sentence_stop(m) if k else ""), text)
    # Dr. before a name is a title, after a name Drive; St. is decided by _saint_or_street.
    text = _sub(r"\bDr\.(?=\s+[A-Z])", "Doctor", text)
    text = _sub(r"(?<=[A-Z]\w)(\w*\s+)Dr\.", lambda m: m.group(1) + "Drive" + _sentence_stop(m), text)
    text = _sub(r"\bDr\.", "Doctor", text)
    text = _sub(r"\bSt\b\.?", _saint_or_street, text)
    text = _sub(r"\b[Nn]o\.(?=\s*\d)", "number", text)
    text = _sub(r"#(?=\d)", "number ", text)
    text = _sub(r"\bpp\.(?=\s*\d)", "pages", text)
    text = _sub(r"\bp\.(?=\s*\d)", "page", text)
    return text


def _saint_or_street(m: re.Match) -> str:
    """"St." (or "St") as Saint or Street.

    Street when no capitalized word follows ("Baker St., Suite 3B", "Main St.", "Elm St is"), or
    when a street name comes before and the next word is not a saint's ("221 Baker St. Then": the
    period also ends the sentence). Saint otherwise ("St. Louis", "in St. Kilda", "Mount St. Helens")."""
    period = m.group().endswith(".")
    nxt = re.match(r"\s+([A-Z][\w'-]*)", m.string[m.end():])
    if nxt is None:
        return "Street" + (_sentence_stop(m) if period else "")
    if nxt.group(1) in SAINT_NAMES or nxt.group(1).removesuffix("'s") in SAINT_NAMES:
        return "Saint"
    before = m.string[:m.start()]
    prev = re.search(r"(\S+)\s+$", before)
    if prev is None or prev.group(1) in _NOT_STREET_NAMES:
        return "Saint"
    word, head = prev.group(1), before[:prev.start()].rstrip()
    sentence_start = not head or head[-1] in ".!?…"
    street_name = (word[:1].isupper() and word.isalpha() and not sentence_start) or bool(
        re.fullmatch(r"\d+(?:st|nd|rd|th)", word))  # "5th St. Station"
    if not street_name:
        return "Saint"
    return "Street" + ("." if period else "")


def _day(day: str) -> str:
    return numbers.ordinal(int(day))


def _dates(text: Spanned, lang: str) -> Spanned:
    def iso(m):
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return m.group(0)
        return f"{MONTHS[mo - 1]} {numbers.ordinal(d)}, {numbers.year(y)}"

    text = _sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", iso, text)
    month_re = "|".join(MONTHS + sorted(_MONTH_ABBR, key=len, reverse=True))

    def named(m):
        month = _MONTH_ABBR.get(m.group(1), m.group(1))
        out = f"{month} {_day(m.group(2))}"
        if m.group(3):
            out += f", {numbers.year(int(m.group(3)))}"
        return out

    text = _sub(
        rf"\b({month_re})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?", named, text
    )
    # An abbreviated month before a year: "Feb. 2019" -> "February 2019" (the year is read later).
    abbr_re = "|".join(sorted(_MONTH_ABBR, key=len, reverse=True))
    text = _sub(rf"\b({abbr_re})\.(?=\s+\d{{4}}\b)", lambda m: _MONTH_ABBR[m.group(1)], text)

    def numeric(m):
        # American dates are month first, British day first; where that order gives no date the
        # other one is tried ("25/12/2026" in American, "12/25/2026" in British).
        a, b, y = int(m.group(1)), int(m.group(3)), int(m.group(4))
        for month, day in ((b, a), (a, b)) if lang == "b" else ((a, b), (b, a)):
            if 1 <= month <= 12 and 1 <= day <= 31:
                return _pad(m, f"{MONTHS[month - 1]} {numbers.ordinal(day)}, {numbers.year(y)}")
        return m.group(0)

    # 10/05/2026, 10-05-2026, 10.05.2026 (four-digit years only: "1/2/3" is not a date)
    return _sub(r"(?<![\w/.,-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?![\w/]|[.,-]\d)", numeric, text)


# A range bound: a time, or a number with optional thousands commas and decimals.
_RANGE_BOUND = r"(?:\d{1,2}:\d{2}|(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"


def _ranges(text: Spanned) -> Spanned:
    """"2-3 days" -> "2 to 3 days", "1990-95", "9:00-10:30", "$10-20" -> "$10 to $20",
    "$5-10 million" -> "5 to $10 million"; the bounds are read by the later passes."""
    def rng(m):
        sym, low, sym2, high, magnitude = m.groups()
        if not sym and re.fullmatch(r"\d{3}", low) and re.fullmatch(r"\d{4}", high):
            return m.group(0)  # a local phone number, 555-1234, read by _phones
        if sym and magnitude:  # the scale belongs to both bounds: five to ten million dollars
            return f"{low} to {sym2 or sym}{high}"
        return f"{sym or ''}{low} to {sym2 or sym or ''}{high}"

    # Exactly two bounds: "555-867-5309" and "2-3-year-old" are not ranges.
    text = _sub(
        rf"(?<![\w.,:/–-])([$£€])?({_RANGE_BOUND})[-–]([$£€])?({_RANGE_BOUND})(?![\d/–-]|[.,:]\d)"
        r"(?=\s?(thousand|million|billion|trillion|bn|[kKmM])\b)?", rng, text)
    return _sub(r"(?<=\d)–(?=\d)", " to ", text)  # any other en dash between digits: 1–2–3


def _fraction_words(num: int, den: int, article: bool = False) -> str | None:
    """3, 4 -> "three quarters"; None when a/b is not read as a fraction ("24/7", "50/50").
    article: "a half" rather than "one half" (after a whole number: "one and a half")."""
    if num < 1 or den not in FRACTION_DENOMINATORS:
        return None
    if num >= den and not (den <= 4 and num < 10):  # improper only as "three halves", "five quarters"
        return None
    if den == 2:
        part = "half" if num == 1 else "halves"
    elif den == 4:
        part = "quarter" if num == 1 else "quarters"
    else:
        part = numbers.ordinal(den).removeprefix("one ") + ("" if num == 1 else "s")  # "hundredths"
    return f"{'a' if article and num == 1 else numbers.cardinal(num)} {part}"


def _fractions(text: Spanned) -> Spanned:
    def fraction(m):
        whole, num, den = m.group(1), m.group(2), m.group(3)
        if not whole and (num, den) == ("1", "2") and re.match(r"\s+an?\b", m.string[m.end():]):
            return _pad(m, "half")  # "1/2 a cup" -> "half a cup"
        words = _fraction_words(int(num), int(den), article=bool(whole))
        if words is None:  # a ratio or score: "24/7" -> "twenty-four seven"
            words = f"{_spell(num, year_ok=False)} {_spell(den, year_ok=False)}"
            return _pad(m, (f"{_spell(whole)} " if whole else "") + words)
        return _pad(m, f"{_spell(whole, year_ok=False)} and {words}" if whole else words)

    # "1/2", "3/4", "1 1/2" (a mixed number); not inside paths, dates or longer slash runs.
    return _sub(r"(?<![\w/.,])(?:(\d+) )?(\d+)/(\d+)(?![\d/]|[.,]\d)", fraction, text)


def _times(text: Spanned) -> Spanned:
    def time(m):
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour > 24 or minute > 59:
            return m.group(0)
        words = numbers.cardinal(hour)
        if minute == 0:
            words += "" if m.group(4) else " o'clock"
        elif minute < 10:
            words += f" oh {numbers.ONES[minute]}"
        else:
            words += " " + numbers.cardinal(minute)
        if m.group(3):
            words += " and " + numbers.cardinal(int(m.group(3))) + " seconds"
        if m.group(4):
            stop = _sentence_stop(m) if m.group(0).endswith(".") else ""
            words += f" {m.group(4).upper()}M" + stop
        return words

    text = _sub(
        r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([aApP])\.?\s?[mM]\b\.?)?", time, text
    )

    def hour(m):
        stop = _sentence_stop(m) if m.group(0).endswith(".") else ""
        return f"{numbers.cardinal(int(m.group(1)))} {m.group(2).upper()}M{stop}"

    return _sub(r"\b(1[0-2]|0?[1-9])\s*([aApP])\.?\s?[mM]\b\.?", hour, text)  # "9 a.m."


def _phones(text: Spanned) -> Spanned:
    def phone(m):
        groups = [g for g in m.groups() if g]
        return ", ".join(numbers.digits(g) for g in groups)

    text = _sub(
        r"(?<![\w+])(?:\+?(1)[\s.-])?\(?(\d{3})\)?[\s.-](\d{3})[\s.-](\d{4})\b", phone, text
    )
    return _sub(r"(?<![\w.,-])(\d{3})-(\d{4})\b(?![.,]?\d)", phone, text)  # local: 555-1234


def _currency(text: Spanned, lang: str) -> Spanned:
    def money(m):
        unit, units, sub, subs = CURRENCIES[m.group(2)]
        sign, int_part, frac, magnitude = m.group(1), m.group(3), m.group(4), m.group(5)
        minus = "minus " if sign else ""
        if magnitude:
            amount = _spell(int_part, frac, year_ok=False)
            return _pad(m, f"{minus}{amount} {_MAGNITUDES[magnitude]} {units}")
        if frac is not None and len(frac) > 2:
            return _pad(m, f"{minus}{_spell(int_part, frac, year_ok=False)} {units}")
        whole = int(int_part.replace(",", ""))
        cents = int((frac or "0").ljust(2, "0"))
        parts = []
        if whole or not cents:
            parts.append(f"{numbers.cardinal(whole)} {unit if whole == 1 else units}")
        if cents:
            parts.append(f"{numbers.cardinal(cents)} {sub if cents == 1 else subs}")
        return _pad(m, minus + " and ".join(parts))

    return _sub(
        r"(?:(?<![^\s(\[])([-−]))?([$£€])\s?" + _NUM
        + r"(?:\s?(thousand|million|billion|trillion|bn|[kKmM])\b)?",
        money, text,
    )


def _percent(text: Spanned) -> Spanned:
    return _sub(
        _SIGN + _NUM + r"\s?%",
        lambda m: _pad(m, _spell(m.group(2), m.group(3), m.group(1) or "", year_ok=False) + " percent"),
        text,
    )


def _units(text: Spanned, lang: str) -> Spanned:
    def unit(m):
        sign, int_part, frac, symbol = m.group(1) or "", m.group(2), m.group(3), m.group(4)
        singular, plural = UNITS[symbol]
        name = singular if int_part == "1" and frac is None and not sign else plural
        if lang == "b":
            name = name.replace("meter", "metre").replace("liter", "litre")
        stop = _sentence_stop(m) if m.group(5) else ""
        return _pad(m, f"{_spell(int_part, frac, sign, year_ok=False)} {name}{stop}")

    # A unit must end at a non-letter so "5 min" matches but "5 minutes" and "5 mice" do not. The
    # period of an abbreviated unit ("20 min. from") is kept only where it also ends the sentence.
    text = _sub(_SIGN + _NUM + r"\s?(" + _UNIT_RE + r")(?![A-Za-z])((?<=[A-Za-z])\.(?![\w.]))?",
                unit, text)

    def per(m):
        if len(m.group(2)) < 2:
            return m.group(0)  # one-letter symbols are left alone: "per m"
        singular = UNITS[m.group(2)][0]
        return m.group(1) + (singular.replace("meter", "metre").replace("liter", "litre") if lang == "b" else singular)

    # "$1.10 per lb" -> "per pound"
    return _sub(r"\b(per\s+)(" + _UNIT_RE + r")(?![\w/'-]|\.\w)", per, text)


def _decades(text: Spanned) -> Spanned:
    def decade(m):
        digits = m.group(1)
        if len(digits) == 4:
            words = numbers.year(int(digits))
        else:
            words = numbers.cardinal(int(digits))
        head, _, last = words.rpartition(" ")
        return _pad(m, (head + " " if head else "") + numbers.plural_word(last))

    text = _sub(r"(?<![\w'])'(\d0)s\b", decade, text)  # '90s
    return _sub(r"(?<![\d,.])(\d{3}0|[1-9]0)'?s\b", decade, text)  # 1990s, 80s


def _ordinals(text: Spanned) -> Spanned:
    return _sub(
        r"(?<![\d,.])(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b",
        lambda m: _pad(m, numbers.ordinal(int(m.group(1).replace(",", "")))), text,
    )


def _numbers(text: Spanned) -> Spanned:
    def number(m):
        return _pad(m, _spell(m.group(2), m.group(3), m.group(1) or ""))

    text = _sub(_SIGN + r"(?<![\d,.])" + _NUM + r"(?![\d])", number, text)
    return _sub(r"\.(\d+)\b", lambda m: _pad(m, "point " + numbers.digits(m.group(1))), text)


def roman_value(numeral: str) -> int | None:
    """Value of a well-formed Roman numeral (canonical form only), else None."""
    if not numeral or any(c not in _ROMAN for c in numeral):
        return None
    total = 0
    for c, nxt in zip(numeral, numeral[1:] + " "):
        v = _ROMAN[c]
        total += -v if nxt != " " and _ROMAN[nxt] > v else v
    return total if 0 < total < 4000 and _to_roman(total) == numeral else None


def _to_roman(n: int) -> str:
    out = ""
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                       (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += sym
            n -= value
    return out


def _roman(text: Spanned) -> Spanned:
    def keyword(m):
        # "Part D", "Appendix C": a lone L, C, D or M is a letter, not a numeral.
        value = roman_value(m.group(2)) if len(m.group(2)) > 1 or m.group(2) in "IVX" else None
        return m.group(1) + numbers.cardinal(value) if value else m.group(0)

    kw = "|".join(sorted(ROMAN_KEYWORDS))
    text = _sub(rf"\b((?:{kw})\.?\s+)([IVXLCDM]+)\b(?!['’]|\.\w)", keyword, text)

    def regnal(m):
        value = roman_value(m.group(2))
        if m.group(1) not in REGNAL_NAMES or value is None:
            return m.group(0)
        return f"{m.group(1)} the {numbers.ordinal(value).title()}"

    # Regnal numbers of two or more letters, so "Malcolm X" stays a letter.
    return _sub(r"\b([A-Z][a-z]+)\s+([IVXLC]{2,})\b(?!['’])", regnal, text)


def _symbols(text: Spanned) -> Spanned:
    text = _sub(r"(?<=\w)/(?=\w)", " slash ", text)
    for sym, word in SYMBOLS.items():
        if sym != "#":
            text = _sub(re.escape(sym), f" {word} ", text)
    return text


def normalize(text: str, lang: str = "a") -> str:
    """Spell out numbers, currency, dates, times, units, abbreviations and symbols as words."""
    return normalize_spans(text, lang).s


def normalize_spans(text: str, lang: str = "a") -> Spanned:
    """`normalize`, keeping for every output character the source span it came from."""
    text = Spanned.of(text)
    text = _cleanup(text)
    text = _urls(text)
    text = _abbreviations(text)
    text = _dates(text, lang)
    text = _ranges(text)
    text = _times(text)
    text = _phones(text)
    text = _fractions(text)
    text = _currency(text, lang)
    text = _percent(text)
    text = _units(text, lang)
    text = _decades(text)
    text = _ordinals(text)
    text = _numbers(text)
    text = _roman(text)
    text = _symbols(text)
    text = _sub(r" {2,}", " ", text)
    text = _sub(r"^ | $", "", text)
    text = _sub(r" ([,.;:!?…])", r"\1", text)
    return text
