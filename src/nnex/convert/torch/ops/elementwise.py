"""Elementwise arithmetic, comparisons, logic, math functions, casts and where/clamp."""

from __future__ import annotations

import math

import torch

from ..context import Ctx
from ..registry import lowers
from ._common import aten, onnx_type, prims, promote

# ---- arithmetic --------------------------------------------------------------------------------


def _operands(ctx: Ctx, dt: torch.dtype, *xs):
    return [ctx.tensor(x, dt) for x in xs]


def _scaled(ctx: Ctx, y, alpha, dt):
    if alpha is None or alpha == 1:
        return ctx.tensor(y, dt)
    return ctx.op.Mul(ctx.tensor(y, dt), ctx.const(alpha, dt))


@lowers(aten.add.Tensor, aten.add.Scalar)
def add(ctx: Ctx, x, y, alpha=1):
    dt = ctx.out_dtype
    if dt == torch.bool:
        return ctx.op.Or(ctx.tensor(x, dt), ctx.tensor(y, dt))
    return ctx.op.Add(ctx.tensor(x, dt), _scaled(ctx, y, alpha, dt))


@lowers(aten.sub.Tensor, aten.sub.Scalar)
def sub(ctx: Ctx, x, y, alpha=1):
    dt = ctx.out_dtype
    return ctx.op.Sub(ctx.tensor(x, dt), _scaled(ctx, y, alpha, dt))


@lowers(aten.rsub.Tensor, aten.rsub.Scalar)
def rsub(ctx: Ctx, x, y, alpha=1):
    dt = ctx.out_dtype
    return ctx.op.Sub(ctx.tensor(y, dt), _scaled(ctx, x, alpha, dt))


@lowers(aten.mul.Tensor, aten.mul.Scalar)
def mul(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    if dt == torch.bool:
        return ctx.op.And(ctx.tensor(x, dt), ctx.tensor(y, dt))
    return ctx.op.Mul(*_operands(ctx, dt, x, y))


@lowers(aten.div.Tensor, aten.div.Scalar)
def div(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    return ctx.op.Div(*_operands(ctx, dt, x, y))


def trunc_value(ctx: Ctx, x):
    # ONNX has no Trunc: round towards zero is Floor above zero and Ceil below
    zero = ctx.const(0, ctx.dtype(x) or torch.float32)
    return ctx.op.Where(ctx.op.Less(x, zero), ctx.op.Ceil(x), ctx.op.Floor(x))


def floor_divide_ints(ctx: Ctx, a, b, dt):
    """Python's // on integer tensors (ONNX Div truncates)."""
    op = ctx.op
    q = op.Div(a, b)
    r = op.Mod(a, b, fmod=1)
    zero = ctx.const(0, dt)
    adjust = op.And(op.Not(op.Equal(r, zero)), op.Xor(op.Less(r, zero), op.Less(b, zero)))
    return op.Sub(q, op.Cast(adjust, to=onnx_type(dt)))



@lowers(aten.div.Tensor_mode, aten.div.Scalar_mode)
def div_mode(ctx: Ctx, x, y, rounding_mode=None):
    dt = ctx.out_dtype
    a, b = _operands(ctx, dt, x, y)
    if rounding_mode is None:
        return ctx.op.Div(a, b)
    if dt.is_floating_point:
        if rounding_mode == "floor":
            return floor_divide_floats(ctx, a, b, dt)
        return trunc_value(ctx, ctx.record(ctx.op.Div(a, b), dt))
    if rounding_mode == "trunc":
        return ctx.op.Div(a, b)
    return floor_divide_ints(ctx, a, b, dt)


@lowers(aten.floor_divide.default, aten.floor_divide.Scalar)
def floor_divide(ctx: Ctx, x, y):
    return div_mode(ctx, x, y, "floor")


@lowers(aten.remainder.Tensor, aten.remainder.Scalar, aten.remainder.Scalar_Tensor)
def remainder(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    a, b = _operands(ctx, dt, x, y)
    if not dt.is_floating_point:
        return ctx.op.Mod(a, b, fmod=0)
    return _float_remainder(ctx, a, b, dt)[0]


def _float_remainder(ctx: Ctx, a, b, dt):
    """torch's float remainder: fmod, moved into the divisor's sign; also says where it moved."""
    op = ctx.op
    zero = ctx.const(0.0, dt)
    r = op.Mod(a, b, fmod=1)
    moved = op.And(op.Not(op.Equal(r, zero)), op.Xor(op.Less(b, zero), op.Less(r, zero)))
    return op.Where(moved, op.Add(r, b), r), r, moved


def floor_divide_floats(ctx: Ctx, a, b, dt):
    """torch's float floor division: (a - fmod(a, b)) / b, corrected, instead of floor(a / b),
    which rounds differently where a / b lands next to an integer."""
    op = ctx.op
    _, r, moved = _float_remainder(ctx, a, b, dt)
    div = op.Div(op.Sub(a, r), b)
    div = op.Where(moved, op.Sub(div, ctx.const(1.0, dt)), div)
    fl = op.Floor(div)
    fl = op.Where(op.Greater(op.Sub(div, fl), ctx.const(0.5, dt)), op.Add(fl, ctx.const(1.0, dt)), fl)
    # a zero quotient keeps the sign of a / b; a zero divisor gives a / b (inf or nan)
    q = op.Div(a, b)
    fl = op.Where(op.Equal(div, ctx.const(0.0, dt)), op.Mul(q, ctx.const(0.0, dt)), fl)
    return op.Where(op.Equal(b, ctx.const(0.0, dt)), q, fl)


@lowers(aten.fmod.Tensor, aten.fmod.Scalar)
def fmod(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    return ctx.op.Mod(*_operands(ctx, dt, x, y), fmod=1)


@lowers(aten.pow.Tensor_Tensor, aten.pow.Tensor_Scalar, aten.pow.Scalar)
def pow_(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    if not isinstance(y, (int, float)) or isinstance(y, bool):
        return ctx.op.Pow(*_operands(ctx, dt, x, y))
    b = ctx.tensor(x, dt)
    if y == 2:
        return ctx.op.Mul(b, b)
    if y == 1:
        return ctx.op.Identity(b)
    if y == 0.5 and dt.is_floating_point:
        return ctx.op.Sqrt(b)
    if y == -1 and dt.is_floating_point:
        return ctx.op.Reciprocal(b)
    return ctx.op.Pow(b, ctx.const(y, dt))


@lowers(aten.maximum.default)
def maximum(ctx: Ctx, x, y):
    return _minmax(ctx, "Max", x, y)


@lowers(aten.minimum.default)
def minimum(ctx: Ctx, x, y):
    return _minmax(ctx, "Min", x, y)


def _nan_ignoring(ctx: Ctx, name, x, y):
    # fmax/fmin take the other operand where one is NaN (Max/Min propagate NaN)
    out = _minmax(ctx, name, x, y)
    dt = ctx.out_dtype
    if not dt.is_floating_point:
        return out
    a, b = _operands(ctx, dt, x, y)
    op = ctx.op
    return op.Where(op.IsNaN(a), b, op.Where(op.IsNaN(b), a, out))


@lowers(aten.fmax.default)
def fmax(ctx: Ctx, x, y):
    return _nan_ignoring(ctx, "Max", x, y)


@lowers(aten.fmin.default)
def fmin(ctx: Ctx, x, y):
    return _nan_ignoring(ctx, "Min", x, y)


def _minmax(ctx: Ctx, name, x, y):
    dt = ctx.out_dtype
    work = torch.uint8 if dt == torch.bool else dt
    out = getattr(ctx.op, name)(*_operands(ctx, work, x, y))
    return ctx.cast(ctx.record(out, work), dt)


@lowers(aten.atan2.default)
def atan2(ctx: Ctx, y, x):
    # atan(y/x) put in the right quadrant; x == 0 handled by the Where on the sign of y
    dt = ctx.out_dtype
    y, x = _operands(ctx, dt, y, x)
    op = ctx.op
    zero, pi = ctx.const(0.0, dt), ctx.const(math.pi, dt)
    half = ctx.const(math.pi / 2, dt)
    base = op.Atan(op.Div(y, x))
    neg_x = op.Less(x, zero)
    y_neg = op.Less(y, zero)
    fixed = op.Where(neg_x, op.Where(y_neg, op.Sub(base, pi), op.Add(base, pi)), base)
    x_zero = op.Equal(x, zero)
    at_zero = op.Where(op.Greater(y, zero), half, op.Where(y_neg, op.Neg(half), zero))
    return op.Where(x_zero, at_zero, fixed)


@lowers(aten.hypot.default)
def hypot(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    a, b = _operands(ctx, dt, x, y)
    return ctx.op.Sqrt(ctx.op.Add(ctx.op.Mul(a, a), ctx.op.Mul(b, b)))


@lowers(aten.copysign.Tensor, aten.copysign.Scalar)
def copysign(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    a, b = _operands(ctx, dt, x, y)
    op = ctx.op
    # the sign bit of -0.0 counts: 1/b < 0 tells it apart
    neg = op.Or(op.Less(b, ctx.const(0.0, dt)), op.Less(op.Reciprocal(b), ctx.const(0.0, dt)))
    return op.Where(neg, op.Neg(op.Abs(a)), op.Abs(a))


@lowers(aten.xlogy.Tensor, aten.xlogy.Scalar_Other, aten.xlogy.Scalar_Self)
def xlogy(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    a, b = _operands(ctx, dt, x, y)
    op = ctx.op
    zero = ctx.const(0.0, dt)
    out = op.Where(op.Equal(a, zero), zero, op.Mul(a, op.Log(b)))
    return op.Where(op.IsNaN(b), b, out)


@lowers(aten.lerp.Scalar, aten.lerp.Tensor)
def lerp(ctx: Ctx, start, end, weight):
    dt = ctx.out_dtype
    s, e, w = _operands(ctx, dt, start, end, weight)
    return ctx.op.Add(s, ctx.op.Mul(w, ctx.op.Sub(e, s)))


# ---- comparisons and logic ----------------------------------------------------------------------


def _compare(ctx: Ctx, name: str, x, y):
    dt = promote(ctx, x, y)
    if dt == torch.bool and name not in ("Equal",):
        dt = torch.int32
    a, b = _operands(ctx, dt, x, y)
    return getattr(ctx.op, name)(a, b)


@lowers(aten.eq.Tensor, aten.eq.Scalar)
def eq(ctx: Ctx, x, y):
    return _compare(ctx, "Equal", x, y)


@lowers(aten.ne.Tensor, aten.ne.Scalar)
def ne(ctx: Ctx, x, y):
    return ctx.op.Not(_compare(ctx, "Equal", x, y))


@lowers(aten.lt.Tensor, aten.lt.Scalar)
def lt(ctx: Ctx, x, y):
    return _compare(ctx, "Less", x, y)


@lowers(aten.le.Tensor, aten.le.Scalar)
def le(ctx: Ctx, x, y):
    return _compare(ctx, "LessOrEqual", x, y)


@lowers(aten.gt.Tensor, aten.gt.Scalar)
def gt(ctx: Ctx, x, y):
    return _compare(ctx, "Greater", x, y)


@lowers(aten.ge.Tensor, aten.ge.Scalar)
def ge(ctx: Ctx, x, y):
    return _compare(ctx, "GreaterOrEqual", x, y)


def _as_bool(ctx: Ctx, x):
    """Truthiness as a bool tensor (x != 0)."""
    if isinstance(x, (bool, int, float)):
        return ctx.const(bool(x), torch.bool)
    x = ctx.tensor(x)
    if ctx.dtype(x) == torch.bool:
        return x
    return ctx.op.Not(ctx.op.Equal(x, ctx.const(0, ctx.dtype(x))))


@lowers(aten.logical_and.default)
def logical_and(ctx: Ctx, x, y):
    return ctx.op.And(_as_bool(ctx, x), _as_bool(ctx, y))


@lowers(aten.logical_or.default)
def logical_or(ctx: Ctx, x, y):
    return ctx.op.Or(_as_bool(ctx, x), _as_bool(ctx, y))


@lowers(aten.logical_xor.default)
def logical_xor(ctx: Ctx, x, y):
    return ctx.op.Xor(_as_bool(ctx, x), _as_bool(ctx, y))


@lowers(aten.logical_not.default)
def logical_not(ctx: Ctx, x):
    return ctx.op.Not(_as_bool(ctx, x))


def _bitwise(ctx: Ctx, name: str, logical: str, x, y):
    dt = ctx.out_dtype
    a, b = _operands(ctx, dt, x, y)
    if dt == torch.bool:
        return getattr(ctx.op, logical)(a, b)
    return getattr(ctx.op, name)(a, b)


@lowers(aten.bitwise_and.Tensor, aten.bitwise_and.Scalar, aten.bitwise_and.Scalar_Tensor)
def bitwise_and(ctx: Ctx, x, y):
    return _bitwise(ctx, "BitwiseAnd", "And", x, y)


@lowers(aten.bitwise_or.Tensor, aten.bitwise_or.Scalar, aten.bitwise_or.Scalar_Tensor)
def bitwise_or(ctx: Ctx, x, y):
    return _bitwise(ctx, "BitwiseOr", "Or", x, y)


@lowers(aten.bitwise_xor.Tensor, aten.bitwise_xor.Scalar, aten.bitwise_xor.Scalar_Tensor)
def bitwise_xor(ctx: Ctx, x, y):
    return _bitwise(ctx, "BitwiseXor", "Xor", x, y)


@lowers(aten.bitwise_not.default)
def bitwise_not(ctx: Ctx, x):
    return ctx.op.Not(x) if ctx.dtype(x) == torch.bool else ctx.op.BitwiseNot(x)


@lowers(aten.bitwise_left_shift.Tensor, aten.bitwise_left_shift.Tensor_Scalar)
def left_shift(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    a, b = _operands(ctx, dt, x, y)
    return ctx.op.Mul(a, ctx.op.Pow(ctx.const(2, dt), b)) if dt.is_signed else ctx.op.BitShift(a, b, direction="LEFT")


@lowers(aten.bitwise_right_shift.Tensor, aten.bitwise_right_shift.Tensor_Scalar)
def right_shift(ctx: Ctx, x, y):
    dt = ctx.out_dtype
    a, b = _operands(ctx, dt, x, y)
    if dt.is_signed:  # arithmetic shift: floor division by 2**b
        return floor_divide_ints(ctx, a, ctx.op.Pow(ctx.const(2, dt), b), dt)
    return ctx.op.BitShift(a, b, direction="RIGHT")


# ---- unary math --------------------------------------------------------------------------------

_UNARY = {
    aten.abs.default: "Abs", aten.neg.default: "Neg", aten.exp.default: "Exp", aten.log.default: "Log",
    aten.sqrt.default: "Sqrt", aten.sin.default: "Sin", aten.cos.default: "Cos", aten.tan.default: "Tan",
    aten.asin.default: "Asin", aten.acos.default: "Acos", aten.atan.default: "Atan", aten.sinh.default: "Sinh",
    aten.cosh.default: "Cosh", aten.tanh.default: "Tanh", aten.asinh.default: "Asinh", aten.acosh.default: "Acosh",
    aten.atanh.default: "Atanh", aten.erf.default: "Erf", aten.sigmoid.default: "Sigmoid",
    aten.reciprocal.default: "Reciprocal", aten.ceil.default: "Ceil", aten.floor.default: "Floor",
    aten.round.default: "Round", aten.sign.default: "Sign", aten.relu.default: "Relu",
}


def _unary(name):
    def lower(ctx: Ctx, x):
        dt = ctx.out_dtype
        if name in ("Ceil", "Floor", "Round") and not dt.is_floating_point:
            return ctx.op.Identity(x)
        if name == "Sign" and dt == torch.bool:
            return ctx.op.Identity(x)
        if name == "Abs" and dt == torch.bool:
            return ctx.op.Identity(x)
        return getattr(ctx.op, name)(ctx.tensor(x, dt))

    return lower


for _op, _name in _UNARY.items():
    lowers(_op)(_unary(_name))


@lowers(aten.rsqrt.default)
def rsqrt(ctx: Ctx, x):
    return ctx.op.Reciprocal(ctx.op.Sqrt(ctx.tensor(x, ctx.out_dtype)))


@lowers(aten.expm1.default)
def expm1(ctx: Ctx, x):
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt)
    # exp(x) - 1 loses everything for tiny x: use x + x^2/2 there
    op = ctx.op
    small = op.Less(op.Abs(x), ctx.const(1e-5, dt))
    approx = op.Add(x, op.Mul(op.Mul(x, x), ctx.const(0.5, dt)))
    return op.Where(small, approx, op.Sub(op.Exp(x), ctx.const(1.0, dt)))


@lowers(aten.log1p.default)
def log1p(ctx: Ctx, x):
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt)
    op = ctx.op
    # log(1 + x) rounds 1 + x: scale by x / ((1 + x) - 1), exact when 1 + x is representable
    u = op.Add(ctx.const(1.0, dt), x)
    d = op.Sub(u, ctx.const(1.0, dt))
    exact = op.Equal(d, ctx.const(0.0, dt))
    corrected = op.Mul(op.Log(u), op.Div(x, op.Where(exact, ctx.const(1.0, dt), d)))
    return op.Where(exact, x, op.Where(op.IsInf(u), op.Log(u), corrected))


@lowers(aten.log2.default)
def log2(ctx: Ctx, x):
    dt = ctx.out_dtype
    return ctx.op.Div(ctx.op.Log(ctx.tensor(x, dt)), ctx.const(math.log(2.0), dt))


@lowers(aten.log10.default)
def log10(ctx: Ctx, x):
    dt = ctx.out_dtype
    return ctx.op.Div(ctx.op.Log(ctx.tensor(x, dt)), ctx.const(math.log(10.0), dt))


@lowers(aten.exp2.default)
def exp2(ctx: Ctx, x):
    dt = ctx.out_dtype
    return ctx.op.Pow(ctx.const(2.0, dt), ctx.tensor(x, dt))


@lowers(aten.trunc.default, aten.fix.default)
def trunc(ctx: Ctx, x):
    if not ctx.out_dtype.is_floating_point:
        return ctx.op.Identity(x)
    return trunc_value(ctx, x)


@lowers(aten.frac.default)
def frac(ctx: Ctx, x):
    return ctx.op.Sub(x, trunc_value(ctx, x))


@lowers(aten.round.decimals)
def round_decimals(ctx: Ctx, x, decimals=0):
    dt = ctx.out_dtype
    scale = ctx.const(10.0 ** decimals, dt)
    return ctx.op.Div(ctx.op.Round(ctx.op.Mul(x, scale)), scale)


@lowers(aten.square.default)
def square(ctx: Ctx, x):
    x = ctx.tensor(x, ctx.out_dtype)
    return ctx.op.Mul(x, x)


@lowers(aten.isnan.default)
def isnan(ctx: Ctx, x):
    if not ctx.dtype(x).is_floating_point:
        return _all_false(ctx, x)
    return ctx.op.IsNaN(x)


@lowers(aten.isinf.default)
def isinf(ctx: Ctx, x):
    if not ctx.dtype(x).is_floating_point:
        return _all_false(ctx, x)
    return ctx.op.IsInf(ctx.cast(x, torch.float32) if ctx.dtype(x) in (torch.float16, torch.bfloat16) else x)


@lowers(aten.isfinite.default)
def isfinite(ctx: Ctx, x):
    if not ctx.dtype(x).is_floating_point:
        return ctx.op.Not(_all_false(ctx, x))
    return ctx.op.Not(ctx.op.Or(ctx.op.IsNaN(x), isinf(ctx, x)))


@lowers(aten.isposinf.default)
def isposinf(ctx: Ctx, x):
    return ctx.op.IsInf(x, detect_negative=0) if ctx.dtype(x).is_floating_point else _all_false(ctx, x)


@lowers(aten.isneginf.default)
def isneginf(ctx: Ctx, x):
    return ctx.op.IsInf(x, detect_positive=0) if ctx.dtype(x).is_floating_point else _all_false(ctx, x)


def _all_false(ctx: Ctx, x):
    return ctx.full(ctx.shape_of(x), False, torch.bool)


@lowers(aten.nan_to_num.default)
def nan_to_num(ctx: Ctx, x, nan=None, posinf=None, neginf=None):
    dt = ctx.out_dtype
    if not dt.is_floating_point:
        return ctx.op.Identity(x)
    fi = torch.finfo(dt)
    op = ctx.op
    x = op.Where(op.IsNaN(x), ctx.const(0.0 if nan is None else nan, dt), x)
    x = op.Where(op.IsInf(x, detect_negative=0), ctx.const(fi.max if posinf is None else posinf, dt), x)
    return op.Where(op.IsInf(x, detect_positive=0), ctx.const(fi.min if neginf is None else neginf, dt), x)


# ---- where / clamp ------------------------------------------------------------------------------


@lowers(aten.where.self, aten.where.ScalarSelf, aten.where.ScalarOther, aten.where.Scalar, prims.where.default)
def where(ctx: Ctx, cond, x, y):
    dt = ctx.out_dtype
    return ctx.op.Where(_as_bool(ctx, ctx.tensor(cond)), ctx.tensor(x, dt), ctx.tensor(y, dt))


@lowers(aten.clamp.default, aten.clamp.Tensor, aten.clip.default, aten.clip.Tensor)
def clamp(ctx: Ctx, x, lo=None, hi=None):
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt)
    scalar = all(v is None or isinstance(v, (int, float)) for v in (lo, hi))
    if scalar and dt.is_floating_point:
        return ctx.op.Clip(x, None if lo is None else ctx.const(lo, dt), None if hi is None else ctx.const(hi, dt))
    work = torch.int32 if dt in (torch.bool, torch.int8, torch.int16, torch.uint8) else dt
    x = ctx.cast(x, work)
    if lo is not None:
        x = ctx.op.Max(x, ctx.tensor(lo, work))
    if hi is not None:
        x = ctx.op.Min(x, ctx.tensor(hi, work))
    return ctx.cast(ctx.record(x, work), dt)


@lowers(aten.clamp_min.default, aten.clamp_min.Tensor)
def clamp_min(ctx: Ctx, x, lo):
    return clamp(ctx, x, lo, None)


@lowers(aten.clamp_max.default, aten.clamp_max.Tensor)
def clamp_max(ctx: Ctx, x, hi):
    return clamp(ctx, x, None, hi)


# ---- casts, copies, aliases -------------------------------------------------------------------


@lowers(aten._to_copy.default)
def to_copy(ctx: Ctx, x, dtype=None, layout=None, device=None, pin_memory=None, non_blocking=False,
            memory_format=None):
    return ctx.cast(x, dtype or ctx.dtype(x)) if dtype and dtype != ctx.dtype(x) else ctx.op.Identity(x)


@lowers(prims.convert_element_type.default)
def convert_element_type(ctx: Ctx, x, dtype):
    return ctx.cast(ctx.tensor(x), dtype)


@lowers(aten.clone.default, aten.alias.default, aten.detach.default, aten.lift_fresh_copy.default,
        aten.contiguous.default, aten.dropout.default, aten.feature_dropout.default, aten.alpha_dropout.default,
        aten.positive.default, aten.resolve_conj.default, aten.resolve_neg.default, aten._conj.default,
        aten.lift_fresh.default)
def identity(ctx: Ctx, x, *rest):
    return ctx.op.Identity(x) if not isinstance(x, (list, tuple)) else x


@lowers(aten.native_dropout.default)
def native_dropout(ctx: Ctx, x, p, train):
    # inference: dropout is the identity (even where forward asks for training=True) and keeps all
    return ctx.op.Identity(x), ctx.full(ctx.shape_of(x), True, torch.bool)


@lowers(aten.copy.default)
def copy(ctx: Ctx, dst, src, non_blocking=False):
    # functional copy: src's values with dst's dtype and shape
    dt = ctx.dtype(dst)
    src = ctx.tensor(src, dt)
    if ctx.shape(src) == ctx.shape(dst):
        return ctx.op.Identity(src)
    return ctx.op.Expand(src, ctx.shape_of(dst))


@lowers(aten.to.dtype, aten.to.dtype_layout, aten.to.device, aten.to.other, aten.type_as.default,
        aten.to.prim_dtype, aten.to.prim_Device)
def to(ctx: Ctx, x, *rest):
    dt = ctx.out_dtype
    return ctx.cast(x, dt) if ctx.dtype(x) != dt else ctx.op.Identity(x)


@lowers(aten.__and__.Tensor, aten.__and__.Scalar)
def dunder_and(ctx: Ctx, x, y):
    return bitwise_and(ctx, x, y)


@lowers(aten.__or__.Tensor, aten.__or__.Scalar)
def dunder_or(ctx: Ctx, x, y):
    return bitwise_or(ctx, x, y)


@lowers(aten.__xor__.Tensor, aten.__xor__.Scalar)
def dunder_xor(ctx: Ctx, x, y):
    return bitwise_xor(ctx, x, y)


@lowers(aten.__lshift__.Tensor, aten.__lshift__.Scalar)
def dunder_lshift(ctx: Ctx, x, y):
    return left_shift(ctx, x, y)


@lowers(aten.__rshift__.Tensor, aten.__rshift__.Scalar)
def dunder_rshift(ctx: Ctx, x, y):
    return right_shift(ctx, x, y)
