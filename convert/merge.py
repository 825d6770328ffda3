"""Merge .tflite files converted from the same module at different shapes into one, weights stored once.

litert-torch lowers all signatures of a file in one MLIR module, so converting the vocoder's ten
frame sizes at once needed ~4 GB; converted a few at a time into part files and merged here, the
peak is that of the largest part. Merging appends each part's subgraphs and signatures to the
first part, maps identical weight buffers (by content) onto one, and reuses operator codes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def merge_tflite(parts: list[Path], out: Path) -> dict:
    """Write the merge of `parts` (in order) to `out`; return {"buffers_shared": n, "buffers_added": n}."""
    from ai_edge_litert.tools import flatbuffer_utils

    base = flatbuffer_utils.read_model(str(parts[0]))
    names = {t.name for g in base.subgraphs for t in g.tensors}
    by_content = {}
    for i, buf in enumerate(base.buffers):
        if buf.data is not None and len(buf.data):
            by_content.setdefault(_digest(buf.data), i)
    shared = added = 0
    for part in parts[1:]:
        model = flatbuffer_utils.read_model(str(part))
        buffer_map = {}
        for i, buf in enumerate(model.buffers):
            if buf.data is None or not len(buf.data):
                buffer_map[i] = 0  # buffer 0 is the empty sentinel every reader accepts
                continue
            key = _digest(buf.data)
            if key in by_content:
                buffer_map[i] = by_content[key]
                shared += 1
            else:
                # A copy: the data is a view into the part's whole file, which would stay in memory.
                buf.data = buf.data.copy()
                base.buffers.append(buf)
                by_content[key] = buffer_map[i] = len(base.buffers) - 1
                added += 1
        code_map = {i: _opcode_index(base, code) for i, code in enumerate(model.operatorCodes)}
        offset = len(base.subgraphs)
        for graph in model.subgraphs:
            for tensor in graph.tensors:
                tensor.buffer = buffer_map.get(tensor.buffer, 0)
                if tensor.name in names:  # tools (ai-edge-quantizer) need model-wide unique names
                    stem, k = tensor.name, 1
                    suffix = (lambda k: f"#{k}".encode()) if isinstance(stem, bytes) else (lambda k: f"#{k}")
                    while tensor.name in names:
                        tensor.name = stem + suffix(k)
                        k += 1
                names.add(tensor.name)
            for op in graph.operators:
                op.opcodeIndex = code_map[op.opcodeIndex]
                options = op.builtinOptions
                for field in ("condSubgraphIndex", "bodySubgraphIndex", "thenSubgraphIndex", "elseSubgraphIndex",
                              "subgraph"):
                    if options is not None and hasattr(options, field):
                        setattr(options, field, getattr(options, field) + offset)
            base.subgraphs.append(graph)
        for signature in model.signatureDefs or []:
            signature.subgraphIndex += offset
            base.signatureDefs.append(signature)
        del model
    keys = [s.signatureKey for s in base.signatureDefs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate signatures across parts: {keys}")
    flatbuffer_utils.write_model(base, str(out))
    return {"buffers_shared": shared, "buffers_added": added}


def _digest(data) -> bytes:
    return hashlib.sha1(memoryview(data).cast("B")).digest() + len(data).to_bytes(8, "little")


def _opcode_index(model, code) -> int:
    key = (code.builtinCode, code.deprecatedBuiltinCode, code.customCode, code.version)
    for i, existing in enumerate(model.operatorCodes):
        if (existing.builtinCode, existing.deprecatedBuiltinCode, existing.customCode, existing.version) == key:
            return i
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1
