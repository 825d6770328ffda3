package kokoro.litert

import kokoro.litert.runtime.Chunking
import kokoro.litert.runtime.Span
import kokoro.litert.runtime.Wav
import kokoro.litert.runtime.text.Break
import kokoro.litert.runtime.text.Rate
import kokoro.litert.util.arr
import kokoro.litert.util.int
import kokoro.litert.util.num
import kokoro.litert.util.obj
import kokoro.litert.util.str
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Chunking of long input (sentence, clause, word cuts; breaks where no mark shows one: Hindi's danda,
 * pauses, rate stretches; a stream's short first chunk), silence trimming
 * at cuts, edge fades and 16-bit PCM, against runtime/api.py and runtime/wav.py. All exact: cut
 * positions are integers; the fade is float32 of the same formula (numpy's linspace computes in
 * double and rounds once, as here); trimming decides on float64 RMS of the same samples.
 */
class ChunkingGoldenTest {
    private val c get() = Goldens.committed.index["chunking"].obj()

    private fun spans(phonemes: String) = Regex("\\S+").findAll(phonemes).map { Span(it.range.first, it.range.last + 1, it.value) }.toList()

    private fun checkPieces(expected: List<Any?>, got: List<kokoro.litert.runtime.Piece>, what: String) {
        assertEquals("$what piece count", expected.size, got.size)
        for ((e, g) in expected.zip(got)) {
            val p = e.obj()
            assertEquals(what, p["phonemes"].str(), g.phonemes)
            assertEquals(what, p["pause"].num(), g.pause, 0.0)
            assertEquals(what, p["words"].arr().map { w -> w.arr().let { Span(it[0].int(), it[1].int(), it[2].str()) } }, g.words)
            assertEquals("$what trim_after", p["trim_after"], g.trimAfter)
            assertEquals("$what rate", p["rate"].num(), g.rate, 0.0)
        }
    }

    @Test
    fun splitsMatch() {
        val phonemes = c["phonemes"].str()
        for (s in c["splits"].arr()) {
            val m = s.obj()
            checkPieces(m["pieces"].arr(), Chunking.splitPhonemes(phonemes, spans(phonemes), m["max_len"].int()), "max_len ${m["max_len"]}")
        }
        for (s in c["split_first"]?.arr() ?: emptyList()) {
            val m = s.obj()
            val pieces = Chunking.splitFirst(Chunking.splitPhonemes(phonemes, spans(phonemes), m["max_len"].int()), m["limit"].int())
            checkPieces(m["pieces"].arr(), pieces, "first chunk ${m["limit"]}")
        }
    }

    @Test
    fun breaksAndRatesSplitAsPython() {
        for (s in c["with_breaks"].arr()) {
            val m = s.obj()
            val words = m["words"].arr().map { w -> w.arr().let { Span(it[0].int(), it[1].int(), it[2].str()) } }
            val breaks = m["breaks"].arr().map { b -> b.arr().let { Break(it[0].int(), it[1]?.num()) } }
            val rates = m["rates"].arr().map { r -> r.arr().let { Rate(it[0].int(), it[1].int(), it[2].num()) } }
            val pieces = Chunking.splitPhonemes(m["phonemes"].str(), words, m["max_len"].int(), breaks, rates)
            checkPieces(m["pieces"].arr(), pieces, "breaks ${m["breaks"]} max_len ${m["max_len"]}")
        }
    }

    @Test
    fun fadeTrimAndPcmMatch() {
        val chunk = Goldens.committed.floats(c["chunk"])
        assertArrayEquals("fade", Goldens.committed.floats(c["fade"]), Chunking.fadeEdges(chunk), 0f)
        for (t in c["trims"].arr()) {
            val m = t.obj()
            val (audio, lead) = Chunking.trimCut(chunk, m["lead_pad_frames"].int(), m["cut_before"] == true, m["cut_after"] == true)
            assertEquals("trim lead", m["lead"].int(), lead)
            assertArrayEquals("trim audio", Goldens.committed.floats(m["audio"]), audio, 0f)
        }
        val pcm = ByteBuffer.wrap(Wav.toPcm16(Goldens.committed.floats(c["pcm_in"]))).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer()
        val got = IntArray(pcm.remaining()) { pcm.get(it).toInt() }
        assertArrayEquals("pcm16", Goldens.committed.ints(c["pcm16"]), got)
    }
}
