package kokoro.litert.runtime

import kokoro.litert.buckets.Manifest
import java.io.File
import java.io.FileInputStream
import java.util.zip.CRC32

/**
 * The seam between the host pipeline and a LiteRT runtime (twin of `runtime/runner.py`'s
 * `StageRunner.run` and the pipeline's `Runner` callable): one signature call, inputs fed and
 * outputs read by the names the manifest lists. Implementations: the desktop JVM's
 * `kokoro.litert.desktop.LiteRtCRunner` (libLiteRt.so's C API through JNA) and the Android app's
 * `AndroidStageRunner` (LiteRT's Kotlin CompiledModel API); in tests, a runner that replays the
 * Python runtime's recorded stage outputs.
 */
interface StageRunner : AutoCloseable {
    /** stage: "predictor" | "prosody" | "vocoder"; signature: e.g. "tokens_32". */
    fun run(stage: String, signature: String, inputs: Map<String, Tensor>): Map<String, Tensor>

    override fun close() {}
}

/** A dense row-major tensor: float32 or int32 (the only dtypes the bundles use). */
class Tensor private constructor(val shape: IntArray, private val f: FloatArray?, private val i: IntArray?) {
    val dtype: String get() = if (f != null) "float32" else "int32"
    val size: Int get() = shape.fold(1) { a, b -> a * b }
    val floats: FloatArray get() = f ?: throw IllegalStateException("tensor is int32, not float32")
    val ints: IntArray get() = i ?: throw IllegalStateException("tensor is float32, not int32")

    companion object {
        fun f32(shape: IntArray, data: FloatArray): Tensor {
            require(data.size == shape.fold(1) { a, b -> a * b }) { "data has ${data.size} values for shape ${shape.toList()}" }
            return Tensor(shape, data, null)
        }

        fun i32(shape: IntArray, data: IntArray): Tensor {
            require(data.size == shape.fold(1) { a, b -> a * b }) { "data has ${data.size} values for shape ${shape.toList()}" }
            return Tensor(shape, null, data)
        }
    }

    override fun toString() = "Tensor(${shape.toList()} $dtype)"
}

/** XNNPACK flags (runner.py XNNPACK_FLAGS): QS8 | QU8 (the defaults, which explicit flags replace) | transient indirection buffers. */
const val XNNPACK_FLAGS = 0x1 or 0x2 or 0x20

/** Vocoder workspace (frames) from which growing it re-creates the model first (runner.py REGROW_FRAMES). */
const val REGROW_FRAMES = 128

/**
 * Where XNNPACK's packed weights for a bundle's files live (runner.py `WeightCache`, same protocol):
 * a file named by the graph's sha256 (from the manifest), the LiteRT version and a CPU fingerprint,
 * built under a temporary name, renamed into place with a CRC32 sidecar once XNNPACK wrote it, and
 * checked against the sidecar when opened. The folder is `<bundle>/.xnnpack` when writable, else
 * `fallback`; with neither, models run without a cache.
 *
 * With the same file names as the Python runtime, both hosts share one cache per bundle folder:
 * checked here, the files libLiteRt.so (JVM) and ai-edge-litert's Python extension build for the same
 * graph are byte-identical. `tag` ("jvm") keeps a host's files apart should its LiteRT build differ
 * (XNNPACK rewrites a cache file whose build identifier differs, which the sidecar then catches).
 */
class WeightCache(bundle: File, private val manifest: Manifest, runtimeVersion: String, cpu: String,
                  fallback: File? = null, private val tag: String? = null) {
    private val suffix = "$runtimeVersion-$cpu"
    val folder: File? = writable(File(bundle, ".xnnpack")) ?: fallback?.let { writable(it) }
    val problems = ArrayList<String>()

    private fun writable(dir: File): File? = try {
        dir.mkdirs()
        val probe = File.createTempFile(".probe", "", dir)
        probe.delete()
        dir
    } catch (e: Exception) {
        null
    }

    fun path(fileName: String): File? {
        val dir = folder ?: return null
        val sha = (manifest.sha256[fileName] ?: "unknown").take(16)
        val stem = fileName.substringBeforeLast('.')
        return File(dir, "$stem-$sha-$suffix" + (if (tag != null) ".$tag" else "") + ".xnnpack")
    }

    /** (path to give XNNPACK, temporary file to publish after creation or null). */
    fun open(fileName: String): Pair<String, File?> {
        val final = path(fileName) ?: return Pair("", null)
        if (final.isFile) {
            if (intact(final)) return Pair(final.path, null)
            problems.add("the weight cache ${final.name} was corrupt and is rebuilt")
            final.delete()
        }
        val tmp = File.createTempFile(".${final.name}.", ".part", final.parentFile)
        tmp.delete() // XNNPACK creates it
        return Pair(tmp.path, tmp)
    }

    fun publish(fileName: String, tmp: File) {
        val final = path(fileName) ?: return
        try {
            val sidecar = File(final.path.removeSuffix(".xnnpack") + ".crc32")
            val part = File(sidecar.path + ".part")
            part.writeText("%08x %d\n".format(crc32(tmp), tmp.length()))
            if (!tmp.renameTo(final) || !part.renameTo(sidecar)) throw java.io.IOException("rename failed")
        } catch (e: java.io.IOException) {
            problems.add("could not keep the weight cache in ${final.parentFile} (${e.message})")
            tmp.delete()
        }
    }

    private fun intact(file: File): Boolean = try {
        val (crc, size) = File(file.path.removeSuffix(".xnnpack") + ".crc32").readText().trim().split(" ")
        file.length() == size.toLong() && crc32(file) == crc.toLong(16)
    } catch (e: Exception) {
        false
    }

    companion object {
        fun crc32(file: File): Long {
            val crc = CRC32()
            FileInputStream(file).use { input ->
                val buf = ByteArray(1 shl 22)
                while (true) {
                    val n = input.read(buf)
                    if (n < 0) break
                    crc.update(buf, 0, n)
                }
            }
            return crc.value
        }
    }
}
