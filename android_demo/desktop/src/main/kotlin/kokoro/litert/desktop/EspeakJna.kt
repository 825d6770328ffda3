package kokoro.litert.desktop

import com.sun.jna.Library
import com.sun.jna.Memory
import com.sun.jna.Native
import com.sun.jna.Pointer
import com.sun.jna.ptr.PointerByReference
import kokoro.litert.runtime.text.Espeak
import kokoro.litert.runtime.text.EspeakEngine
import kokoro.litert.runtime.text.EspeakUnavailable

/**
 * espeak-ng through JNA on the desktop JVM (twin of `runtime/text/espeak.py`'s ctypes calls): the
 * libespeak-ng.so and data folder of the espeakng-loader wheel the Python runtime uses, so both hosts
 * read out-of-lexicon words identically. Three C functions: espeak_Initialize,
 * espeak_SetVoiceByName, espeak_TextToPhonemes.
 */
class EspeakJna(private val libraryPath: String, private val dataPath: String) : EspeakEngine {
    @Suppress("FunctionName")
    interface Lib : Library {
        fun espeak_Initialize(output: Int, bufLength: Int, path: String, options: Int): Int
        fun espeak_SetVoiceByName(name: String): Int
        fun espeak_TextToPhonemes(textPtr: PointerByReference, textMode: Int, phonemeMode: Int): Pointer?
    }

    private var lib: Lib? = null
    private var voice: String? = null

    private fun library(): Lib {
        lib?.let { return it }
        val l = try {
            Native.load(libraryPath, Lib::class.java)
        } catch (e: UnsatisfiedLinkError) {
            throw EspeakUnavailable("cannot load $libraryPath")
        }
        if (l.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, dataPath, 0) <= 0) throw EspeakUnavailable("espeak_Initialize failed with data path '$dataPath'")
        lib = l
        return l
    }

    @Synchronized
    override fun rawIpa(text: String, lang: String): String {
        val l = library()
        if (voice != lang) {
            if (l.espeak_SetVoiceByName(Espeak.VOICES.getValue(lang)) != 0) throw EspeakUnavailable("espeak-ng has no voice '${Espeak.VOICES[lang]}'")
            voice = lang
        }
        val bytes = text.toByteArray(Charsets.UTF_8)
        val buf = Memory(bytes.size + 1L)
        buf.write(0, bytes, 0, bytes.size)
        buf.setByte(bytes.size.toLong(), 0)
        val ptr = PointerByReference(buf)
        val out = ArrayList<String>()
        while (ptr.value != null && ptr.value.getByte(0) != 0.toByte()) {
            val ps = l.espeak_TextToPhonemes(ptr, ESPEAK_CHARS_UTF8, Espeak.PHONEME_MODE)
            if (ps != null) out.add(ps.getString(0, "UTF-8"))
        }
        return out.joinToString(" ")
    }

    companion object {
        const val AUDIO_OUTPUT_SYNCHRONOUS = 0x02 // only phonemes are asked for; no audio device is opened
        const val ESPEAK_CHARS_UTF8 = 1
    }
}
