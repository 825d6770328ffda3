"""Mandarin (z) and Japanese (j) front-ends: upstream's phonemes, words, source mapping, warnings,
odd input, the missing-extra error, and where jieba keeps its cache.

The reference is upstream hexgrad/kokoro 0.9.4 `KPipeline(lang_code=X, model=False)` with misaki
0.9.4, frozen in tests/data/languages/{z,j}.upstream.tsv by tests/data/make_upstream_phonemes.py (no
kokoro needed here). `test_chunking_matches_upstream_live` runs upstream itself, on texts the files
cannot hold (newlines, chunks over 400 characters), where kokoro is installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kokoro_litert.runtime.errors import KokoroError, MissingExtra
from kokoro_litert.runtime.text import cjk, japanese, mandarin

# cn2an warns on stderr about numbers it cannot read (mandarin.py silences it outside pytest, which
# resets warning filters per test); misaki.cutlet reads its word list with a deprecated call.
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning:cn2an.transform"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:misaki.cutlet")]

LANGUAGES_DIR = Path(__file__).parent / "data" / "languages"
FRONTENDS = {"z": mandarin, "j": japanese}
# Issue 22's acceptance bar for Chinese and Japanese.
MIN_IDENTICAL_ITEMS = 0.90
MIN_CHARACTER_AGREEMENT = 0.99


def upstream_rows(lang: str) -> list[tuple[str, str]]:
    rows = []
    for line in (LANGUAGES_DIR / f"{lang}.upstream.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            continue
        text, phonemes = line.split("\t")
        rows.append((text, phonemes))
    return rows


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# --------------------------------------------------------------------------- agreement with upstream


@pytest.mark.parametrize("lang", ["z", "j"])
def test_phonemes_agree_with_upstream(lang):
    rows = upstream_rows(lang)
    assert len(rows) >= 60
    identical, distance, length, differing = 0, 0, 0, []
    for text, expected in rows:
        got = FRONTENDS[lang].phonemize(text).phonemes
        identical += got == expected
        distance += levenshtein(got, expected)
        length += len(expected)
        if got != expected:
            differing.append(f"{text}\n  upstream {expected}\n  ours     {got}")
    agreement = 1 - distance / length
    print(f"{lang}: {identical}/{len(rows)} items identical, character agreement {agreement:.4%}")
    assert identical / len(rows) >= MIN_IDENTICAL_ITEMS, "\n".join(differing)
    assert agreement >= MIN_CHARACTER_AGREEMENT, "\n".join(differing)


# Texts the committed files cannot hold: newlines and chunks over 400 characters (KPipeline cuts
# them into chunks at ASCII sentence marks and phonemizes each on its own).
CHUNKING_TEXTS = {
    "z": ["今天天气很好。\n\n我们去公园吧！",
          "这是第一句话，我们说了很多。" * 20 + "Hello. " + "这是第二部分的内容！" * 30 + "? 好的.",
          "没有任何句号的长句子" * 60],
    "j": ["今日はいい天気です。\n明日は雨でしょう。",
          "これは最初の文です、とても長いです。" * 15 + "OK. " + "二番目の部分です！" * 30 + "? はい.",
          "句点のない長い文章" * 60],
}


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["z", "j"])
def test_chunking_matches_upstream_live(lang):
    kokoro = pytest.importorskip("kokoro")
    if lang == "j":
        pytest.importorskip("pyopenjtalk")  # misaki.ja imports it at load time
    pipeline = kokoro.KPipeline(lang_code=lang, repo_id="hexgrad/Kokoro-82M", model=False)
    for text in CHUNKING_TEXTS[lang]:
        expected = " ".join(r.phonemes for r in pipeline(text))
        got = FRONTENDS[lang].phonemize(text).phonemes
        if len(expected) >= 510:  # upstream cuts every chunk at 510 phonemes; we never do
            assert got.startswith(expected[:500]) and len(got) > len(expected)
        else:
            assert got == expected


def test_kpipeline_chunks():
    # Lines first, then ASCII sentence marks, chunks of at most 400 characters; a longer sentence
    # stays whole.
    assert cjk.kpipeline_chunks("  一。二!\n\n\n三?  ") == ["一。二!", "三?"]
    long_sentence = "字" * 450 + "."
    assert cjk.kpipeline_chunks("a. " + long_sentence + " b.") == ["a.", long_sentence, "b."]
    assert cjk.kpipeline_chunks("x" * 300 + ". " + "y" * 99 + ".") == ["x" * 300 + ".", "y" * 99 + "."]
    assert cjk.kpipeline_chunks("x" * 300 + ". " + "y" * 97 + ".") == ["x" * 300 + ". " + "y" * 97 + "."]
    assert cjk.kpipeline_chunks(" \n \n") == []


@pytest.mark.parametrize("lang", ["z", "j"])
def test_long_text_is_never_truncated(lang):
    text = CHUNKING_TEXTS[lang][2]  # one 600-character chunk: upstream keeps 510 of its phonemes
    result = FRONTENDS[lang].phonemize(text)
    assert len(result.phonemes) > 1000
    assert result.phonemes.endswith(result.words[-1].phonemes)


# --------------------------------------------------------------------------- words


@pytest.mark.parametrize("lang", ["z", "j"])
def test_every_word_is_found_in_order(lang):
    """The API times a word by finding its phonemes in the phoneme string from a cursor."""
    for text, _ in upstream_rows(lang):
        result = FRONTENDS[lang].phonemize(text)
        assert result.words
        cursor = 0
        source_cursor = 0
        for word in result.words:
            at = result.phonemes.find(word.phonemes, cursor)
            assert at >= 0, (text, word, result.phonemes[cursor:])
            cursor = at + len(word.phonemes)
            found = text.find(word.text, source_cursor)
            assert found >= 0, (text, word)  # every word names source text, in order
            source_cursor = found


def test_mandarin_words_are_jieba_words():
    jieba = pytest.importorskip("jieba")
    from misaki.zh import ZHG2P

    words = mandarin.phonemize("今天天气很好，我们去公园吧！").words
    def read(w):
        return ZHG2P.word2ipa(w).replace("\u032f", "")  # upstream removes the non-syllabic mark

    expected = [(w, read(w)) for w in jieba.lcut("今天天气很好")] + [("，", ",")]
    expected += [(w, read(w)) for w in jieba.lcut("我们去公园吧")] + [("！", "!")]
    assert [(w.text, w.phonemes) for w in words] == expected


def test_mandarin_numbers_point_at_source_digits():
    result = mandarin.phonemize("我在2024年3月5日花了12.5元。")
    assert "二零二四年三月五日" in result.normalized
    by_reading = {w.normalized: w.text for w in result.words}
    assert by_reading["二零二"] == "2024"  # jieba: 二零二 | 四年
    assert by_reading["四年"] == "2024年"
    assert by_reading["三月"] == "3月"
    assert by_reading["十二点"] == "12.5"  # jieba: 十二点 | 五元
    assert by_reading["五元"] == "12.5元"
    assert by_reading["."] == "。"
    for w in result.words:
        assert w.text in "我在2024年3月5日花了12.5元。"


def test_japanese_numbers_point_at_source_digits():
    result = japanese.phonemize("2024年3月5日に1,500円を払いました。")
    texts = [(w.text, w.phonemes) for w in result.words]
    assert texts[:4] == [("2024", "ɲi"), ("2024", "seɴ"), ("2024", "ɲiʥɨːjoɴ"), ("年", "neɴ")]
    assert ("1", "iʨi") in texts and ("500", "ɡoçakɯ") in texts
    wide = japanese.phonemize("ＡＢＣ１２３です")
    assert [w.text for w in wide.words] == ["ＡＢＣ", "１２３", "１２３", "です"]


def test_align_maps_rewrites_to_their_source():
    spanned = cjk.align("第1名，第2名", "第一名, 第二名", fold=lambda c: "," if c == "，" else c)
    assert spanned.s == "第一名, 第二名"
    pieces = [spanned.source_span(i, i + 1) for i in range(len(spanned.s))]
    assert pieces == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 4), (4, 5), (5, 6), (6, 7)]
    # Linear enough for the worst texts a server takes (difflib took seconds on these).
    # The leading "b" is an insertion, the trailing "b" of the source a deletion.
    assert cjk.align("ab" * 2000, "ba" * 2000).source_span(0, 4000) == (0, 3999)
    assert cjk.align("1" * 2000, "いち " * 2000).source_span(0, 3) == (0, 2000)


# --------------------------------------------------------------------------- warnings and odd input


def test_plain_text_has_no_warnings():
    assert mandarin.phonemize("今天天气很好，我们去公园吧！").warnings == []
    assert japanese.phonemize("今日はいい天気ですね。公園に行きましょう！").warnings == []


def test_mandarin_warns_about_what_kokoro_drops():
    result = mandarin.phonemize("我喜欢用iPhone和한국어还有😀")
    assert "iPhone" in result.phonemes  # passed through as upstream passes it
    warnings = " | ".join(result.warnings)
    assert "'iPhone'" in warnings and "'P'" in warnings
    assert "'한국어'" in warnings and "HANGUL" in warnings
    assert "GRINNING FACE" in warnings
    assert len(result.warnings) == 3
    long_number = mandarin.phonemize("号码是12345678901234567890。")
    assert any("12345678901234567890" in w and "number" in w for w in long_number.warnings)


def test_japanese_warns_about_dropped_scripts():
    result = japanese.phonemize("これは한국어とПриветのテストです。")
    assert result.phonemes == "koɾe βa to no tesɨto desɨ."  # upstream drops both words
    warnings = " | ".join(result.warnings)
    assert "'한국어'" in warnings and "HANGUL" in warnings
    assert "'Привет'" in warnings and "CYRILLIC" in warnings
    latin = japanese.phonemize("新しいiPhoneです")
    assert any("'iPhone'" in w and "'P'" in w for w in latin.warnings)


ODD_INPUTS = ["", "   ", "\n\n", "😀", "😀👍🏽🇯🇵", "あ" * 2000, "啊" * 2000, "1" * 2000, "." * 2000,
              "a" * 2000, "，" * 2000, "中文かなEnglish한국어Русский١٢٣😀", "兙瓧", "１２３４５６７８９０円",
              "٣", "፩", "\u3099\u309a", "\u200b\u200d\ufeff", "〜5", "ㇰㇱㇲ"]


@pytest.mark.parametrize("lang", ["z", "j"])
def test_odd_input_never_crashes(lang):
    for text in ODD_INPUTS:
        result = FRONTENDS[lang].phonemize(text)
        assert isinstance(result.phonemes, str)
        assert all(w.phonemes for w in result.words)
        if not text.strip():
            assert result.phonemes == "" and result.words == []


def test_readings_where_upstream_fails():
    # Upstream raises on these; we read what can be read and say what was skipped.
    zh = mandarin.phonemize("兙是什么")
    assert zh.phonemes == "ʂɨ↘ ʂə↗nmɤ"
    assert any("'兙'" in w for w in zh.warnings)
    ja = japanese.phonemize("1234567890円")
    assert ja.phonemes == "iʨi ɲi saɴ joɴ ɡo ɾokɯ nana haʨi kʲɨː ʣeɾo eɴ"
    assert any("10-digit" in w for w in ja.warnings)


def test_non_string_input_is_a_type_error():
    with pytest.raises(TypeError):
        mandarin.phonemize(None)
    with pytest.raises(TypeError):
        japanese.phonemize(b"bytes")


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize("lang, module, extra", [("z", "jieba", "zh"), ("z", "cn2an", "zh"),
                                                ("j", "mojimoji", "ja"), ("j", "fugashi", "ja")])
def test_missing_extra_names_the_fix(monkeypatch, lang, module, extra):
    frontend = FRONTENDS[lang]
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    monkeypatch.setattr(frontend, "READER", cjk.Engine(frontend._load))
    with pytest.raises(MissingExtra) as caught:
        frontend.phonemize("你好" if lang == "z" else "こんにちは")
    message = str(caught.value)
    assert "\n" not in message
    assert f"pip install 'kokoro-litert[{extra}]'" in message and repr(module) in message
    assert isinstance(caught.value, KokoroError)


def test_engine_builds_once_across_threads():
    builds = []
    gate = threading.Event()

    def build():
        gate.wait()
        builds.append(1)
        return object()

    engine = cjk.Engine(build)
    got = []
    threads = [threading.Thread(target=lambda: got.append(engine.get())) for _ in range(8)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len({id(g) for g in got}) == 1


@pytest.mark.parametrize("lang", ["z", "j"])
def test_threads_get_the_same_phonemes(lang):
    texts = [text for text, _ in upstream_rows(lang)][:20]
    expected = [FRONTENDS[lang].phonemize(t).phonemes for t in texts]
    results: dict[int, list[str]] = {}

    def work(k):
        results[k] = [FRONTENDS[lang].phonemize(t).phonemes for t in texts]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[k] == expected for k in range(4))


_FRESH_PROCESS = r"""
import json, sys
from kokoro_litert.runtime.text import japanese, mandarin
print(json.dumps({
    "z": mandarin.phonemize(sys.argv[1]).phonemes,
    "j": japanese.phonemize(sys.argv[2]).phonemes,
    "heavy": sorted(m for m in ("torch", "spacy", "pyopenjtalk", "misaki.ja", "misaki.en") if m in sys.modules),
}))
"""


def _fresh_process(tmp_path: Path, cache: Path) -> tuple[dict, dict, str, Path]:
    """Phonemize the first z and j test items in a new interpreter with this cache root and an empty
    temporary directory: (its output, upstream's phonemes, its stderr, the temporary directory)."""
    (z_text, z_phonemes), (j_text, j_phonemes) = upstream_rows("z")[0], upstream_rows("j")[0]
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    env = {"KOKORO_LITERT_CACHE": str(cache), "TMPDIR": str(tmpdir), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _FRESH_PROCESS, z_text, j_text], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    return json.loads(out.stdout), {"z": z_phonemes, "j": j_phonemes, "heavy": []}, out.stderr, tmpdir


@pytest.mark.slow
def test_fresh_process_keeps_jieba_cache_in_kokoro_cache_and_stays_light(tmp_path):
    cache = tmp_path / "cache"
    result, expected, stderr, tmpdir = _fresh_process(tmp_path, cache)
    assert result == expected  # and neither torch, spaCy nor pyopenjtalk was imported
    assert (cache / mandarin.JIEBA_CACHE / "jieba.cache").is_file()
    assert list(tmpdir.iterdir()) == []  # nothing in the temporary directory (jieba's default)
    assert stderr == ""  # jieba's loading chatter is silenced

    # A cache root that cannot be created: jieba builds its dictionary without any cache file.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result, expected, stderr, tmpdir = _fresh_process(tmp_path, blocker / "cache")
    assert result == expected
    assert list(tmpdir.iterdir()) == [] and stderr == ""
