package kokoro.litert.runtime.text

/**
 * espeak-ng for English words outside the lexicon and for the espeak languages (twin of
 * `runtime/text/espeak.py`): the host supplies espeak-ng's IPA (`EspeakEngine`: on the desktop JVM
 * `kokoro.litert.desktop.EspeakJna`, the same libespeak-ng.so and data the Python runtime loads from
 * the espeakng-loader wheel); `toKokoro` maps English IPA into Kokoro's symbols exactly as the Python
 * twin does, and `EspeakG2p` reads the espeak languages.
 */
class EspeakUnavailable(message: String) : RuntimeException(message)

interface EspeakEngine {
    /** espeak-ng's IPA for text (clauses joined by spaces), ties marked with '^', in English's voice
     * for `lang` ("a" or "b", `Espeak.VOICES`). Throws EspeakUnavailable. */
    fun rawIpa(text: String, lang: String): String

    /** espeak-ng's IPA for text read as `language` (an espeak tag: "es", "pt-br"), in the first voice
     * espeak_ListVoices gives whose first language is that tag ("es" -> "roa/es"), as upstream's
     * phonemizer picks it: the clauses joined by spaces, the letters of one phoneme tied by U+0361
     * (`Espeak.IPA_TIE`). The TextToPhonemes loop runs until espeak sets the text pointer to NULL:
     * an empty remainder can still hold a buffered clause (after a danda, say), which would
     * otherwise leak into the next call. Throws EspeakUnavailable. */
    fun tiedIpa(text: String, language: String): String
}

object Espeak {
    const val TIE = "^"
    /** espeak_TextToPhonemes phoneme mode: IPA (bit 1), a tie between letters of one phoneme (bit 7, char in bits 8-23). */
    val PHONEME_MODE = 0x02 or 0x80 or ('^'.toInt() shl 8)
    val VOICES = mapOf("a" to "en-us", "b" to "en")
    /** espeak's own tie character, what upstream's phonemizer asks for (EspeakG2p rewrites it). */
    const val IPA_TIE = "\u0361"
    /** tiedIpa's phoneme mode: IPA, ties marked with IPA_TIE. */
    val TIED_PHONEME_MODE = 0x02 or 0x80 or (0x0361 shl 8)

    private val COMMON: List<Pair<String, String>> = listOf(
        "a^ɪ" to "I", "a^ʊ" to "W", "e^ɪ" to "A", "ɔ^ɪ" to "Y", "d^ʒ" to "ʤ", "t^ʃ" to "ʧ",
        "ə^l" to "ᵊl", "ʲo" to "jo", "ʲə" to "jə", "ʲ" to "", "r" to "ɹ", "x" to "k", "ç" to "k", "ɐ" to "ə", "ɬ" to "l",
        "\u0303" to "", "-" to ""
    ).sortedByDescending { it.first.length } // longest first; a stable sort, as Python's sorted()
    private val US = listOf("o^ʊ" to "O", "ɚ" to "əɹ", "ɝ" to "ɜɹ", "ɜːɹ" to "ɜɹ", "ɜː" to "ɜɹ", "ɪə" to "iə", "ː" to "",
        "e" to "A", "o" to "ɔ")
    private val GB = listOf("ə^ʊ" to "Q", "e^ə" to "ɛː", "iə" to "ɪə", "ɚ" to "ə", "e" to "A", "o" to "ɔ")
    private val FLAGS = Regex("\\([a-z-]+\\)")
    private val GLOTTAL_N = Regex("ʔˌ?n\u0329")
    private val SYLLABIC = Regex("(?U)(\\S)\u0329")
    private val SPACES = Regex("(?U)\\s+")

    /** Map espeak IPA to Kokoro/misaki symbols. */
    fun toKokoro(ipa: String, lang: String): String {
        var ps = FLAGS.replace(ipa, "") // language-switch flags like "(fr)"
        ps = GLOTTAL_N.replace(ps, "ʔn") // glottal stop + syllabic n ("button"): no schwa, as upstream
        ps = SYLLABIC.replace(ps, "ᵊ$1") // syllabic consonant: n̩ -> ᵊn
        for ((old, new) in COMMON) ps = ps.replace(old, new)
        for ((old, new) in if (lang == "b") GB else US) ps = ps.replace(old, new)
        ps = ps.replace(TIE, "")
        return ps.split(SPACES).filter { it.isNotEmpty() }.joinToString(" ")
    }

    fun phonemizeWord(engine: EspeakEngine, word: String, lang: String) = toKokoro(engine.rawIpa(word, lang), lang)
}
