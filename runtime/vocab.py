"""Kokoro phoneme strings -> token ids (the 114-symbol vocabulary of config.json)."""

from __future__ import annotations

from kokoro_litert.buckets import MAX_PHONEMES

from .errors import KokoroError


def phoneme_ids(phonemes: str, vocab: dict[str, int]) -> list[int]:
    """Token ids for a phoneme string. Unlike upstream, unknown symbols are an error, not dropped."""
    if not phonemes.strip():
        raise KokoroError("The phoneme string is empty.", "Pass Kokoro phonemes, e.g. --phonemes \"həlˈO wˈɜɹld\".")
    unknown = sorted({c for c in phonemes if c not in vocab})
    if unknown:
        raise KokoroError(f"Symbols {''.join(unknown)!r} are not in Kokoro's phoneme vocabulary.",
                          "Use Kokoro's phoneme alphabet (misaki), or pass text instead of --phonemes.")
    if len(phonemes) > MAX_PHONEMES:
        raise KokoroError(f"{len(phonemes)} phonemes exceed the model's {MAX_PHONEMES}.",
                          "Split the input into shorter sentences.")
    return [vocab[c] for c in phonemes]
