"""Markup in the text to speak: pronunciations, pauses, speaking rate and an SSML subset.

`parse(text, lang, lexicon)` cuts the text into segments (runtime/text/segments.py) that
`phonemize` (runtime/text/__init__.py) hands to the language's front-end; `read_segments` joins the
pieces for the languages other than English, whose G2P reads segments itself (so its context rules
see across them). Text without markup is one plain segment and is read exactly as before.

Inline, in any text:

- ``[word](/phonemes/)``: the word spoken with these phonemes, in Kokoro's alphabet (as hexgrad/kokoro
  reads it); timings keep the written word. A symbol outside the alphabet: a warning naming it, and
  the word read normally. English also takes hexgrad/kokoro's stress changes ``[word](-1)``,
  ``[word](+2)``, ``[word](0.5)``. Any other link target (a URL) is not spoken, with a warning.
- ``[pause:0.5s]``, ``[pause:500ms]``, ``[pause:2]`` (seconds): silence, at most MAX_PAUSE seconds
  (runtime/text/segments.py); pauses in a row add up, to the same bound.

SSML, when the text starts with ``<speak`` (after whitespace and an optional ``<?xml ...?>``):

- ``<break time="500ms"/>`` or ``time="1.5s"``; ``strength=`` as BREAK_STRENGTHS (``none``: no break);
  neither: ``medium``.
- ``<sub alias="World Wide Web Consortium">W3C</sub>``: the alias spoken, "W3C" in timings.
- ``<phoneme alphabet="ipa" ph="...">word</phoneme>``: IPA mapped to Kokoro's symbols
  (runtime/text/ipa.py); a symbol it cannot map: a warning naming it, the word read normally. Alphabets
  ``x-kokoro``/``kokoro``/``x-misaki``/``misaki`` take Kokoro's own symbols as they are.
- ``<say-as interpret-as="...">``: ``characters`` (also ``spell-out``, ``verbatim``, ``letters``),
  ``cardinal`` (``number``), ``ordinal``, ``digits``, ``date`` (``format`` = an order of d, m, y such
  as ``mdy``, ``dmy``, ``ymd``, ``md``, ``ym``, ``y``; ``yyyymmdd`` style too), ``telephone``.
  English is spelled out in words; for the other languages see runtime/text/say_as.py.
- ``<prosody rate="slow">``: ``x-slow``..``x-fast`` (PROSODY_RATES), a percentage (``80%``, ``+20%``,
  ``-10%``) or a multiplier (``1.2``); nested ones multiply; the product is kept within the API's
  speed range (runtime/checks.py). Becomes a `Rate` with breaks at its edges. Other prosody
  attributes (pitch, volume) are not supported: a warning, the text spoken.
- ``<p>``, ``<s>``: sentence ends (a `Break` with the usual sentence pause); a sentence that does not
  end in a punctuation mark gets a period, so it is spoken with a sentence's final intonation.
- Any other tag: its text spoken, a warning (``mark``, ``desc``, ``meta``, ``metadata`` and
  ``lexicon`` hold nothing to speak: ignored, with a warning).
- Inline markup works inside SSML text too.
- Malformed SSML (not XML, unclosed tags, too deeply nested, a DTD): a warning and the text spoken
  with its tags removed; bad attribute values: a warning and the tag's text spoken as if the tag
  were absent.
"""

from __future__ import annotations

import html.entities
import html.parser
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable

from .g2p import KOKORO_VOCAB, LANGS as ENGLISH, PhonemizeResult, Rate, Word, dedupe_warnings, settle
from .ipa import ipa_to_kokoro
from .say_as import say_as
from .segments import MAX_PAUSE, Fixed, Pause, Segment, Stressed, Text

BREAK_STRENGTHS = {"x-weak": 0.1, "weak": 0.25, "medium": 0.5, "strong": 0.8, "x-strong": 1.2}
"""Seconds of silence per SSML break strength ("none" adds no break). A sentence end inserts 0.2 s
(runtime/api.py), so "strong" is a clearly longer stop and "x-strong" a paragraph."""
PROSODY_RATES = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.6}
"""Speaking rate per SSML rate keyword, times the call's speed."""
MAX_DEPTH = 64
"""SSML nested deeper than this is treated as malformed."""
KOKORO_ALPHABETS = ("x-kokoro", "kokoro", "x-misaki", "misaki")
# SSML tags without speech in them: ignored (with a warning).
SILENT_TAGS = frozenset({"mark", "desc", "meta", "metadata", "lexicon"})

_INLINE = re.compile(
    r"\[pause:\s*(?P<amount>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|secs?|seconds?)?\s*\]"
    r"|(?P<bad_pause>\[pause:[^\[\]]*\])"
    # hexgrad/kokoro's link: [text](target)
    r"|\[(?P<word>[^\[\]]+)\]\((?P<target>[^()]*)\)",
    re.IGNORECASE)
_SPEAK = re.compile(r"\s*(?:<\?xml[^>]*\?>\s*)?<speak[\s>/]", re.IGNORECASE)
_STRESS_TARGET = re.compile(r"[-+]?\d+|[-+]?0\.5")
_TIME = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?\s*", re.IGNORECASE)
_PERCENT = re.compile(r"\s*([-+]?)(\d+(?:\.\d*)?|\.\d+)\s*%\s*")
_MULTIPLIER = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*")


@dataclass
class Parsed:
    """What `parse` found in a text."""

    segments: list = field(default_factory=list)
    """`Text`, `Fixed`, `Stressed` and `Pause` segments in reading order."""
    warnings: list = field(default_factory=list)
    """Markup that was malformed, unsupported or ignored."""

    def plain(self, text: str) -> bool:
        """True when nothing in `text` was markup or a lexicon word: read it as before."""
        return not self.warnings and all(isinstance(s, Text) and s.source is None and s.rate == 1.0
                                         for s in self.segments) and "".join(s.text for s in self.segments) == text


def parse(text: str, lang: str, lexicon=None) -> Parsed:
    """The segments of `text` read in `lang` (a Kokoro code): SSML when it starts with <speak>,
    else inline markup; then the user lexicon's text matches (`UserLexicon.find`) as fixed words."""
    parsed = Parsed()
    if _SPEAK.match(text):
        segments = _SsmlReader(lang, parsed.warnings).read(text)
    else:
        segments = inline(text, lang, parsed.warnings)
    segments = _merge_pauses(_merge_texts(segments), parsed.warnings)
    if lexicon is not None and len(lexicon):
        segments = _apply_lexicon(segments, lexicon, lang)
    parsed.segments = segments
    parsed.warnings = dedupe_warnings(parsed.warnings)
    return parsed


# -- inline markup --------------------------------------------------------------------------------


def inline(text: str, lang: str, warnings: list, rate: float = 1.0) -> list[Segment]:
    """Segments of a text with inline markup (pauses, [word](target) links)."""
    out: list[Segment] = []
    last = 0
    for m in _INLINE.finditer(text):
        if m.start() > last:
            out.append(Text(text[last:m.start()], rate=rate))
        last = m.end()
        if m.group("amount") is not None:
            out.append(Pause(_seconds(float(m.group("amount")), (m.group("unit") or "s").lower(), m.group(), warnings)))
        elif m.group("bad_pause") is not None:
            warnings.append(f"{m.group()!r} is not a pause length (write e.g. [pause:0.5s] or [pause:500ms]); "
                            "read as written")
            out.append(Text(m.group(), rate=rate))
        else:
            out.append(_link(m.group("word"), m.group("target").strip(), lang, rate, warnings))
    if last < len(text):
        out.append(Text(text[last:], rate=rate))
    return out


MAX_MARK_CHARS = 200
"""An opened inline mark not closed within this many characters is taken as plain brackets."""
# The beginning of an inline mark that has not ended yet: "[word", "[word]", "[word](/phon", "[pause:0.".
_UNFINISHED = re.compile(r"\[[^\[\]]*$|\[(?!pause:)[^\[\]]+\]$|\[[^\[\]]+\]\([^()]*$", re.IGNORECASE)


def unfinished_mark(text: str) -> int | None:
    """Where an inline mark starts that `text` does not finish yet, else None: a stream of text
    arriving in pieces holds back what follows this offset until more text comes (cutting a mark in
    two would read it as plain text; its phonemes may hold a "." or ","). Opened brackets more than
    MAX_MARK_CHARS from the end are not a mark in progress."""
    m = _UNFINISHED.search(text, max(0, len(text) - MAX_MARK_CHARS))
    return m.start() if m else None


def _seconds(amount: float, unit: str, written: str, warnings: list) -> float:
    seconds = amount / 1000 if unit == "ms" else amount
    if seconds > MAX_PAUSE:
        warnings.append(f"the pause {_short(written)!r} is longer than {MAX_PAUSE:g} s; it was cut to {MAX_PAUSE:g} s")
        return MAX_PAUSE
    return seconds


def _link(word: str, target: str, lang: str, rate: float, warnings: list) -> Segment:
    """hexgrad/kokoro's [word](target): /phonemes/, a stress change, or (not supported) #flags#."""
    if len(target) > 1 and target[0] == "/" and target[-1] == "/":
        phonemes = checked_phonemes(target.strip("/").strip(), word, lang, warnings)
        return Fixed(word, phonemes, rate=rate) if phonemes else Text(word, rate=rate)
    if _STRESS_TARGET.fullmatch(target):
        if lang in ENGLISH:
            return Stressed(word, float(target), rate)
        warnings.append(f"stress changes like [{word}]({target}) work in English only; {word!r} is read normally")
    elif len(target) > 1 and target[0] == "#" and target[-1] == "#":
        warnings.append(f"number flags like [{word}]({target}) are not supported; {word!r} is read normally")
    else:
        warnings.append(f"the link target of [{word}]({_short(target)}) is not spoken: only [word](/phonemes/) "
                        "gives a pronunciation")
    return Text(word, rate=rate)


def checked_phonemes(phonemes: str, word: str, lang: str, warnings: list) -> str | None:
    """`phonemes` if Kokoro can speak them, else None with a warning naming what is wrong."""
    bad = "".join(sorted({c for c in phonemes if c not in KOKORO_VOCAB}))
    if bad:
        mapped, unmapped, _ = ipa_to_kokoro(phonemes, lang)
        hint = f" (if that is IPA, Kokoro's symbols would be /{mapped}/)" if mapped and not unmapped else ""
        warnings.append(f"unknown phoneme symbols {bad!r} in the pronunciation /{_short(phonemes)}/ of {word!r}"
                        f"{hint}; {word!r} is read normally")
        return None
    if all(c in SOUNDLESS for c in phonemes):
        warnings.append(f"the pronunciation /{phonemes}/ of {word!r} has no sounds in it; {word!r} is read normally")
        return None
    return phonemes


# Kokoro symbols that are not sounds of their own: punctuation, space, stress, length, tones.
SOUNDLESS = frozenset(';:,.!?—…"()“” ˈˌːʰʲ↓→↗↘\u0303')


def _short(s: str, limit: int = 40) -> str:
    return s if len(s) <= limit else s[:limit] + "..."


# -- SSML -----------------------------------------------------------------------------------------


class _Malformed(Exception):
    pass


class _TagStripper(html.parser.HTMLParser):
    """The text of markup that is not well-formed XML: tags removed (each leaves a space, so words
    on either side stay apart), character references resolved."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)

    def handle_starttag(self, tag, attrs):
        self.parts.append(" ")

    def handle_endtag(self, tag):
        self.parts.append(" ")


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


class _SsmlReader:
    """Walks an SSML tree into segments, collecting warnings."""

    def __init__(self, lang: str, warnings: list):
        self.lang = lang
        self.warnings = warnings
        self.segments: list[Segment] = []

    def read(self, text: str) -> list[Segment]:
        try:
            if re.search(r"<!(?:DOCTYPE|ENTITY)", text, re.IGNORECASE):
                raise _Malformed("a DTD or entity declaration, which is not allowed")
            try:
                root = ET.fromstring(_html_entities_resolved(text.strip()))
            except ET.ParseError as e:
                raise _Malformed(str(e)) from None
            if _local(root.tag) != "speak":
                raise _Malformed(f"the root element is <{_local(root.tag)}>, not <speak>")
            self.element(root, 1.0, 0)
            return self.segments
        except _Malformed as e:
            self.warnings.append(f"malformed SSML ({_short(str(e), 120)}): its tags were removed and its text "
                                 "is spoken as written")
            return inline(_without_tags(text, self.warnings), self.lang, self.warnings)

    # -- the walk

    def text(self, s: str | None, rate: float) -> None:
        if s:
            self.segments += inline(s, self.lang, self.warnings, rate)

    def children(self, el, rate: float, depth: int) -> None:
        self.text(el.text, rate)
        for child in el:
            self.element(child, rate, depth + 1)
            self.text(child.tail, rate)

    def element(self, el, rate: float, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _Malformed(f"tags nested more than {MAX_DEPTH} deep")
        tag = _local(el.tag)
        handler = {"speak": self.children, "p": self.sentence, "s": self.sentence, "break": self.pause,
                   "sub": self.sub, "phoneme": self.phoneme, "say-as": self.say_as,
                   "prosody": self.prosody}.get(tag)
        if handler is not None:
            handler(el, rate, depth)
        elif tag in SILENT_TAGS:
            self.warnings.append(f"<{tag}> is not supported; ignored")
        else:
            self.warnings.append(f"<{_short(tag)}> is not supported; its text is spoken as usual")
            self.children(el, rate, depth)

    def sentence(self, el, rate: float, depth: int) -> None:
        self.end_sentence()
        self.children(el, rate, depth)
        self.end_sentence()

    def end_sentence(self) -> None:
        """A sentence end here: a period if the text before has no closing mark, then a break."""
        spoken = next((s for s in reversed(self.segments) if not isinstance(s, Pause) and s.text.strip()), None)
        if spoken is None:
            return
        last = spoken.text.rstrip()[-1]
        if isinstance(spoken, (Fixed, Stressed)) or not unicodedata.category(last).startswith(("P", "S")):
            self.segments.append(Text(".", rate=spoken.rate))
        self.segments.append(Pause(None))

    def pause(self, el, rate: float, depth: int) -> None:
        time, strength = el.get("time"), el.get("strength")
        seconds = None
        if time is not None:
            m = _TIME.fullmatch(time)
            if m is None:
                self.warnings.append(f'<break time="{_short(time)}"> is not a time (write e.g. "500ms" or "1.5s"); '
                                     "a medium break is used")
            else:
                if m.group(2) is None:
                    self.warnings.append(f'<break time="{_short(time)}"> has no unit; read as seconds')
                seconds = _seconds(float(m.group(1)), (m.group(2) or "s").lower(), time, self.warnings)
        no_break = False
        if seconds is None and strength is not None:
            strength = strength.strip().lower()
            if strength == "none":
                no_break = True
            elif strength in BREAK_STRENGTHS:
                seconds = BREAK_STRENGTHS[strength]
            else:
                self.warnings.append(f'<break strength="{_short(strength)}"> is not one of none, '
                                     f'{", ".join(BREAK_STRENGTHS)}; a medium break is used')
        if not no_break:
            self.segments.append(Pause(BREAK_STRENGTHS["medium"] if seconds is None else seconds))
        self.children(el, rate, depth)  # a break holds no text; if it does, it is spoken

    def sub(self, el, rate: float, depth: int) -> None:
        alias = el.get("alias")
        written = " ".join("".join(el.itertext()).split())
        if alias is None or not alias.strip():
            self.warnings.append(f"<sub> without an alias; {_short(written)!r} is read as written")
            self.children(el, rate, depth)
            return
        if len(el):
            self.warnings.append("tags inside <sub> are ignored")
        self.segments += inline(alias, self.lang, self.warnings, rate) if not written else \
            [Text(alias, source=written, rate=rate)]

    def phoneme(self, el, rate: float, depth: int) -> None:
        ph = el.get("ph")
        alphabet = (el.get("alphabet") or "ipa").strip().lower()
        written = " ".join("".join(el.itertext()).split())
        phonemes = None
        if ph is None or not ph.strip():
            self.warnings.append(f"<phoneme> without ph; {_short(written)!r} is read normally")
        elif alphabet == "ipa":
            mapped, unmapped, dropped = ipa_to_kokoro(ph, self.lang)
            if unmapped:
                self.warnings.append(f"IPA symbols with no Kokoro equivalent {unmapped!r} in ph=\"{_short(ph)}\"; "
                                     f"{_short(written)!r} is read normally")
            else:
                if dropped:
                    self.warnings.append(f"IPA marks Kokoro has no symbol for were left out of ph=\"{_short(ph)}\": "
                                         f"{dropped!r}")
                phonemes = checked_phonemes(mapped, written, self.lang, self.warnings)
        elif alphabet in KOKORO_ALPHABETS:
            phonemes = checked_phonemes(ph.strip(), written, self.lang, self.warnings)
        else:
            self.warnings.append(f'<phoneme alphabet="{_short(alphabet)}"> is not supported (use "ipa" or '
                                 f'"x-kokoro"); {_short(written)!r} is read normally')
        if phonemes is None:
            self.children(el, rate, depth)
        else:
            self.segments.append(Fixed(written, phonemes, rate=rate))

    def say_as(self, el, rate: float, depth: int) -> None:
        if len(el):
            self.warnings.append("tags inside <say-as> are ignored")
        kind = (el.get("interpret-as") or "").strip().lower()
        written = "".join(el.itertext())
        read = say_as(kind, written, el.get("format"), self.lang, rate, self.warnings)
        self.segments += inline(" ".join(written.split()), self.lang, self.warnings, rate) if read is None else read

    def prosody(self, el, rate: float, depth: int) -> None:
        others = sorted(a for a in el.attrib if _local(a) != "rate")
        if others:
            self.warnings.append(f"<prosody {' '.join(_local(a) for a in others)}> is not supported; "
                                 "the text is spoken as usual")
        value = el.get("rate")
        factor = 1.0 if value is None else _rate_factor(value)
        if factor is None:
            self.warnings.append(f'<prosody rate="{_short(value)}"> is not a rate (use x-slow..x-fast, a percentage '
                                 'such as "80%" or "+20%", or a multiplier such as "1.2"); the text is spoken as usual')
            factor = 1.0
        self.children(el, _within_speeds(rate * factor, value, self.warnings), depth)


_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})


def _html_entities_resolved(text: str) -> str:
    """HTML's named character references (&nbsp; &eacute; ...) replaced by their characters, which XML
    does not define; XML's own five are left for the parser."""
    def resolve(m):
        name = m.group(1)
        value = html.entities.html5.get(name + ";")
        if name in XML_ENTITIES or value is None or any(c in "<&" for c in value):
            return m.group()
        return value

    return _ENTITY.sub(resolve, text)


def _without_tags(text: str, warnings: list) -> str:
    stripper = _TagStripper()
    try:
        stripper.feed(text)
        stripper.close()
    except Exception as e:  # html.parser gives up on some declarations; the input is then read whole
        warnings.append(f"the markup could not be read at all ({type(e).__name__}); the whole input is read as text")
        return text
    return "".join(stripper.parts)


def _rate_factor(value: str) -> float | None:
    keyword = value.strip().lower()
    if keyword in PROSODY_RATES:
        return PROSODY_RATES[keyword]
    m = _PERCENT.fullmatch(value)
    if m:
        amount = float(m.group(2)) / 100
        return {"+": 1 + amount, "-": 1 - amount}.get(m.group(1), amount)
    m = _MULTIPLIER.fullmatch(value)
    return float(m.group(1)) if m else None


def _within_speeds(factor: float, written, warnings: list) -> float:
    """A rate kept within the speeds Kokoro speaks well at the call's default speed (1.0); the API
    narrows it for the call's own speed (`limit_rates`)."""
    from ..checks import SPEED_MAX, SPEED_MIN  # runtime.checks imports this package: import at use

    kept = min(max(factor, SPEED_MIN), SPEED_MAX)
    if kept != factor:
        warnings.append(f'<prosody rate="{_short(str(written))}"> asks for {factor:g}x speed; kept to {kept:g}x '
                        f"(the speed range is {SPEED_MIN:g} to {SPEED_MAX:g})")
    return kept


def limit_rates(rates: list[Rate], speed: float) -> tuple[list[Rate], list[str]]:
    """The rates with `factor * speed` kept within runtime/checks.py's speed range, and a warning
    per rate changed: what the API calls with the call's speed before synthesis."""
    from ..checks import SPEED_MAX, SPEED_MIN

    kept, warnings = [], []
    for r in rates:
        factor = min(max(r.factor, SPEED_MIN / speed), SPEED_MAX / speed)
        if abs(factor - r.factor) > 1e-9:
            warnings.append(f"a prosody rate of {r.factor:g}x at speed {speed:g} would speak at {r.factor * speed:g}x; "
                            f"kept to {factor * speed:g}x (the speed range is {SPEED_MIN:g} to {SPEED_MAX:g})")
        kept.append(Rate(r.start, r.end, factor))
    return kept, warnings


# -- segments -------------------------------------------------------------------------------------


def _merge_texts(segments: list[Segment]) -> list[Segment]:
    """Adjacent plain texts at one rate as one text (the front-end reads them together)."""
    out: list[Segment] = []
    for seg in segments:
        if isinstance(seg, Text) and not seg.text:
            continue
        if (isinstance(seg, Text) and out and isinstance(out[-1], Text) and seg.source is None
                and out[-1].source is None and out[-1].rate == seg.rate):
            out[-1] = Text(out[-1].text + seg.text, rate=seg.rate)
        else:
            out.append(seg)
    return out


def _merge_pauses(segments: list[Segment], warnings: list) -> list[Segment]:
    """Pauses with nothing but spaces between them as one pause: their silences add up (to at most
    MAX_PAUSE, with a warning); a pause replaces a sentence end's usual one."""
    out: list[Segment] = []
    for seg in segments:
        between = []
        while out and isinstance(out[-1], Text) and not out[-1].text.strip() and isinstance(seg, Pause):
            between.append(out.pop())
        if isinstance(seg, Pause) and out and isinstance(out[-1], Pause):
            before = out[-1].seconds
            if before is None or seg.seconds is None:
                out[-1] = Pause(seg.seconds if before is None else before)
            else:
                if before + seg.seconds > MAX_PAUSE:
                    warnings.append(f"pauses in a row add up to more than {MAX_PAUSE:g} s; cut to {MAX_PAUSE:g} s")
                out[-1] = Pause(min(before + seg.seconds, MAX_PAUSE))
            continue
        out.extend(reversed(between))
        out.append(seg)
    return out


def _apply_lexicon(segments: list[Segment], lexicon, lang: str) -> list[Segment]:
    out: list[Segment] = []
    for seg in segments:
        found = lexicon.find(seg.text, lang) if isinstance(seg, Text) else []
        if not found:
            out.append(seg)
            continue
        last = 0
        for start, end, phonemes in found:
            if start > last:
                out.append(Text(seg.text[last:start], seg.source, seg.rate))
            out.append(Fixed(seg.text[start:end], phonemes, seg.source, seg.rate))
            last = end
        if last < len(seg.text):
            out.append(Text(seg.text[last:], seg.source, seg.rate))
    return out


# Marks a piece may start with that belong to the piece before it (no space between).
_ATTACHED = frozenset(';:,.!?…)”»')
_OPENING = frozenset("(“«")


def read_segments(segments: list[Segment], read: Callable[[str], PhonemizeResult],
                  warnings: list) -> PhonemizeResult:
    """One result for a language other than English: each text segment read on its own by `read`
    (the language's front-end), fixed words as given, joined with single spaces (none before a
    closing mark); pauses and rate stretches placed at the joined offsets (`settle`)."""
    phonemes = ""
    words: list[Word] = []
    all_warnings = list(warnings)
    normalized: list[str] = []
    breaks: list[tuple[int, float | None]] = []
    rates: list[tuple[int, int, float]] = []
    for seg in segments:
        if isinstance(seg, Pause):
            breaks.append((len(phonemes), seg.seconds))
            continue
        if not seg.text.strip():
            continue
        if isinstance(seg, Fixed):
            piece, piece_words, piece_breaks = seg.phonemes, [Word(seg.source or seg.text, seg.phonemes, seg.text)], []
            normalized.append(seg.text)
        else:
            result = read(seg.text)
            piece, piece_breaks = result.phonemes, result.breaks
            piece_words = result.words if seg.source is None else \
                [Word(seg.source, w.phonemes, w.normalized) for w in result.words]
            normalized.append(result.normalized)
            all_warnings += result.warnings
        if not piece:
            continue
        sep = "" if not phonemes or piece[0] in _ATTACHED or phonemes[-1] in _OPENING else " "
        start = len(phonemes) + len(sep)
        phonemes += sep + piece
        words += piece_words
        breaks += [(b.at + start, b.pause) for b in piece_breaks]
        if seg.rate != 1.0:
            rates.append((start, len(phonemes), seg.rate))
    result = PhonemizeResult(" ".join(n for n in normalized if n), phonemes, words, dedupe_warnings(all_warnings))
    if breaks or rates:
        result.breaks, result.rates = settle(phonemes, breaks, rates)
    return result
