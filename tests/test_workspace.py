"""The vocoder's activation memory as XNNPACK lays it out (tests/benchmarks/workspace.py).

XNNPACK's memory planner places a runtime's tensors in one arena, largest first, each in the
smallest gap the tensors already placed leave it (src/memory-planner.c). When the full-size
tensors at the vocoder's output rate came in several sizes (each conv's input with its own halo),
the arena of the 512-frame vocoder was 223 MB for 163 MB alive at once: about 60 MB of the
runtime's peak RSS was gaps. The converter keeps those tensors one size
(stages.GENERATOR_CHUNK_FRAMES). Checked on the real graph only: the tiny model's channel counts
put its worst op elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
from workspace import activation_peak, planned_arena  # noqa: E402

GAPS = 1.10
"""Arena over the bytes alive at the worst op, at most. Measured 1.057 (166.8 MB for 157.8): the
output rate's noise branch still runs on chunks, whose convs' halo'd inputs differ in size (its
weights are int8, whose activation scales are taken per chunk). The layout before measured 1.36."""


def test_planned_arena_is_xnnpacks_placement():
    # B, the largest, goes first; A and C never meet, so C takes A's place after B.
    assert planned_arena({1: (10, 0, 1), 2: (12, 1, 2), 3: (10, 2, 3)}) == 22
    # Largest first: 1 [0, 10), 4 [10, 18), 3 [18, 24); 5 meets only 4, so it goes in the gap 1 and
    # 3 leave below it, [0, 5); 2 meets them all: [24, 28).
    assert planned_arena({1: (10, 0, 0), 2: (4, 0, 9), 3: (6, 0, 0), 4: (8, 0, 9), 5: (5, 5, 6)}) == 28
    # One size: the plan needs what is alive at once at the worst time (1, 2 and 4 at time 1).
    assert planned_arena({1: (4, 0, 9), 2: (4, 0, 1), 3: (4, 2, 3), 4: (4, 1, 2)}) == 12


@pytest.mark.real_weights
def test_vocoder_arena_has_no_gaps(bundle_dir):
    from kokoro_litert.buckets.manifest import Manifest

    manifest = Manifest.load(bundle_dir)
    largest = list(manifest.signatures["vocoder"])[-1]
    path = bundle_dir / manifest.files_for(manifest.default_precision)["vocoder"]
    graph = activation_peak(path, largest)
    print(f"{path.name} {largest}: alive at the worst op {graph['peak_mb']:.1f} MB, arena {graph['arena_mb']:.1f} MB")
    assert graph["arena_mb"] <= GAPS * graph["peak_mb"]
