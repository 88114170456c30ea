"""Activation operators: Relu family, sigmoid-like functions, Softmax/LogSoftmax/Hardmax.

Composite formulas run in float32 for 16-bit inputs (``upcast``) and are cast back, so the
output dtype is the input's while intermediate rounding stays small.

Softmax, LogSoftmax and Hardmax before opset 13 coerce the input to 2-D at ``axis``
(rows = dims before it, columns = dims from it on); from 13 they work along one axis.
"""

from __future__ import annotations

import math

from .elementwise import erf, is_floating, register_versions, upcast
from .registry import op


def _sigmoid(xp, x):
    """Logistic function, without overflow in exp for large |x|."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(xp, x):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable for large |x|
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


# ---------------------------------------------------------------- pointwise


def relu(xp, x):
    return xp.where(x < 0, xp.zeros_like(x), x)


register_versions("Relu", relu, (1, 6, 13, 14), True)


def leaky_relu(xp, x, *, alpha=0.01):
    w = upcast(xp, x)
    return xp.astype(xp.where(w < 0, alpha * w, w), x.dtype)


register_versions("LeakyRelu", leaky_relu, (1, 6, 16), True)


def prelu(xp, x, slope):
    w = upcast(xp, x)
    return xp.astype(xp.where(w < 0, xp.astype(slope, w.dtype) * w, w), x.dtype)


def prelu_legacy(xp, x, slope):
    # before opset 7 PRelu had no numpy broadcasting; exporters (PyTorch) gave a per-channel slope of shape (C,)
    if slope.ndim == 1 and x.ndim > 2 and slope.shape[0] == x.shape[1] and slope.shape[0] != x.shape[-1]:
        slope = xp.reshape(slope, (slope.shape[0],) + (1,) * (x.ndim - 2))
    return prelu(xp, x, slope)


register_versions("PRelu", prelu_legacy, (1, 6), True)
register_versions("PRelu", prelu, (7, 9, 16))


def elu(xp, x, *, alpha=1.0):
    w = upcast(xp, x)
    return xp.astype(xp.where(w < 0, alpha * xp.expm1(w), w), x.dtype)


register_versions("Elu", elu, (1, 6, 22), True)


def selu(xp, x, *, alpha=1.67326319217681884765625, gamma=1.05070102519683837890625):
    w = upcast(xp, x)
    return xp.astype(gamma * xp.where(w > 0, w, alpha * xp.expm1(w)), x.dtype)


register_versions("Selu", selu, (1, 6, 22), True)


@op("Celu", (12, 28))
def celu(xp, x, *, alpha=1.0):
    w = upcast(xp, x)
    return xp.astype(xp.where(w > 0, w, alpha * xp.expm1(w / alpha)), x.dtype)


@op("ThresholdedRelu", (10, 22))
def thresholded_relu(xp, x, *, alpha=1.0):
    return xp.where(x > alpha, x, xp.zeros_like(x))


def sigmoid(xp, x):
    return xp.astype(_sigmoid(xp, upcast(xp, x)), x.dtype)


register_versions("Sigmoid", sigmoid, (1, 6, 13), True)


def hard_sigmoid(xp, x, *, alpha=0.2, beta=0.5):
    w = upcast(xp, x)
    return xp.astype(xp.clip(alpha * w + beta, 0.0, 1.0), x.dtype)


register_versions("HardSigmoid", hard_sigmoid, (1, 6, 22), True)


@op("HardSwish", (14, 22))
def hard_swish(xp, x):
    w = upcast(xp, x)
    return xp.astype(w * xp.clip(w / 6.0 + 0.5, 0.0, 1.0), x.dtype)


@op("Softplus", (1, 22))
def softplus(xp, x):
    return xp.astype(_softplus(xp, upcast(xp, x)), x.dtype)


@op("Softsign", (1, 22))
def softsign(xp, x):
    w = upcast(xp, x)
    return xp.astype(w / (1.0 + xp.abs(w)), x.dtype)


@op("Mish", (18, 22))
def mish(xp, x):
    w = upcast(xp, x)
    return xp.astype(w * xp.tanh(_softplus(xp, w)), x.dtype)


@op("Swish", 24)
def swish(xp, x, *, alpha=1.0):
    w = upcast(xp, x)
    return xp.astype(w * _sigmoid(xp, alpha * w), x.dtype)


@op("SwiGLU", 28)
def swiglu(xp, a, b, *, alpha=1.0):
    w = upcast(xp, a)
    return xp.astype(w * _sigmoid(xp, alpha * w) * xp.astype(b, w.dtype), a.dtype)


@op("Gelu", 20)
def gelu(xp, x, *, approximate="none"):
    w = upcast(xp, x)
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (w + 0.044715 * w * w * w)
        y = 0.5 * w * (1.0 + xp.tanh(inner))
    else:
        y = 0.5 * w * (1.0 + erf(xp, w / math.sqrt(2.0)))
    return xp.astype(y, x.dtype)


@op("Shrink", 9)
def shrink(xp, input, *, bias=0.0, lambd=0.5):
    # Integer inputs are allowed: compute in float64 and cast back.
    w = upcast(xp, input) if is_floating(xp, input.dtype) else xp.astype(input, xp.float64)
    zero = xp.zeros_like(w)
    y = xp.where(w < -lambd, w + bias, xp.where(w > lambd, w - bias, zero))
    return xp.astype(y, input.dtype)


# ---------------------------------------------------------------- softmax family


def _axes(ndim, axis, flatten):
    """The reduction axes: all dims from ``axis`` on for the 2-D coerced (opset < 13) form."""
    if axis < 0:
        axis += ndim
    return tuple(range(axis, ndim)) if flatten else (axis,)


def _log_softmax(xp, x, axes):
    w = upcast(xp, x)
    shifted = w - xp.max(w, axis=axes, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axes, keepdims=True))


def _softmax(xp, x, axes):
    w = upcast(xp, x)
    e = xp.exp(w - xp.max(w, axis=axes, keepdims=True))
    return e / xp.sum(e, axis=axes, keepdims=True)


@op("Softmax", (1, 11))
def softmax_2d(xp, input, *, axis=1):
    return xp.astype(_softmax(xp, input, _axes(input.ndim, axis, True)), input.dtype)


@op("Softmax", 13)
def softmax(xp, input, *, axis=-1):
    return xp.astype(_softmax(xp, input, _axes(input.ndim, axis, False)), input.dtype)


@op("LogSoftmax", (1, 11))
def log_softmax_2d(xp, input, *, axis=1):
    return xp.astype(_log_softmax(xp, input, _axes(input.ndim, axis, True)), input.dtype)


@op("LogSoftmax", 13)
def log_softmax(xp, input, *, axis=-1):
    return xp.astype(_log_softmax(xp, input, _axes(input.ndim, axis, False)), input.dtype)


def _hardmax_last(xp, x2):
    """One-hot of the first maximum along the last axis."""
    n = x2.shape[-1]
    idx = xp.argmax(x2, axis=-1, keepdims=True)
    positions = xp.arange(n, dtype=idx.dtype)
    return xp.astype(positions == idx, x2.dtype)


@op("Hardmax", (1, 11))
def hardmax_2d(xp, input, *, axis=1):
    if axis < 0:
        axis += input.ndim
    rows = math.prod(input.shape[:axis])
    flat = xp.reshape(input, (rows, math.prod(input.shape[axis:])))
    return xp.reshape(_hardmax_last(xp, flat), input.shape)


@op("Hardmax", 13)
def hardmax(xp, input, *, axis=-1):
    moved = xp.moveaxis(input, axis, -1)
    return xp.moveaxis(_hardmax_last(xp, moved), -1, axis)
