"""What marked-up text is cut into before a front-end reads it (runtime/text/markup.py makes them).

A text is a list of segments in reading order:

- `Text`: plain text the language's front-end reads (a `sub` alias or a `say-as` reading with the
  words they stand for in `source`);
- `Fixed`: a word whose phonemes are given (an inline `[word](/phonemes/)`, an SSML `phoneme`, a
  user lexicon entry);
- `Pause`: silence, or a sentence end.

`Text` and `Fixed` carry the speaking rate of their stretch (SSML `prosody rate`). This module has
no imports from the front-ends, so the English G2P and the markup parser can both use it.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAUSE = 10.0
"""Longest silence the markup inserts at one place, in seconds (longer asks are cut to it)."""


@dataclass
class Text:
    """Text the language's front-end reads."""

    text: str
    source: str | None = None
    """The written text every word read from `text` stands for in word timings ("W3C" for the
    alias "World Wide Web Consortium"); None: each word names its own source text."""
    rate: float = 1.0
    """Times the call's speed."""


@dataclass
class Fixed:
    """A word (or words) spoken with the given phonemes, not read by the front-end."""

    text: str
    """The word as written; its `Word.text` in timings unless `source` says otherwise."""
    phonemes: str
    """Kokoro phonemes, already checked against the vocabulary."""
    source: str | None = None
    rate: float = 1.0


@dataclass
class Stressed:
    """A word read by the front-end with its stress moved (hexgrad/kokoro's `[word](-1)`, English
    only): `stress` as misaki's `apply_stress` takes it (-2 strips stress, -1 demotes, 1 promotes, 2
    adds a primary)."""

    text: str
    stress: float
    rate: float = 1.0


@dataclass
class Pause:
    """A place where the chunk ends."""

    seconds: float | None
    """Silence inserted there (the chunks' edge silence trimmed); None: a sentence end with the
    usual pause after a sentence."""


Segment = Text | Fixed | Stressed | Pause
