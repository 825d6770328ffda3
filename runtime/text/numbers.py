"""Spell numbers as English words: cardinals, ordinals, years, decimals, digit strings.

Written for this project (upstream misaki uses the num2words package, which is not a runtime
dependency here). Output follows what upstream feeds its lexicon after dropping num2words'
British "and": 123 -> "one hundred twenty-three", 2007 (year) -> "two thousand seven".
"""

from __future__ import annotations

ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ("", "thousand", "million", "billion", "trillion")
MAX_CARDINAL = 10 ** (3 * len(SCALES)) - 1  # 999 trillion; larger numbers are read digit by digit

# Ordinal forms that are not "cardinal + th".
_IRREGULAR_ORDINALS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth",
    "eight": "eighth", "nine": "ninth", "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(TENS[tens] + (f"-{ONES[ones]}" if ones else ""))
    elif rest or not words:
        words.append(ONES[rest])
    return words


def cardinal(n: int) -> str:
    """123456 -> "one hundred twenty-three thousand four hundred fifty-six"; negatives get "minus"."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n > MAX_CARDINAL:
        return digits(str(n))
    if n == 0:
        return "zero"
    groups = []
    scale = 0
    while n:
        n, group = divmod(n, 1000)
        if group:
            groups.append(_below_thousand(group) + ([SCALES[scale]] if scale else []))
        scale += 1
    return " ".join(w for group in reversed(groups) for w in group)


def ordinal_word(word: str) -> str:
    """Turn the last word of a spelled cardinal into its ordinal ("twenty-one" -> "twenty-first")."""
    head, sep, last = word.rpartition("-")
    if last in _IRREGULAR_ORDINALS:
        last = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def ordinal(n: int) -> str:
    """3 -> "third", 21 -> "twenty-first", 100 -> "one hundredth"."""
    words = cardinal(n).split(" ")
    words[-1] = ordinal_word(words[-1])
    return " ".join(words)


def year(n: int) -> str:
    """Read a four-digit number as a year: 1999 -> "nineteen ninety-nine", 1905 -> "nineteen oh five",
    1900 -> "nineteen hundred", 2000 -> "two thousand", 2007 -> "two thousand seven",
    2026 -> "twenty twenty-six"."""
    if not 1000 <= n <= 9999:
        return cardinal(n)
    high, low = divmod(n, 100)
    if n % 1000 == 0 or (high % 10 == 0 and low < 10):
        return cardinal(n)  # 2000, 2007, 1000, 3005
    if low == 0:
        return cardinal(high) + " hundred"
    if low < 10:
        return f"{cardinal(high)} oh {ONES[low]}"
    return f"{cardinal(high)} {cardinal(low)}"


def plural_word(word: str) -> str:
    """Plural of the last spelled word, for decades: "ninety" -> "nineties", "hundred" -> "hundreds"."""
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def digits(s: str, zero: str = "zero") -> str:
    """Read each digit: "0451" -> "zero four five one"."""
    return " ".join(zero if c == "0" else ONES[int(c)] for c in s if c.isdigit())


def decimal(int_part: str, frac_part: str) -> str:
    """"3", "14" -> "three point one four"; "", "5" -> "point five"; commas in int_part ignored."""
    int_part = int_part.replace(",", "")
    head = cardinal(int(int_part)) + " " if int_part else ""
    return f"{head}point {digits(frac_part)}"
