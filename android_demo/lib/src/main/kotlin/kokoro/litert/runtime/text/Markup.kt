package kokoro.litert.runtime.text

import kokoro.litert.runtime.KokoroError
import kokoro.litert.util.PyText

/**
 * Inline markup in the text to speak (twin of `runtime/text/markup.py`, its inline part):
 *
 * - `[word](/phonemes/)`: the word spoken with these phonemes, in Kokoro's alphabet; timings keep the
 *   written word. A symbol outside the alphabet: a warning naming it (with the Kokoro spelling when
 *   it reads as IPA), and the word read normally. English also takes hexgrad/kokoro's stress
 *   changes `[word](-1)`, `[word](+2)`, `[word](0.5)`. Any other link target is not spoken, with a
 *   warning.
 * - `[pause:0.5s]`, `[pause:500ms]`, `[pause:2]` (seconds): silence, at most MAX_PAUSE seconds;
 *   pauses in a row add up, to the same bound.
 *
 * SSML (text starting with `<speak>`), `say-as` readings and the user lexicon are Python only: SSML
 * input is refused with a KokoroError saying so (its XML reader, `say-as` rules per language and
 * IPA mapping are more than the demo carries; see android_demo/README.md).
 */
object Markup {
    private val S = PyText.SPACE_CLASS
    // (?iu): Python's re.IGNORECASE folds case by Unicode; (?U): \d is any decimal digit, as Python's.
    // Groups: 1 amount, 2 unit (a pause); 3 a malformed pause; 4 word, 5 target (a link).
    private val INLINE = Regex(
        "(?iuU)\\[pause:$S*(\\d+(?:\\.\\d*)?|\\.\\d+)$S*(ms|s|secs?|seconds?)?$S*\\]" +
            "|(\\[pause:[^\\[\\]]*\\])" +
            "|\\[([^\\[\\]]+)\\]\\(([^()]*)\\)")
    private val SPEAK = Regex("(?iu)^$S*(?:<\\?xml[^>]*\\?>$S*)?<speak(?:$S|[>/])")
    private val STRESS_TARGET = Regex("(?U)[-+]?\\d+|[-+]?0\\.5")
    /** Kokoro symbols that are not sounds of their own: punctuation, space, stress, length, tones. */
    private const val SOUNDLESS = ";:,.!?—…\"()“” ˈˌːʰʲ↓→↗↘\u0303"
    /** Marks a piece may start with that belong to the piece before it (no space between). */
    private const val ATTACHED = ";:,.!?…)”»"
    private const val OPENING = "(“«"

    /** What `parse` found in a text: segments in reading order, and markup that was malformed or ignored. */
    class Parsed(val segments: List<Segment>, val warnings: List<String>) {
        /** True when nothing in `text` was markup: read it as before. */
        fun plain(text: String) = warnings.isEmpty() &&
            segments.all { it is TextSegment && it.source == null && it.rate == 1.0 } &&
            segments.joinToString("") { (it as TextSegment).text } == text
    }

    /** The segments of `text` read in `lang` (a Kokoro code). SSML is refused (Python only). */
    fun parse(text: String, lang: String): Parsed {
        if (SPEAK.containsMatchIn(text)) throw KokoroError("SSML (text starting with <speak>) is read by the Python runtime only.",
            "Use inline [word](/phonemes/) and [pause:0.5s] here, or kokoro-litert say for SSML.")
        val warnings = ArrayList<String>()
        val segments = mergePauses(mergeTexts(inline(text, lang, warnings)), warnings)
        return Parsed(segments, G2p.dedupe(warnings))
    }

    /** Segments of a text with inline markup (pauses, [word](target) links). */
    fun inline(text: String, lang: String, warnings: MutableList<String>, rate: Double = 1.0): List<Segment> {
        val out = ArrayList<Segment>()
        var last = 0
        for (m in INLINE.findAll(text)) {
            if (m.range.first > last) out.add(TextSegment(text.substring(last, m.range.first), rate = rate))
            last = m.range.last + 1
            val amount = m.groups[1]
            when {
                amount != null -> out.add(Pause(seconds(pyFloat(amount.value),
                    (m.groups[2]?.value ?: "s").toLowerCase(java.util.Locale.ROOT), m.value, warnings)))
                m.groups[3] != null -> {
                    warnings.add("${PyText.repr(m.value)} is not a pause length (write e.g. [pause:0.5s] or [pause:500ms]); " +
                                 "read as written")
                    out.add(TextSegment(m.value, rate = rate))
                }
                else -> out.add(link(m.groups[4]!!.value, PyText.strip(m.groups[5]!!.value), lang, rate, warnings))
            }
        }
        if (last < text.length) out.add(TextSegment(text.substring(last), rate = rate))
        return out
    }

    /** Python's float() of a decimal written with any script's digits. */
    private fun pyFloat(s: String): Double =
        s.map { if (Character.isDigit(it)) ('0' + Character.digit(it, 10)) else it }.joinToString("").toDouble()

    private fun seconds(amount: Double, unit: String, written: String, warnings: MutableList<String>): Double {
        val seconds = if (unit == "ms") amount / 1000 else amount
        if (seconds > MAX_PAUSE) {
            warnings.add("the pause ${PyText.repr(short(written))} is longer than ${g(MAX_PAUSE)} s; it was cut to ${g(MAX_PAUSE)} s")
            return MAX_PAUSE
        }
        return seconds
    }

    /** hexgrad/kokoro's [word](target): /phonemes/, a stress change, or (not supported) #flags#. */
    private fun link(word: String, target: String, lang: String, rate: Double, warnings: MutableList<String>): Segment {
        if (target.length > 1 && target.first() == '/' && target.last() == '/') {
            val phonemes = checkedPhonemes(PyText.strip(target.trim('/')), word, lang, warnings)
            return if (!phonemes.isNullOrEmpty()) Fixed(word, phonemes, rate = rate) else TextSegment(word, rate = rate)
        }
        when {
            STRESS_TARGET.matches(target) -> {
                if (lang == "a" || lang == "b") return Stressed(word, pyFloat(target.trimStart('+')) , rate)
                warnings.add("stress changes like [$word]($target) work in English only; ${PyText.repr(word)} is read normally")
            }
            target.length > 1 && target.first() == '#' && target.last() == '#' ->
                warnings.add("number flags like [$word]($target) are not supported; ${PyText.repr(word)} is read normally")
            else -> warnings.add("the link target of [$word](${short(target)}) is not spoken: only [word](/phonemes/) " +
                                 "gives a pronunciation")
        }
        return TextSegment(word, rate = rate)
    }

    /** `phonemes` if Kokoro can speak them, else null with a warning naming what is wrong. */
    fun checkedPhonemes(phonemes: String, word: String, lang: String, warnings: MutableList<String>): String? {
        val bad = PyText.codePoints(phonemes).filter { !(it < 0x10000 && it.toChar() in G2p.KOKORO_VOCAB) }.toSortedSet()
            .joinToString("") { String(Character.toChars(it)) }
        if (bad.isNotEmpty()) {
            val (mapped, unmapped, _) = Ipa.toKokoro(phonemes, lang)
            val hint = if (mapped.isNotEmpty() && unmapped.isEmpty()) " (if that is IPA, Kokoro's symbols would be /$mapped/)" else ""
            warnings.add("unknown phoneme symbols ${PyText.repr(bad)} in the pronunciation /${short(phonemes)}/ of " +
                         "${PyText.repr(word)}$hint; ${PyText.repr(word)} is read normally")
            return null
        }
        if (phonemes.all { it in SOUNDLESS }) {
            warnings.add("the pronunciation /$phonemes/ of ${PyText.repr(word)} has no sounds in it; ${PyText.repr(word)} is read normally")
            return null
        }
        return phonemes
    }

    /** Python's `s[:limit] + "..."` for a long string (counted in code points). */
    private fun short(s: String, limit: Int = 40): String =
        if (s.codePointCount(0, s.length) <= limit) s else s.substring(0, s.offsetByCodePoints(0, limit)) + "..."

    /** Python's `format(x, "g")` for the values used here. */
    private fun g(x: Double): String = if (x == Math.floor(x) && Math.abs(x) < 1e15) x.toLong().toString() else x.toString()

    /** Adjacent plain texts at one rate as one text (the front-end reads them together). */
    private fun mergeTexts(segments: List<Segment>): List<Segment> {
        val out = ArrayList<Segment>()
        for (seg in segments) {
            if (seg is TextSegment && seg.text.isEmpty()) continue
            val prev = out.lastOrNull()
            if (seg is TextSegment && prev is TextSegment && seg.source == null && prev.source == null && prev.rate == seg.rate) {
                out[out.size - 1] = TextSegment(prev.text + seg.text, rate = seg.rate)
            } else out.add(seg)
        }
        return out
    }

    /** Pauses with nothing but spaces between them as one pause: their silences add up (to at most
     * MAX_PAUSE, with a warning); a pause replaces a sentence end's usual one. */
    private fun mergePauses(segments: List<Segment>, warnings: MutableList<String>): List<Segment> {
        val out = ArrayList<Segment>()
        for (seg in segments) {
            val between = ArrayList<Segment>()
            while (seg is Pause && out.isNotEmpty() && out.last().let { it is TextSegment && PyText.strip(it.text).isEmpty() }) {
                between.add(out.removeAt(out.size - 1))
            }
            val prev = out.lastOrNull()
            if (seg is Pause && prev is Pause) {
                val before = prev.seconds
                out[out.size - 1] = if (before == null || seg.seconds == null) Pause(if (before == null) seg.seconds else before) else {
                    if (before + seg.seconds > MAX_PAUSE) warnings.add("pauses in a row add up to more than ${g(MAX_PAUSE)} s; cut to ${g(MAX_PAUSE)} s")
                    Pause(Math.min(before + seg.seconds, MAX_PAUSE))
                }
                continue
            }
            out.addAll(between.reversed())
            out.add(seg)
        }
        return out
    }

    /**
     * One result for a language other than English (markup.py `read_segments`): each text segment
     * read on its own by `read` (the language's front-end), fixed words as given, joined with single
     * spaces (none before a closing mark); pauses placed at the joined offsets (`settle`).
     */
    fun readSegments(segments: List<Segment>, read: (String) -> PhonemizeResult, warnings: List<String>): PhonemizeResult {
        var phonemes = ""
        val words = ArrayList<G2p.Word>()
        val allWarnings = ArrayList(warnings)
        val normalized = ArrayList<String>()
        val breaks = ArrayList<Pair<Int, Double?>>()
        val rates = ArrayList<Rate>()
        for (seg in segments) {
            if (seg is Pause) { breaks.add(Pair(phonemes.length, seg.seconds)); continue }
            val text = when (seg) { is TextSegment -> seg.text; is Fixed -> seg.text; is Stressed -> seg.text; else -> "" }
            if (PyText.strip(text).isEmpty()) continue
            val piece: String
            val pieceWords: List<G2p.Word>
            var pieceBreaks: List<Break> = emptyList()
            val rate: Double
            if (seg is Fixed) {
                piece = seg.phonemes
                pieceWords = listOf(G2p.Word(seg.source ?: seg.text, seg.phonemes, seg.text))
                normalized.add(seg.text)
                rate = seg.rate
            } else {
                val result = read(text)
                piece = result.phonemes
                pieceBreaks = result.breaks
                val source = (seg as? TextSegment)?.source
                pieceWords = if (source == null) result.words else result.words.map { G2p.Word(source, it.phonemes, it.normalized) }
                normalized.add(result.normalized)
                allWarnings.addAll(result.warnings)
                rate = (seg as? TextSegment)?.rate ?: (seg as Stressed).rate
            }
            if (piece.isEmpty()) continue
            val sep = if (phonemes.isEmpty() || piece[0] in ATTACHED || phonemes.last() in OPENING) "" else " "
            val start = phonemes.length + sep.length
            phonemes += sep + piece
            words.addAll(pieceWords)
            pieceBreaks.forEach { breaks.add(Pair(it.at + start, it.pause)) }
            if (rate != 1.0) rates.add(Rate(start, phonemes.length, rate))
        }
        val (settled, stretches) = if (breaks.isNotEmpty() || rates.isNotEmpty()) settle(phonemes, breaks, rates) else Pair(emptyList(), emptyList())
        return PhonemizeResult(normalized.filter { it.isNotEmpty() }.joinToString(" "), phonemes, words, G2p.dedupe(allWarnings),
                               settled, stretches)
    }

    /** Marks that belong to the word before them: a break or a stretch's edge moves past them. */
    private const val CLOSING_MARKS = ";:,.!?…)”»"

    /**
     * The `Break`s and `Rate`s of a joined phoneme string, from raw offsets (g2p.py `settle`): a
     * break sits after the word before it and the marks attached to that word, before the space;
     * breaks at one place merge (pauses add up, a pause replaces a sentence end's usual one, at most
     * MAX_PAUSE); a sentence end at the very start or end is dropped, a pause there kept. Rates: one
     * stretch per run at one factor, with a break at either edge.
     */
    fun settle(phonemes: String, breaks: List<Pair<Int, Double?>>, rates: List<Rate>): Pair<List<Break>, List<Rate>> {
        val n = phonemes.length
        fun place(at0: Int): Int {
            var at = Math.min(Math.max(at0, 0), n)
            while (at > 0 && phonemes[at - 1] == ' ') at--
            while (at < n && phonemes[at] in CLOSING_MARKS) at++
            return at
        }
        val merged = HashMap<Int, Double?>()
        for ((at0, pause) in breaks) {
            val at = place(at0)
            if (!merged.containsKey(at) || merged[at] == null) merged[at] = pause
            else if (pause != null) merged[at] = Math.min(merged[at]!! + pause, MAX_PAUSE)
        }
        val stretches = ArrayList<DoubleArray>() // [start, end, factor]
        for (r in rates.sortedWith(compareBy<Rate>({ it.start }, { it.end }, { it.factor }))) {
            val start = Math.min(Math.max(r.start, 0), n)
            val end = place(r.end)
            val last = stretches.lastOrNull()
            if (last != null && last[2] == r.factor && PyText.strip(phonemes.substring(last[1].toInt(), Math.max(start, last[1].toInt()))).isEmpty()) {
                last[1] = Math.max(last[1], end.toDouble())
            } else if (end > start) stretches.add(doubleArrayOf(start.toDouble(), end.toDouble(), r.factor))
        }
        for (s in stretches) for (edge in listOf(place(s[0].toInt()), s[1].toInt())) {
            if (edge in 1 until n && !merged.containsKey(edge)) {
                val before = phonemes.substring(0, edge).trimEnd { it in ")”» " }
                merged[edge] = if (before.isNotEmpty() && before.last().toString() in G2p.SENTENCE_ENDS) null else 0.0
            }
        }
        val out = merged.entries.sortedBy { it.key }.filter { it.value != null || (it.key in 1 until n) }.map { Break(it.key, it.value) }
        return Pair(out, stretches.map { Rate(it[0].toInt(), it[1].toInt(), it[2]) })
    }
}
