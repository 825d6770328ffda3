"""One LSTM direction as one TFLite WHILE loop: `sequence_lstm`, its lowering and its expansion.

litert-torch 0.10 has no LSTM lowering (its issue #53), and an LSTM written as a Python loop is
unrolled at trace time: thousands of ops per signature, minutes of conversion per bucket, one
XNNPACK-packed copy of the recurrent weight per step, seconds of CompiledModel compilation.
TFLite's builtin UNIDIRECTIONAL_SEQUENCE_LSTM keeps its state in variable tensors, which
LiteRT's CompiledModel refuses to load ("Variable tensors not yet supported", 2.3.0), so it
would cut off the C API, the Android CompiledModel API and the weight cache. Instead each
direction becomes a WHILE loop whose body is one LSTM step:

    sequence_lstm(xw [1, T, 4H], w_hh [4H, H], length [1] int32, reverse) -> y [1, T, H]

    xw: the input projection x @ W_ih^T + b_ih + b_hh for every step, computed before the loop
        (one FULLY_CONNECTED over all T steps, on XNNPACK)
    the loop runs `length` steps (the real ones): t = i forward, t = length-1-i reverse;
        gates = xw[t] + h @ W_hh^T (i, f, g, o as nn.LSTM), c, h as nn.LSTM, y[t] = h
    y is zero on the T - length padded steps (never written)

which is exactly one direction of a packed nn.LSTM over the real prefix, and costs only the real
steps. Measured on this box, T=512, 640 -> 256: 34 ms per direction on the Interpreter, 38 ms on
CompiledModel (the builtin LSTM op: 67 ms).

How it gets into a .tflite: `register_lowering()` teaches litert-torch to lower the op to a
placeholder CUSTOM op (custom code CUSTOM_CODE[reverse]) holding xw, w_hh and length;
`expand_sequence_lstms(path)` then replaces every placeholder in the written file by a WHILE op
and its cond/body subgraphs (the recurrent weight stays one buffer, shared by its loop body).
No custom op is left at run time.
"""

from __future__ import annotations

from pathlib import Path

import torch

CUSTOM_CODE = {False: "kokoro_litert.sequence_lstm", True: "kokoro_litert.sequence_lstm_reverse"}


@torch.library.custom_op("kokoro_litert::sequence_lstm", mutates_args=())
def sequence_lstm(xw: torch.Tensor, w_hh: torch.Tensor, length: torch.Tensor, reverse: bool) -> torch.Tensor:
    """One LSTM direction over the first length[b] steps of xw [B, T, 4H]; zero elsewhere (see module doc)."""
    batch, steps, gates = xw.shape
    hidden = gates // 4
    y = xw.new_zeros(batch, steps, hidden)
    for b in range(batch):
        n = int(length[b])
        h = c = xw.new_zeros(1, hidden)
        for i in range(n):
            t = n - 1 - i if reverse else i
            ig, fg, gg, og = (xw[b : b + 1, t] + torch.nn.functional.linear(h, w_hh)).chunk(4, dim=-1)
            c = torch.sigmoid(fg) * c + torch.sigmoid(ig) * torch.tanh(gg)
            h = torch.sigmoid(og) * torch.tanh(c)
            y[b, t] = h[0]
    return y


@sequence_lstm.register_fake
def _(xw, w_hh, length, reverse):
    return xw.new_empty(xw.shape[0], xw.shape[1], w_hh.shape[1])


_registered = False


def register_lowering() -> None:
    """Lower `sequence_lstm` to its placeholder CUSTOM op (idempotent; litert-torch imported here)."""
    global _registered
    if _registered:
        return
    from litert_converter.mlir import ir
    from litert_torch.backend import lowerings
    from litert_torch.backend.lowerings import utils as lowering_utils

    @lowerings.lower(torch.ops.kokoro_litert.sequence_lstm)
    def _lower(lctx, xw, w_hh, length, reverse):
        if tuple(lctx.node.args[0].meta["val"].shape)[0] != 1:
            raise ValueError("sequence_lstm converts at batch 1 only (the bundles' shape)")
        op = ir.Operation.create(
            "tfl.custom", results=lowering_utils.node_meta_to_ir_types(lctx.node), operands=[xw, w_hh, length],
            attributes={"custom_code": ir.StringAttr.get(CUSTOM_CODE[bool(reverse)]),
                        "custom_option": ir.Attribute.parse('#tfl<const_bytes: "0x">')})
        return op.results[0]

    _registered = True


def expand_sequence_lstms(path: str | Path) -> int:
    """Replace every sequence_lstm placeholder in a .tflite by its WHILE loop, in place; return how many."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    expanded = _LoopWriter(model).expand_all()
    if expanded:
        flatbuffer_utils.write_model(model, str(path))
    return expanded


def opcode_index(model, builtin: int) -> int:
    """Index of a builtin op's code in a ModelT, appended if the model has none yet."""
    from ai_edge_litert import schema_py_generated as schema

    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin and code.customCode is None:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)  # 127 = PLACEHOLDER_FOR_GREATER_OP_CODES
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


class _LoopWriter:
    """Flatbuffer surgery on a ModelT (ai_edge_litert's schema object API)."""

    def __init__(self, model):
        from ai_edge_litert import schema_py_generated as schema

        self.s = schema
        self.model = model

    # --- model-level helpers ------------------------------------------------------------------------

    def opcode(self, builtin: int) -> int:
        return opcode_index(self.model, builtin)

    def buffer(self, array) -> int:
        import numpy as np

        buf = self.s.BufferT()
        buf.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=np.uint8)
        self.model.buffers.append(buf)
        return len(self.model.buffers) - 1

    def expand_all(self) -> int:
        codes = {i: c.customCode.decode() if isinstance(c.customCode, bytes) else c.customCode
                 for i, c in enumerate(self.model.operatorCodes)}
        placeholder = {i: c == CUSTOM_CODE[True] for i, c in codes.items() if c in CUSTOM_CODE.values()}
        count = 0
        for graph in list(self.model.subgraphs):  # loop subgraphs are appended; never revisited
            operators = []
            for op in graph.operators:
                if op.opcodeIndex in placeholder:
                    operators.extend(self.loop_ops(graph, op, reverse=placeholder[op.opcodeIndex]))
                    count += 1
                else:
                    operators.append(op)
            graph.operators = operators
        if count:
            self.model.operatorCodes = self._drop_codes(set(placeholder))
        return count

    def _drop_codes(self, unused: set[int]) -> list:
        """Remove the placeholder operator codes and renumber every op's opcodeIndex."""
        keep = [i for i in range(len(self.model.operatorCodes)) if i not in unused]
        new_index = {old: new for new, old in enumerate(keep)}
        for graph in self.model.subgraphs:
            for op in graph.operators:
                op.opcodeIndex = new_index[op.opcodeIndex]
        return [self.model.operatorCodes[i] for i in keep]

    # --- one loop -------------------------------------------------------------------------------------

    def loop_ops(self, graph, op, reverse: bool) -> list:
        """The ops (FILL, WHILE; the loop's cond/body subgraphs are added) that compute placeholder `op`."""
        import numpy as np

        s = self.s
        xw, w_hh, length = op.inputs
        (y,) = op.outputs
        _, steps, gates = (int(v) for v in graph.tensors[xw].shape)
        hidden = gates // 4
        if list(graph.tensors[w_hh].shape) != [gates, hidden] or graph.tensors[w_hh].buffer == 0:
            raise ValueError(f"sequence_lstm placeholder in {graph.name!r}: w_hh is not a constant [{gates}, {hidden}]")
        carried = [((1,), s.TensorType.INT32), ((1,), s.TensorType.INT32), ((1, hidden), s.TensorType.FLOAT32),
                   ((1, hidden), s.TensorType.FLOAT32), ((1, steps, hidden), s.TensorType.FLOAT32),
                   ((1, steps, gates), s.TensorType.FLOAT32)]  # i, length, h, c, y, xw
        main = _Graph(self, graph)
        zero_i = main.const(np.zeros(1, np.int32))
        zero_state = main.const(np.zeros((1, hidden), np.float32))
        y0 = main.tensor((1, steps, hidden))  # zeros made at run time, not stored in the file
        fill = main.make_op(s.BuiltinOperator.FILL, [main.const(np.array([1, steps, hidden], np.int32)),
                                                     main.const(np.zeros((), np.float32))], [y0])
        outs = [main.tensor(shape, dtype) for shape, dtype in carried]
        outs[4] = y
        name = graph.name.decode() if isinstance(graph.name, bytes) else str(graph.name)
        name = f"{name}_lstm{len(self.model.subgraphs)}"  # unique: one loop per (cond, body) pair
        cond = self.cond_graph(carried, name)
        body = self.body_graph(carried, graph.tensors[w_hh].buffer, reverse, name)
        options = s.WhileOptionsT()
        options.condSubgraphIndex, options.bodySubgraphIndex = cond, body
        loop = main.make_op(s.BuiltinOperator.WHILE, [zero_i, length, zero_state, zero_state, y0, xw], outs,
                            s.BuiltinOptions.WhileOptions, options)
        # The loop body holds the recurrent weight now; the placeholder's copy of the reference would
        # leave a second, unused tensor on the same buffer (quantizers rewrite a buffer per tensor).
        graph.tensors[w_hh].buffer = 0
        return [fill, loop]

    def cond_graph(self, carried, name: str) -> int:
        g = _Graph.new(self, f"{name}_cond")
        args = [g.tensor(shape, dtype) for shape, dtype in carried]
        more = g.tensor((1,), self.s.TensorType.BOOL)
        g.op(self.s.BuiltinOperator.LESS, [args[0], args[1]], [more])
        g.graph.inputs, g.graph.outputs = args, [more]
        return g.index

    def body_graph(self, carried, w_hh_buffer: int, reverse: bool, name: str) -> int:
        import numpy as np

        s, op = self.s, self.s.BuiltinOperator
        g = _Graph.new(self, f"{name}_body")
        i, n, h, c, y, xw = args = [g.tensor(shape, dtype) for shape, dtype in carried]
        hidden = carried[2][0][1]
        steps, gates = carried[5][0][1], carried[5][0][2]
        one = g.const(np.ones(1, np.int32))
        i_next = g.tensor((1,), s.TensorType.INT32)
        g.op(op.ADD, [i, one], [i_next], s.BuiltinOptions.AddOptions, s.AddOptionsT())
        if reverse:  # t = length - 1 - i
            last = g.tensor((1,), s.TensorType.INT32)
            g.op(op.SUB, [n, one], [last], s.BuiltinOptions.SubOptions, s.SubOptionsT())
            t = g.tensor((1,), s.TensorType.INT32)
            g.op(op.SUB, [last, i], [t], s.BuiltinOptions.SubOptions, s.SubOptionsT())
        else:
            t = i
        gather = s.GatherOptionsT()
        gather.axis = 1
        row = g.tensor((1, 1, gates))
        g.op(op.GATHER, [xw, t], [row], s.BuiltinOptions.GatherOptions, gather)
        row2 = g.reshape(row, (1, gates))
        w = g.tensor((gates, hidden), buffer=w_hh_buffer)
        recurrent = g.tensor((1, gates))
        g.op(op.FULLY_CONNECTED, [h, w, -1], [recurrent], s.BuiltinOptions.FullyConnectedOptions,
             s.FullyConnectedOptionsT())
        pre = g.tensor((1, gates))
        g.op(op.ADD, [row2, recurrent], [pre], s.BuiltinOptions.AddOptions, s.AddOptionsT())
        split = s.SplitOptionsT()
        split.numSplits = 4
        gi, gf, gg, go = (g.tensor((1, hidden)) for _ in range(4))
        g.op(op.SPLIT, [g.const(np.array(1, np.int32)), pre], [gi, gf, gg, go], s.BuiltinOptions.SplitOptions, split)
        si, sf, so, tg = (g.tensor((1, hidden)) for _ in range(4))
        g.op(op.LOGISTIC, [gi], [si])
        g.op(op.LOGISTIC, [gf], [sf])
        g.op(op.LOGISTIC, [go], [so])
        g.op(op.TANH, [gg], [tg])
        c_next = g.add(g.mul(sf, c), g.mul(si, tg))  # c = sigmoid(f) * c + sigmoid(i) * tanh(g)
        tc = g.tensor((1, hidden))
        g.op(op.TANH, [c_next], [tc])
        h_next = g.mul(so, tc)  # h = sigmoid(o) * tanh(c)
        start = g.tensor((3,), s.TensorType.INT32)
        concat = s.ConcatenationOptionsT()
        concat.axis = 0
        zero = g.const(np.zeros(1, np.int32))
        g.op(op.CONCATENATION, [zero, t, zero], [start], s.BuiltinOptions.ConcatenationOptions, concat)
        y_next = g.tensor((1, steps, hidden))
        g.op(op.DYNAMIC_UPDATE_SLICE, [y, g.reshape(h_next, (1, 1, hidden)), start], [y_next])
        g.graph.inputs = args
        g.graph.outputs = [i_next, n, h_next, c_next, y_next, xw]
        return g.index


class _Graph:
    """Appends tensors and ops to one subgraph."""

    def __init__(self, writer: _LoopWriter, graph, index: int | None = None):
        self.w, self.graph, self.index = writer, graph, index
        self.s = writer.s

    @classmethod
    def new(cls, writer: _LoopWriter, name: str) -> "_Graph":
        graph = writer.s.SubGraphT()
        graph.tensors, graph.operators, graph.inputs, graph.outputs = [], [], [], []
        graph.name = name
        writer.model.subgraphs.append(graph)
        return cls(writer, graph, len(writer.model.subgraphs) - 1)

    def tensor(self, shape, dtype=None, buffer: int = 0) -> int:
        t = self.s.TensorT()
        t.shape = list(shape)
        t.type = self.s.TensorType.FLOAT32 if dtype is None else dtype
        t.buffer = buffer
        graph = self.graph.name.decode() if isinstance(self.graph.name, bytes) else self.graph.name
        t.name = f"{graph}/sequence_lstm/{len(self.graph.tensors)}"  # unique model-wide (tools rely on it)
        self.graph.tensors.append(t)
        return len(self.graph.tensors) - 1

    def const(self, array) -> int:
        import numpy as np

        dtype = {np.dtype(np.int32): self.s.TensorType.INT32, np.dtype(np.float32): self.s.TensorType.FLOAT32}
        return self.tensor(array.shape, dtype[array.dtype], buffer=self.w.buffer(array))

    def make_op(self, code: int, inputs, outputs, options_type=None, options=None):
        op = self.s.OperatorT()
        op.opcodeIndex = self.w.opcode(code)
        op.inputs, op.outputs = list(inputs), list(outputs)
        if options_type is not None:
            op.builtinOptionsType, op.builtinOptions = options_type, options
        return op

    def op(self, code: int, inputs, outputs, options_type=None, options=None) -> None:
        self.graph.operators.append(self.make_op(code, inputs, outputs, options_type, options))

    def mul(self, a: int, b: int) -> int:
        out = self.tensor(self.graph.tensors[a].shape)
        self.op(self.s.BuiltinOperator.MUL, [a, b], [out], self.s.BuiltinOptions.MulOptions, self.s.MulOptionsT())
        return out

    def add(self, a: int, b: int) -> int:
        out = self.tensor(self.graph.tensors[a].shape)
        self.op(self.s.BuiltinOperator.ADD, [a, b], [out], self.s.BuiltinOptions.AddOptions, self.s.AddOptionsT())
        return out

    def reshape(self, x: int, shape) -> int:
        import numpy as np

        out = self.tensor(shape, self.graph.tensors[x].type)
        options = self.s.ReshapeOptionsT()
        options.newShape = list(shape)
        self.op(self.s.BuiltinOperator.RESHAPE, [x, self.const(np.array(shape, np.int32))], [out],
                self.s.BuiltinOptions.ReshapeOptions, options)
        return out
