package kokoro.litert.runtime.text

import java.math.BigInteger
import java.text.Normalizer
import java.util.regex.Matcher
import java.util.regex.Pattern

/**
 * English text normalization (twin of `runtime/text/normalize.py`: the same regex passes, in the
 * same order, with the same readings; see its docstring). Python's `re` is Unicode-aware for \w \d
 * \s \b; every pattern here is compiled with UNICODE_CHARACTER_CLASS to match.
 */
class Spanned(val s: String, val starts: IntArray, val ends: IntArray) {
    companion object {
        fun of(text: String) = Spanned(text, IntArray(text.length) { it }, IntArray(text.length) { it + 1 })
    }

    /** Source span behind s[start:end]. */
    fun sourceSpan(start: Int, end: Int): Pair<Int, Int> {
        if (start >= end) return Pair(0, 0)
        var a = Int.MAX_VALUE
        var b = Int.MIN_VALUE
        for (i in start until end) { a = Math.min(a, starts[i]); b = Math.max(b, ends[i]) }
        return Pair(a, b)
    }
}

/** A match and the string it was found in (Python's `m.string`). */
class M(private val m: Matcher, val string: String) {
    fun group(i: Int = 0): String? = m.group(i)
    fun g(i: Int): String = m.group(i) ?: ""
    fun start() = m.start()
    fun end() = m.end()
}

object Normalize {
    val MONTHS = "January February March April May June July August September October November December".split(" ")
    private val MONTH_ABBR: Map<String, String> = LinkedHashMap<String, String>().apply {
        for (m in MONTHS) put(m.substring(0, 3), m)
        put("Sept", "September")
    }

    private fun lm(vararg pairs: Pair<String, Pair<String, String>>) = LinkedHashMap<String, Pair<String, String>>().apply { putAll(pairs) }

    val UNITS: Map<String, Pair<String, String>> = lm(
        "km" to ("kilometer" to "kilometers"), "m" to ("meter" to "meters"), "cm" to ("centimeter" to "centimeters"),
        "mm" to ("millimeter" to "millimeters"), "mi" to ("mile" to "miles"), "ft" to ("foot" to "feet"),
        "kg" to ("kilogram" to "kilograms"), "g" to ("gram" to "grams"), "mg" to ("milligram" to "milligrams"),
        "lb" to ("pound" to "pounds"), "lbs" to ("pound" to "pounds"), "oz" to ("ounce" to "ounces"),
        "l" to ("liter" to "liters"), "L" to ("liter" to "liters"), "ml" to ("milliliter" to "milliliters"),
        "mL" to ("milliliter" to "milliliters"),
        "km/h" to ("kilometer per hour" to "kilometers per hour"), "kph" to ("kilometer per hour" to "kilometers per hour"),
        "mph" to ("mile per hour" to "miles per hour"),
        "°C" to ("degree Celsius" to "degrees Celsius"), "°F" to ("degree Fahrenheit" to "degrees Fahrenheit"),
        "°" to ("degree" to "degrees"),
        "KB" to ("kilobyte" to "kilobytes"), "MB" to ("megabyte" to "megabytes"), "GB" to ("gigabyte" to "gigabytes"),
        "TB" to ("terabyte" to "terabytes"),
        "Hz" to ("hertz" to "hertz"), "kHz" to ("kilohertz" to "kilohertz"), "MHz" to ("megahertz" to "megahertz"),
        "GHz" to ("gigahertz" to "gigahertz"),
        "ms" to ("millisecond" to "milliseconds"), "sec" to ("second" to "seconds"), "min" to ("minute" to "minutes"),
        "hr" to ("hour" to "hours"), "hrs" to ("hour" to "hours"),
        "kW" to ("kilowatt" to "kilowatts"), "kWh" to ("kilowatt hour" to "kilowatt hours"), "W" to ("watt" to "watts"),
        "mpg" to ("mile per gallon" to "miles per gallon")
    )
    private val UNIT_RE = UNITS.keys.sortedByDescending { it.length }.joinToString("|") { Pattern.quote(it) }

    val CURRENCIES = mapOf("$" to listOf("dollar", "dollars", "cent", "cents"), "£" to listOf("pound", "pounds", "penny", "pence"),
                           "€" to listOf("euro", "euros", "cent", "cents"))
    private val MAGNITUDES = mapOf("thousand" to "thousand", "k" to "thousand", "K" to "thousand", "million" to "million",
        "m" to "million", "M" to "million", "bn" to "billion", "billion" to "billion", "trillion" to "trillion")

    /** Abbreviation -> (expansion, keep_stop), in the Python dict's order. */
    val ABBREVIATIONS: List<Triple<String, String, Boolean>> = listOf(
        Triple("Mr.", "Mister", false), Triple("Mrs.", "Missus", false), Triple("Ms.", "Miz", false),
        Triple("Prof.", "Professor", false), Triple("Gov.", "Governor", false), Triple("Sen.", "Senator", false),
        Triple("Rep.", "Representative", false), Triple("Gen.", "General", false), Triple("Capt.", "Captain", false),
        Triple("Lt.", "Lieutenant", false), Triple("Sgt.", "Sergeant", false), Triple("Col.", "Colonel", false),
        Triple("Mt.", "Mount", false), Triple("Fig.", "Figure", false),
        Triple("Jr.", "Junior", true), Triple("Sr.", "Senior", true), Triple("Ave.", "Avenue", true), Triple("Blvd.", "Boulevard", true),
        Triple("Rd.", "Road", true), Triple("Inc.", "Incorporated", true), Triple("Ltd.", "Limited", true),
        Triple("Corp.", "Corporation", true), Triple("Co.", "Company", true), Triple("Dept.", "Department", true),
        Triple("etc.", "et cetera", true), Triple("approx.", "approximately", false), Triple("vs.", "versus", false),
        Triple("e.g.", "for example", false), Triple("i.e.", "that is", false)
    )
    val ROMAN_KEYWORDS = ("Chapter Part Volume Vol Book Act Scene War Phase Section Article Type Class Level Stage Round " +
        "Episode Season Title Appendix Psalm Grade Category Schedule Unit Bowl Rocky").split(" ").toSet()
    val REGNAL_NAMES = ("Henry Edward George William Elizabeth Charles Louis James Richard John Mary Victoria Philip " +
        "Peter Frederick Alexander Nicholas Catherine Pius Benedict Gregory Leo Innocent Clement Urban " +
        "Boniface Ferdinand Carlos Juan Felipe Alfonso Pedro Manuel Ludwig Wilhelm Friedrich Gustav " +
        "Olaf Harald Christian Haakon Ramesses Ptolemy Constantine Napoleon Otto Rudolf Franz Leopold " +
        "Albert Umberto Ivan Paul Anne Stephen Malcolm David Robert Sixtus Adrian Martin Eugene Felix " +
        "Sergius Honorius Celestine Nicholas Amadeus Rama Selim Mehmed Murad Suleiman Casimir Sigismund " +
        "Vladislav Wenceslaus Baldwin Bohemond Raymond Kamehameha").split(" ").toSet()
    val SAINT_NAMES = ("Agnes Albans Andrew Andrews Anne Anthony Asaph Augustine Austell Bernard Catherine Catharines " +
        "Charles Christopher Clair Claire Clement Cloud Croix Cuthbert David Davids Denis Elizabeth Elmo " +
        "Francis Gallen George Germain Gotthard Helena Helens Ives James Jean Joan John Johns Joseph Jude " +
        "Kilda Kitts Laurent Lawrence Leger Louis Lucia Luke Maarten Malo Mark Martin Mary Marys Matthew " +
        "Michael Moritz Nazaire Neots Nicholas Pancras Patrick Paul Pete Peter Petersburg Pierre Regis " +
        "Thomas Tropez Valentine Vincent").split(" ").toSet()
    private val NOT_STREET_NAMES = "The A An In At On Of To From And Or For By With Near Into Onto Past Via Visit Visiting Dear".split(" ").toSet()
    val FRACTION_DENOMINATORS = (2..10).toSet() + setOf(12, 16, 32, 64, 100)
    private val ROMAN = mapOf('I' to 1, 'V' to 5, 'X' to 10, 'L' to 50, 'C' to 100, 'D' to 500, 'M' to 1000)
    private val SYMBOLS = listOf("&" to "and", "+" to "plus", "=" to "equals", "@" to "at", "%" to "percent", "#" to "number")

    private const val NUM = "(\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.(\\d+))?"
    private const val SIGN = "(?:(?<![^\\s(\\[])([-−]))?(?<!\\d)"
    private const val RANGE_BOUND = "(?:\\d{1,2}:\\d{2}|(?:\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.\\d+)?)"

    private val cache = HashMap<String, Pattern>()
    private fun rx(p: String): Pattern = synchronized(cache) { cache.getOrPut(p) { Pattern.compile(p, Pattern.UNICODE_CHARACTER_CLASS) } }

    /** re.sub on a Spanned text; repl is a function of the match. */
    fun sub(pattern: String, text: Spanned, repl: (M) -> String): Spanned {
        val m = rx(pattern).matcher(text.s)
        val out = StringBuilder()
        val starts = ArrayList<Int>()
        val ends = ArrayList<Int>()
        var last = 0
        var changed = false
        while (m.find()) {
            val mm = M(m, text.s)
            val new = repl(mm)
            if (new == m.group()) continue
            val start = m.start()
            val end = m.end()
            out.append(text.s, last, start)
            for (i in last until start) { starts.add(text.starts[i]); ends.add(text.ends[i]) }
            val src = if (end > start) text.sourceSpan(start, end) else {
                val near = if (start < text.starts.size) text.starts[start] else if (text.ends.isNotEmpty()) text.ends.last() else 0
                Pair(near, near)
            }
            out.append(new)
            for (i in new.indices) { starts.add(src.first); ends.add(src.second) }
            last = end
            changed = true
        }
        if (!changed) return text
        out.append(text.s, last, text.s.length)
        for (i in last until text.s.length) { starts.add(text.starts[i]); ends.add(text.ends[i]) }
        return Spanned(out.toString(), starts.toIntArray(), ends.toIntArray())
    }

    private fun sub(pattern: String, text: Spanned, repl: String) = sub(pattern, text) { repl }

    private fun bigInt(s: String) = BigInteger(s.replace(",", ""))

    /** One number as words. Four-digit integers without commas are years (upstream's rule). */
    fun spell(intPart: String, frac: String? = null, sign: String = "", yearOk: Boolean = true): String {
        val minus = if (sign.isNotEmpty()) "minus " else ""
        if (frac != null) return minus + Numbers.decimal(intPart, frac)
        val plain = intPart.replace(",", "")
        if (plain.length > 1 && plain[0] == '0') return minus + Numbers.digits(plain)
        if (plain.length > 15) return minus + Numbers.digits(plain)
        if (yearOk && sign.isEmpty() && intPart.length == 4) return Numbers.year(plain.toLong())
        return minus + Numbers.cardinal(BigInteger(plain))
    }

    private fun isAlnum(c: Char) = Character.isLetterOrDigit(c)

    /** Keep a converted span apart from letters glued to it ("mp3" -> "mp three"). */
    private fun pad(m: M, words: String): String {
        val before = if (m.start() > 0) m.string[m.start() - 1] else ' '
        val after = if (m.end() < m.string.length) m.string[m.end()] else ' '
        return (if (isAlnum(before)) " " else "") + words + (if (isAlnum(after)) " " else "")
    }

    private fun lookingAt(pattern: String, s: String): Matcher? = rx(pattern).matcher(s).let { if (it.lookingAt()) it else null }

    /** A period swallowed by an abbreviation is restored when it also ends the sentence. */
    private fun sentenceStop(m: M): String {
        val rest = m.string.substring(m.end())
        return if (rest.isBlank() || lookingAt("\\s+[A-Z]", rest) != null) "." else ""
    }

    private fun cleanup(t0: Spanned): Spanned {
        var text = t0
        if (!Normalizer.isNormalized(text.s, Normalizer.Form.NFC)) text = sub("\\X", text) { Normalizer.normalize(it.g(0), Normalizer.Form.NFC) }
        text = sub("[\u2018\u2019\u02bc]", text, "'")
        text = sub("[\u00a0\u2000-\u200b\u202f\u205f\u3000\t\r\n]+", text, " ")
        text = sub("\\.{3,}", text, "…")
        text = sub("\u2212", text, "-")
        text = sub("\\s+[-–]{1,2}\\s+|--|–(?![$£€]?\\d)", text, " — ")
        return text
    }

    private fun urls(t0: Spanned): Spanned {
        val text = sub("\\b([\\w.+-]+)@([\\w-]+(?:\\.[\\w-]+)+)\\b", t0) { m ->
            "${m.g(1).replace(".", " dot ")} at ${m.g(2).replace(".", " dot ")}"
        }
        return sub("\\b(?:https?://|www\\.)[^\\s,;!?)\"]+[^\\s.,;!?)\"]", text) { m ->
            val body = m.g(0).replace(Regex("^https?://|^www\\."), "").trimEnd('/')
            body.replace(".", " dot ").replace("/", " slash ")
        }
    }

    private fun abbreviations(t0: Spanned): Spanned {
        var text = t0
        for ((abbr, word, keepStop) in ABBREVIATIONS) {
            text = sub("(?<![\\w.])" + Pattern.quote(abbr), text) { m -> word + if (keepStop) sentenceStop(m) else "" }
        }
        text = sub("\\bDr\\.(?=\\s+[A-Z])", text, "Doctor")
        text = sub("(?<=[A-Z]\\w)(\\w*\\s+)Dr\\.", text) { m -> m.g(1) + "Drive" + sentenceStop(m) }
        text = sub("\\bDr\\.", text, "Doctor")
        text = sub("\\bSt\\b\\.?", text) { saintOrStreet(it) }
        text = sub("\\b[Nn]o\\.(?=\\s*\\d)", text, "number")
        text = sub("#(?=\\d)", text, "number ")
        text = sub("\\bpp\\.(?=\\s*\\d)", text, "pages")
        text = sub("\\bp\\.(?=\\s*\\d)", text, "page")
        return text
    }

    private fun saintOrStreet(m: M): String {
        val period = m.g(0).endsWith(".")
        val nxt = lookingAt("\\s+([A-Z][\\w'-]*)", m.string.substring(m.end()))
            ?: return "Street" + if (period) sentenceStop(m) else ""
        val name = nxt.group(1)
        if (name in SAINT_NAMES || name.removeSuffix("'s") in SAINT_NAMES) return "Saint"
        val before = m.string.substring(0, m.start())
        val prev = rx("(\\S+)\\s+$").matcher(before)
        if (!prev.find() || prev.group(1) in NOT_STREET_NAMES) return "Saint"
        val word = prev.group(1)
        val head = before.substring(0, prev.start()).trimEnd()
        val sentenceStart = head.isEmpty() || head.last() in ".!?…"
        val streetName = (word.take(1).let { isUpperPy(it) } && isAlphaPy(word) && !sentenceStart) ||
            rx("\\d+(?:st|nd|rd|th)").matcher(word).matches()
        if (!streetName) return "Saint"
        return "Street" + if (period) "." else ""
    }

    private fun dates(t0: Spanned, lang: String): Spanned {
        var text = sub("\\b(\\d{4})-(\\d{2})-(\\d{2})\\b", t0) { m ->
            val y = m.g(1).toLong(); val mo = m.g(2).toInt(); val d = m.g(3).toInt()
            if (mo !in 1..12 || d !in 1..31) m.g(0) else "${MONTHS[mo - 1]} ${Numbers.ordinal(d.toLong())}, ${Numbers.year(y)}"
        }
        val monthRe = (MONTHS + MONTH_ABBR.keys.sortedByDescending { it.length }).joinToString("|")
        text = sub("\\b($monthRe)\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?\\b(?:,?\\s+(\\d{4})\\b)?", text) { m ->
            val month = MONTH_ABBR[m.g(1)] ?: m.g(1)
            var out = "$month ${Numbers.ordinal(m.g(2).toLong())}"
            if (m.group(3) != null && m.g(3).isNotEmpty()) out += ", ${Numbers.year(m.g(3).toLong())}"
            out
        }
        val abbrRe = MONTH_ABBR.keys.sortedByDescending { it.length }.joinToString("|")
        text = sub("\\b($abbrRe)\\.(?=\\s+\\d{4}\\b)", text) { m -> MONTH_ABBR.getValue(m.g(1)) }
        return sub("(?<![\\w/.,-])(\\d{1,2})([/.-])(\\d{1,2})\\2(\\d{4})(?![\\w/]|[.,-]\\d)", text) { m ->
            val a = m.g(1).toInt(); val b = m.g(3).toInt(); val y = m.g(4).toLong()
            val orders = if (lang == "b") listOf(b to a, a to b) else listOf(a to b, b to a)
            orders.firstOrNull { (month, day) -> month in 1..12 && day in 1..31 }
                ?.let { (month, day) -> pad(m, "${MONTHS[month - 1]} ${Numbers.ordinal(day.toLong())}, ${Numbers.year(y)}") } ?: m.g(0)
        }
    }

    private fun ranges(t0: Spanned): Spanned {
        val text = sub("(?<![\\w.,:/–-])([$£€])?($RANGE_BOUND)[-–]([$£€])?($RANGE_BOUND)(?![\\d/–-]|[.,:]\\d)" +
                       "(?=\\s?(thousand|million|billion|trillion|bn|[kKmM])\\b)?", t0) { m ->
            val sym = m.group(1); val low = m.g(2); val sym2 = m.group(3); val high = m.g(4); val magnitude = m.group(5)
            if (sym == null && low.matches(Regex("\\d{3}")) && high.matches(Regex("\\d{4}"))) m.g(0) // a phone number
            else if (sym != null && magnitude != null) "$low to ${sym2 ?: sym}$high"
            else "${sym ?: ""}$low to ${sym2 ?: sym ?: ""}$high"
        }
        return sub("(?<=\\d)–(?=\\d)", text, " to ")
    }

    private fun fractionWords(num: Int, den: Int, article: Boolean = false): String? {
        if (num < 1 || den !in FRACTION_DENOMINATORS) return null
        if (num >= den && !(den <= 4 && num < 10)) return null
        val part = when (den) {
            2 -> if (num == 1) "half" else "halves"
            4 -> if (num == 1) "quarter" else "quarters"
            else -> Numbers.ordinal(den.toLong()).removePrefix("one ") + if (num == 1) "" else "s"
        }
        return "${if (article && num == 1) "a" else Numbers.cardinal(num.toLong())} $part"
    }

    private fun smallInt(s: String): Int = s.toBigInteger().min(BigInteger.valueOf(Int.MAX_VALUE.toLong())).toInt()

    private fun fractions(t0: Spanned): Spanned =
        sub("(?<![\\w/.,])(?:(\\d+) )?(\\d+)/(\\d+)(?![\\d/]|[.,]\\d)", t0) { m ->
            val whole = m.group(1); val num = m.g(2); val den = m.g(3)
            if (whole == null && num == "1" && den == "2" && lookingAt("\\s+an?\\b", m.string.substring(m.end())) != null) {
                pad(m, "half")
            } else {
                val words = fractionWords(smallInt(num), smallInt(den), article = whole != null)
                if (words == null) {
                    val w = "${spell(num, yearOk = false)} ${spell(den, yearOk = false)}"
                    pad(m, (if (whole != null) "${spell(whole)} " else "") + w)
                } else {
                    pad(m, if (whole != null) "${spell(whole, yearOk = false)} and $words" else words)
                }
            }
        }

    private fun times(t0: Spanned): Spanned {
        val text = sub("\\b(\\d{1,2}):(\\d{2})(?::(\\d{2}))?(?:\\s*([aApP])\\.?\\s?[mM]\\b\\.?)?", t0) { m ->
            val hour = m.g(1).toInt(); val minute = m.g(2).toInt()
            if (hour > 24 || minute > 59) m.g(0) else {
                var words = Numbers.cardinal(hour.toLong())
                if (minute == 0) words += if (m.group(4) != null) "" else " o'clock"
                else if (minute < 10) words += " oh ${Numbers.ONES[minute]}"
                else words += " " + Numbers.cardinal(minute.toLong())
                if (m.group(3) != null) words += " and " + Numbers.cardinal(m.g(3).toLong()) + " seconds"
                if (m.group(4) != null) {
                    val stop = if (m.g(0).endsWith(".")) sentenceStop(m) else ""
                    words += " ${pyUpper(m.g(4))}M$stop"
                }
                words
            }
        }
        return sub("\\b(1[0-2]|0?[1-9])\\s*([aApP])\\.?\\s?[mM]\\b\\.?", text) { m ->
            val stop = if (m.g(0).endsWith(".")) sentenceStop(m) else ""
            "${Numbers.cardinal(m.g(1).toLong())} ${pyUpper(m.g(2))}M$stop"
        }
    }

    private fun phones(t0: Spanned): Spanned {
        val phone = { m: M -> (1..4).mapNotNull { m.group(it) }.filter { it.isNotEmpty() }.joinToString(", ") { Numbers.digits(it) } }
        val text = sub("(?<![\\w+])(?:\\+?(1)[\\s.-])?\\(?(\\d{3})\\)?[\\s.-](\\d{3})[\\s.-](\\d{4})\\b", t0, phone)
        return sub("(?<![\\w.,-])(\\d{3})-(\\d{4})\\b(?![.,]?\\d)", text) { m -> "${Numbers.digits(m.g(1))}, ${Numbers.digits(m.g(2))}" }
    }

    private fun currency(t0: Spanned): Spanned =
        sub("(?:(?<![^\\s(\\[])([-−]))?([$£€])\\s?$NUM(?:\\s?(thousand|million|billion|trillion|bn|[kKmM])\\b)?", t0) { m ->
            val (unit, units, subUnit, subs) = CURRENCIES.getValue(m.g(2))
            val minus = if (m.group(1) != null) "minus " else ""
            val intPart = m.g(3); val frac = m.group(4); val magnitude = m.group(5)
            if (magnitude != null) {
                pad(m, "$minus${spell(intPart, frac, yearOk = false)} ${MAGNITUDES.getValue(magnitude)} $units")
            } else if (frac != null && frac.length > 2) {
                pad(m, "$minus${spell(intPart, frac, yearOk = false)} $units")
            } else {
                val whole = bigInt(intPart)
                val cents = (frac ?: "0").padEnd(2, '0').toInt()
                val parts = ArrayList<String>()
                if (whole.signum() != 0 || cents == 0) parts.add("${Numbers.cardinal(whole)} ${if (whole == BigInteger.ONE) unit else units}")
                if (cents != 0) parts.add("${Numbers.cardinal(cents.toLong())} ${if (cents == 1) subUnit else subs}")
                pad(m, minus + parts.joinToString(" and "))
            }
        }

    private fun percent(t0: Spanned): Spanned = sub("$SIGN$NUM\\s?%", t0) { m ->
        pad(m, spell(m.g(2), m.group(3), m.g(1), yearOk = false) + " percent")
    }

    private fun metric(name: String, lang: String) = if (lang == "b") name.replace("meter", "metre").replace("liter", "litre") else name

    private fun units(t0: Spanned, lang: String): Spanned {
        val text = sub("$SIGN$NUM\\s?($UNIT_RE)(?![A-Za-z])((?<=[A-Za-z])\\.(?![\\w.]))?", t0) { m ->
            val sign = m.g(1); val intPart = m.g(2); val frac = m.group(3); val symbol = m.g(4)
            val (singular, plural) = UNITS.getValue(symbol)
            val name = metric(if (intPart == "1" && frac == null && sign.isEmpty()) singular else plural, lang)
            val stop = if (m.group(5) != null && m.g(5).isNotEmpty()) sentenceStop(m) else ""
            pad(m, "${spell(intPart, frac, sign, yearOk = false)} $name$stop")
        }
        return sub("\\b(per\\s+)($UNIT_RE)(?![\\w/'-]|\\.\\w)", text) { m ->
            if (m.g(2).length < 2) m.g(0) else m.g(1) + metric(UNITS.getValue(m.g(2)).first, lang)
        }
    }

    private fun decades(t0: Spanned): Spanned {
        val decade = { m: M ->
            val digits = m.g(1)
            val words = if (digits.length == 4) Numbers.year(digits.toLong()) else Numbers.cardinal(digits.toLong())
            val sp = words.lastIndexOf(' ')
            val head = if (sp >= 0) words.substring(0, sp) else ""
            val last = words.substring(sp + 1)
            pad(m, (if (head.isNotEmpty()) "$head " else "") + Numbers.pluralWord(last))
        }
        val text = sub("(?<![\\w'])'(\\d0)s\\b", t0, decade)
        return sub("(?<![\\d,.])(\\d{3}0|[1-9]0)'?s\\b", text, decade)
    }

    private fun ordinals(t0: Spanned): Spanned = sub("(?<![\\d,.])(\\d{1,3}(?:,\\d{3})+|\\d+)(st|nd|rd|th)\\b", t0) { m ->
        pad(m, Numbers.ordinal(bigInt(m.g(1))))
    }

    private fun numbers(t0: Spanned): Spanned {
        val text = sub("$SIGN(?<![\\d,.])$NUM(?![\\d])", t0) { m -> pad(m, spell(m.g(2), m.group(3), m.g(1))) }
        return sub("\\.(\\d+)\\b", text) { m -> pad(m, "point " + Numbers.digits(m.g(1))) }
    }

    /** Value of a well-formed Roman numeral (canonical form only), else null. */
    fun romanValue(numeral: String): Int? {
        if (numeral.isEmpty() || numeral.any { it !in ROMAN }) return null
        var total = 0
        for (i in numeral.indices) {
            val v = ROMAN.getValue(numeral[i])
            total += if (i + 1 < numeral.length && ROMAN.getValue(numeral[i + 1]) > v) -v else v
        }
        return if (total in 1..3999 && toRoman(total) == numeral) total else null
    }

    private fun toRoman(n0: Int): String {
        var n = n0
        val out = StringBuilder()
        for ((value, sym) in listOf(1000 to "M", 900 to "CM", 500 to "D", 400 to "CD", 100 to "C", 90 to "XC", 50 to "L",
                                    40 to "XL", 10 to "X", 9 to "IX", 5 to "V", 4 to "IV", 1 to "I")) {
            while (n >= value) { out.append(sym); n -= value }
        }
        return out.toString()
    }

    /** Python's str.title(). */
    private fun title(s: String): String {
        val out = StringBuilder()
        var prevLetter = false
        for (c in s) {
            out.append(if (prevLetter) Character.toLowerCase(c) else Character.toTitleCase(c))
            prevLetter = Character.isLetter(c)
        }
        return out.toString()
    }

    private fun roman(t0: Spanned): Spanned {
        val kw = ROMAN_KEYWORDS.sorted().joinToString("|")
        val text = sub("\\b((?:$kw)\\.?\\s+)([IVXLCDM]+)\\b(?!['’]|\\.\\w)", t0) { m ->
            val g = m.g(2)
            val value = if (g.length > 1 || g in "IVX") romanValue(g) else null
            if (value != null && value != 0) m.g(1) + Numbers.cardinal(value.toLong()) else m.g(0)
        }
        return sub("\\b([A-Z][a-z]+)\\s+([IVXLC]{2,})\\b(?!['’])", text) { m ->
            val value = romanValue(m.g(2))
            if (m.g(1) !in REGNAL_NAMES || value == null) m.g(0) else "${m.g(1)} the ${title(Numbers.ordinal(value.toLong()))}"
        }
    }

    private fun symbols(t0: Spanned): Spanned {
        var text = sub("(?<=\\w)/(?=\\w)", t0, " slash ")
        for ((sym, word) in SYMBOLS) if (sym != "#") text = sub(Pattern.quote(sym), text, " $word ")
        return text
    }

    fun normalize(text: String, lang: String = "a"): String = normalizeSpans(text, lang).s

    /** `normalize`, keeping for every output character the source span it came from. */
    fun normalizeSpans(text0: String, lang: String = "a"): Spanned {
        var text = Spanned.of(text0)
        text = cleanup(text)
        text = urls(text)
        text = abbreviations(text)
        text = dates(text, lang)
        text = ranges(text)
        text = times(text)
        text = phones(text)
        text = fractions(text)
        text = currency(text)
        text = percent(text)
        text = units(text, lang)
        text = decades(text)
        text = ordinals(text)
        text = numbers(text)
        text = roman(text)
        text = symbols(text)
        text = sub(" {2,}", text, " ")
        text = sub("^ | $", text, "")
        text = sub(" ([,.;:!?…])", text) { m -> m.g(1) }
        return text
    }
}
