package kokoro.litert.dsp

/**
 * The excitation's random numbers (twin of `dsp/noise.py`, whose docstring is the specification):
 * SplitMix64's finalizer on a counter, keyed by (seed, stream); uniforms from the top 53 bits;
 * Box-Muller in double precision on consecutive pairs; every value rounded once to float32.
 *
 * Unsigned 64-bit words are Kotlin Longs: + and * wrap identically in two's complement, and every
 * right shift is the logical `ushr`. log/sqrt/cos/sin are StrictMath's (fdlibm, the same on every
 * JVM and on Android); they may differ from numpy's libm in the last bit of a double, which changes
 * the float32 value only when it lies within that bit of a rounding boundary (about 1 in 2**28).
 */
object Noise {
    const val GOLDEN = -0x61c8864680b583ebL // 0x9E3779B97F4A7C15
    const val RAND_INI_STREAM = 0L
    const val NOISE_STREAM = 1L
    private const val M1 = -0x40a7b892e31b1a47L // 0xBF58476D1CE4E5B9
    private const val M2 = -0x6b2fb644ecceee15L // 0x94D049BB133111EB
    private const val TWO_POW_M53 = 1.0 / (1L shl 53)

    fun mix(z0: Long): Long {
        var z = (z0 xor (z0 ushr 30)) * M1
        z = (z xor (z ushr 27)) * M2
        return z xor (z ushr 31)
    }

    fun key(seed: Long, stream: Long): Long = mix(seed * GOLDEN + stream)

    /** uniform(0..count-1) of one stream: doubles in [0, 1). */
    fun uniforms(seed: Long, stream: Long, count: Int): DoubleArray {
        val k = key(seed, stream)
        return DoubleArray(count) { i -> (mix(k + (i + 1).toLong() * GOLDEN) ushr 11).toDouble() * TWO_POW_M53 }
    }

    /** normal(0..count-1) of one stream (Box-Muller on consecutive uniform pairs): doubles. */
    fun normals(seed: Long, stream: Long, count: Int): DoubleArray {
        val u = uniforms(seed, stream, count + count % 2)
        val out = DoubleArray(count)
        var k = 0
        while (2 * k < count) {
            val r = StrictMath.sqrt(-2.0 * StrictMath.log(1.0 - u[2 * k])) // 1 - u is exact; > 0
            val a = 2.0 * Math.PI * u[2 * k + 1]
            out[2 * k] = r * StrictMath.cos(a)
            if (2 * k + 1 < count) out[2 * k + 1] = r * StrictMath.sin(a)
            k++
        }
        return out
    }

    /** (rand_ini [harmonics], noise [samples * harmonics], row-major [samples, harmonics]) float32. */
    fun excitationNoise(seed: Long, samples: Int, harmonics: Int): Pair<FloatArray, FloatArray> {
        val u = uniforms(seed, RAND_INI_STREAM, harmonics)
        val n = normals(seed, NOISE_STREAM, samples * harmonics)
        return Pair(FloatArray(harmonics) { u[it].toFloat() }, FloatArray(n.size) { n[it].toFloat() })
    }
}
