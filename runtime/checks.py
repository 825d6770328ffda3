"""The checks every front door shares (API, CLI, HTTP, Wyoming): speed, voice, language, text.

Each raises a typed `KokoroError` (runtime/errors.py) naming the parameter at fault, so protocols
map errors by type, never by message text. Limits live here and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from .errors import EmptyInput, SpeedOutOfRange, UnknownVoice
from .text.languages import Language, resolve
from .voices import blend_parts

SPEED_MIN, SPEED_MAX = 0.5, 2.0
"""What Kokoro speaks well; outside it durations collapse or drag."""
DEFAULT_VOICE = "af_heart"


def check_speed(speed) -> float:
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed) \
            or not SPEED_MIN <= speed <= SPEED_MAX:
        raise SpeedOutOfRange(f"Speed {speed} is out of range.",
                              f"Use a speed between {SPEED_MIN} and {SPEED_MAX}.", param="speed")
    return float(speed)


def check_text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise EmptyInput("The input text is empty.", "Pass the text to speak.", param="input")
    return text


def check_voice(spec, known: Collection[str] | None = None) -> str:
    """The spec, checked for shape (names, blend weights above 0); with `known`, every name must be
    one of them (no file paths)."""
    if not isinstance(spec, str) or not spec.strip():
        raise UnknownVoice("The voice is empty.", f"Name a voice, e.g. {DEFAULT_VOICE}.", param="voice")
    names = [name for name, _ in blend_parts(spec)]
    if known is not None:
        for name in names:
            if name not in known:
                close = sorted(v for v in known if name and (v.startswith(name[:2]) or
                                                             v.split("_")[-1] == name.split("_")[-1]))[:5]
                hint = f"Did you mean {', '.join(close)}? " if close else ""
                raise UnknownVoice(f"Unknown voice {name!r}.", f"{hint}List the voices with `kokoro-litert voices`.",
                                   param="voice")
    return spec.strip()


def default_voice(known: Collection[str] | None = None, lang: Language | None = None) -> str:
    """The voice to use when none is named: the language's own (af_heart for American English,
    ef_dora for Spanish, ...) or DEFAULT_VOICE; when `known` lacks it (an exported folder with a few
    voices), the first known voice of that language, else the first known voice."""
    wanted = lang.default_voice if lang is not None else DEFAULT_VOICE
    if known is None or wanted in known:
        return wanted
    from .text.languages import language_of_voice

    same = [v for v in known if lang is None or language_of_voice(v) == lang]
    return (same or list(known) or [wanted])[0]


def check_language(lang, voice: str) -> Language:
    """The language to read text in: `lang` (a code or name) if given, else the voice's own."""
    return resolve(lang, voice)
