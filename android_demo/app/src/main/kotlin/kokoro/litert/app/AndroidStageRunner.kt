package kokoro.litert.app

import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.Environment
import com.google.ai.edge.litert.TensorBuffer
import kokoro.litert.buckets.Manifest
import kokoro.litert.runtime.REGROW_FRAMES
import kokoro.litert.runtime.StageRunner
import kokoro.litert.runtime.Tensor
import kokoro.litert.runtime.WeightCache
import kokoro.litert.runtime.XNNPACK_FLAGS
import java.io.File

/**
 * The stage runner on Android: LiteRT's Kotlin CompiledModel API (com.google.ai.edge.litert:litert),
 * the same runtime the desktop JVM drives through libLiteRt.so. One CompiledModel per stage file on
 * the CPU accelerator with the desktop's thread count, XNNPACK flags and weight cache file. As the
 * desktop runner: a stage keeps the buffers of the signature it ran last only (kept for all ten
 * vocoder sizes they would hold ~50 MB), and the vocoder's model is re-created before a signature
 * larger than any it has run grows a workspace of REGROW_FRAMES frames or more (XNNPACK allocates
 * the larger workspace before freeing the old). Inputs and outputs are in the signature's order, which for these
 * bundles is alphabetical by name (litert-torch sorts them; the desktop runner reads the order from
 * the file and the manifest lists the same names).
 *
 * NOT COMPILED on the project's machines (no Android SDK): kept to the few calls the desktop runner
 * makes, so reading it beside kokoro.litert.desktop.LiteRtCRunner is the review.
 */
class AndroidStageRunner(
    private val folder: File,
    private val manifest: Manifest,
    private val files: Map<String, String>,
    private val threads: Int,
    private val cache: WeightCache?
) : StageRunner {
    private val env = Environment.create()
    private val models = HashMap<String, CompiledModel>()
    private class Buffers(val signature: String, val inputs: List<TensorBuffer>, val outputs: List<TensorBuffer>) {
        fun close() = (inputs + outputs).forEach { it.close() }
    }

    private val buffers = HashMap<String, Buffers>() // stage -> its last signature's buffers
    private var vocoderFramesRun = 0 // the largest vocoder signature the current model has run

    private fun model(stage: String): CompiledModel = models.getOrPut(stage) {
        val fileName = files.getValue(stage)
        val (cachePath, tmp) = cache?.open(fileName) ?: Pair("", null)
        val options = CompiledModel.Options(Accelerator.CPU).apply {
            cpuOptions = CompiledModel.CpuOptions(threads, XNNPACK_FLAGS, cachePath.ifEmpty { null })
        }
        val m = CompiledModel.create(File(folder, fileName).path, options, env)
        if (tmp != null && tmp.isFile) cache!!.publish(fileName, tmp)
        m
    }

    @Synchronized
    override fun run(stage: String, signature: String, inputs: Map<String, Tensor>): Map<String, Tensor> {
        val spec = manifest.signature(stage, signature)
        val (ins, outs) = buffersFor(stage, signature)
        val m = model(stage)
        val inNames = spec.inputs.keys.sorted()
        val outNames = spec.outputs.keys.sorted()
        check(ins.size == inNames.size && outs.size == outNames.size) { "$stage/$signature: buffers do not match the manifest" }
        for ((i, name) in inNames.withIndex()) {
            val t = inputs.getValue(name)
            require(t.shape.contentEquals(spec.inputs.getValue(name).shape)) { "$stage/$signature input $name has shape ${t.shape.toList()}" }
            if (t.dtype == "int32") ins[i].writeInt(t.ints) else ins[i].writeFloat(t.floats)
        }
        m.run(ins, outs, signature)
        return outNames.withIndex().associate { (j, name) ->
            val shape = spec.outputs.getValue(name).shape
            name to Tensor.f32(shape, outs[j].readFloat().copyOf(shape.fold(1) { a, b -> a * b }))
        }
    }

    private fun buffersFor(stage: String, signature: String): Pair<List<TensorBuffer>, List<TensorBuffer>> {
        if (stage == "vocoder") {
            val frames = signature.substringAfterLast('_').toInt()
            if (frames > vocoderFramesRun) {
                if (vocoderFramesRun >= REGROW_FRAMES) release("vocoder") // frees the old workspace first
                vocoderFramesRun = frames
            }
        }
        buffers[stage]?.let { if (it.signature == signature) return Pair(it.inputs, it.outputs) }
        buffers.remove(stage)?.close()
        val m = model(stage)
        val made = Buffers(signature, m.createInputBuffers(signature), m.createOutputBuffers(signature))
        buffers[stage] = made
        return Pair(made.inputs, made.outputs)
    }

    /** Drop a stage's model and buffers; they are re-created on next use. */
    private fun release(stage: String) {
        buffers.remove(stage)?.close()
        models.remove(stage)?.close()
        if (stage == "vocoder") vocoderFramesRun = 0
    }

    @Synchronized
    override fun close() {
        buffers.values.forEach { it.close() }
        buffers.clear()
        models.values.forEach { it.close() }
        models.clear()
        env.close()
    }
}
