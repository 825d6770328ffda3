package kokoro.litert

import kokoro.litert.desktop.LiteRtC
import kokoro.litert.desktop.LiteRtCRunner
import kokoro.litert.runtime.Bundle
import kokoro.litert.runtime.Tensor
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume
import org.junit.Test
import java.io.File
import java.util.Random

/**
 * The vocoder on LiteRT's GPU accelerator through the C API (LiteRtCRunner, accelerator "gpu"), on
 * a folder with a GPU variant (kokoro.gpu.bundles: `kokoro-litert export --gpu` of a float32
 * folder), against the CPU on the same random inputs (runtime.litert.random_inputs' recipe: normal
 * noise, masks 1), as tests/test_gpu.py checks the Python runner. Skipped where no GPU can be created.
 *
 * - GPU float32 (`gpuFloat32`: the body's payload `precision = 2`, the head always so): relative L2
 *   within 1e-5 of the CPU per output (float32 on both sides, sums in other orders; measured ~1e-7).
 * - GPU default (float16 body, float32 head): further from the CPU than float32 by 10x or more, which
 *   is what shows the payload reached the GPU (a GPU without float16 computes both alike; then that
 *   check is skipped, saying so).
 * - One signature's pair at a time: sizes called in turn (smallest, largest, smallest) re-create the
 *   pair at each change (3 creations) and give what fresh runners give, bit for bit (same models,
 *   same GPU: nothing left over from the pair before).
 */
class GpuRunnerTest {
    private fun relativeL2(ours: FloatArray, ref: FloatArray): Double {
        var d = 0.0
        var r = 0.0
        for (i in ref.indices) {
            d += (ours[i] - ref[i]).toDouble().let { it * it }
            r += ref[i].toDouble() * ref[i]
        }
        return Math.sqrt(d / r)
    }

    private val bundle by lazy { Bundle.open(File(Goldens.require("kokoro.gpu.bundles"))) }
    private val lib by lazy { LiteRtC.load(Goldens.require("kokoro.litert.lib")) }
    private val sizes by lazy {
        val variant = bundle.manifest.gpu["vocoder"] ?: emptyMap()
        assertTrue("${bundle.folder} has no GPU vocoder", variant.isNotEmpty())
        variant.keys.sortedBy { it.substringAfterLast('_').toInt() }
    }

    /** runtime.litert.random_inputs' recipe for a vocoder signature: normal noise, masks 1. */
    private fun inputs(name: String, seed: Long): Map<String, Tensor> {
        val rng = Random(seed)
        return bundle.manifest.signature("vocoder", name).inputs.mapValues { (k, t) ->
            if (t.dtype == "int32") Tensor.i32(t.shape, IntArray(t.size))
            else Tensor.f32(t.shape, FloatArray(t.size) { if (k.endsWith("_mask")) 1f else rng.nextGaussian().toFloat() })
        }
    }

    private fun runner(accelerator: String, float32: Boolean = false) =
        LiteRtCRunner(bundle.folder, bundle.manifest, bundle.files(), 2, null, lib = lib, accelerator = accelerator, gpuFloat32 = float32)

    /** (outputs of each call, in turn, on one runner; its fallback; its vocoder creations). */
    private fun calls(accelerator: String, float32: Boolean, names: List<String>): Triple<List<Map<String, Tensor>>, String?, Int> {
        val runner = runner(accelerator, float32)
        try {
            val outs = names.map { runner.run("vocoder", it, inputs(it, 3)) }
            return Triple(outs, runner.gpuFallback, runner.creations["vocoder"] ?: 0)
        } finally {
            runner.close()
        }
    }

    /** Skip where no GPU can be created, saying why (in the report too, for tests/test_android_demo.py). */
    private fun assumeGpu(fallback: String?) {
        if (fallback != null) Compare.report("gpu_vocoder", "{\"no_gpu\": ${kokoro.litert.util.Json.quote(fallback)}}")
        Assume.assumeTrue("no Vulkan GPU here ($fallback); tests/gpu/setup.sh installs a software one", fallback == null)
    }

    @Test
    fun gpuVocoderMatchesTheCpu() {
        val name = sizes.first()
        val spec = bundle.manifest.signature("vocoder", name)
        val cpu = calls("cpu", false, listOf(name)).first.single()
        val (gpu32s, fallback, _) = calls("gpu", true, listOf(name))
        assumeGpu(fallback)
        val gpu32 = gpu32s.single()
        val gpu16 = calls("gpu", false, listOf(name)).first.single()
        val report = ArrayList<String>()
        for (output in spec.outputs.keys.sorted()) {
            val ref = cpu.getValue(output).floats
            val e32 = relativeL2(gpu32.getValue(output).floats, ref)
            val e16 = relativeL2(gpu16.getValue(output).floats, ref)
            assertEquals(ref.size, gpu32.getValue(output).floats.size)
            report.add("\"$name/$output\": {\"float32_relative_l2\": $e32, \"default_relative_l2\": $e16}")
            println("vocoder/$name/$output vs CPU, relative L2: GPU float32 %.1e, GPU default (float16 body) %.1e".format(e32, e16))
            assertTrue("$output: GPU float32 vs CPU relative L2 $e32 > 1e-5", e32 < 1e-5)
            if (e16 < 1e-5) println("this GPU computes float16 as float32: the float32 payload cannot be told apart here")
            else assertTrue("$output: GPU default ($e16) not further from the CPU than float32 ($e32): was the payload read?", e16 >= 10 * e32)
        }
        println("GPU: ${LiteRtCRunner.gpuAdapter}")
        Compare.report("gpu_vocoder", "{" + report.joinToString(", ") + "}")
    }

    @Test
    fun oneSignaturePairAtATime() {
        Assume.assumeTrue("${bundle.folder}'s GPU vocoder has one size", sizes.size > 1)
        val order = listOf(sizes.first(), sizes.last(), sizes.first())
        val (inTurn, fallback, creations) = calls("gpu", false, order)
        assumeGpu(fallback)
        assertEquals("GPU vocoder creations for $order", 3, creations)
        for ((name, out) in order.zip(inTurn)) {
            val fresh = calls("gpu", false, listOf(name)).first.single()
            for ((k, t) in fresh) assertTrue("$name/$k differs from a fresh runner's", t.floats.contentEquals(out.getValue(k).floats))
        }
    }
}
