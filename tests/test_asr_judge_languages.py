"""The ASR judge in Kokoro's other languages: per-language normalization and scoring, the multilingual
Whisper base loading from its packages, and the judge hearing the PyTorch reference in each language."""

import importlib.util

import numpy as np
import pytest

from support import asr_judge
from support.asr_judge import (
    WHISPER_SAMPLE_RATE, error_metric, error_rate, normalize, normalize_for, wer, whisper_language,
)


# What normalize_for needs beyond the dev extra: OpenCC (dev) and cn2an (zh extra); MeCab (ja extra).
NORMALIZER_MODULES = {"zh": ["opencc", "cn2an"], "ja": ["fugashi", "unidic_lite"]}


def _needs(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install -e '.[dev,zh,ja]')")


# --------------------------------------------------------------------------- languages and metrics


@pytest.mark.parametrize("name, code", [
    ("es", "es"), ("e", "es"), ("fr-fr", "fr"), ("F", "fr"), ("pt-br", "pt"), ("pt_BR", "pt"), ("p", "pt"),
    ("hi", "hi"), ("h", "hi"), ("it", "it"), ("j", "ja"), ("z", "zh"), ("zh", "zh"), ("a", "en"), ("en-gb", "en"),
])
def test_languages_by_whisper_code_or_kokoro_code_or_name(name, code):
    assert whisper_language(name) == code


@pytest.mark.parametrize("name", ["de", "ko", "", "english"])
def test_unknown_language_is_refused(name):
    with pytest.raises(ValueError, match="no language"):
        whisper_language(name)


def test_character_error_rate_where_words_have_no_spaces():
    assert [error_metric(lang) for lang in ("en", "es", "fr", "it", "pt")] == ["WER"] * 5
    assert [error_metric(lang) for lang in ("hi", "ja", "zh")] == ["CER"] * 3
    assert error_metric("it", unit="char") == "CER"
    with pytest.raises(ValueError, match="unit"):
        error_rate(["uno"], ["uno"], "it", unit="syllable")


def test_english_is_scored_exactly_as_before():
    refs = ["It costs $3.50 at 7:45 p.m.", "Dr. Smith arrived on March 3rd."]
    hyps = ["It costs three dollars fifty at seven forty five PM", "Doctor Smith arrived on March 3."]
    assert error_rate(refs, hyps, "en") == wer(refs, hyps) == 0.0
    assert normalize_for(refs[0], "a") == normalize(refs[0])


# --------------------------------------------------------------------------- normalization


@pytest.mark.parametrize("language, written, heard", [
    ("es", "¿Tienes 25 años?", "tienes veinticinco años"),
    ("es", "Cuesta 1.500 euros.", "cuesta mil quinientos euros"),
    ("es", "Sube un 3,5%.", "Sube un tres coma cinco por ciento"),
    ("fr", "Est-ce que c'est l'heure ?", "est ce que c est l heure"),
    ("fr", "Le train part à 18h30.", "Le train part à dix-huit heures trente."),
    ("fr", "Il a « vingt et un » ans", "Il a 21 ans"),
    ("it", "Il treno è in ritardo di mezz'ora.", "il treno è in ritardo di mezz ora"),
    ("it", "Abbiamo 24 uova", "abbiamo ventiquattro uova"),
    ("pt", "Ela fez 30 anos — na semana passada!", "ela fez trinta anos na semana passada"),
    ("zh", "我們去公園散步，週末去海邊。", "我们去公园散步周末去海边"),  # traditional -> simplified
    ("zh", "我每天早上7點起床", "我每天早上七点起床。"),
    ("zh", "２０２４年", "二零二四年"),  # full-width digits; years digit by digit, as cn2an reads them
    ("ja", "この料理は美味しいです。", "この料理はおいしいです"),  # kanji or kana: one reading
    ("ja", "私は毎朝コーヒーを飲みます", "私はマイアサコーヒーを飲みます。"),
    ("ja", "会議は３時に始まります", "会議は三時に始まります"),
    ("hi", "आज मौसम बहुत अच्छा है और आसमान साफ़ है।", "آج موسم بہت اچھا ہے اور آسمان صاف ہے"),  # Urdu script
    ("hi", "क्या आप मुझे रास्ता बता सकते हैं?", "کیا آپ مجھے راستہ بتا سکتے ہیں"),
    ("hi", "मेरे पास 5 किताबें हैं", "मेरे पास पाँच किताबें हैं"),
    ("hi", "मेरे पास ५ किताबें हैं", "میرے پاس پانچ کتابیں ہیں"),  # Devanagari digit, Urdu words
    ("hi", "दरवाज़ा बंद कर दीजिए", "Darwaza band kar dijiye"),  # romanized
])
def test_spelling_differences_are_not_errors(language, written, heard):
    _needs(*NORMALIZER_MODULES.get(language, []))
    assert normalize_for(written, language).replace(" ", "") == normalize_for(heard, language).replace(" ", "")
    assert error_rate([written], [heard], language) == 0.0


@pytest.mark.parametrize("language, said, heard", [
    ("es", "mientras llovía", "mientras yo vía"),
    ("fr", "demain matin", "de ma matin"),
    ("it", "il mio ombrello", "il mio umbrello"),
    ("pt", "no sábado à tarde", "no saba do atarde"),
    ("zh", "记得带伞", "记得带撒"),
    ("ja", "会社に遅刻しました", "会社に地獄しました"),
    ("hi", "आज मौसम", "آت موسم"),
])
def test_hearing_differences_are_errors(language, said, heard):
    _needs(*NORMALIZER_MODULES.get(language, []))
    assert error_rate([said], [heard], language) > 0


def test_hindi_skeleton_keeps_consonants_and_aspiration():
    assert normalize_for("बहुत अच्छा", "hi") == "bht c"  # अच्छा: c + ch, gemination merged, final h dropped
    assert normalize_for("खाना", "hi") == normalize_for("کھانا", "hi") == "khn"
    assert normalize_for("खाना", "hi") != normalize_for("काना", "hi")  # aspiration counts


def test_error_rates_count_words_or_characters():
    _needs("opencc", "cn2an")
    assert error_rate(["今天天气很好"], ["今天天氣很壞"], "zh") == pytest.approx(1 / 6)  # 氣 is 气; 壞 is not 好
    assert error_rate(["lavora in un ospedale"], ["lavora in uno spedale"], "it") == pytest.approx(2 / 4)
    assert error_rate(["lavora in un ospedale"], ["lavora in uno spedale"], "it", unit="char") == 0.0
    assert error_rate(["hola amigo"], [""], "es") == 1.0
    with pytest.raises(ValueError, match="nothing left"):
        error_rate(["¿?"], ["hola"], "es")
    with pytest.raises(TypeError, match="lists"):
        error_rate("hola", "hola", "es")


# --------------------------------------------------------------------------- the recognizer


def test_multilingual_whisper_loads_from_the_installed_packages():
    _needs("faster_whisper", *asr_judge.MULTILINGUAL_PACKAGES)
    from faster_whisper import WhisperModel

    files = asr_judge.multilingual_model_files()  # checks the reassembled model.bin's sha256
    assert len(files["model.bin"]) == asr_judge.MULTILINGUAL_MODEL_BYTES
    m = asr_judge.multilingual_model()
    assert isinstance(m, WhisperModel) and m is asr_judge.multilingual_model()
    assert m.model.is_multilingual
    assert {"es", "fr", "hi", "it", "pt", "ja", "zh"} <= set(m.supported_languages)
    silence = np.zeros(WHISPER_SAMPLE_RATE // 2, np.float32)
    assert isinstance(asr_judge.transcribe(silence, WHISPER_SAMPLE_RATE, "es"), str)
    assert asr_judge.transcribe(np.zeros(0, np.float32), 24_000, "zh") == ""


# --------------------------------------------------------------------------- the judge on Kokoro's voices

# Two sentences per language, one voice of each gender where the language has both. The phonemes are
# misaki 0.9.4's (EspeakG2P, ZHG2P for v1.0, JAG2P cutlet), fixed here so that this test judges the
# judge, not a front-end.
SPOKEN = [
    ("es", "ef_dora", "Mi hermana prepara una sopa de verduras deliciosa.",
     "mi eɾmˈana pɾepˈaɾa ˈuna sˈopa ðe βeɾðˈuɾas ðˌeliθjˈosa."),
    ("es", "em_alex", "El médico me dijo que debo descansar unos días.",
     "el mˈeðiko me ðˈixo ke ðˈeβo ðˌeskansˈaɾ ˈunos ðˈias."),
    ("fr", "ff_siwis", "La boulangerie du coin vend le meilleur pain de la ville.",
     "la bulɑ̃ʒʁˈi dy kwˈɛ̃ vˈɑ̃ lə mɛjˈœʁ pˈɛ̃ də la vˈil."),
    ("fr", "ff_siwis", "Le musée est fermé le lundi pendant tout l'hiver.",
     "lə myzˈe ɛ fɛʁmˈe lə lœ̃dˈi pɑ̃dˈɑ̃ tu livˈɛʁ."),
    ("hi", "hf_alpha", "क्या आप मुझे रेलवे स्टेशन का रास्ता बता सकते हैं?",
     "kːjaː ˌaːp mˌʊɟʰeː ɾˈeːlʋˌeː sʈˈeːʃən kaː ɾˈaːstaː bˈʌtaː sˈʌktˌeː hɛ̃?"),
    ("hi", "hm_omega", "मुझे चाय बहुत पसंद है लेकिन कॉफ़ी नहीं।",
     "mˌʊɟʰeː cˈaːj bˈʌhʊt pəsˈʌnd hɛː lˈeːkɪn kˈɔfi nˈʌhĩ"),
    ("it", "if_sara", "Il museo apre alle nove e chiude nel tardo pomeriggio.",
     "il mʊzˈɛo ˈapre ˌalle nˈɔve e kjˈude nel tˈardo pomerˈiʤːo."),
    ("it", "im_nicola", "Vorrei prenotare un tavolo per due persone stasera.",
     "vorɾˈɛi prenotˈare ʊn tˈavolo per dˈue persˈone stˌa sˈera."),
    ("pt", "pf_dora", "Minha irmã adora ler livros antes de dormir.",
     "mˌiɲæ iɾəmˈɐ̃ ˌadˈɔɾæ lˈer lˈivrʊz ˈɐ̃ŋʧyz ʤy doɾəmˈir."),
    ("pt", "pm_alex", "Esqueci meu celular em cima da mesa da cozinha.",
     "ˌeskesˈi meʊ sˌelulˈaɾ ˈAŋ sˈimæ da mˈezæ da kˌozˈiɲæ."),
    ("ja", "jf_alpha", "駅の近くに新しいパン屋ができました。",
     "ekʲi no ʨikakɯ ɲi ataɾaɕiː paɴja ɡa dekʲi maɕita."),
    ("ja", "jm_kumo", "日本語の勉強はとても楽しいです。",
     "ɲiʔpoŋɡo no beŋkʲoː βa totemo tanoɕiː desɨ."),
    ("zh", "zf_xiaobei", "妈妈在厨房里做晚饭。",
     "ma→ma→ ʦai↘ ꭧʰu↗fa↗ŋ li↓ ʦwo↘ wa↓nfa↘n."),
    ("zh", "zm_yunxi", "我昨天在超市买了很多水果。",
     "wo↓ ʦwo↗tʰjɛ→n ʦai↘ ꭧʰau→ʂɨ↘ mai↓ lɤ xə↓ntwo→ ʂwei↓kwo↓."),
]


@pytest.mark.real_weights
@pytest.mark.slow
@pytest.mark.parametrize("language", ["es", "fr", "hi", "it", "pt", "ja", "zh"])
def test_judge_hears_the_reference_in_each_language(language, reference, cache_dir):
    """Whisper base on the PyTorch reference: 0 errors on every sentence here (WER 1.8-7.1%, CER 1.5-7.4%
    over 12 sentences per language). The bound allows about one word or two characters wrong per
    language. Measured on two other sentences each: Whisper tiny.en scores 24% (Hindi, romanized) to
    over 100%; Whisper base told the wrong language 46-93% (es as it, it as es, pt as es, fr and hi as
    en, ja as zh), except Mandarin decoded as Japanese (same characters, 0%)."""
    _needs("faster_whisper", *asr_judge.MULTILINGUAL_PACKAGES, *NORMALIZER_MODULES.get(language, []))
    from kokoro_litert.runtime.voices import load_voice

    said, heard = [], []
    for row_language, voice, text, phonemes in SPOKEN:
        if row_language == language:
            audio = reference.synthesize(phonemes, load_voice(voice, cache_dir / "voices")).audio
            said.append(text)
            heard.append(asr_judge.transcribe(audio, 24_000, language))
    score = asr_judge.error_rate_with_report(said, heard, language, f"reference, {language}")
    assert score <= 0.1
