"""The Gelu formulas exporters spell out in elementary ops become one Gelu-20 node:

    erf form:   0.5 * x * (1 + Erf(x / sqrt(2)))
    tanh form:  0.5 * x * (1 + Tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))   (approximate="tanh")

in the usual arrangements of the products. Only where the model imports opset >= 20.
"""

from __future__ import annotations

import math

import onnx

from .base import NodePass
from .edit import replace_node
from .match import const_close, only_reader, other_input, produced_by

_FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
                onnx.TensorProto.BFLOAT16)
_ADDS = ("Add", "Sum")  # the spec's own Gelu function body adds with a two-input Sum
_SQRT2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _scaled_input(v, graph, ctx, factor: float):
    """x when ``v`` is x * factor (or x / (1 / factor)), else None."""
    mul = produced_by(v, "Mul", graph, ctx)
    if mul is not None:
        for x in mul.inputs:
            k = other_input(mul, x)
            if k is not None and const_close(k, factor, ctx):
                return x
        return None
    div = produced_by(v, "Div", graph, ctx)
    if div is not None and const_close(div.inputs[1], 1.0 / factor, ctx):
        return div.inputs[0]
    return None


def _is_half_of(v, x, graph, ctx) -> bool:
    """Whether ``v`` is x * 0.5 or x / 2."""
    return _scaled_input(v, graph, ctx, 0.5) is x


def _cube_of(v, graph, ctx):
    """x when ``v`` is Pow(x, 3), x * x * x or x * (x * x)."""
    p = produced_by(v, "Pow", graph, ctx)
    if p is not None:
        return p.inputs[0] if const_close(p.inputs[1], 3.0, ctx) else None
    m = produced_by(v, "Mul", graph, ctx)
    if m is None:
        return None
    for x in m.inputs:
        sq = produced_by(other_input(m, x), "Mul", graph, ctx)
        if sq is not None and sq.inputs[0] is x and sq.inputs[1] is x:
            return x
    return None


def _tanh_argument(v, graph, ctx):
    """x when ``v`` is sqrt(2/pi) * (x + 0.044715 * x^3)."""
    inner = _scaled_input(v, graph, ctx, _SQRT_2_OVER_PI)
    add = produced_by(inner, _ADDS, graph, ctx)
    if add is None or len(add.inputs) != 2:
        return None
    for x in add.inputs:
        term = produced_by(other_input(add, x), "Mul", graph, ctx)
        if term is None:
            continue
        for t in term.inputs:
            k = other_input(term, t)
            if k is not None and const_close(k, 0.044715, ctx) and _cube_of(t, graph, ctx) is x:
                return x
    return None


def _tail(one_plus, x, graph, ctx):
    """The node computing 0.5 * x * one_plus, in any of the usual orders, else None."""
    m1 = only_reader(one_plus, ctx)
    if m1 is None or m1.op_type != "Mul" or not ctx.is_standard(m1):
        return None
    o = other_input(m1, one_plus)
    if o is None:
        return None
    if _is_half_of(o, x, graph, ctx):
        return m1
    m2 = only_reader(m1.outputs[0], ctx)
    if m2 is None or m2.op_type != "Mul" or not ctx.is_standard(m2):
        return None
    o2 = other_input(m2, m1.outputs[0])
    if (o is x and const_close(o2, 0.5, ctx)) or (const_close(o, 0.5, ctx) and o2 is x):
        return m2
    return None


class GeluFusion(NodePass):
    name = "gelu_fusion"
    op_types = frozenset({"Erf", "Tanh"})

    def match(self, node, graph, ctx):
        if ctx.opset("") < 20:
            return None
        if node.op_type == "Erf":
            x = _scaled_input(node.inputs[0], graph, ctx, 1.0 / _SQRT2)
            approximate = "none"
        else:
            x = _tanh_argument(node.inputs[0], graph, ctx)
            approximate = "tanh"
        if x is None or ctx.elem_type(x) not in _FLOAT_TYPES:
            return None
        add = only_reader(node.outputs[0], ctx)
        if add is None or add.op_type not in _ADDS or len(add.inputs) != 2 or not ctx.is_standard(add):
            return None
        if not const_close(other_input(add, node.outputs[0]), 1.0, ctx):
            return None
        last = _tail(add.outputs[0], x, graph, ctx)
        if last is None:
            return None
        return lambda: replace_node(graph, last, "Gelu", [x], attributes={"approximate": approximate},
                                    name=node.name or last.name)
