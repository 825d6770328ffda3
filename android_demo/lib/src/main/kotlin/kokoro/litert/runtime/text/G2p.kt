package kokoro.litert.runtime.text

import kokoro.litert.util.PyText

/**
 * English G2P: normalized text -> Kokoro phonemes, word by word (twin of `runtime/text/g2p.py`;
 * same tokenizer, the same right-to-left resolution with the next word's first sound as context,
 * the same function-word, compound, heteronym-cue and join rules, marked "Deviation" there).
 *
 * Out-of-lexicon words go to the `Fallback`:
 * - ESPEAK: espeak-ng through an `EspeakEngine` (the Python default; on the desktop JVM the same
 *   libespeak-ng.so and data as Python). Without an engine, words are spelled, with a warning, as
 *   Python does when espeak-ng is unavailable.
 * - SPELL: spell the word letter by letter from the lexicon's letter entries, with a warning: needs
 *   nothing but the lexicon file, so it is what an Android app without a bundled espeak-ng uses.
 *   Python offers the same behind `phonemize(text, lang, fallback="spell")`, so both hosts agree.
 */
enum class Fallback { ESPEAK, SPELL }

/** What a front-end returns (g2p.py `PhonemizeResult`). */
class PhonemizeResult(
    /** The text after normalization (numbers, symbols and abbreviations spelled out). */
    val normalized: String,
    /** Kokoro phoneme string: words separated by single spaces, punctuation attached. */
    val phonemes: String,
    /** Per spoken word and punctuation mark, in order. */
    val words: List<G2p.Word>,
    /** Everything skipped, unreadable or cut (never dropped silently). */
    val warnings: List<String>,
    /** Where a chunk must end although no mark in `phonemes` shows it (Hindi's danda; a pause asked for). */
    val breaks: List<Break> = emptyList(),
    /** Stretches of `phonemes` spoken faster or slower than the call's speed. */
    val rates: List<Rate> = emptyList()
)

/** A place where a chunk ends although no mark in the phonemes shows it (g2p.py `Break`). */
data class Break(
    /** Offset in `PhonemizeResult.phonemes`. */
    val at: Int,
    /** Seconds of silence inserted there; null: a sentence end, with the usual pause after a sentence. */
    val pause: Double? = null
)

/** A stretch of phonemes spoken at `factor` times the call's speed (breaks bound it). */
data class Rate(val start: Int, val end: Int, val factor: Double)

class G2p(private val lexicons: Map<String, Lexicon>, private val espeak: EspeakEngine? = null,
          val fallback: Fallback = Fallback.ESPEAK) {

    /** One spoken word (or punctuation mark): its source text, phonemes and normalized form. */
    class Word(val text: String, val phonemes: String, val normalized: String)

    private class Token(val kind: String, val text: String, val spaceBefore: Boolean, val start: Int, val end: Int) {
        var phonemes: String? = null
        /** The source text the token came from (its `Word.text`). */
        var source: String = text
        var rate = 1.0
        /** A stress change asked for in the markup (`[word](-1)`). */
        var stress: Double? = null
        /** A "pause" token's seconds (null: a sentence end). */
        var pause: Double? = null
    }

    companion object {
        val LANGS = listOf("a", "b")
        /** Kokoro-82M's 114 input symbols (g2p.py KOKORO_VOCAB). */
        val KOKORO_VOCAB: Set<Char> = (";:,.!?—…\"()“” " + "\u0303ʣʥʦʨᵝꭧAIOQSTWYᵊ" + "abcdefhijklmnopqrstuvwxyz" +
            "ɑɐɒæβɔɕçɖðʤəɚɛɜɟɡɥɨɪʝɯɰŋɳɲɴøɸθœɹɾɻʁɽʂʃʈʧʊʋʌɣɤχʎʒʔ" + "ˈˌːʰʲ↓→↗↘ᵻ").toSet()
        val PAUSES: Set<Char> = ";:,.!?—…".toSet()
        val SENTENCE_ENDS: Set<String> = setOf(".", "!", "?", "…")
        val OPENING: Set<String> = setOf("“", "(")
        val FLAP_REWRITES = listOf("ɾ" to "T", "ʔ" to "t")
        const val MAX_WORD_CHARS = 64

        val DETERMINERS = "the a an this that these those my your his her its our their some any no every each another".split(" ").toSet()
        val VERB_CUES = ("to will would can could should must might may shall do does did don't doesn't didn't won't " +
            "can't cannot couldn't wouldn't shouldn't let's please i you we they").split(" ").toSet()
        val NOUN_FOLLOWERS = ("of in on at to for from with by and or but is was are were has had have will would can could " +
            "that which who").split(" ").toSet()
        val PARTICIPLE_CUES = "have has had having was were been be being is are i've you've we've they've".split(" ").toSet()
        val NUMBER_WORDS: Set<String> = (Numbers.ONES + Numbers.TENS.drop(2) + Numbers.SCALES.drop(1) + listOf("hundred") +
            Numbers.TENS.drop(2).flatMap { t -> Numbers.ONES.subList(1, 10).map { o -> "$t-$o" } }).toSet()

        private val TOKEN = Regex(
            "(?U)(?<initialism>(?:\\p{L}\\.){2,})" +
                "|(?<word>'?[\\p{L}\\p{M}]+(?:['\\-][\\p{L}\\p{M}]+)*'?)" +
                "|(?<digits>\\d+)" +
                "|(?<punct>[;:,.!?—…\"“”()\\[\\]{}])" +
                "|(?<space>\\s+)" +
                "|(?<other>\\X)"
        )
        private val KINDS = listOf("initialism", "word", "digits", "punct", "space", "other")
        private val SCRIPT_RUNS = Regex("[\\p{IsLatin}\\p{M}'\\-]+|[^\\p{IsLatin}\\p{M}'\\-]+")
        private val BRACKETS = mapOf("[" to "(", "{" to "(", "]" to ")", "}" to ")")

        private fun isMark(c: Int): Boolean = when (Character.getType(c)) {
            Character.NON_SPACING_MARK.toInt(), Character.ENCLOSING_MARK.toInt(), Character.COMBINING_SPACING_MARK.toInt() -> true
            else -> false
        }

        fun isLatin(c: Int) = (Character.getName(c) ?: "").startsWith("LATIN") || isMark(c)

        private fun describe(s: String): String {
            if (s.codePointCount(0, s.length) == 1) return Character.getName(s.codePointAt(0)) ?: "U+%04X".format(s.codePointAt(0))
            val names = s.codePoints().toArray().filter { !Character.isWhitespace(it) }
                .map { (Character.getName(it) ?: "U+%04X".format(it)).split(" ")[0] }.toSortedSet()
            return if (names.isEmpty()) "whitespace" else names.joinToString("/")
        }

        private fun pyRepr(s: String) = if ("'" in s && "\"" !in s) "\"$s\"" else "'" + s.replace("'", "\\'") + "'"

        /** True if phonemes start with a vowel, False with a consonant, null at a pause. */
        private fun firstSound(ps: String?): Boolean? {
            for (c in ps ?: "") {
                if (c in PAUSES) return null
                if (c in VOWELS) return true
                if (c in CONSONANTS) return false
            }
            return null
        }

        /** Join the parts of a hyphenated compound (g2p.py `_merge_compound`). */
        fun mergeCompound(parts0: List<String>): String {
            val parts = parts0.toMutableList()
            class W(val primary: Boolean, val weight: Int, val i: Int)
            val weights = parts.mapIndexed { i, p -> W(PRIMARY in p, p.sumBy { if (it in "AIOQWYʤʧ") 2 else 1 }, i) }
            if (parts.size == 2 && parts[0].length == 1) {
                parts[1] = applyStress(parts[1], -0.5)!!
            } else if (parts.size >= 2 && weights.count { it.primary } > (parts.size + 1) / 2) {
                val order = weights.sortedWith(compareBy<W>({ it.primary }, { it.weight }, { it.i }))
                for (w in order.take(parts.size / 2)) parts[w.i] = applyStress(parts[w.i], -0.5)!!
            }
            return parts.joinToString("")
        }

        /** Repeated warnings once, with a count (g2p.py `dedupe_warnings`). */
        fun dedupe(warnings: List<String>): List<String> {
            val counts = LinkedHashMap<String, Int>()
            for (w in warnings) counts[w] = (counts[w] ?: 0) + 1
            return counts.map { (w, n) -> if (n == 1) w else "$w (x$n)" }
        }
    }

    private fun tokenize(text: String, warnings: MutableList<String>): List<Token> {
        val tokens = ArrayList<Token>()
        var space = false
        var quoteOpen = false
        for (m in TOKEN.findAll(text)) {
            val kind = KINDS[(1..KINDS.size).first { m.groups[it] != null } - 1] // the named groups are groups 1..6, in order
            var s = m.value
            val start = m.range.first
            if (kind == "space") { space = true; continue }
            if (kind == "word" && !s.codePoints().allMatch { isLatin(it) || it == '\''.toInt() || it == '-'.toInt() }) {
                // Mixed scripts: keep the Latin runs, report the rest.
                for (rm in SCRIPT_RUNS.findAll(s)) {
                    val run = rm.value
                    val c0 = run.codePointAt(0)
                    if (isLatin(c0) || run[0] in "'-") {
                        val core = run.trim('\'', '-')
                        if (core.isNotEmpty()) {
                            val a = start + rm.range.first + run.length - run.trimStart('\'', '-').length
                            tokens.add(Token("word", core, space, a, a + core.length))
                            space = false
                        }
                    } else {
                        warnings.add("skipped ${pyRepr(run)} (${describe(run)} script): only English text is spoken")
                    }
                }
                continue
            }
            if (kind == "other" && s in listOf("'", "‘", "’", "`")) { space = true; continue }
            if (kind == "other") {
                warnings.add("skipped ${pyRepr(s)} (${describe(s)}): no English reading")
                space = true
                continue
            }
            if (kind == "punct") {
                s = BRACKETS[s] ?: s
                if (s == "\"") {
                    s = if (quoteOpen) "”" else "“" // straight quotes alternate open/close
                    quoteOpen = !quoteOpen
                } else if (s == "“" || s == "”") {
                    quoteOpen = s == "“"
                }
            }
            tokens.add(Token(kind, s, space, start, m.range.last + 1))
            space = false
        }
        return tokens
    }

    private fun capsText(tokens: List<Token>): Boolean {
        val words = tokens.filter { it.kind == "word" && it.text.length > 1 }.map { it.text }
        val caps = words.count { isUpperPy(it) }
        return words.size >= 3 && caps >= 0.6 * words.size
    }

    private inner class Resolver(val lang: String, val warnings: MutableList<String>, val capsText: Boolean) {
        val lex = lexicons[lang] ?: throw IllegalArgumentException("no lexicon loaded for lang '$lang'")

        fun tagFor(word: String, prev0: String?, nextText: String?): String? {
            // Deviation (g2p.py): context cues stand in for spaCy's part-of-speech tags.
            if (isUpperPy(word) && word.length > 1 && !capsText) {
                val e = lex.entry(word)
                if (e != null && e.isHeteronym && e.has("NOUN") && e.get("NOUN") == null) return "NNP"
            }
            val entry = lex.entry(pyLower(word))
            if (prev0 == null || entry == null || !entry.isHeteronym) return null
            val prev = pyLower(prev0)
            val tag = when {
                prev in PARTICIPLE_CUES && entry.has("VBN") -> "VBN"
                prev in VERB_CUES -> "VB"
                prev in DETERMINERS && (nextText == null || pyLower(nextText) in NOUN_FOLLOWERS) -> "NN"
                else -> return null
            }
            val reading = if (entry.has(tag)) entry.get(tag) else entry.get(parentTag(tag))
            return if (reading != null) tag else null
        }

        fun special(word0: String, nxt: Boolean?, nxtKnown: Boolean, prev: Token?, nextText: String?): String? {
            var word = word0
            val sentenceStart = prev == null || (prev.kind == "punct" && prev.text in SENTENCE_ENDS)
            if (word == "THE" || (capsText && pyLower(word) in listOf("to", "in", "an"))) word = pyLower(word)
            val pause = !nxtKnown // nxt is None in Python
            if (word == "a" || (word == "A" && sentenceStart && !pause)) return if (pause) "ˈA" else "ɐ"
            if (word == "A") return "ˈA"
            if (word == "an" || word == "An") return "ɐn"
            if (word == "I") return "ˌI"
            if (word == "am" || word == "Am") return if (pause || word == "Am") lex.plain("am") else "ɐm"
            if (word == "to" || word == "To") return if (pause) lex.plain("to") else if (nxt == true) "tʊ" else "tə"
            if (word == "in" || word == "In") return (if (pause) "ˈ" else "") + "ɪn"
            if (word == "the" || word == "The") return if (nxt == true) "ði" else "ðə"
            if ((word == "point" || word == "oh") && prev != null && pyLower(prev.text) in NUMBER_WORDS &&
                pyLower(nextText ?: "") in NUMBER_WORDS) {
                // Upstream reads the "point" of decimals and the "oh" of years without stress.
                return applyStress(lex.plain(word), -2.0)
            }
            if (pyLower(word) == "used") {
                val e = lex.entry("used")!!
                return if (pyLower(nextText ?: "") == "to") e.get("VBD") else e.get("DEFAULT")
            }
            return null
        }

        fun word(text: String, tag: String?, final: Boolean): String? {
            if (text.length > MAX_WORD_CHARS) {
                warnings.add(if (fallback == Fallback.ESPEAK)
                    "a ${text.length}-character word was read by espeak-ng in $MAX_WORD_CHARS-character pieces"
                else "a ${text.length}-character word was not looked up")
                return fallback(text)
            }
            val parts = text.split("-")
            if (parts.size > 1 && pyLower(parts[0]) in NUMBER_WORDS && parts.all { it.isNotEmpty() }) {
                // Upstream reads spelled numbers word by word: "twenty-three" -> "twˈɛnti θɹˈi".
                val read = parts.map { word(it, null, final) }
                if (read.all { !it.isNullOrEmpty() }) return read.joinToString(" ")
            }
            lex.word(text, tag, final)?.let { return it }
            val stripped = text.trim('\'')
            if (stripped != text && stripped.isNotEmpty()) return word(stripped, tag, final)
            if ("-" in text) {
                val read = parts.filter { it.isNotEmpty() }.map { word(it, null, final) }
                if (read.all { !it.isNullOrEmpty() }) return mergeCompound(read.map { it!! })
            }
            return fallback(text)
        }

        fun fallback(text: String): String? {
            if (fallback == Fallback.SPELL || espeak == null) {
                val ps = if (isAlphaPy(text)) lex.spell(text) else null
                warnings.add(if (fallback == Fallback.SPELL) "${pyRepr(text)} is not in the lexicon; " + (if (ps != null) "spelled it" else "skipped it")
                             else "${pyRepr(text)} is not in the lexicon and espeak-ng is unavailable (no espeak-ng engine); " +
                                 (if (ps != null) "spelled it" else "skipped it"))
                return ps
            }
            var ps = try {
                text.chunked(MAX_WORD_CHARS).joinToString(" ") { Espeak.phonemizeWord(espeak, it, lang) }.trim()
            } catch (e: EspeakUnavailable) {
                val ps = if (isAlphaPy(text)) lex.spell(text) else null
                warnings.add("${pyRepr(text)} is not in the lexicon and espeak-ng is unavailable (${e.message}); " +
                             if (ps != null) "spelled it" else "skipped it")
                return ps
            }
            val dropped = ps.filter { it !in KOKORO_VOCAB }.toSortedSet()
            if (dropped.isNotEmpty()) {
                ps = ps.filter { it in KOKORO_VOCAB }
                warnings.add("dropped espeak symbols ${pyRepr(dropped.joinToString(""))} from ${pyRepr(text)}")
            }
            return if (ps.isEmpty()) null else ps
        }
    }

    /** Normalize English text and convert it to Kokoro phonemes (g2p.py `phonemize`). */
    fun phonemize(text: String, lang: String = "a"): PhonemizeResult = phonemizeSegments(listOf(TextSegment(text)), lang)

    /** (normalized text, tokens) of one text segment, each token naming its source text (g2p.py `_text_tokens`). */
    private fun textTokens(segment: TextSegment, lang: String, warnings: MutableList<String>): Pair<String, List<Token>> {
        val spanned = Normalize.normalizeSpans(segment.text, lang)
        val tokens = tokenize(spanned.s, warnings)
        for (tk in tokens) {
            tk.source = segment.source ?: spanned.sourceSpan(tk.start, tk.end).let { (a, b) ->
                PyText.strip(segment.text.substring(a, b)).ifEmpty { tk.text }
            }
            tk.rate = segment.rate
        }
        return Pair(spanned.s, tokens)
    }

    /**
     * `phonemize` for text cut into segments (g2p.py `phonemize_segments`): words with given phonemes
     * and pauses take part in the context rules like any word or pause ("the" before a given vowel is
     * "ði"; a word before a pause is phrase-final). One text segment gives exactly `phonemize`.
     */
    fun phonemizeSegments(segments: List<Segment>, lang: String = "a"): PhonemizeResult {
        require(lang in LANGS) { "unsupported lang '$lang': this front-end speaks English only; use lang='a' (American) or lang='b' (British)" }
        val warnings = ArrayList<String>()
        val normalized = ArrayList<String>()
        val tokens = ArrayList<Token>()
        for (seg in segments) {
            when (seg) {
                is TextSegment -> textTokens(seg, lang, warnings).let { (norm, t) -> normalized.add(norm); tokens.addAll(t) }
                is Stressed -> textTokens(TextSegment(seg.text, rate = seg.rate), lang, warnings).let { (norm, t) ->
                    normalized.add(norm)
                    for (tk in t) if (tk.kind == "word") tk.stress = seg.stress
                    tokens.addAll(t)
                }
                is Fixed -> {
                    normalized.add(seg.text)
                    tokens.add(Token("fixed", seg.text, true, 0, 0).also {
                        it.phonemes = seg.phonemes
                        it.source = seg.source ?: seg.text
                        it.rate = seg.rate
                    })
                }
                is Pause -> tokens.add(Token("pause", "", true, 0, 0).also { it.pause = seg.seconds })
            }
        }
        val late = ArrayList<String>() // warnings raised while resolving right to left; reversed below
        val res = Resolver(lang, late, capsText(tokens))

        var nxt: Boolean? = null // how the following word starts (true vowel, false consonant, null pause)
        var nxtKnown = false
        var nextText: String? = null
        for (i in tokens.indices.reversed()) {
            val tk = tokens[i]
            val prev = if (i > 0) tokens[i - 1] else null
            if (tk.kind == "pause") {
                nxt = null; nxtKnown = false; nextText = null
                continue
            }
            if (tk.kind == "punct") {
                tk.phonemes = tk.text
                if (tk.text.length == 1 && tk.text[0] in PAUSES) { nxt = null; nxtKnown = false }
                nextText = null
                continue
            }
            when (tk.kind) {
                "fixed" -> {}
                "initialism" -> tk.phonemes = res.lex.spell(tk.text) ?: res.fallback(tk.text)
                "digits" -> tk.phonemes = Numbers.digits(tk.text).split(" ").filter { it.isNotEmpty() }
                    .joinToString(" ") { res.word(it, null, false) ?: "" }
                else -> {
                    var ps = res.special(tk.text, nxt, nxtKnown, prev, nextText)
                    if (ps == null) {
                        val prevWord = if (prev != null && prev.kind == "word") prev.text else null
                        ps = res.word(tk.text, res.tagFor(tk.text, prevWord, nextText), !nxtKnown)
                    }
                    tk.phonemes = if (tk.stress != null) applyStress(ps, tk.stress) else ps
                }
            }
            if (tk.phonemes.isNullOrEmpty()) {
                late.add("could not read ${pyRepr(tk.text)}; skipped it")
                tk.phonemes = null
                continue
            }
            val s = firstSound(tk.phonemes)
            nxt = s
            nxtKnown = s != null
            nextText = tk.text
        }

        val out = StringBuilder()
        val words = ArrayList<Word>()
        val breaks = ArrayList<Pair<Int, Double?>>()
        val rates = ArrayList<Rate>()
        var glueNext = false
        for (tk in tokens) {
            if (tk.kind == "pause") { breaks.add(Pair(out.length, tk.pause)); continue }
            var ps = tk.phonemes ?: continue
            if (tk.kind != "punct") for ((old, new) in FLAP_REWRITES) ps = ps.replace(old, new)
            words.add(Word(tk.source, ps, tk.text))
            var attach = (tk.kind == "punct" && tk.text !in OPENING && tk.text != "—") || glueNext || out.isEmpty()
            if (tk.kind == "punct" && tk.text == "—") attach = !tk.spaceBefore && out.isNotEmpty()
            val piece = if (attach) ps else " $ps"
            if (tk.rate != 1.0) rates.add(Rate(out.length + piece.length - ps.length, out.length + piece.length, tk.rate))
            out.append(piece)
            glueNext = tk.kind == "punct" && tk.text in OPENING
        }
        val raw = out.toString()
        val phonemes = PyText.strip(raw)
        val lead = raw.length - PyText.lstrip(raw).length
        warnings.addAll(late.reversed())
        if (breaks.isEmpty() && rates.isEmpty()) return PhonemizeResult(normalized.joinToString(" "), phonemes, words, dedupe(warnings))
        val (settled, stretches) = Markup.settle(phonemes, breaks.map { Pair(it.first - lead, it.second) },
                                                 rates.map { Rate(it.start - lead, it.end - lead, it.factor) })
        return PhonemizeResult(normalized.joinToString(" "), phonemes, words, dedupe(warnings), settled, stretches)
    }
}
