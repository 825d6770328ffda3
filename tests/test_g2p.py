"""G2P tests: a table of expected phonemes (tests/data/g2p_cases.tsv), vocabulary, odd input,
the portable lexicon format, and speed.

How the table's expected values were obtained (not from this code's output):
- plain lexicon rows: the entry copied from misaki/data/{us,gb}_{gold,silver}.json, with the
  flap ɾ written T as upstream's Kokoro-82M pipeline does;
- derived forms (-s, -'s, -ed, -ing) and capitalization rows: upstream misaki 0.9.4's own
  `Lexicon.get_word` run once offline (spaCy stubbed out, no tagger), rule named in the row;
- context rows (the/to/a/in/can/by/used, heteronyms, numbers, punctuation): composed by hand
  from the lexicon entries following the rule in the row's note;
- out-of-lexicon rows: upstream `misaki.espeak.EspeakFallback` (phonemizer + the same libespeak-ng),
  with one noted deviation.
"""

import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kokoro_litert.runtime.text import KOKORO_VOCAB, export_lexicon, load_lexicon, phonemize
from kokoro_litert.runtime.text.g2p import lexicon
from kokoro_litert.runtime.text.lexicon import merged_table

CASES_PATH = Path(__file__).parent / "data" / "g2p_cases.tsv"


def _cases():
    rows = []
    for line in CASES_PATH.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        lang, text, expected, note = line.split("\t")
        rows.append(pytest.param(lang, text, expected, id=f"{lang}:{text}"))
    return rows


CASES = _cases()


@pytest.mark.parametrize("lang,text,expected", CASES)
def test_g2p_table(lang, text, expected):
    assert phonemize(text, lang).phonemes == expected


def test_table_size_and_notes():
    assert len(CASES) >= 200
    for line in CASES_PATH.read_text(encoding="utf-8").splitlines()[1:]:
        lang, text, expected, note = line.split("\t")
        if not note:  # a row without a note must be a plain lexicon entry
            entry = merged_table(lang)[text]
            assert isinstance(entry, str) and entry.replace("ɾ", "T").replace("ʔ", "t") == expected, text


def test_vocab_matches_kokoro_config():
    kokoro_onnx = pytest.importorskip("kokoro_onnx")
    config = Path(kokoro_onnx.__file__).parent / "config.json"
    vocab = json.loads(config.read_text(encoding="utf-8"))["vocab"]
    assert len(vocab) == 114
    assert set(vocab) == KOKORO_VOCAB


def test_every_output_symbol_is_in_vocab():
    texts = [text for _, text, _ in (c.values for c in CASES)]
    texts += ["Dr. Smith paid $3.50 at 6:30 p.m. on March 3rd, 2027 — then left (quietly)!",
              "Brzęczyszczykiewicz, Mbappé and Nguyễn met Zoë at the café in Kraków.",
              "The FBI's 2nd-quarter report: 45% up; 1990s-era kit, 5 kg, -5°C."]
    for lang in "ab":
        for text in texts:
            ps = phonemize(text, lang).phonemes
            assert set(ps) <= KOKORO_VOCAB, (text, set(ps) - KOKORO_VOCAB)


def test_lexicon_data_is_in_vocab():
    for lang in "ab":
        for entry in merged_table(lang).values():
            values = [entry] if isinstance(entry, str) else [v for v in entry.values() if v]
            for v in values:
                assert set(v) <= KOKORO_VOCAB, v


def test_result_shape():
    r = phonemize("Hello, world!")
    assert r.normalized == "Hello, world!"
    assert r.phonemes == "həlˈO, wˈɜɹld!"
    assert [(w.text, w.phonemes) for w in r.words] == [
        ("Hello", "həlˈO"), (",", ","), ("world", "wˈɜɹld"), ("!", "!")]
    assert [w.normalized for w in r.words] == ["Hello", ",", "world", "!"]
    assert r.warnings == []


def test_words_keep_order_and_name_their_source():
    r = phonemize("The 3 cats, John's dogs.")
    assert [w.normalized for w in r.words] == ["The", "three", "cats", ",", "John's", "dogs", "."]
    assert [w.text for w in r.words] == ["The", "3", "cats", ",", "John's", "dogs", "."]
    assert "  " not in r.phonemes


def test_words_from_one_source_token_share_it():
    r = phonemize("Dr. Kim paid $3.50 on 2026-10-01.")
    assert [(w.text, w.normalized) for w in r.words] == [
        ("Dr.", "Doctor"), ("Kim", "Kim"), ("paid", "paid"),
        ("$3.50", "three"), ("$3.50", "dollars"), ("$3.50", "and"), ("$3.50", "fifty"), ("$3.50", "cents"),
        ("on", "on"), ("2026-10-01", "October"), ("2026-10-01", "first"), ("2026-10-01", ","),
        ("2026-10-01", "twenty"), ("2026-10-01", "twenty-six"), (".", "."),
    ]


def test_unknown_lang_lists_the_codes():
    from kokoro_litert.runtime.errors import UnknownLanguage

    with pytest.raises(UnknownLanguage, match=r"a \(en-us, American English\).*z \(zh, Mandarin Chinese\)"):
        phonemize("hello", "klingon")


# -- odd input: never crash, never drop silently -------------------------------------------------

def test_empty_string():
    r = phonemize("")
    assert (r.phonemes, r.words, r.warnings) == ("", [], [])


def test_whitespace_only():
    assert phonemize("  \n\t ").phonemes == ""


def test_emoji_only_warns():
    r = phonemize("😀🎉")
    assert r.phonemes == ""
    assert len(r.warnings) == 2 and all("skipped" in w for w in r.warnings)


def test_long_token_is_speakable():
    r = phonemize("a" * 2000)
    assert r.phonemes and set(r.phonemes) <= KOKORO_VOCAB
    assert any("2000-character" in w for w in r.warnings)


def test_long_digit_run_is_linear_time():
    # Regression: number regexes could restart inside a digit run, quadratic in its length.
    start = time.perf_counter()
    r = phonemize("1" * 2000)
    assert time.perf_counter() - start < 1.0
    assert r.phonemes.split(" ")[:2] == ["wˈʌn", "wˈʌn"]


def test_repeated_warnings_are_counted():
    r = phonemize("😀" * 50)
    assert r.warnings == ["skipped '😀' (GRINNING FACE): no English reading (x50)"]


def test_mixed_scripts_speak_latin_and_warn():
    r = phonemize("Hello привет world 你好")
    assert r.phonemes == "həlˈO wˈɜɹld"
    assert any("привет" in w for w in r.warnings) and any("你好" in w for w in r.warnings)


def test_glued_mixed_scripts():
    r = phonemize("helloмир")
    assert r.phonemes == "həlˈO"
    assert any("мир" in w for w in r.warnings)


def test_symbols_are_reported():
    r = phonemize("a * b")
    assert any("'*'" in w for w in r.warnings)


def test_out_of_lexicon_word_uses_espeak():
    r = phonemize("Zorblax")
    assert r.phonemes == "zˈɔɹblæks"


def test_without_espeak_unknown_words_are_spelled_and_reported(monkeypatch):
    from kokoro_litert.runtime.text import espeak

    def unavailable(word, lang):
        raise espeak.EspeakUnavailable("test")

    monkeypatch.setattr(espeak, "phonemize_word", unavailable)
    r = phonemize("hello zorblax")
    assert r.phonemes == "həlˈO " + lexicon("a").spell("zorblax")
    assert len(r.warnings) == 1 and "zorblax" in r.warnings[0] and "spelled" in r.warnings[0]


# -- portable lexicon ----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["a", "b"])
def test_export_round_trip(tmp_path, lang):
    path = tmp_path / f"lexicon_{lang}.tsv"
    n = export_lexicon(path, lang)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# kokoro-litert lexicon v1"
    assert n == len(merged_table(lang)) > 100_000
    assert load_lexicon(path) == merged_table(lang)
    words = [ln.split("\t", 1)[0] for ln in lines if not ln.startswith("# ")]
    assert words == sorted(words)  # binary-searchable


def test_export_heteronym_line(tmp_path):
    path = tmp_path / "lexicon.tsv"
    export_lexicon(path, "a")
    lines = {ln.split("\t", 1)[0]: ln for ln in path.read_text(encoding="utf-8").splitlines()}
    assert lines["US"] == "US\tˌʌs\tNOUN="
    assert lines["record"] == "record\tɹˈɛkəɹd\tVERB=ɹəkˈɔɹd"
    assert lines["hello"] == "hello\thəlˈO"


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("hello\thəlˈO\n", encoding="utf-8")
    with pytest.raises(ValueError, match="export_lexicon"):
        load_lexicon(path)


# -- runtime hygiene -------------------------------------------------------------------

def test_no_heavy_imports():
    code = ("import sys; from kokoro_litert.runtime.text import phonemize; phonemize('hello 42'); "
            "bad = [m for m in ('torch', 'spacy', 'misaki.en', 'num2words', 'phonemizer') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_disk_lexicon_is_misakis_data(tmp_path, monkeypatch):
    """The SQLite tables the runtime looks words up in hold exactly misaki's (case-grown) entries;
    a corrupt file is dropped and written again, an unwritable cache falls back to dicts."""
    from kokoro_litert.runtime.cache import CACHE_ENV
    lex = importlib.import_module("kokoro_litert.runtime.text.lexicon")  # the package exports a function of that name

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    lex.load_tables.cache_clear()
    try:
        gold, silver = lex.load_tables("b")
        assert isinstance(gold, lex.DiskTable)
        for disk, table in zip((gold, silver), lex.load_json_tables("b")):
            keys = sorted(table)[::101]
            assert [disk.get(k) for k in keys] == [table[k] for k in keys]
            assert any(isinstance(table[k], dict) for k in keys) or disk is silver
        assert "zzqxv" not in gold and gold.get("zzqxv") is None
        with pytest.raises(KeyError):
            gold["zzqxv"]

        path = lex.table_path("b", tmp_path / "lexicon")
        path.write_bytes(b"not a database")
        lex.load_tables.cache_clear()
        assert isinstance(lex.load_tables("b")[0], dict) and not path.exists()
        lex.load_tables.cache_clear()
        assert isinstance(lex.load_tables("b")[0], lex.DiskTable) and path.is_file()

        monkeypatch.setenv(CACHE_ENV, str(tmp_path / "file"))
        (tmp_path / "file").write_text("a file where the cache folder would be")
        lex.load_tables.cache_clear()
        assert isinstance(lex.load_tables("b")[0], dict)
    finally:
        lex.load_tables.cache_clear()
        from kokoro_litert.runtime.text.g2p import lexicon

        lexicon.cache_clear()
