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


FLOAT16_WEIGHT_INPUTS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "TRANSPOSE_CONV": 1, "FULLY_CONNECTED": 1,
                         "EMBEDDING_LOOKUP": 1, "BATCH_MATMUL": 1}
"""Op -> the input index of its weight: the tensors the fp16 precision stores as float16 (biases,
norm and elementwise constants stay float32, as ai-edge-quantizer's float casting does)."""


def cast_weights_float16(src: Path, dst: Path) -> int:
    """Write `src` with every constant float32 weight (FLOAT16_WEIGHT_INPUTS) stored as float16,
    each read through one DEQUANTIZE op at the start of its subgraph; return the weights cast.

    The same file ai-edge-quantizer's FLOAT_CASTING writes (identical float16 values, so identical
    outputs; tests/test_bundles.py), in seconds instead of a minute per stage: a weight shared by
    several signatures is cast once and stays shared.
    """
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    from kokoro_litert.convert.tfl_ops import opcode_index

    model = flatbuffer_utils.read_model(str(src))
    weight_input = {getattr(schema.BuiltinOperator, name): k for name, k in FLOAT16_WEIGHT_INPUTS.items()}
    dequantize = opcode_index(model, schema.BuiltinOperator.DEQUANTIZE)
    half_buffer = {}  # float32 buffer -> its float16 copy, model-wide
    for graph in model.subgraphs:
        half_tensor = {}  # float32 tensor -> the float16 tensor its DEQUANTIZE reads, per subgraph
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            k = weight_input.get(max(code.builtinCode, code.deprecatedBuiltinCode))
            if k is None or k >= len(op.inputs) or op.inputs[k] < 0 or op.inputs[k] in half_tensor:
                continue
            tensor = graph.tensors[op.inputs[k]]
            data = model.buffers[tensor.buffer].data
            if tensor.type != schema.TensorType.FLOAT32 or data is None or not len(data):
                continue
            if tensor.buffer not in half_buffer:
                buffer = schema.BufferT()
                buffer.data = np.frombuffer(data.tobytes(), np.float32).astype(np.float16).view(np.uint8)
                model.buffers.append(buffer)
                half_buffer[tensor.buffer] = len(model.buffers) - 1
            half = schema.TensorT()
            half.shape, half.type, half.buffer = list(tensor.shape), schema.TensorType.FLOAT16, half_buffer[tensor.buffer]
            half.name = tensor.name + (b"/float16" if isinstance(tensor.name, bytes) else "/float16")
            graph.tensors.append(half)
            half_tensor[op.inputs[k]] = len(graph.tensors) - 1
            tensor.buffer = 0  # now computed: the DEQUANTIZE output
        cast = []
        for full, half in half_tensor.items():
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = dequantize, [half], [full]
            cast.append(op)
        graph.operators = cast + list(graph.operators)
    used = {t.buffer for g in model.subgraphs for t in g.tensors}
    for i in half_buffer:
        if i not in used:
            model.buffers[i].data = None  # the float32 copy, no longer read
    flatbuffer_utils.write_model(model, str(dst))
    return len(half_buffer)


def quantize_file(src: Path, dst: Path, precision: str, stage: str, module) -> dict:
    """Write one quantized precision of a converted stage; return figures."""
    start = time.perf_counter()
    if precision == "fp16":
        selected = f"float16 weights ({cast_weights_float16(src, dst)} tensors)"
        return {"selected": selected, "seconds": time.perf_counter() - start, "bytes": dst.stat().st_size}
    from ai_edge_quantizer import qtyping, quantizer

    _patch_duplicate_tensor_names()
    qt = quantizer.Quantizer(str(src))
    ops = qtyping.TFLOperationName
    if precision == "int8" and stage == "vocoder":
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
