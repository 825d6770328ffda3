package kokoro.litert.runtime

import kokoro.litert.buckets.Buckets

/** Kokoro phoneme strings -> token ids (twin of `runtime/vocab.py`). Unknown symbols are an error, not dropped. */
object Vocab {
    fun phonemeIds(phonemes: String, vocab: Map<String, Int>): IntArray {
        if (phonemes.isBlank()) throw KokoroError("The phoneme string is empty.", "Pass Kokoro phonemes, e.g. --phonemes \"həlˈO wˈɜɹld\".")
        val symbols = codePoints(phonemes)
        val unknown = symbols.filter { it !in vocab }.toSortedSet()
        if (unknown.isNotEmpty()) throw KokoroError(
            "Symbols '${unknown.joinToString("")}' are not in Kokoro's phoneme vocabulary.",
            "Use Kokoro's phoneme alphabet (misaki), or pass text instead of --phonemes."
        )
        if (symbols.size > Buckets.MAX_PHONEMES) throw KokoroError(
            "${symbols.size} phonemes exceed the model's ${Buckets.MAX_PHONEMES}.", "Split the input into shorter sentences."
        )
        return IntArray(symbols.size) { vocab.getValue(symbols[it]) }
    }

    /** The string's code points as one-symbol strings (Python iterates a str by code point). */
    fun codePoints(s: String): List<String> {
        val out = ArrayList<String>(s.length)
        var i = 0
        while (i < s.length) {
            val n = Character.charCount(s.codePointAt(i))
            out.add(s.substring(i, i + n))
            i += n
        }
        return out
    }

    /** len() as Python counts it: code points. */
    fun length(s: String): Int = s.codePointCount(0, s.length)
}
