"""espeak-ng via ctypes on espeakng-loader's libespeak-ng: English's fallback for words outside the
lexicon, and the reader of the espeak languages (runtime/text/espeak_g2p.py).

No system package and no `phonemizer`: the shared library and its data directory ship in the
`espeakng-loader` wheel. We call four C functions (espeak_Initialize, espeak_ListVoices,
espeak_SetVoiceByName, espeak_TextToPhonemes). For English we map espeak's IPA into Kokoro's
symbols the way upstream misaki's EspeakFallback does (A I O W Y Q diphthongs, ʤ ʧ affricates,
ɚ -> əɹ, syllabic consonants -> ᵊ + consonant, no length marks in American English).
"""

from __future__ import annotations

import ctypes
import re
import threading

AUDIO_OUTPUT_SYNCHRONOUS = 0x02  # we only ask for phonemes; no audio device is opened
ESPEAK_CHARS_UTF8 = 1
TIE = "^"
# IPA output (bit 1), a tie character between letters of one phoneme (bit 7, char in bits 8-23).
PHONEME_MODE = 0x02 | 0x80 | (ord(TIE) << 8)
VOICES = {"a": "en-us", "b": "en"}  # espeak-ng's "en" voice is British English

# espeak IPA -> Kokoro symbols, longest first. Shared by both accents; accent-specific steps follow.
_COMMON = sorted({
    "a^ɪ": "I", "a^ʊ": "W", "e^ɪ": "A", "ɔ^ɪ": "Y", "d^ʒ": "ʤ", "t^ʃ": "ʧ",
    "ə^l": "ᵊl", "ʲo": "jo", "ʲə": "jə", "ʲ": "", "r": "ɹ", "x": "k", "ç": "k", "ɐ": "ə", "ɬ": "l", "\u0303": "", "-": "",
}.items(), key=lambda kv: -len(kv[0]))
_US = (("o^ʊ", "O"), ("ɚ", "əɹ"), ("ɝ", "ɜɹ"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ː", ""),
       ("e", "A"), ("o", "ɔ"))
_GB = (("ə^ʊ", "Q"), ("e^ə", "ɛː"), ("iə", "ɪə"), ("ɚ", "ə"), ("e", "A"), ("o", "ɔ"))

_lock = threading.Lock()
IPA_TIE = "\u0361"  # espeak's own tie character, what upstream's phonemizer asks for (then rewrites)


class _VoiceStruct(ctypes.Structure):
    """espeak_VOICE (speak_lib.h); `languages` is (priority byte, tag, NUL) pairs, ended by a 0 byte."""

    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]
_lib = None
_voice = None


class EspeakUnavailable(RuntimeError):
    """libespeak-ng could not be loaded or initialized."""


def _library():
    global _lib
    if _lib is None:
        try:
            import espeakng_loader
        except ImportError as e:
            raise EspeakUnavailable("espeakng-loader is not installed; "
                                    "`pip install espeakng-loader` for the out-of-lexicon fallback") from e
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceStruct))
        data = espeakng_loader.get_data_path().encode()
        if lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0) <= 0:
            raise EspeakUnavailable(f"espeak_Initialize failed with data path {data!r}")
        _lib = lib
    return _lib


def raw_ipa(text: str, lang: str) -> str:
    """espeak-ng's IPA for text (clauses joined by spaces), ties marked with '^'."""
    global _voice
    with _lock:
        lib = _library()
        if _voice != lang:
            if lib.espeak_SetVoiceByName(VOICES[lang].encode()) != 0:
                raise EspeakUnavailable(f"espeak-ng has no voice {VOICES[lang]!r}")
            _voice = lang
        buf = ctypes.c_char_p(text.encode("utf-8"))
        ptr = ctypes.pointer(buf)
        out = []
        while ptr.contents.value:
            ps = lib.espeak_TextToPhonemes(ptr, ESPEAK_CHARS_UTF8, PHONEME_MODE)
            if ps:
                out.append(ps.decode("utf-8", errors="replace"))
    return " ".join(out)


def _voice_identifier(lib, language: str) -> str:
    """The first voice espeak-ng lists for a language tag ("es" -> "roa/es"), as phonemizer picks it."""
    voices = lib.espeak_ListVoices(None)
    i = 0
    while voices[i]:
        voice = voices[i].contents
        if voice.languages[1:].decode() == language:
            return voice.identifier.decode()
        i += 1
    raise EspeakUnavailable(f"espeak-ng has no voice for language {language!r}")


_identifiers: dict[str, str] = {}


def tied_ipa(text: str, language: str) -> str:
    """espeak-ng's IPA for text read as `language` (an espeak tag: "es", "pt-br"): the clauses espeak
    returns joined by spaces, letters of one phoneme tied by U+0361. Exactly the call upstream's
    phonemizer makes (EspeakWrapper.text_to_phonemes with a tie)."""
    global _voice
    with _lock:
        lib = _library()
        if language not in _identifiers:
            _identifiers[language] = _voice_identifier(lib, language)
        key = ("tag", language)
        if _voice != key:
            if lib.espeak_SetVoiceByName(_identifiers[language].encode()) != 0:
                raise EspeakUnavailable(f"espeak-ng cannot load the voice for {language!r}")
            _voice = key
        ptr = ctypes.pointer(ctypes.c_char_p(text.encode("utf-8")))
        out = []
        # Until espeak sets the pointer to NULL: an empty remainder can still hold a buffered clause
        # (after a danda, say), which would otherwise leak into the next call's output.
        while ptr.contents.value is not None:
            ps = lib.espeak_TextToPhonemes(ptr, ESPEAK_CHARS_UTF8, 0x02 | 0x80 | (ord(IPA_TIE) << 8))
            if ps:
                out.append(ps.decode("utf-8", errors="replace"))
    return " ".join(out)


def to_kokoro(ipa: str, lang: str) -> str:
    """Map espeak IPA to Kokoro/misaki symbols."""
    ps = re.sub(r"\([a-z-]+\)", "", ipa)  # language-switch flags like "(fr)"
    ps = re.sub("ʔˌ?n\u0329", "ʔn", ps)  # glottal-stop + syllabic n ("button"): no schwa, as upstream
    ps = re.sub(r"(\S)\u0329", r"ᵊ\1", ps)  # syllabic consonant: n̩ -> ᵊn
    for old, new in _COMMON:
        ps = ps.replace(old, new)
    for old, new in (_GB if lang == "b" else _US):
        ps = ps.replace(old, new)
    ps = ps.replace(TIE, "")
    return " ".join(ps.split())


def phonemize_word(word: str, lang: str) -> str:
    """Kokoro phonemes for one out-of-lexicon word ('' if espeak produced nothing)."""
    return to_kokoro(raw_ipa(word, lang), lang)
