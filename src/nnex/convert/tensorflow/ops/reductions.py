"""Reductions (axes given as a tensor, keep_dims as an attribute) and arg-max/min."""

from __future__ import annotations

import numpy as np

from ..registry import lowers
from ._common import attr, norm_axes, out_dtype

_REDUCE = {"Mean": "ReduceMean", "Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin",
           "Prod": "ReduceProd", "EuclideanNorm": "ReduceL2"}


def _axes(ctx, x, axes):
    v = ctx.value(axes)
    if v is not None:
        return ctx.ints(norm_axes(v, ctx.rank(x)))
    return ctx.reshape(ctx.cast(axes, np.int64), [-1])


def _reduce(onnx_op):
    def lower(ctx, op, x, axes):
        keep = int(bool(attr(op, "keep_dims", False)))
        ax = _axes(ctx, x, axes)
        if ctx.value(ax) is not None and ctx.value(ax).size == 0:
            return x  # no axes: TensorFlow reduces nothing (ONNX would reduce everything)
        return getattr(ctx.op, onnx_op)(x, ax, keepdims=keep)
    return lower


for _tf, _onnx in _REDUCE.items():
    lowers(_tf)(_reduce(_onnx))


@lowers("All", "Any")
def all_any(ctx, op, x, axes):
    keep = int(bool(attr(op, "keep_dims", False)))
    ax = _axes(ctx, x, axes)
    if ctx.value(ax) is not None and ctx.value(ax).size == 0:
        return x
    as_int = ctx.cast(x, np.int32)
    red = ctx.op.ReduceMin(as_int, ax, keepdims=keep) if op.type == "All" else \
        ctx.op.ReduceMax(as_int, ax, keepdims=keep)
    return ctx.op.Cast(red, to=9)


@lowers("ArgMax", "ArgMin")
def arg_max(ctx, op, x, axis):
    a = norm_axes(ctx.const_value(axis, "the axis"), ctx.rank(x))[0]
    y = getattr(ctx.op, op.type)(x, axis=a, keepdims=0)
    return ctx.cast(ctx.record(y, np.int64), out_dtype(op))
