"""Conv followed by Mul of a per-channel constant becomes one Conv with scaled weights and bias.

Exporters that fold BatchNormalization by hand leave Conv -> Mul -> Add (DenseNet-121 among
the onnx package's models: 121 times); with this pass and conv_add_bias the pair disappears.
"""

from __future__ import annotations

from .base import NodePass
from .conv_add_relu import conv_with_channel_constant
from .edit import add_constant, replace_node


class ConvMulFold(NodePass):
    name = "conv_mul_fold"
    op_types = frozenset({"Mul"})

    def match(self, mul, graph, ctx):
        found = conv_with_channel_constant(mul, graph, ctx)
        if found is None:
            return None
        conv, w, b, scale = found
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
