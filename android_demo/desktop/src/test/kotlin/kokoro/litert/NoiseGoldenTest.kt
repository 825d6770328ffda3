package kokoro.litert

import kokoro.litert.dsp.Noise
import kokoro.litert.util.int
import kokoro.litert.util.obj
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * dsp/Noise.kt against dsp/noise.py's vectors. Tolerances, from the specification: the uniforms are
 * integer arithmetic and one exact scaling, so they must be bit-identical; the normals go through
 * log/sqrt/cos/sin, whose last double bit may differ between fdlibm (StrictMath) and numpy's libm,
 * so 4 ulp of double (~1e-15 relative) is allowed; rounded to float32, at most 1 value in 10^4 may
 * then differ, and by one float32 ulp only.
 */
class NoiseGoldenTest {
    private fun seed(c: Map<String, Any?>): Long = (c["seed"] as Number).toLong()

    @Test
    fun uniformsAreBitIdentical() {
        for (c in Goldens.committed.list("noise")) for (stream in listOf(0L, 1L)) {
            val expected = Goldens.committed.doubles(c["uniforms"].obj()[stream.toString()])
            val got = Noise.uniforms(seed(c), stream, expected.size)
            for (i in expected.indices) assertEquals("seed ${seed(c)} stream $stream uniform $i", expected[i], got[i], 0.0)
        }
    }

    @Test
    fun normalsAgreeToDoubleUlps() {
        var worst = 0.0
        for (c in Goldens.committed.list("noise")) for (stream in listOf(0L, 1L)) {
            val expected = Goldens.committed.doubles(c["normals"].obj()[stream.toString()])
            val got = Noise.normals(seed(c), stream, expected.size)
            for (i in expected.indices) {
                val ulps = Math.abs(expected[i] - got[i]) / Math.ulp(expected[i])
                worst = Math.max(worst, ulps)
                assertTrue("seed ${seed(c)} stream $stream normal $i: ${got[i]} vs ${expected[i]}", ulps <= 4)
            }
        }
        Compare.report("noise_normals", "{\"worst_double_ulps\": $worst}")
    }

    @Test
    fun excitationNoiseFloat32() {
        var differing = 0
        var total = 0
        for (c in Goldens.committed.list("noise")) {
            val (randIni, noise) = Noise.excitationNoise(seed(c), c["samples"].int(), c["harmonics"].int())
            val eIni = Goldens.committed.floats(c["rand_ini"])
            val eNoise = Goldens.committed.floats(c["noise"])
            for (i in eIni.indices) assertEquals(eIni[i], randIni[i], 0f)
            for (i in eNoise.indices) {
                total++
                if (eNoise[i] != noise[i]) {
                    differing++
                    assertTrue("noise $i differs by more than one ulp", Compare.ulps(eNoise[i], noise[i]) <= 1)
                }
            }
        }
        Compare.report("noise_float32", "{\"values\": $total, \"differing_by_one_ulp\": $differing}")
        assertTrue("$differing of $total float32 noise values differ", differing <= total / 10000)
    }
}
