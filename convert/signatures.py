"""What each converted stage holds: its signatures (one per shape of the ladder), the inputs each is
traced at, and the check of a written .tflite against the PyTorch stage module on those inputs.

Shared by the conversion (convert/export.py) and the quantized precisions (convert/quantize.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from kokoro_litert.buckets import N_FREQ, STYLE_DIM
from kokoro_litert.buckets.ladder import (
    F0_PER_FRAME,
    Bucket,
    Ladder,
    stft_frames,
    vocoder_signature,
)
from kokoro_litert.buckets.manifest import STAGES

FILES = {stage: f"{stage}.tflite" for stage in STAGES}


def stage_shapes(stage: str, ladder: Ladder) -> dict[str, tuple[int, int]]:
    """signature name -> (tokens, frames) it is traced at (0 where the stage has no such axis)."""
    if stage == "predictor":
        return {Bucket(t, 0).predictor_signature: (t, 0) for t in ladder.token_sizes}
    if stage == "prosody":
        return {b.prosody_signature: (b.tokens, b.frames) for b in ladder.buckets}
    if stage == "vocoder":
        return {vocoder_signature(f): (0, f) for f in ladder.vocoder_frames}
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")


def sample_inputs(stage: str, tokens: int, frames: int, hidden_dim: int) -> dict:
    """Tracing inputs of a stage at one shape (values are realistic but do not matter).

    hidden_dim: the model's config hidden_dim (512 for Kokoro-82M), the channels of t_en and asr;
    d has hidden_dim + STYLE_DIM / 2 (640)."""
    import torch

    T, L = tokens, frames
    d_dim = hidden_dim + STYLE_DIM // 2
    gen = torch.Generator().manual_seed(0)
    style = torch.randn(1, STYLE_DIM, generator=gen) * 0.2
    if stage == "predictor":
        n = max(2, T // 2)
        ids = torch.zeros(1, T, dtype=torch.int32)
        ids[0, 1 : n - 1] = torch.randint(1, 170, (n - 2,), generator=gen, dtype=torch.int32)
        mask = (torch.arange(T) < n).float()[None]
        return {"input_ids": ids, "style": style, "token_mask": mask}
    frame_mask = (torch.arange(L) < L // 2).float()[None]
    if stage == "prosody":
        alignment = torch.zeros(1, T, L)
        alignment[0, torch.arange(L // 2) % max(1, T // 2), torch.arange(L // 2)] = 1
        return {
            "d": torch.randn(1, T, d_dim, generator=gen),
            "t_en": torch.randn(1, hidden_dim, T, generator=gen),
            "alignment": alignment,
            "style": style,
            "frame_mask": frame_mask,
        }
    if stage == "vocoder":
        return {
            "asr": torch.randn(1, hidden_dim, L, generator=gen),
            "f0": 200 + 20 * torch.randn(1, F0_PER_FRAME * L, generator=gen),
            "n": torch.randn(1, F0_PER_FRAME * L, generator=gen),
            "style": style,
            "har": torch.randn(1, 2 * N_FREQ, stft_frames(L), generator=gen),
            "frame_mask": frame_mask,
        }
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")



def verify_stage(stage: str, module, ladder: Ladder, path: Path, only: tuple[str, ...] | None = None,
                 expected: dict | None = None) -> dict[str, float]:
    """Run every signature (or those in `only`) of the written file on its tracing inputs against
    the PyTorch module.

    Returns {"signature/output": max |tflite - torch| / max |torch|}. A sanity check of the
    conversion itself (NOTES.md: a miscompile can be silent); the tests compare on real inputs.
    Runs as the runtime does (CompiledModel, one weight cache for all signatures), one signature
    per model instance so that only one activation arena is alive at a time.

    expected: {signature: {output: array}}, the PyTorch outputs to compare with where it has them;
    the module runs for the other signatures, whose outputs are added to it.
    """
    import numpy as np
    import torch
    from ai_edge_litert.compiled_model import CompiledModel
    from kokoro_litert.runtime.runner import StageRunner, litert_environment

    expected = {} if expected is None else expected
    errors = {}
    with tempfile.TemporaryDirectory() as tmp:
        options = StageRunner.options(threads=2, cache_path=str(Path(tmp) / "weights.xnnpack"))
        for name, shape in stage_shapes(stage, ladder).items():
            if only is not None and name not in only:
                continue
            kwargs = sample_inputs(stage, *shape, module.hidden_dim)
            if name not in expected:
                with torch.no_grad():
                    expected[name] = {k: v.numpy() for k, v in module(**kwargs).items()}
            model = CompiledModel.from_file(str(path), options=options, environment=litert_environment())
            index = model.get_signature_index(name)
            order = model.get_signature_list()[name]
            inputs, outputs = model.create_input_buffers(index), model.create_output_buffers(index)
            for key, buffer in zip(order["inputs"], inputs):
                buffer.write(np.ascontiguousarray(kwargs[key].numpy()))
            model.run_by_index(index, inputs, outputs)
            for key, buffer in zip(order["outputs"], outputs):
                v = expected[name][key]
                got = buffer.read(v.size, np.float32).reshape(v.shape)
                errors[f"{name}/{key}"] = float(np.abs(got - v).max()) / max(float(np.abs(v).max()), 1e-12)
            del model, inputs, outputs
    return errors


