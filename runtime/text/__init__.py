"""Text front-end: text in any of Kokoro's nine languages -> Kokoro phonemes, word by word.

    from kokoro_litert.runtime.text import phonemize
    r = phonemize("Dr. Smith paid $3.50 at 6:30 p.m.", lang="a")   # a code or name: "e", "es", "zh"
    r.normalized, r.phonemes, r.words, r.warnings

Each language has its front-end (runtime/text/languages.py says which):

- English (a, b): `normalize` (numbers, currency, dates, times, units, abbreviations, Roman numerals
  -> words, keeping a map back to the source), then `g2p` (lexicon lookup in misaki's gold and
  silver dictionaries with misaki's stress, -s/-ed/-ing and function-word rules; espeak-ng for words
  outside the lexicon, called through ctypes on the libespeak-ng bundled in the `espeakng-loader`
  wheel; or, with `fallback="spell"`, letter by letter from the lexicon alone, as the Android demo
  does where no espeak-ng is bundled). No spaCy, no `misaki.en` import: misaki is used only for its
  JSON data files.
- Spanish, French, Hindi, Italian, Brazilian Portuguese (e f h i p): `espeak_g2p`, upstream's
  espeak-ng chain reproduced exactly.
- Mandarin (z): `mandarin` (the `zh` extra); Japanese (j): `japanese` (the `ja` extra).

Markup and pronunciation control (runtime/text/markup.py, runtime/text/user_lexicon.py): inline
``[word](/phonemes/)`` and ``[pause:0.5s]``, an SSML subset when the text starts with ``<speak>``,
and `phonemize(..., lexicon=UserLexicon.load(path))`. The text is cut into segments
(runtime/text/segments.py); each text segment is read by the language's front-end (English's G2P
reads them all in one pass, so its context rules see across them); pauses come back as `breaks`,
prosody rates as `rates`. Text without markup, without a lexicon, is read exactly as before.

Every front-end gives the phonemes upstream's `KPipeline` gives; here they are then cut to Kokoro's
114 symbols, as upstream's model cuts its input (a letter dropped that way is reported in
`r.warnings`). `r.words[i].text` is the source text a word came from ("$3.50" for each of "three
dollars and fifty cents", "Dr." for "Doctor"), `.normalized` the spoken word, `.phonemes` its
phonemes. Nothing is dropped without a line in `r.warnings` (emoji, other scripts, symbols without a
reading).

Portable lexicon format (`export_lexicon(path, lang)`, read back by `load_lexicon(path)`; the
Android demo reads the same file):

- UTF-8 text, "\\n" line ends. Line 1 is exactly ``# kokoro-litert lexicon v1``; other lines that
  start with "# " are comments (line 2 names the accent and source).
- One entry per line, sorted by word in code-point order (binary-searchable):
  ``word<TAB>phonemes`` for a plain entry, or
  ``word<TAB>default<TAB>TAG=phonemes<TAB>TAG=phonemes...`` for a heteronym. TAG is a coarse
  part of speech (NOUN, VERB, ADJ, ADV, DT, VBD, VBN, VBP) or ``None``, the stressed reading used
  before a pause. An empty value after "=" means "no entry for this tag: spell the word letter by
  letter" (e.g. ``US<TAB>ˌʌs<TAB>NOUN=``).
- Keys are case-sensitive. Gold entries override silver ones, and case variants are already
  expanded (a lowercase key also appears Capitalized and vice versa), so a reader needs only an
  exact lookup, then the lowercase form.
- Phonemes use Kokoro's symbols with misaki's conventions: ˈ/ˌ before the stressed vowel, A I O W Y
  (American) or A I Q W Y (British) for diphthongs, the American flap as ɾ. At synthesis time the
  runtime rewrites ɾ -> T and ʔ -> t as upstream's Kokoro-82M pipeline does; readers of this file
  must do the same.
"""

import unicodedata
from collections.abc import Mapping

from . import g2p, languages, markup
from .g2p import KOKORO_VOCAB, Break, PhonemizeResult, Rate, Word, lexicon
from .lexicon import export_lexicon, load_lexicon
from .markup import limit_rates, unfinished_mark
from .normalize import normalize
from .user_lexicon import UserLexicon

__all__ = [
    "KOKORO_VOCAB", "Break", "PhonemizeResult", "Rate", "UserLexicon", "Word", "export_lexicon", "lexicon",
    "limit_rates", "load_lexicon", "normalize", "phonemize", "unfinished_mark",
]


def phonemize(text: str, lang: str = "a", fallback: str = "espeak", lexicon=None) -> PhonemizeResult:
    """Kokoro phonemes for `text` read in `lang` (a code "a".."z" or a name "en-us", "es", ...).

    fallback: English only, what reads words outside the lexicon ("espeak" or "spell").
    lexicon: a `UserLexicon` (or a dict word -> phonemes) whose entries win over the built-in
    readings (runtime/text/user_lexicon.py).
    The text may carry markup (runtime/text/markup.py): ``[word](/phonemes/)``, ``[pause:0.5s]``, or
    SSML when it starts with ``<speak>``; pauses come back in `breaks`, rate changes in `rates`.
    Text without markup, read without a lexicon, gives what it always gave.
    Raises UnknownLanguage for a language Kokoro does not speak, MissingExtra when the language's
    extra is not installed.
    """
    language = languages.language(lang)
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    if isinstance(lexicon, Mapping):
        lexicon = UserLexicon.from_dict(lexicon)
    elif lexicon is not None and not isinstance(lexicon, UserLexicon):
        raise TypeError(f"lexicon must be a UserLexicon (UserLexicon.load(path)) or a dict, "
                        f"got {type(lexicon).__name__}")
    parsed = markup.parse(text, language.code, lexicon)
    if language.g2p == "english":
        user_words = lexicon.english_words(language.code) if lexicon is not None else None
        if parsed.plain(text):
            return g2p.phonemize(text, language.code, fallback, user_words)
        result = g2p.phonemize_segments(parsed.segments, language.code, fallback, user_words)
        result.warnings = g2p.dedupe_warnings(parsed.warnings + result.warnings)
        return result
    read = _front_end(language)
    if parsed.plain(text):
        return _within_vocab(read(text), language)
    return _within_vocab(markup.read_segments(parsed.segments, read, parsed.warnings), language)


def _front_end(language):
    """The reader of a language other than English: text -> PhonemizeResult (before `_within_vocab`)."""
    if language.g2p == "espeak":
        from . import espeak_g2p

        return lambda text: espeak_g2p.phonemize(text, language)
    if language.g2p == "mandarin":
        from . import mandarin

        return mandarin.phonemize
    from . import japanese

    return japanese.phonemize


def _within_vocab(result: PhonemizeResult, language) -> PhonemizeResult:
    """The result with every symbol outside Kokoro's vocabulary removed, as upstream's model drops
    them from its input (¿ ¡ « », diacritics espeak adds, letters of another script). Dropped
    letters and digits are reported; punctuation and diacritics are not words, and are not."""
    dropped = sorted({c for c in result.phonemes if c not in KOKORO_VOCAB})
    if not dropped:
        return result
    keep = [c in KOKORO_VOCAB for c in result.phonemes]
    kept_before = [0]
    for k in keep:
        kept_before.append(kept_before[-1] + k)
    # Mandarin and Japanese name each dropped word themselves, with its script.
    letters = [c for c in dropped if unicodedata.category(c)[0] in "LN"] if language.g2p == "espeak" else []
    warnings = list(result.warnings)
    if letters:
        shown = "".join(letters[:20]) + ("..." if len(letters) > 20 else "")
        warnings.append(f"{len(letters)} letter(s) with no {language.label} reading were not spoken: {shown!r}")
    return PhonemizeResult(
        normalized=result.normalized,
        phonemes="".join(c for c, k in zip(result.phonemes, keep) if k),
        words=[Word(w.text, "".join(c for c in w.phonemes if c in KOKORO_VOCAB), w.normalized)
               for w in result.words],
        warnings=warnings,
        breaks=[Break(kept_before[b.at], b.pause) for b in result.breaks],
        rates=[Rate(kept_before[r.start], kept_before[r.end], r.factor) for r in result.rates],
    )
