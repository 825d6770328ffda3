package kokoro.litert.runtime.text

import java.text.Normalizer

/**
 * IPA -> Kokoro's phoneme symbols (twin of `runtime/text/ipa.py`). On the JVM it gives the hint an
 * inline pronunciation written in IPA gets ("Kokoro's symbols would be /.../"); SSML's
 * `<phoneme alphabet="ipa">`, its other use, is Python only.
 */
object Ipa {
    private const val TIES = "\u0361\u035c"
    private const val NASAL = "\u0303"
    private const val SYLLABIC = "\u0329"
    private const val RHOTIC_HOOK = "\u02de"
    private val TIED = mapOf("tʃ" to "ʧ", "dʒ" to "ʤ", "ts" to "ʦ", "dz" to "ʣ", "tɕ" to "ʨ", "dʑ" to "ʥ",
        "eɪ" to "A", "aɪ" to "I", "ɑɪ" to "I", "ɔɪ" to "Y", "aʊ" to "W", "ɑʊ" to "W", "oʊ" to "O", "əʊ" to "Q")
    private val UNTIED = mapOf("tʃ" to "ʧ", "dʒ" to "ʤ", "tɕ" to "ʨ", "dʑ" to "ʥ")
    private val ENGLISH_CLUSTERS = setOf("ts", "dz")
    private val ENGLISH_PAIRS = mapOf("eɪ" to "A", "aɪ" to "I", "ɑɪ" to "I", "ɔɪ" to "Y", "aʊ" to "W", "ɑʊ" to "W")
    private val ENGLISH_SINGLE = mapOf("r" to "ɹ", "e" to "ɛ", "ɨ" to "ᵻ", "ʉ" to "u", "x" to "k", "ɘ" to "ə", "ɵ" to "ə")
    private val AMERICAN = mapOf("oʊ" to "O", "əʊ" to "O", "o" to "O", "ɚ" to "əɹ", "ɝ" to "ɜɹ", "ɒ" to "ɑ", "a" to "æ", "ː" to "")
    private val BRITISH = mapOf("oʊ" to "Q", "əʊ" to "Q", "o" to "Q", "ɚ" to "ə", "ɝ" to "ɜː", "æ" to "a", "ɾ" to "t", "ʔ" to "t")
    private val ANY_LANGUAGE = mapOf("g" to "ɡ", "'" to "ˈ", ":" to "ː", "ɫ" to "l", "ʍ" to "w", "ɦ" to "h")
    private const val IGNORABLE = ".‿|‖ˑ" + "ʷˠˤⁿˡ" + "\u032f\u0325\u032c\u0324\u0330" + "\u032a\u033a\u033b\u033c\u0339\u031c" +
        "\u031f\u0320\u031d\u031e\u0318\u0319" + "\u0308\u033d\u031a\u0329" + RHOTIC_HOOK
    private const val TONE_LETTERS = "˥˦˧˨˩"
    private val NURSE = Regex("ɜ(?!ɹ)")
    private val SPACES = Regex(kokoro.litert.util.PyText.SPACE_CLASS + "+")

    private fun toneArrow(levels: List<Int>): String {
        val first = levels.first()
        val last = levels.last()
        val low = levels.min()!!
        if (last > first) return if (low < first) "↓" else "↗"
        if (last < first) return if (first >= 4) "↘" else "↓"
        return if (first >= 3) "→" else "↓"
    }

    /** IPA -> Kokoro's symbols for a language (a code): (phonemes, symbols it could not map, marks it dropped). */
    fun toKokoro(ipa: String, lang: String): Triple<String, String, String> {
        val english = lang == "a" || lang == "b"
        val american = lang == "a"
        // one string per code point; a precomposed nasal vowel (ã) split into vowel + U+0303
        val text = kokoro.litert.util.PyText.codePoints(kokoro.litert.util.PyText.strip(ipa)).flatMap { cp ->
            val c = String(Character.toChars(cp))
            val nfd = Normalizer.normalize(c, Normalizer.Form.NFD)
            if (nfd.endsWith(NASAL)) kokoro.litert.util.PyText.codePoints(nfd).map { String(Character.toChars(it)) } else listOf(c)
        }
        val pairs = HashMap(UNTIED)
        val single = HashMap(ANY_LANGUAGE)
        if (english) {
            pairs.putAll(ENGLISH_PAIRS)
            single.putAll(ENGLISH_SINGLE)
            val accent = if (american) AMERICAN else BRITISH
            accent.filterKeys { it.length == 2 }.forEach { (k, v) -> pairs[k] = v }
            accent.filterKeys { it.length == 1 }.forEach { (k, v) -> single[k] = v }
        }
        val out = ArrayList<String>()
        val dropped = java.util.TreeSet<String>()
        var i = 0
        while (i < text.size) {
            val c = text[i]
            if (i + 2 < text.size && text[i + 1] in TIES) {
                val second = text[i + 2]
                val pair = c + second
                out.add(pairs[pair] ?: if (pair in TIED && !(english && pair in ENGLISH_CLUSTERS)) TIED.getValue(pair)
                        else (single[c] ?: c) + (single[second] ?: second))
                i += 3
                continue
            }
            if (i + 1 < text.size && pairs.containsKey(c + text[i + 1])) {
                out.add(pairs.getValue(c + text[i + 1]))
                i += 2
                continue
            }
            if (c in TONE_LETTERS) {
                var n = 1
                while (i + n < text.size && text[i + n] in TONE_LETTERS) n++
                val run = text.subList(i, i + n)
                if (lang == "z") out.add(toneArrow(run.map { 5 - TONE_LETTERS.indexOf(it) })) else dropped.addAll(run)
                i += n
                continue
            }
            when {
                c == SYLLABIC && english && out.isNotEmpty() -> out[out.size - 1] = "ᵊ" + out.last() // bˈʌtᵊn
                c == RHOTIC_HOOK && english -> out.add(if (american) "ɹ" else "")
                c in IGNORABLE || c in TIES -> dropped.add(c)
                else -> out.add(single[c] ?: c)
            }
            i++
        }
        var phonemes = out.joinToString("")
        if (american) phonemes = NURSE.replace(phonemes, "ɜɹ") // NURSE is ɜɹ in misaki's American lexicon
        if (english) phonemes = restress(phonemes)
        phonemes = kokoro.litert.util.PyText.strip(SPACES.replace(phonemes, " "))
        val unmapped = kokoro.litert.util.PyText.codePoints(phonemes).filter { !(it < 0x10000 && it.toChar() in G2p.KOKORO_VOCAB) }
            .toSortedSet().joinToString("") { String(Character.toChars(it)) }
        return Triple(phonemes, unmapped, dropped.sortedBy { it.codePointAt(0) }.joinToString(""))
    }
}
