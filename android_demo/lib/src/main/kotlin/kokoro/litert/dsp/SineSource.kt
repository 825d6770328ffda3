package kokoro.litert.dsp

import kokoro.litert.buckets.Buckets

/**
 * hn-NSF harmonic source (twin of `dsp/sine_source.py`; ADAPTED like it from kokoro 0.9.4
 * istftnet.py: Generator.f0_upsamp, SineGen, the harmonic branch of SourceModuleHnNSF).
 *
 * Float32 throughout, in the same order of operations as the Python twin, with torch's CPU
 * arithmetic reproduced where it differs from plain float32: cumsum accumulates in double, and
 * F.interpolate(mode="linear") computes its source index and blend with fused multiply-adds. Here
 * the FMA is the JDK's correctly rounded `Math.fma(float, float, float)`, which is exactly what
 * Python's `_fma_f32` emulates. sin, the 9-term merge and tanh are computed in double and rounded
 * once, as dsp/sine_source.py specifies, so both hosts get the same float32 excitation (up to a
 * last-bit difference of the two libm's double functions, which rounding to float32 almost never shows).
 */
object SineSource {
    val N_HARMONICS = Buckets.HARMONIC_NUM + 1 // 9 sine channels: F0 and 8 overtones
    private const val PI_F = Math.PI.toFloat()

    /** Taps and weights of F.interpolate(mode="linear", align_corners=False, scale_factor). */
    class Taps(val i0: IntArray, val i1: IntArray, val lambda0: FloatArray, val lambda1: FloatArray)

    fun linearTaps(nIn: Int, scaleFactor: Double): Taps {
        val nOut = Math.floor(nIn * scaleFactor).toInt()
        val ratio = (1.0 / scaleFactor).toFloat()
        val i0 = IntArray(nOut)
        val i1 = IntArray(nOut)
        val l0 = FloatArray(nOut)
        val l1 = FloatArray(nOut)
        for (i in 0 until nOut) {
            val dst = i.toFloat() + 0.5f // exact: indices are far below 2**24
            val src = Math.max(Math.fma(ratio, dst, -0.5f), 0f)
            val a = Math.min(Math.floor(src.toDouble()).toInt(), nIn - 1)
            val lam1 = Math.min(Math.max(src - a.toFloat(), 0f), 1f)
            i0[i] = a
            i1[i] = if (a < nIn - 1) a + 1 else a
            l1[i] = lam1
            l0[i] = 1f - lam1
        }
        return Taps(i0, i1, l0, l1)
    }

    /** numpy's float32 `np.mod(a, 1)`: fmod, moved into [0, 1) for negative a; +0 for exact zeros. */
    private fun mod1(a: Float): Float {
        var r = a % 1f
        if (r != 0f) {
            if (r < 0f) r += 1f
        } else {
            r = 0f
        }
        return r
    }

    /**
     * SineGen + the 9 -> 1 merge: har_source [2 L * 300] from the frame-rate F0 curve [2 L].
     *
     * randIni: [9] initial phases (entry 0 ignored, as upstream zeroes the fundamental's);
     * noise: [N * 9] standard normal, row-major [N, 9]; weight [9], bias: the learned merge.
     */
    fun sineSource(f0: FloatArray, weight: FloatArray, bias: Float, randIni: FloatArray, noise: FloatArray): FloatArray {
        val up = Buckets.F0_UPSAMPLE
        val h = N_HARMONICS
        val n = f0.size * up // Generator.f0_upsamp: nearest, i.e. each value repeated 300 times
        require(n > 0) { "f0 must not be empty" }
        require(noise.size == n * h) { "noise must have ${n * h} values, got ${noise.size}" }
        require(weight.size == h) { "weight must have $h values" }
        val ini = randIni.copyOf()
        ini[0] = 0f
        val harmonics = FloatArray(h) { (it + 1).toFloat() }
        val sr = Buckets.SAMPLE_RATE.toFloat()

        // _f02sine: rad_values = (f0 * k / sr) % 1 (+ rand_ini at sample 0), linearly downsampled by
        // 1/300; only the two taps of each output sample are evaluated.
        fun rad(idx: Int, k: Int): Float {
            val r = mod1((f0[idx / up] * harmonics[k]) / sr)
            return if (idx == 0) r + ini[k] else r
        }

        val down = linearTaps(n, 1.0 / up)
        val nDown = down.i0.size
        // torch's CPU cumsum accumulates float32 in double and rounds each partial sum.
        val phase = FloatArray(nDown * h) // [nDown, 9]
        val acc = DoubleArray(h)
        for (i in 0 until nDown) {
            for (k in 0 until h) {
                val r = Math.fma(rad(down.i0[i], k), down.lambda0[i], rad(down.i1[i], k) * down.lambda1[i])
                acc[k] += r.toDouble()
                phase[i * h + k] = acc[k].toFloat() * 2f * PI_F * up.toFloat()
            }
        }
        val upT = linearTaps(nDown, up.toDouble())
        require(upT.i0.size == n) { "upsampled phase has ${upT.i0.size} samples, expected $n" }
        val out = FloatArray(n)
        for (s in 0 until n) {
            val f = f0[s / up]
            val uv = if (f > Buckets.VOICED_THRESHOLD) 1f else 0f
            // Upstream: uv * noise_std + (1 - uv) * sine_amp / 3, evaluated left to right in float32.
            val noiseAmp = uv * Buckets.NOISE_STD + ((1f - uv) * Buckets.SINE_AMP) / 3f
            val j0 = upT.i0[s]
            val j1 = upT.i1[s]
            val mu0 = upT.lambda0[s]
            val mu1 = upT.lambda1[s]
            // The merge and tanh in double, bias first then k = 0..8, rounded once (as dsp/sine_source.py).
            var sum = bias.toDouble()
            for (k in 0 until h) {
                val p = Math.fma(phase[j0 * h + k], mu0, phase[j1 * h + k] * mu1)
                val sine = Math.sin(p.toDouble()).toFloat() * Buckets.SINE_AMP
                val wave = sine * uv + noiseAmp * noise[s * h + k]
                sum += wave.toDouble() * weight[k].toDouble()
            }
            out[s] = Math.tanh(sum).toFloat()
        }
        return out
    }
}
