"""Conv followed by inference BatchNormalization becomes one Conv with rescaled weights and bias."""

from __future__ import annotations

import numpy as np

from .base import NodePass
from .edit import add_constant, replace_node
from .match import only_reader, produced_by


def _bn_is_inference(bn, ctx) -> bool:
    opset = ctx.opset("")
    outs = bn.outputs
    if any(o.uses or ctx.is_pinned(o) for o in outs[1:]):
        return False
    if opset >= 14:
        return not bn.attr("training_mode", 0)
    if opset < 9 and bn.attr("spatial", 1) != 1:
        return False
    return len(outs) == 1 or (opset < 7 and bool(bn.attr("is_test", 0)))


class ConvBatchNormFold(NodePass):
    name = "conv_bn_fold"
    op_types = frozenset({"BatchNormalization"})

    def match(self, bn, graph, ctx):
        x = bn.inputs[0]
        conv = produced_by(x, "Conv", graph, ctx)
        if conv is None or only_reader(x, ctx) is not bn or not _bn_is_inference(bn, ctx):
            return None
        w = ctx.const(conv.inputs[1])
        b = ctx.const(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] is not None else None
        if w is None or w.dtype.kind != "f" or (len(conv.inputs) > 2 and conv.inputs[2] is not None and b is None):
            return None
        params = [ctx.const(v) for v in bn.inputs[1:5]]
        if len(params) != 4 or any(p is None for p in params):
            return None
        scale, bias, mean, var = (p.astype(np.float64).reshape(-1) for p in params)
        m = w.shape[0]
        if not all(p.size == m for p in (scale, bias, mean, var)):
            return None
        s = scale / np.sqrt(var + bn.attr("epsilon", 1e-5))
        new_w = (w.astype(np.float64) * s.reshape((m,) + (1,) * (w.ndim - 1))).astype(w.dtype)
        b0 = np.zeros(m) if b is None else b.astype(np.float64).reshape(-1)
        new_b = ((b0 - mean) * s + bias).astype(w.dtype)

        def apply():
            wv = add_constant(graph, new_w, (conv.inputs[1].name or "conv") + "_bn", ctx)
            bv = add_constant(graph, new_b, (conv.inputs[1].name or "conv") + "_bn_bias", ctx)
            replace_node(graph, bn, "Conv", [conv.inputs[0], wv, bv], attributes=list(conv.attributes.values()),
                         outputs=[bn.outputs[0]], name=conv.name or bn.name)
        return apply
