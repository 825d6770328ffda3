package kokoro.litert.util

/**
 * Python's string semantics where the front-ends' twins depend on them: what `str.isspace()`,
 * `str.strip()`, `str.split()`, `\s` in `re` and `repr()` mean. Kotlin's own (`trim()`, `\\s`)
 * differ on a few characters (U+001C-U+001F and U+0085 are spaces to Python; `\\s` is ASCII-only in
 * Java without the UNICODE_CHARACTER_CLASS flag), and a phoneme string cut at another place is a
 * different phoneme string.
 */
object PyText {
    /** The code points `str.isspace()` accepts (Unicode 14: bidi class WS, B or S, or category Zs). */
    const val SPACES = "\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004" +
        "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

    /** `\s` of Python's `re` on str patterns, as a Java regex character class. */
    val SPACE_CLASS = "[" + SPACES.map { "\\u%04x".format(it.toInt()) }.joinToString("") + "]"

    fun isSpace(c: Char) = c in SPACES

    fun strip(s: String) = s.trim { isSpace(it) }
    fun lstrip(s: String) = s.trimStart { isSpace(it) }
    fun rstrip(s: String) = s.trimEnd { isSpace(it) }

    /** `s.split()`: runs of whitespace separate, no empty strings. */
    fun split(s: String): List<String> {
        val out = ArrayList<String>()
        var start = -1
        for (i in s.indices) {
            if (isSpace(s[i])) {
                if (start >= 0) { out.add(s.substring(start, i)); start = -1 }
            } else if (start < 0) start = i
        }
        if (start >= 0) out.add(s.substring(start))
        return out
    }

    /** `str.isalpha()` of one code point: a letter category (Lu Ll Lt Lm Lo). */
    fun isAlpha(codePoint: Int) = Character.isLetter(codePoint)

    /** Python's `repr(s)`: single quotes unless s holds ' and no ", backslash escapes for the
     * quote, the backslash and characters Python does not print. */
    fun repr(s: String): String {
        val quote = if ('\'' in s && '"' !in s) '"' else '\''
        val out = StringBuilder().append(quote)
        var i = 0
        while (i < s.length) {
            val cp = s.codePointAt(i)
            i += Character.charCount(cp)
            when {
                cp == quote.toInt() || cp == '\\'.toInt() -> out.append('\\').appendCodePoint(cp)
                cp == '\n'.toInt() -> out.append("\\n")
                cp == '\r'.toInt() -> out.append("\\r")
                cp == '\t'.toInt() -> out.append("\\t")
                printable(cp) -> out.appendCodePoint(cp)
                cp < 0x100 -> out.append("\\x%02x".format(cp))
                cp < 0x10000 -> out.append("\\u%04x".format(cp))
                else -> out.append("\\U%08x".format(cp))
            }
        }
        return out.append(quote).toString()
    }

    /** `str.isprintable()` of one code point: not Cc Cf Cs Co Cn Zl Zp, and no space but ' '. */
    private fun printable(cp: Int): Boolean {
        if (cp == ' '.toInt()) return true
        return when (Character.getType(cp).toByte()) {
            Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED,
            Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SPACE_SEPARATOR -> false
            else -> true
        }
    }

    /** `unicodedata.name(c, "?")`. */
    fun name(codePoint: Int): String = Character.getName(codePoint) ?: "?"

    /** `unicodedata.category(c)[0]`: "L", "N", "P", ... for one code point. */
    fun majorCategory(codePoint: Int): Char = when (Character.getType(codePoint).toByte()) {
        Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER, Character.MODIFIER_LETTER,
        Character.OTHER_LETTER -> 'L'
        Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> 'N'
        Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK -> 'M'
        Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION, Character.END_PUNCTUATION,
        Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION -> 'P'
        Character.MATH_SYMBOL, Character.CURRENCY_SYMBOL, Character.MODIFIER_SYMBOL, Character.OTHER_SYMBOL -> 'S'
        Character.SPACE_SEPARATOR, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> 'Z'
        else -> 'C'
    }

    /** The code points of s, in order. */
    fun codePoints(s: String): IntArray = s.codePoints().toArray()
}
