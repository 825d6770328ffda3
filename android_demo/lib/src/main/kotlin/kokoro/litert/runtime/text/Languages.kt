package kokoro.litert.runtime.text

import kokoro.litert.runtime.KokoroError
import kokoro.litert.util.PyText

/**
 * Kokoro-82M v1.0's nine languages: codes, names, which front-end reads each, and how a voice picks
 * one (twin of `runtime/text/languages.py`). A voice's first letter is its language (af_heart: a,
 * American English; ef_dora: e, Spanish); a language is named by Kokoro's one-letter code or
 * upstream's alias ("e" and "es" are the same language).
 *
 * Front-ends (`g2p`) on the JVM (`Text.kt` dispatches):
 * - "english": `G2p.kt` over the portable lexicon, espeak-ng or spelling for words outside it;
 * - "espeak": `EspeakG2p.kt`, espeak-ng through upstream's espeak-to-Kokoro symbol map;
 * - "mandarin", "japanese": Python only. Their readers need jieba, pypinyin and cn2an (Mandarin) or
 *   MeCab with the UniDic dictionary (Japanese): Python packages and a ~260 MB dictionary with no
 *   portable equivalent here (see android_demo/README.md).
 */
class Language(
    /** Kokoro's one-letter code, the first letter of the language's voice names. */
    val code: String,
    /** Upstream's alias for it (an espeak-ng style tag): "en-us", "es", "pt-br", "zh". */
    val name: String,
    /** In English, for messages: "Brazilian Portuguese". */
    val label: String,
    /** Which front-end reads it: "english", "espeak", "mandarin" or "japanese". */
    val g2p: String,
    /** The espeak-ng language the "espeak" front-end (and English's fallback) reads it with. */
    val espeakVoice: String?,
    /** The voice that speaks it when a language is named and no voice is. */
    val defaultVoice: String,
    /** Why this host cannot read its text, or null when it can. */
    val pythonOnly: String? = null
) {
    override fun toString() = code
}

object Languages {
    private const val MANDARIN_NEEDS = "its front-end needs jieba, pypinyin and cn2an (Python packages)"
    private const val JAPANESE_NEEDS = "its front-end needs MeCab with the UniDic dictionary (fugashi, unidic-lite: " +
        "Python packages and a ~260 MB dictionary)"

    val LANGUAGES: List<Language> = listOf(
        Language("a", "en-us", "American English", "english", "en-us", "af_heart"),
        Language("b", "en-gb", "British English", "english", "en", "bf_emma"),
        Language("e", "es", "Spanish", "espeak", "es", "ef_dora"),
        Language("f", "fr-fr", "French", "espeak", "fr-fr", "ff_siwis"),
        Language("h", "hi", "Hindi", "espeak", "hi", "hf_alpha"),
        Language("i", "it", "Italian", "espeak", "it", "if_sara"),
        Language("p", "pt-br", "Brazilian Portuguese", "espeak", "pt-br", "pf_dora"),
        Language("j", "ja", "Japanese", "japanese", null, "jf_alpha", JAPANESE_NEEDS),
        Language("z", "zh", "Mandarin Chinese", "mandarin", null, "zf_xiaobei", MANDARIN_NEEDS)
    )
    private val BY_KEY: Map<String, Language> = LANGUAGES.flatMap { listOf(it.code to it, it.name to it) }.toMap()
    val DEFAULT: Language = LANGUAGES[0]
    val CODES: List<String> = LANGUAGES.map { it.code }

    /** One line listing every language: "a (en-us, American English), b (en-gb, ...), ...". */
    fun codesHelp(): String = LANGUAGES.joinToString(", ") { "${it.code} (${it.name}, ${it.label})" }

    /** The language for a code ("e") or name ("es", "ES", "pt_BR"); a KokoroError listing them otherwise. */
    fun language(key: String): Language =
        BY_KEY[PyText.strip(key).toLowerCase(java.util.Locale.ROOT).replace("_", "-")]
            ?: throw KokoroError("Unknown language ${PyText.repr(key)}.", "Use one of: ${codesHelp()}.")

    /** The language a voice name (or the first voice of a blend 'a:0.7,b:0.3') speaks, from its first
     * letter; null for a path or a name without a Kokoro prefix ("af_", "zm_", ...). */
    fun languageOfVoice(voice: String): Language? {
        val first = PyText.strip(voice.split(",", limit = 2)[0].split(":", limit = 2)[0])
        if (first.length >= 3 && first[2] == '_' && first[1] in "fm") return BY_KEY[first.substring(0, 1)]
        return null
    }

    /** The language to read text in: `lang` when given, else the voice's, else American English. */
    fun resolve(lang: String?, voice: String): Language =
        if (lang != null) language(lang) else languageOfVoice(voice) ?: DEFAULT

    /** The voice to use when none is named (checks.py `default_voice`): the language's own, or
     * af_heart; when `known` lacks it (an exported folder with a few voices), the first known voice
     * of that language, else the first known voice. */
    fun defaultVoice(known: List<String>?, lang: Language?): String {
        val wanted = lang?.defaultVoice ?: DEFAULT.defaultVoice
        if (known == null || wanted in known) return wanted
        val same = known.filter { lang == null || languageOfVoice(it) === lang }
        return (if (same.isNotEmpty()) same else if (known.isNotEmpty()) known else listOf(wanted))[0]
    }
}
