package kokoro.litert.dsp

import kokoro.litert.buckets.Buckets

/**
 * Durations -> hard alignment (twin of `dsp/align.py`), as kokoro's KModel.forward_with_tokens:
 * round(sum of sigmoids / speed) clamped to >= 1, then a one-hot [tokens, frames] matrix laid out in
 * a fixed bucket, zero outside the real block.
 */
class FramesExceedBucketError(message: String) : IllegalArgumentException(message)

object Align {
    /**
     * Integer frames per token: `round(d / speed)`, at least 1. The division is float32 (a float32
     * tensor divided by a Python float divides by float32(speed)); rint rounds half to even like
     * np.round and torch.round.
     */
    fun roundDurations(duration: FloatArray, speed: Double = 1.0): IntArray {
        require(duration.all { it.isFinite() }) { "duration contains NaN or inf: check the duration bundle's inputs" }
        require(speed.isFinite() && speed > 0) { "speed must be a positive finite number, got $speed" }
        val s = speed.toFloat()
        return IntArray(duration.size) { i -> Math.max(Math.rint((duration[i] / s).toDouble()), 1.0).toInt() }
    }

    /** One-hot alignment [nTokens, nFrames] float32 (row-major) for integer durations, zero-padded. */
    fun alignmentMatrix(predDur: IntArray, nTokens: Int, nFrames: Int): FloatArray {
        require(predDur.all { it >= 0 }) { "pred_dur must be non-negative" }
        val total = predDur.sum()
        if (predDur.size > nTokens) throw FramesExceedBucketError(
            "${predDur.size} tokens do not fit in a bucket of $nTokens tokens: " +
                "use a larger token bucket or split the text into shorter chunks"
        )
        if (total > nFrames) throw FramesExceedBucketError(
            "the predicted durations need $total frames (${"%.2f".format(total * Buckets.FRAME_SECONDS)} s) but the " +
                "bucket holds $nFrames frames (${"%.2f".format(nFrames * Buckets.FRAME_SECONDS)} s): use a larger frame " +
                "bucket, raise the speed, or split the text into shorter chunks"
        )
        val m = FloatArray(nTokens * nFrames)
        var f = 0
        for (t in predDur.indices) for (k in 0 until predDur[t]) m[t * nFrames + f++] = 1f
        return m
    }
}
