package kokoro.litert.runtime

import kokoro.litert.buckets.Manifest
import kokoro.litert.buckets.ManifestError
import kokoro.litert.buckets.STAGES
import kokoro.litert.buckets.VOICES_FILE
import java.io.File
import java.io.RandomAccessFile

/**
 * A bundle folder, checked at load time (twin of `runtime/bundle.py`): manifest, stage files,
 * voices. Fails in one line with a remedy before any synthesis. Each file is checked to be a
 * FlatBuffer with the TFLite identifier; its signatures are checked against the manifest when the
 * runner loads it (`LiteRtCRunner` / `AndroidStageRunner`).
 */
const val BUNDLE_REMEDY = "Copy the whole bundle folder again, convert it again with `kokoro-litert convert`, " +
    "or pass --bundles a complete bundle folder."

class Bundle(val folder: File, val manifest: Manifest, val voices: BundleVoices) {
    /** stage -> file name for a precision (default: the manifest's default precision). */
    fun files(precision: String? = null): Map<String, String> = try {
        manifest.filesFor(precision ?: manifest.defaultPrecision)
    } catch (e: ManifestError) {
        throw KokoroError("$folder: ${oneLine(e)}.", "Use --precision ${manifest.precisions.keys.sorted().joinToString(" or ")}.")
    }

    companion object {
        fun open(folder: File): Bundle {
            if (!folder.isDirectory) throw KokoroError("There is no bundle folder at $folder.", BUNDLE_REMEDY)
            val manifest = try {
                Manifest.load(folder)
            } catch (e: ManifestError) {
                throw KokoroError("The bundle manifest in $folder is unusable (${oneLine(e)}).", BUNDLE_REMEDY)
            }
            for (name in manifest.precisions.values.flatMap { it.values }.toSortedSet()) {
                val stages = STAGES.filter { s -> manifest.precisions.values.any { it[s] == name } }
                checkFile(File(folder, name), stages)
            }
            for ((stage, sigs) in manifest.gpu) for (parts in sigs.values) for (name in listOf(parts.body, parts.head)) {
                checkFile(File(folder, name), listOf("GPU $stage"))
            }
            return Bundle(folder, manifest, BundleVoices(File(folder, VOICES_FILE), manifest.voices))
        }

        private fun checkFile(file: File, stages: List<String>) {
            if (!file.isFile) throw KokoroError("$file is missing: manifest.json names it for the ${stages.joinToString("/")} stage.", BUNDLE_REMEDY)
            val head = ByteArray(8)
            val ok = try {
                RandomAccessFile(file, "r").use { it.readFully(head) }
                String(head, 4, 4, Charsets.US_ASCII) == "TFL3"
            } catch (e: java.io.IOException) {
                false
            }
            if (!ok) throw KokoroError("$file is not a readable .tflite (no TFL3 identifier).", BUNDLE_REMEDY)
        }

        /** An exception's message on one line, without ManifestError's own ": convert ..." advice. */
        fun oneLine(e: Throwable): String =
            (e.message ?: e.toString()).split(Regex("\\s+")).joinToString(" ")
                .replace(Regex(": (convert|run the converter|this is not)[^:]*$"), "").trimEnd('.')
    }
}
