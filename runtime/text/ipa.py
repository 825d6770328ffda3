"""IPA -> Kokoro's phoneme symbols, for SSML's <phoneme alphabet="ipa"> (runtime/text/markup.py) and
the hints the markup and the user lexicon give when IPA is written where Kokoro's symbols belong.

Kokoro's alphabet is IPA-based with misaki's conventions: affricates and (for English) diphthongs
are single symbols, English stress sits right before the vowel, Mandarin tones are arrows. See
`ipa_to_kokoro`.
"""

from __future__ import annotations

import re
import unicodedata

from .g2p import KOKORO_VOCAB, LANGS as ENGLISH
from .lexicon import restress

TIES = "\u0361\u035c"
NASAL = "\u0303"  # in Kokoro's vocabulary as a combining mark (French, Portuguese)
SYLLABIC = "\u0329"
RHOTIC_HOOK = "\u02de"
# Tied pairs Kokoro writes as one symbol (misaki's espeak rewrites; English diphthongs per accent).
TIED = {"tʃ": "ʧ", "dʒ": "ʤ", "ts": "ʦ", "dz": "ʣ", "tɕ": "ʨ", "dʑ": "ʥ",
        "eɪ": "A", "aɪ": "I", "ɑɪ": "I", "ɔɪ": "Y", "aʊ": "W", "ɑʊ": "W", "oʊ": "O", "əʊ": "Q"}
# Written without a tie, these pairs are still one sound in every language ("ts" is not: "cats").
UNTIED = {"tʃ": "ʧ", "dʒ": "ʤ", "tɕ": "ʨ", "dʑ": "ʥ"}
ENGLISH_CLUSTERS = ("ts", "dz")  # misaki's English has no ʦ ʣ: "cats" is kˈæts
# English IPA as dictionaries write it -> misaki's symbols. Per accent: American (a), British (b).
ENGLISH_PAIRS = {"eɪ": "A", "aɪ": "I", "ɑɪ": "I", "ɔɪ": "Y", "aʊ": "W", "ɑʊ": "W"}
ENGLISH_SINGLE = {"r": "ɹ", "e": "ɛ", "ɨ": "ᵻ", "ʉ": "u", "x": "k", "ɘ": "ə", "ɵ": "ə"}
AMERICAN = {"oʊ": "O", "əʊ": "O", "o": "O", "ɚ": "əɹ", "ɝ": "ɜɹ", "ɒ": "ɑ", "a": "æ", "ː": ""}
BRITISH = {"oʊ": "Q", "əʊ": "Q", "o": "Q", "ɚ": "ə", "ɝ": "ɜː", "æ": "a", "ɾ": "t", "ʔ": "t"}
# Stand-ins for symbols of the same sound in any language.
ANY_LANGUAGE = {"g": "ɡ", "'": "ˈ", ":": "ː", "ɫ": "l", "ʍ": "w", "ɦ": "h"}
# Marks that only refine a sound Kokoro already has, or only show syllables and phrasing: dropped,
# and named in a warning.
IGNORABLE = (
    ".‿|‖ˑ"  # syllable break, linking, minor and major group, half-long
    "ʷˠˤⁿˡ"  # labialized, velarized, pharyngealized, nasal and lateral release
    "\u032f\u0325\u032c\u0324\u0330"  # non-syllabic, voiceless, voiced, breathy, creaky
    "\u032a\u033a\u033b\u033c\u0339\u031c"  # dental, apical, laminal, linguolabial, more/less rounded
    "\u031f\u0320\u031d\u031e\u0318\u0319"  # advanced, retracted, raised, lowered, ATR, RTR
    "\u0308\u033d\u031a\u0329"  # centralized, mid-centralized, no audible release, syllabic
    + RHOTIC_HOOK
)
TONE_LETTERS = "˥˦˧˨˩"  # IPA tone letters: levels 5..1
TONE_LEVEL = {c: 5 - i for i, c in enumerate(TONE_LETTERS)}


def _tone_arrow(levels: list[int]) -> str:
    """A Mandarin tone contour in IPA tone letters -> misaki's arrow: → high level (55), ↗ rising
    (35), ↓ low or dipping (214, 21), ↘ falling from high (51)."""
    first, last, low = levels[0], levels[-1], min(levels)
    if last > first:
        return "↓" if low < first else "↗"
    if last < first:
        return "↘" if first >= 4 else "↓"
    return "→" if first >= 3 else "↓"


def ipa_to_kokoro(ipa: str, lang: str) -> tuple[str, str, str]:
    """IPA -> Kokoro's symbols for a language: (phonemes, symbols it could not map, marks it dropped).

    Tied pairs become Kokoro's single symbols (t͡ʃ -> ʧ, a͡ɪ -> I); English also maps untied
    diphthongs to misaki's capitals (eɪ A, aɪ I, ɔɪ Y, aʊ W, and oʊ as O in American, Q in
    British), r -> ɹ, and its length marks as the accent's lexicon writes them (American has none);
    its stress marks move to just before the vowel, as misaki writes them. Mandarin tone letters
    become tone arrows. Syllable dots, linking marks and diacritics that only refine a sound are
    dropped (and named). Precomposed nasal vowels (ã) are split into vowel + U+0303."""
    english = lang in ENGLISH
    american = lang == "a"
    text = "".join(unicodedata.normalize("NFD", c) if unicodedata.normalize("NFD", c).endswith(NASAL) else c
                   for c in ipa.strip())
    pairs = dict(UNTIED)
    single = dict(ANY_LANGUAGE)
    if english:
        pairs.update(ENGLISH_PAIRS)
        single.update(ENGLISH_SINGLE)
        accent = AMERICAN if american else BRITISH
        pairs.update({k: v for k, v in accent.items() if len(k) == 2})
        single.update({k: v for k, v in accent.items() if len(k) == 1})
    out: list[str] = []
    dropped: set[str] = set()
    i = 0
    while i < len(text):
        c = text[i]
        if i + 2 < len(text) and text[i + 1] in TIES:
            pair, second = c + text[i + 2], text[i + 2]
            if pair in pairs:
                out.append(pairs[pair])
            elif pair in TIED and not (english and pair in ENGLISH_CLUSTERS):
                out.append(TIED[pair])
            else:  # no single symbol for it: the two sounds in a row
                out.append(single.get(c, c) + single.get(second, second))
            i += 3
            continue
        if text[i:i + 2] in pairs:
            out.append(pairs[text[i:i + 2]])
            i += 2
            continue
        if c in TONE_LEVEL:
            run = c
            while i + len(run) < len(text) and text[i + len(run)] in TONE_LEVEL:
                run += text[i + len(run)]
            if lang == "z":
                out.append(_tone_arrow([TONE_LEVEL[t] for t in run]))
            else:
                dropped.update(run)
            i += len(run)
            continue
        if c == SYLLABIC and english and out:
            out[-1] = "ᵊ" + out[-1]  # misaki writes a syllabic consonant with a reduced vowel: bˈʌtᵊn
        elif c == RHOTIC_HOOK and english:
            out.append("ɹ" if american else "")
        elif c in IGNORABLE or c in TIES:
            dropped.add(c)
        else:
            out.append(single.get(c, c))
        i += 1
    phonemes = "".join(out)
    if american:
        phonemes = re.sub("ɜ(?!ɹ)", "ɜɹ", phonemes)  # NURSE is ɜɹ in misaki's American lexicon
    if english:
        phonemes = restress(phonemes)
    phonemes = re.sub(r"\s+", " ", phonemes).strip()
    unmapped = "".join(sorted({c for c in phonemes if c not in KOKORO_VOCAB}))
    return phonemes, unmapped, "".join(sorted(dropped))
