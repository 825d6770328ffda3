package kokoro.litert.dsp

import kokoro.litert.buckets.Buckets

/**
 * STFT and iSTFT of the iSTFTNet head (twin of `dsp/stft.py`; ADAPTED like it from kokoro 0.9.4
 * TorchSTFT): n_fft 20, hop 5, periodic Hann, center=True with reflect padding, onesided and
 * unnormalized. A 20-point DFT is small enough to evaluate directly: each transform is computed in
 * double from the float32 inputs and rounded once to float32 (numpy's pocketfft works in float32,
 * so values differ from the Python twin by about an ulp). Window, overlap-add and normalization are
 * float32 in the Python twin's order.
 *
 * Layout: magnitude and phase are row-major [N_FREQ, frames] FloatArrays (index k * frames + f).
 */
object Stft {
    private val N_FFT = Buckets.ISTFT_N_FFT
    private val HOP = Buckets.ISTFT_HOP
    private val N_FREQ = Buckets.N_FREQ
    val OVERLAP = N_FFT / HOP // 4 frames cover each output sample
    val PAD = N_FFT / 2 // 10: center=True padding on each side

    init {
        check(Buckets.ISTFT_WIN == N_FFT && N_FFT % HOP == 0)
    }

    /**
     * Periodic Hann [n_fft] float32, as torch.hann_window(n, periodic=True): the 20 values the Python
     * twin computes (numpy's float32 cos, the same on every CPU with FMA), as bit patterns. Computed
     * here with a correctly rounded cos, n = 8 and 14 came out one ulp apart, which now and then
     * flips the phase of a near-silent bin from +pi to -pi (Im ~1e-8 changing sign): a 2 pi jump in
     * one vocoder input, measured as audio correlation 0.99984 instead of 1 - 1e-10 on the tiny
     * bundle. The committed goldens carry the Python window (`dsp`), so a change there shows.
     */
    val window: FloatArray = intArrayOf(
        0x0, 0x3cc878f0, 0x3dc3910c, 0x3e530dd0, 0x3eb0e444, 0x3f000000, 0x3f278ddf, 0x3f4b3c8c, 0x3f678dde, 0x3f79bc39,
        0x3f800000, 0x3f79bc38, 0x3f678dde, 0x3f4b3c8a, 0x3f278de0, 0x3f000000, 0x3eb0e441, 0x3e530dc8, 0x3dc390fc, 0x3cc878f0
    ).map { java.lang.Float.intBitsToFloat(it) }.toFloatArray()

    // cos/sin(2 pi k t / n_fft), exact index reduction so every entry is the correctly rounded double.
    private val cosTable = DoubleArray(N_FREQ * N_FFT) { val k = it / N_FFT; val t = it % N_FFT; Math.cos(2 * Math.PI * ((k * t) % N_FFT) / N_FFT) }
    private val sinTable = DoubleArray(N_FREQ * N_FFT) { val k = it / N_FFT; val t = it % N_FFT; Math.sin(2 * Math.PI * ((k * t) % N_FFT) / N_FFT) }

    class Spectrum(val magnitude: FloatArray, val phase: FloatArray, val frames: Int)

    /** Magnitude and phase [N_FREQ, N / hop + 1] of a 1-D signal (TorchSTFT.transform, reflect padding). */
    fun stft(x: FloatArray): Spectrum {
        val n = x.size
        require(n > PAD) { "reflect padding needs more than $PAD samples, got $n" }
        val frames = n / HOP + 1
        val mag = FloatArray(N_FREQ * frames)
        val pha = FloatArray(N_FREQ * frames)
        val seg = FloatArray(N_FFT)
        for (f in 0 until frames) {
            for (t in 0 until N_FFT) {
                var idx = f * HOP + t - PAD
                if (idx < 0) idx = -idx else if (idx >= n) idx = 2 * (n - 1) - idx
                seg[t] = x[idx] * window[t]
            }
            for (k in 0 until N_FREQ) {
                var re = 0.0
                var im = 0.0
                val base = k * N_FFT
                for (t in 0 until N_FFT) {
                    re += seg[t] * cosTable[base + t]
                    im -= seg[t] * sinTable[base + t]
                }
                // A real FFT leaves Im of DC and Nyquist at +0, so a negative real bin gets phase +pi.
                if (k == 0 || k == N_FREQ - 1) im = 0.0
                // Magnitude and angle of the double DFT, rounded once (as dsp/stft.py).
                mag[k * frames + f] = Math.hypot(re, im).toFloat()
                pha[k * frames + f] = Math.atan2(im, re).toFloat()
            }
        }
        return Spectrum(mag, pha, frames)
    }

    /**
     * Inverse of `stft` from magnitude and phase [N_FREQ, frames] (row-major, `stride` values per row,
     * the first `frames` used): hop * (frames - 1) samples (TorchSTFT.inverse, torch.istft).
     */
    fun istft(magnitude: FloatArray, phase: FloatArray, frames: Int, stride: Int = frames): FloatArray {
        require(frames >= 2) { "istft needs at least 2 frames, got $frames" }
        require(magnitude.size >= N_FREQ * stride && phase.size >= N_FREQ * stride) { "magnitude and phase must both be [$N_FREQ, $stride]" }
        val re = DoubleArray(N_FREQ)
        val im = DoubleArray(N_FREQ)
        val blocks = FloatArray(frames * N_FFT) // windowed inverse frames [frames, n_fft]
        for (f in 0 until frames) {
            for (k in 0 until N_FREQ) {
                val m = magnitude[k * stride + f]
                val p = phase[k * stride + f]
                re[k] = (m * Math.cos(p.toDouble()).toFloat()).toDouble()
                im[k] = (m * Math.sin(p.toDouble()).toFloat()).toDouble()
            }
            // c2r inverse with 1/n_fft like torch.istft (Im of the DC and Nyquist bins ignored).
            for (t in 0 until N_FFT) {
                var s = re[0] + re[N_FREQ - 1] * (if (t % 2 == 0) 1.0 else -1.0)
                for (k in 1 until N_FREQ - 1) s += 2.0 * (re[k] * cosTable[k * N_FFT + t] - im[k] * sinTable[k * N_FFT + t])
                blocks[f * N_FFT + t] = (s / N_FFT).toFloat() * window[t]
            }
        }
        // Overlap-add in hop-sized blocks as the Python twin does it (`out[j : j + F] += blocks[:, j]`
        // for j = 0..3): the float32 sums happen in the same order.
        val out = FloatArray((frames + OVERLAP - 1) * HOP)
        for (j in 0 until OVERLAP) for (f in 0 until frames) for (r in 0 until HOP) out[(f + j) * HOP + r] += blocks[f * N_FFT + j * HOP + r]
        val env = envelope(frames)
        val y = FloatArray(HOP * (frames - 1))
        for (i in y.indices) y[i] = out[i + PAD] / env[i]
        return y
    }

    private val envelopes = object : LinkedHashMap<Int, FloatArray>(16, 0.75f, true) {
        override fun removeEldestEntry(eldest: MutableMap.MutableEntry<Int, FloatArray>?) = size > 16
    }

    /** Overlap-added squared window over `frames` frames, with the center padding trimmed. */
    fun envelope(frames: Int): FloatArray = synchronized(envelopes) {
        envelopes.getOrPut(frames) {
            val env = FloatArray((frames + OVERLAP - 1) * HOP)
            for (j in 0 until OVERLAP) for (f in 0 until frames) for (r in 0 until HOP) {
                val w = window[j * HOP + r]
                env[(j + f) * HOP + r] += w * w
            }
            val trimmed = env.copyOfRange(PAD, env.size - PAD)
            require(trimmed.min()!! >= 1e-11f) { "window overlap-add is ~0 somewhere: the STFT parameters are not invertible" }
            trimmed
        }
    }
}
