package kokoro.litert

import kokoro.litert.desktop.EspeakJna
import kokoro.litert.runtime.text.Fallback
import kokoro.litert.runtime.text.G2p
import kokoro.litert.runtime.text.Lexicon
import kokoro.litert.util.arr
import kokoro.litert.util.obj
import kokoro.litert.util.str
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

/**
 * The text front-end against the Python one (runtime/text/), reading the portable lexicon file
 * Python's export_lexicon wrote.
 *
 * Bounds: lexicon lookups of the dev words and rule cases >= 99% identical (the v1 file merges gold
 * and silver, see Lexicon.kt: ALL-CAPS words with silver-only entries may differ); phonemize: the
 * words of the dev sentences >= 98% identical (the issue's acceptance bound) and the whole phoneme
 * string of every dev sentence; the spell fallback identical to Python's `fallback="spell"`; the
 * espeak-ng fallback identical when the same libespeak-ng is given (kokoro.espeak.lib/data).
 */
class TextGoldenTest {
    private val lexicon: Lexicon by lazy { Lexicon.load(File(Goldens.require("kokoro.lexicon")), "a") }

    private fun espeak() = Goldens.property("kokoro.espeak.lib")?.let { lib -> Goldens.property("kokoro.espeak.data")?.let { EspeakJna(lib, it) } }

    @Test
    fun lexiconLookups() {
        val cases = Goldens.committed.list("lexicon")
        val bad = ArrayList<String>()
        for (c in cases) {
            val w = c["word"].str()
            if (lexicon.word(w, null, false) != c["phonemes"] as String?) bad.add("$w: ${lexicon.word(w, null, false)} vs ${c["phonemes"]}")
            if (lexicon.spell(w) != c["spell"] as String?) bad.add("spell $w: ${lexicon.spell(w)} vs ${c["spell"]}")
        }
        Compare.report("lexicon", "{\"cases\": ${cases.size}, \"differing\": ${bad.size}, \"examples\": [${bad.take(20).joinToString(",") { kokoro.litert.util.Json.quote(it) }}]}")
        assertTrue("${bad.size} of ${cases.size} lexicon cases differ: ${bad.take(10)}", bad.size <= cases.size / 100)
    }

    @Test
    fun phonemizeMatchesPython() {
        val g2p = G2p(mapOf("a" to lexicon), espeak(), Fallback.ESPEAK)
        val stats = LinkedHashMap<String, IntArray>() // set -> [words, equal words, sentences, equal sentences]
        val diffs = ArrayList<String>()
        for (c in Goldens.committed.list("phonemize")) {
            val set = c["set"].str()
            if (set == "oov" && (c["fallback"] != "espeak" || espeak() == null)) continue
            val r = g2p.phonemize(c["text"].str(), "a")
            val expected = c["words"].arr().map { it.arr().let { w -> w[0].str() to w[1].str() } }
            val got = r.words.map { it.text to it.phonemes }
            val s = stats.getOrPut(set) { IntArray(4) }
            s[0] += expected.size
            s[1] += expected.zip(got).count { it.first == it.second }
            s[2] += 1
            if (r.phonemes == c["phonemes"].str()) s[3] += 1 else diffs.add("[$set] ${c["text"]}\n  jvm: ${r.phonemes}\n  py:  ${c["phonemes"]}")
            if (set == "dev") assertEquals("normalized: ${c["text"]}", c["normalized"].str(), r.normalized)
        }
        Compare.report("phonemize", "{" + stats.entries.joinToString(", ") { (k, v) ->
            "\"$k\": {\"words\": ${v[0]}, \"equal_words\": ${v[1]}, \"sentences\": ${v[2]}, \"equal_sentences\": ${v[3]}}" } +
            ", \"examples\": [${diffs.take(20).joinToString(",") { kokoro.litert.util.Json.quote(it) }}]}")
        val dev = stats.getValue("dev")
        assertTrue("dev words equal: ${dev[1]} of ${dev[0]}\n${diffs.take(5).joinToString("\n")}", dev[1] >= 0.98 * dev[0])
    }

    @Test
    fun spellFallbackMatchesPython() {
        val g2p = G2p(mapOf("a" to lexicon), null, Fallback.SPELL)
        for (c in Goldens.committed.list("phonemize").filter { it["set"] == "oov" && it["fallback"] == "spell" }) {
            val r = g2p.phonemize(c["text"].str(), "a")
            assertEquals(c["text"].str(), c["phonemes"].str(), r.phonemes)
            assertEquals(c["text"].str(), c["warnings"].arr().map { it.str() }, r.warnings)
        }
    }
}
