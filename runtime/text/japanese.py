"""Japanese (lang "j"): the phonemes upstream's Kokoro-82M pipeline feeds its Japanese voices.

Upstream (hexgrad/kokoro 0.9.4 `KPipeline(lang_code='j')`, misaki 0.9.4 `JAG2P()`) reads Japanese
with misaki's adaptation of cutlet: MeCab (fugashi + the unidic-lite dictionary) splits the text
into words and reads each in kana, adjacent words merge into the longer words of misaki's word
list, and each word's kana becomes IPA-like romaji by cutlet's rules. We use `misaki.cutlet` itself
for those tables and rules (it is the reference), and not `misaki.ja`, which imports pyopenjtalk
(unused on this path) when it loads.

Per chunk of KPipeline's chunking (runtime/text/cjk.py):

1. Normalize as cutlet does: a wave dash before a number reads "から", NFKC, full-width letters to
   half width, half-width kana to full width, every digit run read in kana (misaki's num2kana).
2. MeCab's words, merged into word-list words; each merged word is one `Word` here, its phonemes
   cutlet's romaji for it.
3. Join as cutlet does: a space after each word except before closing marks, ( ) written « »,
   no space next to a glottal stop ʔ except beside punctuation.

Text Japanese cannot read: ASCII words pass through as they are (upstream does the same; Kokoro
then drops letters it has no symbol for, with a warning here), and other scripts (Hangul,
Cyrillic, Chinese-only characters, emoji) are dropped, as upstream does, with a warning here.

Needs the `ja` extra: fugashi, unidic-lite, jaconv, mojimoji.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import MissingExtra
from .cjk import Engine, align, describe, missing_extra, read_chunks, short, source_text, unspeakable
from .g2p import PhonemizeResult, Word
from .normalize import Spanned

LANGUAGE = "Japanese (lang 'j')"
EXTRA = "ja"
# MeCab character types as cutlet uses them: known words and katakana count as READABLE (kana);
# of unknown words, cutlet reads symbols (3) through its punctuation table and drops the others.
READABLE = 6
KATAKANA = 7
# Upstream's number reader (misaki.num2kana.Convert) reads at most this many digits.
MAX_NUMBER_DIGITS = 9
_WAVE_DASH_BEFORE_NUMBER = re.compile(r"[〜～](?=\d)")
_DIGIT_RUNS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
# Cutlet removes the space before a glottal stop unless punctuation precedes it, and the space
# after one unless an opening quote follows.
_SPACE_AT_GLOTTAL_STOP = re.compile(r'(?<![!",.:;?»—…”]) (?=ʔ)|(?<=ʔ) (?!["«“])')


@dataclass
class _Reader:
    """misaki's cutlet and what we use beside it, loaded once per process."""

    cutlet: Any
    """misaki.cutlet.Cutlet: the MeCab tagger and the romaji of one word (`_romaji_word`)."""
    cutlet_word: type
    """misaki.cutlet.Word(surface, hira, char_type), what `_romaji_word` reads."""
    dictionary_words: frozenset
    """misaki's Japanese word list: adjacent MeCab words that spell one of these are read as one."""
    longest_dictionary_word: int
    """Characters in the longest of them (24)."""
    phonetic_extensions: dict
    """Small katakana (ㇰ ...) -> their full-size kana, which cutlet substitutes first."""
    read_number: Callable[[str], str]
    """misaki.num2kana.Convert: digits -> hiragana."""
    kata2hira: Callable[[str], str]
    zen_to_han: Callable
    han_to_zen: Callable
    lock: threading.Lock
    """One MeCab parse at a time: fugashi's nodes point into the tagger's buffers until the next."""


def _load() -> _Reader:
    try:
        import jaconv
        import mojimoji
        import fugashi  # noqa: F401  (imported by misaki.cutlet; named here for the error message)
        from misaki import cutlet
        from misaki.num2kana import Convert
    except ImportError as e:
        raise missing_extra(LANGUAGE, EXTRA, e) from e
    try:
        reader = cutlet.Cutlet()
    except Exception as e:  # fugashi raises RuntimeError when it finds no MeCab dictionary
        raise MissingExtra(f"{LANGUAGE} needs a MeCab dictionary, and fugashi found none ({e}).".replace("\n", " "),
                           f"Run: pip install 'kokoro-litert[{EXTRA}]' (it installs unidic-lite).",
                           param="lang") from e
    return _Reader(reader, cutlet.Word, cutlet.JA_WORDS, max(map(len, cutlet.JA_WORDS)),
                   dict(cutlet.Katakana_Phonetic_Extensions), Convert,
                   jaconv.kata2hira, mojimoji.zen_to_han, mojimoji.han_to_zen, threading.Lock())


READER: Engine[_Reader] = Engine(_load)


@dataclass
class _Node:
    """One MeCab word as cutlet sees it."""

    surface: str
    hira: str
    """Its reading in hiragana (MeCab's pronunciation, else its kana, else the surface itself)."""
    kind: int
    """Cutlet's character type: READABLE (known words, kana), or MeCab's type of an unknown word
    (3 symbol, 5 Latin, 0 Hangul or emoji, 10 Cyrillic, ...)."""
    start: int
    end: int
    """Span in the normalized text."""


def _number_reading(digits: str, r: _Reader, warnings: list) -> str:
    """A digit run in kana, as upstream reads it where upstream can.

    Deviations, where upstream fails with an exception: digits of other scripts (٣, ३) are read as
    their values; runs longer than MAX_NUMBER_DIGITS are read digit by digit (upstream's reader
    returns an English message there, which then fails)."""
    ascii_digits = "".join(str(unicodedata.decimal(c, 0)) for c in digits)
    if len(ascii_digits) <= MAX_NUMBER_DIGITS:
        return r.read_number(ascii_digits)
    warnings.append(f"a {len(digits)}-digit number was read digit by digit "
                    f"(numbers are read up to {MAX_NUMBER_DIGITS} digits)")
    return " ".join(r.read_number(d) for d in ascii_digits)


def _normalize(text: str, r: _Reader, warnings: list) -> Spanned:
    """Cutlet's normalization of text (step 1), with the source span behind each character."""
    s = _WAVE_DASH_BEFORE_NUMBER.sub("から", text)
    for small, full in r.phonetic_extensions.items():
        s = s.replace(small, full)
    s = unicodedata.normalize("NFKC", s)
    s = r.zen_to_han(s, kana=False)
    s = r.han_to_zen(s, digit=False, ascii=False)
    before_numbers = align(text, s)
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    last = 0
    for m in _DIGIT_RUNS.finditer(s):
        reading = " " + _number_reading(m.group(), r, warnings)
        pieces.append(s[last:m.start()])
        spans.extend(before_numbers.spans[last:m.start()])
        pieces.append(reading)
        spans.extend([before_numbers.source_span(m.start(), m.end())] * len(reading))
        last = m.end()
    pieces.append(s[last:])
    spans.extend(before_numbers.spans[last:])
    return Spanned("".join(pieces), spans)


def _tag(normalized: str, r: _Reader, warnings: list) -> list[_Node]:
    nodes = []
    with r.lock:
        cursor = 0
        for node in r.cutlet.tagger(normalized):
            surface = node.surface
            cursor += len(node.white_space)
            start = cursor if normalized.startswith(surface, cursor) else max(normalized.find(surface, cursor), cursor)
            cursor = start + len(surface)
            if surface.isdigit():
                # Digits MeCab keeps as a word (᧑, ፩: not decimal digits, so not read in step 1)
                # fail upstream's reader with an exception; we skip them.
                warnings.append(f"skipped {surface!r} ({describe(surface)}): no Japanese reading")
                continue
            feature = node.feature
            kind = READABLE if node.char_type == KATAKANA or not node.is_unk else node.char_type
            hira = r.kata2hira(feature.pron or feature.kana or surface)
            nodes.append(_Node(surface, hira, kind, start, cursor))
    return nodes


def _dictionary_words(nodes: list[_Node], r: _Reader) -> list[list[_Node]]:
    """Nodes grouped as cutlet groups them: from each node, the longest run of following nodes of
    the same kind whose surfaces spell a word-list word; otherwise the node alone.

    Deviation in cost only: cutlet tries every run up to the end of the same-kind stretch, which
    is cubic in its length (minutes for 2,000 kana); runs longer than the longest word-list word
    cannot match, so we do not try them."""
    groups = []
    i = 0
    while i < len(nodes):
        end, spelled = i + 1, nodes[i].surface
        while end < len(nodes) and nodes[end].kind == nodes[i].kind \
                and len(spelled) + len(nodes[end].surface) <= r.longest_dictionary_word:
            spelled += nodes[end].surface
            end += 1
        while end > i + 1 and "".join(n.surface for n in nodes[i:end]) not in r.dictionary_words:
            end -= 1
        groups.append(nodes[i:end])
        i = end
    return groups


@dataclass
class _Romaji:
    """One grouped word as cutlet writes it."""

    romaji: str
    space_after: bool


def _romaji(groups: list[list[_Node]], r: _Reader) -> list[_Romaji]:
    """Cutlet's romaji of each grouped word and whether a space follows it (cutlet's
    `_romaji_tokens` after its grouping, which we do in `_dictionary_words`)."""
    out: list[_Romaji] = []
    for group in groups:
        surface = "".join(n.surface for n in group)
        word = r.cutlet_word(surface, "".join(n.hira for n in group), group[0].kind)
        romaji = r.cutlet._romaji_word(word)
        this = _Romaji(romaji, True)
        # Cutlet tests membership in these strings with `in`, so an empty romaji (a word it
        # cannot read) counts as an opening bracket: the space goes before it, not after.
        if surface in "「『«" or romaji in "([":
            if out:
                out[-1].space_after = True
            this.space_after = False
        elif surface in "」』»" or romaji in "]).,?!:":
            if out:
                out[-1].space_after = False
        elif romaji == " ":
            this.space_after = False
        out.append(this)
    for word in out:
        word.romaji = word.romaji.replace("っ", "")  # a small tsu left unread (cutlet drops it)
    return out


def _written(romaji: str) -> str:
    """Cutlet's romaji as it appears in the phoneme string."""
    return _SPACES.sub(" ", romaji).replace("(", "«").replace(")", "»")


def _phonemize_chunk(chunk: str, r: _Reader, warnings: list) -> tuple[str, str, list[Word]]:
    """(normalized text, phonemes, words) of one KPipeline chunk."""
    spanned = _normalize(chunk, r, warnings)
    groups = _dictionary_words(_tag(spanned.s, r, warnings), r)
    romaji = _romaji(groups, r)
    joined = "".join(w.romaji + (" " if w.space_after else "") for w in romaji)
    phonemes = _SPACE_AT_GLOTTAL_STOP.sub("", _written(joined.strip()))

    words = []
    for group, read in zip(groups, romaji):
        surface = "".join(n.surface for n in group)
        text = source_text(chunk, spanned, group[0].start, group[-1].end)
        piece = _written(read.romaji).strip()
        if not piece:
            if unspeakable(surface):
                warnings.append(f"skipped {short(text)} ({describe(surface)}): no Japanese reading")
            continue
        dropped = unspeakable(piece)
        if dropped:
            warnings.append(f"{short(text)} is not Japanese and is passed on as it is written; "
                            f"Kokoro has no symbol for {dropped!r}, which is not spoken")
        words.append(Word(text, piece, surface))
    return spanned.s, phonemes, words


def phonemize(text: str) -> PhonemizeResult:
    """Japanese text -> upstream's Kokoro phonemes (one string per KPipeline chunk, joined by a
    space), the words they came from, and warnings for text that is not spoken."""
    return read_chunks(text, "Japanese", READER, _phonemize_chunk)
