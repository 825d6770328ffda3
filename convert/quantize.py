"""The int8 vocoder: dynamic-range int8 on the generator's residual convolutions only.

About 90% of the vocoder's multiply-adds are the convolutions inside the generator's
AdaINResBlock1 blocks (resblocks and noise_res: C -> C channels, C = 256 at 20 generator steps per
frame and 128 at 120). Those, and only those, get int8 weights (per output channel) with
activations quantized on the fly by XNNPACK's dynamic-range kernels; everything else stays
float32, which is where int8 hurts most for little gain:

    measured on held-out sentences, end to end vs the PyTorch reference (tests/benchmarks/parity.py)
    what is int8                        spectrogram corr  waveform corr  vocoder time
    nothing (fp32)                      0.99999           0.99997        1.00
    generator residual convs (this)     0.9985            0.995          0.39
    every conv but conv_post            0.9969            0.989          0.37
    every conv and linear layer         0.979             0.966          0.39

conv_post feeds `sin` with arguments up to |50|, so a small relative error there is a large
phase error; the decoder's convs run at the frame rate and cost little.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

VARIANTS = {"vocoder": {"int8": "vocoder.int8.tflite"}}
"""stage -> precision -> file: the quantized variants `convert` writes beside the fp32 graphs."""


def quantize_stage(stage: str, module, ladder, folder: Path, log) -> dict[str, str]:
    """Write the quantized variants of one converted stage into `folder`; return {precision: file}."""
    from kokoro_litert.convert.export import FILES, verify_stage

    written = {}
    for precision, name in VARIANTS.get(stage, {}).items():
        widths, count = residual_conv_widths(module)
        figures = quantize_vocoder(folder / FILES[stage], folder / name, widths, count)
        errors = verify_stage(stage, module, ladder, folder / name)
        worst = max(errors.items(), key=lambda kv: kv[1])
        log(f"{stage} {precision}: {figures['int8_convs']} convs quantized in {figures['seconds']:.1f} s, "
            f"{figures['bytes'] / 1e6:.1f} MB; worst error vs PyTorch {worst[1]:.1e} ({worst[0]})")
        written[precision] = name
    return written

def residual_conv_widths(vocoder) -> tuple[set[int], int]:
    """(channel widths, number of convs) of the generator's AdaINResBlock1 blocks in a Vocoder stage."""
    gen = vocoder.generator
    blocks = list(gen["resblocks"]) + list(gen["noise_res"])
    convs = [c for b in blocks for c in (*b.convs1, *b.convs2)]
    return {c.in_channels for c in convs}, len(convs)


def select_residual_convs(path: Path, widths: set[int]) -> dict[str, list[str]]:
    """Per signature, output-tensor names of the CONV_2D ops with weights [C, 1, k, C], C in widths."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    selected = {}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        names = selected.setdefault(graph.Name().decode(), [])
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != schema.BuiltinOperator.CONV_2D:
                continue
            out_ch, _, _, in_ch = (int(v) for v in graph.Tensors(op.Inputs(1)).ShapeAsNumpy())
            if out_ch == in_ch and in_ch in widths:
                names.append(graph.Tensors(op.Outputs(0)).Name().decode())
    return selected


def quantize_vocoder(src: Path, dst: Path, widths: set[int], expected: int) -> dict:
    """Write the int8 variant of vocoder `src` to `dst`; return figures.

    expected: residual convs per signature, so a change in how the graph is lowered fails here
    instead of silently quantizing something else.
    """
    from ai_edge_quantizer import qtyping, quantizer

    start = time.perf_counter()
    selected = select_residual_convs(src, widths)
    wrong = {name: len(ops) for name, ops in selected.items() if len(ops) != expected}
    if wrong:
        raise RuntimeError(f"expected {expected} residual convs per signature in {src}, found {wrong}: "
                           "the vocoder graph changed, review convert/quantize.py")
    names = [n for ops in selected.values() for n in ops]
    # ai-edge-quantizer matches each op by its output tensor names joined with ";" plus a final ";".
    scope = "^(" + "|".join(re.escape(n) for n in names) + ");$"
    qt = quantizer.Quantizer(str(src))
    qt.add_dynamic_config(scope, qtyping.TFLOperationName.CONV_2D, num_bits=8)
    qt.quantize().export_model(str(dst), overwrite=True)
    return {"int8_convs": len(names), "seconds": time.perf_counter() - start, "bytes": dst.stat().st_size}
