package kokoro.litert

import kokoro.litert.buckets.Buckets
import kokoro.litert.dsp.Stft
import kokoro.litert.util.obj
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * dsp/Stft.kt against dsp/stft.py on a short signal (a tone in noise after 100 samples of silence).
 *
 * Tolerances: the window is the Python runtime's 20 values, so identical. The STFT: both hosts take
 * the DFT in double and round magnitude and angle once, pocketfft by its FFT and the JVM directly,
 * so a value may differ by an ulp; compared as the spectrum magnitude x e^(i phase), within 1e-6
 * absolute (phase alone is ill-defined where the magnitude is ~0). The iSTFT within 1e-6 absolute
 * (float32 values of magnitude ~0.35). Measured: printed in the report.
 */
class DspGoldenTest {
    private val d get() = Goldens.committed.index["dsp"].obj()

    @Test
    fun windowIsPythons() {
        assertArrayEquals(Goldens.committed.floats(d["window"]), Stft.window, 0f)
    }

    @Test
    fun stftAndIstftMatchPython() {
        val g = Goldens.committed
        val signal = g.floats(d["signal"])
        val spec = Stft.stft(signal)
        val mag = g.floats(d["magnitude"])
        val pha = g.floats(d["phase"])
        assertEquals(mag.size, spec.magnitude.size)
        var worstSpec = 0.0
        var worstMag = 0.0
        for (i in mag.indices) {
            worstMag = Math.max(worstMag, Math.abs(mag[i].toDouble() - spec.magnitude[i]))
            val re = mag[i] * Math.cos(pha[i].toDouble()) - spec.magnitude[i] * Math.cos(spec.phase[i].toDouble())
            val im = mag[i] * Math.sin(pha[i].toDouble()) - spec.magnitude[i] * Math.sin(spec.phase[i].toDouble())
            worstSpec = Math.max(worstSpec, Math.hypot(re, im))
        }
        val audio = Stft.istft(mag, pha, mag.size / Buckets.N_FREQ)
        val worstIstft = Compare.maxAbs(g.floats(d["istft"]), audio)
        Compare.report("dsp", "{\"stft_magnitude\": $worstMag, \"stft_spectrum\": $worstSpec, \"istft\": $worstIstft}")
        assertTrue("spectrum differs by $worstSpec", worstSpec <= 1e-6)
        assertTrue("istft differs by $worstIstft", worstIstft <= 1e-6)
    }
}
