"""The converter's own shortcuts (convert/export.py), checked on the tiny model (fast layer).

`one_decomposition` skips litert-torch's second decomposition of each exported program: the
.tflite written with it must be the one written without it, byte for byte. The prosody stage is
the one converted here: it has the custom-lowered LSTM loops besides convolutions and norms, and
converts in seconds at the tiny model's smallest bucket.
"""

from __future__ import annotations

import contextlib
from unittest import mock

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("litert_torch")


def test_one_decomposition_writes_the_same_file(tiny, tmp_path):
    from kokoro_litert.convert import export
    from kokoro_litert.convert.signatures import stage_shapes
    from support.tiny_bundle import TINY_LADDER

    module = export._stage_module(str(tiny.root / "weights"), "prosody", lambda line: None)
    first = next(iter(stage_shapes("prosody", TINY_LADDER)))
    from litert_torch.fx_infra import _canonicalize_pass

    canonicalize = _canonicalize_pass.CanonicalizePass
    once, twice = tmp_path / "once.tflite", tmp_path / "twice.tflite"
    with torch.no_grad(), mock.patch.object(canonicalize, "call", autospec=True, side_effect=canonicalize.call) as spy:
        export.convert_stage("prosody", module, TINY_LADDER, once, names=(first,), log=lambda line: None)
        assert spy.call_count == 0
        # As litert-torch runs it, its second decomposition included.
        with mock.patch.object(export, "one_decomposition", contextlib.nullcontext):
            export.convert_stage("prosody", module, TINY_LADDER, twice, names=(first,), log=lambda line: None)
        assert spy.call_count >= 1
    assert once.read_bytes() == twice.read_bytes()
