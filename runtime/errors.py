"""The errors users see: what went wrong and what to do about it, typed so that every front door
(API, CLI, HTTP, Wyoming) can answer without reading message text.

    KokoroError                 anything a user can fix; `str()` is one line: problem, then remedy
      InvalidRequest            bad input to a call (HTTP 400)
        EmptyInput              no text, or nothing speakable in it
        InputTooLong            over a front door's length limit (HTTP 413)
        UnknownVoice
        UnknownLanguage
        SpeedOutOfRange
        BadPhonemes             a phoneme string outside Kokoro's alphabet
      MissingExtra              a language or command needs an optional extra (`pip install ...`)
      BundleError               a bundle folder that is missing, incomplete or corrupt

Each class carries a stable `code` (for protocols and scripts) and, for request errors, the name of
the parameter at fault in `param`.
"""

from __future__ import annotations


class KokoroError(Exception):
    """A user-facing error. `str()` is one line: the problem, then the remedy."""

    code = "kokoro_error"
    """Stable machine-readable kind, e.g. "unknown_voice"; protocols send it as is."""

    def __init__(self, problem: str, remedy: str = "", param: str | None = None):
        self.problem = problem
        self.remedy = remedy
        self.param = param
        """The request parameter at fault ("voice", "speed", "lang", "input"), when there is one."""
        super().__init__(f"{problem} {remedy}".strip() if remedy else problem)


class InvalidRequest(KokoroError):
    code = "invalid_request"


class EmptyInput(InvalidRequest):
    code = "empty_input"


class InputTooLong(InvalidRequest):
    code = "input_too_long"


class UnknownVoice(InvalidRequest):
    code = "unknown_voice"


class UnknownLanguage(InvalidRequest):
    code = "unknown_language"


class SpeedOutOfRange(InvalidRequest):
    code = "speed_out_of_range"


class BadPhonemes(InvalidRequest):
    code = "bad_phonemes"


class MissingExtra(KokoroError):
    code = "missing_extra"


class BundleError(KokoroError):
    code = "bundle_error"
