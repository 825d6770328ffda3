package kokoro.litert

import kokoro.litert.desktop.EspeakJna
import kokoro.litert.runtime.KokoroError
import kokoro.litert.runtime.text.FrontEnd
import kokoro.litert.runtime.text.Languages
import kokoro.litert.runtime.text.Lexicon
import kokoro.litert.util.Json
import kokoro.litert.util.arr
import kokoro.litert.util.int
import kokoro.litert.util.num
import kokoro.litert.util.str
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/**
 * Spanish, French, Hindi, Italian and Brazilian Portuguese against the Python front-end
 * (runtime/text/espeak_g2p.py and the vocabulary cut in runtime/text/__init__.py), on every item of
 * tests/data/languages/{e,f,h,i,p}.txt and seeded hostile strings, through the same libespeak-ng.
 *
 * Bound: every item identical: phonemes, words (for timings), breaks (Hindi's dandas) and warnings.
 * Both hosts run the same espeak-ng calls on the same library and data, and the steps around them
 * are string rewrites: no difference is expected, so none is tolerated.
 */
class LanguagesGoldenTest {
    private fun frontEnd(): FrontEnd {
        val lib = Goldens.require("kokoro.espeak.lib")
        val data = Goldens.require("kokoro.espeak.data")
        return FrontEnd({ lang -> throw KokoroError("no ${lang.label} lexicon in this test", "") }, EspeakJna(lib, data))
    }

    @Test
    fun everyItemIsPythons() {
        val front = frontEnd()
        val stats = LinkedHashMap<String, IntArray>() // lang/set -> [items, identical]
        val diffs = ArrayList<String>()
        for (c in Goldens.committed.list("languages")) {
            val code = c["lang"].str()
            val text = c["text"].str()
            val r = front.phonemize(text, code)
            val got = listOf(r.phonemes, r.words.map { listOf(it.text, it.phonemes) }, r.breaks.map { listOf(it.at, it.pause) }, r.warnings)
            val expected = listOf(c["phonemes"].str(), c["words"].arr().map { w -> w.arr().map { it.str() } },
                c["breaks"].arr().map { b -> b.arr().let { listOf(it[0].int(), it[1]?.num()) } }, c["warnings"].arr().map { it.str() })
            val s = stats.getOrPut("$code/${c["set"]}") { IntArray(2) }
            s[0]++
            if (got == expected) s[1]++ else diffs.add("[$code] ${Json.quote(text)}\n  jvm: $got\n  py:  $expected")
        }
        Compare.report("languages", "{" + stats.entries.joinToString(", ") { (k, v) -> "\"$k\": \"${v[1]}/${v[0]} identical\"" } +
            ", \"examples\": [${diffs.take(10).joinToString(",") { Json.quote(it) }}]}")
        assertTrue("no language items in the goldens", stats.isNotEmpty())
        assertTrue("${diffs.size} items differ from Python's:\n${diffs.take(5).joinToString("\n")}", diffs.isEmpty())
    }

    @Test
    fun namesAndCodesAndVoices() {
        for (lang in Languages.LANGUAGES) {
            assertEquals(lang, Languages.language(lang.code))
            assertEquals(lang, Languages.language(lang.name.toUpperCase().replace("-", "_")))
        }
        assertEquals("e", Languages.resolve(null, "ef_dora").code)
        assertEquals("h", Languages.resolve(null, "hm_omega:0.6,af_heart:0.4").code)
        assertEquals("f", Languages.resolve("fr-fr", "af_heart").code)
        assertEquals("a", Languages.resolve(null, "/tmp/voice.bin").code)
        try {
            Languages.language("xx")
            fail("xx is no language")
        } catch (e: KokoroError) {
            assertTrue(e.message!!, Languages.LANGUAGES.all { "${it.code} (${it.name}" in e.message!! })
        }
    }

    @Test
    fun mandarinAndJapaneseArePythonOnly() {
        val front = frontEnd()
        for (code in listOf("z", "j")) {
            try {
                front.phonemize("你好", code)
                fail("$code read on the JVM")
            } catch (e: KokoroError) {
                assertTrue(e.message!!, "Python" in e.message!!)
            }
        }
    }
}
