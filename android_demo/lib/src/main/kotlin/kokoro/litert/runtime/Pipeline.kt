package kokoro.litert.runtime

import kokoro.litert.buckets.Buckets
import kokoro.litert.buckets.F0_PER_FRAME
import kokoro.litert.buckets.Ladder
import kokoro.litert.buckets.stftFrames
import kokoro.litert.buckets.vocoderSignature
import kokoro.litert.dsp.Align
import kokoro.litert.dsp.Noise
import kokoro.litert.dsp.SineSource
import kokoro.litert.dsp.Stft

/**
 * The host pipeline between the three stages (twin of `runtime/pipeline.py`, same steps in the same
 * order; see its docstring):
 *
 *     predictor  tokens_T            ids, style, token mask -> durations, d, t_en
 *     host                           round(durations / speed) >= 1 -> alignment [T, L], frame mask
 *     prosody    tokens_T_frames_L   -> asr, f0, n
 *     host                           sine source(f0; seeded) -> STFT -> har
 *     vocoder    frames_F            (the fewest frames that hold the utterance) -> magnitude, phase
 *     host                           iSTFT -> audio, n_frames * 600 samples
 */
class Excitation(
    /** [9] initial harmonic phases in [0, 1). */
    val randIni: FloatArray,
    /** [n_frames * 600 * 9] standard normal, row-major [samples, 9]. */
    val noise: FloatArray
) {
    companion object {
        /** What `synthesize` draws for `seed` (dsp/noise.py: the same on every host). */
        fun fromSeed(seed: Long, nFrames: Int): Excitation {
            val (r, n) = Noise.excitationNoise(seed, nFrames * Buckets.SAMPLES_PER_FRAME, SineSource.N_HARMONICS)
            return Excitation(r, n)
        }
    }
}

/** The learned 9 -> 1 merge of the harmonic sines (Generator.m_source.l_linear), from the manifest. */
class SineMerge(val weight: FloatArray, val bias: Float)

/** One stage call as recorded in a trace: (signature, inputs, outputs). */
class StageCall(val signature: String, val inputs: Map<String, Tensor>, val outputs: Map<String, Tensor>)

object Pipeline {
    /**
     * ids: phoneme token ids WITHOUT the boundary pads; style: the voice row [256] for this length.
     * durations: impose integer frames per token (pads included) instead of the predicted ones.
     * trace: if given, every stage call ("predictor", "prosody", "vocoder": StageCall) and host result
     * ("durations": IntArray, "har_source", "audio": FloatArray) is stored in it.
     * Throws NoBucketError when the tokens or the predicted frames overflow the largest bucket.
     */
    fun synthesize(run: StageRunner, ladder: Ladder, source: SineMerge, ids: IntArray, style: FloatArray,
                   speed: Double = 1.0, seed: Long = 0, excitation: Excitation? = null,
                   durations: IntArray? = null, trace: MutableMap<String, Any>? = null): Synthesis {
        require(style.size == Buckets.STYLE_DIM) { "style must have ${Buckets.STYLE_DIM} values" }
        val tokens = IntArray(ids.size + 2).also { System.arraycopy(ids, 0, it, 1, ids.size) } // PAD_TOKEN = 0 at both ends
        val nTokens = tokens.size
        val styleT = Tensor.f32(intArrayOf(1, Buckets.STYLE_DIM), style)

        val first = ladder.pick(nTokens)
        val inputIds = IntArray(first.tokens).also { System.arraycopy(tokens, 0, it, 0, nTokens) }
        val tokenMask = FloatArray(first.tokens) { if (it < nTokens) 1f else 0f }
        var feed = mapOf("input_ids" to Tensor.i32(intArrayOf(1, first.tokens), inputIds), "style" to styleT,
                         "token_mask" to Tensor.f32(intArrayOf(1, first.tokens), tokenMask))
        val pred = run.run("predictor", first.predictorSignature, feed)
        trace?.put("predictor", StageCall(first.predictorSignature, feed, pred))
        val raw = pred.getValue("durations").floats.copyOfRange(0, nTokens)
        val predDur = if (durations == null) Align.roundDurations(raw, speed) else {
            require(durations.size == nTokens && durations.all { it >= 1 }) {
                "durations must be $nTokens positive integers (boundary pads included), got ${durations.size}"
            }
            durations.copyOf()
        }
        val nFrames = predDur.sum()
        trace?.put("durations", predDur)

        val bucket = ladder.pick(nTokens, nFrames)
        val alignment = Align.alignmentMatrix(predDur, bucket.tokens, bucket.frames)
        val frameMask = FloatArray(bucket.frames) { if (it < nFrames) 1f else 0f }
        feed = mapOf("d" to fitAxis(pred.getValue("d"), 1, bucket.tokens), // [1, T, 640]; padded tokens have no frames
                     "t_en" to fitAxis(pred.getValue("t_en"), 2, bucket.tokens), // [1, 512, T]
                     "alignment" to Tensor.f32(intArrayOf(1, bucket.tokens, bucket.frames), alignment),
                     "style" to styleT, "frame_mask" to Tensor.f32(intArrayOf(1, bucket.frames), frameMask))
        val pros = run.run("prosody", bucket.prosodySignature, feed)
        trace?.put("prosody", StageCall(bucket.prosodySignature, feed, pros))

        // Harmonic source on the real F0 only, STFT'd at the real length (upstream's har has exactly
        // 120 n + 1 frames; the vocoder sees zeros past them).
        val f0 = pros.getValue("f0").floats.copyOfRange(0, F0_PER_FRAME * nFrames)
        val exc = excitation ?: Excitation.fromSeed(seed, nFrames)
        val harSource = SineSource.sineSource(f0, source.weight, source.bias, exc.randIni, exc.noise)
        val spec = Stft.stft(harSource) // [11, 120 n + 1] each
        trace?.put("har_source", harSource)
        val nStft = spec.frames
        // The vocoder runs at the fewest frames that hold the utterance; prosody's outputs are zero
        // past the real length, so cutting them drops padding only.
        val frames = ladder.pickFrames(nFrames)
        val width = stftFrames(frames)
        val har = FloatArray(2 * Buckets.N_FREQ * width)
        for (k in 0 until Buckets.N_FREQ) {
            System.arraycopy(spec.magnitude, k * nStft, har, k * width, nStft)
            System.arraycopy(spec.phase, k * nStft, har, (Buckets.N_FREQ + k) * width, nStft)
        }
        val f0Len = F0_PER_FRAME * frames
        feed = mapOf("asr" to fitAxis(pros.getValue("asr"), 2, frames), "f0" to fitAxis(pros.getValue("f0"), 1, f0Len),
                     "n" to fitAxis(pros.getValue("n"), 1, f0Len), "style" to styleT,
                     "har" to Tensor.f32(intArrayOf(1, 2 * Buckets.N_FREQ, width), har),
                     "frame_mask" to fitAxis(Tensor.f32(intArrayOf(1, bucket.frames), frameMask), 1, frames))
        val voc = run.run("vocoder", vocoderSignature(frames), feed)
        trace?.put("vocoder", StageCall(vocoderSignature(frames), feed, voc))
        val audio = Stft.istft(voc.getValue("magnitude").floats, voc.getValue("phase").floats, nStft, width)
        trace?.put("audio", audio)
        val s = speed.toFloat()
        return Synthesis(audio, predDur, FloatArray(raw.size) { raw[it] / s },
                         mapOf("predictor" to first.predictorSignature, "prosody" to bucket.prosodySignature,
                               "vocoder" to vocoderSignature(frames)))
    }

    /** x cut or zero-padded to `size` along `axis` (pipeline.py `_pad_axis` / `_fit_axis`). */
    fun fitAxis(x: Tensor, axis: Int, size: Int): Tensor {
        val shape = x.shape
        val outer = (0 until axis).fold(1) { a, d -> a * shape[d] }
        val inner = (axis + 1 until shape.size).fold(1) { a, d -> a * shape[d] }
        val old = shape[axis]
        if (old == size) return x
        val newShape = shape.copyOf().also { it[axis] = size }
        val src = x.floats
        val dst = FloatArray(outer * size * inner)
        val keep = Math.min(old, size) * inner
        for (o in 0 until outer) System.arraycopy(src, o * old * inner, dst, o * size * inner, keep)
        return Tensor.f32(newShape, dst)
    }
}
