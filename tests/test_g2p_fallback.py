"""`phonemize(text, lang, fallback=...)`: what reads words outside the lexicon.

"espeak" (the default) is unchanged; "spell" reads them letter by letter from the lexicon's letter
entries, with one warning per word, so a host without espeak-ng (the Android demo) and Python agree.
"""

from __future__ import annotations

import pytest

from kokoro_litert.runtime.text import lexicon, phonemize
from kokoro_litert.runtime.text.g2p import FALLBACKS

OOV = "Qwxz"  # no lexicon entry, no stem, no compound


def test_default_is_espeak_and_unchanged():
    assert FALLBACKS == ("espeak", "spell")
    for text in ("Hello world.", f"The {OOV} sat.", "Dr. Smith paid $3.50 at 6:30 p.m."):
        assert phonemize(text).phonemes == phonemize(text, fallback="espeak").phonemes


def test_spell_reads_an_unknown_word_letter_by_letter():
    r = phonemize(f"The {OOV} sat.", fallback="spell")
    spelled = lexicon("a").spell(OOV)
    assert spelled and spelled.count("ˈ") == 1  # letters demoted, the last one primary
    assert r.phonemes == f"ðə {spelled} sˈæt."
    assert r.warnings == [f"{OOV!r} is not in the lexicon; spelled it"]


def test_spell_leaves_known_words_alone():
    text = "The quick brown fox jumps over the lazy dog."
    assert phonemize(text, fallback="spell").phonemes == phonemize(text).phonemes
    assert phonemize(text, fallback="spell").warnings == []


def test_spell_skips_what_it_cannot_spell():
    r = phonemize("Hello Qw'xz.", fallback="spell")  # not all letters: nothing to spell
    assert r.phonemes == "həlˈO."
    assert "'Qw\\'xz' is not in the lexicon; skipped it" in r.warnings or any("skipped it" in w for w in r.warnings)


def test_unknown_fallback_is_rejected():
    with pytest.raises(ValueError, match="fallback"):
        phonemize("Hello.", fallback="rules")
