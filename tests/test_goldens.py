"""The committed golden vectors (tests/golden/vectors) are what the Python runtime writes today.

The JVM host's tests (tests/test_android_demo.py) read the same folder, so a change on either host
shows up as a failure and, once regenerated, as a diff in review:

    python tests/golden/write_goldens.py --out tests/golden/vectors     # regenerate (on purpose)
    python tests/golden/write_goldens.py --check tests/golden/vectors   # what these tests check

Tolerances are write_goldens.py's (its docstring justifies them): texts, integers and arrays exact by
construction must be identical; float DSP within an ulp or four; LiteRT stage tensors within
STAGE_TOLERANCE of their scale; audio by correlation. The worst difference measured is printed; on
the CPU and LiteRT build that wrote the folder it is zero.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from write_goldens import COMMITTED, TEXT_SECTIONS, compare, write_goldens  # noqa: E402


def _check(tmp_path: Path, sections) -> None:
    problems, worst = compare(COMMITTED, tmp_path, sections)
    print("\nworst differences: " + (", ".join(f"{k} {v:.3g}" for k, v in sorted(worst.items())) or "none"))
    remedy = ("If the change is intended, regenerate them with `python tests/golden/write_goldens.py --out "
              "tests/golden/vectors`, then review and commit the diff (the JVM tests read them).")
    assert not problems, f"{len(problems)} golden values changed:\n" + "\n".join(problems[:20]) + "\n" + remedy


def test_text_dsp_and_chunking_goldens_are_current(tmp_path):
    """English and the five espeak languages' phonemes, the lexicon, noise, chunking, fades, PCM."""
    write_goldens(tmp_path, sections=TEXT_SECTIONS)
    _check(tmp_path, TEXT_SECTIONS)


@pytest.mark.slow
def test_tiny_bundle_pipeline_goldens_are_current(tiny, tmp_path):
    """Every stage call and host step of the tiny bundle's utterances (fp32), and the other precisions'
    predictor and prosody outputs, durations and audio."""
    write_goldens(tmp_path, tiny.bundle, sections=("utterances",), tiny=True)
    _check(tmp_path, ("utterances",))
