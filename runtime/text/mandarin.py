"""Mandarin Chinese (lang "z"): the phonemes upstream's Kokoro-82M pipeline feeds its Chinese voices.

Upstream (hexgrad/kokoro 0.9.4 `KPipeline(lang_code='z')` with the Kokoro-82M v1.0 weights, misaki
0.9.4 `ZHG2P(version=None)`, its "legacy" path) reads each KPipeline chunk (runtime/text/cjk.py) so:

1. cn2an rewrites Arabic numbers as Chinese numerals ("2024年" -> "二零二四年", "50%" -> "百分之五十").
2. Chinese punctuation becomes ASCII marks followed by a space (misaki's `map_punctuation`).
3. The text is cut into runs of CJK Unified Ideographs (U+4E00-U+9FFF) and runs of anything else.
   jieba segments each ideograph run into words; each word gets pypinyin's TONE3 pinyin, misaki's
   pinyin-to-IPA table and tone arrows (→ ↗ ↓ ↘), words separated by a space. Other runs (Latin
   words, marks, other scripts) pass through exactly as written.
4. Every U+032F (non-syllabic mark) is removed.

We call cn2an, jieba and misaki's own static helpers (`ZHG2P.map_punctuation`, `ZHG2P.word2ipa`),
and do steps 3-4 ourselves so that each jieba word becomes a `Word` with its own phonemes.

Text Mandarin cannot read passes through as upstream passes it; where it holds letters or symbols
Kokoro has no phoneme for (the model drops them: the "P" of "iPhone", Hangul, kana, emoji, digits
of a number too long for cn2an), a warning names it.

Needs the `zh` extra: jieba, pypinyin, cn2an, ordered-set.
"""

from __future__ import annotations

import logging
import os
import re
import warnings as py_warnings
from dataclasses import dataclass
from typing import Any

import regex

from ..cache import cache_root
from .cjk import Engine, align, describe, missing_extra, read_chunks, short, source_text, unspeakable
from .g2p import PhonemizeResult, Word
from .normalize import Spanned

LANGUAGE = "Mandarin (lang 'z')"
EXTRA = "zh"
IDEOGRAPHS = "\u4e00-\u9fff"  # the only characters upstream's legacy path reads as Chinese
_RUNS = re.compile(f"[{IDEOGRAPHS}]+|[^{IDEOGRAPHS}]+")
NON_SYLLABIC = "\u032f"  # upstream removes it from its output (step 4)
# Tokens of a run that passes through: words (letters, digits, marks joined to them), else one
# character cluster at a time (a mark, a symbol, an emoji).
_PASS_THROUGH_TOKENS = regex.compile(r"\s+|[\p{L}\p{M}\p{N}'’\-]+|\X")
JIEBA_CACHE = "jieba"  # folder under kokoro-litert's cache root for jieba's dictionary cache


@dataclass
class _Reader:
    """The Mandarin readers, loaded once per process."""

    to_chinese_numerals: Any
    """cn2an.transform(text, "an2cn")."""
    zhg2p: Any
    """misaki.zh.ZHG2P: its static `map_punctuation` and `word2ipa`."""
    segmenter: Any
    """A jieba.Tokenizer on jieba's default dictionary (what upstream's `jieba.lcut` uses)."""


def _jieba_segmenter(jieba: Any) -> Any:
    """A jieba tokenizer whose dictionary cache lives in kokoro-litert's cache, never in /tmp.

    jieba builds a prefix dictionary from its word list and caches it as a file (reading the
    file back saves little here: 1.4 s against 1.6 s on a busy 2-core machine); where the cache
    folder cannot be written we build the dictionary without a cache file."""
    if jieba.default_logger.level == logging.DEBUG:  # jieba's own default: a line per load on stderr
        jieba.setLogLevel(logging.WARNING)
    segmenter = jieba.Tokenizer()
    folder = cache_root() / JIEBA_CACHE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK)
    except OSError:
        writable = False
    if writable:
        segmenter.tmp_dir = str(folder)
        segmenter.initialize()
    else:
        segmenter.FREQ, segmenter.total = segmenter.gen_pfdict(segmenter.get_dict_file())
        segmenter.initialized = True
    return segmenter


def _load() -> _Reader:
    try:
        import cn2an
        import jieba
        from misaki.zh import ZHG2P  # imports pypinyin and ordered_set (misaki.transcription)
    except ImportError as e:
        raise missing_extra(LANGUAGE, EXTRA, e) from e
    # cn2an reports numbers it cannot read (over 16 digits) with warnings.warn on stderr; we find
    # those digits in its output instead and warn through PhonemizeResult.warnings.
    py_warnings.filterwarnings("ignore", category=UserWarning, module=r"cn2an\.")

    def to_chinese_numerals(text: str) -> str:
        return cn2an.transform(text, "an2cn")

    return _Reader(to_chinese_numerals, ZHG2P, _jieba_segmenter(jieba))


READER: Engine[_Reader] = Engine(_load)


def _word_phonemes(word: str, r: _Reader, warnings: list) -> str:
    """Upstream's phonemes for one jieba word.

    Deviation, where upstream fails with an exception: ideographs pypinyin has no reading for
    (68 in U+4E00-U+9FFF, e.g. 兙 瓧) are skipped with a warning and the rest of the word is read
    around them."""
    try:
        return r.zhg2p.word2ipa(word)
    except Exception:
        pass
    pieces, readable = [], ""
    for ch in word:
        try:
            r.zhg2p.word2ipa(ch)
            readable += ch
        except Exception:
            warnings.append(f"skipped {ch!r} ({describe(ch)}): no Mandarin reading")
            if readable:
                pieces.append(r.zhg2p.word2ipa(readable))
            readable = ""
    if readable:
        pieces.append(r.zhg2p.word2ipa(readable))
    return "".join(pieces)


def _pass_through_words(run: str, start: int, chunk: str, spanned: Spanned, warnings: list) -> list[Word]:
    """Words of a run that is not read (step 3's other runs), with warnings for what Kokoro drops."""
    words = []
    for m in _PASS_THROUGH_TOKENS.finditer(run):
        token = m.group()
        if token.isspace():
            continue
        text = source_text(chunk, spanned, start + m.start(), start + m.end())
        phonemes = token.replace(NON_SYLLABIC, "")
        dropped = unspeakable(phonemes)
        if not dropped:
            pass
        elif token.isascii() and token.isdigit():
            warnings.append(f"the number {short(text)} is too long to read in Chinese and is not spoken")
        elif all(c in dropped or c in "'’-" for c in phonemes):
            warnings.append(f"skipped {short(text)} ({describe(token)}): no Mandarin reading")
        else:
            warnings.append(f"{short(text)} is not Chinese and is passed on as it is written; "
                            f"Kokoro has no symbol for {dropped!r}, which is not spoken")
        if phonemes:
            words.append(Word(text, phonemes, token))
    return words


def _phonemize_chunk(chunk: str, r: _Reader, warnings: list) -> tuple[str, str, list[Word]]:
    """(normalized text, phonemes, words) of one KPipeline chunk."""
    try:
        converted = r.to_chinese_numerals(chunk)
    except Exception:
        converted = chunk
        warnings.append(f"could not read the numbers in {short(chunk)}; their digits are not spoken")
    normalized = r.zhg2p.map_punctuation(converted)
    spanned = align(chunk, normalized, fold=r.zhg2p.map_punctuation)
    pieces: list[str] = []
    words: list[Word] = []
    for run in _RUNS.finditer(normalized):
        if "\u4e00" <= run.group()[0] <= "\u9fff":
            at = run.start()
            read = []
            for w in r.segmenter.lcut(run.group(), cut_all=False):
                ps = _word_phonemes(w, r, warnings).replace(NON_SYLLABIC, "")
                read.append(ps)
                if ps:
                    words.append(Word(source_text(chunk, spanned, at, at + len(w)), ps, w))
                at += len(w)
            pieces.append(" ".join(ps for ps in read if ps))
        else:
            pieces.append(run.group().replace(NON_SYLLABIC, ""))
            words += _pass_through_words(run.group(), run.start(), chunk, spanned, warnings)
    return normalized, "".join(pieces), words


def phonemize(text: str) -> PhonemizeResult:
    """Mandarin text -> upstream's Kokoro phonemes (one string per KPipeline chunk, joined by a
    space), the words they came from, and warnings for text that is not spoken."""
    return read_chunks(text, "Mandarin", READER, _phonemize_chunk)
