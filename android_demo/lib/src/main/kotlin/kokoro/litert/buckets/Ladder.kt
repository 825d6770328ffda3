package kokoro.litert.buckets

/**
 * The bucket ladder (twin of `buckets/ladder.py`): the fixed (tokens, frames) shapes the bundles
 * were converted at, and the vocoder's own finer list of frame sizes. The ladder itself comes from
 * the bundle's manifest; see the Python module for how the default one was chosen.
 */
val STFT_FRAMES_PER_FRAME = Buckets.SAMPLES_PER_FRAME / Buckets.ISTFT_HOP // 600 / 5 = 120
const val F0_PER_FRAME = 2 // prosody emits F0 and N at twice the frame rate

class NoBucketError(message: String) : IllegalArgumentException(message)

/** One fixed shape of the three bundles. */
data class Bucket(
    /** T: token slots (phonemes + the 2 boundary pad tokens). */
    val tokens: Int,
    /** L: alignment frames of prosody and the vocoder. */
    val frames: Int
) : Comparable<Bucket> {
    val predictorSignature get() = "tokens_$tokens"
    val prosodySignature get() = "tokens_${tokens}_frames_$frames"
    val f0Length get() = F0_PER_FRAME * frames
    val stftFrames get() = STFT_FRAMES_PER_FRAME * frames + 1
    val samples get() = Buckets.SAMPLES_PER_FRAME * frames
    val seconds get() = frames * Buckets.FRAME_SECONDS
    override fun compareTo(other: Bucket) = compareValuesBy(this, other, { it.tokens }, { it.frames })
}

/** Every fixed shape a bundle folder is converted at. */
class Ladder(buckets: List<Bucket>, vocoderFrames: List<Int>) {
    val buckets: List<Bucket> = buckets.toSortedSet().toList()
    val vocoderFrames: List<Int> = vocoderFrames.toSortedSet().toList()

    init {
        require(this.buckets.isNotEmpty() && this.vocoderFrames.isNotEmpty()) {
            "a ladder needs at least one bucket and one vocoder frame size"
        }
        val most = this.buckets.map { it.frames }.max()!!
        require(this.vocoderFrames.last() >= most) {
            "the largest vocoder frame size (${this.vocoderFrames.last()}) must hold the largest bucket's $most frames"
        }
    }

    val tokenSizes: List<Int> get() = buckets.map { it.tokens }.toSortedSet().toList()
    val maxPhonemes: Int get() = tokenSizes.last() - 2 // two boundary pad tokens

    /** The smallest bucket with at least nTokens token slots and nFrames frames. */
    fun pick(nTokens: Int, nFrames: Int = 0): Bucket {
        require(nTokens >= 1 && nFrames >= 0) { "need n_tokens >= 1 and n_frames >= 0, got $nTokens, $nFrames" }
        for (b in buckets) if (b.tokens >= nTokens && b.frames >= nFrames) return b
        val largest = buckets.max()!!
        throw NoBucketError(
            "$nTokens tokens / $nFrames frames (${"%.2f".format(nFrames * Buckets.FRAME_SECONDS)} s) do not fit in the " +
                "largest bucket (${largest.tokens} tokens, ${largest.frames} frames = ${"%.1f".format(largest.seconds)} s): " +
                "split the text into shorter sentences, raise the speed, or convert the bundles with a larger ladder."
        )
    }

    /** The fewest vocoder frames >= nFrames. */
    fun pickFrames(nFrames: Int): Int {
        for (f in vocoderFrames) if (f >= nFrames) return f
        return pick(1, nFrames).frames // raises NoBucketError with the advice
    }
}

fun vocoderSignature(frames: Int) = "frames_$frames"

fun stftFrames(frames: Int) = STFT_FRAMES_PER_FRAME * frames + 1
