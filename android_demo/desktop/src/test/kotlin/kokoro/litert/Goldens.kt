package kokoro.litert

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

/**
 * Reader of the golden folder tests/golden/write_goldens.py writes (format "kokoro-litert-goldens" v1):
 * index.json + raw little-endian arrays. The folder, the bundles and the native libraries come in as
 * system properties (android_demo/build.sh test passes them); a test whose input is absent is skipped.
 */
object Goldens {
    const val FORMAT = "kokoro-litert-goldens"
    const val VERSION = 1

    fun property(name: String): String? = System.getProperty(name)?.takeIf { it.isNotEmpty() }

    fun require(name: String): String {
        val v = property(name)
        Assume.assumeTrue("system property $name not set", v != null)
        return v!!
    }

    val dir: File by lazy { File(require("kokoro.goldens")) }

    val index: Map<String, Any?> by lazy {
        val raw = Json.parse(File(dir, "index.json").readText(Charsets.UTF_8)).obj("index")
        check(raw["format"] == FORMAT) { "not a golden folder: format ${raw["format"]}" }
        check(raw["version"].int() == VERSION) { "golden format version ${raw["version"]}, this reader reads $VERSION: regenerate" }
        raw
    }

    private fun bytes(desc: Any?): Pair<ByteBuffer, IntArray> {
        val d = desc.obj("array")
        val buf = ByteBuffer.wrap(File(dir, d["file"].str()).readBytes()).order(ByteOrder.LITTLE_ENDIAN)
        return Pair(buf, d["shape"].arr().map { it.int() }.toIntArray())
    }

    fun floats(desc: Any?): FloatArray {
        check(desc.obj()["dtype"] == "float32")
        val fb = bytes(desc).first.asFloatBuffer()
        return FloatArray(fb.remaining()).also { fb.get(it) }
    }

    fun doubles(desc: Any?): DoubleArray {
        check(desc.obj()["dtype"] == "float64")
        val db = bytes(desc).first.asDoubleBuffer()
        return DoubleArray(db.remaining()).also { db.get(it) }
    }

    fun ints(desc: Any?): IntArray {
        check(desc.obj()["dtype"] == "int32")
        val ib = bytes(desc).first.asIntBuffer()
        return IntArray(ib.remaining()).also { ib.get(it) }
    }

    fun tensor(desc: Any?): Tensor {
        val shape = desc.obj()["shape"].arr().map { it.int() }.toIntArray()
        return if (desc.obj()["dtype"] == "int32") Tensor.i32(shape, ints(desc)) else Tensor.f32(shape, floats(desc))
    }

    fun list(key: String): List<Map<String, Any?>> = index[key].arr(key).map { it.obj(key) }
}

/** Comparison helpers that report the worst element, so a failure says by how much. */
object Compare {
    fun maxAbs(a: FloatArray, b: FloatArray): Double {
        check(a.size == b.size) { "sizes differ: ${a.size} vs ${b.size}" }
        var worst = 0.0
        for (i in a.indices) worst = Math.max(worst, Math.abs(a[i].toDouble() - b[i]))
        return worst
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
