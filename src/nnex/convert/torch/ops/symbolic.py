"""Symbolic scalars: sizes (sym_size), Python arithmetic on SymInts, .item(), tuple indexing."""

from __future__ import annotations

import math
import operator

import torch

from ... import ConversionError
from ..context import Ctx, Sym
from ..registry import lowers
from ._common import aten


@lowers(operator.getitem)
def getitem(ctx: Ctx, seq, i):
    if isinstance(seq, (list, tuple)):
        v = seq[i]
        if v is None:
            if not ctx.node.users:  # an output nobody reads
                return None
            raise ConversionError(f"output {i} of this op is not computed by its ONNX lowering")
        return v
    raise ConversionError(f"indexing a {type(seq).__name__} is not supported")


@lowers(aten.sym_size.int)
def sym_size(ctx: Ctx, x, dim):
    return ctx.size(x, dim)


@lowers(aten.sym_numel.default)
def sym_numel(ctx: Ctx, x):
    n = 1
    for d in range(ctx.rank(x)):
        n = ctx.sym_binary("mul", n, ctx.size(x, d))
    return n


@lowers(aten.sym_storage_offset.default)
def sym_storage_offset(ctx: Ctx, x):
    return 0


@lowers(aten.sym_stride.int)
def sym_stride(ctx: Ctx, x, dim):
    # strides of a contiguous tensor: the product of the later dims
    r = ctx.rank(x)
    n = 1
    for d in range(dim % r + 1, r):
        n = ctx.sym_binary("mul", n, ctx.size(x, d))
    return n


@lowers(aten._local_scalar_dense.default, aten.item.default)
def item(ctx: Ctx, x):
    dt = ctx.dtype(x)
    kind = torch.bool if dt == torch.bool else (torch.float64 if dt.is_floating_point else torch.int64)
    v = ctx.op.Reshape(ctx.cast(x, kind), ctx.ints([]))
    return Sym(ctx.record(v, kind, ()), kind)


def _binary(kind):
    def lower(ctx: Ctx, a, b):
        return ctx.sym_binary(kind, a, b)

    return lower


for _fn, _kind in [(operator.add, "add"), (operator.sub, "sub"), (operator.mul, "mul"),
                   (operator.floordiv, "floordiv"), (operator.mod, "mod"), (operator.truediv, "truediv"),
                   (operator.pow, "pow"), (torch.sym_max, "max"), (torch.sym_min, "min")]:
    lowers(_fn)(_binary(_kind))


def _compare(name, py):
    def lower(ctx: Ctx, a, b):
        if not isinstance(a, Sym) and not isinstance(b, Sym):
            return py(a, b)
        dt = torch.float64 if any(isinstance(x, float) or (isinstance(x, Sym) and x.dtype == torch.float64)
                                  for x in (a, b)) else torch.int64
        out = getattr(ctx.op, name)(ctx.cast(a, dt), ctx.cast(b, dt))
        if name == "Equal" and py is operator.ne:
            out = ctx.op.Not(out)
        return Sym(ctx.record(out, torch.bool, ()), torch.bool)

    return lower


for _fn, _name in [(operator.eq, "Equal"), (operator.ne, "Equal"), (operator.lt, "Less"),
                   (operator.le, "LessOrEqual"), (operator.gt, "Greater"), (operator.ge, "GreaterOrEqual")]:
    lowers(_fn)(_compare(_name, _fn))


@lowers(operator.neg)
def neg(ctx: Ctx, a):
    if not isinstance(a, Sym):
        return -a
    return Sym(ctx.record(ctx.op.Neg(a.value), a.dtype, ()), a.dtype)


@lowers(operator.not_, torch.sym_not)
def not_(ctx: Ctx, a):
    if not isinstance(a, Sym):
        return not a
    return Sym(ctx.record(ctx.op.Not(ctx.cast(a, torch.bool)), torch.bool, ()), torch.bool)


@lowers(operator.and_)
def and_(ctx: Ctx, a, b):
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return a & b
    return Sym(ctx.record(ctx.op.And(ctx.cast(a, torch.bool), ctx.cast(b, torch.bool)), torch.bool, ()), torch.bool)


@lowers(operator.or_)
def or_(ctx: Ctx, a, b):
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return a | b
    return Sym(ctx.record(ctx.op.Or(ctx.cast(a, torch.bool), ctx.cast(b, torch.bool)), torch.bool, ()), torch.bool)


@lowers(torch.sym_float)
def sym_float(ctx: Ctx, a):
    if not isinstance(a, Sym):
        return float(a)
    return Sym(ctx.cast(a, torch.float64), torch.float64)


@lowers(torch.sym_int, math.trunc)
def sym_int(ctx: Ctx, a):
    if not isinstance(a, Sym):
        return int(a)
    if a.dtype == torch.float64:
        from .elementwise import trunc_value

        return Sym(ctx.cast(trunc_value(ctx, a.value), torch.int64), torch.int64)
    return Sym(ctx.cast(a, torch.int64), torch.int64)


@lowers(math.floor)
def floor(ctx: Ctx, a):
    if not isinstance(a, Sym):
        return math.floor(a)
    if a.dtype != torch.float64:
        return a
    return Sym(ctx.cast(ctx.op.Floor(a.value), torch.int64), torch.int64)


@lowers(math.ceil)
def ceil(ctx: Ctx, a):
    if not isinstance(a, Sym):
        return math.ceil(a)
    if a.dtype != torch.float64:
        return a
    return Sym(ctx.cast(ctx.op.Ceil(a.value), torch.int64), torch.int64)


@lowers(math.sqrt)
def sqrt(ctx: Ctx, a):
    if not isinstance(a, Sym):
        return math.sqrt(a)
    return Sym(ctx.record(ctx.op.Sqrt(ctx.cast(a, torch.float64)), torch.float64, ()), torch.float64)


@lowers(torch.sym_ite)
def sym_ite(ctx: Ctx, c, a, b):
    if not isinstance(c, Sym):
        return a if c else b
    dt = torch.float64 if any(isinstance(x, float) or (isinstance(x, Sym) and x.dtype == torch.float64)
                              for x in (a, b)) else torch.int64
    out = ctx.op.Where(ctx.cast(c, torch.bool), ctx.cast(a, dt), ctx.cast(b, dt))
    return Sym(ctx.record(out, dt, ()), dt)


@lowers(torch.sym_sum)
def sym_sum(ctx: Ctx, args):
    out = 0
    for a in args:
        out = ctx.sym_binary("add", out, a)
    return out
