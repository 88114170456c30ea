"""Normalization operators: BatchNormalization, InstanceNormalization, LayerNormalization,
GroupNormalization, RMSNormalization, LRN, LpNormalization, MeanVarianceNormalization.

Statistics of half-precision inputs are computed in float32 (or in the type named by
``stash_type``) and results cast back to the input type, as the specs describe.
"""

from __future__ import annotations

import numpy as np

from .dtypes import astype, numpy_dtype
from .registry import op

# ONNX TensorProto data type codes that stash_type may name
_STASH_DTYPES = {1: np.float32, 10: np.float16, 11: np.float64, 16: None}


def _stash_dtype(stash_type: int) -> np.dtype:
    """The precision of the statistics stage; bfloat16 (16) is widened to float32."""
    return np.dtype(_STASH_DTYPES.get(int(stash_type)) or np.float32)


def _acc_dtype(dtype) -> np.dtype:
    """float32/float64 stay as they are; narrower floats accumulate in float32."""
    dtype = numpy_dtype(dtype)
    return dtype if dtype.kind == "f" and dtype.itemsize >= 4 else np.dtype(np.float32)


def _per_channel(xp, v, ndim: int):
    """Broadcast a per-channel vector over ``(N, C, *spatial)``; non-1-D values already fit."""
    if v.ndim == 1:
        return xp.reshape(v, (1, -1) + (1,) * (ndim - 2))
    return xp.reshape(v, (1,) + tuple(v.shape))  # BatchNormalization spatial=0: (C, D1, ...)


def _normalize(xp, x, axes, epsilon):
    """(x - mean) / sqrt(var + eps) over ``axes``; also returns mean and 1/std (keepdims)."""
    mean = xp.mean(x, axis=axes, keepdims=True)
    diff = x - mean
    var = xp.mean(diff * diff, axis=axes, keepdims=True)
    inv_std = 1.0 / xp.sqrt(var + epsilon)
    return diff * inv_std, mean, inv_std


def _in(xp, x, dtype):
    return astype(xp, x, dtype)


# ---------------------------------------------------------------------------
# BatchNormalization
# ---------------------------------------------------------------------------


@op("BatchNormalization", since=(1, 6, 7, 9, 14, 15))
def batch_normalization(xp, X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9,
                        training_mode=0, is_test=0, spatial=1, consumed_inputs=None,
                        _n_outputs=1, _opset=15):
    # Before opset 14 the mode is implied by the outputs asked for (and is_test up to 6).
    if _opset >= 14:
        training = bool(training_mode)
    else:
        training = _n_outputs > 1 and not (_opset < 7 and is_test)
    x = X
    acc = _acc_dtype(x.dtype)
    xa = _in(xp, x, acc)
    nd = x.ndim
    s = _in(xp, _per_channel(xp, scale, nd), acc)
    b = _in(xp, _per_channel(xp, B, nd), acc)
    if not training:
        mean = _in(xp, _per_channel(xp, input_mean, nd), acc)
        var = _in(xp, _per_channel(xp, input_var, nd), acc)
        y = (xa - mean) / xp.sqrt(var + epsilon) * s + b
        return xp.astype(y, x.dtype, copy=False)

    # statistics over every axis but the channel one (or over N only for spatial=0)
    axes = (0,) if (not spatial and _opset < 9) else (0,) + tuple(range(2, nd))
    cm = xp.mean(xa, axis=axes, keepdims=True)
    centered = xa - cm
    cv = xp.mean(centered * centered, axis=axes, keepdims=True)  # population variance, as the spec says
    y = xp.astype((xa - cm) / xp.sqrt(cv + epsilon) * s + b, x.dtype, copy=False)
    cur_mean = xp.reshape(cm, tuple(input_mean.shape))
    cur_var = xp.reshape(cv, tuple(input_var.shape))
    stats_dtype = input_mean.dtype
    run_mean = _in(xp, input_mean, acc) * momentum + cur_mean * (1 - momentum)
    run_var = _in(xp, input_var, acc) * momentum + cur_var * (1 - momentum)
    outs = [y, xp.astype(run_mean, stats_dtype, copy=False), xp.astype(run_var, stats_dtype, copy=False)]
    if _opset < 14:
        # saved_mean / saved_var: the batch statistics used for this normalization
        outs += [xp.astype(cur_mean, stats_dtype, copy=False), xp.astype(cur_var, stats_dtype, copy=False)]
    return tuple(outs[:_n_outputs]) + (None,) * max(0, _n_outputs - len(outs))


# ---------------------------------------------------------------------------
# Instance / Layer / Group / RMS normalization
# ---------------------------------------------------------------------------


@op("InstanceNormalization", since=1)
def instance_normalization(xp, input, scale, B, *, epsilon=1e-5, consumed_inputs=None):
    x = input
    acc = _acc_dtype(x.dtype)
    xn, _, _ = _normalize(xp, _in(xp, x, acc), tuple(range(2, x.ndim)), epsilon)
    y = xn * _in(xp, _per_channel(xp, scale, x.ndim), acc) + _in(xp, _per_channel(xp, B, x.ndim), acc)
    return xp.astype(y, x.dtype, copy=False)


@op("LayerNormalization", since=17)
def layer_normalization(xp, X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    x = X
    axis = axis + x.ndim if axis < 0 else axis
    stash = _stash_dtype(stash_type)
    xn, mean, inv_std = _normalize(xp, _in(xp, x, stash), tuple(range(axis, x.ndim)), epsilon)
    # the second stage (scale, bias) runs in the input type
    y = xp.astype(xn, x.dtype, copy=False) * xp.astype(Scale, x.dtype, copy=False)
    if B is not None:
        y = y + xp.astype(B, x.dtype, copy=False)
    return xp.astype(y, x.dtype, copy=False), mean, inv_std


def _group_norm_stage1(xp, x, num_groups, epsilon, stash):
    """Normalize ``x`` ``(N, C, *spatial)`` over each group of channels (and space)."""
    N = x.shape[0]
    xg = xp.reshape(_in(xp, x, stash), (N, num_groups, -1))
    xn, _, _ = _normalize(xp, xg, (2,), epsilon)
    return xp.reshape(xn, tuple(x.shape))


@op("GroupNormalization", since=18)
def group_normalization_18(xp, X, scale, bias, *, epsilon=1e-5, num_groups):
    # opset 18: scale and bias hold one value per group
    x = X
    acc = _acc_dtype(x.dtype)
    C = x.shape[1]
    xn = _group_norm_stage1(xp, x, num_groups, epsilon, acc)
    per_channel = C // num_groups
    s = xp.repeat(_in(xp, scale, acc), per_channel)
    b = xp.repeat(_in(xp, bias, acc), per_channel)
    y = xn * _per_channel(xp, s, x.ndim) + _per_channel(xp, b, x.ndim)
    return xp.astype(y, x.dtype, copy=False)


@op("GroupNormalization", since=21)
def group_normalization_21(xp, X, scale, bias, *, epsilon=1e-5, num_groups, stash_type=1):
    # opset 21: scale and bias hold one value per channel; stage 1 in stash_type
    x = X
    xn = _group_norm_stage1(xp, x, num_groups, epsilon, _stash_dtype(stash_type))
    xn = xp.astype(xn, x.dtype, copy=False)
    s = _per_channel(xp, xp.astype(scale, x.dtype, copy=False), x.ndim)
    y = xn * s + _per_channel(xp, xp.astype(bias, x.dtype, copy=False), x.ndim)
    return xp.astype(y, x.dtype, copy=False)


@op("RMSNormalization", since=23)
def rms_normalization(xp, X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    x = X
    axis = axis + x.ndim if axis < 0 else axis
    xs = _in(xp, x, _stash_dtype(stash_type))
    ms = xp.mean(xs * xs, axis=tuple(range(axis, x.ndim)), keepdims=True)
    xn = xp.astype(xs / xp.sqrt(ms + epsilon), x.dtype, copy=False)
    return xp.astype(xn * scale, scale.dtype, copy=False)


# ---------------------------------------------------------------------------
# LRN, LpNormalization, MeanVarianceNormalization
# ---------------------------------------------------------------------------


@op("LRN", since=1)
def lrn(xp, X, *, alpha=1e-4, beta=0.75, bias=1.0, size):
    x = X
    acc = _acc_dtype(x.dtype)
    xa = _in(xp, x, acc)
    sq = xa * xa
    C = x.shape[1]
    before = (size - 1) // 2
    after = size - 1 - before  # ceil((size - 1) / 2)
    # windowed channel sums via a cumulative sum with a leading zero
    csum = xp.cumulative_sum(sq, axis=1, include_initial=True)
    c = np.arange(C)
    hi = xp.asarray(np.minimum(C, c + after + 1))
    lo = xp.asarray(np.maximum(0, c - before))
    square_sum = xp.take(csum, hi, axis=1) - xp.take(csum, lo, axis=1)
    y = xa / (bias + (alpha / size) * square_sum) ** beta
    return xp.astype(y, x.dtype, copy=False)


@op("LpNormalization", since=1)
def lp_normalization(xp, input, *, axis=-1, p=2):
    x = input
    acc = _acc_dtype(x.dtype)
    xa = _in(xp, x, acc)
    if p == 1:
        norm = xp.sum(xp.abs(xa), axis=axis, keepdims=True)
    elif p == 2:
        norm = xp.sqrt(xp.sum(xa * xa, axis=axis, keepdims=True))
    else:
        raise ValueError(f"LpNormalization: p must be 1 or 2, got {p}")
    # a zero norm gives a zero output (opset 22 wording; earlier opsets left it undefined)
    zero = norm == 0
    safe = xp.where(zero, xp.ones_like(norm), norm)
    return xp.astype(xp.where(zero, xp.zeros_like(xa), xa / safe), x.dtype, copy=False)


@op("MeanVarianceNormalization", since=9)
def mean_variance_normalization(xp, X, *, axes=(0, 2, 3)):
    x = X
    acc = _acc_dtype(x.dtype)
    xa = _in(xp, x, acc)
    axes = tuple(int(a) for a in axes)
    mean = xp.mean(xa, axis=axes, keepdims=True)
    # E[x^2] - E[x]^2 as in the function body, plus its 1e-9 epsilon
    var = xp.mean(xa * xa, axis=axes, keepdims=True) - mean * mean
    y = (xa - mean) / (xp.sqrt(var) + 1e-9)
    return xp.astype(y, x.dtype, copy=False)
