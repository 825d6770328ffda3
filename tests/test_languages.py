"""Kokoro's nine languages: the language table, and the espeak languages (e f h i p) against upstream.

References:
- tests/data/languages/{X}.upstream.tsv: upstream hexgrad/kokoro 0.9.4 `KPipeline(lang_code=X,
  model=False)` on every line of {X}.txt (`python tests/data/make_upstream_phonemes.py` rewrites
  them; their headers name the versions). Every item must match exactly: the voices were trained on
  those phonemes, and there is no known difference to tolerate for the espeak languages.
- live: misaki's own `EspeakG2P` (phonemizer on the same libespeak-ng) on seeded hostile strings, and
  `KPipeline` itself on the test sets when the `kokoro` package is installed (the convert extra).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kokoro_litert.runtime.errors import UnknownLanguage
from kokoro_litert.runtime.text import KOKORO_VOCAB, phonemize
from kokoro_litert.runtime.text import espeak_g2p
from kokoro_litert.runtime.text.languages import LANGUAGES, language, language_of_voice, resolve

DATA = Path(__file__).parent / "data" / "languages"
ESPEAK_CODES = [lang.code for lang in LANGUAGES if lang.g2p == "espeak"]
# Kokoro-82M v1.0's non-English voices (VOICES.md), by language.
VOICES = {
    "e": "ef_dora em_alex em_santa", "f": "ff_siwis", "h": "hf_alpha hf_beta hm_omega hm_psi",
    "i": "if_sara im_nicola", "p": "pf_dora pm_alex pm_santa",
    "j": "jf_alpha jf_gongitsune jf_nezumi jf_tebukuro jm_kumo",
    "z": "zf_xiaobei zf_xiaoni zf_xiaoxiao zf_xiaoyi zm_yunjian zm_yunxi zm_yunxia zm_yunyang",
    "a": "af_heart am_michael", "b": "bf_emma bm_george",
}


def upstream_rows(code: str) -> list[tuple[str, str]]:
    """(text, upstream phonemes) for every item of a language's test set."""
    rows = []
    for line in (DATA / f"{code}.upstream.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("# ") or not line.strip():
            continue
        text, phonemes = line.split("\t")
        rows.append((text, phonemes))
    return rows


def test_every_test_set_has_its_reference():
    for code in ESPEAK_CODES + ["j", "z"]:
        items = [t for t in (DATA / f"{code}.txt").read_text(encoding="utf-8").splitlines()
                 if t.strip() and not t.startswith("# ")]
        assert len(items) >= 60, code
        assert [t for t, _ in upstream_rows(code)] == items, f"{code}.upstream.tsv is stale: rerun make_upstream_phonemes.py"


# -- the language table ----------------------------------------------------------------------------

def test_codes_and_names_name_the_same_language():
    for lang in LANGUAGES:
        assert language(lang.code) is language(lang.name) is language(lang.name.upper().replace("-", "_"))
    assert [lang.code for lang in LANGUAGES] == list("abefhipjz")


@pytest.mark.parametrize("code", list(VOICES))
def test_a_voice_speaks_its_own_language(code):
    for voice in VOICES[code].split():
        assert language_of_voice(voice).code == code
        assert resolve(None, voice).code == code
        assert resolve("e", voice).code == "e"  # an explicit language wins


def test_a_blend_speaks_its_first_voices_language():
    assert resolve(None, "zf_xiaobei:0.6,af_heart:0.4").code == "z"
    assert resolve(None, "af_heart,ef_dora").code == "a"


def test_a_voice_file_without_a_kokoro_name_reads_american_english():
    assert language_of_voice("/tmp/my_voice.bin") is None
    assert resolve(None, "/tmp/my_voice.bin").code == "a"


@pytest.mark.parametrize("bad", ["xx", "", "english", "e s", 3])
def test_an_unknown_language_lists_every_code(bad):
    with pytest.raises(UnknownLanguage) as e:
        resolve(bad, "af_heart")
    assert all(f"{lang.code} ({lang.name}" in str(e.value) for lang in LANGUAGES)
    assert e.value.param == "lang"


# -- the espeak languages against upstream ---------------------------------------------------------

@pytest.mark.parametrize("code", ESPEAK_CODES)
def test_espeak_phonemes_are_upstreams(code):
    """Every item identical to upstream's string (symbols outside the vocabulary included)."""
    lang = language(code)
    rows = upstream_rows(code)
    different = [(text, up, espeak_g2p.phonemize(text, lang).phonemes) for text, up in rows
                 if espeak_g2p.phonemize(text, lang).phonemes != up]
    print(f"\n{lang.label}: {len(rows) - len(different)}/{len(rows)} items identical to upstream")
    assert not different, different[:3]


@pytest.mark.parametrize("code", ESPEAK_CODES)
def test_phonemize_gives_what_upstreams_model_reads(code):
    """The public phonemize: upstream's string cut to Kokoro's symbols, as upstream's KModel cuts it."""
    for text, up in upstream_rows(code):
        assert phonemize(text, code).phonemes == "".join(c for c in up if c in KOKORO_VOCAB)


def _hostile(rng: random.Random) -> str:
    atoms = ["hola", "casa", "3", "25", "1.250", "año", "Привет", "😀", " ", "  ", ",", ".", "...", "¿", "?",
             "¡", "!", "(", ")", "«", "»", '"', "“", "”", "—", "…", ";", ":", "[", "]", "{", "}", "-", "'",
             "3:45", "10%", "€", "$5", "ÿ", "\t", "हिंदी", "।", "ábc", "l'été", "2,5"]
    return "".join(rng.choice(atoms) + rng.choice(["", " ", ""]) for _ in range(rng.randint(1, 8)))


@pytest.mark.parametrize("code", ESPEAK_CODES)
def test_espeak_chain_matches_phonemizer_on_hostile_text(code):
    """Our cut-at-marks / restore / symbol map against misaki's EspeakG2P (phonemizer) itself."""
    espeak = pytest.importorskip("misaki.espeak", reason="misaki's espeak module needs phonemizer (dev extra)")
    lang = language(code)
    reference = espeak.EspeakG2P(lang.espeak_voice)
    rng = random.Random(code)
    texts = [t for t in (_hostile(rng) for _ in range(300)) if t.strip()]
    different = [t for t in texts if espeak_g2p.upstream_phonemes(t, lang.espeak_voice) != reference(t)[0]]
    assert not different, different[:5]


def test_committed_references_are_upstreams_output():
    """The .upstream.tsv files are what KPipeline gives today (needs the `kokoro` package)."""
    pytest.importorskip("kokoro", reason="the upstream pipeline is in the convert extra")
    from kokoro import KPipeline

    for code in ESPEAK_CODES:
        pipeline = KPipeline(lang_code=code, repo_id="hexgrad/Kokoro-82M", model=False)
        for text, up in upstream_rows(code)[::7]:
            assert " ".join(r.phonemes for r in pipeline(text)) == up, (code, text)


# -- chunking, words and warnings ------------------------------------------------------------------

def test_danda_ends_a_sentence_that_espeak_leaves_unmarked():
    r = phonemize("वह आया। “ठीक है।” फिर गया", "hi")
    assert [r.phonemes[:b.at] for b in r.breaks] == ["ʋˌəh ˈaːjaː", "ʋˌəh ˈaːjaː “ʈʰˈiːk hɛː”"]
    assert all(b.pause is None for b in r.breaks)  # a sentence end's usual pause
    assert "।" not in r.phonemes


def test_danda_sentences_chunk_apart():
    from kokoro_litert.runtime.api import split_phonemes

    r = phonemize("मेरा नाम राम है। मैं दिल्ली में रहता हूँ। आप कहाँ रहते हैं?", "hi")
    pieces = split_phonemes(r.phonemes, [], 510, r.breaks)
    first, second = (b.at for b in r.breaks)
    assert [p.phonemes for p in pieces] == [r.phonemes[:first], r.phonemes[first:second].strip(),
                                            r.phonemes[second:].strip()]


def test_words_carry_their_source_text_and_phonemes():
    r = phonemize("Tengo 25 años, y son las 3:45.", "e")
    assert [(w.text, w.phonemes) for w in r.words] == [
        ("Tengo", "tˈɛŋɡo"), ("25", "βˌAntiθˈinko"), ("años", "ˈaɲos"), ("y", "i"), ("son", "sˈon"),
        ("las", "las"), ("3", "tɾˈes"), ("45", "kwaɾˌɛntaiθˈinko")]
    at = 0
    for w in r.words:  # each findable in order, as the API times them
        at = r.phonemes.index(w.phonemes, at) + len(w.phonemes)


def test_a_number_read_as_several_words_stays_one_word():
    r = phonemize("J'ai 1 250 euros.", "fr-fr")
    assert ("250", "døsɑ̃ sɛ̃kˈɑ̃t") in [(w.text, w.phonemes) for w in r.words]


def test_symbols_outside_the_vocabulary_are_dropped_and_letters_reported():
    r = phonemize("¿Qué tal?", "es")
    assert r.phonemes == "kˈe tˈal?" and r.warnings == []  # ¿ is not a Kokoro symbol; not a word either
    r = phonemize("Hola Привет.", "es")
    assert all(c in KOKORO_VOCAB for c in r.phonemes)
    assert any("CYRILLIC" in w and "Spanish" in w for w in r.warnings)


@pytest.mark.parametrize("code", ESPEAK_CODES)
@pytest.mark.parametrize("text", ["", "   ", "😀", "x" * 2000, "Привет, 世界! 123", "...", "¿¡", "a\n\nb"])
def test_odd_text_never_crashes(code, text):
    r = phonemize(text, code)
    assert all(c in KOKORO_VOCAB for c in r.phonemes)
