package kokoro.litert.runtime

import kokoro.litert.buckets.Ladder
import kokoro.litert.buckets.GpuParts
import kokoro.litert.buckets.Manifest
import java.io.File
import java.nio.file.Files
import java.nio.file.attribute.PosixFilePermissions

/**
 * LiteRT's GPU accelerator for a stage (twin of `runtime/gpu.py`): the accelerator choices, the
 * environment it needs, what it logs, and the ladder a GPU stage runs at. The graph surgery of the
 * Python module (`extract_signature`, `split_head`) is not ported: the JVM and Android runners take
 * the GPU variant a folder carries (manifest `gpu`, written by `kokoro-litert export --gpu`).
 */
val ACCELERATORS = listOf("cpu", "gpu")

/** The stages each accelerator choice runs on the GPU: "gpu" puts the vocoder there (gpu.py GPU_STAGES). */
val GPU_STAGES = mapOf("cpu" to emptySet(), "gpu" to setOf("vocoder"))

/** Mesa's software Vulkan driver (lavapipe; tests/gpu/setup.sh installs it). */
val LAVAPIPE_ICD = File("/usr/share/vulkan/icd.d/lvp_icd.json")

/** What LiteRT's GPU accelerator logs while it creates a model, besides the CPU's start-up lines (gpu.py GPU_LOG_NOISE). */
const val GPU_LOG_NOISE = "|^Warning: |^WARNING: Logging before|^[IWE]\\d{4} |^INFO: |" +
    "^ERROR: Following operations|^[A-Z][A-Z0-9_]*: .*\\.( \\S+)?$|operations will run on the GPU|" +
    "^\\s+at |^ERROR: \\[delegate_webgpu|^=== Source Location Trace|^(third_party|litert)/|^\\./"

/** The delegate logs this once per partition it takes: a GPU model without it runs nothing on a GPU. */
const val GPU_PARTITION_LINE = "Initializing WebGPU-based API from graph"

/** Why a folder's GPU stage falls back to the CPU when the folder carries no GPU variant of it. */
fun noGpuVariant(folder: File, stage: String) =
    "the bundle folder has no GPU $stage (`kokoro-litert export --gpu --bundles $folder --out DIR` makes a folder with one)"

/**
 * The files of a stage's signature in the folder's GPU variant; null when the folder carries no GPU
 * variant of the stage (the caller falls back to the CPU). A signature the variant lacks is the
 * caller's error: the pipeline runs at the variant's sizes (`ladderFor`).
 */
fun gpuParts(manifest: Manifest, folder: File, stage: String, signature: String): GpuParts? {
    val variant = manifest.gpu[stage]
    if (variant.isNullOrEmpty()) return null
    return variant[signature] ?: throw KokoroError(
        "$folder has no GPU $stage at $signature (its GPU sizes are ${variant.keys.sorted().joinToString(", ")}).",
        "Run the pipeline at the GPU variant's sizes (LiteRTBackend(bundle, runner, \"gpu\")), or export the folder again with `kokoro-litert export --gpu`.")
}

fun checkAccelerator(accelerator: String) {
    if (accelerator !in ACCELERATORS) throw KokoroError("Unknown accelerator '$accelerator'.", "Choose one of: ${ACCELERATORS.joinToString(", ")}.")
}

/**
 * The ladder the pipeline runs at (litert.py `LiteRTBackend.ladder`): with the vocoder to run on the
 * GPU and a folder that has a GPU variant of it, that variant's sizes (a larger size than the fewest
 * frames is exact: the vocoder masks padded frames), on the CPU too if no GPU can be created, so
 * both hosts give the same audio whatever happens to the GPU.
 */
fun ladderFor(manifest: Manifest, accelerator: String): Ladder =
    (if ("vocoder" in GPU_STAGES.getValue(accelerator)) manifest.gpuLadder("vocoder") else null) ?: manifest.ladder

/**
 * gpu.py `prepare_gpu_environment`: what to set, where unset, in the process environment before
 * LiteRT's GPU accelerator (WebGPU: Dawn over Vulkan) creates its first GPU.
 *
 * - XDG_RUNTIME_DIR: a private folder in the temporary directory (Dawn warns without one);
 * - VK_ICD_FILENAMES: Mesa's software driver when the machine has no GPU device node
 *   (/dev/dri/renderD*) and none is chosen (VK_ICD_FILENAMES, VK_DRIVER_FILES).
 *
 * `getenv` reads the live environment (the JVM's System.getenv is a copy taken at start-up).
 */
fun gpuEnvironment(getenv: (String) -> String?, tmp: File, uid: Long): Map<String, String> {
    val changed = LinkedHashMap<String, String>()
    if (getenv("XDG_RUNTIME_DIR").isNullOrEmpty()) {
        val folder = File(tmp, "kokoro-litert-runtime-$uid")
        try {
            Files.createDirectory(folder.toPath(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")))
        } catch (e: java.io.IOException) { // already there (as Python's exist_ok), or not writable
        } catch (e: UnsupportedOperationException) { // no POSIX permissions here
        }
        if (folder.isDirectory) changed["XDG_RUNTIME_DIR"] = folder.path
    }
    val hardware = File("/dev/dri").listFiles()?.any { it.name.startsWith("renderD") } ?: false
    if (getenv("VK_ICD_FILENAMES").isNullOrEmpty() && getenv("VK_DRIVER_FILES").isNullOrEmpty() && !hardware && LAVAPIPE_ICD.isFile) {
        changed["VK_ICD_FILENAMES"] = LAVAPIPE_ICD.path
    }
    return changed
}
