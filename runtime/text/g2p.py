"""English G2P: normalized text -> Kokoro phonemes, word by word.

Pipeline: `normalize` -> tokenize (words, initialisms, punctuation, anything else) -> resolve each
word right to left, so a word knows how the next one starts (upstream misaki's TokenContext) ->
join with single spaces, punctuation attached as Kokoro's training text had it.

Marked-up text arrives as segments (`phonemize_segments`, runtime/text/segments.py): words with
given phonemes and pauses are tokens like any other, so "the" before a given vowel is still "ði".
A user's words (`user_words`) sit in front of the built-in lexicon (`_Resolver`).

Without spaCy there are no part-of-speech tags. Where upstream reads a tag we use a small context
guess instead (each marked "Deviation"): determiners before a heteronym make it a noun, "to" and
modals make it a verb, and "have/was/..." before "read" make it a past participle.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field

import regex

from . import espeak, numbers
from .lexicon import CONSONANTS, PRIMARY, VOWELS, Lexicon, apply_stress, parent_tag
from .normalize import normalize_spans
from .segments import MAX_PAUSE, Fixed, Pause, Segment, Stressed, Text

LANGS = ("a", "b")
# Kokoro-82M's 114 input symbols (kokoro_onnx config.json "vocab"; tests check it is identical).
KOKORO_VOCAB = frozenset(
    ';:,.!?—…"()“” '  # punctuation and the word separator
    "\u0303ʣʥʦʨᵝꭧAIOQSTWYᵊ"  # nasalization, affricates, misaki's capital-letter diphthongs
    "abcdefhijklmnopqrstuvwxyz"
    "ɑɐɒæβɔɕçɖðʤəɚɛɜɟɡɥɨɪʝɯɰŋɳɲɴøɸθœɹɾɻʁɽʂʃʈʧʊʋʌɣɤχʎʒʔ"
    "ˈˌːʰʲ↓→↗↘ᵻ"  # stress, length, aspiration, palatalization, tones
)
# Punctuation after which the next word can be phrase-final context (upstream NON_QUOTE_PUNCTS).
PAUSES = frozenset(';:,.!?—…')
SENTENCE_ENDS = frozenset(".!?…")
OPENING = frozenset("“(")
# Upstream's Kokoro-82M pipeline builds misaki's G2P without a version, which rewrites the
# American flap ɾ as "T" and the glottal stop ʔ as "t" in every word; the model was trained on that.
FLAP_REWRITES = (("ɾ", "T"), ("ʔ", "t"))
# Tokens longer than this are not looked up; espeak reads them in chunks of this size.
MAX_WORD_CHARS = 64
# What reads a word outside the lexicon. "espeak" (the default): espeak-ng, spelling the word when
# libespeak-ng cannot be loaded. "spell": letter by letter from the lexicon's letter entries, with a
# warning; it needs nothing but the lexicon, so it is what a host without espeak-ng (the Android
# demo without a bundled libespeak-ng) does, and Python offers it so both hosts can agree.
FALLBACKS = ("espeak", "spell")

DETERMINERS = frozenset(
    "the a an this that these those my your his her its our their some any no every each another".split())
VERB_CUES = frozenset(
    "to will would can could should must might may shall do does did don't doesn't didn't won't "
    "can't cannot couldn't wouldn't shouldn't let's please i you we they".split())
# After a determiner a heteronym is read as a noun only when a function word or a pause follows
# ("the record." / "the object of"), since "a close call" is an adjective.
NOUN_FOLLOWERS = frozenset(
    "of in on at to for from with by and or but is was are were has had have will would can could "
    "that which who".split())
PARTICIPLE_CUES = frozenset("have has had having was were been be being is are i've you've we've they've".split())
NUMBER_WORDS = frozenset(numbers.ONES + numbers.TENS[2:] + list(numbers.SCALES[1:]) + ["hundred"]
                         + [f"{t}-{o}" for t in numbers.TENS[2:] for o in numbers.ONES[1:10]])

_TOKEN = regex.compile(
    r"(?P<initialism>(?:\p{L}\.){2,})"
    r"|(?P<word>'?[\p{L}\p{M}]+(?:['\-][\p{L}\p{M}]+)*'?)"
    r"|(?P<digits>\d+)"
    r"|(?P<punct>[;:,.!?—…\"“”()\[\]{}])"
    r"|(?P<space>\s+)"
    r"|(?P<other>\X)"
)
_BRACKETS = {"[": "(", "{": "(", "]": ")", "}": ")"}
_SCRIPT_RUNS = regex.compile(r"(?P<latin>(?:(?=[\p{Latin}'\-])\X)+)|(?P<other>(?:(?![\p{Latin}'\-])\X)+)")


@dataclass
class Word:
    """One spoken word (or punctuation mark) and its phonemes."""

    text: str
    """The source text the word came from: "Hello" for "Hello", "$3.50" for each of "three dollars
    and fifty cents", "Dr." for "Doctor"."""
    phonemes: str
    """Kokoro phonemes for it; punctuation tokens carry the mark itself."""
    normalized: str = ""
    """The word as spoken, from the normalized text ("three")."""


@dataclass
class PhonemizeResult:
    """What `phonemize` returns."""

    normalized: str
    """The text after normalization (numbers, symbols and abbreviations spelled out)."""
    phonemes: str
    """Kokoro phoneme string: words separated by single spaces, punctuation attached."""
    words: list = field(default_factory=list)
    """`Word` per spoken word and punctuation mark, in order."""
    warnings: list = field(default_factory=list)
    """Human-readable notes for everything skipped, unreadable or cut (never dropped silently)."""
    breaks: list = field(default_factory=list)
    """`Break`s: where a chunk must end although no mark in `phonemes` shows it (Hindi's danda,
    which espeak-ng reads as a pause but writes as nothing; a pause asked for in the text)."""
    rates: list = field(default_factory=list)
    """`Rate`s: stretches of `phonemes` spoken faster or slower than the call's speed."""


@dataclass
class Break:
    """A place where a chunk ends although no mark in the phonemes shows it."""

    at: int
    """Offset in `PhonemizeResult.phonemes`."""
    pause: float | None = None
    """Seconds of silence inserted there, the chunks' own edge silence trimmed as at any cut inside a
    sentence; None: a sentence end, with the usual pause after a sentence."""


@dataclass
class Rate:
    """A stretch of phonemes spoken at `factor` times the call's speed (breaks bound it)."""

    start: int
    end: int
    factor: float


@dataclass
class _Token:
    kind: str  # "word", "initialism", "digits", "punct"; "fixed" (phonemes given), "pause"
    text: str
    space_before: bool
    start: int = 0  # span in the normalized text
    end: int = 0
    phonemes: str | None = None
    source: str = ""  # Word.text: the source text the token came from
    rate: float = 1.0  # times the call's speed
    stress: float | None = None  # a stress change asked for in the text ([word](-1))
    pause: float | None = None  # "pause" tokens: seconds of silence, None for a sentence end


@functools.lru_cache(maxsize=None)
def lexicon(lang: str) -> Lexicon:
    """The cached lexicon for lang ("a" or "b"); first call reads the JSON data (about 0.5 s)."""
    return Lexicon(lang)


def _is_latin(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("LATIN") or unicodedata.category(ch).startswith("M")


def _describe(s: str) -> str:
    """Unicode name of one character, or the scripts of a run ("CYRILLIC")."""
    if len(s) == 1:
        return unicodedata.name(s, f"U+{ord(s):04X}")
    names = {unicodedata.name(c, f"U+{ord(c):04X}").split(" ")[0] for c in s if not c.isspace()}
    return "/".join(sorted(names)) or "whitespace"


def _tokenize(text: str, warnings: list) -> list[_Token]:
    tokens: list[_Token] = []
    space = False
    quote_open = False
    for m in _TOKEN.finditer(text):
        kind, s, start = m.lastgroup, m.group(), m.start()
        if kind == "space":
            space = True
            continue
        if kind == "word" and not all(_is_latin(c) or c in "'-" for c in s):
            # Mixed scripts: keep the Latin runs, report the rest. A combining mark belongs to the
            # letter it follows (a Devanagari vowel sign is not Latin, though both are marks).
            for rm in _SCRIPT_RUNS.finditer(s):
                run = rm.group()
                if rm.lastgroup == "latin":
                    if run.strip("'-"):
                        a = start + rm.start() + len(run) - len(run.lstrip("'-"))
                        tokens.append(_Token("word", run.strip("'-"), space, a, a + len(run.strip("'-"))))
                        space = False
                else:
                    warnings.append(f"skipped {run!r} ({_describe(run)} script): only English text is spoken")
            continue
        if kind == "other" and s in "'‘’`":
            space = True  # a lone single quote is a quotation mark; Kokoro has no symbol for it
            continue
        if kind == "other":
            warnings.append(f"skipped {s!r} ({_describe(s)}): no English reading")
            space = True
            continue
        if kind == "punct":
            s = _BRACKETS.get(s, s)
            if s == '"':
                s = "”" if quote_open else "“"  # straight quotes alternate open/close
                quote_open = not quote_open
            elif s in "“”":
                quote_open = s == "“"
        tokens.append(_Token(kind, s, space, start, m.end()))
        space = False
    return tokens


def _first_sound(ps: str | None) -> bool | None:
    """True if phonemes start with a vowel, False with a consonant, None at a pause."""
    for c in ps or "":
        if c in PAUSES:
            return None
        if c in VOWELS:
            return True
        if c in CONSONANTS:
            return False
    return None


def _merge_compound(parts: list[str]) -> str:
    """Join the parts of a hyphenated compound as one word; when more than half the parts carry a
    primary stress, the lighter half is demoted to secondary (upstream's resolve_tokens rule)."""
    weights = [(PRIMARY in p, sum(2 if c in "AIOQWYʤʧ" else 1 for c in p), i) for i, p in enumerate(parts)]
    if len(parts) == 2 and len(parts[0]) == 1:
        parts[1] = apply_stress(parts[1], -0.5)
    elif len(parts) >= 2 and sum(w[0] for w in weights) > (len(parts) + 1) // 2:
        for _, _, i in sorted(weights)[: len(parts) // 2]:
            parts[i] = apply_stress(parts[i], -0.5)
    return "".join(parts)


class _UserFirst:
    """A user's words in front of a lexicon tier: the dict interface `Lexicon` looks words up with
    (get, in, []), answering from the user's words first. Case variants are found as the built-in
    lexicon adds them (lexicon.py `grow`): a lowercase entry also answers its Capitalized form, a
    Capitalized entry its lowercase form; looked up here, so a large lexicon costs nothing per call."""

    def __init__(self, words: dict, tier):
        self.words, self.tier = words, tier

    def user_entry(self, word: str) -> str | None:
        if word in self.words:
            return self.words[word]
        if len(word) < 2:
            return None
        lower = word.lower()
        if word == lower.capitalize() and word != lower and lower in self.words:
            return self.words[lower]
        capitalized = word.capitalize()
        if word == lower and capitalized != word and capitalized == capitalized.lower().capitalize():
            return self.words.get(capitalized)
        return None

    def get(self, word: str, default=None):
        entry = self.user_entry(word)
        return entry if entry is not None else self.tier.get(word, default)

    def __contains__(self, word: str) -> bool:
        return self.user_entry(word) is not None or word in self.tier

    def __getitem__(self, word: str):
        entry = self.user_entry(word)
        return entry if entry is not None else self.tier[word]


class _Resolver:
    """Resolves words for one call: lexicon first, then compounds, then espeak, then spelling.

    user_words: word -> phonemes that win over the built-in lexicon. They sit in front of its gold
    tier (`_UserFirst`), so they are read exactly as a built-in entry would be: capitals add
    stress, -s/-ed/-ing forms derive from them, and their first sound decides "the"/"a"/"to"
    before them."""

    def __init__(self, lang: str, warnings: list, caps_text: bool, fallback: str = "espeak",
                 user_words: dict | None = None):
        self.lang = lang
        self.fallback_mode = fallback
        self.lex = lexicon(lang)
        self.user: _UserFirst | None = None
        if user_words:
            self.user = _UserFirst(user_words, self.lex.gold)
            self.lex = Lexicon(lang, gold=self.user, silver=self.lex.silver)
        self.warnings = warnings
        self.caps_text = caps_text

    def is_user_word(self, word: str) -> bool:
        return self.user is not None and (self.user.user_entry(word) is not None
                                          or self.user.user_entry(word.lower()) is not None)

    def tag_for(self, word: str, prev: str | None, next_text: str | None) -> str | None:
        # Deviation: context cues stand in for spaCy's part-of-speech tags.
        if word.isupper() and len(word) > 1 and not self.caps_text:
            entry = self.lex.gold.get(word)
            if isinstance(entry, dict) and "NOUN" in entry and entry["NOUN"] is None:
                return "NNP"  # ALL-CAPS words upstream's tagger calls proper nouns are spelled: US, IT
        entry = self.lex.gold.get(word.lower())
        if prev is None or not isinstance(entry, dict):
            return None
        prev = prev.lower()
        if prev in PARTICIPLE_CUES and "VBN" in entry:
            tag = "VBN"
        elif prev in VERB_CUES:
            tag = "VB"
        elif prev in DETERMINERS and (next_text is None or next_text.lower() in NOUN_FOLLOWERS):
            tag = "NN"
        else:
            return None
        # Only a tag the entry has a reading for; otherwise its default reading stands.
        return tag if entry.get(tag, entry.get(parent_tag(tag))) is not None else None

    def special(self, word: str, nxt: bool | None, prev: _Token | None, next_text: str | None) -> str | None:
        """Function words whose reading depends on the next sound (upstream's get_special_case)."""
        sentence_start = prev is None or (prev.kind == "punct" and prev.text in SENTENCE_ENDS)
        if word == "THE" or (self.caps_text and word.lower() in ("to", "in", "an")):
            word = word.lower()  # upstream: THE/TO/IN as function words unless tagged proper nouns
        if word == "a" or (word == "A" and sentence_start and nxt is not None):
            return "ˈA" if nxt is None else "ɐ"
        if word == "A":
            return "ˈA"
        if word in ("an", "An"):
            return "ɐn"
        if word == "I":
            return "ˌI"
        if word in ("am", "Am"):
            return self.lex.gold["am"] if nxt is None or word == "Am" else "ɐm"
        if word in ("to", "To"):
            return {None: self.lex.gold["to"], False: "tə", True: "tʊ"}[nxt]
        if word in ("in", "In"):
            return ("ˈ" if nxt is None else "") + "ɪn"
        if word in ("the", "The"):
            return "ði" if nxt is True else "ðə"
        if word in ("point", "oh") and prev is not None and prev.text.lower() in NUMBER_WORDS \
                and (next_text or "").lower() in NUMBER_WORDS:
            # Upstream reads the "point" of decimals and the "oh" of years ("nineteen oh five")
            # without stress.
            return apply_stress(self.lex.gold[word], -2)
        if word.lower() == "used":
            entry = self.lex.gold["used"]
            return entry["VBD"] if (next_text or "").lower() == "to" else entry["DEFAULT"]
        return None

    def word(self, text: str, tag: str | None, final: bool) -> str | None:
        """Phonemes for a word without context rules, or None if nothing could read it."""
        if self.is_user_word(text):
            return self.lex.word(text, tag, final)  # before the spelled-number rule below
        if len(text) > MAX_WORD_CHARS:
            self.warnings.append(
                f"a {len(text)}-character word was read by espeak-ng in {MAX_WORD_CHARS}-character pieces"
                if self.fallback_mode == "espeak" else f"a {len(text)}-character word was not looked up")
            return self.fallback(text)
        parts = text.split("-")
        if len(parts) > 1 and parts[0].lower() in NUMBER_WORDS and all(parts):
            # Upstream reads spelled numbers word by word: "twenty-three" -> "twˈɛnti θɹˈi",
            # "twenty-first" -> "twˈɛnti fˈɜɹst" (even where the lexicon lists the compound).
            read = [self.word(p, None, final) for p in parts]
            if all(read):
                return " ".join(read)
        ps = self.lex.word(text, tag, final)
        if ps is not None:
            return ps
        stripped = text.strip("'")
        if stripped != text and stripped:
            return self.word(stripped, tag, final)
        if "-" in text:
            parts = [p for p in parts if p]
            read = [self.word(p, None, final) for p in parts]
            if all(read):
                return _merge_compound(read)
        return self.fallback(text)

    def fallback(self, text: str) -> str | None:
        if self.fallback_mode == "spell":
            ps = self.lex.spell(text) if text.isalpha() else None
            self.warnings.append(f"{text!r} is not in the lexicon; " + ("spelled it" if ps else "skipped it"))
            return ps
        try:
            pieces = [text[i:i + MAX_WORD_CHARS] for i in range(0, len(text), MAX_WORD_CHARS)]
            ps = " ".join(espeak.phonemize_word(p, self.lang) for p in pieces).strip()
        except espeak.EspeakUnavailable as e:
            ps = self.lex.spell(text) if text.isalpha() else None
            self.warnings.append(f"{text!r} is not in the lexicon and espeak-ng is unavailable ({e}); "
                                 + ("spelled it" if ps else "skipped it"))
            return ps
        dropped = {c for c in ps if c not in KOKORO_VOCAB}
        if dropped:
            ps = "".join(c for c in ps if c in KOKORO_VOCAB)
            self.warnings.append(f"dropped espeak symbols {''.join(sorted(dropped))!r} from {text!r}")
        return ps or None


def _caps_text(tokens: list[_Token]) -> bool:
    words = [t.text for t in tokens if t.kind == "word" and len(t.text) > 1]
    caps = sum(1 for w in words if w.isupper())
    return len(words) >= 3 and caps >= 0.6 * len(words)


def phonemize(text: str, lang: str = "a", fallback: str = "espeak",
              user_words: dict | None = None) -> PhonemizeResult:
    """Normalize English text and convert it to Kokoro phonemes.

    lang: "a" American English, "b" British English.
    fallback: what reads words outside the lexicon, "espeak" (default) or "spell" (see FALLBACKS).
    user_words: word -> Kokoro phonemes that win over the built-in lexicon (see `_Resolver`).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    return phonemize_segments([Text(text)], lang, fallback, user_words)


def _text_tokens(segment: Text, lang: str, warnings: list) -> tuple[str, list[_Token]]:
    """(normalized text, tokens) of one text segment, each token naming its source text."""
    spanned = normalize_spans(segment.text, lang)
    tokens = _tokenize(spanned.s, warnings)
    for tk in tokens:
        if segment.source is not None:
            tk.source = segment.source
        else:
            a, b = spanned.source_span(tk.start, tk.end)
            tk.source = segment.text[a:b].strip() or tk.text
        tk.rate = segment.rate
    return spanned.s, tokens


def _segment_tokens(segments: list[Segment], lang: str, warnings: list) -> tuple[list[str], list[_Token]]:
    normalized: list[str] = []
    tokens: list[_Token] = []
    for seg in segments:
        if isinstance(seg, Text):
            norm, seg_tokens = _text_tokens(seg, lang, warnings)
            normalized.append(norm)
            tokens += seg_tokens
        elif isinstance(seg, Stressed):
            norm, seg_tokens = _text_tokens(Text(seg.text, rate=seg.rate), lang, warnings)
            normalized.append(norm)
            for tk in seg_tokens:
                if tk.kind == "word":
                    tk.stress = seg.stress
            tokens += seg_tokens
        elif isinstance(seg, Fixed):
            normalized.append(seg.text)
            tokens.append(_Token("fixed", seg.text, True, phonemes=seg.phonemes,
                                 source=seg.source if seg.source is not None else seg.text, rate=seg.rate))
        elif isinstance(seg, Pause):
            tokens.append(_Token("pause", "", True, pause=seg.seconds))
    return normalized, tokens


def phonemize_segments(segments: list[Segment], lang: str = "a", fallback: str = "espeak",
                       user_words: dict | None = None) -> PhonemizeResult:
    """`phonemize` for text cut into segments (runtime/text/segments.py): words with given phonemes
    and pauses take part in the context rules like any word or pause ("the" before a given vowel
    is "ði"; a word before a pause is phrase-final). One `Text` segment gives exactly `phonemize`."""
    if fallback not in FALLBACKS:
        raise ValueError(f"unknown fallback {fallback!r}: use one of {', '.join(FALLBACKS)}")
    if lang not in LANGS:
        raise ValueError(f"unsupported lang {lang!r}: this front-end speaks English only; "
                         "use lang='a' (American) or lang='b' (British)")
    warnings: list[str] = []
    normalized, tokens = _segment_tokens(segments, lang, warnings)
    late: list[str] = []  # warnings raised while resolving right to left; reversed below
    res = _Resolver(lang, late, _caps_text(tokens), fallback, user_words)

    nxt: bool | None = None  # how the following word starts (True vowel, False consonant, None pause)
    next_text: str | None = None
    for i in range(len(tokens) - 1, -1, -1):
        tk = tokens[i]
        prev = tokens[i - 1] if i > 0 else None
        if tk.kind == "pause":
            nxt, next_text = None, None
            continue
        if tk.kind == "punct":
            tk.phonemes = tk.text
            if tk.text in PAUSES:
                nxt = None
            next_text = None
            continue
        if tk.kind == "fixed":
            pass
        elif tk.kind == "initialism":
            tk.phonemes = res.lex.spell(tk.text) or res.fallback(tk.text)
        elif tk.kind == "digits":
            tk.phonemes = " ".join(res.word(w, None, False) or "" for w in numbers.digits(tk.text).split())
        else:
            # A user's entry for a function word ("the", "a", "to") wins over the context rules.
            ps = None if res.is_user_word(tk.text) else res.special(tk.text, nxt, prev, next_text)
            if ps is None:
                prev_word = prev.text if prev is not None and prev.kind == "word" else None
                ps = res.word(tk.text, res.tag_for(tk.text, prev_word, next_text), nxt is None)
            tk.phonemes = apply_stress(ps, tk.stress) if tk.stress is not None else ps
        if not tk.phonemes:
            late.append(f"could not read {tk.text!r}; skipped it")
            tk.phonemes = None
            continue
        nxt = _first_sound(tk.phonemes)
        next_text = tk.text

    out: list[str] = []
    length = 0  # len("".join(out))
    words: list[Word] = []
    breaks: list[tuple[int, float | None]] = []
    rates: list[tuple[int, int, float]] = []
    glue_next = False
    for tk in tokens:
        if tk.kind == "pause":
            breaks.append((length, tk.pause))
            continue
        if tk.phonemes is None:
            continue
        ps = tk.phonemes
        if tk.kind != "punct":
            for old, new in FLAP_REWRITES:
                ps = ps.replace(old, new)
        words.append(Word(tk.source, ps, tk.text))
        attach = (tk.kind == "punct" and tk.text not in OPENING and tk.text != "—") or glue_next or not out
        if tk.kind == "punct" and tk.text == "—":
            attach = not tk.space_before and bool(out)
        piece = ps if attach else " " + ps
        if tk.rate != 1.0:
            rates.append((length + len(piece) - len(ps), length + len(piece), tk.rate))
        out.append(piece)
        length += len(piece)
        glue_next = tk.kind == "punct" and tk.text in OPENING
    raw = "".join(out)
    phonemes = raw.strip()
    lead = len(raw) - len(raw.lstrip())
    warnings += reversed(late)
    result = PhonemizeResult(" ".join(normalized), phonemes, words, dedupe_warnings(warnings))
    if breaks or rates:
        result.breaks, result.rates = settle(phonemes, [(at - lead, pause) for at, pause in breaks],
                                             [(a - lead, b - lead, f) for a, b, f in rates])
    return result


# Marks that belong to the word before them: a break or a stretch's edge moves past them.
CLOSING_MARKS = frozenset(';:,.!?…)”»')


def settle(phonemes: str, breaks: list[tuple[int, float | None]],
           rates: list[tuple[int, int, float]]) -> tuple[list[Break], list[Rate]]:
    """The `Break`s and `Rate`s of a joined phoneme string, from raw offsets.

    A break sits after the word before it and the marks attached to that word ("həlˈO," |
    " wˈɜɹld"), before the space. Breaks at one place merge: their pauses add up, a pause replaces a
    sentence end's usual one (at most MAX_PAUSE). A sentence end (pause None) at the very start or end says nothing and
    is dropped; a pause there is kept (silence before or after the speech). Rates: adjacent
    stretches at one factor merge; each stretch gets a break at either edge (a chunk takes the rate
    of the stretch it starts in), with a sentence end's pause where the stretch ends one and no
    pause otherwise."""
    n = len(phonemes)

    def place(at: int) -> int:
        at = min(max(at, 0), n)
        while at > 0 and phonemes[at - 1] == " ":
            at -= 1
        while at < n and phonemes[at] in CLOSING_MARKS:
            at += 1
        return at

    merged: dict[int, float | None] = {}
    for at, pause in breaks:
        at = place(at)
        if at not in merged or merged[at] is None:
            merged[at] = pause
        elif pause is not None:
            merged[at] = min(merged[at] + pause, MAX_PAUSE)  # markup.parse warns where it merges pauses

    stretches: list[list] = []
    for start, end, factor in sorted(rates):
        start, end = min(max(start, 0), n), place(end)
        if stretches and stretches[-1][2] == factor and phonemes[stretches[-1][1]:start].strip() == "":
            stretches[-1][1] = max(stretches[-1][1], end)
        elif end > start:
            stretches.append([start, end, factor])
    for start, end, _ in stretches:
        for edge in (place(start), end):
            if 0 < edge < n and edge not in merged:
                ends_sentence = phonemes[:edge].rstrip(')”» ')[-1:] in SENTENCE_ENDS
                merged[edge] = None if ends_sentence else 0.0

    out = [Break(at, pause) for at, pause in sorted(merged.items()) if pause is not None or 0 < at < n]
    return out, [Rate(start, end, factor) for start, end, factor in stretches]


def dedupe_warnings(warnings: list[str]) -> list[str]:
    """One line per distinct warning, in first-seen order, with a count when repeated."""
    counts: dict[str, int] = {}
    for w in warnings:
        counts[w] = counts.get(w, 0) + 1
    return [w if n == 1 else f"{w} (x{n})" for w, n in counts.items()]
