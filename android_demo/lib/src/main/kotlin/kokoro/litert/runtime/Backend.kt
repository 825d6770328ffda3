package kokoro.litert.runtime

/** The synthesis backend contract (twin of `runtime/backend.py`). */
class ChunkTooLong(message: String) : Exception(message)

/** One chunk's audio and the durations that timed it. */
class Synthesis(
    /** [n_frames * 600] float32 at 24 kHz. */
    val audio: FloatArray,
    /** [tokens] frames per token, boundary pad tokens included (upstream's pred_dur). */
    val durations: IntArray,
    /** [tokens] frames per token before rounding (after the speed division). */
    val durationsRaw: FloatArray,
    /** stage -> the signature it ran at, e.g. {"vocoder": "frames_96"}. */
    val shapes: Map<String, String>
)

interface Backend {
    val maxPhonemes: Int
    /** Raises ChunkTooLong when the chunk's predicted frames overflow the largest bucket. */
    fun synthesize(phonemes: String, voicePack: FloatArray, speed: Double = 1.0, seed: Long = 0): Synthesis
}
