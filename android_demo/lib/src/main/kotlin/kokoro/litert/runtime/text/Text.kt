package kokoro.litert.runtime.text

import kokoro.litert.runtime.KokoroError
import kokoro.litert.util.PyText

/**
 * The text front-end: text in a language Kokoro speaks -> Kokoro phonemes, word by word (twin of
 * `runtime/text/__init__.py`'s `phonemize`). Each language has its reader (`Languages.kt` says which):
 *
 * - English (a, b): `G2p` over the portable lexicon of that accent (`lexicons` loads it on first use),
 *   with espeak-ng or spelling for words outside it (`fallback`);
 * - Spanish, French, Hindi, Italian, Brazilian Portuguese (e f h i p): `EspeakG2p`, upstream's
 *   espeak-ng chain, when the host gives an `EspeakEngine` (the desktop JVM does; the Android app
 *   bundles no espeak-ng);
 * - Mandarin (z) and Japanese (j): Python only (`Language.pythonOnly` says why): a KokoroError.
 *
 * Every reader gives the phonemes upstream's `KPipeline` gives; those of the espeak languages are
 * then cut to Kokoro's 114 symbols as upstream's model cuts its input (`withinVocab`).
 *
 * lexicons: the English lexicon for "a" or "b"; throws KokoroError (with the remedy) when there is none.
 */
class FrontEnd(private val lexicons: (Language) -> Lexicon, private val espeak: EspeakEngine? = null,
               val fallback: Fallback = Fallback.ESPEAK) {
    private val english = HashMap<String, G2p>()

    /**
     * Kokoro phonemes for `text` read in `lang` (a code "a".."z" or a name "en-us", "es", ...). The
     * text may carry inline markup (`Markup.kt`): `[word](/phonemes/)`, `[pause:0.5s]`; pauses come
     * back in `breaks`. Text without markup gives what it always gave.
     */
    fun phonemize(text: String, lang: String): PhonemizeResult {
        val language = Languages.language(lang)
        if (language.pythonOnly != null) throw KokoroError("${language.label} text cannot be read on the JVM: ${language.pythonOnly}.",
            "Read it with the Python runtime (kokoro-litert say --lang ${language.code}, or kokoro-litert phonemize), " +
                "or pass its phonemes.")
        val parsed = Markup.parse(text, language.code)
        if (language.g2p == "english") {
            val g2p = g2p(language)
            if (parsed.plain(text)) return g2p.phonemize(text, language.code)
            val result = g2p.phonemizeSegments(parsed.segments, language.code)
            return PhonemizeResult(result.normalized, result.phonemes, result.words, G2p.dedupe(parsed.warnings + result.warnings),
                                   result.breaks, result.rates)
        }
        val reader = EspeakG2p(espeak ?: throw KokoroError("${language.label} text needs espeak-ng, which this host does not have.",
            "Pass --espeak-lib and --espeak-data (the espeakng-loader wheel's), or speak --phonemes."))
        val read = { t: String -> reader.phonemize(t, language) }
        return withinVocab(if (parsed.plain(text)) read(text) else Markup.readSegments(parsed.segments, read, parsed.warnings), language)
    }

    /** Whether this front-end can read `lang` (its reader exists here and has what it needs). */
    fun reads(lang: Language): Boolean = when (lang.g2p) {
        "english" -> try { g2p(lang); true } catch (e: KokoroError) { false }
        "espeak" -> espeak != null
        else -> false
    }

    @Synchronized
    private fun g2p(lang: Language): G2p = english.getOrPut(lang.code) {
        G2p(mapOf(lang.code to lexicons(lang)), if (fallback == Fallback.ESPEAK) espeak else null, fallback)
    }

    companion object {
        /**
         * The result with every symbol outside Kokoro's vocabulary removed, as upstream's model drops
         * them from its input (¿ ¡ « », diacritics espeak adds, letters of another script). Dropped
         * letters and digits are reported; punctuation and diacritics are not words, and are not.
         */
        fun withinVocab(result: PhonemizeResult, language: Language): PhonemizeResult {
            val ps = result.phonemes
            if (ps.all { it in G2p.KOKORO_VOCAB }) return result
            val dropped = PyText.codePoints(ps).filter { !(it < 0x10000 && it.toChar() in G2p.KOKORO_VOCAB) }.toSortedSet()
            val keptBefore = IntArray(ps.length + 1)
            for (i in ps.indices) keptBefore[i + 1] = keptBefore[i] + if (ps[i] in G2p.KOKORO_VOCAB) 1 else 0
            val letters = if (language.g2p == "espeak") dropped.filter { PyText.majorCategory(it) in "LN" } else emptyList()
            val warnings = ArrayList(result.warnings)
            if (letters.isNotEmpty()) {
                val shown = letters.take(20).joinToString("") { String(Character.toChars(it)) } + if (letters.size > 20) "..." else ""
                warnings.add("${letters.size} letter(s) with no ${language.label} reading were not spoken: ${PyText.repr(shown)}")
            }
            return PhonemizeResult(result.normalized, ps.filter { it in G2p.KOKORO_VOCAB },
                result.words.map { G2p.Word(it.text, it.phonemes.filter { c -> c in G2p.KOKORO_VOCAB }, it.normalized) },
                warnings, result.breaks.map { Break(keptBefore[it.at], it.pause) },
                result.rates.map { Rate(keptBefore[it.start], keptBefore[it.end], it.factor) })
        }
    }
}
