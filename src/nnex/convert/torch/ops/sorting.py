"""sort, topk, bucketize / searchsorted."""

from __future__ import annotations

import torch

from ... import ConversionError
from ..context import Ctx
from ..registry import lowers
from ._common import INT64, aten, axis


def _topk(ctx: Ctx, x, k, dim, largest, sorted_=True):
    r = ctx.rank(x)
    if r == 0:
        return ctx.op.Identity(x), ctx.const(0, torch.int64)
    d = axis(dim, r)
    dt = ctx.dtype(x)
    work = dt if dt not in (torch.bool, torch.int8, torch.int16, torch.float16, torch.bfloat16) else (
        torch.float32 if dt.is_floating_point else torch.int32)
    xv = ctx.cast(x, work)
    vals, idx = ctx.op.TopK(xv, ctx.size_vec([k]), axis=d, largest=int(bool(largest)), sorted=int(bool(sorted_)),
                            _outputs=2)
    return ctx.cast(ctx.record(vals, work), dt), idx


@lowers(aten.sort.default)
def sort(ctx: Ctx, x, dim=-1, descending=False):
    if ctx.rank(x) == 0:
        return ctx.op.Identity(x), ctx.const(0, torch.int64)
    return _topk(ctx, x, ctx.size(x, axis(dim, ctx.rank(x))), dim, descending)


@lowers(aten.sort.stable)
def sort_stable(ctx: Ctx, x, stable=None, dim=-1, descending=False):
    return sort(ctx, x, dim, descending)


@lowers(aten.topk.default)
def topk(ctx: Ctx, x, k, dim=-1, largest=True, sorted=True):
    return _topk(ctx, x, k, dim, largest, sorted)


def _count_boundaries(ctx: Ctx, x, boundaries, right, out_int32):
    if ctx.rank(boundaries) != 1:
        raise ConversionError("bucketize/searchsorted are supported with a 1-D sorted sequence")
    dt = torch.promote_types(ctx.dtype(x), ctx.dtype(boundaries))
    xv = ctx.op.Unsqueeze(ctx.cast(x, dt), ctx.ints([-1]))
    cmp = ctx.op.LessOrEqual if right else ctx.op.Less
    hit = cmp(ctx.cast(boundaries, dt), xv)
    out = ctx.op.ReduceSum(ctx.op.Cast(hit, to=INT64), ctx.ints([-1]), keepdims=0)
    return ctx.cast(ctx.record(out, torch.int64), torch.int32 if out_int32 else torch.int64)


@lowers(aten.bucketize.Tensor)
def bucketize(ctx: Ctx, x, boundaries, out_int32=False, right=False):
    return _count_boundaries(ctx, x, boundaries, right, out_int32)


@lowers(aten.searchsorted.Tensor)
def searchsorted(ctx: Ctx, seq, x, out_int32=False, right=False, side=None, sorter=None):
    if sorter is not None:
        raise ConversionError("searchsorted with a sorter is not supported")
    return _count_boundaries(ctx, x, seq, right or side == "right", out_int32)
