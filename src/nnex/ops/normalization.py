"""Normalization operators: BatchNormalization, InstanceNormalization, LayerNormalization,
GroupNormalization, RMSNormalization, LRN, LpNormalization, MeanVarianceNormalization.

Statistics of half-precision inputs are computed in float32 (or in the type named by
``stash_type``) and results cast back to the input type, as the specs describe.
"""

from __future__ import annotations

import numpy as np

from .registry import op

# ONNX TensorProto data type codes that stash_type may name
_STASH_DTYPES = {1: np.float32, 10: np.float16, 11: np.float64, 16: None}


def _stash_dtype(stash_type: int) -> np.dtype:
    """The precision of the statistics stage; bfloat16 (16) is widened to float32."""
    return np.dtype(_STASH_DTYPES.get(int(stash_type)) or np.float32)


def _acc_dtype(dtype) -> np.dtype:
    """float32/float64 stay as they are; narrower floats accumulate in float32."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" and dtype.itemsize >= 4 else np.dtype(np.float32)


def _per_channel(v, ndim: int):
    """Broadcast a per-channel vector over ``(N, C, *spatial)``; non-1-D values already fit."""
    v = np.asarray(v)
    if v.ndim == 1:
        return v.reshape((1, -1) + (1,) * (ndim - 2))
    return v.reshape((1,) + v.shape)  # BatchNormalization spatial=0: (C, D1, ...)


def _normalize(x, axes, epsilon):
    """(x - mean) / sqrt(var + eps) over ``axes``; also returns mean and 1/std (keepdims)."""
    mean = np.mean(x, axis=axes, keepdims=True)
    diff = x - mean
    var = np.mean(diff * diff, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + np.asarray(epsilon, dtype=x.dtype))
    return diff * inv_std, mean, inv_std


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
    x = np.asarray(X)
    acc = _acc_dtype(x.dtype)
    xa = x.astype(acc, copy=False)
    nd = x.ndim
    s = _per_channel(scale, nd).astype(acc, copy=False)
    b = _per_channel(B, nd).astype(acc, copy=False)
    if not training:
        mean = _per_channel(input_mean, nd).astype(acc, copy=False)
        var = _per_channel(input_var, nd).astype(acc, copy=False)
        y = (xa - mean) / np.sqrt(var + acc.type(epsilon)) * s + b
        return y.astype(x.dtype, copy=False)

    # statistics over every axis but the channel one (or over N only for spatial=0)
    axes = (0,) if (not spatial and _opset < 9) else (0,) + tuple(range(2, nd))
    cm = np.mean(xa, axis=axes, keepdims=True)
    cv = np.var(xa, axis=axes, keepdims=True)  # population variance, as the spec says
    y = ((xa - cm) / np.sqrt(cv + acc.type(epsilon)) * s + b).astype(x.dtype, copy=False)
    cur_mean = cm.reshape(np.shape(input_mean))
    cur_var = cv.reshape(np.shape(input_var))
    stats_dtype = np.asarray(input_mean).dtype
    run_mean = np.asarray(input_mean, dtype=acc) * momentum + cur_mean * (1 - momentum)
    run_var = np.asarray(input_var, dtype=acc) * momentum + cur_var * (1 - momentum)
    outs = [y, run_mean.astype(stats_dtype), run_var.astype(stats_dtype)]
    if _opset < 14:
        # saved_mean / saved_var: the batch statistics used for this normalization
        outs += [cur_mean.astype(stats_dtype), cur_var.astype(stats_dtype)]
    return tuple(outs[:_n_outputs]) + (None,) * max(0, _n_outputs - len(outs))


# ---------------------------------------------------------------------------
# Instance / Layer / Group / RMS normalization
# ---------------------------------------------------------------------------


@op("InstanceNormalization", since=1)
def instance_normalization(xp, input, scale, B, *, epsilon=1e-5, consumed_inputs=None):
    x = np.asarray(input)
    acc = _acc_dtype(x.dtype)
    xn, _, _ = _normalize(x.astype(acc, copy=False), tuple(range(2, x.ndim)), epsilon)
    y = xn * _per_channel(scale, x.ndim).astype(acc) + _per_channel(B, x.ndim).astype(acc)
    return y.astype(x.dtype, copy=False)


@op("LayerNormalization", since=17)
def layer_normalization(xp, X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    x = np.asarray(X)
    axis = axis + x.ndim if axis < 0 else axis
    stash = _stash_dtype(stash_type)
    xn, mean, inv_std = _normalize(x.astype(stash, copy=False), tuple(range(axis, x.ndim)), epsilon)
    # the second stage (scale, bias) runs in the input type
    y = xn.astype(x.dtype) * np.asarray(Scale, dtype=x.dtype)
    if B is not None:
        y = y + np.asarray(B, dtype=x.dtype)
    return y.astype(x.dtype, copy=False), mean, inv_std


def _group_norm_stage1(x, num_groups, epsilon, stash):
    """Normalize ``x`` ``(N, C, *spatial)`` over each group of channels (and space)."""
    N, C = x.shape[:2]
    xg = x.astype(stash, copy=False).reshape((N, num_groups, -1))
    xn, _, _ = _normalize(xg, (2,), epsilon)
    return xn.reshape(x.shape)


@op("GroupNormalization", since=18)
def group_normalization_18(xp, X, scale, bias, *, epsilon=1e-5, num_groups):
    # opset 18: scale and bias hold one value per group
    x = np.asarray(X)
    acc = _acc_dtype(x.dtype)
    N, C = x.shape[:2]
    xn = _group_norm_stage1(x, num_groups, epsilon, acc)
    per_channel = C // num_groups
    s = np.repeat(np.asarray(scale, dtype=acc), per_channel)
    b = np.repeat(np.asarray(bias, dtype=acc), per_channel)
    y = xn * _per_channel(s, x.ndim) + _per_channel(b, x.ndim)
    return y.astype(x.dtype, copy=False)


@op("GroupNormalization", since=21)
def group_normalization_21(xp, X, scale, bias, *, epsilon=1e-5, num_groups, stash_type=1):
    # opset 21: scale and bias hold one value per channel; stage 1 in stash_type
    x = np.asarray(X)
    xn = _group_norm_stage1(x, num_groups, epsilon, _stash_dtype(stash_type)).astype(x.dtype)
    s = _per_channel(np.asarray(scale, dtype=x.dtype), x.ndim)
    y = xn * s + _per_channel(np.asarray(bias, dtype=x.dtype), x.ndim)
    return y.astype(x.dtype, copy=False)


@op("RMSNormalization", since=23)
def rms_normalization(xp, X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    x = np.asarray(X)
    axis = axis + x.ndim if axis < 0 else axis
    xs = x.astype(_stash_dtype(stash_type), copy=False)
    ms = np.mean(xs * xs, axis=tuple(range(axis, x.ndim)), keepdims=True)
    xn = (xs / np.sqrt(ms + xs.dtype.type(epsilon))).astype(x.dtype)
    scale = np.asarray(scale)
    return (xn * scale).astype(scale.dtype, copy=False)


# ---------------------------------------------------------------------------
# LRN, LpNormalization, MeanVarianceNormalization
# ---------------------------------------------------------------------------


@op("LRN", since=1)
def lrn(xp, X, *, alpha=1e-4, beta=0.75, bias=1.0, size):
    x = np.asarray(X)
    acc = _acc_dtype(x.dtype)
    sq = x.astype(acc) ** 2
    C = x.shape[1]
    before = (size - 1) // 2
    after = size - 1 - before  # ceil((size - 1) / 2)
    # windowed channel sums via a cumulative sum with a leading zero
    csum = np.cumsum(sq, axis=1)
    csum = np.concatenate([np.zeros_like(csum[:, :1]), csum], axis=1)
    c = np.arange(C)
    hi = np.minimum(C, c + after + 1)
    lo = np.maximum(0, c - before)
    square_sum = np.take(csum, hi, axis=1) - np.take(csum, lo, axis=1)
    y = x.astype(acc) / (bias + (alpha / size) * square_sum) ** beta
    return y.astype(x.dtype, copy=False)


@op("LpNormalization", since=1)
def lp_normalization(xp, input, *, axis=-1, p=2):
    x = np.asarray(input)
    acc = _acc_dtype(x.dtype)
    xa = x.astype(acc, copy=False)
    if p == 1:
        norm = np.sum(np.abs(xa), axis=axis, keepdims=True)
    elif p == 2:
        norm = np.sqrt(np.sum(xa * xa, axis=axis, keepdims=True))
    else:
        raise ValueError(f"LpNormalization: p must be 1 or 2, got {p}")
    # a zero norm gives a zero output (opset 22 wording; earlier opsets left it undefined)
    safe = np.where(norm == 0, 1, norm)
    return np.where(norm == 0, 0, xa / safe).astype(x.dtype, copy=False)


@op("MeanVarianceNormalization", since=9)
def mean_variance_normalization(xp, X, *, axes=(0, 2, 3)):
    x = np.asarray(X)
    acc = _acc_dtype(x.dtype)
    xa = x.astype(acc, copy=False)
    axes = tuple(int(a) for a in axes)
    mean = np.mean(xa, axis=axes, keepdims=True)
    # E[x^2] - E[x]^2 as in the function body, plus its 1e-9 epsilon
    var = np.mean(xa * xa, axis=axes, keepdims=True) - mean * mean
    y = (xa - mean) / (np.sqrt(var) + acc.type(1e-9))
    return y.astype(x.dtype, copy=False)
