package kokoro.litert

import kokoro.litert.buckets.Manifest
import kokoro.litert.runtime.Excitation
import kokoro.litert.runtime.Pipeline
import kokoro.litert.runtime.SineMerge
import kokoro.litert.runtime.StageRunner
import kokoro.litert.runtime.Tensor
import kokoro.litert.runtime.Vocab
import kokoro.litert.runtime.Voices
import kokoro.litert.runtime.BundleVoices
import kokoro.litert.buckets.VOICES_FILE
import kokoro.litert.util.int
import kokoro.litert.util.num
import kokoro.litert.util.obj
import kokoro.litert.util.str
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

/**
 * Every host step of the JVM pipeline against the Python runtime's trace, with the stages replayed:
 * `ReplayRunner` checks each stage's inputs as the JVM built them against the inputs Python fed,
 * then returns the outputs Python's stage returned. So each host step sees exactly Python's inputs.
 * On every pipeline set given (Goldens.pipelineSets): the committed vectors of the tiny bundle and
 * the real bundle's, written per run; utterances recorded without their vocoder call are skipped.
 *
 * Tolerances (per host step):
 * - token ids, masks, style rows, alignment, integer durations, and the padded/cut copies of stage
 *   outputs (d, t_en, asr, f0, n): exact. They are copies and integer arithmetic.
 * - har_source (sine source, float32): 2e-5 absolute. Both hosts compute the same phases bit for bit
 *   (correctly rounded FMA where torch contracts, double cumsum); what remains is float32 sin/tanh
 *   (here double functions rounded once, there numpy's SIMD float32 ones, a few ulp apart) and the
 *   order of the 9-term merge. Measured: about half the values differ, by at most 4.5e-8.
 * - har (vocoder input): magnitude within 1e-5 absolute, and the spectrum magnitude x e^(i phase)
 *   within 1e-5 absolute (phase alone is ill-defined where the magnitude is ~0). The 20-point DFT is
 *   evaluated in double here and in float32 by pocketfft there. Measured: 1.2e-7 / 1.4e-7.
 * - audio (iSTFT of Python's vocoder output): 1e-5 absolute, same reasons. Measured: 4.8e-7.
 *
 * These float32-rounding differences are harmless to the fp32 vocoder but not to the int8 one, whose
 * dynamic activation quantization turns an ulp into a quantization step (LiteRtGoldenTest).
 */
class PipelineGoldenTest {
    class ReplayRunner(private val g: GoldenFolder, private val stages: Map<String, Any?>, val worst: MutableMap<String, Double>) : StageRunner {
        override fun run(stage: String, signature: String, inputs: Map<String, Tensor>): Map<String, Tensor> {
            val golden = stages[stage].obj(stage)
            assertEquals("$stage signature", golden["signature"].str(), signature)
            val expected = golden["inputs"].obj()
            assertEquals("$stage input names", expected.keys, inputs.keys)
            for ((name, desc) in expected) {
                val e = g.tensor(desc)
                val got = inputs.getValue(name)
                assertArrayEquals("$stage/$name shape", e.shape, got.shape)
                assertEquals("$stage/$name dtype", e.dtype, got.dtype)
                if (e.dtype == "int32") {
                    assertArrayEquals("$stage/$name", e.ints, got.ints)
                } else if (stage == "vocoder" && name == "har") {
                    checkHar(e.floats, got.floats, e.shape[2])
                } else {
                    val d = Compare.maxAbs(e.floats, got.floats)
                    worst["$stage/$name"] = Math.max(worst["$stage/$name"] ?: 0.0, d)
                    assertEquals("$stage/$name must be exact", 0.0, d, 0.0)
                }
            }
            return golden["outputs"].obj().mapValues { (_, d) -> g.tensor(d) }
        }

        private fun checkHar(e: FloatArray, got: FloatArray, width: Int) {
            val nf = 11
            var mag = 0.0
            var spec = 0.0
            var magDiff = 0
            var phaseDiff = 0
            for (k in 0 until nf) for (f in 0 until width) {
                val i = k * width + f
                val j = (nf + k) * width + f
                mag = Math.max(mag, Math.abs(e[i].toDouble() - got[i]))
                if (e[i] != got[i]) magDiff++
                if (e[j] != got[j]) phaseDiff++
                val re = e[i] * Math.cos(e[j].toDouble()) - got[i] * Math.cos(got[j].toDouble())
                val im = e[i] * Math.sin(e[j].toDouble()) - got[i] * Math.sin(got[j].toDouble())
                spec = Math.max(spec, Math.hypot(re, im))
            }
            worst["har magnitude"] = Math.max(worst["har magnitude"] ?: 0.0, mag)
            worst["har magnitude values differing"] = (worst["har magnitude values differing"] ?: 0.0) + magDiff
            worst["har phase values differing"] = (worst["har phase values differing"] ?: 0.0) + phaseDiff
            worst["har values"] = (worst["har values"] ?: 0.0) + nf * width
            worst["har spectrum"] = Math.max(worst["har spectrum"] ?: 0.0, spec)
            assertTrue("har magnitude differs by $mag", mag <= 1e-5)
            assertTrue("har spectrum differs by $spec", spec <= 1e-5)
        }
    }

    @Test
    fun hostStepsMatchPythonTrace() {
        val worst = LinkedHashMap<String, Double>()
        var replayed = 0
        for ((set, g, bundles) in Goldens.pipelineSets()) {
            val manifest = Manifest.load(bundles)
            val voices = BundleVoices(File(bundles, VOICES_FILE), manifest.voices)
            for (u in g.list("utterances").filter { "vocoder" in it["stages"].obj() }) {
                replay("$set/${u["id"].str()}/${u["precision"].str()}", g, u, manifest, voices, worst)
                replayed++
            }
        }
        assertTrue("no utterance with its vocoder call in the goldens", replayed > 0)
        Compare.report("pipeline_replay", "{\"utterances\": $replayed, " + worst.entries.joinToString(", ") { "\"${it.key}\": ${it.value}" } + "}")
    }

    private fun replay(id: String, g: GoldenFolder, u: Map<String, Any?>, manifest: Manifest, voices: BundleVoices,
                       worst: MutableMap<String, Double>) {
        val phonemes = u["phonemes"].str()
        val ids = Vocab.phonemeIds(phonemes, manifest.vocab)
        assertArrayEquals("$id ids", g.ints(u["ids"]), ids)
        val style = Voices.styleFor(Voices.loadVoice(u["voice"].str(), voices), Vocab.length(phonemes))
        assertArrayEquals("$id style", g.floats(u["style"]), style, 0f)
        val trace = HashMap<String, Any>()
        val seed = (u["seed"] as Number).toLong()
        val syn = Pipeline.synthesize(ReplayRunner(g, u["stages"].obj(), worst), manifest.ladder,
            SineMerge(manifest.sineSourceWeight, manifest.sineSourceBias), ids, style, u["speed"].num(), seed, trace = trace)
        assertArrayEquals("$id durations", g.ints(u["durations"]), syn.durations)
        assertArrayEquals("$id durations_raw", g.floats(u["durations_raw"]), syn.durationsRaw, 0f)
        val hs = g.floats(u["har_source"])
        val hsGot = trace["har_source"] as FloatArray
        worst["har_source values differing"] = (worst["har_source values differing"] ?: 0.0) + hs.indices.count { hs[it] != hsGot[it] }
        worst["har_source values"] = (worst["har_source values"] ?: 0.0) + hs.size
        val har = Compare.maxAbs(hs, hsGot)
        val audio = Compare.maxAbs(g.floats(u["audio"]), syn.audio)
        worst["har_source"] = Math.max(worst["har_source"] ?: 0.0, har)
        worst["audio"] = Math.max(worst["audio"] ?: 0.0, audio)
        assertTrue("$id har_source differs by $har", har <= 2e-5)
        assertTrue("$id audio differs by $audio", audio <= 1e-5)
        assertEquals("$id shapes", u["shapes"].obj().mapValues { it.value.str() }, syn.shapes)
    }

    @Test
    fun seededExcitationIsWhatPythonDraws() {
        // The utterances' har_source above already depends on it; here the arrays themselves.
        for ((_, g, _) in Goldens.pipelineSets()) for (u in g.list("utterances")) {
            val n = g.ints(u["durations"]).sum()
            val e = Excitation.fromSeed((u["seed"] as Number).toLong(), n)
            assertEquals(n * 600 * 9, e.noise.size)
        }
    }
}
