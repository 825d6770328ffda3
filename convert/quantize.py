"""The quantized precisions of the converted stages, written beside the fp32 graphs by `convert`.

Chosen per stage by measurement (end to end against PyTorch with durations and excitation pinned;
spectrogram / waveform correlation, worst sentence). What decides it: the F0 curve drives the host
sine source, whose phase integrates every error in it, so whatever reaches F0 stays float32.

    stage      int8 on                              why not more
    predictor  the text encoder (3 convs, the       ALBERT's feed-forward layers alone: 3 in
               bi-LSTM's input projections): t_en   20 sentences change durations, waveform -0.09;
               reaches the audio only through the   the duration encoder's bi-LSTMs: 0.80
               vocoder's `asr`                      (both feed d, hence F0)
    prosody    the N branch (7 convs): N feeds      the F0 branch: waveform 0.58 mean (fp16
               the vocoder's N_conv only            weights already 0.971)
    vocoder    the generator's residual convs and   conv_post: it feeds `sin` with arguments
               upsamplers, the decoder's convs,     up to |50|; the rest is small (noise convs,
               every AdaIN's style affine           F0_conv, N_conv, asr_res: ~0.1 M weights)

    int8  the default. Dynamic-range int8 (weights per output channel, activations quantized on
          the fly by XNNPACK, which takes one activation scale per batch element for a conv and one
          per row for a fully-connected layer). The generator's upsamplers and residual convs run
          on 4-frame time chunks laid along the batch axis (stages.GENERATOR_CHUNK_FRAMES: one
          scale per 0.1 s instead of one per utterance), the decoder's convs one frame per batch
          element; the style affines see one 128-value style vector. Screened one change at a
          time on 20 held-out sentences against the previous default (0.99958 / 0.99927
          spectrogram mean / min, 0.99826 / 0.99715 waveform): text encoder 0.99959 / 0.99937
          and 0.99820 / 0.99738; N branch 0.99959 / 0.99931 and 0.99826 / 0.99754; style
          affines 0.99958 / 0.99939 and 0.99822 / 0.99739; then the upsamplers on chunks (with one scale per utterance they
          gave spectrogram min 0.9971) 0.99953 / 0.99918 and 0.99814 / 0.99723. Files 205 -> 172
          -> 164 MB, 157 MB with each weight's scales stored once (`share_quantization_tables`).
    fp16  predictor and vocoder with float16 weights (computed in float32 on CPUs), prosody fp32.
          Half the file, but not less memory or start-up on a CPU: LiteRT expands float16 weights
          to float32 when it creates the model (predictor: +41 MB resident, +0.19 s creation;
          the vocoder's non-int8 weights: +124 MB). Misses the default's waveform floor: opt-in.

Measured fidelity and speed per precision are in the README (tests/benchmarks/parity.py). Each
selection is checked against the count the stage module implies, so a change in how a graph is
lowered fails here instead of silently quantizing something else.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from kokoro_litert.convert.blocks import MaskedAdaIN1d

PRECISIONS = ("fp16", "int8")
SAME_AS = {("prosody", "fp16"): "fp32"}
"""(stage, precision) -> the precision whose file it uses (no second copy of the same graph)."""


@dataclass(frozen=True)
class WeightGroup:
    """Ops of one kind (`op`) picked by their weight's shape as lowered (CONV_2D [O, 1, k, I],
    FULLY_CONNECTED [O, I]) and, with `feeds`, among the ops that feed that signature output and no
    other; `per_signature` of them expected in every signature."""

    name: str
    op: str
    shapes: frozenset
    per_signature: int
    feeds: str | None = None


def int8_groups(stage: str, module) -> list[WeightGroup]:
    """The ops a stage's int8 file quantizes (see the module doc for why these)."""
    if stage == "predictor":  # the text encoder: t_en reaches the audio through the vocoder only
        te = module.text_encoder
        convs = [block[0] for block in te.cnn]
        return [WeightGroup("text-encoder convs", "CONV_2D", frozenset(_shape(c) for c in convs), len(convs), "t_en"),
                WeightGroup("text-encoder LSTM input projections", "FULLY_CONNECTED",
                            frozenset({tuple(te.lstm.weight_ih_l0.shape)}), 2, "t_en")]
    if stage == "prosody":  # the N branch: its output feeds the vocoder's N_conv, not the sine source
        convs = [c for b in module.N for c in (b.conv1, b.conv2, *([b.conv1x1] if b.learned_sc else []))]
        return [WeightGroup("N-branch convs", "CONV_2D", frozenset(_shape(c) for c in convs), len(convs), "n")]
    if stage != "vocoder":
        raise ValueError(f"no int8 recipe for the {stage} stage")
    gen = module.generator
    residual = [c for b in list(gen["resblocks"]) + list(gen["noise_res"]) for c in (*b.convs1, *b.convs2)]
    decoder = []
    for block in [module.decoder["encode"], *module.decoder["decode"]]:
        decoder += [block.conv1, block.conv2] + ([block.conv1x1] if block.learned_sc else [])
    # Every AdaIN's style affine runs as a 1x1 conv on the [1, 128, 1, 1] style (MaskedAdaIN1d).
    affines = [m.fc for m in module.modules() if isinstance(m, MaskedAdaIN1d)]

    def group(name, convs):
        return WeightGroup(name, "CONV_2D", frozenset(_shape(c) for c in convs), len(convs))

    groups = [group("residual", residual), group("decoder", decoder),
              WeightGroup("upsamplers", "TRANSPOSE_CONV", frozenset(_shape(u) for u in gen["ups"]), len(gen["ups"])),
              WeightGroup("style affines", "CONV_2D", frozenset((f.out_features, 1, 1, f.in_features) for f in affines),
                          len(affines))]
    for i, a in enumerate(groups):
        for b in groups[i + 1 :]:
            if a.op == b.op and a.shapes & b.shapes:
                raise ValueError(f"{a.name} and {b.name} weight shapes overlap: select them another way")
    return groups


def _shape(conv) -> tuple[int, int, int, int]:
    return (conv.out_channels, 1, conv.kernel_size[0], conv.in_channels // conv.groups)


def _feeding(graph, producer: dict[int, int], output: int) -> set[int]:
    """Indices of the ops whose results reach tensor `output` of `graph` (producer: tensor -> op)."""
    found, todo = set(), [output]
    while todo:
        op = producer.get(todo.pop())
        if op is None or op in found:
            continue
        found.add(op)
        todo.extend(graph.Operators(op).Inputs(j) for j in range(graph.Operators(op).InputsLength()))
    return found


def _feeding_only(graph, outputs: dict[str, int]) -> dict[str, set[int]]:
    """Per signature output, the ops that feed it and no other output."""
    producer = {graph.Operators(i).Outputs(j): i for i in range(graph.OperatorsLength())
                for j in range(graph.Operators(i).OutputsLength())}
    feeding = {out: _feeding(graph, producer, index) for out, index in outputs.items()}
    return {out: ops - set().union(*(o for k, o in feeding.items() if k != out)) for out, ops in feeding.items()}


def selected_ops(path: Path, groups: list[WeightGroup]) -> dict[str, dict[str, list[str]]]:
    """{signature: {group name: output tensor names of its ops}}, checked against `per_signature`
    in every signature (and none in the loop bodies: those stay float)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    codes = [getattr(schema.BuiltinOperator, g.op) for g in groups]
    signatures = {}
    for s in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(s)
        signatures[sig.SubgraphIndex()] = (sig.SignatureKey().decode(),
                                           {sig.Outputs(j).Name().decode(): sig.Outputs(j).TensorIndex()
                                            for j in range(sig.OutputsLength())})
    by_output = any(gr.feeds is not None for gr in groups)
    found, wrong = {}, {}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        name, outputs = signatures.get(g, (graph.Name().decode(), {}))
        only = _feeding_only(graph, outputs) if by_output else {}
        picked = found.setdefault(name, {gr.name: [] for gr in groups})
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            code = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if code not in codes:
                continue
            shape = tuple(int(v) for v in graph.Tensors(op.Inputs(1)).ShapeAsNumpy())
            for gr, gr_code in zip(groups, codes):
                if code == gr_code and shape in gr.shapes and (gr.feeds is None or i in only.get(gr.feeds, ())):
                    picked[gr.name].append(graph.Tensors(op.Outputs(0)).Name().decode())
        counts = {k: len(v) for k, v in picked.items()}
        if counts != {gr.name: gr.per_signature if g in signatures else 0 for gr in groups}:
            wrong[name] = counts
    if wrong:
        raise RuntimeError(f"expected {', '.join(f'{g.per_signature} {g.name}' for g in groups)} per signature "
                           f"in {path}, found {wrong}: the graph changed, review convert/quantize.py")
    return found


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


QUANTIZER_OP_NAMES = {"TRANSPOSE_CONV": "CONV_2D_TRANSPOSE"}
"""TFLite builtin op name -> ai-edge-quantizer's name for it, where they differ."""


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
    if precision != "int8":
        raise ValueError(f"no {precision!r} recipe for the {stage} stage")
    groups = int8_groups(stage, module)
    picked = selected_ops(src, groups)
    for kind in sorted({g.op for g in groups}):
        names = [n for by_group in picked.values() for g in groups if g.op == kind for n in by_group[g.name]]
        # ai-edge-quantizer matches an op by its output tensor names joined with ";" plus a final ";".
        qt.add_dynamic_config("^(" + "|".join(re.escape(n) for n in names) + ");$",
                              getattr(ops, QUANTIZER_OP_NAMES.get(kind, kind)), num_bits=8)
    selected = f"int8 on {', '.join(f'{g.per_signature} {g.name}' for g in groups)} per signature, float32 elsewhere"
    qt.quantize().export_model(str(dst), overwrite=True)
    share_quantization_tables(dst)
    dst.chmod(0o644)  # the quantizer writes it executable
    return {"selected": selected, "seconds": time.perf_counter() - start, "bytes": dst.stat().st_size}


def share_quantization_tables(path: Path) -> int:
    """Rewrite `path` with every distinct set of quantization parameters stored once; return how many.

    ai-edge-quantizer gives each signature's tensor of a shared int8 weight its own copy of the
    weight's per-channel scales (and zero points, int64): 7.3 MB of the ten-signature vocoder, of
    which one copy is 0.7 MB. A flatbuffer table may be referenced from many places, so each set
    is written once and every tensor with it points there; the values, hence the outputs, are the
    same (bit-identical, tests/test_bundles.py).
    """
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    def key(q):
        if q.details is not None:
            return None
        values = [None if v is None else (np.asarray(v).dtype.str, np.asarray(v).tobytes())
                  for v in (q.min, q.max, q.scale, q.zeroPoint)]
        return (*values, q.quantizedDimension, q.detailsType)

    model = flatbuffer_utils.read_model(str(path))
    pack, written = schema.QuantizationParametersT.Pack, {}

    def pack_once(params, builder):
        k = key(params)
        if k is None:
            return pack(params, builder)
        if k not in written:
            written[k] = pack(params, builder)
        return written[k]

    schema.QuantizationParametersT.Pack = pack_once  # what ModelT.Pack calls for every tensor
    try:
        flatbuffer_utils.write_model(model, str(path))
    finally:
        schema.QuantizationParametersT.Pack = pack
    return len(written)


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
