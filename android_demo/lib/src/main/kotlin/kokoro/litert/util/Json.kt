package kokoro.litert.util

/**
 * A small JSON reader (RFC 8259) for manifest.json and the golden-vector index: the library takes
 * no JSON dependency, so the same code runs on the desktop JVM and on Android.
 *
 * Values: objects -> LinkedHashMap<String, Any?> (key order kept), arrays -> List<Any?>, strings,
 * numbers -> Double (or Long when written without fraction or exponent), true/false, null.
 */
object Json {
    class JsonError(message: String) : IllegalArgumentException(message)

    fun parse(text: String): Any? {
        val p = Parser(text)
        p.ws()
        val v = p.value()
        p.ws()
        if (p.i != text.length) throw JsonError("trailing characters at offset ${p.i}")
        return v
    }

    /** A JSON string literal for s (for the few things the CLI writes). */
    fun quote(s: String): String {
        val b = StringBuilder("\"")
        for (c in s) {
            when {
                c == '"' -> b.append("\\\"")
                c == '\\' -> b.append("\\\\")
                c == '\n' -> b.append("\\n")
                c < ' ' -> b.append(String.format("\\u%04x", c.toInt()))
                else -> b.append(c)
            }
        }
        return b.append('"').toString()
    }

    private class Parser(val s: String) {
        var i = 0

        fun ws() {
            while (i < s.length && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++
        }

        fun fail(what: String): Nothing = throw JsonError("$what at offset $i")

        fun value(): Any? {
            if (i >= s.length) fail("unexpected end")
            return when (s[i]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> str()
                't' -> lit("true", true)
                'f' -> lit("false", false)
                'n' -> lit("null", null)
                else -> num()
            }
        }

        fun lit(word: String, v: Any?): Any? {
            if (!s.startsWith(word, i)) fail("bad literal")
            i += word.length
            return v
        }

        fun obj(): Map<String, Any?> {
            val m = LinkedHashMap<String, Any?>()
            i++
            ws()
            if (i < s.length && s[i] == '}') { i++; return m }
            while (true) {
                ws()
                if (i >= s.length || s[i] != '"') fail("expected a key")
                val k = str()
                ws()
                if (i >= s.length || s[i] != ':') fail("expected ':'")
                i++
                ws()
                m[k] = value()
                ws()
                if (i >= s.length) fail("unexpected end")
                if (s[i] == ',') { i++; continue }
                if (s[i] == '}') { i++; return m }
                fail("expected ',' or '}'")
            }
        }

        fun arr(): List<Any?> {
            val a = ArrayList<Any?>()
            i++
            ws()
            if (i < s.length && s[i] == ']') { i++; return a }
            while (true) {
                ws()
                a.add(value())
                ws()
                if (i >= s.length) fail("unexpected end")
                if (s[i] == ',') { i++; continue }
                if (s[i] == ']') { i++; return a }
                fail("expected ',' or ']'")
            }
        }

        fun str(): String {
            i++
            val b = StringBuilder()
            while (true) {
                if (i >= s.length) fail("unterminated string")
                val c = s[i++]
                when (c) {
                    '"' -> return b.toString()
                    '\\' -> {
                        if (i >= s.length) fail("bad escape")
                        when (val e = s[i++]) {
                            '"' -> b.append('"'); '\\' -> b.append('\\'); '/' -> b.append('/')
                            'b' -> b.append('\b'); 'f' -> b.append('\u000c'); 'n' -> b.append('\n')
                            'r' -> b.append('\r'); 't' -> b.append('\t')
                            'u' -> {
                                if (i + 4 > s.length) fail("bad \\u escape")
                                b.append(s.substring(i, i + 4).toInt(16).toChar())
                                i += 4
                            }
                            else -> fail("bad escape \\$e")
                        }
                    }
                    else -> b.append(c)
                }
            }
        }

        fun num(): Any {
            val start = i
            if (i < s.length && s[i] == '-') i++
            while (i < s.length && s[i].isDigit()) i++
            var integral = true
            if (i < s.length && s[i] == '.') { integral = false; i++; while (i < s.length && s[i].isDigit()) i++ }
            if (i < s.length && (s[i] == 'e' || s[i] == 'E')) {
                integral = false
                i++
                if (i < s.length && (s[i] == '+' || s[i] == '-')) i++
                while (i < s.length && s[i].isDigit()) i++
            }
            val t = s.substring(start, i)
            if (t.isEmpty() || t == "-") fail("bad value")
            return if (integral) t.toLongOrNull() ?: t.toDouble() else t.toDouble()
        }
    }
}

// Typed access to parsed JSON, failing with the key that was wrong.
@Suppress("UNCHECKED_CAST")
fun Any?.obj(what: String = "value"): Map<String, Any?> =
    this as? Map<String, Any?> ?: throw Json.JsonError("$what is not a JSON object")

@Suppress("UNCHECKED_CAST")
fun Any?.arr(what: String = "value"): List<Any?> = this as? List<Any?> ?: throw Json.JsonError("$what is not a JSON array")

fun Any?.num(what: String = "value"): Double = (this as? Number)?.toDouble() ?: throw Json.JsonError("$what is not a number")

fun Any?.int(what: String = "value"): Int = (this as? Number)?.toInt() ?: throw Json.JsonError("$what is not a number")

fun Any?.str(what: String = "value"): String = this as? String ?: throw Json.JsonError("$what is not a string")

fun Map<String, Any?>.req(key: String): Any? = if (containsKey(key)) get(key) else throw Json.JsonError("missing key '$key'")
