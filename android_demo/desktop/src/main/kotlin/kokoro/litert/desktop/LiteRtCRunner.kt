package kokoro.litert.desktop

import com.sun.jna.Memory
import com.sun.jna.Pointer
import com.sun.jna.ptr.LongByReference
import com.sun.jna.ptr.PointerByReference
import kokoro.litert.buckets.Manifest
import kokoro.litert.buckets.STAGES
import kokoro.litert.runtime.BUNDLE_REMEDY
import kokoro.litert.runtime.GPU_LOG_NOISE
import kokoro.litert.runtime.GPU_PARTITION_LINE
import kokoro.litert.runtime.GPU_STAGES
import kokoro.litert.runtime.REGROW_FRAMES
import kokoro.litert.runtime.KokoroError
import kokoro.litert.runtime.StageRunner
import kokoro.litert.runtime.Tensor
import kokoro.litert.runtime.WeightCache
import kokoro.litert.runtime.XNNPACK_FLAGS
import kokoro.litert.runtime.checkAccelerator
import kokoro.litert.runtime.gpuEnvironment
import kokoro.litert.runtime.gpuParts
import kokoro.litert.runtime.noGpuVariant
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
 * With accelerator "gpu" the vocoder runs on LiteRT's GPU accelerator instead (runner.py
 * `gpu_stages`, `_create_on_gpu`), from the GPU variant the folder carries (manifest `gpu`): a
 * signature is two models, its body in the GPU's default precision (float16, as on phones; float32
 * with `gpuFloat32`) and its head in float32, the tensors between them copied through host memory.
 * One signature's pair at a time (the GPU holds a copy of the weights per model): a call at another
 * size releases it first. Ops the GPU rejects run on XNNPACK (none in the vocoder). Where no GPU can
 * be created, or the folder has no GPU variant, one warning line, then the CPU (`gpuFallback`).
 *
 * LiteRT logs its start-up (accelerator registration, XNNPACK delegate) on stderr; those lines are
 * captured and dropped, anything else is passed on (`quietNativeLogs`). The GPU accelerator logs
 * more, on stdout too (`captureNativeLogs`).
 */
class LiteRtCRunner(
    private val folder: File,
    private val manifest: Manifest,
    private val files: Map<String, String>,
    private val threads: Int,
    private val weightCache: WeightCache?,
    private val lib: LiteRtC,
    private val releaseIdleWeights: Boolean = true,
    accelerator: String = "cpu",
    /** The GPU computes the vocoder's body in float32 too (tests; its default is float16). */
    private val gpuFloat32: Boolean = false
) : StageRunner {
    private class Sig(val index: Long, val inputNames: List<String>, val outputNames: List<String>,
                      val inputTypes: List<Memory>, val outputTypes: List<Memory>)

    private class Model(val model: Pointer, val compiled: Pointer, val signatures: Map<String, Sig>)

    private class Buffers(val inputs: Array<Pointer>, val outputs: Array<Pointer>) {
        var runs = 0
    }

    /** One signature of a GPU stage: its body and float32 head models, with their buffers. */
    private class GpuPair(val signature: String, val body: Model, val head: Model) {
        var bodyBuffers: Buffers? = null
        var headBuffers: Buffers? = null
    }

    private val gpuStages: Set<String> = GPU_STAGES.getValue(accelerator.also { checkAccelerator(it) })
    private val models = HashMap<String, Model>()
    private val gpuPairs = HashMap<String, GpuPair>()
    private val buffers = LinkedHashMap<Pair<String, String>, Buffers>()
    val creations = HashMap<String, Int>()
    private var vocoderFramesRun = 0 // the largest vocoder signature the current model has run
    private var mappedStage: String? = null // the stage whose files may be resident

    /** Why the GPU stages run on the CPU instead (set, and warned once, when no GPU could be used). */
    var gpuFallback: String? = null
        private set

    /** Whether a stage runs (is to run) on the GPU accelerator. */
    fun onGpu(stage: String) = stage in gpuStages && gpuFallback == null

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

    /** The CPU accelerator's options, a TOML payload (LrtGetOpaqueCpuOptionsData's format). */
    private fun cpuToml(cachePath: String): String {
        val toml = StringBuilder("enable_ynnpack = false\nnum_threads = $threads\nflags = $XNNPACK_FLAGS\n")
        if (cachePath.isNotEmpty()) toml.append("weight_cache_file_path = \"$cachePath\"\n")
        return toml.toString()
    }

    private fun addOptions(opts: Pointer, identifier: String, toml: String) {
        val payload = LibC.INSTANCE.strdup(toml) // freed by LiteRT with libc's free
        val opaque = PointerByReference()
        check(lib.LiteRtCreateOpaqueOptions(identifier, payload, LibC.FREE, opaque), "create $identifier options")
        check(lib.LiteRtAddOpaqueOptions(opts, opaque.value), "add $identifier options")
    }

    /**
     * A model of `path` compiled for these accelerators with these option payloads (`gpuToml`: none
     * for the GPU's defaults); null when compiling fails (a file LiteRT cannot read fails in one line).
     */
    private fun compile(path: File, accelerators: Int, cpuToml: String, gpuToml: String?): Model? {
        val m = PointerByReference()
        if (lib.LiteRtCreateModelFromFile(env(), path.path, m) != LiteRtC.OK) throw KokoroError(
            "LiteRT cannot load $path.", "Convert the bundles again with `kokoro-litert convert`.")
        val model = m.value
        val opts = PointerByReference()
        check(lib.LiteRtCreateOptions(opts), "create compilation options")
        val compiled = PointerByReference()
        val status = try {
            check(lib.LiteRtSetOptionsHardwareAccelerators(opts.value, accelerators), "select the accelerators")
            addOptions(opts.value, LiteRtC.CPU_OPTIONS_IDENTIFIER, cpuToml)
            if (gpuToml != null) addOptions(opts.value, LiteRtC.GPU_OPTIONS_IDENTIFIER, gpuToml)
            lib.LiteRtCreateCompiledModel(env(), model, opts.value, compiled)
        } finally {
            lib.LiteRtDestroyOptions(opts.value)
        }
        if (status != LiteRtC.OK) {
            lib.LiteRtDestroyModel(model)
            return null
        }
        return Model(model, compiled.value, readSignatures(model))
    }

    private fun destroy(m: Model) {
        lib.LiteRtDestroyCompiledModel(m.compiled)
        lib.LiteRtDestroyModel(m.model)
    }

    private fun model(stage: String): Model = models.getOrPut(stage) {
        val fileName = files.getValue(stage)
        val path = File(folder, fileName)
        val (cachePath, tmp) = weightCache?.open(fileName) ?: Pair("", null)
        val created = quietNativeLogs {
            compile(path, LiteRtC.HW_ACCELERATOR_CPU, cpuToml(cachePath), null)
                ?: throw KokoroError("LiteRT cannot compile $path.", "Convert the bundles again with `kokoro-litert convert`.")
        }
        checkSignatures(created.signatures, stage, path)
        if (tmp != null && tmp.isFile) weightCache!!.publish(fileName, tmp)
        if (releaseIdleWeights) MappedPages.release(listOf(path)) // read while creating, barely after
        creations[stage] = (creations[stage] ?: 0) + 1
        created
    }

    private fun warn(message: String) {
        System.err.println("warning: $message")
        System.err.flush()
    }

    /** From now on the GPU stages run on the CPU, after one warning line (runner.py's wording). */
    private fun fallBack(reason: String, noGpu: Boolean = true) {
        gpuFallback = reason
        warn("${if (noGpu) "no GPU could be created ($reason)" else reason}; running ${gpuStages.sorted().joinToString(", ")} on the CPU")
    }

    /** runner.py `_gpu_model`: a model of `path` on the GPU accelerator; null after one warning when no GPU can be created here. */
    private fun gpuModel(path: File, float32: Boolean): Model? {
        prepareGpuEnvironment()
        val (model, lines) = captureNativeLogs(GPU_NOISE, stdout = true) {
            // GPU | CPU: ops the GPU delegate rejects run on XNNPACK (these threads and flags, no
            // weight cache: the GPU holds the delegated weights).
            compile(path, LiteRtC.HW_ACCELERATOR_GPU or LiteRtC.HW_ACCELERATOR_CPU, cpuToml(""),
                    if (float32) LiteRtC.GPU_FLOAT32_TOML else null)
        }
        val adapterFailure = lines.firstOrNull { "Failed to initialize WebGPU" in it }?.substringAfter("] ")
        var reason = if (model == null) "LiteRT could not compile ${path.name} for the GPU" else null
        if (model != null && lines.none { GPU_PARTITION_LINE in it }) {
            quietNativeLogs { destroy(model) }
            reason = "LiteRT delegated nothing to a GPU (no GPU accelerator beside ${LiteRtC.folder(lib)?.let { "$it/" } ?: ""}libLiteRt.so?)"
        }
        if (reason != null) {
            fallBack(adapterFailure ?: reason)
            return null
        }
        lines.firstOrNull { "Selected adapter: " in it }?.let { gpuAdapter = it.substringAfter("Selected adapter: ") }
        return model
    }

    /** runner.py `_create_on_gpu`: the stage's signature as a body and a float32 head on the GPU; null: the stage runs on the CPU. */
    private fun gpuPair(stage: String, signature: String): GpuPair? {
        gpuPairs[stage]?.let { if (it.signature == signature) return it }
        release(stage) // one signature's pair at a time: the GPU copies the weights per model
        val parts = gpuParts(manifest, folder, stage, signature) ?: run {
            fallBack(noGpuVariant(folder, stage), noGpu = false)
            return null
        }
        val bodyPath = File(folder, parts.body)
        val headPath = File(folder, parts.head)
        val body = gpuModel(bodyPath, gpuFloat32) ?: return null
        // The head (final leaky_relu, conv_post, exp, sin) in float32: in float16 it cost 4 dB of MCD (runtime/gpu.py split_head).
        val head = gpuModel(headPath, float32 = true) ?: run {
            quietNativeLogs { destroy(body) }
            return null
        }
        checkGpuSignatures(stage, signature, body.signatures, bodyPath, head.signatures, headPath)
        if (releaseIdleWeights) MappedPages.release(listOf(bodyPath, headPath)) // read while creating, barely after
        creations[stage] = (creations[stage] ?: 0) + 1
        return GpuPair(signature, body, head).also { gpuPairs[stage] = it }
    }

    private fun prepareGpuEnvironment() {
        val c = LibC.INSTANCE
        val tmp = File(c.getenv("TMPDIR")?.takeIf { it.isNotEmpty() } ?: System.getProperty("java.io.tmpdir"))
        for ((name, value) in gpuEnvironment({ c.getenv(it) }, tmp, c.getuid().toLong())) c.setenv(name, value, 1)
    }

    private fun cString(ref: PointerByReference) = ref.value.getString(0, "UTF-8")

    /** signature key -> its index, I/O names (in the file's order) and tensor types. */
    private fun readSignatures(model: Pointer): Map<String, Sig> {
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
        return found
    }

    private fun checkSignatures(found: Map<String, Sig>, stage: String, path: File) {
        for (spec in manifest.signatures.getValue(stage).values) {
            val sig = found[spec.name] ?: throw KokoroError(
                "${path.name} has no signature '${spec.name}', which manifest.json lists (the file has ${found.keys.sorted().joinToString(", ")}).", BUNDLE_REMEDY)
            if (sig.inputNames.toSet() != spec.inputs.keys || sig.outputNames.toSet() != spec.outputs.keys) throw KokoroError(
                "${path.name} signature '${spec.name}' has inputs ${sig.inputNames.sorted()} and outputs ${sig.outputNames.sorted()}; " +
                    "manifest.json lists ${spec.inputs.keys.sorted()} and ${spec.outputs.keys.sorted()}.", BUNDLE_REMEDY)
        }
    }

    /** A GPU variant's body takes the signature's inputs and gives `head_input_<i>`, which its head takes, giving the signature's outputs. */
    private fun checkGpuSignatures(stage: String, signature: String, body: Map<String, Sig>, bodyPath: File, head: Map<String, Sig>, headPath: File) {
        val spec = manifest.signature(stage, signature)
        val b = body[signature]
        val h = head[signature]
        val problem = when {
            b == null || body.size != 1 -> "${bodyPath.name} holds ${body.keys.sorted()}, not the one signature '$signature'"
            h == null || head.size != 1 -> "${headPath.name} holds ${head.keys.sorted()}, not the one signature '$signature'"
            b.inputNames.toSet() != spec.inputs.keys -> "${bodyPath.name} takes ${b.inputNames.sorted()}; manifest.json lists ${spec.inputs.keys.sorted()}"
            b.outputNames.any { !it.startsWith("head_input_") } || b.outputNames.toSet() != h.inputNames.toSet() ->
                "${bodyPath.name} gives ${b.outputNames.sorted()} and ${headPath.name} takes ${h.inputNames.sorted()}"
            h.outputNames.toSet() != spec.outputs.keys -> "${headPath.name} gives ${h.outputNames.sorted()}; manifest.json lists ${spec.outputs.keys.sorted()}"
            else -> return
        }
        throw KokoroError("The GPU $stage is unusable: $problem.", "Export the folder again with `kokoro-litert export --gpu`.")
    }

    private fun frames(signature: String) = signature.substringAfterLast('_').toInt()

    private fun destroyBuffers(b: Buffers?) {
        if (b != null) (b.inputs + b.outputs).forEach { lib.LiteRtDestroyTensorBuffer(it) }
    }

    /** Managed buffers for a compiled signature's inputs and outputs, as its buffer requirements ask. */
    private fun createBuffers(m: Model, sig: Sig): Buffers {
        fun create(j: Int, input: Boolean): Pointer {
            val req = PointerByReference()
            check(if (input) lib.LiteRtGetCompiledModelInputBufferRequirements(m.compiled, sig.index, j.toLong(), req)
                  else lib.LiteRtGetCompiledModelOutputBufferRequirements(m.compiled, sig.index, j.toLong(), req), "get buffer requirements")
            val buf = PointerByReference()
            check(lib.LiteRtCreateManagedTensorBufferFromRequirements(env(), if (input) sig.inputTypes[j] else sig.outputTypes[j], req.value, buf), "create a tensor buffer")
            return buf.value
        }
        return Buffers(Array(sig.inputNames.size) { create(it, true) }, Array(sig.outputNames.size) { create(it, false) })
    }

    private fun buffersFor(stage: String, signature: String): Buffers {
        val key = Pair(stage, signature)
        if (stage == "vocoder" && frames(signature) > vocoderFramesRun) {
            if (vocoderFramesRun >= REGROW_FRAMES) release("vocoder") // frees the old workspace first
            vocoderFramesRun = frames(signature)
        }
        buffers[key]?.let { return it }
        manifest.signature(stage, signature) // a signature the manifest does not list is a ManifestError
        for (other in buffers.keys.filter { it.first == stage }) destroyBuffers(buffers.remove(other)) // one signature's buffers per stage
        val m = model(stage)
        val sig = m.signatures[signature] ?: throw KokoroError("The $stage graph has no signature $signature.", BUNDLE_REMEDY)
        val made = quietNativeLogs { createBuffers(m, sig) }
        buffers[key] = made
        return made
    }

    /** Drop a stage's model(s), buffers and arenas; they are re-created on next use. */
    @Synchronized
    fun release(stage: String) {
        for (key in buffers.keys.filter { it.first == stage }) destroyBuffers(buffers.remove(key))
        if (stage == "vocoder") vocoderFramesRun = 0
        models.remove(stage)?.let { quietNativeLogs { destroy(it) } }
        gpuPairs.remove(stage)?.let {
            captureNativeLogs(GPU_NOISE, stdout = true) {
                destroyBuffers(it.bodyBuffers)
                destroyBuffers(it.headBuffers)
                destroy(it.body)
                destroy(it.head)
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
        if (inputs.keys != spec.inputs.keys) throw IllegalArgumentException("$stage/$signature takes ${spec.inputs.keys.sorted()}, got ${inputs.keys.sorted()}")
        for ((name, value) in inputs) {
            val t = spec.inputs.getValue(name)
            require(value.shape.contentEquals(t.shape) && value.dtype == t.dtype) {
                "$stage/$signature input $name must be $t, got ${value.shape.toList()} ${value.dtype}"
            }
        }
        releaseOtherStages(stage)
        if (onGpu(stage)) gpuPair(stage, signature)?.let { return runOnGpu(it, stage, signature, inputs) }
        val b = buffersFor(stage, signature)
        val m = models.getValue(stage)
        val sig = m.signatures.getValue(signature)
        val body = {
            for ((j, name) in sig.inputNames.withIndex()) write(b.inputs[j], inputs.getValue(name))
            check(lib.LiteRtRunCompiledModel(m.compiled, sig.index, b.inputs.size.toLong(), b.inputs, b.outputs.size.toLong(), b.outputs), "run $stage/$signature")
            readOutputs(b, sig, stage, signature)
        }
        // The first call of a signature sets up the accelerator's planning, which logs.
        val out = if (b.runs == 0) quietNativeLogs(body) else body()
        b.runs++
        return out
    }

    private fun readOutputs(b: Buffers, sig: Sig, stage: String, signature: String): Map<String, Tensor> {
        val spec = manifest.signature(stage, signature)
        return sig.outputNames.withIndex().associate { (j, name) ->
            val t = spec.outputs.getValue(name)
            name to read(b.outputs[j], t.shape, t.dtype)
        }
    }

    /** The body, its outputs copied by name into the head's inputs, then the head (runner.py `_SplitModel`). */
    private fun runOnGpu(pair: GpuPair, stage: String, signature: String, inputs: Map<String, Tensor>): Map<String, Tensor> {
        val bodySig = pair.body.signatures.getValue(signature)
        val headSig = pair.head.signatures.getValue(signature)
        val first = pair.bodyBuffers == null
        val body = {
            val bb = pair.bodyBuffers ?: createBuffers(pair.body, bodySig).also { pair.bodyBuffers = it }
            val hb = pair.headBuffers ?: createBuffers(pair.head, headSig).also { pair.headBuffers = it }
            for ((j, name) in bodySig.inputNames.withIndex()) write(bb.inputs[j], inputs.getValue(name))
            check(lib.LiteRtRunCompiledModel(pair.body.compiled, bodySig.index, bb.inputs.size.toLong(), bb.inputs,
                                             bb.outputs.size.toLong(), bb.outputs), "run $stage/$signature's body on the GPU")
            for ((j, name) in headSig.inputNames.withIndex()) {
                copy(bb.outputs[bodySig.outputNames.indexOf(name)], hb.inputs[j], tensorBytes(headSig.inputTypes[j]))
            }
            check(lib.LiteRtRunCompiledModel(pair.head.compiled, headSig.index, hb.inputs.size.toLong(), hb.inputs,
                                             hb.outputs.size.toLong(), hb.outputs), "run $stage/$signature's head on the GPU")
            readOutputs(hb, headSig, stage, signature)
        }
        // The first call sets up the GPU's buffers and programs, which log (on stdout too).
        return if (first) captureNativeLogs(GPU_NOISE, stdout = true, body = body).first else body()
    }

    /** Bytes of a float32 or int32 tensor of this LiteRtRankedTensorType (element type, then LiteRtLayout: rank in the low 7 bits, dims from offset 8). */
    private fun tensorBytes(type: Memory): Long {
        val element = type.getInt(0)
        require(element == LiteRtC.ELEMENT_FLOAT32 || element == LiteRtC.ELEMENT_INT32) { "element type $element is not float32 or int32" }
        val rank = type.getInt(4) and 0x7f
        return (0 until rank).fold(4L) { n, i -> n * type.getInt(8L + 4 * i) }
    }

    private fun copy(from: Pointer, to: Pointer, bytes: Long) {
        require(lockedSize(from) >= bytes && lockedSize(to) >= bytes) { "GPU buffers smaller than their $bytes-byte tensor" }
        val src = PointerByReference()
        val dst = PointerByReference()
        check(lib.LiteRtLockTensorBuffer(from, src, LiteRtC.LOCK_READ), "lock the body's output")
        try {
            check(lib.LiteRtLockTensorBuffer(to, dst, LiteRtC.LOCK_WRITE), "lock the head's input")
            try {
                dst.value.getByteBuffer(0, bytes).put(src.value.getByteBuffer(0, bytes))
            } finally {
                lib.LiteRtUnlockTensorBuffer(to)
            }
        } finally {
            lib.LiteRtUnlockTensorBuffer(from)
        }
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
        private var envOptions: Memory? = null // kept alive with the environment: it points into them

        /** What Dawn selected, from the log of the process's first GPU model (runner.py `gpu_adapter`); null before. */
        @Volatile
        var gpuAdapter: String? = null
            private set

        /**
         * One LiteRT environment for every model of the process (created quietly, once), told where
         * libLiteRt.so's accelerator libraries are (its own folder), as the Python package tells it
         * (`Environment.create(runtime_path=...)`): LiteRT looks for libLiteRtWebGpuAccelerator.so
         * there, and by bare name (the library path) without it.
         */
        @Synchronized
        fun environment(lib: LiteRtC): Pointer {
            env?.let { return it }
            val dir = LiteRtC.folder(lib)?.path
            val options = if (dir == null) null else Memory(LiteRtC.ENV_OPTION_BYTES.toLong() + dir.toByteArray().size + 1).apply {
                clear()
                setInt(0, LiteRtC.ENV_RUNTIME_LIBRARY_DIR) // LiteRtEnvOption.tag
                setInt(8, LiteRtC.ANY_TYPE_STRING) // .value.type
                setString(LiteRtC.ENV_OPTION_BYTES.toLong(), dir, "UTF-8") // the string, after the struct
                setPointer(16, share(LiteRtC.ENV_OPTION_BYTES.toLong())) // .value.str_value
            }
            val ref = PointerByReference()
            quietNativeLogs {
                if (lib.LiteRtCreateEnvironment(if (options == null) 0 else 1, options, ref) != LiteRtC.OK) throw KokoroError("LiteRT could not create its environment.", "Reinstall ai-edge-litert.")
            }
            envOptions = options
            env = ref.value
            return ref.value
        }

        private val NOISE = Regex("^(INFO|WARNING|VERBOSE): \\[|^INFO: Created TensorFlow Lite|^└|^ERROR: \\[.*compiler_plugin")
        /** What the GPU accelerator (Dawn over Vulkan) logs while it creates and first runs a model (runner.py `_GPU_NOISE`). */
        private val GPU_NOISE = Regex(NOISE.pattern + GPU_LOG_NOISE)

        /** Run `body` with fd 2 captured; LiteRT's start-up chatter is dropped, anything else passed on. */
        fun <T> quietNativeLogs(body: () -> T): T = captureNativeLogs(NOISE, false, body).first

        /**
         * runner.py `capture_native_logs`: run `body` with what native code writes to fd 2 (and fd 1
         * too with `stdout`) captured; (its value, the lines captured). Lines matching `noise` stay
         * off the terminal, the others are passed on to stderr. stdout: LiteRT's GPU accelerator
         * prints a line there when it looks for OpenCL.
         */
        fun <T> captureNativeLogs(noise: Regex, stdout: Boolean, body: () -> T): Pair<T, List<String>> {
            val c = LibC.INSTANCE
            val capture = File.createTempFile("kokoro-litert-native", ".log")
            val fds = if (stdout) listOf(2, 1) else listOf(2)
            System.out.flush()
            System.err.flush()
            c.fflush(null)
            val fd = c.open(capture.path, 0x241, 0x180) // O_WRONLY | O_CREAT | O_TRUNC, 0600
            val saved = fds.map { c.dup(it) }
            if (fd < 0 || saved.any { it < 0 }) {
                saved.filter { it >= 0 }.forEach { c.close(it) }
                if (fd >= 0) c.close(fd)
                capture.delete()
                return Pair(body(), emptyList())
            }
            fds.forEach { c.dup2(fd, it) }
            c.close(fd)
            val lines = ArrayList<String>()
            try {
                return Pair(body(), lines)
            } finally {
                c.fflush(null)
                for ((target, old) in fds.zip(saved)) {
                    c.dup2(old, target)
                    c.close(old)
                }
                lines.addAll(capture.readLines().filter { it.isNotBlank() })
                capture.delete()
                val kept = lines.filter { !noise.containsMatchIn(it) }
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
