"""Matrix products and einsum."""

from __future__ import annotations

import numpy as np

from ... import ConversionError
from ..registry import lowers
from ._common import attr


def _swap_last(ctx, x):
    r = ctx.rank(x)
    return ctx.transpose(x, list(range(r - 2)) + [r - 1, r - 2])


@lowers("MatMul")
def matmul(ctx, op, a, b):
    ta, tb = attr(op, "transpose_a", False), attr(op, "transpose_b", False)
    if ctx.dtype(a) in (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16)):
        return ctx.op.Gemm(a, b, transA=int(ta), transB=int(tb)) if (ta or tb) else ctx.op.MatMul(a, b)
    return ctx.op.MatMul(_swap_last(ctx, a) if ta else a, _swap_last(ctx, b) if tb else b)


@lowers("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def batch_matmul(ctx, op, a, b):
    if attr(op, "adj_x", False):
        a = _swap_last(ctx, a)
    if attr(op, "adj_y", False):
        b = _swap_last(ctx, b)
    return ctx.op.MatMul(a, b)


@lowers("Einsum")
def einsum(ctx, op, *xs):
    eq = attr(op, "equation")
    if "..." in eq and not all(ctx.shape(x) is not None for x in xs):
        raise ConversionError("an einsum with an ellipsis needs inputs of known rank")
    return ctx.op.Einsum(*xs, equation=eq.replace(" ", ""))
