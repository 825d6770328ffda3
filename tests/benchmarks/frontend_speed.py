"""Speed and memory of the English front-end (normalize + G2P), without any synthesis.

    python tests/benchmarks/frontend_speed.py                  # the built-in ~1,000-word text
    python tests/benchmarks/frontend_speed.py --text-file F --repeats 5 --lang b

Memory figures are only meaningful in a fresh process: `ru_maxrss` is the process's high-water
mark, so after something bigger (torch, a model) has run, the front-end adds nothing to it.
"""

from __future__ import annotations

import gc
import resource
import statistics
import sys
import time
import tracemalloc

MB = 1024 * 1024
# ru_maxrss is in kilobytes on Linux and in bytes on macOS (getrusage(2)).
MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024

# Original text written for this benchmark: plain prose mixed with what the normalizer rewrites
# (numbers, currency, dates, times, units, abbreviations, fractions, ranges), about 1,000 words.
SAMPLE_TEXT = """\
The harbor town of Westmere wakes up slowly. By 6:30 a.m. the first ferry has already crossed the \
bay, carrying 212 passengers, 14 cars and a crate of oranges that nobody ever seems to claim. The \
captain, a tall woman named Ruth Alder, has made the same crossing for 23 years. She says the water \
looks different every morning, even when the weather report promises nothing new.

On the quay, Mr. Ellison opens his bakery at seven sharp. A loaf of rye costs $3.75, a dozen rolls \
cost $5.20, and the famous cinnamon buns sell for $2.50 each or $12 for six. He buys his flour from \
a mill 48 km up the river, and he insists that the recipe has not changed since 1952, when his \
grandmother wrote it on the back of an envelope. The envelope hangs framed above the oven, slightly \
brown at the corners.

The town council met on Tuesday, March 4th, 2025, to discuss the new sea wall. Engineers estimated \
the cost at $4.8 million, roughly 15% more than the figure quoted in 2023. Dr. Patel, who chairs the \
planning committee, pointed out that the old wall was built in the 1890s and has been repaired at \
least 9 times. "We can keep patching it," she said, "or we can build something that lasts another \
100 years." The vote was 7-2 in favor, and construction should begin on 2025-09-15.

Tourists arrive mostly between June and August. Last summer the visitor center counted 38,400 \
guests, up from 31,250 the year before. The most popular walk is the cliff path, which climbs 1,200 \
ft. over 3.5 miles and ends at the lighthouse on St. Agnes Point. The lighthouse keeper, an old man \
who refuses to give his name, charges €2 for a look through the telescope. On a clear day you can see \
the islands 20-25 miles to the west, and on a very clear day you can see rain coming long before it \
reaches the shore.

The school on Baker St. has 412 pupils and 27 teachers. Its science club recently won second place \
in a regional contest with a model of the tides built from 1/2 a bicycle wheel, 3/4 of a garden hose \
and an old clock motor. The judges, including Prof. Okafor from the university, praised the design \
but noted that the moon was drawn about 2.5 times too large. The pupils took the criticism \
cheerfully and are already planning next year's entry, something involving 5 kg of sand and a fan.

Every Saturday there is a market in the square. Farmers bring potatoes at $1.10 per lb, honey at \
$8.99 a jar, and eggs that come in every shade from pale cream to deep brown. A fiddler plays near \
the fountain from 10:00 to 1:30, taking requests for 50 cents a song. Children chase pigeons, dogs \
wait hopefully under the cheese stall, and the smell of fried fish drifts over from the harbor. By \
2 p.m. the stalls are packed away and the square is quiet again.

Winter is harder. The temperature can drop to -12°C in January, and the ferry sometimes stops for 3 \
or 4 days when the storms come in. The town keeps an emergency store of 2,000 liters of fuel and \
enough canned food for about 6 weeks. Most families also keep their own supplies, and neighbors check \
on each other without being asked. In the storm of Feb. 2019, the power went out for 71 hours, and \
the only working radio in town belonged to a retired sailor who relayed the weather forecasts by \
shouting them from his porch.

The local newspaper, founded in 1887, still prints 1,500 copies every Thursday. It costs $1.25 and \
runs about 24 pages, a third of which are classified ads. Readers can buy a used boat, sell a piano \
or find a lost cat, and the letters page is famous for arguments that last for months. Last year a \
debate about whether the town clock ran 2 minutes fast filled 11 consecutive issues. The editor, \
Mrs. Romano, finally settled it by climbing the tower with a stopwatch at 12:00 noon. The clock was \
right; the complainers were wrong.

Fishing remains the heart of the economy. The cooperative lists 63 registered boats, and together \
they landed about 4,700 tonnes of fish in 2024, worth an estimated £9.6 million at auction. Prices \
swing with the seasons: cod might fetch £3.40 per kg in spring and nearly twice that in December. \
Younger crews have started selling directly to restaurants in the city, 140 km away, using a \
refrigerated van that leaves at 4:15 every morning. The older fishermen grumble about it, but several \
have quietly asked to join.

Getting there is simpler than it used to be. A bus leaves the city at 8:05 a.m. and 5:40 p.m., \
takes about 2 1/2 hours, and costs $14.50 one way. Drivers with electric cars will find 4 chargers \
behind the post office, billed at 30 cents per kWh. The road itself was widened in Oct. 2021 after \
a long campaign, and the speed limit on the coastal stretch is 45 mph, though most locals drive \
slower to watch the water. Cyclists should budget 3-4 hours to ride its 62 km and carry at least \
1.5 liters of water, because the only café on the way, at mile 17, opens just 4 days a week. Its \
owner, Jim Costa, keeps a logbook of every traveler since 1998; he claims the total passed 10,000 \
on 06/14/2023.

If you visit, stay at least 2 nights. The inn by the harbor has 16 rooms, charges $95 a night \
including breakfast, and serves a fish stew that people drive 3 hours to eat. Ask for a room on the \
2nd floor, facing the water, and leave the window open a little. Around midnight the foghorn sounds \
twice, the boats creak against their ropes, and the whole town seems to breathe out at once. In the \
morning the ferry will be waiting, and Ruth Alder will tell you, as she tells everyone, that today the \
water looks different.
"""


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * MAXRSS_UNIT


def _drop_lexicon() -> None:
    """Forget the cached lexicon tables, so the next `lexicon(lang)` reads them as a fresh process would."""
    from kokoro_litert.runtime.text.g2p import lexicon
    from kokoro_litert.runtime.text.lexicon import load_tables

    lexicon.cache_clear()
    load_tables.cache_clear()
    gc.collect()


def bench_frontend(text: str | None = None, repeats: int = 3, lang: str = "a") -> dict:
    """Time and measure `phonemize` on `text` (default: `SAMPLE_TEXT`, about 1,000 words).

    The lexicon is read twice: untraced for the times and the RSS figure, then under tracemalloc for
    the Python heap figures, so tracing never inflates a timed step or the RSS. This clears the
    process's lexicon caches: later callers see the freshly loaded tables.

    Returns plain numbers:

    - ``lang``: the accent measured, "a" or "b".
    - ``words``: whitespace-separated words in the source text (the words/s numerator).
    - ``chars``: characters in the source text.
    - ``phonemes``: characters in the phoneme output for the whole text.
    - ``warnings``: warning lines `phonemize` returned for the text.
    - ``repeats``: timed passes over the text after the first call.
    - ``load_seconds``: opening the lexicon tables (SQLite in the user cache, `lexicon.load_tables`).
    - ``first_call_seconds``: the first `phonemize` of the text after the load (espeak-ng
      initialization for out-of-lexicon words and other one-time work included).
    - ``pass_seconds_best``, ``pass_seconds_median``: one pass over the whole text, lexicon loaded.
    - ``words_per_second``: ``words / pass_seconds_best``.
    - ``tracemalloc_peak_mb``: peak Python heap allocated while loading the lexicon and
      phonemizing the text once, above what was allocated before (MiB).
    - ``lexicon_mb``: Python heap the loaded lexicon keeps (MiB).
    - ``rss_delta_mb``: growth of the process's peak resident set size (ru_maxrss) over the load
      and the timed passes (MiB); includes native memory such as libespeak-ng, and is about 0 when
      the process had already peaked higher or already held the lexicon before the call.
    """
    from kokoro_litert.runtime.text.g2p import LANGS, lexicon, phonemize

    if lang not in LANGS:
        raise ValueError(f"unsupported lang {lang!r}: use lang='a' (American) or lang='b' (British)")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    text = SAMPLE_TEXT if text is None else text
    words = len(text.split())
    if not words:
        raise ValueError("the text has no words to phonemize; pass some text or None for the built-in sample")

    # Time and resident memory first, untraced: tracemalloc's per-allocation bookkeeping would
    # slow every step and roughly double the RSS of the lexicon's many small objects.
    rss_before = _maxrss_bytes()
    _drop_lexicon()
    start = time.perf_counter()
    lexicon(lang)
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = phonemize(text, lang)
    first_call_seconds = time.perf_counter() - start
    passes = []
    for _ in range(repeats):
        start = time.perf_counter()
        phonemize(text, lang)
        passes.append(time.perf_counter() - start)
    rss_delta = max(0, _maxrss_bytes() - rss_before)

    # Python heap: a second load + one pass under tracemalloc (an outer tracer is left running).
    outer = tracemalloc.is_tracing()
    if not outer:
        tracemalloc.start()
    _drop_lexicon()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    lexicon(lang)
    gc.collect()
    lexicon_bytes = tracemalloc.get_traced_memory()[0] - base
    phonemize(text, lang)
    peak = tracemalloc.get_traced_memory()[1] - base
    if not outer:
        tracemalloc.stop()

    return {
        "lang": lang,
        "words": words,
        "chars": len(text),
        "phonemes": len(result.phonemes),
        "warnings": len(result.warnings),
        "repeats": repeats,
        "load_seconds": load_seconds,
        "first_call_seconds": first_call_seconds,
        "pass_seconds_best": min(passes),
        "pass_seconds_median": statistics.median(passes),
        "words_per_second": words / min(passes),
        "tracemalloc_peak_mb": peak / MB,
        "lexicon_mb": lexicon_bytes / MB,
        "rss_delta_mb": rss_delta / MB,
    }


def main() -> None:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-file", type=Path, help="text to phonemize (default: the built-in sample)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lang", default="a", choices=["a", "b"])
    args = parser.parse_args()
    text = args.text_file.read_text(encoding="utf-8") if args.text_file else None
    for key, value in bench_frontend(text, args.repeats, args.lang).items():
        print(f"{key:22} {value:.4g}" if isinstance(value, float) else f"{key:22} {value}")


if __name__ == "__main__":
    main()
