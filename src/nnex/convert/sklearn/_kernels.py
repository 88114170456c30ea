"""Kernel matrices K(X, Y) against constant rows Y (support vectors, training points),
as libsvm and sklearn.metrics.pairwise define them."""

from __future__ import annotations

import numpy as np

from ...ir.value import Value
from .. import ConversionError
from ._context import Ctx


def squared_distances(ctx: Ctx, x: Value, y: np.ndarray) -> Value:
    """|x - y|^2 for every row pair, as ||x||^2 - 2 x.y + ||y||^2 (clipped at 0)."""
    y = np.asarray(y, dtype=np.float64)
    xx = ctx.sum(ctx.op.Mul(x, x))
    xy = ctx.op.MatMul(x, ctx.const(y.T))
    yy = ctx.const((y * y).sum(axis=1)[None, :])
    d = ctx.op.Add(ctx.op.Sub(xx, ctx.op.Mul(xy, ctx.scalar(2.0))), yy)
    return ctx.op.Max(d, ctx.scalar(0.0))


def manhattan_distances(ctx: Ctx, x: Value, y: np.ndarray) -> Value:
    """sum |x - y| for every row pair, through an (N, M, F) difference."""
    y = np.asarray(y, dtype=np.float64)
    diff = ctx.op.Sub(ctx.op.Unsqueeze(x, ctx.i64([1])), ctx.const(y[None, :, :]))
    return ctx.reduce("ReduceSum", ctx.op.Abs(diff), axis=2, keepdims=0)


def minkowski_distances(ctx: Ctx, x: Value, y: np.ndarray, p: float) -> Value:
    y = np.asarray(y, dtype=np.float64)
    diff = ctx.op.Abs(ctx.op.Sub(ctx.op.Unsqueeze(x, ctx.i64([1])), ctx.const(y[None, :, :])))
    if np.isinf(p):
        return ctx.reduce("ReduceMax", diff, axis=2, keepdims=0)
    s = ctx.reduce("ReduceSum", ctx.op.Pow(diff, ctx.scalar(p)), axis=2, keepdims=0)
    return ctx.op.Pow(s, ctx.scalar(1.0 / p))


def kernel(ctx: Ctx, x: Value, y: np.ndarray, kind: str, *, gamma=None, coef0=1.0, degree=3) -> Value:
    """K(x, y) for the kernels libsvm and sklearn.metrics.pairwise share (gamma resolved)."""
    y = np.asarray(y, dtype=np.float64)
    if kind == "linear":
        return ctx.op.MatMul(x, ctx.const(y.T))
    if gamma is None:
        gamma = 1.0 / y.shape[1]
    if kind == "rbf":
        return ctx.op.Exp(ctx.op.Mul(squared_distances(ctx, x, y), ctx.scalar(-gamma)))
    if kind in ("poly", "polynomial"):
        base = ctx.op.Add(ctx.op.Mul(ctx.op.MatMul(x, ctx.const(y.T)), ctx.scalar(gamma)), ctx.scalar(coef0))
        return ctx.op.Pow(base, ctx.scalar(float(degree)))
    if kind == "sigmoid":
        return ctx.op.Tanh(ctx.op.Add(ctx.op.Mul(ctx.op.MatMul(x, ctx.const(y.T)), ctx.scalar(gamma)),
                                      ctx.scalar(coef0)))
    if kind == "laplacian":
        return ctx.op.Exp(ctx.op.Mul(manhattan_distances(ctx, x, y), ctx.scalar(-gamma)))
    if kind == "cosine":
        norms = np.sqrt((y * y).sum(axis=1))
        yn = y / np.where(norms == 0, 1.0, norms)[:, None]
        xn = ctx.op.Sqrt(ctx.sum(ctx.op.Mul(x, x)))
        xn = ctx.op.Where(ctx.op.Equal(xn, ctx.scalar(0.0)), ctx.scalar(1.0), xn)
        return ctx.op.MatMul(ctx.op.Div(x, xn), ctx.const(yn.T))
    raise ConversionError(f"the kernel {kind!r} cannot be converted (supported: linear, rbf, poly, sigmoid, "
                          f"laplacian, cosine)")


def pairwise_kernel(ctx: Ctx, x: Value, y: np.ndarray, metric, params: dict | None) -> Value:
    """sklearn.metrics.pairwise.pairwise_kernels(x, y, metric, filter_params=True, **params)."""
    if callable(metric):
        raise ConversionError("a callable kernel cannot be converted")
    if metric == "precomputed":
        raise ConversionError("a precomputed kernel cannot be converted")
    p = {k: v for k, v in (params or {}).items() if v is not None}
    if metric in ("linear", "cosine"):
        return kernel(ctx, x, y, metric)
    return kernel(ctx, x, y, metric, gamma=p.get("gamma"), coef0=p.get("coef0", 1.0), degree=p.get("degree", 3))
