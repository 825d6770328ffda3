package kokoro.litert

import kokoro.litert.buckets.Manifest
import kokoro.litert.runtime.Tensor
import kokoro.litert.util.Json
import kokoro.litert.util.arr
import kokoro.litert.util.int
import kokoro.litert.util.obj
import kokoro.litert.util.str
import org.junit.Assume
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.zip.GZIPInputStream

/**
 * A golden folder as tests/golden/write_goldens.py writes it (format "kokoro-litert-goldens" v2):
 * index.json + raw little-endian arrays, gzip-compressed when the name ends in ".gz", and with
 * "stored" only the leading part of the last axis in the file (the rest zero).
 */
class GoldenFolder(val dir: File) {
    val index: Map<String, Any?> by lazy {
        val raw = Json.parse(File(dir, "index.json").readText(Charsets.UTF_8)).obj("index")
        check(raw["format"] == Goldens.FORMAT) { "not a golden folder: format ${raw["format"]}" }
        check(raw["version"].int() == Goldens.VERSION) {
            "golden format version ${raw["version"]}, this reader reads ${Goldens.VERSION}: regenerate (tests/golden/write_goldens.py)"
        }
        raw
    }

    val meta: Map<String, Any?> get() = index["meta"].obj("meta")

    private fun bytes(desc: Any?): ByteBuffer {
        val d = desc.obj("array")
        val file = File(dir, d["file"].str())
        val data = if (file.name.endsWith(".gz")) GZIPInputStream(file.inputStream()).use { it.readBytes() } else file.readBytes()
        val shape = d["shape"].arr().map { it.int() }
        val stored = d["stored"]?.arr()?.map { it.int() } ?: shape
        val width = if (d["dtype"] == "float64") 8 else 4
        if (stored == shape) return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN)
        // zero-pad the last axis back to its full length
        val rows = stored.dropLast(1).fold(1) { a, b -> a * b }
        val full = ByteArray(shape.fold(width) { a, b -> a * b })
        for (r in 0 until rows) System.arraycopy(data, r * stored.last() * width, full, r * shape.last() * width, stored.last() * width)
        return ByteBuffer.wrap(full).order(ByteOrder.LITTLE_ENDIAN)
    }

    fun floats(desc: Any?): FloatArray {
        check(desc.obj()["dtype"] == "float32")
        val fb = bytes(desc).asFloatBuffer()
        return FloatArray(fb.remaining()).also { fb.get(it) }
    }

    fun doubles(desc: Any?): DoubleArray {
        check(desc.obj()["dtype"] == "float64")
        val db = bytes(desc).asDoubleBuffer()
        return DoubleArray(db.remaining()).also { db.get(it) }
    }

    fun ints(desc: Any?): IntArray {
        check(desc.obj()["dtype"] == "int32")
        val ib = bytes(desc).asIntBuffer()
        return IntArray(ib.remaining()).also { ib.get(it) }
    }

    /** The leading part of the last axis actually stored (the full length without "stored"). */
    fun storedWidth(desc: Any?): Int = (desc.obj()["stored"] ?: desc.obj()["shape"]).arr().last().int()

    fun tensor(desc: Any?): Tensor {
        val shape = desc.obj()["shape"].arr().map { it.int() }.toIntArray()
        return if (desc.obj()["dtype"] == "int32") Tensor.i32(shape, ints(desc)) else Tensor.f32(shape, floats(desc))
    }

    fun list(key: String): List<Map<String, Any?>> = index[key].arr(key).map { it.obj(key) }
}

/**
 * The golden folders and bundles the tests read, given as system properties (android_demo/build.sh
 * test passes them; tests/test_android_demo.py sets them); a test whose input is absent is skipped.
 *
 * - kokoro.goldens: the committed folder, tests/golden/vectors (text, DSP, chunking, and the
 *   pipeline vectors of the tiny bundle); kokoro.tiny.bundles: the tiny bundle folder they came from.
 * - kokoro.real.goldens + kokoro.bundles: pipeline vectors of the real bundle folder, written per run.
 */
object Goldens {
    const val FORMAT = "kokoro-litert-goldens"
    const val VERSION = 2

    fun property(name: String): String? = System.getProperty(name)?.takeIf { it.isNotEmpty() }

    fun require(name: String): String {
        val v = property(name)
        Assume.assumeTrue("system property $name not set", v != null)
        return v!!
    }

    val committed: GoldenFolder by lazy { GoldenFolder(File(require("kokoro.goldens"))) }

    /**
     * (name, golden folder, bundle folder) of every pipeline set given: "tiny" (committed) and "real".
     * Each bundle folder must hold the graphs and voices its vectors were written from (the golden
     * meta's sha256s): another converter makes other numbers, which no tolerance covers.
     */
    fun pipelineSets(): List<Triple<String, GoldenFolder, File>> {
        val sets = ArrayList<Triple<String, GoldenFolder, File>>()
        val tiny = property("kokoro.tiny.bundles")
        if (property("kokoro.goldens") != null && tiny != null) sets.add(Triple("tiny", committed, File(tiny)))
        val real = property("kokoro.real.goldens")
        val bundles = property("kokoro.bundles")
        if (real != null && bundles != null) sets.add(Triple("real", GoldenFolder(File(real)), File(bundles)))
        Assume.assumeTrue("no pipeline goldens given (kokoro.goldens + kokoro.tiny.bundles, kokoro.real.goldens + kokoro.bundles)",
                          sets.isNotEmpty())
        for ((name, g, folder) in sets) {
            val expected = g.meta["bundle"].obj("meta.bundle")["sha256"].obj("sha256")
            val manifest = Manifest.load(folder)
            val changed = expected.keys.filter { manifest.sha256[it] != expected[it] }.sorted()
            check(changed.isEmpty()) {
                "the $name bundle folder $folder is not the one its golden vectors were written from ($changed differ): " +
                    "the converter changed since; regenerate them (python tests/golden/write_goldens.py --out tests/golden/vectors " +
                    "for the committed set) and review the diff"
            }
        }
        return sets
    }
}

/** Comparison helpers that report the worst element, so a failure says by how much. */
object Compare {
    fun maxAbs(a: FloatArray, b: FloatArray): Double {
        check(a.size == b.size) { "sizes differ: ${a.size} vs ${b.size}" }
        var worst = 0.0
        for (i in a.indices) worst = Math.max(worst, Math.abs(a[i].toDouble() - b[i]))
        return worst
    }

    /** max |a - b| over max(1, max |a|): the stage tolerance of write_goldens.py. */
    fun relative(a: FloatArray, b: FloatArray): Double {
        var scale = 1.0
        for (x in a) scale = Math.max(scale, Math.abs(x.toDouble()))
        return maxAbs(a, b) / scale
    }

    fun correlation(a: FloatArray, b: FloatArray): Double {
        check(a.size == b.size) { "sizes differ: ${a.size} vs ${b.size}" }
        val ma = a.average()
        val mb = b.average()
        var sab = 0.0
        var saa = 0.0
        var sbb = 0.0
        for (i in a.indices) {
            val x = a[i] - ma
            val y = b[i] - mb
            sab += x * y; saa += x * x; sbb += y * y
        }
        return sab / Math.sqrt(saa * sbb)
    }

    fun ulps(a: Float, b: Float): Int = Math.abs(java.lang.Float.floatToIntBits(a) - java.lang.Float.floatToIntBits(b))

    /** Reports go to build/reports/NAME.json for the pytest side to read and print. */
    fun report(name: String, json: String) {
        val dir = Goldens.property("kokoro.reports") ?: return
        File(dir).mkdirs()
        File(dir, "$name.json").writeText(json + "\n")
    }
}
