"""Cast, CastLike and BitCast between every ONNX element type.

Numeric conversions are NumPy/ml_dtypes ``astype`` (ml_dtypes rounds to nearest even and
gives float8's NaN/Inf on overflow), plus what the spec adds on top:

* ``saturate=1`` (the default) for the float8 types clamps to the finite range first, so
  out-of-range values and infinities become +-FLT_MAX instead of NaN/Inf;
* float8e8m0 (a bare power-of-two exponent) is built from the float32 exponent field with
  the requested ``round_mode``;
* strings parse/print plain or scientific notation, with case-insensitive INF/NaN.

These are host-side bit manipulations, so they use NumPy directly. On another backend,
a cast between plain types (bool, integers, float16/32/64, bfloat16, complex) is the
library's own ``astype``; the others return ``NotImplemented`` and run on the host.
"""

from __future__ import annotations

import functools

import ml_dtypes
import numpy as np
from onnx import TensorProto
from onnx.helper import tensor_dtype_to_np_dtype

from .dtypes import backend_dtype, numpy_dtype, on_host
from .elementwise import is_floating
from .registry import op

_FLOAT8 = frozenset(
    np.dtype(t)
    for t in (
        ml_dtypes.float8_e4m3fn,
        ml_dtypes.float8_e4m3fnuz,
        ml_dtypes.float8_e5m2,
        ml_dtypes.float8_e5m2fnuz,
    )
)
_E8M0 = np.dtype(ml_dtypes.float8_e8m0fnu)
_STRING = np.dtype(object)


@functools.cache
def onnx_to_numpy_dtype(to) -> np.dtype:
    """NumPy dtype of an ONNX element type given as its enum int or (Cast-1) its name."""
    if isinstance(to, str):
        to = TensorProto.DataType.Value(to.upper())
    return np.dtype(tensor_dtype_to_np_dtype(int(to)))


# ---------------------------------------------------------------- strings


def _format(v, digits: int | None) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "NaN"
        if np.isinf(v):
            return "INF" if v > 0 else "-INF"
        # %g drops a trailing ".0" (3.0 -> "3"), as onnxruntime prints.
        return f"{float(v):.{digits}g}" if digits else repr(float(v)).removesuffix(".0")
    return str(v)


def _to_strings(x: np.ndarray) -> np.ndarray:
    """Decimal text as onnxruntime writes it: 8 significant digits for float32 and
    narrower floats, shortest round-trip form for doubles, NaN/INF/-INF, bools as 1/0."""
    if x.dtype != _STRING and x.dtype.kind not in "biufc":
        x = x.astype(np.float32)  # ml_dtypes floats/ints print through float32
    digits = None if x.dtype == np.float64 else 8
    flat = [_format(v, digits) for v in x.reshape(-1)]
    return np.array(flat, dtype=object).reshape(x.shape)


def _parse_number(s, integral: bool):
    s = s.decode() if isinstance(s, bytes) else str(s)
    s = s.strip()
    if integral:
        try:
            return int(s)
        except ValueError:
            pass
    return float(s)  # accepts INF, +inf, -Inf, NaN, 1e-5, 1E8 (case-insensitive)


def _from_strings(x: np.ndarray, target: np.dtype, saturate: int, round_mode: str) -> np.ndarray:
    integral = target.kind in "iub"
    vals = [_parse_number(s, integral) for s in x.reshape(-1)]
    if target.kind == "b":
        return np.array([v != 0 for v in vals], dtype=bool).reshape(x.shape)
    if integral and all(isinstance(v, int) for v in vals):
        # Wrap out-of-range integers the way C casts do (keep the low bits).
        bits = target.itemsize * 8
        vals = [v & ((1 << bits) - 1) for v in vals]
        raw = np.array(vals, dtype=np.uint64 if bits == 64 else np.int64)
        return raw.astype(target).reshape(x.shape)
    return cast_array(np.array(vals, dtype=np.float64).reshape(x.shape), target, saturate, round_mode)


# ---------------------------------------------------------------- float8


def _saturate_float8(x: np.ndarray, target: np.dtype) -> np.ndarray:
    """Clamp to the target's finite range (NaN stays NaN); computed in float32/64 because a
    narrow source type may not hold the target's max exactly (e.g. 240 in e5m2)."""
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    hi = float(ml_dtypes.finfo(target).max)
    return np.clip(x, -hi, hi)


def _to_e8m0(x: np.ndarray, saturate: int, round_mode: str) -> np.ndarray:
    """float8e8m0 is an 8-bit biased exponent (bias 127, 0xFF = NaN): take the float32
    exponent field and round by the mantissa bits that are dropped."""
    bits = x.astype(np.float32).view(np.uint32)
    exponent = (bits >> 23) & 0xFF
    mantissa = bits & 0x7FFFFF
    if round_mode == "up":
        bump = mantissa != 0
    elif round_mode == "nearest":
        bump = mantissa >= 0x400000  # fraction >= 1/2 of the step, ties go up
    elif round_mode == "down":
        bump = np.zeros_like(mantissa, dtype=bool)
    else:
        raise ValueError(f"Cast: unsupported round_mode {round_mode!r}")
    special = exponent == 0xFF
    code = np.where(special, 0xFF, exponent + bump.astype(np.uint32))
    if saturate:
        # Infinity and anything rounding past the top clamp to the largest power of two;
        # NaN stays NaN.
        nan = special & (mantissa != 0)
        code = np.where(nan, 0xFF, np.minimum(code, 0xFE))
    code = np.minimum(code, 0xFF)
    return code.astype(np.uint8).view(ml_dtypes.float8_e8m0fnu)


# ---------------------------------------------------------------- core


def cast_array(x, target: np.dtype, saturate: int = 1, round_mode: str = "up") -> np.ndarray:
    """Convert array ``x`` to NumPy dtype ``target`` with ONNX Cast semantics."""
    x = np.asarray(x)
    if target == _STRING:
        return _to_strings(x)
    if x.dtype == _STRING:
        return _from_strings(x, target, saturate, round_mode)
    with np.errstate(invalid="ignore", over="ignore"):
        if target == _E8M0:
            return _to_e8m0(x, saturate, round_mode)
        if target in _FLOAT8 and saturate and x.dtype != target:
            return _saturate_float8(x, target).astype(target)
        if target.kind == "b" and x.dtype not in (np.float32, np.float64) and is_floating(np, x.dtype):
            # ml_dtypes floats do not cast to bool themselves on every version: compare.
            return x.astype(np.float32) != 0
        return x.astype(target)


def _plain(dtype: np.dtype) -> bool:
    """Types whose conversions every array library does the same way."""
    return dtype.kind in "biuc" or dtype in _PLAIN_FLOATS


_PLAIN_FLOATS = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64, ml_dtypes.bfloat16))


def cast_to(xp, x, target: np.dtype, saturate: int = 1, round_mode: str = "up"):
    """``x`` cast to NumPy dtype ``target`` on ``xp``'s backend (NotImplemented: do it on the host)."""
    if on_host(xp):
        return cast_array(x, target, saturate, round_mode)
    to = backend_dtype(xp, target)
    if to is None or not _plain(target) or not _plain(numpy_dtype(x.dtype)):
        return NotImplemented
    return x if x.dtype == to else xp.astype(x, to)


@op("Cast", (1, 6, 9, 13))
def cast(xp, input, *, to):
    return cast_to(xp, input, onnx_to_numpy_dtype(to))


@op("Cast", (19, 21, 23))
def cast_saturate(xp, input, *, to, saturate=1):
    return cast_to(xp, input, onnx_to_numpy_dtype(to), saturate)


@op("Cast", (24, 25, 28))
def cast_rounding(xp, input, *, to, saturate=1, round_mode="up"):
    return cast_to(xp, input, onnx_to_numpy_dtype(to), saturate, round_mode)


@op("CastLike", 15)
def cast_like(xp, input, target_type):
    return cast_to(xp, input, numpy_dtype(target_type.dtype))


@op("CastLike", (19, 21, 23))
def cast_like_saturate(xp, input, target_type, *, saturate=1):
    return cast_to(xp, input, numpy_dtype(target_type.dtype), saturate)


@op("CastLike", (24, 25))
def cast_like_rounding(xp, input, target_type, *, saturate=1, round_mode="up"):
    return cast_to(xp, input, numpy_dtype(target_type.dtype), saturate, round_mode)


def _bit_width(dtype: np.dtype) -> int:
    if dtype.kind in "bc":
        return dtype.itemsize * 8
    for info in (ml_dtypes.finfo, ml_dtypes.iinfo):
        try:
            return int(info(dtype).bits)
        except (TypeError, ValueError):
            pass
    return dtype.itemsize * 8


@op("BitCast", 26)
def bitcast(xp, input, *, to):
    """Same bits, other type.  Sub-byte types (int4, float4e2m1, int2, ...) are stored one
    value per byte in their low bits, so a byte-wise view reinterprets them correctly."""
    target = onnx_to_numpy_dtype(to)
    x = np.asarray(input)
    if _bit_width(x.dtype) != _bit_width(target):
        raise ValueError(f"BitCast: {x.dtype} and {target} differ in bit width")
    return x.view(target)
