package kokoro.litert.desktop

import com.sun.jna.Memory
import com.sun.jna.Pointer
import com.sun.jna.ptr.LongByReference
import com.sun.jna.ptr.PointerByReference
import kokoro.litert.buckets.Manifest
import kokoro.litert.buckets.STAGES
import kokoro.litert.runtime.BUNDLE_REMEDY
import kokoro.litert.runtime.REGROW_FRAMES
import kokoro.litert.runtime.KokoroError
import kokoro.litert.runtime.StageRunner
import kokoro.litert.runtime.Tensor
import kokoro.litert.runtime.WeightCache
import kokoro.litert.runtime.XNNPACK_FLAGS
import java.io.File
import java.util.zip.CRC32

/**
 * Runs the bundle's signatures on the desktop JVM through libLiteRt.so's C API (CompiledModel on
 * the CPU accelerator, XNNPACK), with the policies of the Python runtime's `runtime/runner.py`:
 *
 * - one CompiledModel per stage file, created on first use, with `num_threads`, the same XNNPACK
 *   flags and an XNNPACK weight cache file (`WeightCache`: keyed by the graph's sha256, the LiteRT
 *   version and the CPU), so the packed weights are mmapped and held once;
 * - a stage keeps the buffers of the signature it ran last only; only the running stage's graph
 *   and weight-cache pages stay mapped in (`MappedPages.release` on the others before a stage runs);
 * - a model's signatures share one XNNPACK
 *   workspace, which XNNPACK grows by allocating the larger one before freeing the old, so the
 *   vocoder's model is re-created before a signature larger than any it has run grows a workspace
 *   of `REGROW_FRAMES` frames or more;
 * - inputs are fed and outputs read by name, checked against the manifest's shapes and dtypes; each
 *   file's signature names and I/O names are checked against the manifest when it loads.
 *
 * LiteRT logs its start-up (accelerator registration, XNNPACK delegate) on stderr; those lines are
 * captured and dropped, anything else is passed on (`quietNativeLogs`).
 */
class LiteRtCRunner(
    private val folder: File,
    private val manifest: Manifest,
    private val files: Map<String, String>,
    private val threads: Int,
    private val weightCache: WeightCache?,
    private val lib: LiteRtC,
    private val releaseIdleWeights: Boolean = true
) : StageRunner {
    private class Sig(val index: Long, val inputNames: List<String>, val outputNames: List<String>,
                      val inputTypes: List<Memory>, val outputTypes: List<Memory>)

    private class Model(val model: Pointer, val compiled: Pointer, val signatures: Map<String, Sig>)

    private class Buffers(val inputs: Array<Pointer>, val outputs: Array<Pointer>) {
        var runs = 0
    }

    private val models = HashMap<String, Model>()
    private val buffers = LinkedHashMap<Pair<String, String>, Buffers>()
    val creations = HashMap<String, Int>()
    private var vocoderFramesRun = 0 // the largest vocoder signature the current model has run
    private var mappedStage: String? = null // the stage whose files may be resident

    /** The files a stage's model maps: its graph and, if there is one, its weight cache. */
    fun stageFiles(stage: String): List<File> {
        val fileName = files.getValue(stage)
        return listOfNotNull(File(folder, fileName), weightCache?.path(fileName))
    }

    private fun releaseOtherStages(stage: String) {
        val last = mappedStage
        if (releaseIdleWeights && last != null && last != stage) {
            MappedPages.release(models.keys.filter { it != stage }.flatMap { stageFiles(it) })
        }
        mappedStage = stage
    }

    private fun check(status: Int, what: String) {
        if (status != LiteRtC.OK) throw KokoroError("LiteRT failed to $what (status $status).", "Convert the bundles again with `kokoro-litert convert`.")
    }

    private fun env(): Pointer = environment(lib)

    private fun model(stage: String): Model = models.getOrPut(stage) {
        val fileName = files.getValue(stage)
        val path = File(folder, fileName)
        val (cachePath, tmp) = weightCache?.open(fileName) ?: Pair("", null)
        val created = quietNativeLogs {
            val m = PointerByReference()
            if (lib.LiteRtCreateModelFromFile(env(), path.path, m) != LiteRtC.OK) throw KokoroError(
                "LiteRT cannot load $path.", "Convert the bundles again with `kokoro-litert convert`.")
            val model = m.value
            val opts = PointerByReference()
            check(lib.LiteRtCreateOptions(opts), "create compilation options")
            check(lib.LiteRtSetOptionsHardwareAccelerators(opts.value, LiteRtC.HW_ACCELERATOR_CPU), "select the CPU accelerator")
            // The CPU accelerator reads its options as a TOML payload (LrtGetOpaqueCpuOptionsData's format).
            val toml = StringBuilder("enable_ynnpack = false\nnum_threads = $threads\nflags = $XNNPACK_FLAGS\n")
            if (cachePath.isNotEmpty()) toml.append("weight_cache_file_path = \"$cachePath\"\n")
            val payload = LibC.INSTANCE.strdup(toml.toString()) // freed by LiteRT with libc's free
            val opaque = PointerByReference()
            check(lib.LiteRtCreateOpaqueOptions(LiteRtC.CPU_OPTIONS_IDENTIFIER, payload, LibC.FREE, opaque), "create CPU options")
            check(lib.LiteRtAddOpaqueOptions(opts.value, opaque.value), "add CPU options")
            val compiled = PointerByReference()
            val status = lib.LiteRtCreateCompiledModel(env(), model, opts.value, compiled)
            lib.LiteRtDestroyOptions(opts.value)
            if (status != LiteRtC.OK) {
                lib.LiteRtDestroyModel(model)
                throw KokoroError("LiteRT cannot compile $path (status $status).", "Convert the bundles again with `kokoro-litert convert`.")
            }
            Model(model, compiled.value, signatures(model, stage, path))
        }
        if (tmp != null && tmp.isFile) weightCache!!.publish(fileName, tmp)
        if (releaseIdleWeights) MappedPages.release(listOf(path)) // read while creating, barely after
        creations[stage] = (creations[stage] ?: 0) + 1
        created
    }

    private fun cString(ref: PointerByReference) = ref.value.getString(0, "UTF-8")

    private fun signatures(model: Pointer, stage: String, path: File): Map<String, Sig> {
        val n = LongByReference()
        check(lib.LiteRtGetNumModelSignatures(model, n), "count signatures")
        val found = HashMap<String, Sig>()
        for (i in 0 until n.value) {
            val sig = PointerByReference()
            check(lib.LiteRtGetModelSignature(model, i, sig), "read signature $i")
            val key = PointerByReference()
            check(lib.LiteRtGetSignatureKey(sig.value, key), "read a signature key")
            val nIn = LongByReference()
            val nOut = LongByReference()
            check(lib.LiteRtGetNumSignatureInputs(sig.value, nIn), "count inputs")
            check(lib.LiteRtGetNumSignatureOutputs(sig.value, nOut), "count outputs")
            val ins = (0 until nIn.value).map { j -> PointerByReference().also { check(lib.LiteRtGetSignatureInputName(sig.value, j, it), "read an input name") }.let(::cString) }
            val outs = (0 until nOut.value).map { j -> PointerByReference().also { check(lib.LiteRtGetSignatureOutputName(sig.value, j, it), "read an output name") }.let(::cString) }
            fun type(name: String, input: Boolean): Memory {
                val t = PointerByReference()
                check(if (input) lib.LiteRtGetSignatureInputTensor(sig.value, name, t) else lib.LiteRtGetSignatureOutputTensor(sig.value, name, t), "find tensor $name")
                val mem = Memory(LiteRtC.RANKED_TENSOR_TYPE_BYTES.toLong())
                check(lib.LiteRtGetRankedTensorType(t.value, mem), "read the type of $name")
                return mem
            }
            found[cString(key)] = Sig(i, ins, outs, ins.map { type(it, true) }, outs.map { type(it, false) })
        }
        for (spec in manifest.signatures.getValue(stage).values) {
            val sig = found[spec.name] ?: throw KokoroError(
                "${path.name} has no signature '${spec.name}', which manifest.json lists (the file has ${found.keys.sorted().joinToString(", ")}).", BUNDLE_REMEDY)
            if (sig.inputNames.toSet() != spec.inputs.keys || sig.outputNames.toSet() != spec.outputs.keys) throw KokoroError(
                "${path.name} signature '${spec.name}' has inputs ${sig.inputNames.sorted()} and outputs ${sig.outputNames.sorted()}; " +
                    "manifest.json lists ${spec.inputs.keys.sorted()} and ${spec.outputs.keys.sorted()}.", BUNDLE_REMEDY)
        }
        return found
    }

    private fun frames(signature: String) = signature.substringAfterLast('_').toInt()

    private fun buffersFor(stage: String, signature: String): Buffers {
        val key = Pair(stage, signature)
        if (stage == "vocoder" && frames(signature) > vocoderFramesRun) {
            if (vocoderFramesRun >= REGROW_FRAMES) release("vocoder") // frees the old workspace first
            vocoderFramesRun = frames(signature)
        }
        buffers[key]?.let { return it }
        manifest.signature(stage, signature) // a signature the manifest does not list is a ManifestError
        for (other in buffers.keys.filter { it.first == stage }) { // one signature's buffers per stage
            val b = buffers.remove(other)!!
            (b.inputs + b.outputs).forEach { lib.LiteRtDestroyTensorBuffer(it) }
        }
        val m = model(stage)
        val sig = m.signatures[signature] ?: throw KokoroError("The $stage graph has no signature $signature.", BUNDLE_REMEDY)
        val made = quietNativeLogs {
            fun create(j: Int, input: Boolean): Pointer {
                val req = PointerByReference()
                check(if (input) lib.LiteRtGetCompiledModelInputBufferRequirements(m.compiled, sig.index, j.toLong(), req)
                      else lib.LiteRtGetCompiledModelOutputBufferRequirements(m.compiled, sig.index, j.toLong(), req), "get buffer requirements")
                val buf = PointerByReference()
                check(lib.LiteRtCreateManagedTensorBufferFromRequirements(env(), if (input) sig.inputTypes[j] else sig.outputTypes[j], req.value, buf), "create a tensor buffer")
                return buf.value
            }
            Buffers(Array(sig.inputNames.size) { create(it, true) }, Array(sig.outputNames.size) { create(it, false) })
        }
        buffers[key] = made
        return made
    }

    /** Drop a stage's model, buffers and arenas; they are re-created on next use. */
    @Synchronized
    fun release(stage: String) {
        for (key in buffers.keys.filter { it.first == stage }) {
            val b = buffers.remove(key)!!
            (b.inputs + b.outputs).forEach { lib.LiteRtDestroyTensorBuffer(it) }
        }
        if (stage == "vocoder") vocoderFramesRun = 0
        models.remove(stage)?.let {
            quietNativeLogs {
                lib.LiteRtDestroyCompiledModel(it.compiled)
                lib.LiteRtDestroyModel(it.model)
            }
        }
    }

    @Synchronized
    override fun close() {
        for (stage in STAGES) release(stage)
    }

    @Synchronized
    override fun run(stage: String, signature: String, inputs: Map<String, Tensor>): Map<String, Tensor> {
        val spec = manifest.signature(stage, signature)
        releaseOtherStages(stage)
        val b = buffersFor(stage, signature)
        val sig = models.getValue(stage).signatures.getValue(signature)
        if (inputs.keys != spec.inputs.keys) throw IllegalArgumentException("$stage/$signature takes ${spec.inputs.keys.sorted()}, got ${inputs.keys.sorted()}")
        val body = {
            for ((j, name) in sig.inputNames.withIndex()) {
                val t = spec.inputs.getValue(name)
                val value = inputs.getValue(name)
                require(value.shape.contentEquals(t.shape) && value.dtype == t.dtype) {
                    "$stage/$signature input $name must be $t, got ${value.shape.toList()} ${value.dtype}"
                }
                write(b.inputs[j], value)
            }
            check(lib.LiteRtRunCompiledModel(models.getValue(stage).compiled, sig.index, b.inputs.size.toLong(), b.inputs,
                                             b.outputs.size.toLong(), b.outputs), "run $stage/$signature")
            sig.outputNames.withIndex().associate { (j, name) ->
                val t = spec.outputs.getValue(name)
                name to read(b.outputs[j], t.shape, t.dtype)
            }
        }
        // The first call of a signature sets up the accelerator's planning, which logs.
        val out = if (b.runs == 0) quietNativeLogs(body) else body()
        b.runs++
        return out
    }

    private fun lockedSize(buffer: Pointer): Long = LongByReference().also { check(lib.LiteRtGetTensorBufferSize(buffer, it), "size a buffer") }.value

    private fun write(buffer: Pointer, t: Tensor) {
        require(lockedSize(buffer) >= t.size * 4L) { "buffer too small for ${t.shape.toList()}" }
        val addr = PointerByReference()
        check(lib.LiteRtLockTensorBuffer(buffer, addr, LiteRtC.LOCK_WRITE), "lock an input buffer")
        try {
            if (t.dtype == "float32") addr.value.write(0, t.floats, 0, t.size) else addr.value.write(0, t.ints, 0, t.size)
        } finally {
            lib.LiteRtUnlockTensorBuffer(buffer)
        }
    }

    private fun read(buffer: Pointer, shape: IntArray, dtype: String): Tensor {
        val n = shape.fold(1) { a, b -> a * b }
        require(lockedSize(buffer) >= n * 4L) { "output buffer smaller than ${shape.toList()}" }
        val addr = PointerByReference()
        check(lib.LiteRtLockTensorBuffer(buffer, addr, LiteRtC.LOCK_READ), "lock an output buffer")
        try {
            return if (dtype == "float32") Tensor.f32(shape, addr.value.getFloatArray(0, n)) else Tensor.i32(shape, addr.value.getIntArray(0, n))
        } finally {
            lib.LiteRtUnlockTensorBuffer(buffer)
        }
    }

    companion object {
        private var env: Pointer? = null

        /** One LiteRT environment for every model of the process (created quietly, once). */
        @Synchronized
        fun environment(lib: LiteRtC): Pointer {
            env?.let { return it }
            val ref = PointerByReference()
            quietNativeLogs {
                if (lib.LiteRtCreateEnvironment(0, null, ref) != LiteRtC.OK) throw KokoroError("LiteRT could not create its environment.", "Reinstall ai-edge-litert.")
            }
            env = ref.value
            return ref.value
        }

        private val NOISE = Regex("^(INFO|WARNING|VERBOSE): \\[|^INFO: Created TensorFlow Lite|^└|^ERROR: \\[.*compiler_plugin")

        /** Run `body` with fd 2 captured; LiteRT's start-up chatter is dropped, anything else passed on. */
        fun <T> quietNativeLogs(body: () -> T): T {
            val c = LibC.INSTANCE
            val capture = File.createTempFile("kokoro-litert-stderr", ".log")
            System.err.flush()
            c.fflush(null)
            val saved = c.dup(2)
            val fd = c.open(capture.path, 0x241, 0x180) // O_WRONLY | O_CREAT | O_TRUNC, 0600
            if (saved < 0 || fd < 0) {
                capture.delete()
                return body()
            }
            c.dup2(fd, 2)
            c.close(fd)
            try {
                return body()
            } finally {
                c.fflush(null)
                c.dup2(saved, 2)
                c.close(saved)
                val kept = capture.readLines().filter { it.isNotBlank() && !NOISE.containsMatchIn(it) }
                capture.delete()
                if (kept.isNotEmpty()) System.err.println(kept.joinToString("\n"))
            }
        }

        /** runner.py `cpu_fingerprint`: machine + CRC32 of the HWCAP words and the cpuinfo flags. */
        fun cpuFingerprint(): String {
            val words = try {
                listOf(LibC.INSTANCE.getauxval(16), LibC.INSTANCE.getauxval(26)).map { java.lang.Long.toUnsignedString(it) }
            } catch (e: Throwable) {
                emptyList<String>()
            }
            var flags = ""
            try {
                for (line in File("/proc/cpuinfo").readLines()) {
                    val key = line.substringBefore(':').trim().toLowerCase()
                    if (key == "flags" || key == "features") { flags = line.substringAfter(':'); break }
                }
            } catch (e: java.io.IOException) {
            }
            val key = "[${words.joinToString(", ")}] ${flags.trim().split(Regex("\\s+")).filter { it.isNotEmpty() }.sorted().joinToString(" ")}"
            val crc = CRC32().also { it.update(key.toByteArray(Charsets.UTF_8)) }.value
            val machine = when (val arch = System.getProperty("os.arch")) { "amd64" -> "x86_64"; "arm64" -> "aarch64"; else -> arch }
            return "$machine-%08x".format(crc)
        }
    }
}
