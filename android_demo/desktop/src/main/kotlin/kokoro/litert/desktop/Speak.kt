package kokoro.litert.desktop

import kokoro.litert.buckets.Buckets
import kokoro.litert.runtime.Bundle
import kokoro.litert.runtime.Kokoro
import kokoro.litert.runtime.KokoroError
import kokoro.litert.runtime.LiteRTBackend
import kokoro.litert.runtime.Vocab
import kokoro.litert.runtime.Voices
import kokoro.litert.runtime.WavStream
import kokoro.litert.runtime.WeightCache
import kokoro.litert.runtime.checkAccelerator
import kokoro.litert.runtime.text.EspeakEngine
import kokoro.litert.runtime.text.Fallback
import kokoro.litert.runtime.text.FrontEnd
import kokoro.litert.runtime.text.Language
import kokoro.litert.runtime.text.Languages
import kokoro.litert.runtime.text.Lexicon
import kokoro.litert.util.Json
import java.io.File
import kotlin.system.exitProcess

/**
 * `android_demo/speak`: the JVM twin of `kokoro-litert say --bundles DIR`, over the same bundle
 * folder and the same host pipeline, on libLiteRt.so through JNA. Text is read in the voice's
 * language (its first letter) unless --lang names one (a code or a name: "e", "es"). Every user
 * error is a `KokoroError`: one line on stderr with the remedy, exit status 2 (as the Python CLI).
 */
const val USAGE = "usage: speak --bundles DIR [--phonemes P | TEXT | --text-file F] [--voice V] [--speed S] [--seed N] -o OUT.wav\n" +
    "             [--lang CODE] [--threads N] [--precision P] [--lexicon FILE] [--fallback espeak|spell]\n" +
    "             [--accelerator cpu|gpu]   (gpu: the vocoder on LiteRT's GPU accelerator, from a folder of `kokoro-litert export --gpu`)\n" +
    "       speak --bundles DIR --list-voices\n" +
    "       speak --phonemize [TEXT | --text-file F] [--lang CODE | --voice V] [--lexicon FILE]   (G2P only: one JSON line per input line)\n" +
    "  CODE: a b e f h i p (j z: Python only), or a name: en-us en-gb es fr-fr hi it pt-br"

private val PLUMBING = setOf("--litert-lib", "--litert-version", "--espeak-lib", "--espeak-data", "--lexicon-dir")

class Args(argv: Array<String>) {
    val opts = HashMap<String, String>()
    val flags = HashSet<String>()
    val positional = ArrayList<String>()

    init {
        val valued = setOf("--bundles", "--phonemes", "--text-file", "--voice", "--speed", "--seed", "-o", "--output", "--lang",
            "--threads", "--precision", "--lexicon", "--lexicon-dir", "--fallback", "--litert-lib", "--litert-version",
            "--espeak-lib", "--espeak-data", "--weight-cache-dir", "--accelerator")
        // --gpu-float32 (not in the usage; tests): the GPU computes the vocoder's body in float32 too.
        val bare = setOf("--list-voices", "--phonemize", "--stream", "--gpu-float32", "-h", "--help")
        var i = 0
        while (i < argv.size) {
            val a = argv[i]
            when {
                a in valued -> {
                    if (i + 1 >= argv.size) throw KokoroError("Option $a needs a value.", USAGE.lines().first())
                    // The speak script passes the native libraries' locations, empty when it found none.
                    if (argv[i + 1].isNotEmpty() || a !in PLUMBING) opts[if (a == "--output") "-o" else a] = argv[i + 1]
                    i += 2
                }
                a.startsWith("--") && "=" in a && a.substringBefore("=") in valued -> { opts[a.substringBefore("=")] = a.substringAfter("="); i++ }
                a in bare -> { flags.add(a); i++ }
                a.startsWith("-") && a.length > 1 && a != "-" -> throw KokoroError("Unknown option $a.", USAGE.lines().first())
                else -> { positional.add(a); i++ }
            }
        }
        if (positional.size > 1) throw KokoroError("Too many arguments (${positional.joinToString(" ")}).", "Quote the text: speak ... \"Hello there.\"")
    }

    operator fun get(k: String) = opts[k]
}

object Speak {
    private fun log(msg: String) {
        System.err.println(msg)
        System.err.flush()
    }

    private fun readText(args: Args): String {
        args["--text-file"]?.let { f ->
            try {
                return File(f).readText(Charsets.UTF_8)
            } catch (e: java.io.IOException) {
                throw KokoroError("Cannot read $f: ${e.message}.", "Pass a readable UTF-8 text file.")
            }
        }
        if (args.positional.isNotEmpty()) return args.positional[0]
        if (System.console() == null) return System.`in`.readBytes().toString(Charsets.UTF_8)
        throw KokoroError("No text given.", "Pass TEXT, --text-file FILE, --phonemes P, or pipe text on stdin.")
    }

    private fun checkOutput(file: File) {
        val parent = file.absoluteFile.parentFile
        val problem = when {
            file.isDirectory -> "it is a directory"
            !parent.isDirectory -> if (parent.exists()) "$parent is not a folder" else "there is no folder $parent"
            !parent.canWrite() -> "$parent is not writable"
            else -> return
        }
        throw KokoroError("Cannot write $file: $problem.", "Pass -o with a file name in an existing, writable folder.")
    }

    private fun espeak(args: Args): EspeakEngine? {
        val lib = args["--espeak-lib"] ?: System.getenv("KOKORO_ESPEAK_LIB") ?: return null
        val data = args["--espeak-data"] ?: System.getenv("KOKORO_ESPEAK_DATA") ?: return null
        return EspeakJna(lib, data)
    }

    /** The English lexicon of an accent: --lexicon, else the bundle folder's, else the exported one. */
    private fun lexicon(args: Args, lang: Language, bundles: File?): Lexicon {
        val name = "lexicon-${lang.code}.tsv"
        val candidates = listOfNotNull(args["--lexicon"]?.let { File(it) }, bundles?.let { File(it, name) },
            args["--lexicon-dir"]?.let { File(it, name) })
        val file = candidates.firstOrNull { it.isFile } ?: throw KokoroError(
            "No ${lang.label} lexicon (looked for ${candidates.joinToString(", ").ifEmpty { "--lexicon" }}).",
            "Export one with kokoro-litert's export_lexicon(path, '${lang.code}') and pass --lexicon FILE, or speak --phonemes instead.")
        return try {
            Lexicon.load(file, lang.code)
        } catch (e: IllegalArgumentException) {
            throw KokoroError("The lexicon $file is unusable (${e.message}).", "Export it again with export_lexicon(path, '${lang.code}').")
        }
    }

    /** The front-end for `lang`, refusing (one line, the reason) a language this host cannot read. */
    private fun frontEnd(args: Args, lang: Language, bundles: File?): FrontEnd {
        lang.pythonOnly?.let {
            throw KokoroError("${lang.label} text cannot be read on the JVM: $it.",
                "Use the Python runtime (kokoro-litert say --lang ${lang.code}), or pass --phonemes.")
        }
        val fallback = when (args["--fallback"] ?: "espeak") {
            "espeak" -> Fallback.ESPEAK
            "spell" -> Fallback.SPELL
            else -> throw KokoroError("Unknown --fallback ${args["--fallback"]}.", "Use --fallback espeak or --fallback spell.")
        }
        val engine = if (fallback == Fallback.ESPEAK || lang.g2p == "espeak") espeak(args) else null
        if (lang.g2p == "espeak" && engine == null) throw KokoroError("${lang.label} text needs espeak-ng, and its library was not given.",
            "Pass --espeak-lib and --espeak-data (the espeakng-loader wheel's; android_demo/speak finds them), or --phonemes.")
        val english = if (lang.g2p == "english") lexicon(args, lang, bundles) else null // fails here, not mid-way
        return FrontEnd({ l -> if (l === lang && english != null) english else lexicon(args, l, bundles) }, engine, fallback)
    }

    private fun phonemizeLines(args: Args): Int {
        val lang = Languages.resolve(args["--lang"], args["--voice"] ?: Languages.DEFAULT.defaultVoice)
        val front = frontEnd(args, lang, args["--bundles"]?.let { File(it) })
        val out = System.out.bufferedWriter(Charsets.UTF_8)
        for (line in readText(args).split("\n")) {
            if (line.isEmpty()) continue
            val r = front.phonemize(line, lang.code)
            val words = r.words.joinToString(",") { "[${Json.quote(it.text)},${Json.quote(it.phonemes)}]" }
            val breaks = r.breaks.joinToString(",") { "[${it.at},${it.pause ?: "null"}]" }
            out.write("{\"text\":${Json.quote(line)},\"lang\":${Json.quote(lang.code)},\"normalized\":${Json.quote(r.normalized)}," +
                      "\"phonemes\":${Json.quote(r.phonemes)},\"words\":[$words],\"breaks\":[$breaks]," +
                      "\"warnings\":[${r.warnings.joinToString(",") { Json.quote(it) }}]}\n")
        }
        out.flush()
        return 0
    }

    fun run(argv: Array<String>): Int {
        val args = Args(argv)
        if ("-h" in args.flags || "--help" in args.flags) { println(USAGE); return 0 }
        if ("--phonemize" in args.flags) return phonemizeLines(args)
        val bundlesArg = args["--bundles"] ?: throw KokoroError("No bundle folder given.", "Pass --bundles DIR (a folder from `kokoro-litert convert`).")
        if ("--list-voices" in args.flags) {
            Bundle.open(File(bundlesArg)).voices.names().forEach { println(it) }
            return 0
        }
        args["--lang"]?.let { Languages.language(it) } // an unknown code fails first, as in `say`
        val accelerator = (args["--accelerator"] ?: "cpu").also { checkAccelerator(it) }
        val speed = args["--speed"]?.let { it.toDoubleOrNull() ?: throw KokoroError("--speed $it is not a number.", "Use --speed between 0.5 and 2.0.") } ?: 1.0
        if (!(speed >= 0.5 && speed <= 2.0)) throw KokoroError("Speed $speed is out of range.", "Use --speed between 0.5 and 2.0.")
        val seed = args["--seed"]?.let { it.toLongOrNull() ?: throw KokoroError("--seed $it is not an integer.", "Pass --seed N, e.g. --seed 0.") } ?: 0L
        val output = File(args["-o"] ?: throw KokoroError("No output given.", "Pass -o OUT.wav."))
        val phonemes = args["--phonemes"]
        if (phonemes != null && phonemes.isBlank()) throw KokoroError("The phoneme string is empty.",
            "Pass Kokoro phonemes, e.g. --phonemes \"həlˈO wˈɜɹld\", or text instead.")
        val text = if (phonemes == null) readText(args) else null
        checkOutput(output)
        val bundleDir = File(bundlesArg)
        val bundle = Bundle.open(bundleDir)
        // A named language brings its own voice; a folder may hold only a few.
        val voice = args["--voice"] ?: Languages.defaultVoice(bundle.voices.names(), args["--lang"]?.let { Languages.language(it) })
        val lang = Kokoro.checkLanguage(args["--lang"], voice)
        // Unspeakable text fails here, in one line, before the graphs are touched.
        val front = if (text != null) frontEnd(args, lang, bundleDir) else null
        val phonemized = if (text != null) Kokoro(NoBackend, EmptyVoices, front).speakable(text, lang.code) else null
        Voices.loadVoice(voice, bundle.voices)
        if (phonemes != null) Vocab.phonemeIds(phonemes.trim(), bundle.manifest.vocab)

        val libPath = args["--litert-lib"] ?: System.getenv("KOKORO_LITERT_LIB") ?: throw KokoroError(
            "Where libLiteRt.so is was not given.", "Pass --litert-lib PATH (the ai-edge-litert wheel's ai_edge_litert/libLiteRt.so), or run android_demo/speak.")
        if (!File(libPath).isFile) throw KokoroError("There is no libLiteRt.so at $libPath.", "Install ai-edge-litert (pip install ai-edge-litert) or pass --litert-lib PATH.")
        val threads = args["--threads"]?.toIntOrNull() ?: Runtime.getRuntime().availableProcessors()
        val version = args["--litert-version"] ?: System.getenv("KOKORO_LITERT_VERSION") ?: "unknown"
        val cache = WeightCache(bundle.folder, bundle.manifest, version, LiteRtCRunner.cpuFingerprint(),
                                args["--weight-cache-dir"]?.let { File(it) } ?: File(System.getProperty("user.home"), ".cache/kokoro-litert/xnnpack"))
        val runner = LiteRtCRunner(bundle.folder, bundle.manifest, bundle.files(args["--precision"]), threads, cache, lib = LiteRtC.load(libPath),
                                   accelerator = accelerator, gpuFloat32 = "--gpu-float32" in args.flags)
        val tts = Kokoro(LiteRTBackend(bundle, runner, accelerator), bundle.voices, front)
        val chunks = if (phonemes != null) tts.streamPhonemes(phonemes.trim(), voice, speed, seed)
                     else tts.stream(phonemized!!, voice, speed, seed, warn = { log("warning: $it") })
        val t0 = System.nanoTime()
        var firstAudio: Double? = null
        var samples = 0L
        WavStream(output).use { wav ->
            for (chunk in chunks) {
                if (firstAudio == null) firstAudio = (System.nanoTime() - t0) / 1e9
                wav.write(chunk.audio)
                samples += chunk.audio.size
                if ("--stream" in args.flags) log("chunk ${chunk.index + 1}: ${"%.2f".format(chunk.audio.size / 24000.0)} s of audio out after ${"%.2f".format((System.nanoTime() - t0) / 1e9)} s")
            }
            wav.commit()
        }
        runner.close()
        cache.problems.forEach { log("warning: $it") }
        val elapsed = (System.nanoTime() - t0) / 1e9
        val seconds = samples.toDouble() / Buckets.SAMPLE_RATE
        log("%.2f s of audio in %.2f s (RTF %.2f, first audio after %.2f s, backend litert-jvm) -> %s".format(
            seconds, elapsed, elapsed / Math.max(seconds, 1e-9), firstAudio ?: 0.0, output))
        return 0
    }

    private object NoBackend : kokoro.litert.runtime.Backend {
        override val maxPhonemes = Buckets.MAX_PHONEMES
        override fun synthesize(phonemes: String, voicePack: FloatArray, speed: Double, seed: Long) = throw IllegalStateException("no backend")
    }

    private object EmptyVoices : kokoro.litert.runtime.VoiceLibrary {
        override val where = "(none)"
        override fun names() = emptyList<String>()
        override fun pack(name: String): FloatArray? = null
    }

    @JvmStatic
    fun main(argv: Array<String>) {
        val code = try {
            run(argv)
        } catch (e: KokoroError) {
            log("error: ${e.message}")
            2
        }
        System.out.flush()
        exitProcess(code)
    }
}
