"""Reductions (sum, mean, max, var, norms, any/all, arg-max/min) and cumulative ops."""

from __future__ import annotations

import torch

from ... import ConversionError
from ..context import Ctx
from ..registry import lowers
from ._common import BOOL, INT32, INT64, aten, axes, axis, onnx_type, prims


def _dims(ctx: Ctx, x, dim):
    r = ctx.rank(x)
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return None
    return axes(dim, r)


def reduce(ctx: Ctx, name: str, x, dims, keepdim: bool):
    """ONNX Reduce<name> over ``dims`` (None: all of them)."""
    if ctx.rank(x) == 0:
        return ctx.op.Identity(x)
    ax = None if dims is None else ctx.ints(dims)
    return getattr(ctx.op, name)(x, ax, keepdims=int(bool(keepdim)))


def _work_dtype(ctx: Ctx, x, dt):
    return ctx.tensor(x, dt)


@lowers(aten.sum.dim_IntList, aten.sum.default, prims.sum.default)
def sum_(ctx: Ctx, x, dim=None, keepdim=False, dtype=None):
    if isinstance(dim, torch.dtype):  # sum.default(x, dtype)
        dim, keepdim = None, False
    dt = ctx.out_dtype
    work = torch.int64 if dt == torch.bool else dt
    out = reduce(ctx, "ReduceSum", _work_dtype(ctx, x, work), _dims(ctx, x, dim), keepdim)
    return ctx.cast(ctx.record(out, work), dt)


@lowers(aten.mean.dim, aten.mean.default)
def mean(ctx: Ctx, x, dim=None, keepdim=False, dtype=None):
    if isinstance(dim, torch.dtype):
        dim = None
    return reduce(ctx, "ReduceMean", _work_dtype(ctx, x, ctx.out_dtype), _dims(ctx, x, dim), keepdim)


@lowers(aten.prod.dim_int, aten.prod.default)
def prod(ctx: Ctx, x, dim=None, keepdim=False, dtype=None):
    if isinstance(dim, torch.dtype):
        dim = None
    dt = ctx.out_dtype
    dims = None if dim is None else [axis(dim, max(ctx.rank(x), 1))]
    return reduce(ctx, "ReduceProd", _work_dtype(ctx, x, dt), dims, keepdim)


def _minmax(ctx: Ctx, name, x, dims, keepdim):
    dt = ctx.dtype(x)
    if dt == torch.bool:
        out = reduce(ctx, name, ctx.cast(x, torch.int32), dims, keepdim)
        return ctx.cast(ctx.record(out, torch.int32), torch.bool)
    return reduce(ctx, name, x, dims, keepdim)


@lowers(aten.amax.default)
def amax(ctx: Ctx, x, dim=(), keepdim=False):
    return _minmax(ctx, "ReduceMax", x, _dims(ctx, x, dim), keepdim)


@lowers(aten.amin.default)
def amin(ctx: Ctx, x, dim=(), keepdim=False):
    return _minmax(ctx, "ReduceMin", x, _dims(ctx, x, dim), keepdim)


@lowers(aten.max.default)
def max_all(ctx: Ctx, x):
    return _minmax(ctx, "ReduceMax", x, None, False)


@lowers(aten.min.default)
def min_all(ctx: Ctx, x):
    return _minmax(ctx, "ReduceMin", x, None, False)


def _arg(ctx: Ctx, name, x, dim, keepdim):
    if ctx.dtype(x) == torch.bool:
        x = ctx.cast(x, torch.int32)
    r = ctx.rank(x)
    if r == 0:
        return ctx.const(0, torch.int64)
    if dim is None:
        flat = ctx.op.Reshape(x, ctx.ints([-1]))
        out = getattr(ctx.op, name)(flat, axis=0, keepdims=0)
        if keepdim:
            out = ctx.op.Reshape(out, ctx.ints([1] * r))
        return out
    return getattr(ctx.op, name)(x, axis=axis(dim, r), keepdims=int(bool(keepdim)))


@lowers(aten.argmax.default)
def argmax(ctx: Ctx, x, dim=None, keepdim=False):
    return _arg(ctx, "ArgMax", x, dim, keepdim)


@lowers(aten.argmin.default)
def argmin(ctx: Ctx, x, dim=None, keepdim=False):
    return _arg(ctx, "ArgMin", x, dim, keepdim)


@lowers(aten.max.dim)
def max_dim(ctx: Ctx, x, dim, keepdim=False):
    d = axis(dim, max(ctx.rank(x), 1))
    return _minmax(ctx, "ReduceMax", x, [d], keepdim), _arg(ctx, "ArgMax", x, d, keepdim)


@lowers(aten.min.dim)
def min_dim(ctx: Ctx, x, dim, keepdim=False):
    d = axis(dim, max(ctx.rank(x), 1))
    return _minmax(ctx, "ReduceMin", x, [d], keepdim), _arg(ctx, "ArgMin", x, d, keepdim)


def _bool_reduce(ctx: Ctx, name, x, dim, keepdim):
    dims = _dims(ctx, x, dim)
    shape = ctx.shape(x)
    if ctx.dtype(x) != torch.bool:
        x = ctx.op.Not(ctx.op.Equal(x, ctx.const(0, ctx.dtype(x))))
    as_int = ctx.record(ctx.op.Cast(x, to=INT32), torch.int32, shape)
    return ctx.op.Cast(reduce(ctx, name, as_int, dims, keepdim), to=BOOL)


@lowers(aten.any.default, aten.any.dim, aten.any.dims)
def any_(ctx: Ctx, x, dim=None, keepdim=False):
    return _bool_reduce(ctx, "ReduceMax", x, dim, keepdim)


@lowers(aten.all.default, aten.all.dim, aten.all.dims)
def all_(ctx: Ctx, x, dim=None, keepdim=False):
    return _bool_reduce(ctx, "ReduceMin", x, dim, keepdim)


def count(ctx: Ctx, x, dims, dt):
    """How many elements the reduction over ``dims`` averages (a 0-d Value of ``dt``)."""
    shape = ctx.shape(x)
    rdims = range(len(shape)) if dims is None else dims
    sizes = [ctx.size(x, d) for d in rdims]
    n = 1
    for s in sizes:
        n = ctx.sym_binary("mul", n, s)
    return ctx.tensor(n, dt)


def _var(ctx: Ctx, x, dims, correction, keepdim):
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt)
    op = ctx.op
    if ctx.rank(x) == 0:
        dims = None
    mean_k = reduce(ctx, "ReduceMean", x, dims, True)
    d = op.Sub(x, mean_k)
    ss = reduce(ctx, "ReduceSum", ctx.record(op.Mul(d, d), dt, ctx.shape(x)), dims, keepdim)
    n = count(ctx, x, dims, dt)
    denom = op.Max(op.Sub(n, ctx.const(correction, dt)), ctx.const(0.0, dt))
    var = op.Div(ss, denom)
    mean_out = mean_k if keepdim or ctx.rank(x) == 0 else reduce(ctx, "ReduceMean", x, dims, False)
    return var, mean_out


def _correction(correction, unbiased=None):
    if correction is None:
        return 1 if unbiased is None or unbiased else 0
    return correction


@lowers(aten.var.correction, prims.var.default)
def var(ctx: Ctx, x, dim=None, correction=None, keepdim=False):
    return _var(ctx, x, _dims(ctx, x, dim), _correction(correction), keepdim)[0]


@lowers(aten.var.dim)
def var_dim(ctx: Ctx, x, dim=None, unbiased=True, keepdim=False):
    return _var(ctx, x, _dims(ctx, x, dim), 1 if unbiased else 0, keepdim)[0]


@lowers(aten.std.correction)
def std(ctx: Ctx, x, dim=None, correction=None, keepdim=False):
    return ctx.op.Sqrt(_var(ctx, x, _dims(ctx, x, dim), _correction(correction), keepdim)[0])


@lowers(aten.var_mean.correction)
def var_mean(ctx: Ctx, x, dim=None, correction=None, keepdim=False):
    return _var(ctx, x, _dims(ctx, x, dim), _correction(correction), keepdim)


@lowers(aten.logsumexp.default)
def logsumexp(ctx: Ctx, x, dim, keepdim=False):
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt)
    dims = _dims(ctx, x, dim)
    op = ctx.op
    m = reduce(ctx, "ReduceMax", x, dims, True)
    m = op.Where(op.IsInf(m), ctx.const(0.0, dt), m)  # all -inf (or +inf) rows: no shift
    s = reduce(ctx, "ReduceSum", ctx.record(op.Exp(op.Sub(x, m)), dt, ctx.shape(x)), dims, keepdim)
    if not keepdim:
        m = op.Squeeze(m, ctx.ints(dims)) if dims is not None else op.Reshape(m, ctx.ints([]))
    return op.Add(op.Log(s), m)


@lowers(aten.linalg_vector_norm.default)
def vector_norm(ctx: Ctx, x, ord=2, dim=None, keepdim=False, dtype=None):
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt)
    dims = _dims(ctx, x, dim)
    op = ctx.op
    if ord == 2:
        return reduce(ctx, "ReduceL2", x, dims, keepdim)
    if ord == 1:
        return reduce(ctx, "ReduceL1", x, dims, keepdim)
    a = ctx.record(op.Abs(x), dt, ctx.shape(x))
    if ord == float("inf"):
        return reduce(ctx, "ReduceMax", a, dims, keepdim)
    if ord == float("-inf"):
        return reduce(ctx, "ReduceMin", a, dims, keepdim)
    if ord == 0:
        nz = ctx.record(op.Cast(op.Not(op.Equal(x, ctx.const(0.0, dt))), to=onnx_type(dt)), dt, ctx.shape(x))
        return reduce(ctx, "ReduceSum", nz, dims, keepdim)
    p = ctx.const(float(ord), dt)
    s = reduce(ctx, "ReduceSum", ctx.record(op.Pow(a, p), dt, ctx.shape(x)), dims, keepdim)
    return op.Pow(s, ctx.const(1.0 / float(ord), dt))



@lowers(aten.cumsum.default)
def cumsum(ctx: Ctx, x, dim, dtype=None):
    dt = ctx.out_dtype
    work = torch.int64 if dt in (torch.bool, torch.int8, torch.int16, torch.uint8) else dt
    x = ctx.tensor(x, work)
    if ctx.rank(x) == 0:
        return ctx.op.Identity(x)
    out = ctx.op.CumSum(x, ctx.const(axis(dim, ctx.rank(x)), torch.int64))
    return ctx.cast(ctx.record(out, work), dt)


@lowers(aten.cumprod.default)
def cumprod(ctx: Ctx, x, dim, dtype=None):
    # no ONNX CumProd before opset 26: the product over j <= i of a [.., n, n] masked copy
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt)
    r = ctx.rank(x)
    if r == 0:
        return ctx.op.Identity(x)
    d = axis(dim, r)
    n = ctx.size(x, d)
    if not isinstance(n, int):
        raise ConversionError("cumprod along a dimension of symbolic size is not supported")
    import numpy as np

    op = ctx.op
    mask = np.tril(np.ones((n, n), dtype=bool))  # [i, j]: j <= i
    mshape = [1] * r + [n]
    mshape[d] = n
    xt = op.Unsqueeze(x, ctx.ints([d]))  # [.., 1(i), n(j) at d+1 ...]
    # move j to the end: x with a new axis at d (i) and the original axis (j) last
    perm = list(range(r + 1))
    perm.pop(d + 1)
    perm.append(d + 1)
    xt = op.Transpose(xt, perm=perm)
    one = ctx.const(1, dt)
    m = ctx.const(mask.reshape(mshape), torch.bool)
    out = op.ReduceProd(op.Where(m, xt, one), ctx.ints([r]), keepdims=0)
    return out


@lowers(aten.count_nonzero.dim_IntList, aten.count_nonzero.default)
def count_nonzero(ctx: Ctx, x, dim=None):
    nz = ctx.op.Cast(ctx.op.Not(ctx.op.Equal(x, ctx.const(0, ctx.dtype(x)))), to=INT64)
    ctx.record(nz, torch.int64, ctx.shape(x))
    dims = None if dim is None else _dims(ctx, x, dim if isinstance(dim, (list, tuple)) else [dim])
    return reduce(ctx, "ReduceSum", nz, dims, False)
