package kokoro.litert

import kokoro.litert.desktop.EspeakJna
import kokoro.litert.runtime.KokoroError
import kokoro.litert.runtime.text.FrontEnd
import kokoro.litert.runtime.text.Lexicon
import kokoro.litert.util.Json
import kokoro.litert.util.arr
import kokoro.litert.util.int
import kokoro.litert.util.num
import kokoro.litert.util.str
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File

/**
 * Inline markup (`[word](/phonemes/)`, stress changes, `[pause:0.5s]`) against runtime/text/markup.py,
 * in English and the espeak languages: phonemes, words, breaks (pauses), rates and warnings.
 *
 * Bound: every item identical. The parser, the pause merging and the placement of breaks are integer
 * and string work on both hosts, over front-ends already held identical (TextGoldenTest,
 * LanguagesGoldenTest).
 */
class MarkupGoldenTest {
    private fun frontEnd(): FrontEnd {
        val lexicon = File(Goldens.require("kokoro.lexicon"))
        val espeak = EspeakJna(Goldens.require("kokoro.espeak.lib"), Goldens.require("kokoro.espeak.data"))
        return FrontEnd({ lang ->
            if (lang.code == "a") Lexicon.load(lexicon, "a")
            else Lexicon.load(File(lexicon.parentFile, "lexicon-${lang.code}.tsv"), lang.code)
        }, espeak)
    }

    @Test
    fun markupIsReadAsPython() {
        val front = frontEnd()
        val diffs = ArrayList<String>()
        val items = Goldens.committed.list("markup")
        for (c in items) {
            val r = front.phonemize(c["text"].str(), c["lang"].str())
            val got = listOf(r.phonemes, r.words.map { listOf(it.text, it.phonemes) }, r.breaks.map { listOf(it.at, it.pause) },
                             r.rates.map { listOf(it.start, it.end, it.factor) }, r.warnings)
            val expected = listOf(c["phonemes"].str(), c["words"].arr().map { w -> w.arr().map { it.str() } },
                c["breaks"].arr().map { b -> b.arr().let { listOf(it[0].int(), it[1]?.num()) } },
                c["rates"].arr().map { x -> x.arr().let { listOf(it[0].int(), it[1].int(), it[2].num()) } },
                c["warnings"].arr().map { it.str() })
            if (got != expected) diffs.add("[${c["lang"]}] ${Json.quote(c["text"].str())}\n  jvm: $got\n  py:  $expected")
        }
        Compare.report("markup", "{\"items\": ${items.size}, \"identical\": ${items.size - diffs.size}, " +
            "\"examples\": [${diffs.take(5).joinToString(",") { Json.quote(it) }}]}")
        assertTrue("no markup items in the goldens", items.isNotEmpty())
        assertTrue("${diffs.size} of ${items.size} differ:\n${diffs.take(4).joinToString("\n")}", diffs.isEmpty())
    }

    @Test
    fun ssmlIsPythonOnly() {
        try {
            frontEnd().phonemize("<speak>Hello <break time=\"1s\"/> there.</speak>", "a")
            fail("SSML read on the JVM")
        } catch (e: KokoroError) {
            assertTrue(e.message!!, "Python" in e.message!!)
        }
    }
}
