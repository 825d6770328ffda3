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
 * read out-of-lexicon words and the espeak languages identically. Four C functions: espeak_Initialize,
 * espeak_ListVoices, espeak_SetVoiceByName, espeak_TextToPhonemes.
 */
class EspeakJna(private val libraryPath: String, private val dataPath: String) : EspeakEngine {
    @Suppress("FunctionName")
    interface Lib : Library {
        fun espeak_Initialize(output: Int, bufLength: Int, path: String, options: Int): Int
        fun espeak_SetVoiceByName(name: String): Int
        fun espeak_TextToPhonemes(textPtr: PointerByReference, textMode: Int, phonemeMode: Int): Pointer?
        /** espeak_VOICE** (NULL-terminated); each espeak_VOICE starts with the pointers name,
         * languages, identifier (speak_lib.h). */
        fun espeak_ListVoices(spec: Pointer?): Pointer?
    }

    private var lib: Lib? = null
    /** The voice espeak-ng has loaded: "a"/"b" (rawIpa) or "tag:es" (tiedIpa). */
    private var voice: String? = null
    private val identifiers = HashMap<String, String>()

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
        return phonemes(l, text, Espeak.PHONEME_MODE, untilNull = false)
    }

    @Synchronized
    override fun tiedIpa(text: String, language: String): String {
        val l = library()
        val identifier = identifiers.getOrPut(language) { voiceIdentifier(l, language) }
        if (voice != "tag:$language") {
            if (l.espeak_SetVoiceByName(identifier) != 0) throw EspeakUnavailable("espeak-ng cannot load the voice for '$language'")
            voice = "tag:$language"
        }
        return phonemes(l, text, Espeak.TIED_PHONEME_MODE, untilNull = true)
    }

    /** espeak_TextToPhonemes over the whole text, the clauses joined by spaces. untilNull: loop until
     * espeak sets the pointer to NULL (tied_ipa); else also stop at an empty remainder (raw_ipa). */
    private fun phonemes(l: Lib, text: String, mode: Int, untilNull: Boolean): String {
        val bytes = text.toByteArray(Charsets.UTF_8)
        val buf = Memory(bytes.size + 1L)
        buf.write(0, bytes, 0, bytes.size)
        buf.setByte(bytes.size.toLong(), 0)
        val ptr = PointerByReference(buf)
        val out = ArrayList<String>()
        while (ptr.value != null && (untilNull || ptr.value.getByte(0) != 0.toByte())) {
            val ps = l.espeak_TextToPhonemes(ptr, ESPEAK_CHARS_UTF8, mode)
            if (ps != null) out.add(ps.getString(0, "UTF-8"))
        }
        java.lang.ref.Reference.reachabilityFence(buf) // espeak reads it until here
        return out.joinToString(" ")
    }

    /** The first voice espeak-ng lists whose first language is `language` ("es" -> "roa/es"). */
    private fun voiceIdentifier(l: Lib, language: String): String {
        val list = l.espeak_ListVoices(null) ?: throw EspeakUnavailable("espeak_ListVoices returned nothing")
        for (voice in list.getPointerArray(0)) {
            // languages: (priority byte, tag, NUL) pairs; Python reads it as one C string, drops the priority
            val languages = voice.getPointer(Native.POINTER_SIZE.toLong()) ?: continue
            val first = languages.getString(0, "UTF-8")
            if (first.length > 1 && first.substring(1) == language) {
                return voice.getPointer(2L * Native.POINTER_SIZE).getString(0, "UTF-8")
            }
        }
        throw EspeakUnavailable("espeak-ng has no voice for language '$language'")
    }

    companion object {
        const val AUDIO_OUTPUT_SYNCHRONOUS = 0x02 // only phonemes are asked for; no audio device is opened
        const val ESPEAK_CHARS_UTF8 = 1
    }
}
