"""First-use cost of the Mandarin and Japanese text front-ends: load time and memory.

    python tests/benchmarks/frontend_load.py [--repeat 3] [--json out.json]

Each measurement runs in a fresh Python process that first imports kokoro_litert.runtime.text (the
English front-end, always loaded) and then times the first `phonemize` call of one language, which
imports the language's packages and builds its readers. Printed per case: seconds for that first
call, seconds for a second call of the same sentence (steady state), and the resident memory it
added (RSS after minus RSS before, MB). The median of --repeat runs is reported.

Cases:
- zh, cold cache: jieba builds its prefix dictionary from its word list (kokoro-litert's cache
  folder is empty, as on a first run after installation);
- zh, warm cache: jieba reads that dictionary back from kokoro-litert's cache (every later run);
- ja: fugashi opens unidic-lite's MeCab dictionary, misaki reads its word list.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

SENTENCES = {
    "z": "我在2024年3月5日花了12.5元，今天天气很好。",
    "j": "2024年3月5日に1,500円を払いました。今日はいい天気です。",
}

_CHILD = r"""
import json, os, sys, time

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

import kokoro_litert.runtime.text  # noqa: F401  (the base runtime's text front-end, loaded anyway)
lang, sentence = sys.argv[1], sys.argv[2]
before = rss_mb()
t0 = time.perf_counter()
if lang == "z":
    from kokoro_litert.runtime.text import mandarin as frontend
else:
    from kokoro_litert.runtime.text import japanese as frontend
frontend.phonemize(sentence)
first = time.perf_counter() - t0
t1 = time.perf_counter()
frontend.phonemize(sentence)
second = time.perf_counter() - t1
print(json.dumps({"first_s": first, "second_s": second, "rss_mb": rss_mb() - before}))
"""


def measure(lang: str, cache_dir: str) -> dict:
    env = dict(os.environ, KOKORO_LITERT_CACHE=cache_dir)
    out = subprocess.run([sys.executable, "-c", _CHILD, lang, SENTENCES[lang]], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    results = {}
    cold, warm, ja = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(measure("z", cache))  # empty cache: jieba builds and writes its dictionary
            warm.append(measure("z", cache))  # the same cache, now holding jieba's dictionary
            ja.append(measure("j", cache))
    results["zh, cold cache"] = median_of(cold)
    results["zh, warm cache"] = median_of(warm)
    results["ja"] = median_of(ja)

    print(f"{'case':<16} {'first call s':>12} {'second call s':>14} {'RSS added MB':>13}")
    for case, r in results.items():
        print(f"{case:<16} {r['first_s']:>12.2f} {r['second_s']:>14.4f} {r['rss_mb']:>13.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
