"""The quantized precisions of the converted stages, written beside the fp32 graphs by `convert`.

Chosen per stage by measurement (end to end against PyTorch with durations and excitation pinned,
5 sentences of 1.7-5 s; spectrogram / waveform correlation, worst sentence):

    stage      weights    fp32-everywhere-else result    why not smaller
    predictor  fp16       0.99986 / 0.9987               int8 bi-LSTMs: 0.9972 / 0.80 (d feeds F0,
                                                          whose error integrates into the phase)
    prosody    fp32       -                              fp16: 0.9985 / 0.971 (its LSTM drives F0)
    vocoder    int8       0.99933 / 0.9976 (as shipped)  -

    fp16  predictor and vocoder with float16 weights (computed in float32 on CPUs), prosody fp32.
          Half the file, but not less memory or start-up on a CPU: LiteRT expands float16 weights
          to float32 when it creates the model (predictor: +41 MB resident, +0.19 s creation), so
          the default keeps the predictor float32 (fp16 predictor + int8 vocoder measured 0.99932 /
          0.9971 on the worst sentence, fp32 predictor 0.99933 / 0.9977).
    int8  the default: predictor and prosody fp32, and the vocoder's generator residual convs
          (48, run on 4-frame time chunks laid along the batch axis, stages.GENERATOR_CHUNK_FRAMES:
          one activation scale per 0.1 s instead of one per utterance) and decoder convs (one
          frame per batch element) as dynamic-range int8 (weights per output channel, activations
          quantized on the fly by XNNPACK); the upsamplers, noise convs, conv_post (it feeds `sin`
          with arguments up to |50|) and style affines stay float32: as float16 they cost 124 MB
          more resident memory (the runtime expands them at model creation) to save 16 MB of file.

Measured fidelity and speed per precision are in the README (tests/benchmarks/parity.py). Each
vocoder selection is checked against the count the stage module implies, so a change in how the
graph is lowered fails here instead of silently quantizing something else.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

PRECISIONS = ("fp16", "int8")
SAME_AS = {("predictor", "int8"): "fp32", ("prosody", "fp16"): "fp32", ("prosody", "int8"): "fp32"}
"""(stage, precision) -> the precision whose file it uses (no second copy of the same graph)."""


@dataclass(frozen=True)
class ConvGroup:
    """CONV_2D ops picked by their weight shape [O, 1, k, I] (as XNNPACK-lowered), expected per signature."""

    name: str
    shapes: frozenset
    per_signature: int


def vocoder_groups(vocoder) -> list[ConvGroup]:
    """The vocoder's int8 convs: the generator's residual blocks and the decoder's convs."""
    gen = vocoder.generator
    residual = [c for b in list(gen["resblocks"]) + list(gen["noise_res"]) for c in (*b.convs1, *b.convs2)]
    decoder = []
    for block in [vocoder.decoder["encode"], *vocoder.decoder["decode"]]:
        decoder += [block.conv1, block.conv2] + ([block.conv1x1] if block.learned_sc else [])

    def group(name, convs):
        return ConvGroup(name, frozenset(_shape(c) for c in convs), len(convs))

    groups = [group("residual", residual), group("decoder", decoder)]
    if groups[0].shapes & groups[1].shapes:
        raise ValueError("residual and decoder conv shapes overlap: select them another way")
    return groups


def _shape(conv) -> tuple[int, int, int, int]:
    return (conv.out_channels, 1, conv.kernel_size[0], conv.in_channels // conv.groups)


def _conv_outputs(path: Path, groups: list[ConvGroup]) -> list[str]:
    """Output tensor names of the CONV_2D ops in `groups`, checked per signature subgraph."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    found = {}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        counts = found.setdefault(graph.Name().decode(), {gr.name: [] for gr in groups})
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != schema.BuiltinOperator.CONV_2D:
                continue
            shape = tuple(int(v) for v in graph.Tensors(op.Inputs(1)).ShapeAsNumpy())
            for gr in groups:
                if shape in gr.shapes:
                    counts[gr.name].append(graph.Tensors(op.Outputs(0)).Name().decode())
    wrong = {sig: {k: len(v) for k, v in c.items()} for sig, c in found.items()
             if any(len(v) != gr.per_signature for gr, v in zip(groups, c.values()))}
    if wrong:
        raise RuntimeError(f"expected {', '.join(f'{g.per_signature} {g.name}' for g in groups)} convs per signature "
                           f"in {path}, found {wrong}: the graph changed, review convert/quantize.py")
    return [n for c in found.values() for names in c.values() for n in names]


def _patch_duplicate_tensor_names() -> None:
    """ai-edge-quantizer 0.10.0 names a duplicated constant tensor with a str where the rest of the
    model has bytes, and its dequantize insertion then fails on `str + bytes` (hit when one small
    constant, e.g. the vocoder's all-ones mask kernel, feeds several ops). Keep names bytes."""
    from ai_edge_quantizer.transformations import duplicate_tensor

    if getattr(duplicate_tensor.duplicate_tensor, "_kokoro_bytes_names", False):
        return
    original = duplicate_tensor.duplicate_tensor

    def duplicate_with_bytes_name(transformation_input):
        info = original(transformation_input)
        tensor = transformation_input.subgraph.tensors[info.output_tensor_id]
        if isinstance(tensor.name, str):
            tensor.name = tensor.name.encode()
        return info

    duplicate_with_bytes_name._kokoro_bytes_names = True
    duplicate_tensor.duplicate_tensor = duplicate_with_bytes_name  # TransformationPerformer looks it up per instance


def quantize_file(src: Path, dst: Path, precision: str, stage: str, module) -> dict:
    """Write one quantized precision of a converted stage; return figures."""
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer

    _patch_duplicate_tensor_names()
    start = time.perf_counter()
    qt = quantizer.Quantizer(str(src))
    ops = qtyping.TFLOperationName
    if precision == "fp16":
        qt.add_weight_only_config(".*", ops.ALL_SUPPORTED, num_bits=16,
                                  algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING)
        selected = "float16 weights"
    elif precision == "int8" and stage == "vocoder":
        names = _conv_outputs(src, vocoder_groups(module))
        # ai-edge-quantizer matches an op by its output tensor names joined with ";" plus a final ";".
        qt.add_dynamic_config("^(" + "|".join(re.escape(n) for n in names) + ");$", ops.CONV_2D, num_bits=8)
        selected = f"int8 on {len(names)} convs, float32 elsewhere"
    else:
        raise ValueError(f"no {precision!r} recipe for the {stage} stage")
    qt.quantize().export_model(str(dst), overwrite=True)
    dst.chmod(0o644)  # the quantizer writes it executable
    return {"selected": selected, "seconds": time.perf_counter() - start, "bytes": dst.stat().st_size}


def quantize_stage(stage: str, module, ladder, folder: Path, log) -> dict[str, str]:
    """Write every quantized precision of one converted stage into `folder`; return {precision: file}."""
    from kokoro_litert.convert.export import FILES, stage_shapes, verify_stage

    names = list(stage_shapes(stage, ladder))
    ends = (names[0], names[-1])  # the fp32 file was checked at every shape; a quantized one only loads and runs
    written = {"fp32": FILES[stage]}
    for precision in PRECISIONS:
        if (stage, precision) in SAME_AS:
            written[precision] = written[SAME_AS[stage, precision]]
            log(f"{stage} {precision}: the {SAME_AS[stage, precision]} file ({written[precision]})")
            continue
        name = f"{stage}.{precision}.tflite"
        figures = quantize_file(folder / FILES[stage], folder / name, precision, stage, module)
        errors = verify_stage(stage, module, ladder, folder / name, only=ends)
        worst = max(errors.items(), key=lambda kv: kv[1])
        log(f"{stage} {precision}: {figures['selected']} in {figures['seconds']:.1f} s, "
            f"{figures['bytes'] / 1e6:.1f} MB; worst error vs PyTorch on tracing inputs {worst[1]:.1e} ({worst[0]})")
        written[precision] = name
    del written["fp32"]
    return written
