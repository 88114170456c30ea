"""Element-wise math, comparisons, logic, casts and activations."""

from __future__ import annotations

import numpy as np

from ....ir.tensor import onnx_dtype_of
from ... import ConversionError
from ..registry import lowers
from ._common import attr, out_dtype

_BINARY = {"Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul", "RealDiv": "Div", "Maximum": "Max",
           "Minimum": "Min", "Pow": "Pow", "Equal": "Equal", "Less": "Less", "LessEqual": "LessOrEqual",
           "Greater": "Greater", "GreaterEqual": "GreaterOrEqual", "LogicalAnd": "And", "LogicalOr": "Or",
           "BitwiseAnd": "BitwiseAnd", "BitwiseOr": "BitwiseOr", "BitwiseXor": "BitwiseXor"}
_UNARY = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt",
          "Neg": "Neg", "Abs": "Abs", "Sign": "Sign", "Floor": "Floor", "Ceil": "Ceil", "Round": "Round",
          "Rint": "Round", "Reciprocal": "Reciprocal", "Inv": "Reciprocal", "Erf": "Erf", "Sin": "Sin",
          "Cos": "Cos", "Tan": "Tan", "Asin": "Asin", "Acos": "Acos", "Atan": "Atan", "Sinh": "Sinh",
          "Cosh": "Cosh", "Asinh": "Asinh", "Acosh": "Acosh", "Atanh": "Atanh", "Softplus": "Softplus",
          "Softsign": "Softsign", "Elu": "Elu", "Selu": "Selu", "LogicalNot": "Not", "IsNan": "IsNaN",
          "IsInf": "IsInf", "Invert": "BitwiseNot"}


def _binary(onnx_op):
    def lower(ctx, op, x, y):
        return getattr(ctx.op, onnx_op)(x, y)
    return lower


for _tf, _onnx in _BINARY.items():
    lowers(_tf)(_binary(_onnx))


def _unary(onnx_op):
    def lower(ctx, op, x):
        return getattr(ctx.op, onnx_op)(x)
    return lower


for _tf, _onnx in _UNARY.items():
    lowers(_tf)(_unary(_onnx))


def _is_int(ctx, v) -> bool:
    dt = ctx.dtype(v)
    return dt is not None and dt.kind in "iu"


@lowers("NotEqual")
def not_equal(ctx, op, x, y):
    return ctx.op.Not(ctx.op.Equal(x, y))


@lowers("Div")
def div(ctx, op, x, y):
    return ctx.op.Div(x, y)  # integers truncate in both


@lowers("TruncateDiv")
def truncate_div(ctx, op, x, y):
    if _is_int(ctx, x):
        return ctx.op.Div(x, y)
    q = ctx.op.Div(x, y)
    return ctx.op.Mul(ctx.op.Sign(q), ctx.op.Floor(ctx.op.Abs(q)))


@lowers("FloorDiv")
def floor_div(ctx, op, x, y):
    if not _is_int(ctx, x):
        return ctx.op.Floor(ctx.op.Div(x, y))
    # integer Div truncates: step down by one where the remainder is non-zero and the signs differ
    q = ctx.op.Div(x, y)
    r = ctx.op.Sub(x, ctx.op.Mul(q, y))
    zero = ctx.scalar_const(0, x)
    fix = ctx.op.And(ctx.op.Not(ctx.op.Equal(r, zero)), ctx.op.Xor(ctx.op.Less(x, zero), ctx.op.Less(y, zero)))
    return ctx.op.Sub(q, ctx.op.Cast(fix, to=onnx_dtype_of(ctx.dtype(x))))


@lowers("FloorMod")
def floor_mod(ctx, op, x, y):
    if _is_int(ctx, x):
        return ctx.op.Mod(x, y, fmod=0)  # Python-style: the sign of the divisor
    return ctx.op.Sub(x, ctx.op.Mul(ctx.op.Floor(ctx.op.Div(x, y)), y))


@lowers("TruncateMod", "Mod")
def truncate_mod(ctx, op, x, y):
    return ctx.op.Mod(x, y, fmod=1)


@lowers("SquaredDifference")
def squared_difference(ctx, op, x, y):
    d = ctx.op.Sub(x, y)
    return ctx.op.Mul(d, d)


@lowers("Square")
def square(ctx, op, x):
    return ctx.op.Mul(x, x)


@lowers("Rsqrt")
def rsqrt(ctx, op, x):
    return ctx.op.Reciprocal(ctx.op.Sqrt(x))


@lowers("Log1p")
def log1p(ctx, op, x):
    return ctx.op.Log(ctx.op.Add(x, ctx.scalar_const(1, x)))


@lowers("Expm1")
def expm1(ctx, op, x):
    return ctx.op.Sub(ctx.op.Exp(x), ctx.scalar_const(1, x))


@lowers("Erfc")
def erfc(ctx, op, x):
    return ctx.op.Sub(ctx.scalar_const(1, x), ctx.op.Erf(x))


@lowers("IsFinite")
def is_finite(ctx, op, x):
    return ctx.op.Not(ctx.op.Or(ctx.op.IsNaN(x), ctx.op.IsInf(x)))


@lowers("Relu6")
def relu6(ctx, op, x):
    return ctx.op.Clip(x, ctx.scalar_const(0, x), ctx.scalar_const(6, x))


@lowers("LeakyRelu")
def leaky_relu(ctx, op, x):
    return ctx.op.LeakyRelu(x, alpha=float(attr(op, "alpha", 0.2)))


@lowers("ClipByValue")
def clip_by_value(ctx, op, x, lo, hi):
    if ctx.shape(lo) in ((), None) and ctx.shape(hi) in ((), None) and ctx.rank(lo) == 0 and ctx.rank(hi) == 0:
        return ctx.op.Clip(x, lo, hi)
    return ctx.op.Min(ctx.op.Max(x, lo), hi)


@lowers("Atan2")
def atan2(ctx, op, y, x):
    # atan(y / x), moved to the right half-plane's quadrant: + pi where x < 0 (sign of y), pi/2 at x == 0
    zero = ctx.scalar_const(0, x)
    pi = ctx.scalar_const(np.pi, x)
    base = ctx.op.Atan(ctx.op.Div(y, x))
    sign_y = ctx.op.Where(ctx.op.Less(y, zero), ctx.scalar_const(-1, x), ctx.scalar_const(1, x))
    shifted = ctx.op.Add(base, ctx.op.Mul(sign_y, pi))
    res = ctx.op.Where(ctx.op.Less(x, zero), shifted, base)
    half = ctx.op.Mul(sign_y, ctx.scalar_const(np.pi / 2, x))
    at_zero = ctx.op.Where(ctx.op.Equal(y, zero), zero, half)
    return ctx.op.Where(ctx.op.Equal(x, zero), at_zero, res)


@lowers("AddN")
def add_n(ctx, op, *xs):
    return xs[0] if len(xs) == 1 else ctx.op.Sum(*xs)


@lowers("DivNoNan")
def div_no_nan(ctx, op, x, y):
    zero = ctx.scalar_const(0, y)
    safe = ctx.op.Where(ctx.op.Equal(y, zero), ctx.scalar_const(1, y), y)
    return ctx.op.Where(ctx.op.Equal(y, zero), zero, ctx.op.Div(x, safe))


@lowers("MulNoNan")
def mul_no_nan(ctx, op, x, y):
    zero = ctx.scalar_const(0, y)
    return ctx.op.Where(ctx.op.Equal(y, zero), zero, ctx.op.Mul(x, y))


@lowers("Cast")
def cast(ctx, op, x):
    return ctx.cast(x, out_dtype(op))


@lowers("Bitcast")
def bitcast(ctx, op, x):
    if out_dtype(op) == ctx.dtype(x):
        return x
    raise ConversionError("bit casts between types have no ONNX equivalent")


@lowers("Select", "SelectV2")
def select(ctx, op, cond, x, y):
    if op.type == "Select":
        # v1 Select with a vector condition picks whole rows of x and y
        rc, rx = ctx.rank(cond), ctx.rank(x)
        if rc == 1 and rx > 1:
            cond = ctx.unsqueeze(cond, list(range(1, rx)))
    return ctx.op.Where(cond, x, y)


@lowers("ZerosLike", "OnesLike")
def zeros_like(ctx, op, x):
    fill = np.zeros(1, dtype=ctx.dtype(x)) if op.type == "ZerosLike" else np.ones(1, dtype=ctx.dtype(x))
    shape = ctx.static_shape(x)
    if shape is not None:
        return ctx.const(np.broadcast_to(fill.reshape(()), shape).copy())
    return ctx.op.ConstantOfShape(ctx.shape_of(x), value=fill)


@lowers("Fill")
def fill(ctx, op, dims, value):
    v = ctx.value(value)
    dims = ctx.cast(dims, np.int64)
    if v is not None:
        return ctx.op.ConstantOfShape(dims, value=np.asarray(v).reshape(1))
    return ctx.op.Expand(value, dims)


@lowers("Bucketize")
def bucketize(ctx, op, x):
    # the bucket of x is the number of boundaries at or below it
    bounds = np.asarray(attr(op, "boundaries"), dtype=ctx.dtype(x))
    if bounds.size == 0:
        return ctx.op.ConstantOfShape(ctx.shape_of(x), value=np.zeros(1, np.int32))
    hits = ctx.op.Cast(ctx.op.GreaterOrEqual(ctx.unsqueeze(x, [-1]), ctx.const(bounds)), to=6)
    return ctx.op.ReduceSum(hits, ctx.ints([-1]), keepdims=0)
