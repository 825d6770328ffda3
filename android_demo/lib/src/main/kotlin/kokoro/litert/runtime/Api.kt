package kokoro.litert.runtime

import kokoro.litert.buckets.Buckets
import kokoro.litert.runtime.text.Break
import kokoro.litert.runtime.text.FrontEnd
import kokoro.litert.runtime.text.G2p
import kokoro.litert.runtime.text.Language
import kokoro.litert.runtime.text.Languages
import kokoro.litert.runtime.text.PhonemizeResult
import kokoro.litert.runtime.text.Rate

/**
 * Text in, speech out (twin of `runtime/api.py`): chunking, pauses, edge fades and the trimming of
 * silence at cuts inside a sentence, over a synthesis backend. Chunks are synthesized lazily, one at
 * a time, as the caller iterates.
 */
const val SENTENCE_END = ".!?…"
const val CLAUSE_END = ",;:—"
const val PAUSE_AFTER_SENTENCE = 0.20 // s of silence inserted after a sentence ends
const val PAUSE_AFTER_CLAUSE = 0.08 // s after a clause split of an over-long sentence
const val EDGE_FADE = 0.005 // s raised-cosine fade at both ends of every chunk
const val JOIN_SILENCE_DB = -50.0 // see api.py: silence trimmed at a cut inside a sentence
const val JOIN_KEEP = 0.025 // s of silence kept on each side of such a cut
const val STRESS_MARKS = "ˈˌ"
/** A text stream's first chunk ends at the first sentence's last clause mark within this many
 * phonemes, if it has one (api.py FIRST_CHUNK_PHONEMES). */
const val FIRST_CHUNK_PHONEMES = 36
const val SPEED_MIN = 0.5 // checks.py: what Kokoro speaks well
const val SPEED_MAX = 2.0

class WordTiming(val word: String, val start: Double, val end: Double)

class Chunk(val index: Int, val text: String, val phonemes: String,
            /** float32 at 24 kHz, including the pause that follows the chunk. */
            val audio: FloatArray, val start: Double, val words: List<WordTiming>)

/** (start, end, source text) of a spoken word within a phoneme string. */
data class Span(val start: Int, val end: Int, val text: String)

class Piece(val phonemes: String, val words: List<Span>,
            /** s of silence after it. */
            var pause: Double,
            /** A cut inside a sentence: the silence at the join is trimmed to JOIN_KEEP. */
            var trimAfter: Boolean = true,
            /** Times the call's speed (SSML prosody rate in Python). */
            var rate: Double = 1.0)

object Chunking {
    /** (start, end, source text) of each spoken word in the phoneme string (api.py `_word_spans`). */
    fun wordSpans(phonemes: String, words: List<G2p.Word>): List<Span> {
        val spans = ArrayList<Span>()
        var cursor = 0
        for (w in words) {
            if (w.phonemes.isBlank() || !w.phonemes.any { Character.isLetter(it) }) continue
            val at = phonemes.indexOf(w.phonemes, cursor)
            if (at < 0) continue
            val end = at + w.phonemes.length
            // one source token read as several words: "$3.50" -> three dollars...
            if (spans.isNotEmpty() && spans.last().text == w.text && (!isAlpha(w.text) || w.normalized !in listOf("", w.text))) {
                spans[spans.size - 1] = Span(spans.last().start, end, w.text)
            } else {
                spans.add(Span(at, end, w.text))
            }
            cursor = end
        }
        return spans
    }

    private fun isAlpha(s: String) = s.isNotEmpty() && s.all { Character.isLetter(it) }

    /** Positions just after a mark (and its trailing space) where a chunk may end. */
    fun cutPoints(phonemes: String, marks: String): List<Int> {
        val cls = marks.map { "\\" + it }.joinToString("")
        return Regex("[$cls]+[\"”)]*( |$)").findAll(phonemes).map { it.range.last + 1 }.toList()
    }

    /**
     * Sentences first; an over-long sentence at clauses, then spaces, then any phoneme boundary.
     * breaks: more places a chunk ends, where no mark shows one (Hindi's danda, a pause asked for),
     * each with its own pause; rates: stretches spoken at another speed (a chunk takes the rate of
     * the stretch it starts in). api.py `split_phonemes`.
     */
    fun splitPhonemes(phonemes: String, spans: List<Span>, maxLen: Int, breaks: List<Break> = emptyList(),
                      rates: List<Rate> = emptyList()): List<Piece> {
        val ends = LinkedHashMap<Int, Double?>() // offset -> pause (null: a sentence's)
        for (c in cutPoints(phonemes, SENTENCE_END)) ends[c] = null
        for (b in breaks) {
            var at = b.at
            while (at < phonemes.length && phonemes[at] == ' ') at++ // where a mark's cut would be: after the space
            ends[at] = b.pause
        }
        val pieces = ArrayList<Piece>()
        ends[0]?.let { pieces.add(Piece("", emptyList(), it)) } // a pause before the first word: a chunk of silence
        var start = 0
        for (end in ends.keys.filter { it > 0 && it < phonemes.length }.sorted() + phonemes.length) {
            if (end <= start) continue
            val rate = rates.firstOrNull { it.start <= start && start < it.end }?.factor ?: 1.0
            val sentence = splitLong(phonemes, start, end, maxLen, spans)
            for (piece in sentence) piece.rate = rate
            val pause = ends[end]
            if (sentence.isNotEmpty() && pause != null) {
                sentence.last().pause = pause
                sentence.last().trimAfter = true
            }
            pieces.addAll(sentence)
            start = end
        }
        return pieces.filter { it.phonemes.isNotBlank() || it.pause != 0.0 }
    }

    /** Where a chunk starting at `start` ends (<= start + maxLen), and the pause after it (api.py `_cut`). */
    fun cut(phonemes: String, start: Int, end: Int, maxLen: Int): Pair<Int, Double> {
        if (end - start <= maxLen) return Pair(end, PAUSE_AFTER_SENTENCE)
        val window = phonemes.substring(start, Math.min(phonemes.length, start + maxLen + 1))
        val clause = cutPoints(window, CLAUSE_END).filter { it in 1..maxLen }
        if (clause.isNotEmpty()) return Pair(start + clause.last(), PAUSE_AFTER_CLAUSE)
        val space = Regex(" ").findAll(window).map { it.range.last + 1 }.filter { it in 1..maxLen }.toList()
        if (space.isNotEmpty()) return Pair(start + space.last(), 0.0)
        var stop = start + maxLen // one enormous word: cut at a phoneme boundary, never after a stress mark
        while (stop - 1 > start && phonemes[stop - 1] in STRESS_MARKS) stop--
        return Pair(stop, 0.0)
    }

    /** phonemes[start:stop] as a piece, with the word spans moved into it (api.py `_piece`). */
    fun piece(phonemes: String, start: Int, stop: Int, spans: List<Span>, pause: Double): Piece {
        val text = phonemes.substring(start, stop)
        val lead = text.length - text.trimStart { Character.isWhitespace(it) }.length
        val pieceSpans = spans.filter { it.start < stop && it.end > start }
            .map { Span(Math.max(it.start, start) - start - lead, Math.min(it.end, stop) - start - lead, it.text) }
            .filter { it.end > it.start }
        return Piece(strip(text), pieceSpans, pause, trimAfter = pause < PAUSE_AFTER_SENTENCE)
    }

    fun splitLong(phonemes: String, start0: Int, end: Int, maxLen: Int, spans: List<Span>): MutableList<Piece> {
        val out = ArrayList<Piece>()
        var start = start0
        while (start < end) {
            val (stop, pause) = cut(phonemes, start, end, maxLen)
            out.add(piece(phonemes, start, stop, spans, pause))
            start = stop
        }
        return out
    }

    /** The first piece cut at its last clause mark within `limit` phonemes, so a stream's first audio
     * comes from a short chunk; never between two words of a clause (api.py `_split_first`). */
    fun splitFirst(pieces: List<Piece>, limit: Int?): List<Piece> {
        if (pieces.isEmpty() || limit == null || pieces[0].phonemes.length <= limit) return pieces
        val first = pieces[0]
        val window = first.phonemes.substring(0, Math.min(limit + 1, first.phonemes.length))
        val clause = cutPoints(window, CLAUSE_END).filter { it in 1..limit }
        if (clause.isEmpty()) return pieces
        val stop = clause.last()
        val head = piece(first.phonemes, 0, stop, first.words, PAUSE_AFTER_CLAUSE)
        val tail = piece(first.phonemes, stop, first.phonemes.length, first.words, first.pause)
        head.rate = first.rate
        tail.rate = first.rate
        tail.trimAfter = first.trimAfter
        return listOf(head, tail).filter { it.phonemes.isNotEmpty() } + pieces.drop(1)
    }

    /** Python's str.strip(): whitespace at both ends. */
    fun strip(s: String) = s.trim { Character.isWhitespace(it) }

    /** First and one-past-last sample of the 5 ms windows louder than JOIN_SILENCE_DB re the peak. */
    fun soundBounds(audio: FloatArray): Pair<Int, Int> {
        val width = (0.005 * Buckets.SAMPLE_RATE).toInt()
        val n = audio.size / width
        var peak = 0.0
        for (x in audio) peak = Math.max(peak, Math.abs(x.toDouble()))
        if (n == 0 || peak == 0.0) return Pair(0, audio.size)
        val threshold = peak * Math.pow(10.0, JOIN_SILENCE_DB / 20)
        var first = -1
        var last = -1
        for (w in 0 until n) {
            var s = 0.0
            for (i in w * width until (w + 1) * width) s += audio[i].toDouble() * audio[i]
            if (Math.sqrt(s / width) > threshold) { if (first < 0) first = w; last = w }
        }
        if (first < 0) return Pair(0, audio.size) // (cannot happen: the peak's window is loud)
        return Pair(first * width, Math.min(audio.size, (last + 1) * width))
    }

    /** A chunk's audio with the silence at a cut inside its sentence trimmed; and the samples cut from its start. */
    fun trimCut(audio: FloatArray, leadPadFrames: Int, cutBefore: Boolean, cutAfter: Boolean): Pair<FloatArray, Int> {
        if (!(cutBefore || cutAfter)) return Pair(audio, 0)
        val (first, last) = soundBounds(audio)
        val keep = (JOIN_KEEP * Buckets.SAMPLE_RATE).toInt()
        val lead = if (cutBefore) Math.min(Math.max(0, first - keep), leadPadFrames * Buckets.SAMPLES_PER_FRAME) else 0
        val end = if (cutAfter) Math.min(audio.size, last + keep) else audio.size
        return Pair(audio.copyOfRange(lead, Math.max(end, lead)), lead)
    }

    /** Raised-cosine fade at both ends: 0.5 - 0.5 cos(linspace(0, pi, n)) in float32, as api.py. */
    fun fadeEdges(audio: FloatArray): FloatArray {
        val n = Math.min((EDGE_FADE * Buckets.SAMPLE_RATE).toInt(), audio.size / 2)
        if (n <= 1) return audio
        val step = Math.PI / (n - 1)
        val ramp = FloatArray(n) { i ->
            val x = (if (i == n - 1) Math.PI else i * step).toFloat() // np.linspace: i * step, the end point exact
            0.5f - 0.5f * Math.cos(x.toDouble()).toFloat()
        }
        val out = audio.copyOf()
        for (i in 0 until n) {
            out[i] *= ramp[i]
            out[out.size - 1 - i] *= ramp[i]
        }
        return out
    }
}

/**
 * Speaks text (or phonemes) through a synthesis backend (twin of api.py `Kokoro`). Text is read by
 * `frontEnd` in the language asked for, else the voice's (its first letter: ef_dora reads Spanish).
 */
class Kokoro(val backend: Backend, val voices: VoiceLibrary, val frontEnd: FrontEnd? = null) {
    private val voiceCache = object : LinkedHashMap<String, FloatArray>(16, 0.75f, true) {
        override fun removeEldestEntry(eldest: MutableMap.MutableEntry<String, FloatArray>?) = size > 32
    }

    fun voice(spec: String): FloatArray = synchronized(voiceCache) {
        voiceCache.getOrPut(spec) { Voices.loadVoice(spec, voices) }
    }

    /** `phonemize(text, lang)`, or a KokoroError naming what was skipped when nothing in it can be
     * spoken (api.py `speakable`). lang: a code or name. */
    fun speakable(text: String, lang: String = "a"): PhonemizeResult {
        val language = Languages.language(lang)
        val front = frontEnd ?: throw KokoroError("No text front-end is loaded.", "Pass --lexicon FILE (kokoro-litert's export_lexicon), or --phonemes.")
        val result = front.phonemize(text, language.code)
        if (result.phonemes.isBlank() && result.breaks.none { it.pause != null && it.pause != 0.0 }) {
            val skipped = if (result.warnings.isNotEmpty()) " (${result.warnings.joinToString("; ")})" else ""
            throw KokoroError("Nothing speakable in the input$skipped.", "Pass text with ${language.label} words in it.")
        }
        return result
    }

    /** Chunks of a phonemized text as they are synthesized (api.py `stream` on what `speakable` returned). */
    fun stream(text: PhonemizeResult, voice: String = "af_heart", speed: Double = 1.0, seed: Long = 0,
               warn: ((String) -> Unit)? = null, firstChunk: Int? = FIRST_CHUNK_PHONEMES): Sequence<Chunk> {
        checkSpeed(speed)
        val pack = voice(voice)
        for (m in text.warnings) warn?.invoke(m)
        val spans = Chunking.wordSpans(text.phonemes, text.words)
        val pieces = Chunking.splitPhonemes(text.phonemes, spans, backend.maxPhonemes, text.breaks, text.rates)
        return synthesizePieces(Chunking.splitFirst(pieces, firstChunk), pack, speed, seed)
    }

    fun streamPhonemes(phonemes: String, voice: String = "af_heart", speed: Double = 1.0, seed: Long = 0,
                       firstChunk: Int? = null): Sequence<Chunk> {
        checkSpeed(speed)
        val pack = voice(voice)
        val spans = Regex("\\S+").findAll(phonemes).map { Span(it.range.first, it.range.last + 1, it.value) }.toList()
        return synthesizePieces(Chunking.splitFirst(Chunking.splitPhonemes(phonemes, spans, backend.maxPhonemes), firstChunk),
                                pack, speed, seed)
    }

    private fun synthesizePieces(pieces: List<Piece>, pack: FloatArray, speed: Double, seed: Long): Sequence<Chunk> = sequence {
        var clock = 0.0
        val queue = ArrayList(pieces)
        var index = 0
        var cutBefore = false // the previous chunk ended inside a sentence
        while (queue.isNotEmpty()) {
            val piece = queue.removeAt(0)
            if (piece.phonemes.isEmpty()) { // a pause asked for before any word: silence only
                val silence = FloatArray((piece.pause * Buckets.SAMPLE_RATE).toInt())
                yield(Chunk(index, "", "", silence, clock, emptyList()))
                clock += silence.size.toDouble() / Buckets.SAMPLE_RATE
                index++
                cutBefore = true
                continue
            }
            val out = try {
                backend.synthesize(piece.phonemes, pack, speed * piece.rate, seed + index)
            } catch (e: ChunkTooLong) {
                val halves = Chunking.splitLong(piece.phonemes, 0, piece.phonemes.length, Math.max(piece.phonemes.length / 2, 1), piece.words)
                halves.last().pause = piece.pause
                halves.last().trimAfter = piece.trimAfter
                for (half in halves) half.rate = piece.rate
                queue.addAll(0, halves)
                continue
            }
            val cutAfter = piece.trimAfter
            val (trimmed, lead) = Chunking.trimCut(out.audio, out.durations[0], cutBefore, cutAfter)
            val audio = Chunking.fadeEdges(trimmed)
            val frames = IntArray(out.durations.size + 1).also { for (i in out.durations.indices) it[i + 1] = it[i] + out.durations[i] }
            val words = piece.words.map { w ->
                // phoneme character j is token j + 1 (token 0 is the leading boundary pad)
                val t0 = (frames[Math.min(w.start + 1, frames.size - 1)] * Buckets.SAMPLES_PER_FRAME - lead).toDouble() / Buckets.SAMPLE_RATE
                val t1 = (frames[Math.min(w.end + 1, frames.size - 1)] * Buckets.SAMPLES_PER_FRAME - lead).toDouble() / Buckets.SAMPLE_RATE
                val end = audio.size.toDouble() / Buckets.SAMPLE_RATE
                WordTiming(w.text, clock + Math.min(t0, end), clock + Math.min(t1, end))
            }
            val pause = (piece.pause * Buckets.SAMPLE_RATE).toInt()
            val chunkAudio = audio.copyOf(audio.size + pause)
            yield(Chunk(index, piece.words.joinToString(" ") { it.text }, piece.phonemes, chunkAudio, clock, words))
            clock += chunkAudio.size.toDouble() / Buckets.SAMPLE_RATE
            index++
            cutBefore = cutAfter
        }
    }

    companion object {
        /** The language to read text in: `lang` (a code or name) if given, else the voice's own. */
        fun checkLanguage(lang: String?, voice: String): Language = Languages.resolve(lang, voice)

        fun checkSpeed(speed: Double) {
            if (!(speed >= SPEED_MIN && speed <= SPEED_MAX)) throw KokoroError("Speed $speed is out of range.", "Use a speed between $SPEED_MIN and $SPEED_MAX.")
        }
    }
}
