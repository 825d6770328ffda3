package kokoro.litert.runtime.text

/**
 * What marked-up text is cut into before a front-end reads it (twin of `runtime/text/segments.py`;
 * `Markup.kt` makes them). A text is a list of segments in reading order.
 */
sealed class Segment

/** Text the language's front-end reads. source: the written text every word read from `text`
 * stands for in word timings; null: each word names its own. rate: times the call's speed. */
data class TextSegment(val text: String, val source: String? = null, val rate: Double = 1.0) : Segment()

/** A word (or words) spoken with the given phonemes (Kokoro's, already checked), not read by the front-end. */
data class Fixed(val text: String, val phonemes: String, val source: String? = null, val rate: Double = 1.0) : Segment()

/** A word read by the front-end with its stress moved (hexgrad/kokoro's `[word](-1)`, English only),
 * `stress` as `applyStress` takes it. */
data class Stressed(val text: String, val stress: Double, val rate: Double = 1.0) : Segment()

/** A place where the chunk ends: `seconds` of silence, or null: a sentence end with the usual pause. */
data class Pause(val seconds: Double?) : Segment()

/** Longest silence the markup inserts at one place, in seconds (longer asks are cut to it). */
const val MAX_PAUSE = 10.0
