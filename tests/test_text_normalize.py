"""Table-driven tests for the English text normalizer (kokoro_litert.runtime.text.normalize).

Every expected string was checked by hand against standard American English readings; where a
reading follows upstream misaki rather than a style guide (four-digit numbers read as years, no
"and" inside cardinals) the row says so.
"""

import pytest

from kokoro_litert.runtime.text import normalize

CASES = [
    # cardinals
    ("0", "zero"),
    ("13", "thirteen"),
    ("21", "twenty-one"),
    ("100", "one hundred"),
    ("101", "one hundred one"),  # upstream drops num2words' "and"
    ("999", "nine hundred ninety-nine"),
    ("1,000", "one thousand"),
    ("10,001", "ten thousand one"),
    ("2,500", "two thousand five hundred"),
    ("1,000,000", "one million"),
    ("123,456,789", "one hundred twenty-three million four hundred fifty-six thousand seven hundred eighty-nine"),
    ("I have 3 apples.", "I have three apples."),
    ("007", "zero zero seven"),  # leading zero: digits
    # negatives and decimals
    ("-7", "minus seven"),
    ("-3.5", "minus three point five"),
    ("0.25", "zero point two five"),
    (".5", "point five"),
    ("3.14", "three point one four"),
    ("x-5", "x-five"),  # hyphen inside a token is not a minus sign
    # ordinals
    ("1st", "first"),
    ("2nd", "second"),
    ("3rd", "third"),
    ("4th", "fourth"),
    ("11th", "eleventh"),
    ("12th", "twelfth"),
    ("22nd", "twenty-second"),
    ("101st", "one hundred first"),
    ("100th", "one hundredth"),
    # years and decades (any plain four-digit integer is a year, as upstream)
    ("1999", "nineteen ninety-nine"),
    ("1066", "ten sixty-six"),
    ("1900", "nineteen hundred"),
    ("1905", "nineteen oh five"),
    ("2000", "two thousand"),
    ("2007", "two thousand seven"),
    ("2010", "twenty ten"),
    ("2026", "twenty twenty-six"),
    ("the 1990s", "the nineteen nineties"),
    ("the 80s", "the eighties"),
    ("the '60s", "the sixties"),
    # currency
    ("$1", "one dollar"),
    ("$3.50", "three dollars and fifty cents"),
    ("$0.99", "ninety-nine cents"),
    ("$1,200", "one thousand two hundred dollars"),
    ("$5 million", "five million dollars"),
    ("$1.5bn", "one point five billion dollars"),
    ("costs -$5", "costs minus five dollars"),
    ("£2.50", "two pounds and fifty pence"),
    ("£1.01", "one pound and one penny"),
    ("€10", "ten euros"),
    ("€1.50", "one euro and fifty cents"),
    # percentages
    ("50%", "fifty percent"),
    ("3.5%", "three point five percent"),
    # times
    ("7:45", "seven forty-five"),
    ("7:05", "seven oh five"),
    ("7:00", "seven o'clock"),
    ("at 6:30 p.m. Then", "at six thirty PM. Then"),  # the abbreviation's period also ends the sentence
    ("at 6:30 p.m. today", "at six thirty PM today"),
    ("11:15 AM", "eleven fifteen AM"),
    ("at 9am sharp", "at nine AM sharp"),
    # dates
    ("March 3rd, 2027", "March third, twenty twenty-seven"),
    ("Jan. 5", "January fifth"),
    ("on Dec 25", "on December twenty-fifth"),
    ("2026-10-01", "October first, twenty twenty-six"),
    ("10/05/2026", "October fifth, twenty twenty-six"),  # American order: month first
    ("25/12/2026", "December twenty-fifth, twenty twenty-six"),  # a first part over 12 is the day
    ("on 10-05-2026.", "on October fifth, twenty twenty-six."),
    ("13/13/2026", "thirteen slash thirteen slash twenty twenty-six"),  # no such date: read as written
    ("in Feb. 2019", "in February twenty nineteen"),
    # phone numbers: digit by digit, groups separated by commas
    ("(555) 123-4567", "five five five, one two three, four five six seven"),
    ("555-867-5309", "five five five, eight six seven, five three zero nine"),
    ("+1 800 555 0199", "one, eight zero zero, five five five, zero one nine nine"),
    ("Tel: 555-1234.", "Tel: five five five, one two three four."),
    # abbreviations and titles
    ("Dr. Smith", "Doctor Smith"),
    ("Mr. Jones", "Mister Jones"),
    ("Mrs. Brown", "Missus Brown"),
    ("St. Louis", "Saint Louis"),
    ("in St. Louis.", "in Saint Louis."),
    ("Main St.", "Main Street."),
    ("Baker St.", "Baker Street."),
    ("221 Baker St., Suite 3B", "two hundred twenty-one Baker Street, Suite three B"),
    ("221 Baker St. Then we", "two hundred twenty-one Baker Street. Then we"),  # the period also ends the sentence
    ("Baker St. is closed", "Baker Street is closed"),
    ("Main St is", "Main Street is"),
    ("on Church St. Then", "on Church Street. Then"),
    ("Mount St. Helens", "Mount Saint Helens"),  # a saint's name after a capitalized word
    ("Yves St. Laurent", "Yves Saint Laurent"),
    ("The St. Regis", "The Saint Regis"),  # not a saint we list, but "The" is no street name
    ("in St Kilda", "in Saint Kilda"),
    ("Elm Dr. is", "Elm Drive is"),
    ("apples, etc. Next", "apples, et cetera. Next"),
    ("us vs. them", "us versus them"),
    ("e.g. this", "for example this"),
    ("No. 7", "number seven"),
    ("#1", "number one"),
    ("The U.S. economy", "The U.S. economy"),  # dotted initialisms are spelled by the G2P
    # units
    ("5 kg", "five kilograms"),
    ("1 kg", "one kilogram"),
    ("250 ml", "two hundred fifty milliliters"),
    ("10 km", "ten kilometers"),
    ("-5°C", "minus five degrees Celsius"),
    ("98.6°F", "ninety-eight point six degrees Fahrenheit"),
    ("60 mph", "sixty miles per hour"),
    ("2.5 GB", "two point five gigabytes"),
    ("30 min", "thirty minutes"),
    ("every 20 min. from here", "every twenty minutes from here"),  # the unit's period is not a stop
    ("it took 5 km.", "it took five kilometers."),
    ("34 mpg", "thirty-four miles per gallon"),
    ("$1.10 per lb", "one dollar and ten cents per pound"),
    ("60 per m", "sixty per m"),  # one-letter symbols are too ambiguous without a number
    ("5 minutes", "five minutes"),  # a spelled unit is not an abbreviation
    # Roman numerals, only where unambiguous
    ("Henry VIII", "Henry the Eighth"),
    ("Elizabeth II", "Elizabeth the Second"),
    ("Louis XIV", "Louis the Fourteenth"),
    ("Pope Benedict XVI", "Pope Benedict the Sixteenth"),
    ("Final Fantasy VII", "Final Fantasy VII"),  # not a regnal name: ambiguous, left alone
    ("World War II", "World War two"),
    ("Chapter IV", "Chapter four"),
    ("Super Bowl LVIII", "Super Bowl fifty-eight"),
    ("Medicare Part D", "Medicare Part D"),  # a lone C/D/L/M after a keyword is a letter
    ("Malcolm X", "Malcolm X"),  # single letters after a name stay letters
    ("Vitamin C", "Vitamin C"),
    ("I am", "I am"),
    # symbols, urls, mixed tokens, dashes
    ("rock & roll", "rock and roll"),
    ("2 + 2 = 4", "two plus two equals four"),
    ("me@example.com", "me at example dot com"),
    ("mp3", "mp three"),
    ("B2B", "B two B"),
    ("10–20", "ten to twenty"),
    # fractions
    ("1/2", "one half"),
    ("1/4", "one quarter"),
    ("3/4", "three quarters"),
    ("2/3", "two thirds"),
    ("5/8", "five eighths"),
    ("7/16", "seven sixteenths"),
    ("1/100", "one hundredth"),
    ("3/2", "three halves"),
    ("1 1/2 cups", "one and a half cups"),
    ("2 3/4", "two and three quarters"),
    ("1/2 a cup", "half a cup"),
    ("24/7", "twenty-four seven"),  # improper, not halves or quarters: a ratio
    ("50/50", "fifty fifty"),
    ("9/11", "nine eleven"),  # elevenths are not a fraction people write
    ("1/2.", "one half."),
    # ranges: hyphen or en dash between exactly two numbers
    ("2-3 days", "two to three days"),
    ("1990–1995", "nineteen ninety to nineteen ninety-five"),
    ("1990-1995", "nineteen ninety to nineteen ninety-five"),
    ("1990-95", "nineteen ninety to ninety-five"),
    ("won 3-2", "won three to two"),  # scores read the same way
    ("5-10%", "five to ten percent"),
    ("2.5-3.5 kg", "two point five to three point five kilograms"),
    ("$10-$20", "ten dollars to twenty dollars"),
    ("9:00-10:30", "nine o'clock to ten thirty"),
    ("2-3 p.m.", "two to three PM."),
    ("10–$20", "ten to twenty dollars"),
    ("555-1234", "five five five, one two three four"),  # three then four digits: a phone number
    ("2-3-year-old", "two-three-year-old"),  # three numbers: not a range
    ("wait -- no", "wait — no"),
    ("so...", "so…"),
    ("", ""),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_normalize_american(text, expected):
    assert normalize(text, "a") == expected


def test_table_size():
    assert len(CASES) >= 60


@pytest.mark.parametrize("text,expected", [
    ("10 km", "ten kilometres"),
    ("250 ml", "two hundred fifty millilitres"),
    ("£2.50", "two pounds and fifty pence"),
    ("10/05/2026", "May tenth, twenty twenty-six"),  # British order: day first
    ("12/25/2026", "December twenty-fifth, twenty twenty-six"),  # no 25th month: American order
    ("£3 per kg", "three pounds per kilogram"),
    ("5 km per hr", "five kilometres per hour"),
])
def test_normalize_british_spelling(text, expected):
    assert normalize(text, "b") == expected


def test_huge_number_is_read_digit_by_digit():
    # Beyond 999 trillion there is no scale word; read the digits rather than invent one.
    assert normalize("12345678901234567") == (
        "one two three four five six seven eight nine zero one two three four five six seven")


def test_spans_point_back_to_source():
    from kokoro_litert.runtime.text.normalize import normalize_spans

    src = "Pay $3.50 at 7:45 to Dr. Who"
    out = normalize_spans(src)
    assert out.s == "Pay three dollars and fifty cents at seven forty-five to Doctor Who"
    assert len(out.spans) == len(out.s)

    def source_of(word):
        i = out.s.index(word)
        a, b = out.source_span(i, i + len(word))
        return src[a:b].strip()

    assert source_of("Pay") == "Pay"
    assert source_of("fifty") == "$3.50"
    assert source_of("forty-five") == "7:45"
    assert source_of("Doctor") == "Dr."
    assert source_of("Who") == "Who"
