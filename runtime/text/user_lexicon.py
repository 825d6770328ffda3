"""A user's own pronunciations: word -> Kokoro phonemes, winning over the built-in readings.

    lexicon = UserLexicon.load("my_words.tsv")
    phonemize("Kokoro runs on LiteRT.", lang="a", lexicon=lexicon)

File format (UTF-8, one entry per line, fields separated by one TAB):

    # lines starting with "# " are comments; blank lines are skipped
    Kokoro<TAB>kˈOkəɹO                 any language
    es<TAB>Kokoro<TAB>kokˈoɾo          only Spanish: a code ("e"), a name ("es", "pt-br") or a
                                       name's language part ("pt"; "en" is both Englishes)

Phonemes are Kokoro's symbols (`KOKORO_VOCAB`, misaki's conventions for English: ˈ before the
stressed vowel, A I O W Y for eɪ aɪ oʊ aʊ ɔɪ), checked when the file is read; `kokoro-litert
phonemize` shows what a word reads as today. A word may be several words ("New York") or hold
symbols ("C++").

Where an entry applies:
- English: a plain word is looked up before the built-in lexicon, inside the G2P, so it is read the
  way a built-in entry is (capitals add stress, "Kokoro's" derives from "Kokoro", "the" before it
  follows its first sound). Entries of several words or with symbols or digits are matched in the
  text before normalization, as whole words, ignoring case. A plain word is looked up after
  normalization, so an entry for "Dr" is not reached where "Dr." is read as "Doctor" (give
  "Doctor" an entry, or write the word inline as [Dr.](/.../)).
- Other languages: matched in the text as whole words, ignoring case for cased scripts; an entry
  written in Chinese or Japanese characters matches anywhere (those scripts have no spaces), the
  longest entry first. A matched word is spoken with the entry's phonemes and keeps its written form
  in word timings.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import regex

from ..errors import KokoroError, UnknownLanguage
from .g2p import KOKORO_VOCAB, LANGS as ENGLISH
from .languages import CODES, LANGUAGES, codes_help, language

COMMENT = "# "
MAX_REPORTED_LINES = 5
# An English entry the G2P's tokenizer sees as one word (letters with inner ' or -), Latin script:
# looked up inside the G2P. Anything else is matched in the text.
_ENGLISH_WORD = regex.compile(r"'?[\p{Latin}\p{M}]+(?:['\-][\p{Latin}\p{M}]+)*'?")
# Scripts written without spaces between words: entries in them match anywhere in the text.
_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")


@dataclass(frozen=True)
class Entry:
    """One pronunciation."""

    word: str
    phonemes: str
    """Kokoro phonemes."""
    lang: str | None = None
    """Kokoro language code it applies to ("e"), or None for every language."""
    line: int = 0
    """Line in the file it came from (0: not from a file)."""


def _bad_symbols(phonemes: str) -> str:
    return "".join(sorted({c for c in phonemes if c not in KOKORO_VOCAB}))


class UserLexicon:
    """A user's pronunciations: loaded once, read by `phonemize(..., lexicon=...)` for any language.

    Responsibilities: read and check the file (every bad line reported in one `KokoroError`), and
    hand each front-end the entries for its language: English's plain words to its G2P
    (`english_words`), everything else as a matcher over the text (`find`)."""

    def __init__(self, entries: Iterable[Entry], source: str = "the lexicon"):
        self.entries = list(entries)
        self.source = source
        """Where the entries came from (a path), for messages."""
        self._per_language: dict[tuple[str, str], object] = {}  # (what, code) -> words or matcher
        problems = []
        for e in self.entries:
            bad = _bad_symbols(e.phonemes)
            if not e.word.strip() or not e.phonemes.strip() or bad or (e.lang is not None and e.lang not in CODES):
                problems.append((e.line, f"bad entry {e.word!r} -> {e.phonemes!r}"
                                 + (f" (symbols outside Kokoro's alphabet: {bad!r})" if bad else "")))
        if problems:
            raise _lexicon_error(source, problems)

    @classmethod
    def load(cls, path: str | Path) -> "UserLexicon":
        """Read a lexicon file (see the module docstring); `KokoroError` naming every bad line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KokoroError(f"Lexicon file {path} does not exist.", "Check the path given as the lexicon.",
                              param="lexicon") from None
        except UnicodeDecodeError as e:
            raise KokoroError(f"Lexicon file {path} is not UTF-8 text ({e.reason} at byte {e.start}).",
                              "Save it as UTF-8.", param="lexicon") from None
        except OSError as e:
            raise KokoroError(f"Cannot read lexicon file {path} ({e.strerror}).", "Check the path and its permissions.",
                              param="lexicon") from None
        entries, problems = _parse(text.removeprefix("\ufeff"))
        if problems:
            raise _lexicon_error(str(path), problems)
        return cls(entries, str(path))

    @classmethod
    def from_dict(cls, words: Mapping[str, str], lang: str | None = None) -> "UserLexicon":
        """Entries from a mapping word -> phonemes (for API callers), for one language or all."""
        codes = _codes(lang) if lang is not None else [None]
        return cls([Entry(w, ps, code) for w, ps in words.items() for code in codes], "the lexicon given")

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"UserLexicon({len(self)} entries from {self.source})"

    def _once(self, what: str, code: str, build):
        key = (what, code)
        if key not in self._per_language:
            self._per_language[key] = build(self, code)
        return self._per_language[key]

    def words(self, code: str) -> dict[str, str]:
        """word -> phonemes for a language: its own entries over those for every language."""
        return self._once("words", code, _words)

    def english_words(self, code: str) -> dict[str, str]:
        """The English entries the G2P looks up as words (see the module docstring)."""
        return self._once("english", code, _english_words)

    def find(self, text: str, code: str) -> list[tuple[int, int, str]]:
        """(start, end, phonemes) of every entry found in `text` for a language, left to right; the
        longest entry wins where several start at one place. For English only the entries the G2P
        does not look up itself."""
        matcher = self._once("matcher", code, _Matcher)
        return matcher.find(text) if matcher.lengths else []


def _codes(lang: str) -> list[str]:
    """The Kokoro codes a lang column names: a code ("e"), a name ("pt-br"), or a name's language
    part ("pt"; "en" is both Englishes)."""
    try:
        return [language(lang).code]
    except UnknownLanguage:
        key = lang.strip().lower()
        codes = [lang.code for lang in LANGUAGES if lang.name.split("-")[0] == key]
        if not codes:
            raise
        return codes


def _parse(text: str) -> tuple[list[Entry], list[tuple[int, str]]]:
    entries: list[Entry] = []
    problems: list[tuple[int, str]] = []
    seen: dict[tuple[str | None, str], tuple[int, str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith(COMMENT) or line.strip() == "#":
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) == 2:
            codes, (word, phonemes) = [None], fields
        elif len(fields) == 3:
            try:
                codes = _codes(fields[0])
            except UnknownLanguage:
                problems.append((number, f"unknown language {fields[0]!r} (use one of {codes_help()})"))
                continue
            word, phonemes = fields[1:]
        else:
            problems.append((number, f"{len(fields)} tab-separated fields, expected 2 or 3"
                             + (" (spaces instead of a tab?)" if len(fields) == 1 else "")))
            continue
        if not word or not phonemes:
            problems.append((number, "an empty word or empty phonemes"))
            continue
        bad = _bad_symbols(phonemes)
        if bad:
            from .ipa import ipa_to_kokoro

            hint = ""
            mapped, unmapped, _ = ipa_to_kokoro(phonemes, codes[0] or "a")
            if not unmapped and mapped:
                hint = f"; if that is IPA, Kokoro's symbols would be {mapped!r}"
            problems.append((number, f"symbols outside Kokoro's alphabet in {phonemes!r}: {bad!r}{hint}"))
            continue
        for code in codes:
            key = (code, word)
            if key in seen and seen[key][1] != phonemes:
                problems.append((number, f"{word!r} is already on line {seen[key][0]} with other phonemes"))
                continue
            seen[key] = (number, phonemes)
            entries.append(Entry(word, phonemes, code, number))
    return entries, problems


def _lexicon_error(source: str, problems: list[tuple[int, str]]) -> KokoroError:
    shown = "; ".join(f"line {line}: {what}" if line else what for line, what in problems[:MAX_REPORTED_LINES])
    more = len(problems) - MAX_REPORTED_LINES
    return KokoroError(
        f"Bad lexicon {source}: {shown}" + (f" (and {more} more)" if more > 0 else "") + ".",
        "Write one entry per line as word<TAB>phonemes or lang<TAB>word<TAB>phonemes, with phonemes in "
        "Kokoro's alphabet (`kokoro-litert phonemize WORD` shows a word's phonemes); start comments with '# '.",
        param="lexicon")


def _words(lexicon: UserLexicon, code: str) -> dict[str, str]:
    everywhere = {e.word: e.phonemes for e in lexicon.entries if e.lang is None}
    own = {e.word: e.phonemes for e in lexicon.entries if e.lang == code}
    return {**everywhere, **own}


def _looked_up_by_g2p(word: str, code: str) -> bool:
    return code in ENGLISH and _ENGLISH_WORD.fullmatch(word) is not None


def _english_words(lexicon: UserLexicon, code: str) -> dict[str, str]:
    if code not in ENGLISH:
        return {}
    return {w: ps for w, ps in lexicon.words(code).items() if _looked_up_by_g2p(w, code)}


def _glued(c: str) -> bool:
    """True for a character that joins a word (letter, digit, mark, "_"; not Chinese or Japanese
    characters, which are written without spaces): a whole-word entry may not have one right before
    or after it."""
    return (c.isalnum() or c == "_" or unicodedata.category(c).startswith("M")) and not _UNSPACED.match(c)


class _Matcher:
    """Finds a language's text-matched entries: at each place a match may start, the substrings of
    the entries' lengths are looked up, longest first (exact case, then lowercase). Linear in the
    text times the number of distinct entry lengths, however many entries there are."""

    def __init__(self, lexicon: UserLexicon, code: str):
        words = {w: ps for w, ps in lexicon.words(code).items() if not _looked_up_by_g2p(w, code)}
        self.exact = words
        self.lowered: dict[str, str] = {}
        for word, ps in words.items():
            self.lowered.setdefault(word.lower(), ps)
        self.lengths = sorted({len(w) for w in words}, reverse=True)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        found = []
        at = 0
        while at < len(text):
            hit = self._at(text, at)
            if hit is None:
                at += 1
                continue
            found.append(hit)
            at = hit[1]
        return found

    def _at(self, text: str, at: int) -> tuple[int, int, str] | None:
        word_start = at == 0 or not _glued(text[at - 1])
        for length in self.lengths:
            end = at + length
            if end > len(text):
                continue
            piece = text[at:end]
            phonemes = self.exact.get(piece) or self.lowered.get(piece.lower())
            if phonemes is None:
                continue
            if _UNSPACED.search(piece) or (word_start and (end == len(text) or not _glued(text[end]))):
                return at, end, phonemes
        return None
