"""LayerNorm spelled out in elementary ops becomes one LayerNormalization-17 node:

    mean = ReduceMean(x, axes)          d = x - mean
    var  = ReduceMean(d ^ 2, axes)      y = d / Sqrt(var + eps) [* gamma] [+ beta]

(``d * d`` for the square and ``d * Reciprocal(...)`` for the division are recognised too).
The reduced axes must be the trailing ones, which is what LayerNormalization normalizes over,
and gamma/beta must hold exactly one value per normalized element. Opset >= 17 only.
"""

from __future__ import annotations

import numpy as np
import onnx

from .base import NodePass
from .edit import add_constant, replace_node
from .match import const_close, only_reader, other_input, readers

_FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
                onnx.TensorProto.BFLOAT16)


def _reduce_axes(node, ctx) -> list[int] | None:
    if node.attr("keepdims", 1) != 1:
        return None
    if ctx.opset("") >= 18:
        if len(node.inputs) < 2 or node.inputs[1] is None:
            return None
        c = ctx.const(node.inputs[1])
        return None if c is None or c.size == 0 else [int(a) for a in c.reshape(-1)]
    axes = node.attr("axes")
    return None if not axes else [int(a) for a in axes]


def _trailing_axis(axes: list[int], rank: int | None) -> int | None:
    """The (negative) first axis when ``axes`` are exactly the last len(axes) axes, else None."""
    if rank is not None:
        axes = [a - rank if a >= 0 else a for a in axes]
    elif any(a >= 0 for a in axes):
        return None
    k = len(axes)
    return -k if sorted(axes) == list(range(-k, 0)) else None


def _std_op(node, ctx, op_type: str):
    if node is None or node.op_type != op_type or not ctx.is_standard(node):
        return None
    return node


def _normalized(d, graph, ctx):
    """(node computing d / std, std) for the two spellings of the division."""
    for r in readers(d):
        if r.op_type == "Div" and ctx.is_standard(r) and r.inputs[0] is d and r.inputs[1] is not d:
            return r, r.inputs[1]
        if r.op_type == "Mul" and ctx.is_standard(r):
            o = other_input(r, d)
            rec = o.producer if o is not None else None
            if rec is not None and rec.op_type == "Reciprocal" and ctx.is_standard(rec) and only_reader(o, ctx) is r:
                return r, rec.inputs[0]
    return None, None


def _square_node(d, ctx):
    for r in readers(d):
        if not ctx.is_standard(r):
            continue
        if r.op_type == "Pow" and r.inputs[0] is d and const_close(r.inputs[1], 2.0, ctx):
            return r
        if r.op_type == "Mul" and r.inputs[0] is d and r.inputs[1] is d:
            return r
    return None


def _per_element(c: np.ndarray, norm_shape: tuple, rank: int | None) -> np.ndarray | None:
    """``c`` spread over the normalized shape, when multiplying/adding it acts per normalized element only."""
    k = len(norm_shape)
    if rank is None or c.ndim > rank:
        return None
    lead = c.shape[:-k] if c.ndim > k else ()
    tail = (1,) * (k - min(c.ndim, k)) + (tuple(c.shape[-k:]) if c.ndim else ())
    if any(d != 1 for d in lead) or any(t not in (1, n) for t, n in zip(tail, norm_shape)):
        return None
    return np.ascontiguousarray(np.broadcast_to(c.reshape(tail), norm_shape))


class LayerNormFusion(NodePass):
    name = "layernorm_fusion"
    op_types = frozenset({"ReduceMean"})

    def match(self, mean_node, graph, ctx):
        if ctx.opset("") < 17:
            return None
        x = mean_node.inputs[0]
        axes = _reduce_axes(mean_node, ctx)
        if axes is None or ctx.elem_type(x) not in _FLOAT_TYPES:
            return None
        shape = ctx.shape(x)
        rank = None if shape is None else len(shape)
        axis = _trailing_axis(axes, rank)
        if axis is None or shape is None:
            return None
        norm_shape = tuple(shape[axis:])
        if not all(isinstance(d, int) for d in norm_shape):
            return None
        sub = _std_op(only_reader(mean_node.outputs[0], ctx), ctx, "Sub")
        if sub is None or sub.inputs[0] is not x or sub.inputs[1] is not mean_node.outputs[0]:
            return None
        d = sub.outputs[0]
        if ctx.is_pinned(d) or len({id(n) for n in readers(d)}) != 2:
            return None
        sq = _square_node(d, ctx)
        div, std = _normalized(d, graph, ctx)
        if sq is None or div is None:
            return None
        var_node = _std_op(only_reader(sq.outputs[0], ctx), ctx, "ReduceMean")
        if var_node is None or _reduce_axes(var_node, ctx) != axes:
            return None
        add_eps = _std_op(only_reader(var_node.outputs[0], ctx), ctx, "Add")
        if add_eps is None:
            return None
        eps = ctx.scalar(other_input(add_eps, var_node.outputs[0]))
        sqrt = _std_op(only_reader(add_eps.outputs[0], ctx), ctx, "Sqrt")
        if eps is None or sqrt is None or sqrt.outputs[0] is not std or only_reader(std, ctx) is None:
            return None
        last = div
        params = {}  # "scale"/"bias" -> (array of the normalized shape, the model's value when it has that shape)
        for op_type, role in (("Mul", "scale"), ("Add", "bias")):
            nxt = _std_op(only_reader(last.outputs[0], ctx), ctx, op_type)
            if nxt is None:
                break
            v = other_input(nxt, last.outputs[0])
            c = ctx.const(v)
            if c is None:
                break
            arr = _per_element(c, norm_shape, rank)
            if arr is None:
                return None
            params[role] = (arr, v if c.shape == norm_shape else None)
            last = nxt
        if "scale" not in params:
            dtype = ctx.const(other_input(add_eps, var_node.outputs[0])).dtype
            params["scale"] = (np.ones(norm_shape, dtype=dtype), None)

        def apply():
            hint = (mean_node.name or "layernorm").replace("/", "_")
            ins = [x]
            for role in ("scale", "bias"):
                if role in params:
                    arr, v = params[role]
                    ins.append(v if v is not None else add_constant(graph, arr, f"{hint}_{role}", ctx))
            replace_node(graph, last, "LayerNormalization", ins, attributes={"axis": axis, "epsilon": float(eps)},
                         outputs=[last.outputs[0]], name=mean_node.name or last.name)
        return apply
