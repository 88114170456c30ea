"""Conv followed by Add of a per-channel constant becomes Conv with that constant in its bias.

A following Relu stays a separate node: the result is standard ONNX that any runtime runs.
"""

from __future__ import annotations

import numpy as np

from .base import NodePass
from .edit import add_constant, replace_node
from .match import fed_by, other_input


def _per_channel(c: np.ndarray, m: int, out_rank: int) -> np.ndarray | None:
    """``c`` as a [M] bias when adding it to a Conv output [N, M, ...] only adds per channel."""
    if c.ndim > out_rank:
        return None
    if c.size == 1:
        return np.full(m, c.reshape(-1)[0], dtype=c.dtype)
    full = (1,) * (out_rank - c.ndim) + tuple(c.shape)
    if full[1] != m or any(d != 1 for i, d in enumerate(full) if i != 1):
        return None
    return c.reshape(m)


def conv_with_channel_constant(node, graph, ctx):
    """``(conv, w, b, k)`` when ``node`` (a binary op) combines the output of a Conv read by
    nothing else with a constant that acts per output channel: constant float weights ``w``,
    constant bias ``b`` (None when the Conv has none) and that constant as ``k`` [M]; else None."""
    conv, y = fed_by(node, "Conv", graph, ctx)
    if conv is None:
        return None
    c = ctx.const(other_input(node, y))
    w = ctx.const(conv.inputs[1])
    if c is None or w is None or c.dtype != w.dtype or w.dtype.kind != "f":
        return None
    has_b = len(conv.inputs) > 2 and conv.inputs[2] is not None
    b = ctx.const(conv.inputs[2]) if has_b else None
    if has_b and b is None:
        return None
    k = _per_channel(c, w.shape[0], w.ndim)
    return None if k is None else (conv, w, b, k)


class ConvAddBias(NodePass):
    name = "conv_add_bias"
    op_types = frozenset({"Add"})

    def match(self, add, graph, ctx):
        found = conv_with_channel_constant(add, graph, ctx)
        if found is None:
            return None
        conv, w, b, extra = found
        new_b = extra if b is None else (b.reshape(-1) + extra).astype(w.dtype)

        def apply():
            bv = add_constant(graph, new_b, (conv.inputs[1].name or "conv") + "_bias", ctx)
            replace_node(graph, add, "Conv", [conv.inputs[0], conv.inputs[1], bv],
                         attributes=list(conv.attributes.values()), name=conv.name or add.name)
        return apply
