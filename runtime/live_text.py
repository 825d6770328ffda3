"""Text that arrives in pieces (an LLM's tokens, a pipe) cut into units that can be spoken before the
rest has arrived.

    segmenter = Segmenter()
    for piece in pieces:
        for unit in segmenter.push(piece):
            speak(unit.text)              # unit.end: "sentence", "clause", "words" or "final"
    for unit in segmenter.finish():
        speak(unit.text)

The cuts mirror how a whole text is chunked (runtime/api.py), so a text streamed in any pieces is
chunked as it would be whole wherever the two can agree:

- the first unit ends at the first clause mark (, ; : — and the CJK ， 、 ； ：) followed by a space,
  so the first audio comes early (a whole text's first chunk ends at a clause too), once the
  sentence is seen to be long (LOOKAHEAD_WORDS more words, or it ends after SPLIT_SENTENCE_WORDS);
- every unit ends at a sentence end: . ! ? … (with closing quotes or brackets) followed by a space and
  then a capital letter, a digit, an opening quote or a letter of a script without case; or a
  newline; or the CJK 。 ！ ？ at once; or a danda; never after a title-like abbreviation ("Dr.",
  "St.", "J.") or inside a `[word](/phonemes/)` override or a `[pause:...]` tag; SSML (a text that
  starts with `<speak>`) is held whole until the text ends;
- a unit with no mark in MAX_WORDS words is cut at the best word boundary in it: before a
  conjunction, relative or preposition of the language when there is one in its second half, else
  before its last word (for scripts without spaces, every MAX_CHARS characters);
- `finish()` returns the rest.

A clause mark after the first unit does not end a unit: by then audio is playing, and whole sentences
sound better than clauses joined with short pauses (runtime/api.py's measurements).
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from .text.markup import unfinished_mark

FIRST_CLAUSE_MIN_WORDS = 2  # "Well," alone is too short a first chunk to sound natural
SPLIT_SENTENCE_WORDS = 8
"""A first sentence shorter than this is spoken whole (a whole text's first chunk is cut only when
its first sentence is longer than api.FIRST_CHUNK_PHONEMES, about 6-8 words)."""
LOOKAHEAD_WORDS = 3
"""Words that must follow a first clause mark, with no sentence end among them, before the clause
is cut off on its own: then the sentence is long enough to split (at 20 tokens/s a few words are
about 0.1 s)."""
MAX_WORDS = 14  # words without a mark before a unit is cut at a word boundary
MAX_CHARS = 40  # the same for scripts without spaces (Chinese, Japanese)

_CLOSERS = "\"'”’»)]}」』）》】"
_SENTENCE = regex.compile(
    rf"[.!?…]+[{regex.escape(_CLOSERS)}]*(?=\s+(?:[\p{{Lu}}\p{{Lt}}\p{{Lo}}\d\"“«(\[¿¡]))"  # . then a new sentence
    rf"|[.!?…]+[{regex.escape(_CLOSERS)}]*[ \t]*\n"  # . at a line end
    rf"|[。！？]+[{regex.escape(_CLOSERS)}]*"  # CJK: no space follows
    rf"|[।॥]+[{regex.escape(_CLOSERS)}]*(?=\s)"
    r"|\n\s*\n"  # a blank line ends a paragraph
)
_CLAUSE = regex.compile(rf"[,;:—]+[{regex.escape(_CLOSERS)}]*(?=\s)|[，、；：]")
_ABBREVIATION = regex.compile(r"(?:^|\s)(?:\p{Lu}\p{Ll}{0,2}|\p{Lu}(?:\.\p{Lu})*)\.$")
_NO_SPACES = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
# Words a phrase may start with: a cut before one of them keeps a phrase whole (per language code).
PHRASE_STARTS = {
    "a": "and but or so because which that who whom whose when where while if although though as than "
         "to of in on at for with from by about into over after before until during without",
    "e": "y e o u pero que porque cuando donde mientras si aunque como para por de en con sin sobre entre hasta",
    "f": "et ou mais que qui quand où lorsque parce si comme pour par de dans avec sans sur sous entre après avant",
    "h": "और या लेकिन कि जो जब जहाँ क्योंकि अगर तो",
    "i": "e o ma che chi quando dove mentre se perché come per di in con senza su tra fra dopo prima",
    "p": "e ou mas que quem quando onde enquanto se porque como para por de em com sem sobre entre até após",
}
PHRASE_STARTS["b"] = PHRASE_STARTS["a"]


@dataclass
class Unit:
    """A stretch of text that can be spoken on its own."""

    text: str
    end: str
    """Why it ended: "sentence", "clause" (the first unit's clause mark), "words" (no mark in
    MAX_WORDS words: cut at a word boundary) or "final" (the text ended)."""


class Segmenter:
    """Cuts text arriving in pieces into `Unit`s. See the module docstring for the rules."""

    def __init__(self, lang: str = "a"):
        self.lang = lang
        self.buffer = ""
        self.units = 0
        self._starts = frozenset(PHRASE_STARTS.get(lang, "").split())

    def push(self, piece: str) -> list[Unit]:
        self.buffer += piece
        out = []
        while (unit := self._next()) is not None:
            if unit.text:  # a cut with nothing before it (a blank line) only consumes text
                out.append(unit)
        return out

    def flush(self) -> list[Unit]:
        """What has arrived, as a unit cut at a word boundary (the source paused): [] when empty or
        inside an unfinished `[...](...)`."""
        if not self.buffer.strip() or unfinished_mark(self.buffer) is not None or \
                self.buffer.lstrip().startswith("<speak"):
            return []
        return [self._emit(len(self.buffer), "words")]

    def finish(self) -> list[Unit]:
        rest, self.buffer = self.buffer.strip(), ""
        return [Unit(rest, "final")] if rest else []

    def _emit(self, end: int, kind: str) -> Unit:
        text, self.buffer = self.buffer[:end].strip(), self.buffer[end:]
        if text:
            self.units += 1
        return Unit(text, kind)

    def _next(self) -> Unit | None:
        text = self.buffer
        if text.lstrip().startswith("<speak"):
            return None
        for m in _SENTENCE.finditer(text):
            head = text[: m.start() + 1]
            if unfinished_mark(head) is not None or (text[m.start()] == "." and _ABBREVIATION.search(head)):
                continue
            cut = self._clause(text[: m.start()]) if self.units == 0 else None
            if cut and len(text[: m.end()].split()) >= SPLIT_SENTENCE_WORDS:
                return self._emit(cut, "clause")
            return self._emit(m.end(), "sentence")
        if self.units == 0 and (cut := self._clause(text)) and \
                (len(regex.findall(r"\S+\s", text[cut:])) >= LOOKAHEAD_WORDS or _NO_SPACES.search(text[:cut])):
            return self._emit(cut, "clause")
        return self._word_cut(text)

    def _clause(self, text: str) -> int | None:
        """Where the first clause of `text` ends, if it has one of at least FIRST_CLAUSE_MIN_WORDS words."""
        for m in _CLAUSE.finditer(text):
            head = text[: m.end()]
            if unfinished_mark(head) is not None:
                continue
            if len(head.split()) >= FIRST_CLAUSE_MIN_WORDS or _NO_SPACES.search(head):
                return m.end()
        return None

    def _word_cut(self, text: str) -> Unit | None:
        if _NO_SPACES.search(text):
            if len(text.strip()) <= MAX_CHARS:
                return None
            return self._emit(MAX_CHARS + len(text) - len(text.lstrip()), "words")
        words = list(regex.finditer(r"\S+", text))
        # The last word may still be growing (the next piece may continue it): it never counts.
        if len(words) <= MAX_WORDS or unfinished_mark(text) is not None:
            return None
        complete = words[:MAX_WORDS + 1]
        best = next((w for w in reversed(complete[len(complete) // 2:])
                     if w.group().lower().strip(_CLOSERS + "¿¡\"“(") in self._starts), complete[-1])
        return self._emit(best.start(), "words")
