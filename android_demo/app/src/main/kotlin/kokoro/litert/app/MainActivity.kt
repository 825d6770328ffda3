package kokoro.litert.app

import android.app.Activity
import android.media.AudioAttributes
import android.media.AudioFormat
import android.media.AudioTrack
import android.os.Bundle
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.Spinner
import android.widget.TextView
import kokoro.litert.buckets.Buckets
import kokoro.litert.runtime.Kokoro
import kokoro.litert.runtime.KokoroError
import kokoro.litert.runtime.LiteRTBackend
import kokoro.litert.runtime.WeightCache
import kokoro.litert.runtime.text.Fallback
import kokoro.litert.runtime.text.FrontEnd
import kokoro.litert.runtime.text.Language
import kokoro.litert.runtime.text.Languages
import kokoro.litert.runtime.text.Lexicon
import java.io.File
import kotlin.concurrent.thread

/**
 * The demo: text field, voice picker, speak button; shows the real-time factor and the time to the
 * first audio. A bundle folder (what `kokoro-litert export --out DIR` writes: one precision, the
 * chosen voices and the lexicons of their English accents, listed in its manifest) is pushed to the
 * app's external files folder:
 *
 *     adb push DIR /sdcard/Android/data/kokoro.litert.app/files/bundles
 *
 * Text is read in the picked voice's language. English reads the lexicons the manifest lists
 * (lexicon-a.tsv, lexicon-b.tsv: none, one or both), each loaded when first used; out-of-lexicon words
 * are spelled (Fallback.SPELL: no espeak-ng in the APK), which the Python runtime reproduces with
 * `phonemize(text, fallback="spell")`. Spanish, French, Hindi, Italian and Portuguese need espeak-ng,
 * Mandarin and Japanese the Python front-ends: a voice of those languages gets a message saying so.
 * Chunks play as they are synthesized. A folder with a GPU vocoder (`kokoro-litert export --gpu`)
 * runs it on the GPU accelerator (AndroidStageRunner, accelerator "gpu"), else everything on the CPU.
 */
class MainActivity : Activity() {
    private var tts: Kokoro? = null
    private var runner: AndroidStageRunner? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        val status = findViewById<TextView>(R.id.status)
        val voicePicker = findViewById<Spinner>(R.id.voice)
        val speak = findViewById<Button>(R.id.speak)
        speak.isEnabled = false
        val folder = File(getExternalFilesDir(null), "bundles")
        thread {
            try {
                val bundle = kokoro.litert.runtime.Bundle.open(folder)
                val cache = WeightCache(folder, bundle.manifest, "android", android.os.Build.SUPPORTED_ABIS[0], File(cacheDir, "xnnpack"))
                val accelerator = if (bundle.manifest.gpu["vocoder"].isNullOrEmpty()) "cpu" else "gpu"
                val stages = AndroidStageRunner(folder, bundle.manifest, bundle.files(), Runtime.getRuntime().availableProcessors(), cache, accelerator)
                runner = stages
                val lexicons = bundle.manifest.lexicons
                val front = FrontEnd({ lang -> lexicon(folder, lexicons, lang) }, null, Fallback.SPELL)
                tts = Kokoro(LiteRTBackend(bundle, stages, accelerator), bundle.voices, front)
                val names = bundle.voices.names()
                val readable = Languages.LANGUAGES.filter { it.code in lexicons }.joinToString(", ") { it.label }
                runOnUiThread {
                    voicePicker.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, names)
                    voicePicker.setSelection(Math.max(0, names.indexOf(Languages.defaultVoice(names, null))))
                    speak.isEnabled = true
                    status.text = "Ready: ${names.size} voices; text in ${readable.ifEmpty { "no language (no lexicon in the folder)" }}; " +
                        "vocoder on the ${accelerator.toUpperCase()}."
                }
            } catch (e: KokoroError) {
                runOnUiThread { status.text = e.message }
            }
        }
        speak.setOnClickListener {
            val text = findViewById<EditText>(R.id.text).text.toString()
            val voice = voicePicker.selectedItem as String
            speak.isEnabled = false
            thread { say(text, voice, status); runOnUiThread { speak.isEnabled = true } }
        }
    }

    /** The lexicon the manifest lists for an English accent, or a KokoroError saying the folder has none. */
    private fun lexicon(folder: File, lexicons: Map<String, String>, lang: Language): Lexicon {
        val name = lexicons[lang.code] ?: throw KokoroError("This folder has no ${lang.label} lexicon.",
            "Export it again with a ${lang.code}* voice (kokoro-litert export --voices ...), which brings lexicon-${lang.code}.tsv.")
        return try {
            Lexicon.load(File(folder, name), lang.code)
        } catch (e: IllegalArgumentException) {
            throw KokoroError("The lexicon $name is unusable (${e.message}).", "Export the folder again.")
        } catch (e: java.io.IOException) {
            throw KokoroError("The lexicon $name cannot be read (${e.message}).", "Push the whole exported folder again.")
        }
    }

    private fun say(text: String, voice: String, status: TextView) {
        val engine = tts ?: return
        val track = AudioTrack.Builder()
            .setAudioAttributes(AudioAttributes.Builder().setUsage(AudioAttributes.USAGE_MEDIA).build())
            .setAudioFormat(AudioFormat.Builder().setEncoding(AudioFormat.ENCODING_PCM_FLOAT)
                .setSampleRate(Buckets.SAMPLE_RATE).setChannelMask(AudioFormat.CHANNEL_OUT_MONO).build())
            .setTransferMode(AudioTrack.MODE_STREAM).build()
        try {
            val t0 = System.nanoTime()
            var first = -1.0
            var samples = 0L
            track.play()
            val lang = Kokoro.checkLanguage(null, voice) // the voice's own language
            for (chunk in engine.stream(engine.speakable(text, lang.code), voice)) {
                if (first < 0) {
                    first = (System.nanoTime() - t0) / 1e9
                    runOnUiThread { status.text = "First audio after %.2f s".format(first) }
                }
                track.write(chunk.audio, 0, chunk.audio.size, AudioTrack.WRITE_BLOCKING)
                samples += chunk.audio.size
            }
            val elapsed = (System.nanoTime() - t0) / 1e9
            val seconds = samples.toDouble() / Buckets.SAMPLE_RATE
            val fallback = runner?.gpuFallback?.let { "; vocoder on the CPU: $it" } ?: ""
            runOnUiThread {
                status.text = "%.2f s of audio in %.2f s: RTF %.2f (playback included), first audio after %.2f s%s".format(
                    seconds, elapsed, elapsed / Math.max(seconds, 1e-9), first, fallback)
            }
        } catch (e: KokoroError) {
            runOnUiThread { status.text = e.message }
        } finally {
            track.stop()
            track.release()
        }
    }
}
