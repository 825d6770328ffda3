"""English text front-end: normalization and G2P into Kokoro phonemes.

    from kokoro_litert.runtime.text import phonemize
    r = phonemize("Dr. Smith paid $3.50 at 6:30 p.m.", lang="a")   # "a" American, "b" British
    r.normalized, r.phonemes, r.words, r.warnings

Stages: `normalize` (numbers, currency, dates, times, units, abbreviations, Roman numerals ->
words, keeping a map back to the source), then `g2p` (lexicon lookup in misaki's gold and silver
dictionaries with misaki's stress, -s/-ed/-ing and function-word rules; espeak-ng for words outside
the lexicon, called through ctypes on the libespeak-ng bundled in the `espeakng-loader` wheel; or,
with `phonemize(text, lang, fallback="spell")`, letter by letter from the lexicon alone, as the
Android demo does where no espeak-ng is bundled).
No spaCy, no `misaki.en` import: misaki is used only for its JSON data files.

`r.words[i].text` is the source text a word came from ("$3.50" for each of "three dollars and
fifty cents"), `.normalized` the spoken word, `.phonemes` its phonemes. Nothing is dropped without
a line in `r.warnings` (emoji, other scripts, symbols without a reading).

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

from .g2p import KOKORO_VOCAB, PhonemizeResult, Word, lexicon, phonemize
from .lexicon import export_lexicon, load_lexicon
from .normalize import normalize

__all__ = [
    "KOKORO_VOCAB", "PhonemizeResult", "Word", "export_lexicon", "lexicon", "load_lexicon",
    "normalize", "phonemize",
]
