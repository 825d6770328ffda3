"""Markup in the text (runtime/text/markup.py), the user lexicon (runtime/text/user_lexicon.py) and
what `phonemize` makes of them, for every language.

References, so a test can fail for the right reason:
- "changes exactly the words named": the same sentence without the markup or lexicon, through the
  same front-end; every other word's phonemes must be identical.
- readings spelled out (say-as, sub): the hand-written words ("one thousand two hundred
  thirty-four") through the English G2P.
- IPA: standard dictionary transcriptions, checked against misaki's own lexicon entry for the word
  (tests/test_g2p.py checks that lexicon against misaki's data).
- pauses and rates: offsets in the phoneme string computed from the plain sentence's words, and
  what the API's `split_phonemes` (runtime/api.py) cuts from them.
"""

from __future__ import annotations

import random

import pytest

from kokoro_litert.runtime.api import _word_spans, split_phonemes
from kokoro_litert.runtime.errors import KokoroError, MissingExtra
from kokoro_litert.runtime.text import (KOKORO_VOCAB, Break, Rate, UserLexicon, limit_rates, phonemize,
                                       unfinished_mark)
from kokoro_litert.runtime.text import espeak_g2p, g2p, markup
from kokoro_litert.runtime.text import _within_vocab
from kokoro_litert.runtime.text.g2p import lexicon
from kokoro_litert.runtime.text.languages import LANGUAGES, language
from kokoro_litert.runtime.text.ipa import ipa_to_kokoro
from kokoro_litert.runtime.text.markup import BREAK_STRENGTHS, PROSODY_RATES
from kokoro_litert.runtime.text.segments import MAX_PAUSE


def spoken(result) -> list[tuple[str, str]]:
    """(source text, phonemes) of each word that carries sounds (punctuation left out)."""
    return [(w.text, w.phonemes) for w in result.words if any(c.isalpha() for c in w.phonemes)]


def changed(plain, marked) -> list[int]:
    """Indexes of the words whose phonemes differ; both results must have the same words."""
    a, b = spoken(plain), spoken(marked)
    assert [t for t, _ in a] == [t for t, _ in b]
    return [i for i, ((_, pa), (_, pb)) in enumerate(zip(a, b)) if pa != pb]


def needs(code: str):
    """Skip (with the reason) when a language's extra is not installed here."""
    try:
        phonemize("x", code)
    except MissingExtra as e:
        pytest.skip(f"{language(code).label} front-end not installed: {e}")


def check_invariants(result) -> None:
    """What every result must satisfy, whatever the input."""
    assert all(c in KOKORO_VOCAB for c in result.phonemes), result.phonemes
    n = len(result.phonemes)
    assert all(0 <= b.at <= n for b in result.breaks)
    assert all(b.pause is None or 0 <= b.pause <= MAX_PAUSE for b in result.breaks)
    assert all(0 <= r.start < r.end <= n for r in result.rates)
    cursor = 0  # as the API times words: each word's phonemes found in order (runtime/api.py _word_spans)
    for w in result.words:
        if any(c.isalpha() for c in w.phonemes):
            at = result.phonemes.find(w.phonemes, cursor)
            assert at >= 0, f"{w} not found after offset {cursor} in {result.phonemes!r}"
            cursor = at + len(w.phonemes)


# -- plain text is read as before -------------------------------------------------------------------

@pytest.mark.parametrize("text", ["See [1] and (a).", "x[y]z", "a](b", "Use <b>bold</b> here.", "[pause]", ""])
def test_text_without_markup_takes_the_old_path(text):
    assert phonemize(text, "a") == g2p.phonemize(text, "a")
    spanish = language("e")
    assert phonemize(text, "e") == _within_vocab(espeak_g2p.phonemize(text, spanish), spanish)
    assert markup.parse(text, "a").plain(text)


# -- inline pronunciations ------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["a", "b"])
def test_inline_override_changes_exactly_that_word(lang):
    plain = phonemize("I like tomatoes a lot, and so does she.", lang)
    marked = phonemize("I like [tomatoes](/təmˈɑtOz/) a lot, and so does she.", lang)
    assert changed(plain, marked) == [2]
    assert spoken(marked)[2] == ("tomatoes", "təmˈɑtOz")
    assert marked.phonemes == plain.phonemes.replace(spoken(plain)[2][1], "təmˈɑtOz")
    assert marked.warnings == []


def test_given_phonemes_drive_the_context_rules():
    # misaki's rule (upstream get_special_case): "the" is ði before a vowel, ðə before a consonant.
    assert spoken(phonemize("the [apple](/ˈæpᵊl/)", "a"))[0] == ("the", "ði")
    assert spoken(phonemize("the [unicorn](/jˈunᵻkɔɹn/)", "a"))[0] == ("the", "ðə")
    assert spoken(phonemize("the [Xylo](/ˈIlO/)", "a"))[0] == ("the", "ði")


def test_inline_stress_change_as_hexgrad_kokoro():
    plain = phonemize("I want that one.", "a")
    assert changed(plain, phonemize("I [want](-2) that one.", "a")) == [1]
    assert spoken(phonemize("I [want](-2) that one.", "a"))[1] == ("want", "wɑnt")  # -2: no stress
    assert spoken(phonemize("I want [that](2) one.", "a"))[2] == ("that", "ðˈæt")  # 2: a primary stress


@pytest.mark.parametrize("lang", ["a", "e"])
def test_unknown_symbols_warn_and_read_the_word(lang):
    plain = phonemize("say word now", lang)
    marked = phonemize("say [word](/wɜrdΩ☃/) now", lang)
    assert marked.phonemes == plain.phonemes
    assert any("'Ω☃'" in w and "word" in w for w in marked.warnings), marked.warnings


def test_ipa_in_an_inline_override_gets_a_hint():
    r = phonemize("[church](/ˈtʃɝtʃ/)", "a")
    assert any("ʧˈɜɹʧ" in w for w in r.warnings), r.warnings


@pytest.mark.parametrize("target", ["https://example.com", "#1#", ""])
def test_other_link_targets_read_the_word_with_a_warning(target):
    r = phonemize(f"click [here]({target}) now", "a")
    assert r.phonemes == phonemize("click here now", "a").phonemes
    assert r.warnings


# -- pauses ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["a", "e", "h"])
def test_inline_pause_and_ssml_break_give_the_same_break(lang):
    first, second = {"a": ("Hello", "world"), "e": ("Hola", "mundo"), "h": ("नमस्ते", "दुनिया")}[lang]
    plain = phonemize(f"{first} {second}", lang)
    at = len(spoken(plain)[0][1])  # right after the first word's phonemes
    for text in (f"{first} [pause:0.5s] {second}", f"{first} [pause:500ms] {second}",
                 f'<speak>{first} <break time="500ms"/> {second}</speak>',
                 f'<speak>{first}<break time="0.5s"/>{second}</speak>'):
        r = phonemize(text, lang)
        assert r.phonemes == plain.phonemes, text
        assert r.breaks == [Break(at, 0.5)], text
        assert spoken(r) == spoken(plain), text
        pieces = split_phonemes(r.phonemes, _word_spans(r.phonemes, r.words), 510, r.breaks, r.rates)
        assert [p.phonemes for p in pieces] == [spoken(plain)[0][1], spoken(plain)[1][1]]
        assert pieces[0].pause == 0.5 and pieces[0].trim_after


@pytest.mark.parametrize("mark,seconds", [("[pause:500ms]", 0.5), ("[pause:1.5s]", 1.5), ("[pause:2]", 2.0),
                                          ("[PAUSE: 250 ms]", 0.25), ("[pause:.1s]", 0.1)])
def test_pause_lengths(mark, seconds):
    r = phonemize(f"one {mark} two", "a")
    assert [b.pause for b in r.breaks] == [pytest.approx(seconds)]


def test_pauses_are_bounded_and_bad_ones_read_as_written():
    r = phonemize("one [pause:30s] two", "a")
    assert [b.pause for b in r.breaks] == [MAX_PAUSE] and "10 s" in r.warnings[0]
    r = phonemize("one [pause:soon] two", "a")
    assert r.breaks == [] and r.phonemes == g2p.phonemize("one [pause:soon] two", "a").phonemes
    assert any("[pause:soon]" in w for w in r.warnings)


def test_pause_after_a_mark_and_pauses_that_meet():
    r = phonemize("Hello [pause:1s], world", "a")  # the comma stays with "Hello"
    assert r.phonemes[:r.breaks[0].at] == "həlˈO,"
    r = phonemize("one [pause:0.5s][pause:0.25s] two", "a")
    assert [b.pause for b in r.breaks] == [0.75]
    r = phonemize("one " + "[pause:1s] " * 30 + "two", "a")
    assert [b.pause for b in r.breaks] == [MAX_PAUSE] and r.warnings
    r = phonemize("One. [pause:1s] Two.", "a")  # replaces the sentence end's pause
    assert r.breaks == [Break(len("wˈʌn."), 1.0)]


def test_break_strengths():
    for strength, seconds in BREAK_STRENGTHS.items():
        r = phonemize(f'<speak>one <break strength="{strength}"/> two</speak>', "a")
        assert [b.pause for b in r.breaks] == [seconds], strength
    assert phonemize('<speak>one <break strength="none"/> two</speak>', "a").breaks == []
    assert [b.pause for b in phonemize("<speak>one <break/> two</speak>", "a").breaks] == [BREAK_STRENGTHS["medium"]]


def test_sentences_and_paragraphs_end_sentences():
    r = phonemize("<speak><p><s>First one</s><s>Second one.</s></p> tail</speak>", "a")
    plain = phonemize("First one. Second one. tail", "a")
    assert r.phonemes == plain.phonemes
    ends = [r.phonemes[:b.at] for b in r.breaks]
    assert ends == ["fˈɜɹst wˈʌn.", "fˈɜɹst wˈʌn. sˈɛkənd wˈʌn."]
    assert all(b.pause is None for b in r.breaks)


def test_a_stream_holds_back_an_unfinished_mark():
    text = "I like [tomatoes](/təmˈɑtOz/) a lot. [pause:1s] Then [x]"
    marks = [(m.start(), m.end()) for m in markup._INLINE.finditer(text)]
    assert len(marks) == 2
    for cut in range(len(text) + 1):
        inside = next((a for a, b in marks if a < cut < b), None)
        if cut > text.rindex("["):
            inside = text.rindex("[")  # "[x" and "[x]" may still become [x](/.../)
        assert unfinished_mark(text[:cut]) == inside, cut
    assert unfinished_mark("See [1] and [2] there") is None
    assert unfinished_mark("an [" + "x" * 300) is None  # too far back to be a mark


# -- the user lexicon -----------------------------------------------------------------------------

def write(tmp_path, text: str, name="words.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("lang", ["a", "b"])
def test_a_lexicon_entry_changes_exactly_that_word(tmp_path, lang):
    lex = UserLexicon.load(write(tmp_path, "# my words\ntomatoes\ttəmˈɑtOz\n"))
    text = "I like tomatoes a lot, and so does she."
    plain, marked = phonemize(text, lang), phonemize(text, lang, lexicon=lex)
    assert changed(plain, marked) == [2]
    assert spoken(marked)[2] == ("tomatoes", "təmˈɑtOz")


def test_english_entries_are_read_like_built_in_ones(tmp_path):
    lex = UserLexicon.load(write(tmp_path, "Kokoro\tkˈOkəɹO\nOriel\tˈɔɹiəl\n"))
    r = phonemize("Kokoro, kokoro, KOKORO, Kokoro's, the Kokoro, the Oriel.", "a", lexicon=lex)
    # Capitals add stress only to an unstressed entry; -'s after a vowel is z; "the" follows the
    # entry's first sound.
    assert [ps for _, ps in spoken(r)] == ["kˈOkəɹO", "kˈOkəɹO", "kˈOkəɹO", "kˈOkəɹOz", "ðə", "kˈOkəɹO", "ði",
                                           "ˈɔɹiəl"]


def test_user_words_answer_the_case_variants_the_built_in_lexicon_adds():
    from kokoro_litert.runtime.text.g2p import _UserFirst
    from kokoro_litert.runtime.text.lexicon import grow

    words = {"kokoro": "1", "Oriel": "2", "iPhone": "3", "NASA": "4", "a": "5", "Both": "6", "both": "7",
             "x-ray": "8", "O'neil": "9"}
    grown = grow(words)
    probes = set(grown) | {f(w) for w in words for f in (str.upper, str.lower, str.capitalize)} | {"Iphone", "X-ray"}
    user = _UserFirst(words, {})
    assert {w: user.user_entry(w) for w in probes} == {w: grown.get(w) for w in probes}


def test_a_users_function_word_wins_over_the_context_rule(tmp_path):
    lex = UserLexicon.load(write(tmp_path, "the\tðˈi\n"))
    assert spoken(phonemize("the cat", "a", lexicon=lex))[0] == ("the", "ðˈi")


def test_entries_of_several_words_or_symbols_match_the_text(tmp_path):
    lex = UserLexicon.load(write(tmp_path, "C++\tsˈi plˈʌs plˈʌs\nNew York\tnˈu jˈɔɹk\n"))
    r = phonemize("I code C++ in new york and Newark.", "a", lexicon=lex)
    assert ("C++", "sˈi plˈʌs plˈʌs") in spoken(r) and ("new york", "nˈu jˈɔɹk") in spoken(r)
    plain = phonemize("I code C++ in new york and Newark.", "a")
    assert spoken(r)[-1] == spoken(plain)[-1]  # Newark untouched


def test_lexicon_in_another_language_matches_whole_words_ignoring_case(tmp_path):
    lex = UserLexicon.load(write(tmp_path, "es\tKokoro\tkokoɾˈo\n"))  # espeak-ng stresses the second o
    text = "Me gusta KOKORO mucho, pero no kokorito."
    plain, marked = phonemize(text, "e"), phonemize(text, "e", lexicon=lex)
    assert changed(plain, marked) == [2]
    assert spoken(marked)[2] == ("KOKORO", "kokoɾˈo")
    assert phonemize(text, "a", lexicon=lex).phonemes == phonemize(text, "a").phonemes  # Spanish only


def test_a_languages_own_entry_wins_over_one_for_every_language(tmp_path):
    lex = UserLexicon.load(write(tmp_path, "Kokoro\tkˈOkəɹO\ne\tKokoro\tkokˈoɾo\nen\tKokoro\tkəkˈɔɹO\n"))
    assert spoken(phonemize("Kokoro", "e", lexicon=lex)) == [("Kokoro", "kokˈoɾo")]
    assert spoken(phonemize("Kokoro", "f", lexicon=lex)) == [("Kokoro", "kˈOkəɹO")]
    assert spoken(phonemize("Kokoro", "b", lexicon=lex)) == [("Kokoro", "kəkˈɔɹO")]


def test_chinese_entries_match_inside_a_run_of_characters(tmp_path):
    needs("z")
    lex = UserLexicon.load(write(tmp_path, "zh\t北京\tpei↓ʨiŋ↗\n"))
    r = phonemize("我爱北京天安门。", "z", lexicon=lex)
    assert ("北京", "pei↓ʨiŋ↗") in spoken(r)
    assert [t for t, _ in spoken(r)] == [t for t, _ in spoken(phonemize("我爱北京天安门。", "z"))]


def test_bad_lexicon_lines_are_reported_together(tmp_path):
    path = write(tmp_path, "good\tɡˈʊd\nno tab here\nxx\tword\tphonemes\nbad\tbæd☃\nchurch\tˈtʃɝtʃ\n"
                           "good\tɡˈʊːd\n\n# comment\n#\n")
    with pytest.raises(KokoroError) as e:
        UserLexicon.load(path)
    message = str(e.value)
    assert str(path) in message
    for line in ("line 2", "line 3", "line 4", "line 5", "line 6"):
        assert line in message
    assert "line 1:" not in message and "line 7" not in message
    assert "ʧˈɜɹʧ" in message  # the IPA hint
    assert e.value.param == "lexicon" and "lang<TAB>word<TAB>phonemes" in e.value.remedy


def test_lexicon_files_that_cannot_be_read(tmp_path):
    with pytest.raises(KokoroError, match="does not exist"):
        UserLexicon.load(tmp_path / "missing.tsv")
    path = tmp_path / "latin1.tsv"
    path.write_bytes("caf\xe9\tkafe\n".encode("latin-1"))
    with pytest.raises(KokoroError, match="UTF-8"):
        UserLexicon.load(path)
    path = write(tmp_path, "\ufeffpt\tKokoro\tkokˈɔɾu\r\n")  # a BOM and CRLF line ends are fine
    assert spoken(phonemize("Kokoro", "p", lexicon=UserLexicon.load(path))) == [("Kokoro", "kokˈɔɾu")]


def test_lexicon_from_a_dict_and_wrong_types():
    assert spoken(phonemize("tomatoes", "a", lexicon={"tomatoes": "təmˈɑtOz"})) == [("tomatoes", "təmˈɑtOz")]
    with pytest.raises(KokoroError):
        UserLexicon.from_dict({"x": "☃"})
    with pytest.raises(TypeError):
        phonemize("x", "a", lexicon="words.tsv")


def test_inline_override_wins_over_the_lexicon():
    r = phonemize("[tomatoes](/təmˈATOz/) tomatoes", "a", lexicon={"tomatoes": "təmˈɑtOz"})
    assert [ps for _, ps in spoken(r)] == ["təmˈATOz", "təmˈɑtOz"]


# -- SSML -----------------------------------------------------------------------------------------

def test_sub_speaks_the_alias_and_keeps_the_written_word():
    r = phonemize('<speak>The <sub alias="World Wide Web Consortium">W3C</sub> met.</speak>', "a")
    plain = phonemize("The World Wide Web Consortium met.", "a")
    assert r.phonemes == plain.phonemes
    assert [t for t, _ in spoken(r)] == ["The", "W3C", "W3C", "W3C", "W3C", "met"]
    assert [w for _, _, w in _word_spans(r.phonemes, r.words)] == ["The", "W3C", "met"]  # one timed word


@pytest.mark.parametrize("lang,ipa,word", [
    ("a", "ˈtʃɝtʃ", "church"), ("a", "ˈdʒʌdʒ", "judge"), ("a", "ˈseɪ", "say"), ("a", "ˈaʊɚ", "hour"),
    ("a", "ˈfɑːðɚ", "father"), ("a", "ˈθɔːt", "thought"), ("a", "ˈbɔɪ", "boy"), ("a", "ˈkæt", "cat"),
    ("a", "ˈlɑːt", "lot"), ("a", "ˈmɛʒɚ", "measure"), ("a", "ˈsɪŋ", "sing"), ("a", "ˈt͡ʃɝt͡ʃ", "church"),
    ("b", "ˈtʃɜːtʃ", "church"), ("b", "ˈaʊə", "hour"), ("b", "ˈfɑːðə", "father"), ("b", "ˈθɔːt", "thought"),
    ("b", "ˈkæt", "cat"), ("b", "ˈlɒt", "lot"), ("b", "ˈmɛʒə", "measure"), ("b", "ˈbʌtn̩", "button"),
])
def test_ipa_maps_to_the_lexicons_symbols(lang, ipa, word):
    assert ipa_to_kokoro(ipa, lang) == (lexicon(lang).word(word), "", "")


def test_ipa_details():
    assert ipa_to_kokoro("ma˥ ma˧˥ ma˨˩˦ ma˥˩", "z")[0] == "ma→ ma↗ ma↓ ma↘"  # Mandarin's four tones
    assert ipa_to_kokoro("t͡sa d͡ʒe a͡ɪ", "e")[0] == "ʦa ʤe I"  # tied pairs, as misaki's espeak map
    assert ipa_to_kokoro("tsa", "e")[0] == "tsa"  # untied ts is two sounds
    assert ipa_to_kokoro("bɔ̃", "f")[0] == "bɔ̃" and ipa_to_kokoro("bã", "p")[0] == "ba\u0303"
    phonemes, unmapped, dropped = ipa_to_kokoro("ˈkæ.t̚ ʘ", "a")
    assert unmapped == "ʘ" and set(dropped) == {".", "\u031a"}


def test_ssml_phoneme():
    r = phonemize('<speak>A <phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato</phoneme>.</speak>', "a")
    assert spoken(r)[1] == ("tomato", "təmˈAtO") and r.warnings == []
    r = phonemize('<speak><phoneme alphabet="x-kokoro" ph="təmˈɑtO">tomato</phoneme></speak>', "a")
    assert spoken(r) == [("tomato", "təmˈɑtO")]
    plain = phonemize("tomato", "a")
    for bad in ('alphabet="ipa" ph="ʘoʘ"', 'alphabet="x-sampa" ph="t@"', 'ph=""', 'alphabet="x-kokoro" ph="ʘ"'):
        r = phonemize(f"<speak><phoneme {bad}>tomato</phoneme></speak>", "a")
        assert r.phonemes == plain.phonemes and r.warnings, bad


@pytest.mark.parametrize("kind,written,fmt,words", [
    ("cardinal", "1,234", None, "one thousand two hundred thirty-four"),
    ("number", "-3.5", None, "minus three point five"),
    ("ordinal", "21", None, "twenty-first"),
    ("ordinal", "3rd", None, "third"),
    ("digits", "2026", None, "two zero two six"),
    ("characters", "NASA", None, None),
    ("telephone", "555-1234", None, "five five five, one two three four"),
    ("telephone", "+1 (555) 123-4567", None, "plus one, five five five, one two three, four five six seven"),
    ("date", "3/4/2026", "mdy", "March fourth, twenty twenty-six"),
    ("date", "3/4/2026", "dmy", "April third, twenty twenty-six"),
    ("date", "2026-03-04", None, "March fourth, twenty twenty-six"),
    ("date", "20260304", "yyyymmdd", "March fourth, twenty twenty-six"),
    ("date", "Dec 25", "md", "December twenty-fifth"),
    ("date", "1999", "y", "nineteen ninety-nine"),
    ("date", "7/1999", "my", "July nineteen ninety-nine"),
])
def test_say_as_in_english(kind, written, fmt, words):
    attrs = f'interpret-as="{kind}"' + (f' format="{fmt}"' if fmt else "")
    r = phonemize(f"<speak><say-as {attrs}>{written}</say-as></speak>", "a")
    if words is None:  # letters one by one, each by its name in the lexicon
        expected = " ".join(lexicon("a").spell(c) for c in written)
    else:
        expected = phonemize(words, "a").phonemes
    assert r.phonemes == expected and r.warnings == []
    assert {t for t, _ in spoken(r)} == {written}


@pytest.mark.parametrize("lang,ssml,words", [
    ("e", '<say-as interpret-as="date">3/4/2026</say-as>', "3 de abril de 2026"),
    ("f", '<say-as interpret-as="date" format="ymd">2026-03-01</say-as>', "1er mars 2026"),
    ("i", '<say-as interpret-as="ordinal">3</say-as>', "terzo"),
    ("p", '<say-as interpret-as="ordinal">3</say-as>', "terceiro"),
    ("f", '<say-as interpret-as="ordinal">1</say-as>', "premier"),
    ("e", '<say-as interpret-as="telephone">555-12</say-as>', "5 5 5, 1 2"),
    ("h", '<say-as interpret-as="ordinal">3</say-as>', "तीसरा"),
    ("e", '<say-as interpret-as="characters">abc</say-as>', "a b c"),
])
def test_say_as_in_other_languages(lang, ssml, words):
    r = phonemize(f"<speak>{ssml}</speak>", lang)
    assert r.phonemes == phonemize(words, lang).phonemes and r.warnings == []


def test_say_as_spanish_ordinal_is_not_the_cardinal():
    r = phonemize('<speak><say-as interpret-as="ordinal">3</say-as></speak>', "e")
    assert r.phonemes != phonemize("3", "e").phonemes and "θˈɛɾo" in r.phonemes and r.warnings == []


@pytest.mark.parametrize("say_as", ['interpret-as="date" format="qq">1/2/3', 'interpret-as="date" format="mdy">13/45/2026',
                                    'interpret-as="cardinal">lots', 'interpret-as="unit">5 kg',
                                    'interpret-as="telephone">none'])
def test_say_as_it_cannot_read_warns_and_reads_as_written(say_as):
    written = say_as.split(">", 1)[1]
    r = phonemize(f"<speak><say-as {say_as}</say-as></speak>", "a")
    assert r.phonemes == phonemize(written, "a").phonemes and r.warnings


def test_prosody_rate_covers_exactly_its_words():
    r = phonemize('<speak>one <prosody rate="slow">two three</prosody> four</speak>', "a")
    plain = phonemize("one two three four", "a")
    assert r.phonemes == plain.phonemes
    start = plain.phonemes.index(spoken(plain)[1][1])
    end = plain.phonemes.index(spoken(plain)[2][1]) + len(spoken(plain)[2][1])
    assert r.rates == [Rate(start, end, PROSODY_RATES["slow"])]
    assert r.breaks == [Break(start - 1, 0.0), Break(end, 0.0)]
    pieces = split_phonemes(r.phonemes, _word_spans(r.phonemes, r.words), 510, r.breaks, r.rates)
    assert [(p.phonemes, p.rate) for p in pieces] == [(spoken(plain)[0][1], 1.0),
                                                      (r.phonemes[start:end], 0.8), (spoken(plain)[3][1], 1.0)]


@pytest.mark.parametrize("rate,factor", [("x-slow", 0.6), ("fast", 1.25), ("50%", 0.5), ("+20%", 1.2),
                                         ("-20%", 0.8), ("1.5", 1.5), ("300%", 2.0), ("10%", 0.5)])
def test_prosody_rate_values(rate, factor):
    r = phonemize(f'<speak>one <prosody rate="{rate}">two</prosody></speak>', "a")
    assert [x.factor for x in r.rates] == [pytest.approx(factor)]
    assert bool(r.warnings) == (rate in ("300%", "10%"))  # clamped to the speed range, with a warning


def test_nested_prosody_multiplies_and_the_api_narrows_it_for_its_speed():
    r = phonemize('<speak><prosody rate="slow"><prosody rate="slow">two</prosody></prosody> three</speak>', "a")
    assert [x.factor for x in r.rates] == [pytest.approx(0.64)]
    kept, warnings = limit_rates([Rate(0, 3, 1.6)], speed=1.5)
    assert kept == [Rate(0, 3, pytest.approx(2.0 / 1.5))] and warnings
    assert limit_rates([Rate(0, 3, 1.6)], speed=1.0) == ([Rate(0, 3, 1.6)], [])


def test_prosody_rate_in_another_language():
    r = phonemize('<speak>Hola <prosody rate="fast">muy rápido</prosody>, adiós.</speak>', "e")
    (rate,) = r.rates
    assert r.phonemes[rate.start:rate.end].startswith("mˈuj") and rate.factor == 1.25


@pytest.mark.parametrize("text,words", [
    ("<speak>Hello <s>world", "Hello world"),
    ('<speak>Hello <break time="1s">world</speak>', "Hello world"),
    ("<speak>Hello world</speak> and more", "Hello world and more"),
    ("<speak>a &amp; b &bogus; c</speak>", "a & b c"),
    ('<speak><sub alias="x>Hello</sub> world</speak>', "world"),
    ("<speak>Hello <p>world</s></speak>", "Hello world"),
])
def test_malformed_ssml_warns_and_speaks_every_word(text, words):
    r = phonemize(text, "a")
    assert any("malformed SSML" in w for w in r.warnings), r.warnings
    for source, ps in spoken(phonemize(words, "a")):
        assert ps in r.phonemes, source


def test_unknown_and_unsupported_tags_speak_their_text():
    r = phonemize('<speak><foo>Hello</foo> <emphasis level="strong">big</emphasis> <voice name="x">world</voice>'
                  '<mark name="m"/></speak>', "a")
    assert r.phonemes == phonemize("Hello big world", "a").phonemes
    assert len(r.warnings) == 4 and all("not supported" in w for w in r.warnings)


def test_ssml_with_a_prolog_namespace_and_html_entities():
    r = phonemize('<?xml version="1.0"?>\n<speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" '
                  'xml:lang="en-US">caf&eacute;&nbsp;time <break time="1s"/> now</speak>', "a")
    assert r.warnings == [] and r.phonemes == phonemize("café time now", "a").phonemes
    assert [b.pause for b in r.breaks] == [1.0]


# -- every language, and odd input ----------------------------------------------------------------

SMOKE = {
    "a": "Hello", "b": "Hello", "e": "Hola", "f": "Bonjour", "h": "नमस्ते", "i": "Ciao", "p": "Olá",
    "j": "こんにちは", "z": "你好",
}


@pytest.mark.parametrize("code", [lang.code for lang in LANGUAGES])
def test_every_language_reads_markup(code):
    needs(code)
    word = SMOKE[code]
    for text in (f"{word} [{word}](/kˈOkəɹO/) [pause:0.5s] {word}",
                 f'<speak>{word}<break time="300ms"/><sub alias="{word}">X</sub> <say-as interpret-as="cardinal">12'
                 f'</say-as> <prosody rate="slow">{word}</prosody><s>{word}</s></speak>'):
        r = phonemize(text, code, lexicon={word: "tˈɛst"})
        check_invariants(r)
        assert r.phonemes.strip() and r.breaks, (code, text, r)
        assert [b.pause for b in r.breaks if b.pause] in ([0.5], [0.3]), r.breaks
        assert "tˈɛst" in r.phonemes, r.phonemes  # the lexicon entry
    r = phonemize(f"{word} [{word}](/kˈOkəɹO/) {word}", code)
    assert ("kˈOkəɹO" in r.phonemes) and r.warnings == [], r


ODD = [
    "", " ", "[", "](", "[x](", "[x](/", "[x](/a", "[](/a/)", "[x]()", "[pause:]", "[pause:-1s]", "[pause:1s]",
    "[[x](/ˈæ/)]", "[x](/ˈæ/)(/b/)", "<speak>", "<speak/>", "<speak></speak>", "  <speak> </speak>  ",
    "<speak><break/><break/></speak>", "<speak><s><p><s>deep</s></p></s></speak>",
    "<speak>" + "<s>" * 300 + "x" + "</s>" * 300 + "</speak>",
    "<speak><prosody rate='slow'>" * 80 + "x" + "</prosody>" * 80 + "</speak>",
    '<speak><sub alias="' + "a" * 2000 + '">b</sub></speak>',
    '<speak><break time="' + "9" * 2000 + 'ms"/>x</speak>',
    '<speak><phoneme ph="' + "ʘ" * 2000 + '">x</phoneme></speak>',
    '<speak><say-as interpret-as="' + "q" * 2000 + '">x</say-as></speak>',
    '<speak><prosody rate="' + "1" * 2000 + '">x</prosody></speak>',
    "<speak><" + "t" * 2000 + ">x</" + "t" * 2000 + "></speak>",
    "<speak><![CDATA[a < b]]> <!-- note --> c</speak>", "<speak>\x00\x01 x</speak>", "<speak>😀 [pause:1s] 😀</speak>",
    "<speak><!DOCTYPE speak [<!ENTITY a 'aaaa'>]>&a;&a;</speak>", "<speak attr='unclosed>text</speak>",
    "<speak><say-as interpret-as='date'></say-as><sub alias=''></sub><phoneme></phoneme></speak>",
    "[pause:1s]" * 50, "[x](/a/)" * 200,
]


@pytest.mark.parametrize("text", ODD, ids=range(len(ODD)))
@pytest.mark.parametrize("code", ["a", "e"])
def test_odd_input_never_crashes(text, code):
    check_invariants(phonemize(text, code))


def test_odd_input_in_chinese_and_japanese():
    for code in "zj":
        try:
            phonemize("x", code)
        except MissingExtra:
            continue
        for text in ODD:
            check_invariants(phonemize(text, code))


def test_random_markup_never_crashes():
    pieces = ["<speak>", "</speak>", "<s>", "</s>", "<break/>", '<break time="1s"/>', '<sub alias="x">', "</sub>",
              '<prosody rate="fast">', "</prosody>", '<say-as interpret-as="date">', "</say-as>", "[pause:1s]",
              "[", "]", "(", ")", "(/", "/)", "[pause:", "&amp;", "&", "<", ">", "hello", " ", "3/4", "ˈæ", "é", "。"]
    rng = random.Random(25)
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        for code in "ae":
            check_invariants(phonemize(text, code))
