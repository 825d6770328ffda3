package kokoro.litert.runtime.text

import kokoro.litert.util.PyText

/**
 * Spanish, French, Hindi, Italian and Brazilian Portuguese: espeak-ng, as upstream feeds Kokoro
 * (twin of `runtime/text/espeak_g2p.py`, which says what each step reproduces of upstream's
 * phonemizer chain and why):
 *
 * 1. « » become “ ”, ( ) become « » (turned back at the end).
 * 2. Every run of punctuation marks (with the spaces around it) cuts the text; each piece is read by
 *    espeak-ng on its own (`EspeakEngine.tiedIpa`).
 * 3. Each piece's IPA tidied: whitespace, "_" runs, "(en)"-style language-switch flags removed, one
 *    trailing space per word.
 * 4. The marks go back where they were.
 * 5. Tied pairs become Kokoro symbols (a^ɪ -> I, t^ʃ -> ʧ, ...); leftover ties and hyphens dropped.
 *
 * Symbols outside Kokoro's vocabulary (¿ ¡ « », some diacritics) stay in `upstreamPhonemes`; the
 * dispatcher (`Text.kt` `withinVocab`) drops them, as upstream's model does.
 */
class EspeakG2p(private val espeak: EspeakEngine) {
    private class Mark(val text: String, val where: String) // where: "begin", "end", "inside", "alone"

    companion object {
        /** phonemizer's default punctuation marks: a run of them, with the spaces around it, cuts the text. */
        const val MARKS = ";:,.!?¡¿—…\"«»“”(){}[]"
        private val MARK_RUN = Regex("(?:" + PyText.SPACE_CLASS + "*[" + MARKS.map { "\\" + it }.joinToString("") + "]+" +
            PyText.SPACE_CLASS + "*)+")
        // (?d): only "\n" ends a line, as for Python's "." and "$"
        private val SWITCH_FLAG = Regex("(?d)\\(.+?\\)")
        private val UNDERSCORES = Regex("_+")
        /** misaki's espeak-to-Kokoro rewrites for these languages: tied pairs -> one symbol. */
        val TIED_TO_KOKORO = listOf(
            "a^ɪ" to "I", "a^ʊ" to "W", "d^z" to "ʣ", "d^ʒ" to "ʤ", "e^ɪ" to "A", "o^ʊ" to "O", "s^s" to "S",
            "t^s" to "ʦ", "t^ʃ" to "ʧ", "ɔ^ɪ" to "Y", "ə^ʊ" to "Q"
        )
        const val TIE = "^"
        /** espeak-ng's Hindi reads English words too; the other languages: Latin script only. */
        private val NATIVE_SCRIPTS = mapOf("h" to Regex("[\\p{IsDevanagari}\\p{IsLatin}]"))
        private val LATIN = Regex("\\p{IsLatin}")
        val DANDAS = listOf("।", "॥") // Devanagari sentence ends
        /** Up to a danda and its closing marks (espeak_g2p.py `_DANDA_SENTENCE`). */
        private val DANDA_SENTENCE = Regex("(?sd).*?(?:[।॥]+[”\"’»)\\]]*(?=" + PyText.SPACE_CLASS + "|$)|$)")
        private val NEWLINES = Regex("\n+")

        private fun toKokoro(ps0: String): String {
            var ps = ps0
            for ((tied, symbol) in TIED_TO_KOKORO) ps = ps.replace(tied, symbol)
            return ps.replace(TIE, "").replace("-", "").replace("«", "(").replace("»", ")")
        }

        private fun prepare(text: String) = text.replace("«", "“").replace("»", "”").replace("(", "«").replace(")", "»")

        /** The text's pieces between runs of marks (empty pieces dropped), and the runs in order. */
        private fun cutAtMarks(text: String): Pair<List<String>, List<Mark>> {
            val runs = MARK_RUN.findAll(text).toList()
            if (runs.isEmpty()) return Pair(listOf(text), emptyList())
            if (runs.size == 1 && runs[0].value == text) return Pair(emptyList(), listOf(Mark(text, "alone")))
            val marks = runs.mapIndexed { i, run ->
                when {
                    i == 0 && text.startsWith(run.value) -> Mark(run.value, "begin")
                    i == runs.size - 1 && text.endsWith(run.value) -> Mark(run.value, "end")
                    else -> Mark(run.value, "inside")
                }
            }
            val pieces = ArrayList<String>()
            var rest = text
            for (mark in marks) {
                // At the mark's first occurrence in what is left (phonemizer's str.split), which is not
                // always where the run was found; kept so the pieces are upstream's.
                val at = rest.indexOf(mark.text)
                if (at < 0) { pieces.add(rest); rest = "" } else {
                    pieces.add(rest.substring(0, at))
                    rest = rest.substring(at + mark.text.length)
                }
            }
            pieces.add(rest)
            return Pair(pieces.filter { it.isNotEmpty() }, marks)
        }

        /** The phonemized pieces with the marks restored between them (phonemizer's restore for one
         * line of text, of which upstream keeps only the first output line). */
        private fun putMarksBack(pieces0: List<String>, marks0: List<Mark>): String {
            val pieces = pieces0.toMutableList()
            val marks = marks0.toMutableList()
            val out = ArrayList<String>()
            var ended = false // an end mark closed the line: phonemizer would start a second output line
            while (pieces.isNotEmpty() || marks.isNotEmpty()) {
                if (marks.isEmpty()) {
                    pieces.forEach { out.add(if (it.endsWith(" ")) it else "$it ") }
                    pieces.clear()
                } else if (pieces.isEmpty()) {
                    out.add(marks.joinToString("") { it.text })
                    marks.clear()
                } else if (ended) {
                    out.add(pieces.removeAt(0))
                } else {
                    val mark = marks.removeAt(0)
                    if (pieces[0].endsWith(" ")) pieces[0] = pieces[0].dropLast(1)
                    val space = if (mark.text.endsWith(" ")) "" else " "
                    when {
                        mark.where == "begin" -> pieces[0] = mark.text + pieces[0]
                        mark.where == "end" -> { out.add(pieces.removeAt(0) + mark.text + space); ended = true }
                        pieces.size == 1 -> pieces[0] = pieces[0] + mark.text
                        else -> { val first = pieces.removeAt(0); pieces[0] = first + mark.text + pieces[0] }
                    }
                }
            }
            return if (out.isEmpty()) "" else out[0]
        }
    }

    /** One piece through espeak-ng, tidied as phonemizer does; each word followed by one space. */
    private fun phonemizePiece(piece: String, language: String): String {
        var line = espeak.tiedIpa(piece, language)
        line = PyText.strip(line).replace("\n", " ").replace("  ", " ")
        line = UNDERSCORES.replace(line, "_")
        line = line.replace("_ ", " ")
        line = SWITCH_FLAG.replace(line, "")
        if (line.isEmpty()) return ""
        return line.split(" ").joinToString("") { PyText.strip(it).replace(Espeak.IPA_TIE, TIE) + " " }
    }

    /** Upstream's phoneme string for one line of text read as `language` (an espeak tag), symbols
     * outside Kokoro's vocabulary included. */
    fun upstreamPhonemes(text: String, language: String): String {
        val (pieces, marks) = cutAtMarks(prepare(text))
        return toKokoro(PyText.strip(putMarksBack(pieces.map { phonemizePiece(it, language) }, marks)))
    }

    /** The source words of one piece with their phonemes, for word timings: one phoneme word each
     * when the counts agree, else by the count each word gives alone; when that does not add up
     * either, the piece is one timed unit (espeak_g2p.py `_piece_words`). */
    private fun pieceWords(piece: String, piecePs: String, language: String): List<G2p.Word> {
        val tokens = PyText.split(piece)
        val psWords = PyText.split(toKokoro(piecePs))
        if (tokens.isEmpty() || psWords.isEmpty()) return emptyList()
        val counts = if (tokens.size == psWords.size) List(tokens.size) { 1 } else {
            val c = tokens.map { PyText.split(phonemizePiece(it, language)).size }
            if (c.sum() != psWords.size) return listOf(G2p.Word(tokens.joinToString(" "), psWords.joinToString(" "), piece))
            c
        }
        val words = ArrayList<G2p.Word>()
        var at = 0
        for ((token, n) in tokens.zip(counts)) {
            if (n > 0) words.add(G2p.Word(token, psWords.subList(at, at + n).joinToString(" "), token))
            at += n
        }
        return words
    }

    /** A warning per word written in a script the language does not use (espeak-ng still reads it). */
    private fun foreignWords(text: String, lang: Language): List<String> {
        val native = NATIVE_SCRIPTS[lang.code] ?: LATIN
        val seen = HashSet<String>()
        val out = ArrayList<String>()
        for (word in PyText.split(text)) {
            val foreign = PyText.codePoints(word)
                .filter { PyText.isAlpha(it) && !native.matches(String(Character.toChars(it))) }
                .map { PyText.name(it).split(" ")[0] }.toSortedSet()
            if (foreign.isNotEmpty() && seen.add(word)) {
                out.add("${PyText.repr(word)} is ${foreign.joinToString("/")} script, not ${lang.label}: espeak-ng read it " +
                        "its own way (another language's sounds or letter names)")
            }
        }
        return out
    }

    /**
     * Upstream's phonemes for `text` in an espeak language, with its words for timing
     * (espeak_g2p.py `phonemize`). Lines are read one by one and joined by a space. A danda ends a
     * sentence that espeak leaves unmarked: each such sentence is read on its own and where it ends
     * goes into `breaks`.
     */
    fun phonemize(text: String, lang: Language): PhonemizeResult {
        val language = lang.espeakVoice ?: throw IllegalArgumentException("${lang.label} is not an espeak language")
        var phonemes = ""
        val words = ArrayList<G2p.Word>()
        val breaks = ArrayList<Break>()
        for (line in text.split(NEWLINES)) {
            for (m in DANDA_SENTENCE.findAll(PyText.strip(line))) {
                val sentence = m.value
                val (pieces, marks) = cutAtMarks(prepare(sentence))
                val piecePs = pieces.map { phonemizePiece(it, language) }
                val ps = toKokoro(PyText.strip(putMarksBack(piecePs, marks)))
                if (ps.isEmpty()) continue
                for ((piece, pps) in pieces.zip(piecePs)) words.addAll(pieceWords(piece, pps, language))
                phonemes += (if (phonemes.isNotEmpty()) " " else "") + ps
                if (DANDAS.any { PyText.rstrip(sentence).trimEnd { it in "”\"’»)]" }.endsWith(it) }) breaks.add(Break(phonemes.length))
            }
        }
        return PhonemizeResult(text, phonemes, words, foreignWords(text, lang), breaks.filter { it.at < phonemes.length })
    }
}
