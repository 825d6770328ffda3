package kokoro.litert.runtime.text

import java.io.File

/**
 * Lexicon lookup with misaki's stress rules and -s/-ed/-ing stems (twin of `runtime/text/lexicon.py`),
 * over the portable lexicon file that `export_lexicon(path, lang)` writes (format in
 * `runtime/text/__init__.py`): one table, gold entries over silver ones, case variants expanded.
 *
 * Deviation from the Python twin, forced by the file format: Python keeps the gold and silver
 * dictionaries apart and consults gold alone in three places (an ALL-CAPS word not in gold is
 * lower-cased; an ALL-CAPS acronym reads only gold entries, else it is spelled; the heteronym
 * tagger looks at gold entries). The v1 file merges the tiers, so here the merged table stands in
 * for gold: the readings differ only for ALL-CAPS words whose entry is silver-only (the goldens'
 * lexicon cases measure how often; none among the dev sentences' words).
 */
const val PRIMARY = 'ˈ'
const val SECONDARY = 'ˌ'
const val STRESSES = "ˈˌ"
val VOWELS: Set<Char> = "AIOQWYaiuæɑɒɔəɛɜɪʊʌᵻ".toSet()
val CONSONANTS: Set<Char> = "bdfhjklmnpstvwzðŋɡɹɾʃʒʤʧθ".toSet()
val US_TAUS: Set<Char> = "AIOWYiuæɑəɛɪɹʊʌ".toSet()
val LEXICON_CHARS: Set<Char> = "'-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".toSet()
const val CAPITALIZED_STRESS = 0.5
const val ALL_CAPS_STRESS = 2.0
const val FORMAT_MAGIC = "# kokoro-litert lexicon v1"

/** A lexicon entry: plain phonemes, or a heteronym {tag: phonemes or null ("spell it")} with a "DEFAULT" key. */
class Entry(val plain: String?, val tags: Map<String, String?>?) {
    val isHeteronym get() = tags != null
    fun get(tag: String?): String? = tags?.get(tag)
    fun has(tag: String?): Boolean = tags?.containsKey(tag) ?: false
}

// Python's str predicates, which the rules lean on (Kotlin/Java differ on the empty string and on cased letters).
internal fun pyLower(s: String) = s.toLowerCase(java.util.Locale.ROOT)
internal fun pyUpper(s: String) = s.toUpperCase(java.util.Locale.ROOT)
internal fun isAlphaPy(s: String) = s.isNotEmpty() && s.all { Character.isLetter(it) }
/** Python's str.isupper(): at least one cased character and no lowercase one. */
internal fun isUpperPy(s: String) = s.any { Character.isUpperCase(it) || Character.isTitleCase(it) } && s.none { Character.isLowerCase(it) }
internal fun capitalizePy(s: String) = if (s.isEmpty()) s else pyUpper(s.substring(0, 1)) + pyLower(s.substring(1))

fun restress(ps: String): String {
    val out = ps.toMutableList()
    val marks = out.indices.filter { out[it] in STRESSES }
    for (i in marks.reversed()) {
        val j = (i + 1 until out.size).firstOrNull { out[it] in VOWELS } ?: continue
        val mark = out.removeAt(i)
        out.add(j - 1, mark)
    }
    return out.joinToString("")
}

/** Adjust stress marks for a stress request (lexicon.py `apply_stress`, upstream semantics). */
fun applyStress(ps: String?, stress: Double?): String? {
    if (ps == null || stress == null) return ps
    val hasVowel = ps.any { it in VOWELS }
    val unstressed = ps.none { it in STRESSES }
    if (stress < -1) return ps.replace("ˈ", "").replace("ˌ", "")
    if (stress == -1.0 || ((stress == 0.0 || stress == -0.5) && PRIMARY in ps)) return ps.replace("ˌ", "").replace("ˈ", "ˌ")
    if ((stress == 0.0 || stress == 0.5 || stress == 1.0) && unstressed) return if (hasVowel) restress("ˌ$ps") else ps
    if (stress >= 1 && PRIMARY !in ps && SECONDARY in ps) return ps.replace("ˌ", "ˈ")
    if (stress > 1 && unstressed) return if (hasVowel) restress("ˈ$ps") else ps
    return ps
}

/** Penn tag -> the coarse tag the dictionaries key on. */
fun parentTag(tag: String?): String? = when {
    tag == null -> null
    tag.startsWith("VB") -> "VERB"
    tag.startsWith("NN") -> "NOUN"
    tag.startsWith("RB") || tag.startsWith("ADV") -> "ADV"
    tag.startsWith("JJ") || tag.startsWith("ADJ") -> "ADJ"
    else -> tag
}

class Lexicon(val table: Map<String, Entry>, lang: String) {
    val british = lang == "b"

    companion object {
        /** Read a file written by `export_lexicon` (lexicon.py `load_lexicon`). */
        fun load(file: File, lang: String): Lexicon {
            val table = HashMap<String, Entry>(1 shl 18)
            file.bufferedReader(Charsets.UTF_8).use { r ->
                val first = r.readLine()
                if (first != FORMAT_MAGIC) throw IllegalArgumentException(
                    "$file is not a kokoro-litert lexicon (first line '$first'); write one with export_lexicon(path, lang)")
                while (true) {
                    val line = r.readLine() ?: break
                    if (line.isEmpty() || line.startsWith("# ")) continue
                    val parts = line.split("\t")
                    if (parts.size == 2) {
                        table[parts[0]] = Entry(parts[1], null)
                    } else {
                        val tags = LinkedHashMap<String, String?>()
                        tags["DEFAULT"] = if (parts[1].isEmpty()) null else parts[1]
                        for (t in parts.drop(2)) {
                            val eq = t.indexOf('=')
                            val ps = t.substring(eq + 1)
                            tags[t.substring(0, eq)] = if (ps.isEmpty()) null else ps
                        }
                        table[parts[0]] = Entry(null, tags)
                    }
                }
            }
            return Lexicon(table, lang)
        }
    }

    /** The gold reading of a plain entry (g2p.py reads `gold["am"]`, `gold["to"]`, ...). */
    fun plain(word: String): String? = table[word]?.plain

    fun entry(word: String): Entry? = table[word]

    fun isKnown(word: String): Boolean {
        if (word in table) return true
        if (!isAlphaPy(word) || !word.all { it in LEXICON_CHARS }) return false
        if (word.length == 1) return true
        if (word == pyUpper(word) && pyLower(word) in table) return true
        val rest = word.substring(1)
        return rest == pyUpper(rest)
    }

    /** Choose a heteronym reading: (phonemes or null = "spell it"). */
    fun pick(entry: Entry, tag: String?, phraseFinal: Boolean): String? {
        if (!entry.isHeteronym) return entry.plain
        val key = when {
            phraseFinal && entry.has("None") -> "None"
            entry.has(tag) -> tag
            else -> parentTag(tag)
        }
        return if (entry.has(key)) entry.get(key) else entry.get("DEFAULT")
    }

    /** Spell letter by letter ("FBI" -> ˌɛfˌbiˈI): letters demoted, the last one primary. */
    fun spell(word: String): String? {
        val parts = word.filter { Character.isLetter(it) }.map { table[pyUpper(it.toString())] }
        if (parts.isEmpty() || parts.any { it == null || it.isHeteronym || it.plain == null }) return null
        val ps = applyStress(parts.joinToString("") { it!!.plain!! }, 0.0)!!
        val i = ps.lastIndexOf(SECONDARY)
        return if (i >= 0) ps.substring(0, i) + PRIMARY + ps.substring(i + 1) else ps
    }

    fun lookup(word0: String, tag: String?, stress: Double?, phraseFinal: Boolean): String? {
        var word = word0
        var acronym = false
        if (word == pyUpper(word) && word !in table) {
            word = pyLower(word)
            acronym = word.length > 1 && isAlphaPy(word)
        }
        // Deviation (see the class docstring): the merged table stands in for gold-only lookups.
        val e = table[word]
        var ps: String? = null
        if (e != null) ps = pick(e, tag, phraseFinal)
        if (ps == null || (acronym && PRIMARY !in ps)) {
            spell(word)?.let { return it }
        }
        return applyStress(ps, stress)
    }

    private fun suffixS(stem: String?): String? {
        if (stem.isNullOrEmpty()) return null
        val last = stem.last()
        if (last in "ptkfθ") return stem + "s"
        if (last in "szʃʒʧʤ") return stem + (if (british) "ɪ" else "ᵻ") + "z"
        return stem + "z"
    }

    private fun suffixEd(stem: String?): String? {
        if (stem.isNullOrEmpty()) return null
        val last = stem.last()
        if (last in "pkfθʃsʧ") return stem + "t"
        if (last == 'd') return stem + (if (british) "ɪ" else "ᵻ") + "d"
        if (last != 't') return stem + "d"
        if (british || stem.length < 2) return stem + "ɪd"
        if (stem[stem.length - 2] in US_TAUS) return stem.dropLast(1) + "ɾᵻd"
        return stem + "ᵻd"
    }

    private fun suffixIng(stem: String?): String? {
        if (stem.isNullOrEmpty()) return null
        if (british) {
            if (stem.last() in "əː") return null
        } else if (stem.length > 1 && stem.last() == 't' && stem[stem.length - 2] in US_TAUS) {
            return stem.dropLast(1) + "ɾɪŋ"
        }
        return stem + "ɪŋ"
    }

    fun stemS(word: String, tag: String?, stress: Double?, phraseFinal: Boolean): String? {
        if (word.length < 3 || !word.endsWith("s")) return null
        val stem = when {
            !word.endsWith("ss") && isKnown(word.dropLast(1)) -> word.dropLast(1)
            (word.endsWith("'s") || (word.length > 4 && word.endsWith("es") && !word.endsWith("ies"))) && isKnown(word.dropLast(2)) -> word.dropLast(2)
            word.length > 4 && word.endsWith("ies") && isKnown(word.dropLast(3) + "y") -> word.dropLast(3) + "y"
            else -> return null
        }
        return suffixS(lookup(stem, tag, stress, phraseFinal))
    }

    fun stemEd(word: String, tag: String?, stress: Double?, phraseFinal: Boolean): String? {
        if (word.length < 4 || !word.endsWith("d")) return null
        val stem = when {
            !word.endsWith("dd") && isKnown(word.dropLast(1)) -> word.dropLast(1)
            word.length > 4 && word.endsWith("ed") && !word.endsWith("eed") && isKnown(word.dropLast(2)) -> word.dropLast(2)
            else -> return null
        }
        return suffixEd(lookup(stem, tag, stress, phraseFinal))
    }

    fun stemIng(word: String, tag: String?, stress: Double?, phraseFinal: Boolean): String? {
        if (word.length < 5 || !word.endsWith("ing")) return null
        val stem = when {
            word.length > 5 && isKnown(word.dropLast(3)) -> word.dropLast(3)
            isKnown(word.dropLast(3) + "e") -> word.dropLast(3) + "e"
            word.length > 5 && ((word[word.length - 4] == word[word.length - 5] && word[word.length - 4] in "bcdgklmnprstvxz")
                || word.endsWith("cking")) && isKnown(word.dropLast(4)) -> word.dropLast(4)
            else -> return null
        }
        return suffixIng(lookup(stem, tag, stress, phraseFinal))
    }

    private fun stems(word: String, tag: String?, stress: Double?, phraseFinal: Boolean): String? =
        stemS(word, tag, stress, phraseFinal) ?: stemEd(word, tag, stress, phraseFinal)
            ?: stemIng(word, tag, stress ?: 0.5, phraseFinal)

    /** Phonemes for one word (no spaces or punctuation), or null when not in the lexicon. */
    fun word(word0: String, tag: String? = null, phraseFinal: Boolean = false): String? {
        var word = word0.replace('\u2019', '\'').replace('\u2018', '\'')
        val lower = pyLower(word)
        val stress: Double? = if (word == lower) null else if (word == pyUpper(word)) ALL_CAPS_STRESS else CAPITALIZED_STRESS
        val bare = word.replace("'", "")
        val rest = word.substring(Math.min(1, word.length))
        if (word.length > 1 && isAlphaPy(bare) && word != lower && word !in table
            && (word == pyUpper(word) || rest == pyLower(rest))
            && (lower in table || stems(lower, tag, stress, phraseFinal) != null)) {
            word = lower
        }
        if (isKnown(word)) return lookup(word, tag, stress, phraseFinal)
        if (word.endsWith("s'") && isKnown(word.dropLast(2) + "'s")) return lookup(word.dropLast(2) + "'s", tag, stress, phraseFinal)
        if (word.endsWith("'") && isKnown(word.dropLast(1))) return lookup(word.dropLast(1), tag, stress, phraseFinal)
        return stems(word, tag, stress, phraseFinal)
    }
}
