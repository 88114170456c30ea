"""Tensor factories: full, empty, zeros-like, arange, scalar_tensor, random."""

from __future__ import annotations

import numpy as np
import torch

from ..context import Ctx, Sym
from ..dtypes import onnx_type
from ..registry import lowers
from ._common import aten, prims


def _fill(ctx: Ctx, shape_vec, value, dt):
    return ctx.full(shape_vec, value, dt)


@lowers(aten.full.default)
def full(ctx: Ctx, size, fill_value, *rest, **kw):
    dt = ctx.out_dtype
    return _fill(ctx, ctx.size_vec(size), fill_value, dt)


@lowers(aten.zeros.default, aten.empty.memory_format, aten.new_empty.default,
        aten.new_zeros.default)
def zeros(ctx: Ctx, *args):
    return _fill(ctx, ctx.shape_vec(ctx.out_shape), 0, ctx.out_dtype)


@lowers(aten.ones.default, aten.new_ones.default)
def ones(ctx: Ctx, *args):
    return _fill(ctx, ctx.shape_vec(ctx.out_shape), 1, ctx.out_dtype)


@lowers(aten.new_full.default)
def new_full(ctx: Ctx, x, size, fill_value, *rest):
    return _fill(ctx, ctx.size_vec(size), fill_value, ctx.out_dtype)


@lowers(aten.empty_strided.default)
def empty_strided(ctx: Ctx, size, stride, *rest):
    return _fill(ctx, ctx.size_vec(size), 0, ctx.out_dtype)


@lowers(aten.full_like.default)
def full_like(ctx: Ctx, x, fill_value, *rest):
    return _fill(ctx, ctx.shape_of(x), fill_value, ctx.out_dtype)


@lowers(aten.zeros_like.default, aten.empty_like.default)
def zeros_like(ctx: Ctx, x, *rest):
    return _fill(ctx, ctx.shape_of(x), 0, ctx.out_dtype)


@lowers(aten.ones_like.default)
def ones_like(ctx: Ctx, x, *rest):
    return _fill(ctx, ctx.shape_of(x), 1, ctx.out_dtype)


@lowers(aten.fill.Scalar, aten.fill.Tensor)
def fill(ctx: Ctx, x, value):
    return _fill(ctx, ctx.shape_of(x), value, ctx.out_dtype)


@lowers(aten.scalar_tensor.default)
def scalar_tensor(ctx: Ctx, s, *rest, **kw):
    return ctx.tensor(s, ctx.out_dtype)


@lowers(prims.scalar_tensor.default)
def prims_scalar_tensor(ctx: Ctx, s, *rest):
    return ctx.tensor(s, ctx.out_dtype)


@lowers(aten.arange.start_step, aten.arange.start, aten.arange.default)
def arange(ctx: Ctx, *args):
    nums = [a for a in args if isinstance(a, (int, float, Sym, torch.SymInt)) and not isinstance(a, bool)]
    if len(nums) == 1:
        start, end, step = 0, nums[0], 1
    elif len(nums) == 2:
        start, end, step = nums[0], nums[1], 1
    else:
        start, end, step = nums[:3]
    dt = ctx.out_dtype
    work = dt if dt in (torch.float32, torch.float64, torch.int16, torch.int32, torch.int64) else (
        torch.float32 if dt.is_floating_point else torch.int64)
    if all(isinstance(v, int) for v in (start, end, step)) or all(
            isinstance(v, (int, float)) for v in (start, end, step)):
        vals = torch.arange(start, end, step, dtype=dt)
        if vals.numel() <= 4096:
            return ctx.const(vals, dt)
    out = ctx.op.Range(ctx.tensor(start, work), ctx.tensor(end, work), ctx.tensor(step, work))
    return ctx.cast(ctx.record(out, work, (None,)), dt)


@lowers(prims.iota.default)
def iota(ctx: Ctx, length, start, step, *rest, **kw):
    dt = ctx.out_dtype
    end = ctx.sym_binary("add", start, ctx.sym_binary("mul", length, step))
    return ctx.op.Range(ctx.tensor(start, dt), ctx.tensor(end, dt), ctx.tensor(step, dt))


@lowers(aten.rand.default, aten.rand_like.default)
def rand(ctx: Ctx, *args):
    # values differ from torch's generator; the distribution is the same
    dt = ctx.out_dtype
    shape = ctx.shape_vec(ctx.out_shape)
    like = ctx.op.ConstantOfShape(shape, value=np.zeros(1, dtype=np.float32))
    return ctx.op.RandomUniformLike(like, dtype=onnx_type(dt))


@lowers(aten.randn.default, aten.randn_like.default)
def randn(ctx: Ctx, *args):
    dt = ctx.out_dtype
    shape = ctx.shape_vec(ctx.out_shape)
    like = ctx.op.ConstantOfShape(shape, value=np.zeros(1, dtype=np.float32))
    return ctx.op.RandomNormalLike(like, dtype=onnx_type(dt))
