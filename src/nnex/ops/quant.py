"""Quantization operators.

QuantizeLinear / DequantizeLinear (per-tensor, per-axis and blocked; integer targets from
2 to 16 bits, float8 / float6 / float4 targets through ml_dtypes), DynamicQuantizeLinear,
and the integer kernels QLinearMatMul, QLinearConv and ConvInteger (the last two with
their own small im2col convolution, NumPy only).

Rounding to an integer grid is round-half-to-even (``rint``) everywhere; integer targets
saturate to their range. Float8 targets round to nearest even in the cast itself and
saturate to the largest finite value when ``saturate`` is set (infinities included);
without it, out-of-range values become inf or NaN as the format allows.
"""

from __future__ import annotations

import math

import numpy as np

from .dtypes import astype, backend_dtype, numpy_dtype
from .registry import op

# Saturation range of every integer quantized type, by NumPy / ml_dtypes dtype name.
_INT_RANGES = {
    "uint8": (0, 255),
    "int8": (-128, 127),
    "uint16": (0, 65535),
    "int16": (-32768, 32767),
    "uint4": (0, 15),
    "int4": (-8, 7),
    "uint2": (0, 3),
    "int2": (-2, 1),
    "int32": (-(2**31), 2**31 - 1),
}

# The float8 types, to which the ``saturate`` attribute applies.
_FLOAT8 = {"float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz"}

_UINT8 = 2  # TensorProto.UINT8, the default QuantizeLinear target


def _name(dtype) -> str:
    return numpy_dtype(dtype).name


def _np_dtype(tensor_type: int):
    """TensorProto element type -> NumPy (or ml_dtypes) dtype."""
    from onnx.helper import tensor_dtype_to_np_dtype

    return np.dtype(tensor_dtype_to_np_dtype(tensor_type))


def _to_compute(xp, x):
    """ml_dtypes values (bfloat16, float8e8m0, int4, ...) have few NumPy loops: go through float32."""
    dt = numpy_dtype(x.dtype)
    if dt.kind == "V" or dt.kind == "b":
        return xp.astype(x, xp.float32)
    return x


# ----------------------------------------------------------------------------- scale layout


def _expand_param(xp, p, shape, axis: int, block_size: int):
    """Make a scale / zero point broadcastable against data of ``shape``.

    A scalar (or one-element) parameter is per tensor; a 1-D one without ``block_size`` is
    per axis; with ``block_size`` every entry is repeated ``block_size`` times along ``axis``
    (the last block may be cut short).
    """
    if p.ndim == 0 or (math.prod(p.shape) == 1 and not block_size):
        return xp.reshape(p, ())
    rank = len(shape)
    axis = axis % rank if rank else 0
    if block_size:
        p = xp.repeat(p, block_size, axis=axis)
        if p.shape[axis] != shape[axis]:
            p = xp.take(p, xp.arange(shape[axis]), axis=axis)
        return p
    dims = [1] * rank
    dims[axis] = p.shape[0]
    return xp.reshape(p, tuple(dims))


# ----------------------------------------------------------------------------- casting


def _saturate_int(xp, q, out_dtype):
    """Clip a float array holding integral values to ``out_dtype``'s range and cast."""
    lo, hi = _INT_RANGES[_name(out_dtype)]
    return astype(xp, xp.clip(q, float(lo), float(hi)), out_dtype)


def _cast_float8(xp, v, out_dtype, saturate: int):
    if saturate and _name(out_dtype) in _FLOAT8:
        import ml_dtypes

        # Saturation maps everything beyond the range, infinities included, to +-max;
        # NaN passes through clip unchanged.
        big = float(ml_dtypes.finfo(out_dtype).max)
        v = xp.clip(v, -big, big)
    return astype(xp, v, out_dtype)


def _quantize_values(xp, scaled, zero_point, out_dtype, saturate: int):
    """``saturate(scaled + zero_point)`` in ``out_dtype``; ``scaled`` is x / scale."""
    if _name(out_dtype) in _INT_RANGES:
        # Add the zero point in float32 after rounding: exact for all <= 16-bit grids.
        q = xp.astype(xp.round(scaled), xp.float32)
        if zero_point is not None:
            q = q + xp.astype(zero_point, xp.float32)
        return _saturate_int(xp, q, out_dtype)
    v = xp.astype(scaled, xp.float32)
    if zero_point is not None:
        v = v + xp.astype(zero_point, xp.float32)
    # float4 / float6 have neither inf nor NaN: ml_dtypes' cast already saturates.
    return _cast_float8(xp, v, out_dtype, saturate)


# ----------------------------------------------------------------------------- QuantizeLinear


def _quantize_target(y_zero_point, output_dtype):
    if y_zero_point is not None:
        return numpy_dtype(y_zero_point.dtype)
    return _np_dtype(output_dtype or _UINT8)


def _div(xp, a, b):
    """a / b with ``b`` broadcastable to ``a``: a full-shape divisor, because XLA turns a
    division by a broadcast value into a product by its reciprocal, one ulp off in half
    the cases (which then rounds to the other integer)."""
    return a / xp.broadcast_to(b, tuple(a.shape))


def _divide(xp, x, scale, precision):
    """x / scale in the requested precision (default: ordinary promotion of the two dtypes)."""
    if precision:
        dt = _np_dtype(precision)
        x, scale = astype(xp, x, dt), astype(xp, scale, dt)
    else:
        x, scale = _to_compute(xp, x), _to_compute(xp, scale)
    return _div(xp, x, scale)


@op("QuantizeLinear", since=(10, 13, 19, 21, 23))
def quantize_linear(
    xp, x, y_scale, y_zero_point=None, *, axis=1, block_size=0, output_dtype=0, precision=0, saturate=1
):
    out_dtype = _quantize_target(y_zero_point, output_dtype)
    if backend_dtype(xp, out_dtype) is None:
        return NotImplemented
    scale = _expand_param(xp, y_scale, x.shape, axis, block_size)
    zp = None if y_zero_point is None else _expand_param(xp, y_zero_point, x.shape, axis, block_size)
    if zp is not None:
        zp = _to_compute(xp, zp)
    return _quantize_values(xp, _divide(xp, x, scale, precision), zp, out_dtype, saturate)


# ----------------------------------------------------------------------------- DequantizeLinear


@op("DequantizeLinear", since=(10, 13, 19, 21, 23))
def dequantize_linear(xp, x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    out_dtype = _np_dtype(output_dtype) if output_dtype else numpy_dtype(x_scale.dtype)
    # float32 holds every quantized value exactly (int32 inputs up to 2**24).
    dx = xp.astype(x, xp.float32)
    if x_zero_point is not None:
        zp = _expand_param(xp, x_zero_point, x.shape, axis, block_size)
        dx = dx - xp.astype(zp, xp.float32)
    scale = xp.astype(_expand_param(xp, x_scale, x.shape, axis, block_size), xp.float32)
    return astype(xp, dx * scale, out_dtype)


# ----------------------------------------------------------------------------- DynamicQuantizeLinear


@op("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(xp, x):
    qmin, qmax = 0.0, 255.0
    xf = xp.astype(x, xp.float32)
    # The range always contains 0 so that 0 is exactly representable.
    zero = xp.asarray(0.0, dtype=xp.float32)
    nonempty = math.prod(xf.shape) > 0
    hi = xp.maximum(xp.max(xf), zero) if nonempty else zero
    lo = xp.minimum(xp.min(xf), zero) if nonempty else zero
    span = hi - lo
    # An all-zero input has an empty range: any positive scale works; use 1/255 like the reference.
    span = xp.where(span == 0, xp.ones_like(span), span)
    scale = xp.astype(span / (qmax - qmin), xp.float32)
    zp = xp.round(xp.clip(qmin - lo / scale, qmin, qmax))
    y = xp.clip(xp.round(_div(xp, xf, scale)) + zp, qmin, qmax)
    return xp.astype(y, xp.uint8), xp.astype(scale, x.dtype), xp.astype(zp, xp.uint8)


# ----------------------------------------------------------------------------- QLinearMatMul


def _centered_int32(xp, q, zero_point, per_row: bool):
    """q - zero_point as int32; a 1-D per-row zero point is turned into a column."""
    v = xp.astype(q, xp.int32)
    if zero_point is None:
        return v
    zp = xp.astype(zero_point, xp.int32)
    if per_row and zp.ndim == 1 and zp.shape[0] > 1:
        zp = xp.reshape(zp, (zp.shape[0], 1))
    return v - zp


def _row_param(xp, p):
    """A per-row (length M) scale of the left operand, shaped to broadcast over (M, N)."""
    if p.ndim == 1 and p.shape[0] > 1:
        return xp.reshape(p, (p.shape[0], 1))
    return p


def _requantize(xp, acc, multiplier, y_zero_point, out_dtype):
    """Quantize the int32 accumulator ``acc`` whose real value is ``acc * multiplier``."""
    real = xp.astype(acc, xp.float64) * xp.astype(multiplier, xp.float64)
    zp = None if y_zero_point is None else _to_compute(xp, y_zero_point)
    if _name(out_dtype) in _INT_RANGES:
        q = xp.round(real)
        if zp is not None:
            q = q + xp.astype(zp, xp.float64)
        return _saturate_int(xp, q, out_dtype)
    return _quantize_values(xp, real, zp, out_dtype, 1)


def _dequantize_float(xp, q, scale, zero_point, per_row):
    """Float8 operands: real values in float32 (their zero point is 0 by convention)."""
    v = xp.astype(q, xp.float32)
    if zero_point is not None:
        zp = xp.astype(zero_point, xp.float32)
        v = v - (_row_param(xp, zp) if per_row else zp)
    s = xp.astype(scale, xp.float32)
    return v * (_row_param(xp, s) if per_row else s)


@op("QLinearMatMul", since=(10, 21))
def qlinear_matmul(xp, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    out_dtype = numpy_dtype(y_zero_point.dtype if y_zero_point is not None else a.dtype)
    if backend_dtype(xp, out_dtype) is None:
        return NotImplemented
    if _name(a.dtype) in _INT_RANGES and _name(b.dtype) in _INT_RANGES:
        acc = xp.matmul(
            _centered_int32(xp, a, a_zero_point, per_row=True),
            _centered_int32(xp, b, b_zero_point, per_row=False),
        )
        # The combined multiplier is formed in the scales' own precision, as the spec's TS.
        a_s, b_s, y_s = (_to_compute(xp, s) for s in (a_scale, b_scale, y_scale))
        multiplier = _row_param(xp, a_s) * b_s / y_s
        return _requantize(xp, acc, multiplier, y_zero_point, out_dtype)
    # float8 operands: dequantize, multiply in float32, quantize.
    real = xp.matmul(
        _dequantize_float(xp, a, a_scale, a_zero_point, per_row=True),
        _dequantize_float(xp, b, b_scale, b_zero_point, per_row=False),
    )
    zp = None if y_zero_point is None else xp.astype(y_zero_point, xp.float32)
    return _quantize_values(xp, real / xp.astype(y_scale, xp.float32), zp, out_dtype, 1)


# ----------------------------------------------------------------------------- integer convolution


def _conv_pads(in_spatial, kernel, strides, dilations, pads, auto_pad):
    """Begin and end paddings per spatial axis, resolving ``auto_pad``."""
    n = len(in_spatial)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for size, k, s, d in zip(in_spatial, kernel, strides, dilations):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            small, big = total // 2, total - total // 2
            # SAME_UPPER puts the odd extra pad at the end, SAME_LOWER at the beginning.
            begins.append(small if auto_pad == "SAME_UPPER" else big)
            ends.append(big if auto_pad == "SAME_UPPER" else small)
        return begins, ends
    if auto_pad == "VALID" or not pads:
        return [0] * n, [0] * n
    return list(pads[:n]), list(pads[n:])


def _int_conv(x, w, *, auto_pad, dilations, group, kernel_shape, pads, strides):
    """N-d grouped convolution of int32 arrays (zero points already removed), int32 result.

    im2col: every output position's receptive field is gathered with a strided sliding
    window view, then one matmul per group contracts (channels x kernel positions).
    """
    n_spatial = x.ndim - 2
    kernel = list(kernel_shape) if kernel_shape else list(w.shape[2:])
    strides = list(strides) if strides else [1] * n_spatial
    dilations = list(dilations) if dilations else [1] * n_spatial
    begins, ends = _conv_pads(x.shape[2:], kernel, strides, dilations, pads, auto_pad)
    x = np.pad(x, [(0, 0), (0, 0)] + list(zip(begins, ends)))

    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    win = np.lib.stride_tricks.sliding_window_view(x, spans, axis=tuple(range(2, x.ndim)))
    # win: (N, C, *out_full, *spans) -> keep every stride-th start and dilation-th tap.
    starts = tuple(slice(None, None, s) for s in strides)
    taps = tuple(slice(None, None, d) for d in dilations)
    win = win[(slice(None), slice(None)) + starts + taps]

    n, c = x.shape[:2]
    out_spatial = win.shape[2 : 2 + n_spatial]
    m = w.shape[0]
    cg, mg = c // group, m // group
    k_size = cg * math.prod(kernel)
    # (N, C, *out, *k) -> (group, N * out, Cg * k)
    cols = np.moveaxis(win, 1, 1 + n_spatial)  # (N, *out, C, *k)
    cols = cols.reshape((n, math.prod(out_spatial), group, k_size))
    cols = np.ascontiguousarray(np.moveaxis(cols, 2, 0)).reshape((group, -1, k_size))
    wmat = w.reshape((group, mg, k_size)).transpose(0, 2, 1)
    y = np.matmul(cols, wmat)  # (group, N * out, Mg)
    y = y.reshape((group, n, math.prod(out_spatial), mg)).transpose(1, 0, 3, 2)
    return np.ascontiguousarray(y).reshape((n, m) + tuple(out_spatial)).astype(np.int32)


def _channel_param(p, ndim):
    """A per-output-channel (1-D) parameter shaped to broadcast over (N, M, *spatial)."""
    p = np.asarray(p)
    if p.ndim == 1 and p.shape[0] > 1:
        return p.reshape((1, p.shape[0]) + (1,) * (ndim - 2))
    return p.reshape(())


def _weight_centered(w, w_zero_point):
    w32 = np.asarray(w).astype(np.int32)
    if w_zero_point is None:
        return w32
    zp = np.asarray(w_zero_point).astype(np.int32)
    if zp.ndim == 1 and zp.shape[0] > 1:
        zp = zp.reshape((zp.shape[0],) + (1,) * (w32.ndim - 1))
    return w32 - zp.reshape(()) if zp.size == 1 else w32 - zp


def _input_centered(x, x_zero_point):
    x32 = np.asarray(x).astype(np.int32)
    if x_zero_point is None:
        return x32
    return x32 - np.asarray(x_zero_point).astype(np.int32).reshape(())


@op("ConvInteger", since=10)
def conv_integer(
    xp, x, w, x_zero_point=None, w_zero_point=None, *,
    auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
):
    y = _int_conv(
        _input_centered(x, x_zero_point), _weight_centered(w, w_zero_point),
        auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
        pads=pads, strides=strides,
    )
    return xp.asarray(y)


@op("QLinearConv", since=10)
def qlinear_conv(
    xp, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
    auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None,
):
    acc = _int_conv(
        _input_centered(x, x_zero_point), _weight_centered(w, w_zero_point),
        auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
        pads=pads, strides=strides,
    )
    if B is not None:
        acc = acc + _channel_param(np.asarray(B).astype(np.int32), acc.ndim)
    ws = _channel_param(_to_compute(np, np.asarray(w_scale)), acc.ndim)
    xs, ys = (_to_compute(np, np.asarray(s)) for s in (x_scale, y_scale))
    multiplier = xs * ws / ys
    out_dtype = np.dtype(y_zero_point.dtype) if y_zero_point is not None else np.dtype(x.dtype)
    return xp.asarray(_requantize(np, acc, multiplier, y_zero_point, out_dtype))
