package kokoro.litert.runtime.text

/** Numbers as English words (twin of `runtime/text/numbers.py`): cardinals, ordinals, years, decimals, digit strings. */
object Numbers {
    val ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen " +
        "fifteen sixteen seventeen eighteen nineteen").split(" ")
    val TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split(" ")
    val SCALES = listOf("", "thousand", "million", "billion", "trillion")
    private val MAX_CARDINAL = java.math.BigInteger.TEN.pow(3 * SCALES.size).subtract(java.math.BigInteger.ONE) // 999 trillion
    private val IRREGULAR_ORDINALS = mapOf("one" to "first", "two" to "second", "three" to "third", "five" to "fifth",
        "eight" to "eighth", "nine" to "ninth", "twelve" to "twelfth")

    private fun belowThousand(n: Int): List<String> {
        val words = ArrayList<String>()
        val hundreds = n / 100
        val rest = n % 100
        if (hundreds > 0) { words.add(ONES[hundreds]); words.add("hundred") }
        if (rest >= 20) {
            val tens = rest / 10
            val ones = rest % 10
            words.add(TENS[tens] + if (ones > 0) "-${ONES[ones]}" else "")
        } else if (rest > 0 || words.isEmpty()) {
            words.add(ONES[rest])
        }
        return words
    }

    fun cardinal(n: Long): String = cardinal(java.math.BigInteger.valueOf(n))

    fun cardinal(n0: java.math.BigInteger): String {
        var n = n0
        if (n.signum() < 0) return "minus " + cardinal(n.negate())
        if (n > MAX_CARDINAL) return digits(n.toString())
        if (n.signum() == 0) return "zero"
        val groups = ArrayList<List<String>>()
        var scale = 0
        val thousand = java.math.BigInteger.valueOf(1000)
        while (n.signum() > 0) {
            val qr = n.divideAndRemainder(thousand)
            n = qr[0]
            val group = qr[1].toInt()
            if (group > 0) groups.add(belowThousand(group) + if (scale > 0) listOf(SCALES[scale]) else emptyList())
            scale++
        }
        return groups.reversed().flatten().joinToString(" ")
    }

    /** The last word of a spelled cardinal as its ordinal ("twenty-one" -> "twenty-first"). */
    fun ordinalWord(word: String): String {
        val dash = word.lastIndexOf('-')
        val head = if (dash >= 0) word.substring(0, dash + 1) else ""
        var last = if (dash >= 0) word.substring(dash + 1) else word
        last = when {
            last in IRREGULAR_ORDINALS -> IRREGULAR_ORDINALS.getValue(last)
            last.endsWith("y") -> last.dropLast(1) + "ieth"
            else -> last + "th"
        }
        return head + last
    }

    fun ordinal(n: Long): String = ordinal(java.math.BigInteger.valueOf(n))

    fun ordinal(n: java.math.BigInteger): String {
        val words = cardinal(n).split(" ").toMutableList()
        words[words.size - 1] = ordinalWord(words.last())
        return words.joinToString(" ")
    }

    /** A four-digit number read as a year (numbers.py `year`). */
    fun year(n: Long): String {
        if (n < 1000 || n > 9999) return cardinal(n)
        val high = n / 100
        val low = n % 100
        if (n % 1000 == 0L || (high % 10 == 0L && low < 10)) return cardinal(n)
        if (low == 0L) return cardinal(high) + " hundred"
        if (low < 10) return "${cardinal(high)} oh ${ONES[low.toInt()]}"
        return "${cardinal(high)} ${cardinal(low)}"
    }

    fun pluralWord(word: String) = if (word.endsWith("y")) word.dropLast(1) + "ies" else word + "s"

    /** Read each digit: "0451" -> "zero four five one". */
    fun digits(s: String, zero: String = "zero"): String =
        s.filter { it in '0'..'9' }.map { if (it == '0') zero else ONES[it - '0'] }.joinToString(" ")

    fun decimal(intPart0: String, fracPart: String): String {
        val intPart = intPart0.replace(",", "")
        val head = if (intPart.isNotEmpty()) cardinal(java.math.BigInteger(intPart)) + " " else ""
        return "${head}point ${digits(fracPart)}"
    }
}
