"""Lexicon lookup in misaki's gold and silver dictionaries, with stress rules and -s/-ed/-ing stems.

Re-implements the behaviour of misaki 0.9.4 `en.Lexicon` (misaki/en.py; Apache-2.0) without its
spaCy tags: callers pass a coarse tag guessed from context instead. Data: misaki/data/{us,gb}_{gold,
silver}.json, read with importlib.resources and kept as SQLite tables in the user cache
(`load_tables`); the exported portable form is described in `kokoro_litert.runtime.text` (the
package docstring).

Phoneme conventions (misaki's): ˈ primary and ˌ secondary stress sit right before the stressed
vowel; A I O W Y Q are the diphthongs eɪ aɪ oʊ aʊ ɔɪ əʊ; ᵊ is a reduced schwa, ᵻ a reduced ɪ/ə.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import json
import os
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Union

PRIMARY = "ˈ"
SECONDARY = "ˌ"
STRESSES = PRIMARY + SECONDARY
VOWELS = frozenset("AIOQWYaiuæɑɒɔəɛɜɪʊʌᵻ")
CONSONANTS = frozenset("bdfhjklmnpstvwzðŋɡɹɾʃʒʤʧθ")
# Vowels before which an American t between vowels becomes a flap (-ed, -ing).
US_TAUS = frozenset("AIOWYiuæɑəɛɪɹʊʌ")
# Letters the dictionaries spell with; other words go to the fallback.
LEXICON_CHARS = frozenset("'-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

# Capitalization is a stress hint (upstream's cap_stresses): Capitalized 0.5, ALL CAPS 2.
CAPITALIZED_STRESS = 0.5
ALL_CAPS_STRESS = 2

FORMAT_MAGIC = "# kokoro-litert lexicon v1"

Entry = Union[str, dict]  # phonemes, or {tag: phonemes or None} with a "DEFAULT" key


def restress(ps: str) -> str:
    """Move every stress mark to just before the next vowel after it."""
    out = list(ps)
    marks = [i for i, c in enumerate(out) if c in STRESSES]
    for i in reversed(marks):
        j = next((k for k in range(i + 1, len(out)) if out[k] in VOWELS), None)
        if j is not None:
            mark = out.pop(i)
            out.insert(j - 1, mark)
    return "".join(out)


def apply_stress(ps: str | None, stress: float | None) -> str | None:
    """Adjust stress marks for a stress request (upstream semantics).

    None: unchanged. < -1: strip all stress. -1, or 0/-0.5 on a word with a primary stress:
    demote (primary -> secondary, secondaries dropped). 0/0.5/1 on an unstressed word: add a
    secondary. >= 1 with only secondaries: promote them. > 1 on an unstressed word: add a primary.
    """
    if ps is None or stress is None:
        return ps
    has_vowel = any(c in VOWELS for c in ps)
    unstressed = not any(c in ps for c in STRESSES)
    if stress < -1:
        return ps.replace(PRIMARY, "").replace(SECONDARY, "")
    if stress == -1 or (stress in (0, -0.5) and PRIMARY in ps):
        return ps.replace(SECONDARY, "").replace(PRIMARY, SECONDARY)
    if stress in (0, 0.5, 1) and unstressed:
        return restress(SECONDARY + ps) if has_vowel else ps
    if stress >= 1 and PRIMARY not in ps and SECONDARY in ps:
        return ps.replace(SECONDARY, PRIMARY)
    if stress > 1 and unstressed:
        return restress(PRIMARY + ps) if has_vowel else ps
    return ps


def parent_tag(tag: str | None) -> str | None:
    """Penn tag -> the coarse tag the dictionaries key on (VB* -> VERB, NN* -> NOUN, ...)."""
    if tag is None:
        return None
    if tag.startswith("VB"):
        return "VERB"
    if tag.startswith("NN"):
        return "NOUN"
    if tag.startswith(("RB", "ADV")):
        return "ADV"
    if tag.startswith(("JJ", "ADJ")):
        return "ADJ"
    return tag


def grow(d: dict) -> dict:
    """Add Capitalized forms of lowercase keys and lowercase forms of Capitalized keys (upstream)."""
    extra = {}
    for k, v in d.items():
        if len(k) < 2:
            continue
        if k == k.lower():
            if k != k.capitalize():
                extra[k.capitalize()] = v
        elif k == k.lower().capitalize():
            extra[k.lower()] = v
    return {**extra, **d}


def load_json_tables(lang: str) -> tuple[dict, dict]:
    """(gold, silver) for lang "a" or "b" as dicts, case-grown, from misaki's JSON (~55 MB, 0.2 s)."""
    prefix = "gb" if lang == "b" else "us"
    pkg = importlib.resources.files("misaki.data")
    tables = []
    for tier in ("gold", "silver"):
        with (pkg / f"{prefix}_{tier}.json").open(encoding="utf-8") as f:
            tables.append(grow(json.load(f)))
    return tables[0], tables[1]


TABLE_FORMAT = 1
"""Version of the on-disk lookup tables below; part of their file name."""


class DiskTable:
    """One tier (gold or silver) of a lexicon looked up in a read-only SQLite file: the dict
    interface the lookups use (get, in, []), without holding 180,000 entries in the heap."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.Lock, tier: str):
        self._connection, self._lock = connection, lock
        self._query = f"SELECT v FROM {tier} WHERE k = ?"

    def get(self, word: str, default=None):
        with self._lock:
            row = self._connection.execute(self._query, (word,)).fetchone()
        if row is None:
            return default
        return json.loads(row[0]) if row[0].startswith("{") else row[0]  # phonemes never start with "{"

    def __contains__(self, word: str) -> bool:
        return self.get(word, _MISSING) is not _MISSING

    def __getitem__(self, word: str):
        value = self.get(word, _MISSING)
        if value is _MISSING:
            raise KeyError(word)
        return value


_MISSING = object()


def table_path(lang: str, folder: Path) -> Path:
    from importlib.metadata import version

    return folder / f"{'gb' if lang == 'b' else 'us'}-misaki{version('misaki')}-v{TABLE_FORMAT}.sqlite"


def _write_tables(path: Path, lang: str) -> None:
    """Write gold and silver into `path` atomically (a temporary file beside it, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            for tier, table in zip(("gold", "silver"), load_json_tables(lang)):
                db.execute(f"CREATE TABLE {tier} (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID")
                db.executemany(f"INSERT INTO {tier} VALUES (?, ?)",
                               ((k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                                for k, v in table.items()))
            db.commit()
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@functools.lru_cache(maxsize=None)
def load_tables(lang: str):
    """(gold, silver) for lang "a" or "b", case-grown, once per process: DiskTables over a SQLite
    copy of misaki's data in the user cache (written on first use, ~2 s), or dicts when the cache
    cannot be written."""
    from kokoro_litert.runtime.cache import cache_root

    path = table_path(lang, cache_root() / "lexicon")
    try:
        if not path.is_file():
            _write_tables(path, lang)
        connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        connection.execute("SELECT 1 FROM gold LIMIT 1").fetchone()  # a truncated or foreign file fails here
    except (OSError, sqlite3.Error):
        with contextlib.suppress(OSError):
            if path.is_file():
                path.unlink()  # unreadable: written again next time
        return load_json_tables(lang)
    lock = threading.Lock()
    return DiskTable(connection, lock, "gold"), DiskTable(connection, lock, "silver")


class Lexicon:
    """Dictionary lookup for one accent: exact and case-folded entries, heteronym tags, letter
    spelling of acronyms, and -s/-'s/-ed/-ing forms of known stems. Returns None for unknown words."""

    def __init__(self, lang: str, gold: dict | None = None, silver: dict | None = None):
        self.british = lang == "b"
        if gold is None:
            gold, silver = load_tables(lang)
        self.gold = gold
        self.silver = silver or {}

    # -- plain entries -------------------------------------------------------------------------

    def entry(self, word: str, gold_only: bool = False) -> Entry | None:
        e = self.gold.get(word)
        if e is None and not gold_only:
            e = self.silver.get(word)
        return e

    def is_known(self, word: str) -> bool:
        if word in self.gold or word in self.silver:
            return True
        if not word.isalpha() or not all(c in LEXICON_CHARS for c in word):
            return False
        if len(word) == 1:
            return True
        if word == word.upper() and word.lower() in self.gold:
            return True
        return word[1:] == word[1:].upper()  # mixed-case acronyms ("McX" is not; "iOS"-like are)

    @staticmethod
    def pick(entry: Entry, tag: str | None, phrase_final: bool) -> tuple[str | None, bool]:
        """Choose a heteronym reading. Returns (phonemes, found); phonemes None means "spell it"."""
        if isinstance(entry, str):
            return entry, True
        if phrase_final and "None" in entry:
            key = "None"  # the stressed form used before a pause ("I think I can.")
        elif tag in entry:
            key = tag
        else:
            key = parent_tag(tag)
        return entry.get(key, entry["DEFAULT"]), True

    def spell(self, word: str) -> str | None:
        """Spell letter by letter ("FBI" -> ˌɛfˌbiˈI): letters demoted, the last one primary."""
        parts = [self.gold.get(c.upper()) for c in word if c.isalpha()]
        if not parts or None in parts or any(isinstance(p, dict) for p in parts):
            return None
        ps = apply_stress("".join(parts), 0)
        head, sep, tail = ps.rpartition(SECONDARY)
        return head + PRIMARY + tail if sep else ps

    def lookup(self, word: str, tag: str | None, stress: float | None, phrase_final: bool) -> str | None:
        acronym = False
        if word == word.upper() and word not in self.gold:
            word = word.lower()
            # Deviation: upstream asks spaCy whether an ALL-CAPS word is a proper noun; without a
            # tagger we treat every ALL-CAPS word of two or more letters as one (so silver is
            # skipped and a gold entry must carry a primary stress, else it is spelled).
            acronym = len(word) > 1 and word.isalpha()
        ps = self.entry(word, gold_only=acronym)
        if ps is not None:
            ps, _ = self.pick(ps, tag, phrase_final)
        if ps is None or (acronym and PRIMARY not in ps):
            spelled = self.spell(word)
            if spelled is not None:
                return spelled
        return apply_stress(ps, stress)

    # -- derived forms -------------------------------------------------------------------------

    def _s(self, stem: str | None) -> str | None:
        if not stem:
            return None
        if stem[-1] in "ptkfθ":
            return stem + "s"
        if stem[-1] in "szʃʒʧʤ":
            return stem + ("ɪ" if self.british else "ᵻ") + "z"
        return stem + "z"

    def _ed(self, stem: str | None) -> str | None:
        if not stem:
            return None
        if stem[-1] in "pkfθʃsʧ":
            return stem + "t"
        if stem[-1] == "d":
            return stem + ("ɪ" if self.british else "ᵻ") + "d"
        if stem[-1] != "t":
            return stem + "d"
        if self.british or len(stem) < 2:
            return stem + "ɪd"
        if stem[-2] in US_TAUS:
            return stem[:-1] + "ɾᵻd"
        return stem + "ᵻd"

    def _ing(self, stem: str | None) -> str | None:
        if not stem:
            return None
        if self.british:
            if stem[-1] in "əː":
                return None  # upstream leaves the linking r of British -ing forms unsolved
        elif len(stem) > 1 and stem[-1] == "t" and stem[-2] in US_TAUS:
            return stem[:-1] + "ɾɪŋ"
        return stem + "ɪŋ"

    def stem_s(self, word, tag, stress, phrase_final):
        if len(word) < 3 or not word.endswith("s"):
            return None
        if not word.endswith("ss") and self.is_known(word[:-1]):
            stem = word[:-1]
        elif (word.endswith("'s") or (len(word) > 4 and word.endswith("es") and not word.endswith("ies"))) \
                and self.is_known(word[:-2]):
            stem = word[:-2]
        elif len(word) > 4 and word.endswith("ies") and self.is_known(word[:-3] + "y"):
            stem = word[:-3] + "y"
        else:
            return None
        return self._s(self.lookup(stem, tag, stress, phrase_final))

    def stem_ed(self, word, tag, stress, phrase_final):
        if len(word) < 4 or not word.endswith("d"):
            return None
        if not word.endswith("dd") and self.is_known(word[:-1]):
            stem = word[:-1]
        elif len(word) > 4 and word.endswith("ed") and not word.endswith("eed") and self.is_known(word[:-2]):
            stem = word[:-2]
        else:
            return None
        return self._ed(self.lookup(stem, tag, stress, phrase_final))

    def stem_ing(self, word, tag, stress, phrase_final):
        if len(word) < 5 or not word.endswith("ing"):
            return None
        if len(word) > 5 and self.is_known(word[:-3]):
            stem = word[:-3]
        elif self.is_known(word[:-3] + "e"):
            stem = word[:-3] + "e"
        elif len(word) > 5 and (word[-4] == word[-5] and word[-4] in "bcdgklmnprstvxz"
                                or word.endswith("cking")) and self.is_known(word[:-4]):
            stem = word[:-4]  # doubled consonant: running -> run, picnicking -> picnic
        else:
            return None
        return self._ing(self.lookup(stem, tag, stress, phrase_final))

    def _stems(self, word, tag, stress, phrase_final):
        return (self.stem_s(word, tag, stress, phrase_final)
                or self.stem_ed(word, tag, stress, phrase_final)
                or self.stem_ing(word, tag, 0.5 if stress is None else stress, phrase_final))

    def word(self, word: str, tag: str | None = None, phrase_final: bool = False) -> str | None:
        """Phonemes for one word (no spaces or punctuation), or None when not in the lexicon."""
        word = word.replace("\u2019", "'").replace("\u2018", "'")
        stress = None if word == word.lower() else (
            ALL_CAPS_STRESS if word == word.upper() else CAPITALIZED_STRESS)
        lower = word.lower()
        # A capitalized or all-caps word not listed as such is read as its lowercase form when
        # that is known (upstream: proper nouns of up to 7 letters would be spelled instead).
        if (len(word) > 1 and word.replace("'", "").isalpha() and word != lower
                and word not in self.gold and word not in self.silver
                and (word == word.upper() or word[1:] == word[1:].lower())
                and (lower in self.gold or lower in self.silver
                     or self._stems(lower, tag, stress, phrase_final))):
            word = lower
        if self.is_known(word):
            return self.lookup(word, tag, stress, phrase_final)
        if word.endswith("s'") and self.is_known(word[:-2] + "'s"):
            return self.lookup(word[:-2] + "'s", tag, stress, phrase_final)
        if word.endswith("'") and self.is_known(word[:-1]):
            return self.lookup(word[:-1], tag, stress, phrase_final)
        return self._stems(word, tag, stress, phrase_final)


# -- portable export ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def merged_table(lang: str) -> dict:
    """Gold over silver, case-grown: the table `export_lexicon` writes (cached; do not mutate)."""
    gold, silver = load_json_tables(lang)
    return {**silver, **gold}


def export_lexicon(path: str | Path, lang: str = "a") -> int:
    """Write the lexicon for lang ("a" or "b") in the portable TSV format; returns the entry count."""
    table = merged_table(lang)
    lines = [FORMAT_MAGIC, f"# lang={lang} source=misaki data {'gb' if lang == 'b' else 'us'}_gold+silver"]
    for word in sorted(table):
        e = table[word]
        if isinstance(e, str):
            lines.append(f"{word}\t{e}")
        else:
            tags = [f"{t}={'' if p is None else p}" for t, p in sorted(e.items()) if t != "DEFAULT"]
            lines.append("\t".join([word, e["DEFAULT"] or "", *tags]))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(table)


def load_lexicon(path: str | Path) -> dict:
    """Read a file written by `export_lexicon` back into {word: phonemes | {tag: phonemes|None}}."""
    table = {}
    with open(path, encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
        if first != FORMAT_MAGIC:
            raise ValueError(f"{path} is not a kokoro-litert lexicon (first line {first!r}); "
                             "write one with export_lexicon(path, lang)")
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("# "):
                continue
            word, default, *tags = line.split("\t")
            if not tags:
                table[word] = default
                continue
            entry = {"DEFAULT": default or None}
            for t in tags:
                tag, _, ps = t.partition("=")
                entry[tag] = ps or None
            table[word] = entry
    return table
