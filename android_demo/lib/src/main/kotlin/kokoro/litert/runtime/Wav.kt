package kokoro.litert.runtime

import kokoro.litert.buckets.Buckets
import java.io.Closeable
import java.io.File
import java.io.RandomAccessFile
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** Audio out (twin of `runtime/wav.py`): float samples in [-1, 1] -> 16-bit PCM, into a WAV written atomically. */
object Wav {
    /** clip, * 32767 in float32, round half to even (np.round), int16 little-endian. */
    fun toPcm16(samples: FloatArray): ByteArray {
        val bb = ByteBuffer.allocate(samples.size * 2).order(ByteOrder.LITTLE_ENDIAN)
        for (x in samples) {
            val c = if (x.isNaN()) 0f else Math.min(Math.max(x, -1f), 1f)
            bb.putShort(Math.rint((c * 32767f).toDouble()).toShort())
        }
        return bb.array()
    }
}

/** Append float chunks to a 16-bit mono WAV; the file appears under its name only on `close()` after success. */
class WavStream(val file: File, val sampleRate: Int = Buckets.SAMPLE_RATE) : Closeable {
    private val tmp: File
    private val out: RandomAccessFile
    var samples = 0L
        private set
    private var done = false

    init {
        if (file.isDirectory) throw KokoroError("Output path $file is a directory.", "Pass a file name such as out.wav.")
        val parent = file.absoluteFile.parentFile
        tmp = try {
            File.createTempFile(".${file.name}.", ".part", parent)
        } catch (e: java.io.IOException) {
            throw KokoroError("Cannot write to $parent: ${e.message}.", "Pass -o with a file name in an existing, writable folder.")
        }
        out = RandomAccessFile(tmp, "rw")
        out.write(header(0))
    }

    private fun header(dataBytes: Long): ByteArray {
        val b = ByteBuffer.allocate(44).order(ByteOrder.LITTLE_ENDIAN)
        b.put("RIFF".toByteArray()).putInt((36 + dataBytes).toInt()).put("WAVE".toByteArray())
        b.put("fmt ".toByteArray()).putInt(16).putShort(1).putShort(1).putInt(sampleRate).putInt(sampleRate * 2).putShort(2).putShort(16)
        b.put("data".toByteArray()).putInt(dataBytes.toInt())
        return b.array()
    }

    fun write(chunk: FloatArray) {
        out.write(Wav.toPcm16(chunk))
        samples += chunk.size
    }

    /** Finish the file and move it into place. */
    fun commit() {
        out.seek(0)
        out.write(header(samples * 2))
        out.fd.sync()
        out.close()
        if (!tmp.renameTo(file)) {
            tmp.delete()
            throw KokoroError("Cannot write $file.", "Pass -o with a file name in an existing, writable folder.")
        }
        done = true
    }

    /** Without `commit()` first, drop the partial file. */
    override fun close() {
        if (!done) {
            try { out.close() } catch (e: java.io.IOException) { }
            tmp.delete()
        }
    }
}
