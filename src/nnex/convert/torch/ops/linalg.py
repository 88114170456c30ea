"""Matrix products, einsum, triangular masks, distances."""

from __future__ import annotations

import torch

from ..context import Ctx
from ..registry import lowers
from ._common import aten


def _float_gemm(dt) -> bool:
    return dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16)


@lowers(aten.mm.default, aten.bmm.default, aten.matmul.default)
def matmul(ctx: Ctx, a, b):
    dt = ctx.out_dtype
    a, b = ctx.tensor(a, dt), ctx.tensor(b, dt)
    return ctx.op.MatMul(a, b)


@lowers(aten.dot.default, aten.vdot.default)
def dot(ctx: Ctx, a, b):
    return ctx.op.MatMul(a, b)


@lowers(aten.mv.default)
def mv(ctx: Ctx, a, b):
    return ctx.op.MatMul(a, b)


@lowers(aten.addmm.default)
def addmm(ctx: Ctx, bias, a, b, beta=1, alpha=1):
    dt = ctx.out_dtype
    if _float_gemm(dt):
        return ctx.op.Gemm(a, b, ctx.tensor(bias, dt), alpha=float(alpha), beta=float(beta))
    prod = ctx.op.MatMul(a, b)
    if alpha != 1:
        prod = ctx.op.Mul(prod, ctx.const(alpha, dt))
    c = ctx.tensor(bias, dt)
    if beta != 1:
        c = ctx.op.Mul(c, ctx.const(beta, dt))
    return ctx.op.Add(prod, c) if beta != 0 else prod


@lowers(aten.baddbmm.default, aten.addbmm.default)
def baddbmm(ctx: Ctx, bias, a, b, beta=1, alpha=1):
    dt = ctx.out_dtype
    prod = ctx.op.MatMul(a, b)
    if ctx.node.target is aten.addbmm.default:
        prod = ctx.op.ReduceSum(prod, ctx.ints([0]), keepdims=0)
    if alpha != 1:
        prod = ctx.op.Mul(prod, ctx.const(alpha, dt))
    if beta == 0:
        return prod
    c = ctx.tensor(bias, dt)
    if beta != 1:
        c = ctx.op.Mul(c, ctx.const(beta, dt))
    return ctx.op.Add(prod, c)


@lowers(aten.linear.default)
def linear(ctx: Ctx, x, w, b=None):
    dt = ctx.out_dtype
    if ctx.rank(x) == 2 and _float_gemm(dt):
        return ctx.op.Gemm(x, w, b, transB=1)
    y = ctx.op.MatMul(x, ctx.op.Transpose(w, perm=[1, 0]) if ctx.rank(w) == 2 else w)
    return ctx.op.Add(y, b) if b is not None else y


@lowers(aten.einsum.default)
def einsum(ctx: Ctx, equation, tensors, path=None):
    dt = ctx.out_dtype
    return ctx.op.Einsum(*[ctx.tensor(t, dt) for t in tensors], equation=equation.replace(" ", ""))


def _trilu(ctx: Ctx, x, k, upper):
    dt = ctx.dtype(x)
    work = dt if dt in (torch.float32, torch.float64, torch.int64, torch.bool, torch.float16) else torch.float32
    out = ctx.op.Trilu(ctx.cast(x, work), ctx.const(int(k), torch.int64), upper=upper)
    return ctx.cast(ctx.record(out, work), dt)


@lowers(aten.tril.default)
def tril(ctx: Ctx, x, diagonal=0):
    return _trilu(ctx, x, diagonal, 0)


@lowers(aten.triu.default)
def triu(ctx: Ctx, x, diagonal=0):
    return _trilu(ctx, x, diagonal, 1)


@lowers(aten._cdist_forward.default)
def cdist(ctx: Ctx, a, b, p, compute_mode=None):
    dt = ctx.out_dtype
    op = ctx.op
    diff = op.Sub(op.Unsqueeze(a, ctx.ints([-2])), op.Unsqueeze(b, ctx.ints([-3])))
    ax = ctx.ints([-1])
    if p == 2:
        return op.ReduceL2(diff, ax, keepdims=0)
    if p == 1:
        return op.ReduceL1(diff, ax, keepdims=0)
    if p == float("inf"):
        return op.ReduceMax(op.Abs(diff), ax, keepdims=0)
    s = op.ReduceSum(op.Pow(op.Abs(diff), ctx.const(float(p), dt)), ax, keepdims=0)
    return op.Pow(s, ctx.const(1.0 / p, dt))


@lowers(aten._pdist_forward.default)
def pdist(ctx: Ctx, x, p=2.0):
    # every pair i < j of rows, in row-major order: the upper triangle of cdist(x, x)
    import numpy as np

    from ... import ConversionError
    from ..context import static_int

    n = static_int(ctx.shape(x)[0])
    if n is None:
        raise ConversionError("pdist over a symbolic number of rows is not supported")
    full = ctx.op.Reshape(cdist(ctx, x, x, p), ctx.ints([-1]))
    i, j = np.triu_indices(n, 1)
    return ctx.op.Gather(full, ctx.const((i * n + j).astype(np.int64), torch.int64), axis=0)


@lowers(aten._trilinear.default)
def trilinear(ctx: Ctx, i1, i2, i3, expand1, expand2, expand3, sumdim, unroll_dim=1):
    # (nn.Bilinear) each input lacks its ``expand`` dims; the product is summed over ``sumdim``
    r = ctx.rank(i1) + len(expand1)
    letters = "abcdefghijklmnopqrstuvwxyz"[:r]

    def sub(expand):
        return "".join(letters[d] for d in range(r) if d not in expand)

    out = "".join(letters[d] for d in range(r) if d not in sumdim)
    dt = ctx.out_dtype
    eq = f"{sub(expand1)},{sub(expand2)},{sub(expand3)}->{out}"
    return ctx.op.Einsum(ctx.tensor(i1, dt), ctx.tensor(i2, dt), ctx.tensor(i3, dt), equation=eq)
