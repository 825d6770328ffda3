"""Kokoro-82M v1.0's nine languages: codes, names, which front-end reads each, and how a voice picks one.

A voice's first letter is its language (af_heart: a, American English; zf_xiaobei: z, Mandarin), as
upstream's `KPipeline` has it. Users may name a language by Kokoro's one-letter code or by
upstream's alias (`KPipeline`'s ALIASES): "e" and "es" are the same language.

Front-ends (`g2p`):

- "english": runtime/text/g2p.py, misaki's lexicons with our own rules (no spaCy), espeak-ng for
  words outside them.
- "espeak": runtime/text/espeak_g2p.py, espeak-ng through upstream's espeak-to-Kokoro symbol map
  (misaki's EspeakG2P); espeak-ng reads numbers, dates and currency itself.
- "mandarin": runtime/text/mandarin.py (the `zh` extra: jieba, pypinyin, cn2an).
- "japanese": runtime/text/japanese.py (the `ja` extra: fugashi, unidic-lite, jaconv, mojimoji).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnknownLanguage


@dataclass(frozen=True)
class Language:
    code: str
    """Kokoro's one-letter code, the first letter of the language's voice names."""
    name: str
    """Upstream's alias for it (an espeak-ng style tag): "en-us", "es", "pt-br", "zh"."""
    label: str
    """In English, for lists: "Brazilian Portuguese"."""
    g2p: str
    """Which front-end reads it: "english", "espeak", "mandarin" or "japanese"."""
    espeak_voice: str | None = None
    """The espeak-ng language the "espeak" front-end (and English's fallback) reads it with."""
    extra: str | None = None
    """The pip extra its front-end needs beyond the base install (`kokoro-litert[zh]`), if any."""
    default_voice: str = "af_heart"
    """The voice that speaks it when a language is named and no voice is."""
    modules: tuple[str, ...] = ()
    """The Python modules its extra provides (found without importing them by `installed`)."""


LANGUAGES: tuple[Language, ...] = (
    Language("a", "en-us", "American English", "english", espeak_voice="en-us", default_voice="af_heart"),
    Language("b", "en-gb", "British English", "english", espeak_voice="en", default_voice="bf_emma"),
    Language("e", "es", "Spanish", "espeak", espeak_voice="es", default_voice="ef_dora"),
    Language("f", "fr-fr", "French", "espeak", espeak_voice="fr-fr", default_voice="ff_siwis"),
    Language("h", "hi", "Hindi", "espeak", espeak_voice="hi", default_voice="hf_alpha"),
    Language("i", "it", "Italian", "espeak", espeak_voice="it", default_voice="if_sara"),
    Language("p", "pt-br", "Brazilian Portuguese", "espeak", espeak_voice="pt-br", default_voice="pf_dora"),
    Language("j", "ja", "Japanese", "japanese", extra="ja", default_voice="jf_alpha",
             modules=("fugashi", "unidic_lite", "jaconv", "mojimoji")),
    Language("z", "zh", "Mandarin Chinese", "mandarin", extra="zh", default_voice="zf_xiaobei",
             modules=("jieba", "pypinyin", "cn2an", "ordered_set")),
)
_BY_KEY = {key: lang for lang in LANGUAGES for key in (lang.code, lang.name)}
DEFAULT = LANGUAGES[0]
CODES = tuple(lang.code for lang in LANGUAGES)


def codes_help() -> str:
    """One line listing every language: "a (en-us, American English), b (en-gb, ...), ..."."""
    return ", ".join(f"{lang.code} ({lang.name}, {lang.label})" for lang in LANGUAGES)


def language(key: str | Language) -> Language:
    """The language for a code ("e") or name ("es", "ES", "pt_BR"); `UnknownLanguage` otherwise."""
    if isinstance(key, Language):
        return key
    norm = key.strip().lower().replace("_", "-") if isinstance(key, str) else None
    if norm not in _BY_KEY:
        raise UnknownLanguage(f"Unknown language {key!r}.", f"Use one of: {codes_help()}.", param="lang")
    return _BY_KEY[norm]


def installed(lang: Language) -> bool:
    """Whether this install can read `lang` (its extra's modules are present), without importing them."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in lang.modules)


def language_of_voice(voice: str) -> Language | None:
    """The language a voice name (or the first voice of a blend 'a:0.7,b:0.3') speaks, from its first
    letter; None for a path or a name without a Kokoro prefix ("af_", "zm_", ...)."""
    first = voice.split(",", 1)[0].split(":", 1)[0].strip()
    if len(first) >= 3 and first[2] == "_" and first[1] in "fm" and first[0] in _BY_KEY:
        return _BY_KEY[first[0]]
    return None


def resolve(lang: str | Language | None, voice: str) -> Language:
    """The language to read text in: `lang` when given, else the voice's, else American English."""
    if lang is not None:
        return language(lang)
    return language_of_voice(voice) or DEFAULT
