package kokoro.litert.app

import android.util.Log
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.Environment
import com.google.ai.edge.litert.LiteRtException
import com.google.ai.edge.litert.TensorBuffer
import kokoro.litert.buckets.Manifest
import kokoro.litert.buckets.SignatureSpec
import kokoro.litert.runtime.GPU_STAGES
import kokoro.litert.runtime.REGROW_FRAMES
import kokoro.litert.runtime.StageRunner
import kokoro.litert.runtime.Tensor
import kokoro.litert.runtime.WeightCache
import kokoro.litert.runtime.XNNPACK_FLAGS
import kokoro.litert.runtime.checkAccelerator
import kokoro.litert.runtime.gpuParts
import kokoro.litert.runtime.noGpuVariant
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
 * With accelerator "gpu", as the desktop runner: the vocoder on the GPU accelerator from the
 * folder's GPU variant (manifest `gpu`), a signature as two models, its body in the GPU's default
 * precision and its head in float32 (GpuOptions precision FP32), the tensors between them copied by
 * name; one signature's pair at a time; GPU | CPU so rejected ops run on XNNPACK. Where the device
 * offers no GPU accelerator, creating a GPU model fails, or the folder has no GPU variant: one
 * warning (logcat), then the CPU. Unlike the desktop, LiteRT's log cannot be read here, so a GPU
 * model that took nothing on the GPU is not detected.
 *
 * NOT COMPILED on the project's machines (no Android SDK): kept to the few calls the desktop runner
 * makes, so reading it beside kokoro.litert.desktop.LiteRtCRunner is the review.
 */
class AndroidStageRunner(
    private val folder: File,
    private val manifest: Manifest,
    private val files: Map<String, String>,
    private val threads: Int,
    private val cache: WeightCache?,
    accelerator: String = "cpu"
) : StageRunner {
    private val env = Environment.create()
    private val models = HashMap<String, CompiledModel>()
    private class Buffers(val signature: String, val inputs: List<TensorBuffer>, val outputs: List<TensorBuffer>) {
        fun close() = (inputs + outputs).forEach { it.close() }
    }

    /**
     * One signature of a GPU stage: body and float32 head, with their buffers in signature order.
     * The exporter (runtime/gpu.py split_head) writes each part's I/O sorted by name, so the body's
     * outputs and the head's inputs (`head_input_<i>`, the same names) line up one to one.
     */
    private class GpuPair(val signature: String, val body: CompiledModel, val head: CompiledModel) {
        val bodyIn = body.createInputBuffers(signature)
        val bodyOut = body.createOutputBuffers(signature)
        val headIn = head.createInputBuffers(signature)
        val headOut = head.createOutputBuffers(signature)

        fun close() {
            (bodyIn + bodyOut + headIn + headOut).forEach { it.close() }
            body.close()
            head.close()
        }
    }

    private val gpuStages: Set<String> = GPU_STAGES.getValue(accelerator.also { checkAccelerator(it) })
    private val gpuPairs = HashMap<String, GpuPair>()
    private val buffers = HashMap<String, Buffers>() // stage -> its last signature's buffers
    private var vocoderFramesRun = 0 // the largest vocoder signature the current model has run

    /** Why the GPU stages run on the CPU instead (set, and warned once, when no GPU could be used). */
    var gpuFallback: String? = null
        private set

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

    private fun fallBack(reason: String, noGpu: Boolean = true) {
        gpuFallback = reason
        Log.w("kokoro", "${if (noGpu) "no GPU could be created ($reason)" else reason}; running ${gpuStages.sorted().joinToString(", ")} on the CPU")
    }

    /** A model of `path` on the GPU (float32: GpuOptions precision FP32; else the GPU's default); null after one warning. */
    private fun gpuModel(path: File, float32: Boolean): CompiledModel? {
        if (Accelerator.GPU !in env.getAvailableAccelerators()) {
            fallBack("LiteRT offers no GPU accelerator on this device")
            return null
        }
        val options = CompiledModel.Options(Accelerator.GPU, Accelerator.CPU).apply {
            cpuOptions = CompiledModel.CpuOptions(threads, XNNPACK_FLAGS, null) // no weight cache: the GPU holds the weights
            if (float32) gpuOptions = CompiledModel.GpuOptions(precision = CompiledModel.GpuOptions.Precision.FP32)
        }
        return try {
            CompiledModel.create(path.path, options, env)
        } catch (e: LiteRtException) {
            fallBack(e.message ?: "LiteRT could not compile ${path.name} for the GPU")
            null
        }
    }

    /** The stage's signature as body + float32 head on the GPU, the pair of another signature released first; null: the CPU. */
    private fun gpuPair(stage: String, signature: String): GpuPair? {
        gpuPairs[stage]?.let { if (it.signature == signature) return it }
        release(stage) // one signature's pair at a time: the GPU copies the weights per model
        val parts = gpuParts(manifest, folder, stage, signature) ?: run {
            fallBack(noGpuVariant(folder, stage), noGpu = false)
            return null
        }
        val body = gpuModel(File(folder, parts.body), float32 = false) ?: return null
        // The head (final leaky_relu, conv_post, exp, sin) in float32: in float16 it cost 4 dB of MCD.
        val head = gpuModel(File(folder, parts.head), float32 = true) ?: run {
            body.close()
            return null
        }
        val pair = GpuPair(signature, body, head)
        check(pair.bodyOut.size == pair.headIn.size) { "$stage/$signature: the GPU body gives ${pair.bodyOut.size} tensors, its head takes ${pair.headIn.size}" }
        gpuPairs[stage] = pair
        return pair
    }

    @Synchronized
    override fun run(stage: String, signature: String, inputs: Map<String, Tensor>): Map<String, Tensor> {
        val spec = manifest.signature(stage, signature)
        for ((name, t) in inputs) require(t.shape.contentEquals(spec.inputs.getValue(name).shape)) { "$stage/$signature input $name has shape ${t.shape.toList()}" }
        val inNames = spec.inputs.keys.sorted()
        val outNames = spec.outputs.keys.sorted()
        val gpu = if (stage in gpuStages && gpuFallback == null) gpuPair(stage, signature) else null
        if (gpu != null) { // the body, its outputs copied into the head's inputs, then the head (as the desktop runner)
            write(gpu.bodyIn, inNames, inputs, stage, signature)
            gpu.body.run(gpu.bodyIn, gpu.bodyOut, signature)
            for ((b, h) in gpu.bodyOut.zip(gpu.headIn)) h.writeFloat(b.readFloat())
            gpu.head.run(gpu.headIn, gpu.headOut, signature)
            return read(gpu.headOut, outNames, spec)
        }
        val (ins, outs) = buffersFor(stage, signature)
        write(ins, inNames, inputs, stage, signature)
        model(stage).run(ins, outs, signature)
        return read(outs, outNames, spec)
    }

    private fun write(ins: List<TensorBuffer>, names: List<String>, inputs: Map<String, Tensor>, stage: String, signature: String) {
        check(ins.size == names.size) { "$stage/$signature: buffers do not match the manifest" }
        for ((i, name) in names.withIndex()) {
            val t = inputs.getValue(name)
            if (t.dtype == "int32") ins[i].writeInt(t.ints) else ins[i].writeFloat(t.floats)
        }
    }

    private fun read(outs: List<TensorBuffer>, names: List<String>, spec: SignatureSpec): Map<String, Tensor> {
        check(outs.size == names.size) { "${spec.name}: buffers do not match the manifest" }
        return names.withIndex().associate { (j, name) ->
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

    /** Drop a stage's model(s) and buffers; they are re-created on next use. */
    private fun release(stage: String) {
        buffers.remove(stage)?.close()
        models.remove(stage)?.close()
        gpuPairs.remove(stage)?.close()
        if (stage == "vocoder") vocoderFramesRun = 0
    }

    @Synchronized
    override fun close() {
        buffers.values.forEach { it.close() }
        buffers.clear()
        models.values.forEach { it.close() }
        models.clear()
        gpuPairs.values.forEach { it.close() }
        gpuPairs.clear()
        env.close()
    }
}
