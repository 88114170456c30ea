"""Nodes that pass their input through: Identity, Dropout at inference, Cast to the same type,
Reshape to the shape the input already has, Transpose with the identity permutation."""

from __future__ import annotations

import math

import numpy as np

from .base import NodePass
from .edit import bypass, can_bypass


def _dropout_is_identity(node, ctx) -> bool:
    if len(node.outputs) > 1 and (node.outputs[1].uses or ctx.is_pinned(node.outputs[1])):
        return False  # the mask is read
    opset = ctx.opset("")
    if opset < 7:
        return bool(node.attr("is_test", 0)) or node.attr("ratio", 0.5) == 0
    if opset < 12:
        return True  # opsets 7-11 have no training mode
    ins = node.inputs
    training = ins[2] if len(ins) > 2 else None
    if training is None:
        return True
    c = ctx.const(training)
    return c is not None and not bool(np.asarray(c).reshape(-1)[0])


def _reshape_target(node, in_shape, ctx):
    if ctx.opset("") < 5:
        shape = list(node.attr("shape", []))
        allowzero = 0
    else:
        c = ctx.const(node.inputs[1])
        if c is None:
            return None
        shape = [int(d) for d in c.reshape(-1)]
        allowzero = node.attr("allowzero", 0)
    out = []
    for i, d in enumerate(shape):
        out.append(in_shape[i] if d == 0 and not allowzero else d)
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        out[out.index(-1)] = math.prod(in_shape) // known if known else 0
    return tuple(out)


class IdentityElimination(NodePass):
    name = "identity_elimination"
    op_types = frozenset({"Identity", "Dropout", "Cast", "Reshape", "Transpose"})

    def match(self, node, graph, ctx):
        ins = node.inputs
        if not ins or ins[0] is None:
            return None
        src, out = ins[0], node.outputs[0]
        op = node.op_type
        if op == "Dropout":
            if not _dropout_is_identity(node, ctx):
                return None
        elif op == "Cast":
            et = ctx.elem_type(src)
            if et is None or et != node.attr("to"):
                return None
        elif op == "Reshape":
            in_shape = ctx.static_shape(src)
            if in_shape is None or _reshape_target(node, in_shape, ctx) != in_shape:
                return None
        elif op == "Transpose":
            perm = node.attr("perm")
            if perm is None or list(perm) != list(range(len(perm))):
                return None
        if not can_bypass(graph, out, src, ctx):
            return None
        return lambda: bypass(graph, node, out, src, ctx)
