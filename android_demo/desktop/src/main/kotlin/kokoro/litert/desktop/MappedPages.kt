package kokoro.litert.desktop

import com.sun.jna.Pointer
import java.io.File
import java.nio.file.Files

/**
 * runtime/runner.py `release_mapped_pages`: drop this process's resident pages of some files'
 * read-only mappings (madvise MADV_DONTNEED). They are clean file pages, so the kernel keeps them
 * in its page cache and a later access maps them back. Mappings are matched by device and inode
 * in /proc/self/maps; writable mappings are never touched. Linux (and Android) only: elsewhere,
 * or when /proc cannot be read, nothing happens.
 */
object MappedPages {
    private const val MADV_DONTNEED = 4

    /** Bytes of the mappings released. */
    fun release(files: List<File>): Long {
        val ids = files.mapNotNull { id(it) }.toSet()
        val maps = File("/proc/self/maps")
        if (ids.isEmpty() || !maps.canRead()) return 0
        var released = 0L
        for (line in maps.readLines()) {
            val f = line.trim().split(Regex("\\s+"))
            if (f.size < 6 || 'w' in f[1]) continue
            val dev = f[3].split(":")
            if (dev.size != 2 || Triple(dev[0].toLong(16), dev[1].toLong(16), f[4].toLong()) !in ids) continue
            val (start, end) = f[0].split("-").map { java.lang.Long.parseUnsignedLong(it, 16) }
            if (LibC.INSTANCE.madvise(Pointer(start), end - start, MADV_DONTNEED) == 0) released += end - start
        }
        return released
    }

    /** (major, minor, inode) of a file, from the JDK's "unix" attribute view (Linux dev_t layout). */
    private fun id(file: File): Triple<Long, Long, Long>? = try {
        val dev = Files.getAttribute(file.toPath(), "unix:dev") as Long
        val ino = Files.getAttribute(file.toPath(), "unix:ino") as Long
        val major = ((dev ushr 8) and 0xfffL) or ((dev ushr 32) and 0xfffff000L)
        val minor = (dev and 0xffL) or ((dev ushr 12) and 0xffffff00L)
        Triple(major, minor, ino)
    } catch (e: Exception) {
        null
    }
}
