"""Spanish, French, Hindi, Italian and Brazilian Portuguese: espeak-ng, as upstream feeds Kokoro.

Upstream (hexgrad/kokoro 0.9.4 `KPipeline`, misaki 0.9.4 `EspeakG2P`) reads these languages with
phonemizer's espeak backend (punctuation preserved, stress kept, ties marked, language-switch flags
removed) and then rewrites espeak's tied pairs into Kokoro's single symbols. The voices were trained
on exactly that, so this module reproduces the whole chain, including its quirks, with our own code
on the same libespeak-ng (espeakng-loader) and no phonemizer:

1. Quotes and brackets: « » become “ ”, and ( ) become « » (phonemizer would otherwise read them as
   marks to split at; upstream turns them back at the end).
2. Punctuation is cut out before espeak sees the text: every run of marks (with the spaces around it)
   splits the text into pieces, and each piece is phonemized on its own. A mark between two digits
   splits a number too ("3.5" is read "three" "five", "10:30" "ten" "thirty"): upstream does the same.
3. Each piece: espeak-ng's clauses joined by spaces, whitespace tidied, "(en)"-style language-switch
   flags removed (a foreign word keeps the other language's phonemes), one trailing space per word.
4. The marks go back where they were, spaces re-attached the way phonemizer does it.
5. Tied pairs become Kokoro symbols (a^ɪ -> I, t^ʃ -> ʧ, ...); leftover ties and hyphens are dropped.

Numbers, dates, times and currency are espeak-ng's own readings in each language. Symbols outside
Kokoro's vocabulary (¿ ¡ « », some diacritics) stay in this string as upstream's does; the dispatcher
(runtime/text/__init__.py) drops them before synthesis, as upstream's model does.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import regex

from . import espeak
from .g2p import Break, PhonemizeResult, Word
from .languages import Language

# phonemizer's default punctuation marks: a run of them, with the spaces around it, cuts the text.
MARKS = ';:,.!?¡¿—…"«»“”(){}[]'
_MARK_RUN = re.compile(r"(\s*[" + re.escape(MARKS) + r"]+\s*)+")
_SWITCH_FLAG = re.compile(r"\(.+?\)")
# misaki's espeak-to-Kokoro rewrites for these languages: tied pairs -> one symbol.
TIED_TO_KOKORO = (
    ("a^ɪ", "I"), ("a^ʊ", "W"), ("d^z", "ʣ"), ("d^ʒ", "ʤ"), ("e^ɪ", "A"), ("o^ʊ", "O"), ("s^s", "S"),
    ("t^s", "ʦ"), ("t^ʃ", "ʧ"), ("ɔ^ɪ", "Y"), ("ə^ʊ", "Q"),
)
TIE = "^"
NATIVE_SCRIPTS = {"h": r"[\p{Devanagari}\p{Latin}]"}  # espeak-ng's Hindi reads English words too; others: Latin
DANDAS = ("।", "॥")  # Devanagari sentence ends
_DANDA_SENTENCE = re.compile(r".*?(?:[।॥]+[”\"’»)\]]*(?=\s|$)|$)", re.S)  # up to a danda and its closing marks


@dataclass
class _Mark:
    text: str
    where: str  # "begin", "end", "inside", or "alone" (the whole text is marks)


def _cut_at_marks(text: str) -> tuple[list[str], list[_Mark]]:
    """The text's pieces between runs of marks (empty pieces dropped), and the runs in order."""
    runs = list(_MARK_RUN.finditer(text))
    if not runs:
        return [text], []
    if len(runs) == 1 and runs[0].group() == text:
        return [], [_Mark(text, "alone")]
    marks = []
    for i, run in enumerate(runs):
        if i == 0 and text.startswith(run.group()):
            marks.append(_Mark(run.group(), "begin"))
        elif i == len(runs) - 1 and text.endswith(run.group()):
            marks.append(_Mark(run.group(), "end"))
        else:
            marks.append(_Mark(run.group(), "inside"))
    pieces = []
    rest = text
    for mark in marks:
        # Cut at the mark's first occurrence in what is left (phonemizer's str.split), which is
        # not always where the run was found; kept so the pieces are upstream's.
        head, _, rest = rest.partition(mark.text)
        pieces.append(head)
    pieces.append(rest)
    return [p for p in pieces if p], marks


def _phonemize_piece(piece: str, language: str) -> str:
    """One piece through espeak-ng, tidied as phonemizer does; each word followed by one space."""
    line = espeak.tied_ipa(piece, language)
    line = line.strip().replace("\n", " ").replace("  ", " ")
    line = re.sub(r"_+", "_", line)
    line = re.sub(r"_ ", " ", line)
    line = _SWITCH_FLAG.sub("", line)
    if not line:
        return ""
    return "".join(word.strip().replace(espeak.IPA_TIE, TIE) + " " for word in line.split(" "))


def _put_marks_back(pieces: list[str], marks: list[_Mark]) -> str:
    """The phonemized pieces with the marks restored between them: phonemizer's restore for one line
    of text, of which upstream keeps only the first output line."""
    out: list[str] = []
    ended = False  # an end mark closed the line: phonemizer would start a second output line
    while pieces or marks:
        if not marks:
            out.extend(p if p.endswith(" ") else p + " " for p in pieces)
            pieces = []
        elif not pieces:
            out.append("".join(m.text for m in marks))
            marks = []
        elif ended:
            out.append(pieces.pop(0))
        else:
            mark = marks.pop(0)
            if pieces[0].endswith(" "):
                pieces[0] = pieces[0][:-1]
            space = "" if mark.text.endswith(" ") else " "
            if mark.where == "begin":
                pieces[0] = mark.text + pieces[0]
            elif mark.where == "end":
                out.append(pieces.pop(0) + mark.text + space)
                ended = True
            elif len(pieces) == 1:
                pieces[0] += mark.text
            else:
                first = pieces.pop(0)
                pieces[0] = first + mark.text + pieces[0]
    return out[0] if out else ""


def _to_kokoro(ps: str) -> str:
    for tied, symbol in TIED_TO_KOKORO:
        ps = ps.replace(tied, symbol)
    return ps.replace(TIE, "").replace("-", "").replace("«", "(").replace("»", ")")


def _prepare(text: str) -> str:
    return text.replace("«", "“").replace("»", "”").replace("(", "«").replace(")", "»")


def upstream_phonemes(text: str, language: str) -> str:
    """Upstream's phoneme string for one line of text read as `language` (an espeak tag), symbols
    outside Kokoro's vocabulary included. See the module docstring for the steps."""
    pieces, marks = _cut_at_marks(_prepare(text))
    return _to_kokoro(_put_marks_back([_phonemize_piece(p, language) for p in pieces], marks).strip())


def _piece_words(piece: str, piece_ps: str, language: str) -> list[Word]:
    """The source words of one piece (text between marks) with their phonemes, for word timings.

    espeak reads a piece whole, so a word's phonemes can depend on its neighbours and a number may
    become several words ("1 250" -> "mˈil døsɑ̃ sɛ̃kˈɑ̃t"). Words are matched to the piece's phoneme
    words by count: one each when the counts agree, else by the count each word gives alone; when
    that does not add up either, the piece is one timed unit."""
    tokens = piece.split()
    ps_words = _to_kokoro(piece_ps).split()
    if not tokens or not ps_words:
        return []
    if len(tokens) == len(ps_words):
        counts = [1] * len(tokens)
    else:
        counts = [len(_phonemize_piece(t, language).split()) for t in tokens]
        if sum(counts) != len(ps_words):
            return [Word(" ".join(tokens), " ".join(ps_words), piece)]
    words, at = [], 0
    for token, n in zip(tokens, counts):
        if n:
            words.append(Word(token, " ".join(ps_words[at:at + n]), token))
        at += n
    return words


def _foreign_words(text: str, lang: Language) -> list[str]:
    """A warning per word written in a script the language does not use (espeak-ng still reads it:
    in another language's sounds, or letter by letter, as upstream does)."""
    native = regex.compile(NATIVE_SCRIPTS.get(lang.code, r"\p{Latin}"))
    seen, out = set(), []
    for word in text.split():
        foreign = sorted({unicodedata.name(c, "?").split(" ")[0] for c in word if c.isalpha() and not native.match(c)})
        if foreign and word not in seen:
            seen.add(word)
            out.append(f"{word!r} is {'/'.join(foreign)} script, not {lang.label}: espeak-ng read it its own way "
                       "(another language's sounds or letter names)")
    return out


def phonemize(text: str, lang: Language) -> PhonemizeResult:
    """Upstream's phonemes for `text` in an espeak language, with its words for timing.

    Lines are read one by one (upstream splits its input at newlines too) and joined by a space.
    A danda ends a sentence that espeak leaves unmarked: each such sentence is read on its own
    (espeak reads it as a clause of its own anyway, so the phonemes are the same) and where it ends
    goes into `breaks`."""
    language = lang.espeak_voice
    phonemes, words, breaks = "", [], []
    for line in re.split(r"\n+", text):
        for sentence in _DANDA_SENTENCE.findall(line.strip()):
            pieces, marks = _cut_at_marks(_prepare(sentence))
            piece_ps = [_phonemize_piece(p, language) for p in pieces]
            ps = _to_kokoro(_put_marks_back(list(piece_ps), marks).strip())
            if not ps:
                continue
            for piece, pps in zip(pieces, piece_ps):
                words += _piece_words(piece, pps, language)
            phonemes += (" " if phonemes else "") + ps
            if sentence.rstrip().rstrip('”"’»)]').endswith(DANDAS):
                breaks.append(Break(len(phonemes)))
    breaks = [b for b in breaks if b.at < len(phonemes)]
    return PhonemizeResult(normalized=text, phonemes=phonemes, words=words, warnings=_foreign_words(text, lang),
                           breaks=breaks)
