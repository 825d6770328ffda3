package kokoro.litert.desktop

import com.sun.jna.Library
import com.sun.jna.Native
import com.sun.jna.Pointer
import com.sun.jna.ptr.IntByReference
import com.sun.jna.ptr.LongByReference
import com.sun.jna.ptr.PointerByReference
import java.io.File
import java.lang.reflect.Proxy

/**
 * The part of LiteRT's C API (the headers in litert/c/) the desktop runner calls, bound through JNA to the
 * libLiteRt.so that the ai-edge-litert wheel ships. Signatures are those of LiteRT 2.3.0 (the
 * sources at "Bump LiteRT SDK versions to 2.3.0"); note that `LiteRtCreateModelFromFile` takes the
 * environment first since 2.x. Handles are opaque pointers; every function returns a LiteRtStatus
 * (0 = kLiteRtStatusOk). `size_t` / `LiteRtParamIndex` are 64-bit on the LP64 Linux targets
 * (x86_64, aarch64) this binding is for.
 */
@Suppress("FunctionName")
interface LiteRtC : Library {
    // litert_environment.h; `options` points at numOptions LiteRtEnvOption structs (litert_environment_options.h)
    fun LiteRtCreateEnvironment(numOptions: Int, options: Pointer?, environment: PointerByReference): Int
    fun LiteRtDestroyEnvironment(environment: Pointer)

    // litert_model.h
    fun LiteRtCreateModelFromFile(environment: Pointer, filename: String, model: PointerByReference): Int
    fun LiteRtDestroyModel(model: Pointer)
    fun LiteRtGetNumModelSignatures(model: Pointer, numSignatures: LongByReference): Int
    fun LiteRtGetModelSignature(model: Pointer, signatureIndex: Long, signature: PointerByReference): Int
    fun LiteRtGetSignatureKey(signature: Pointer, key: PointerByReference): Int
    fun LiteRtGetNumSignatureInputs(signature: Pointer, numInputs: LongByReference): Int
    fun LiteRtGetNumSignatureOutputs(signature: Pointer, numOutputs: LongByReference): Int
    fun LiteRtGetSignatureInputName(signature: Pointer, inputIndex: Long, name: PointerByReference): Int
    fun LiteRtGetSignatureOutputName(signature: Pointer, outputIndex: Long, name: PointerByReference): Int
    fun LiteRtGetSignatureInputTensor(signature: Pointer, name: String, tensor: PointerByReference): Int
    fun LiteRtGetSignatureOutputTensor(signature: Pointer, name: String, tensor: PointerByReference): Int
    /** Fills a LiteRtRankedTensorType (72 bytes: element type + LiteRtLayout), treated as opaque here. */
    fun LiteRtGetRankedTensorType(tensor: Pointer, rankedTensorType: Pointer): Int

    // litert_options.h, litert_opaque_options.h
    fun LiteRtCreateOptions(options: PointerByReference): Int
    fun LiteRtDestroyOptions(options: Pointer)
    fun LiteRtSetOptionsHardwareAccelerators(options: Pointer, accelerators: Int): Int
    fun LiteRtCreateOpaqueOptions(identifier: String, payload: Pointer, destructor: Pointer?, opaque: PointerByReference): Int
    fun LiteRtAddOpaqueOptions(options: Pointer, opaque: Pointer): Int

    // litert_compiled_model.h
    fun LiteRtCreateCompiledModel(environment: Pointer, model: Pointer, options: Pointer, compiled: PointerByReference): Int
    fun LiteRtDestroyCompiledModel(compiled: Pointer)
    fun LiteRtGetCompiledModelInputBufferRequirements(compiled: Pointer, signatureIndex: Long, inputIndex: Long, requirements: PointerByReference): Int
    fun LiteRtGetCompiledModelOutputBufferRequirements(compiled: Pointer, signatureIndex: Long, outputIndex: Long, requirements: PointerByReference): Int
    fun LiteRtRunCompiledModel(compiled: Pointer, signatureIndex: Long, numInputs: Long, inputs: Array<Pointer>, numOutputs: Long, outputs: Array<Pointer>): Int

    // litert_tensor_buffer.h, litert_tensor_buffer_requirements.h
    fun LiteRtCreateManagedTensorBufferFromRequirements(environment: Pointer, rankedTensorType: Pointer, requirements: Pointer, buffer: PointerByReference): Int
    fun LiteRtGetTensorBufferSize(buffer: Pointer, size: LongByReference): Int
    fun LiteRtLockTensorBuffer(buffer: Pointer, hostAddress: PointerByReference, lockMode: Int): Int
    fun LiteRtUnlockTensorBuffer(buffer: Pointer): Int
    fun LiteRtDestroyTensorBuffer(buffer: Pointer)

    companion object {
        const val OK = 0
        const val HW_ACCELERATOR_CPU = 1 // kLiteRtHwAcceleratorCpu
        const val HW_ACCELERATOR_GPU = 2 // kLiteRtHwAcceleratorGpu
        const val LOCK_READ = 0 // kLiteRtTensorBufferLockModeRead
        const val LOCK_WRITE = 1 // kLiteRtTensorBufferLockModeWrite
        const val RANKED_TENSOR_TYPE_BYTES = 72 // sizeof(LiteRtRankedTensorType), static_assert'ed in litert_model_types.h
        /** LiteRtCpuOptionsT::Identifier(): the opaque-options key the CPU accelerator reads its TOML payload under. */
        const val CPU_OPTIONS_IDENTIFIER = "xnnpack"
        /**
         * LrtGetGpuOptionsIdentifier(): the key the GPU accelerator reads its TOML payload under
         * (LrtCreateGpuOptionsFromToml, litert/c/options/litert_gpu_options.cc at 2.3.0).
         */
        const val GPU_OPTIONS_IDENTIFIER = "gpu_options"
        /**
         * The payload making the GPU compute in float32: `precision` is a LiteRtDelegatePrecision
         * (litert_common.h: 0 default, 1 fp16, 2 fp32, 3 fp16 with fp32 accumulation; the Python
         * wheel's GpuOptions(enforce_f32=True) sets the same). Measured on the tiny float32 vocoder
         * (GpuRunnerTest): with it the GPU is within 1.1e-6 relative L2 of the CPU, without it 6.8e-3.
         */
        const val GPU_FLOAT32_TOML = "precision = 2\n"
        const val ELEMENT_FLOAT32 = 1 // kLiteRtElementTypeFloat32
        const val ELEMENT_INT32 = 2 // kLiteRtElementTypeInt32
        /** sizeof(LiteRtEnvOption): a LiteRtEnvOptionTag, then a LiteRtAny (type, then an 8-byte union) at offset 8. */
        const val ENV_OPTION_BYTES = 24
        /** kLiteRtEnvOptionTagRuntimeLibraryDir: where LiteRT looks for its accelerator libraries (libLiteRtWebGpuAccelerator.so). */
        const val ENV_RUNTIME_LIBRARY_DIR = 22
        const val ANY_TYPE_STRING = 8 // kLiteRtAnyTypeString

        private val loaded = HashMap<String, LiteRtC>()

        /**
         * libLiteRt.so at `path`, loaded once per process and never unloaded: the process's one LiteRT
         * environment lives in it (LiteRtCRunner.environment). JNA unloads (dlclose) a library whose
         * last interface object is garbage-collected; libLiteRt.so unloaded after use crashed the JVM
         * at exit (SIGSEGV in libc's exit handlers, 3 runs in 10 of the JUnit suite).
         */
        @Synchronized
        fun load(path: String): LiteRtC = loaded.getOrPut(File(path).absolutePath) { Native.load(path, LiteRtC::class.java) }

        /** The folder `lib` was loaded from: in the wheel (ai_edge_litert/), where its accelerators sit too. */
        fun folder(lib: LiteRtC): File? = (Proxy.getInvocationHandler(lib) as? Library.Handler)?.nativeLibrary?.file?.absoluteFile?.parentFile
    }
}

/**
 * The few libc calls the desktop host needs: fd redirection (to keep LiteRT's start-up log off
 * stderr and stdout), getauxval, free, and the live process environment, which native code reads
 * (the JVM's System.getenv is a copy taken at start-up and cannot be changed).
 */
@Suppress("FunctionName")
interface LibC : Library {
    fun getenv(name: String): String?
    fun setenv(name: String, value: String, overwrite: Int): Int
    fun getuid(): Int
    fun dup(fd: Int): Int
    fun dup2(oldFd: Int, newFd: Int): Int
    fun close(fd: Int): Int
    fun fflush(stream: Pointer?): Int
    fun getauxval(type: Long): Long
    fun strdup(s: String): Pointer
    fun open(path: String, flags: Int, mode: Int): Int
    fun madvise(addr: Pointer, length: Long, advice: Int): Int

    companion object {
        val INSTANCE: LibC by lazy { Native.load("c", LibC::class.java) }
        val FREE: Pointer by lazy { com.sun.jna.NativeLibrary.getInstance("c").getFunction("free") }
    }
}
