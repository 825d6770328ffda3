"""What the Mandarin and Japanese front-ends (mandarin.py, japanese.py) share.

- `kpipeline_chunks`: the pieces upstream's `KPipeline` hands its G2P for these languages.
- `align`: which source characters each character of a rewritten text came from, so that a word
  read from "二零二四年" still names the "2024年" the user wrote.
- `Engine`: a heavy object (jieba's dictionary, the MeCab tagger) built once per process, on first
  use, by one thread.
- `unspeakable`, `describe`, `dedupe`: the warnings about text Kokoro will not speak.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Callable, Generic, TypeVar

from ..errors import KokoroError, MissingExtra
from .g2p import KOKORO_VOCAB, PhonemizeResult
from .normalize import Spanned

# Upstream's KPipeline for the non-English languages: text is cut at newlines, then each line into
# chunks of at most this many characters at runs of ASCII sentence marks (a longer sentence stays
# whole). The G2P sees one chunk at a time.
CHUNK_CHARS = 400
_LINES = re.compile(r"\n+")
_SENTENCE_MARKS = re.compile(r"([.!?]+)")

# `align`: a rewrite replaces at most this many source characters (past that, the rest of the text
# counts as one rewrite).
MAX_REWRITE_CHARS = 512


def kpipeline_chunks(text: str) -> list[str]:
    """Every chunk upstream's KPipeline phonemizes for these languages, in order.

    Deviation: upstream then cuts each chunk's phonemes at 510 symbols; callers never truncate."""
    chunks: list[str] = []
    for line in _LINES.split(text.strip()):
        parts = _SENTENCE_MARKS.split(line)
        # Each sentence keeps the marks that end it.
        sentences = [parts[i] + (parts[i + 1] if i + 1 < len(parts) else "") for i in range(0, len(parts), 2)]
        pending = ""
        for sentence in sentences:
            if len(pending) + len(sentence) <= CHUNK_CHARS:
                pending += sentence
            else:
                chunks.append(pending.strip())
                pending = sentence
        chunks.append(pending.strip())
    return [chunk for chunk in chunks if chunk]


def _nfkc(c: str) -> str:
    return unicodedata.normalize("NFKC", c)


def align(source: str, rewritten: str, fold: Callable[[str], str] | None = None) -> Spanned:
    """`rewritten` with the source span behind each of its characters.

    Characters that survive the rewrite (or only change width, NFKC) map to themselves; a stretch
    the rewrite replaced ("2024" -> "二零二四", "，" -> ", ") maps every new character to the whole
    replaced source stretch; inserted characters map to an empty span. `fold(c)` is what a source
    character c becomes when it survives (default: its NFKC form). Close to linear for the local
    rewrites the front-ends make (difflib is quadratic on repetitive text: 1.2 s for 3,840
    characters here)."""
    fold = fold or _nfkc
    folded = [fold(c) or c for c in source]  # a fold to "" (a stripped space) keeps the character
    n, m = len(source), len(rewritten)

    def resume_after_rewrite(i: int, j: int) -> tuple[int, int]:
        """The nearest (source, rewritten) positions past i, j where the texts agree again (or
        both end). Nearest: fewest characters skipped on the longer side, then on both; a
        rewrite replaces a few characters by a few, so a match that skips 2 source characters
        and 5 rewritten ones ("12.5元。" -> "十二点五元.": the "." of the "。") loses to one that
        skips 4 and 4 ("元")."""
        def distance(a: int, b: int) -> tuple[int, int]:
            return max(a - i, b - j), (a - i) + (b - j)

        best = distance(n, m), n, m
        for a in range(i, min(n, i + MAX_REWRITE_CHARS)):
            if a - i >= best[0][0]:
                break
            b = rewritten.find(folded[a], j)
            if b >= 0 and distance(a, b) < best[0]:
                best = distance(a, b), a, b
        return best[1], best[2]

    spans: list[tuple[int, int]] = []
    i = j = 0
    while j < m:
        if i < n and rewritten.startswith(folded[i], j):
            spans.extend([(i, i + 1)] * len(folded[i]))
            i, j = i + 1, j + len(folded[i])
            continue
        end_i, end_j = resume_after_rewrite(i, j)
        if end_j == j:  # source characters the rewrite dropped
            i = end_i
            continue
        spans.extend([(i, end_i)] * (end_j - j))  # an insertion (i == end_i) gets an empty span
        i, j = end_i, end_j
    return Spanned(rewritten, spans)


def source_text(source: str, spanned: Spanned, start: int, end: int) -> str:
    """The source text behind spanned.s[start:end], or that rewritten text where it has none."""
    a, b = spanned.source_span(start, end)
    return source[a:b].strip() or spanned.s[start:end]


T = TypeVar("T")


class Engine(Generic[T]):
    """A heavy object built on first use, once per process even when threads race for it."""

    def __init__(self, build: Callable[[], T]):
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value


def missing_extra(language: str, extra: str, err: ImportError) -> MissingExtra:
    module = err.name or str(err)
    return MissingExtra(f"{language} needs the Python package {module!r}, which is not installed.",
                        f"Run: pip install 'kokoro-litert[{extra}]'", param="lang")


def unspeakable(text: str) -> str:
    """The characters of text Kokoro has no symbol for (its model drops them), punctuation and
    whitespace aside, in order of first appearance."""
    seen: dict[str, None] = {}
    for ch in text:
        if ch not in KOKORO_VOCAB and not ch.isspace() and unicodedata.category(ch)[0] in "LNS":
            seen.setdefault(ch)
    return "".join(seen)


def describe(run: str) -> str:
    """The character's Unicode name ("GRINNING FACE"), or the scripts of a run ("CYRILLIC")."""
    chars = [c for c in run if not c.isspace() and unicodedata.category(c)[0] != "M"] or list(run)
    if len(chars) == 1:
        return unicodedata.name(chars[0], f"U+{ord(chars[0]):04X}")
    names = {unicodedata.name(c, f"U+{ord(c):04X}").split(" ")[0] for c in chars}
    return "/".join(sorted(names))


def short(text: str, limit: int = 40) -> str:
    """text for a warning: repr, cut to `limit` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def dedupe(warnings: list[str]) -> list[str]:
    """One line per distinct warning, in first-seen order, with a count when repeated."""
    counts: dict[str, int] = {}
    for w in warnings:
        counts[w] = counts.get(w, 0) + 1
    return [w if n == 1 else f"{w} (x{n})" for w, n in counts.items()]


def read_chunks(text: str, language: str, reader: "Engine", read_chunk) -> PhonemizeResult:
    """A Chinese or Japanese front-end's whole call: KPipeline's chunks, each read by
    `read_chunk(chunk, reader, warnings) -> (normalized, phonemes, words)`, joined by a space."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    chunks = kpipeline_chunks(text)
    if not chunks:
        return PhonemizeResult("", "")
    loaded = reader.get()
    normalized, phonemes, words, warnings = [], [], [], []
    for chunk in chunks:
        try:
            norm, ps, chunk_words = read_chunk(chunk, loaded, warnings)
        except KokoroError:
            raise
        except Exception as e:
            raise KokoroError(f"The {language} front-end failed on {short(chunk)} ({type(e).__name__}: {e}).",
                              "Please report this text as a kokoro-litert bug.", param="input") from e
        normalized.append(norm)
        if ps:
            phonemes.append(ps)
        words += chunk_words
    return PhonemizeResult(" ".join(normalized), " ".join(phonemes), words, dedupe(warnings))
