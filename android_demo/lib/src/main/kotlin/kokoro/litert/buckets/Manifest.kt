package kokoro.litert.buckets

import kokoro.litert.util.Json
import kokoro.litert.util.arr
import kokoro.litert.util.int
import kokoro.litert.util.num
import kokoro.litert.util.obj
import kokoro.litert.util.req
import kokoro.litert.util.str
import java.io.File

/**
 * The bundle manifest (twin of `buckets/manifest.py`, format "kokoro-litert-bundles" v2): per
 * precision the stage files, the ladder, per stage and signature the exact I/O names, shapes and
 * dtypes, the DSP constants, the sine source's learned merge, the vocab and the voice names (in
 * the order of voices.bin), and optionally a stage's GPU variant (`gpu`). Read back and validated in
 * one place, failing in one line.
 */
const val FORMAT = "kokoro-litert-bundles"
const val FORMAT_VERSION = 2
val STAGES = listOf("predictor", "prosody", "vocoder")
const val VOICES_FILE = "voices.bin"
val VOICE_BYTES = Buckets.VOICE_ROWS * Buckets.STYLE_DIM * 4 // 522,240 per voice

class ManifestError(message: String) : IllegalArgumentException(message)

data class TensorSpec(val shape: IntArray, val dtype: String) {
    val size: Int get() = shape.fold(1) { a, b -> a * b }
    override fun equals(other: Any?) = other is TensorSpec && other.shape.contentEquals(shape) && other.dtype == dtype
    override fun hashCode() = shape.contentHashCode() * 31 + dtype.hashCode()
    override fun toString() = "${shape.toList()} $dtype"
}

data class SignatureSpec(val name: String, val inputs: Map<String, TensorSpec>, val outputs: Map<String, TensorSpec>)

/**
 * One signature of a stage's GPU variant (`kokoro-litert export --gpu`): two .tflite files holding
 * that signature alone. The body takes the signature's inputs and outputs `head_input_<i>`; the
 * head (computed in float32 on the GPU) takes those and gives the signature's outputs.
 */
data class GpuParts(val body: String, val head: String)

class Manifest(
    val converterVersion: String,
    val checkpointSha256: String,
    /** precision -> stage -> file name relative to the manifest. */
    val precisions: Map<String, Map<String, String>>,
    val defaultPrecision: String,
    /** file name -> sha256 of every file the manifest names. */
    val sha256: Map<String, String>,
    val buckets: List<Bucket>,
    val vocoderFrames: List<Int>,
    /** stage -> signature name -> I/O spec. */
    val signatures: Map<String, Map<String, SignatureSpec>>,
    /** DSP constants the bundles assume. */
    val dsp: Map<String, Double>,
    /** Generator.m_source.l_linear.weight [1, 9] flattened. */
    val sineSourceWeight: FloatArray,
    val sineSourceBias: Float,
    /** Phoneme symbol -> token id. Symbols are single UTF-16 chars in Kokoro's vocab. */
    val vocab: Map<String, Int>,
    /** Voice names in the order of voices.bin. */
    val voices: List<String>,
    val versions: Map<String, String>,
    /** Accent ("a", "b") -> the portable lexicon file in the folder; an exported folder may list none or one. */
    val lexicons: Map<String, String> = emptyMap(),
    /** stage -> signature -> its GPU variant's files; empty without one (manifest.py `gpu`). */
    val gpu: Map<String, Map<String, GpuParts>> = emptyMap()
) {
    val ladder: Ladder get() = Ladder(buckets, vocoderFrames)

    /** The ladder with the vocoder at the sizes of its GPU variant; null without one (manifest.py `gpu_ladder`). */
    fun gpuLadder(stage: String = "vocoder"): Ladder? {
        val sizes = gpu[stage]?.keys?.map { it.substringAfterLast('_').toInt() } ?: return null
        return if (sizes.isEmpty()) null else Ladder(buckets, sizes)
    }

    fun filesFor(precision: String): Map<String, String> = precisions[precision] ?: throw ManifestError(
        "these bundles have no '$precision' precision (they have ${precisions.keys.sorted().joinToString(", ")}): " +
            "pick one of those, or convert them again with this version of kokoro-litert"
    )

    fun signature(stage: String, name: String): SignatureSpec = signatures[stage]?.get(name) ?: throw ManifestError(
        "the $stage stage has no signature '$name' (it has ${signatures[stage]?.keys?.joinToString(", ")})"
    )

    companion object {
        fun fromJson(raw: Map<String, Any?>): Manifest {
            if (raw["format"] != FORMAT) throw ManifestError("not a $FORMAT manifest (format=${raw["format"]})")
            if ((raw["format_version"] as? Number)?.toInt() != FORMAT_VERSION) throw ManifestError(
                "manifest format version ${raw["format_version"]} is not $FORMAT_VERSION: " +
                    "convert the bundles again with this version of kokoro-litert"
            )

            fun tensors(m: Map<String, Any?>) = m.mapValues { (k, v) ->
                val t = v.obj(k)
                TensorSpec(t.req("shape").arr("shape").map { it.int("shape") }.toIntArray(), t.req("dtype").str("dtype"))
            }

            val sigs = raw.req("signatures").obj("signatures")
            val signatures = STAGES.associateWith { stage ->
                sigs.req(stage).obj(stage).mapValues { (name, d) ->
                    val o = d.obj(name)
                    SignatureSpec(name, tensors(o.req("inputs").obj("inputs")), tensors(o.req("outputs").obj("outputs")))
                }
            }
            val precisions = raw.req("precisions").obj("precisions").mapValues { (p, files) ->
                val f = files.obj(p)
                STAGES.associateWith { f.req(it).str(it) }
            }
            val m = Manifest(
                converterVersion = raw.req("converter_version").str("converter_version"),
                checkpointSha256 = raw.req("checkpoint_sha256").str("checkpoint_sha256"),
                precisions = precisions,
                defaultPrecision = raw.req("default_precision").str("default_precision"),
                sha256 = raw.req("sha256").obj("sha256").mapValues { (k, v) -> v.str(k) },
                buckets = raw.req("buckets").arr("buckets").map {
                    val b = it.obj("bucket")
                    Bucket(b.req("tokens").int("tokens"), b.req("frames").int("frames"))
                },
                vocoderFrames = raw.req("vocoder_frames").arr("vocoder_frames").map { it.int("vocoder_frames") },
                signatures = signatures,
                dsp = raw.req("dsp").obj("dsp").mapValues { (k, v) -> v.num(k) },
                sineSourceWeight = raw.req("sine_source_weight").arr("sine_source_weight").map { it.num().toFloat() }.toFloatArray(),
                sineSourceBias = raw.req("sine_source_bias").num("sine_source_bias").toFloat(),
                vocab = raw.req("vocab").obj("vocab").mapValues { (k, v) -> v.int(k) },
                voices = raw.req("voices").arr("voices").map { it.str("voice") },
                versions = (raw["versions"] as? Map<*, *>)?.entries?.associate { it.key.toString() to it.value.toString() } ?: emptyMap(),
                lexicons = (raw["lexicons"] as? Map<*, *>)?.entries?.associate { it.key.toString() to it.value.str("lexicons") } ?: emptyMap(),
                gpu = (raw["gpu"] ?: emptyMap<String, Any?>()).obj("gpu").mapValues { (stage, sigs) ->
                    sigs.obj(stage).mapValues { (sig, parts) ->
                        val p = parts.obj(sig)
                        GpuParts(p.req("body").str("body"), p.req("head").str("head"))
                    }
                }
            )
            if (m.defaultPrecision !in m.precisions) throw ManifestError("default_precision '${m.defaultPrecision}' is not one of the precisions")
            val missing = m.buckets.flatMap { b ->
                listOf("predictor" to b.predictorSignature, "prosody" to b.prosodySignature)
                    .filter { (stage, sig) -> sig !in m.signatures.getValue(stage) }.map { (stage, sig) -> "$stage/$sig" }
            } + m.vocoderFrames.filter { vocoderSignature(it) !in m.signatures.getValue("vocoder") }.map { "vocoder/${vocoderSignature(it)}" } +
                m.gpu.flatMap { (stage, sigs) -> sigs.keys.filter { it !in (m.signatures[stage] ?: emptyMap()) }.map { "$stage/$it (gpu)" } }
            if (missing.isNotEmpty()) throw ManifestError("the ladder names signatures the manifest does not describe: ${missing.joinToString(", ")}")
            m.checkDsp()
            m.ladder // validates the ladder itself
            m.gpuLadder() // and the GPU vocoder's sizes (they must hold the largest bucket)
            return m
        }

        fun load(path: File): Manifest {
            val file = if (path.isDirectory) File(path, "manifest.json") else path
            if (!file.isFile) throw ManifestError("no manifest at $file: this is not a bundle folder (run `kokoro-litert convert`)")
            val raw = try {
                Json.parse(file.readText(Charsets.UTF_8))
            } catch (e: Json.JsonError) {
                throw ManifestError("$file is not valid JSON (${e.message}): convert the bundles again")
            }
            try {
                return fromJson(raw.obj("manifest"))
            } catch (e: ManifestError) {
                throw e
            } catch (e: Json.JsonError) {
                throw ManifestError("$file is missing or has a malformed field (${e.message}): convert the bundles again")
            } catch (e: IllegalArgumentException) {
                throw ManifestError("$file is missing or has a malformed field (${e.message}): convert the bundles again")
            }
        }
    }

    /** The host constants this library is compiled with must be the ones the bundles were built for. */
    private fun checkDsp() {
        val expected = mapOf(
            "sample_rate" to Buckets.SAMPLE_RATE.toDouble(), "samples_per_frame" to Buckets.SAMPLES_PER_FRAME.toDouble(),
            "n_fft" to Buckets.ISTFT_N_FFT.toDouble(), "hop" to Buckets.ISTFT_HOP.toDouble(),
            "n_freq" to Buckets.N_FREQ.toDouble(), "f0_upsample" to Buckets.F0_UPSAMPLE.toDouble(),
            "harmonic_num" to Buckets.HARMONIC_NUM.toDouble()
        )
        for ((k, v) in expected) {
            val got = dsp[k] ?: continue
            if (got != v) throw ManifestError("the bundles were built for $k=$got, this host computes $k=$v: use a matching kokoro-litert")
        }
        if (sineSourceWeight.size != Buckets.HARMONIC_NUM + 1) throw ManifestError("sine_source_weight has ${sineSourceWeight.size} values, expected ${Buckets.HARMONIC_NUM + 1}")
    }
}
