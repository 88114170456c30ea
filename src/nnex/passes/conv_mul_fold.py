"""Conv followed by Mul of a per-channel constant becomes one Conv with scaled weights and bias.

Exporters that fold BatchNormalization by hand leave Conv -> Mul -> Add (DenseNet-121 among
the onnx package's models: 121 times); with this pass and conv_add_bias the pair disappears.
"""

from __future__ import annotations

from .base import NodePass
from .conv_add_relu import _per_channel
from .edit import add_constant, replace_node
from .match import only_reader, other_input, produced_by


class ConvMulFold(NodePass):
    name = "conv_mul_fold"
    op_types = frozenset({"Mul"})

    def match(self, mul, graph, ctx):
        for y in mul.inputs:
            conv = produced_by(y, "Conv", graph, ctx)
            if conv is not None and only_reader(y, ctx) is mul:
                break
        else:
            return None
        s = ctx.const(other_input(mul, y))
        w = ctx.const(conv.inputs[1])
        if s is None or w is None or s.dtype != w.dtype or w.dtype.kind != "f":
            return None
        has_b = len(conv.inputs) > 2 and conv.inputs[2] is not None
        b = ctx.const(conv.inputs[2]) if has_b else None
        if has_b and b is None:
            return None
        scale = _per_channel(s, w.shape[0], w.ndim)
        if scale is None:
            return None
        new_w = (w * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
        new_b = None if b is None else (b.reshape(-1) * scale).astype(w.dtype)

        def apply():
            wv = add_constant(graph, new_w, (conv.inputs[1].name or "conv") + "_scaled", ctx)
            ins = [conv.inputs[0], wv]
            if new_b is not None:
                ins.append(add_constant(graph, new_b, (conv.inputs[2].name or "conv") + "_scaled", ctx))
            replace_node(graph, mul, "Conv", ins, attributes=list(conv.attributes.values()),
                         name=conv.name or mul.name)
        return apply
