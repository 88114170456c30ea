"""Elementwise operators: unary math, binary arithmetic, comparisons, logic, bitwise, variadic.

Binary ops use NumPy-style (multidirectional) broadcasting from opset 7 on.  The opset-1/6
versions of the arithmetic and logic ops had a ``broadcast``/``axis`` scheme where the second
input is aligned to ``axis`` of the first; that is emulated by reshaping the second input,
then letting ordinary broadcasting do the rest.

Also holds small dtype helpers shared by ``activation`` and ``cast``.
"""

from __future__ import annotations

import inspect
import math

import ml_dtypes
import numpy as np

from .dtypes import numpy_dtype
from .registry import op

# ---------------------------------------------------------------- dtype helpers


def is_floating(xp, dtype) -> bool:
    """True for real/complex floating dtypes, including ml_dtypes ones (bfloat16, float8, ...)."""
    try:
        return bool(xp.isdtype(dtype, ("real floating", "complex floating")))
    except (TypeError, ValueError, AttributeError):
        pass
    # ml_dtypes extension types are not NumPy floating dtypes; finfo knows them.
    try:
        ml_dtypes.finfo(dtype)
        return True
    except (TypeError, ValueError):
        return False


def is_signed_int(xp, dtype) -> bool:
    try:
        return bool(xp.isdtype(dtype, "signed integer"))
    except (TypeError, ValueError, AttributeError):
        return numpy_dtype(dtype).kind == "i"


def int_bits(dtype) -> int:
    """Bit width of an integer dtype (ml_dtypes sub-byte ints included), any backend's."""
    dtype = numpy_dtype(dtype)
    try:
        return ml_dtypes.iinfo(dtype).bits
    except (TypeError, ValueError):
        return np.iinfo(dtype).bits


def compute_dtype(xp, dtype):
    """The dtype to compute a composite float expression in: 16-bit and smaller floats go
    through float32 so that intermediate rounding does not pile up."""
    if dtype in (xp.float32, xp.float64, xp.complex64, xp.complex128) or not is_floating(xp, dtype):
        return dtype
    return xp.float32


def upcast(xp, x):
    """``x`` in its compute dtype (see ``compute_dtype``)."""
    dt = compute_dtype(xp, x.dtype)
    return x if dt == x.dtype else xp.astype(x, dt)


def _legacy_kwargs(fn, **extra):
    """``fn`` with extra keyword-only attributes that it accepts and ignores.

    Opset-1 kernels carried a ``consumed_inputs`` optimisation hint with no effect on the
    result; declaring it keeps the registry's attribute list true to that schema.
    """
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d) for n, d in extra.items()]

    def kernel(xp, *args, **kwargs):
        for name in extra:
            kwargs.pop(name, None)
        return fn(xp, *args, **kwargs)

    kernel.__signature__ = sig.replace(parameters=params)
    kernel.__name__ = fn.__name__
    kernel.__doc__ = fn.__doc__
    return kernel


def register_versions(op_type, fn, versions, v1_consumed=False):
    """Register ``fn`` for ``versions``; with ``v1_consumed`` the opset-1 entry also takes
    ``consumed_inputs``."""
    if v1_consumed:
        op(op_type, 1)(_legacy_kwargs(fn, consumed_inputs=None))
        versions = [v for v in versions if v != 1]
    if versions:
        op(op_type, tuple(versions))(fn)


# ---------------------------------------------------------------- erf


def _erf_series(xp, a):
    """erf(a) for 0 <= a < 3: the all-positive series
    erf(a) = 2/sqrt(pi) exp(-a^2) sum_n (2a^2)^n a / (1*3*...*(2n+1)), which has no cancellation."""
    two_a2 = 2.0 * a * a
    term = a
    total = a
    for n in range(1, 64):
        term = term * two_a2 / (2 * n + 1)
        total = total + term
    return (2.0 / math.sqrt(math.pi)) * xp.exp(-a * a) * total


def _erfc_fraction(xp, a):
    """erfc(a) for a >= 3 from its continued fraction, evaluated backwards (stable):
    erfc(a) = exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))."""
    f = a
    for k in range(48, 0, -1):
        f = a + (k / 2.0) / f
    return xp.exp(-a * a) / (math.sqrt(math.pi) * f)


# erf(x) ~ x P(x^2) / Q(x^2) for |x| <= 4 (past 4, erf rounds to +-1 in float32). The coefficients
# are nnex's own fit (weighted least squares with Lawson reweighting on 20000 points of [0, 4]);
# evaluated in float32 the error is at most 3.8e-7 relative below |x| = 1 and 3.7e-7 absolute
# overall (about 3 float32 ulps), against a float64 series 100x slower.
ERF_P = (1.1283791065216064, 0.18496173620224, 0.052100665867328644, 0.003556432668119669,
         0.00028421723982319236, 2.1407677195384167e-06)
ERF_Q = (1.0, 0.4972510039806366, 0.11192513257265091, 0.01454115379601717,
         0.0011197528801858425, 3.900723822880536e-05)
ERF_CLAMP = 4.0


def _erf_rational(xp, x):
    """float32 erf (NaN stays NaN, -0.0 stays -0.0)."""
    xc = xp.clip(x, -ERF_CLAMP, ERF_CLAMP)
    t = xc * xc
    p = ERF_P[-1] * t
    for c in ERF_P[-2:0:-1]:
        p = (p + c) * t
    p = p + ERF_P[0]
    q = ERF_Q[-1] * t
    for c in ERF_Q[-2:0:-1]:
        q = (q + c) * t
    q = q + 1.0
    return xp.clip(xc * p / q, -1.0, 1.0)


def erf(xp, x):
    """Error function; the backend's own where it has one, else a float32 rational
    approximation for 32-bit and smaller floats and a float64-accurate series for doubles."""
    native = getattr(xp, "erf", None)
    if native is not None:
        return native(x)
    dt = x.dtype
    if dt != xp.float64:
        w = x if dt == xp.float32 else xp.astype(x, xp.float32)
        return xp.astype(_erf_rational(xp, w), dt)
    # float64 throughout: in float32 the series' rounding costs ~10 ulp near |x| = 3.
    w = xp.astype(x, xp.float64)
    a = xp.abs(w)
    near = xp.minimum(a, 3.0)  # keep each branch in its accurate range
    far = xp.maximum(a, 3.0)
    y = xp.where(a < 3.0, _erf_series(xp, near), 1.0 - _erfc_fraction(xp, far))
    y = xp.where(xp.isnan(w), w, xp.where(w < 0, -y, y))
    y = xp.where(w == 0, w, y)  # keep the sign of zero
    return xp.astype(y, dt)


# ---------------------------------------------------------------- unary ops


def _unary(name):
    def kernel(xp, x):
        return getattr(xp, name)(x)

    kernel.__name__ = name
    return kernel


# op type -> (array API function, since versions, opset-1 has consumed_inputs)
_UNARY = {
    "Abs": ("abs", (1, 6, 13), True),
    "Ceil": ("ceil", (1, 6, 13), True),
    "Exp": ("exp", (1, 6, 13), True),
    "Floor": ("floor", (1, 6, 13), True),
    "Log": ("log", (1, 6, 13), True),
    "Neg": ("negative", (1, 6, 13), True),
    "Sqrt": ("sqrt", (1, 6, 13), True),
    "Tanh": ("tanh", (1, 6, 13), True),
    "Acos": ("acos", (7, 22), False),
    "Asin": ("asin", (7, 22), False),
    "Atan": ("atan", (7, 22), False),
    "Cos": ("cos", (7, 22), False),
    "Sin": ("sin", (7, 22), False),
    "Tan": ("tan", (7, 22), False),
    "Acosh": ("acosh", (9, 22), False),
    "Asinh": ("asinh", (9, 22), False),
    "Atanh": ("atanh", (9, 22), False),
    "Cosh": ("cosh", (9, 22), False),
    "Sinh": ("sinh", (9, 22), False),
    "Sign": ("sign", (9, 13), False),
    "Round": ("round", (11, 22), False),  # round half to even, as the spec asks
    "IsNaN": ("isnan", (9, 13, 20), False),
    "Not": ("logical_not", (1,), False),
    "BitwiseNot": ("bitwise_invert", (18,), False),
}

for _op_type, (_fname, _versions, _consumed) in _UNARY.items():
    register_versions(_op_type, _unary(_fname), _versions, _consumed)


def reciprocal(xp, x):
    return 1.0 / x


register_versions("Reciprocal", reciprocal, (1, 6, 13), True)


def erf_(xp, x):
    return erf(xp, x)


register_versions("Erf", erf_, (9, 13))


@op("IsInf", (10, 20))
def isinf(xp, x, *, detect_negative=1, detect_positive=1):
    hit = xp.isinf(x)
    if not detect_negative:
        hit = xp.logical_and(hit, x > 0)
    if not detect_positive:
        hit = xp.logical_and(hit, x < 0)
    return hit


# ---------------------------------------------------------------- binary ops


def _align_legacy(xp, a, b, broadcast, axis):
    """Opset-1/6 broadcasting: with ``broadcast=1`` the (smaller) B starts at dimension
    ``axis`` of A (suffix matching when ``axis`` is absent).  Reshape B so that NumPy
    broadcasting lines it up the same way."""
    if not broadcast or axis is None or b.ndim >= a.ndim:
        return b
    if axis < 0:
        axis += a.ndim
    trailing = a.ndim - axis - b.ndim
    return xp.reshape(b, tuple(b.shape) + (1,) * trailing) if trailing > 0 else b


def _legacy_binary(fn, consumed):
    """An opset-1/6 kernel for binary ``fn`` with the ``broadcast``/``axis`` attributes."""

    if consumed:

        def kernel(xp, a, b, *, axis=None, broadcast=0, consumed_inputs=None):
            return fn(xp, a, _align_legacy(xp, a, b, broadcast, axis))

    else:

        def kernel(xp, a, b, *, axis=None, broadcast=0):
            return fn(xp, a, _align_legacy(xp, a, b, broadcast, axis))

    kernel.__name__ = fn.__name__ + "_legacy"
    return kernel


def add(xp, a, b):
    return xp.add(a, b)


def sub(xp, a, b):
    return xp.subtract(a, b)


def mul(xp, a, b):
    return xp.multiply(a, b)


def div(xp, a, b):
    """Integer division truncates toward zero (C semantics), not floor as in NumPy."""
    if is_floating(xp, a.dtype):
        return xp.divide(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = xp.floor_divide(a, b)
        if is_signed_int(xp, a.dtype):
            inexact = xp.multiply(q, b) != a
            fix = xp.logical_and(inexact, (a < 0) != (b < 0))
            q = xp.where(fix, q + 1, q)
    return q


def pow_(xp, x, y):
    """Output dtype is the base's; mixed dtypes are computed in the wider type first."""
    xt, yt = x.dtype, y.dtype
    if is_floating(xp, xt):
        if is_floating(xp, yt):
            w = xp.result_type(upcast(xp, x).dtype, upcast(xp, y).dtype)
        else:
            w = compute_dtype(xp, xt)
        return xp.astype(xp.pow(xp.astype(x, w), xp.astype(y, w)), xt)
    if is_floating(xp, yt) or bool(xp.any(y < 0)):
        # Integer base with a fractional or negative exponent: go through float64 and
        # truncate, as a C implementation would.
        z = xp.pow(xp.astype(x, xp.float64), xp.astype(y, xp.float64))
        return xp.astype(z, xt)
    return xp.pow(x, xp.astype(y, xt))


def _logic(name):
    def kernel(xp, a, b):
        return getattr(xp, name)(a, b)

    kernel.__name__ = name
    return kernel


for _op_type, _fn in (("Add", add), ("Sub", sub), ("Mul", mul), ("Div", div)):
    op(_op_type, 1)(_legacy_binary(_fn, consumed=True))
    op(_op_type, 6)(_legacy_binary(_fn, consumed=False))
    op(_op_type, (7, 13, 14))(_fn)

op("Pow", 1)(_legacy_binary(pow_, consumed=False))
op("Pow", (7, 12, 13, 15))(pow_)

# op type -> (array API function, versions after the legacy opset-1 one)
_LOGIC = {
    "And": ("logical_and", (7,)),
    "Or": ("logical_or", (7,)),
    "Xor": ("logical_xor", (7,)),
    "Equal": ("equal", (7, 11, 13, 19)),
    "Greater": ("greater", (7, 9, 13)),
    "Less": ("less", (7, 9, 13)),
}

for _op_type, (_fname, _versions) in _LOGIC.items():
    _fn = _logic(_fname)
    op(_op_type, 1)(_legacy_binary(_fn, consumed=False))
    op(_op_type, _versions)(_fn)

op("GreaterOrEqual", (12, 16))(_logic("greater_equal"))
op("LessOrEqual", (12, 16))(_logic("less_equal"))
op("BitwiseAnd", 18)(_logic("bitwise_and"))
op("BitwiseOr", 18)(_logic("bitwise_or"))
op("BitwiseXor", 18)(_logic("bitwise_xor"))


@op("Mod", (10, 13, 28))
def mod(xp, a, b, *, fmod=0):
    """fmod=0: floor modulo (sign of B); fmod=1: C fmod (sign of A)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if fmod:
            return xp.fmod(a, b)
        r = xp.remainder(a, b)
    if not isinstance(r, (np.ndarray, np.generic)) and xp.isdtype(r.dtype, "real floating"):
        # x mod ±inf is x when x is 0 or has the divisor's sign, else the divisor (NumPy and
        # torch say so; CuPy gives NaN)
        keep = xp.logical_or(a == 0, (a < 0) == (b < 0))
        fix = xp.logical_and(xp.isinf(b), xp.isfinite(a))
        r = xp.where(fix, xp.where(keep, a, b), r)
    return r


@op("BitShift", (11, 28))
def bitshift(xp, x, y, *, direction):
    """Shifts by a negative amount or by the bit width or more give the pure sign fill
    (-1 for a right shift of a negative value, else 0) instead of C's undefined result."""
    bits = int_bits(x.dtype)
    valid = xp.logical_and(y >= 0, y < bits)
    amount = xp.astype(xp.where(valid, y, xp.zeros_like(y)), x.dtype)
    fill = xp.zeros_like(x)
    if direction == "LEFT":
        shifted = xp.bitwise_left_shift(x, amount)
    else:
        shifted = xp.bitwise_right_shift(x, amount)
        if is_signed_int(xp, x.dtype):
            fill = xp.where(x < 0, xp.full_like(x, -1), fill)
    return xp.where(valid, shifted, fill)


@op("Where", (9, 16))
def where(xp, condition, x, y):
    return xp.where(condition, x, y)


# ---------------------------------------------------------------- variadic ops


def _fold(fn, inputs):
    out = inputs[0]
    for x in inputs[1:]:
        out = fn(out, x)
    return out


def max_(xp, *inputs):
    return _fold(xp.maximum, inputs)


def min_(xp, *inputs):
    return _fold(xp.minimum, inputs)


def sum_(xp, *inputs):
    return _fold(xp.add, inputs)


def mean(xp, *inputs):
    return sum_(xp, *inputs) / len(inputs)


register_versions("Max", max_, (1, 6, 8, 12, 13), True)
register_versions("Min", min_, (1, 6, 8, 12, 13), True)
register_versions("Sum", sum_, (1, 6, 8, 13), True)
register_versions("Mean", mean, (1, 6, 8, 13), True)


# ---------------------------------------------------------------- Clip


def _clamp(xp, x, lo, hi):
    # max first, then min: with lo > hi every element becomes hi, as the spec requires.
    if lo is not None:
        x = xp.maximum(x, xp.astype(xp.asarray(lo), x.dtype))
    if hi is not None:
        x = xp.minimum(x, xp.astype(xp.asarray(hi), x.dtype))
    return x


def clip_attrs(xp, input, *, max=3.4028234663852886e38, min=-3.4028234663852886e38):
    """Clip-1/6: bounds are float attributes."""
    return _clamp(xp, input, min, max)


register_versions("Clip", clip_attrs, (1, 6), True)


@op("Clip", (11, 12, 13))
def clip(xp, input, min=None, max=None):
    return _clamp(xp, input, min, max)
