package kokoro.litert.runtime

import kokoro.litert.buckets.Buckets
import kokoro.litert.buckets.VOICE_BYTES
import java.io.File
import java.io.RandomAccessFile
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Voice packs (twin of `runtime/voices.py`, the formats a bundle folder carries): a pack is a
 * [510, 256] float32 table, row n-1 the style for an utterance of n phonemes. `BundleVoices` reads
 * voices.bin ([n_voices, 510, 256] little-endian float32, names from the manifest); `loadVoice`
 * takes a name, a raw .bin voice file, or a blend 'af_heart:0.7,bf_emma:0.3'.
 */
interface VoiceLibrary {
    val where: String
    fun names(): List<String>
    /** The [510 * 256] pack, or null when the library has no such voice. */
    fun pack(name: String): FloatArray?
}

private fun checkPack(values: FloatArray, origin: String): FloatArray {
    if (values.size != Buckets.VOICE_ROWS * Buckets.STYLE_DIM) throw KokoroError(
        "$origin is not a Kokoro voice pack (${values.size} values, expected 510 x 1 x 256).",
        "Use a voice the bundle folder lists (speak --list-voices)."
    )
    if (!values.all { it.isFinite() }) throw KokoroError("$origin contains NaN or infinite values.", "The file is corrupt: fetch it again.")
    return values
}

private fun readFloats(bytes: ByteArray): FloatArray {
    val fb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
    return FloatArray(fb.remaining()).also { fb.get(it) }
}

/** A raw voice file: 510 x 1 x 256 little-endian float32 (kokoro-js, the fetch cache). */
fun readVoiceFile(file: File): FloatArray {
    if (!file.isFile) throw KokoroError("Voice file $file does not exist.", "Check the path, or pick a name from speak --list-voices.")
    if (file.length() != VOICE_BYTES.toLong()) throw KokoroError(
        "$file has ${file.length()} bytes; a raw voice pack has $VOICE_BYTES.", "Use a kokoro-js .bin voice."
    )
    return checkPack(readFloats(file.readBytes()), file.toString())
}

class BundleVoices(val file: File, names: List<String>) : VoiceLibrary {
    private val order = names.toList()
    override val where = file.toString()

    init {
        val size = if (file.isFile) file.length() else -1L
        if (size != order.size.toLong() * VOICE_BYTES) throw KokoroError(
            "$file has ${if (size >= 0) size.toString() else "no"} bytes; its manifest lists ${order.size} voices of $VOICE_BYTES bytes each.",
            "Copy the whole bundle folder again, or convert it again with `kokoro-litert convert`."
        )
    }

    override fun names() = order.sorted()

    override fun pack(name: String): FloatArray? {
        val index = order.indexOf(name)
        if (index < 0) return null
        val bytes = ByteArray(VOICE_BYTES)
        RandomAccessFile(file, "r").use { it.seek(index.toLong() * VOICE_BYTES); it.readFully(bytes) }
        return checkPack(readFloats(bytes), "$file:$name")
    }
}

object Voices {
    private val BLEND_PART = Regex("""^\s*(?<name>[^:]+?)\s*(?::\s*(?<weight>[-+0-9.eE]+))?\s*$""")

    /** A voice by name, by .bin path, or a weighted blend; weights normalized to sum to 1 (float64, as Python). */
    fun loadVoice(spec: String, library: VoiceLibrary): FloatArray {
        val parts = spec.split(",")
        if (spec.isBlank() || parts.any { it.isBlank() }) throw KokoroError(
            "Voice '$spec' is empty or has an empty part.",
            "Name a voice (speak --list-voices) or a blend like af_heart:0.7,bf_emma:0.3."
        )
        val packs = ArrayList<FloatArray>()
        val weights = ArrayList<Double>()
        for (part in parts) {
            val m = BLEND_PART.matchEntire(part) ?: throw KokoroError("Voice part '$part' is malformed.", "Write blends as name:weight, e.g. af_heart:0.7,bf_emma:0.3.")
            val name = m.groups[1]!!.value
            val weight = m.groups[2]?.value?.toDoubleOrNull() ?: if (m.groups[2] == null) 1.0 else Double.NaN
            if (!weight.isFinite() || weight <= 0) throw KokoroError(
                "Voice weight $weight for '$name' must be positive.",
                "Write blends as name:weight with weights above 0, e.g. af_heart:0.7,bf_emma:0.3."
            )
            packs.add(resolveOne(name, library))
            weights.add(weight)
        }
        if (packs.size == 1) return packs[0]
        val total = weights.sum()
        val w = weights.map { it / total }
        return FloatArray(packs[0].size) { i -> var s = 0.0; for (j in packs.indices) s += w[j] * packs[j][i]; s.toFloat() }
    }

    private fun resolveOne(name: String, library: VoiceLibrary): FloatArray {
        val asPath = File(name)
        if (name.endsWith(".bin") && (asPath.isFile || "/" in name)) return readVoiceFile(asPath)
        library.pack(name)?.let { return it }
        val known = library.names()
        if (known.isEmpty()) throw KokoroError("No voices in ${library.where}.", "Convert the bundles again with `kokoro-litert convert`.")
        val tail = name.split("_").last()
        val close = known.filter { it.split("_").last() == tail || it.startsWith(name.take(2)) }.take(5)
        val hint = if (close.isNotEmpty()) " Did you mean ${close.joinToString(", ")}?" else ""
        throw KokoroError("Unknown voice '$name'.$hint", "List voices with `android_demo/speak --bundles DIR --list-voices`.")
    }

    /** The [256] style row upstream uses for an utterance of nPhonemes phonemes. */
    fun styleFor(pack: FloatArray, nPhonemes: Int): FloatArray {
        val row = Math.min(Math.max(nPhonemes, 1), Buckets.VOICE_ROWS) - 1
        return pack.copyOfRange(row * Buckets.STYLE_DIM, (row + 1) * Buckets.STYLE_DIM)
    }
}
