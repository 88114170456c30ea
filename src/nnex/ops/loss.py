"""Loss operators: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.

Both pick, for every sample position, the (log-)probability of the target class along
axis 1 of an (N, C, d1, ..., dk) tensor, optionally weight it per class, zero the positions
whose target equals ``ignore_index``, and reduce with "none", "sum" or "mean" (a weighted
mean: divided by the sum of the weights of the positions that were not ignored).
"""

from __future__ import annotations

import numpy as np

from .registry import op


def _widen(xp, x):
    """Half-precision inputs are computed in float32 (log-softmax and sums lose digits in fp16)."""
    if isinstance(x.dtype, np.dtype) and np.dtype(x.dtype).name in ("float16", "bfloat16"):
        return xp.astype(x, xp.float32)
    return x


def _nll(xp, log_prob, target, weight, ignore_index, reduction):
    out_dtype = log_prob.dtype
    log_prob = _widen(xp, log_prob)
    dtype = log_prob.dtype
    target = xp.astype(target, xp.int64)
    keep = xp.ones(target.shape, dtype=xp.bool)
    if ignore_index is not None:
        keep = target != ignore_index
    # Ignored positions may hold any value (e.g. -1 or C): point them at class 0 for the gather.
    safe = xp.where(keep, target, xp.zeros_like(target))
    picked = xp.take_along_axis(log_prob, xp.expand_dims(safe, axis=1), axis=1)
    picked = xp.squeeze(picked, axis=1)

    if weight is not None:
        w = xp.take(xp.astype(weight, dtype), xp.reshape(safe, (-1,)), axis=0)
        w = xp.reshape(w, safe.shape)
    else:
        w = xp.ones(safe.shape, dtype=dtype)
    w = xp.where(keep, w, xp.zeros_like(w))
    loss = -picked * w

    if reduction == "none":
        return xp.astype(loss, out_dtype)
    total = xp.sum(loss, dtype=dtype)
    if reduction == "sum":
        return xp.astype(xp.asarray(total), out_dtype)
    if reduction == "mean":
        return xp.astype(xp.asarray(total / xp.sum(w, dtype=dtype)), out_dtype)
    raise ValueError(f"unsupported reduction {reduction!r}")


@op("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(xp, input, target, weight=None, *, ignore_index=None, reduction="mean"):
    return _nll(xp, input, target, weight, ignore_index, reduction)


def _log_softmax(xp, x, axis):
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


@op("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(
    xp, scores, labels, weights=None, *, ignore_index=None, reduction="mean", _n_outputs=1
):
    log_prob = _log_softmax(xp, _widen(xp, scores), axis=1)
    loss = _nll(xp, log_prob, labels, weights, ignore_index, reduction)
    loss = xp.astype(loss, scores.dtype)
    return (loss, xp.astype(log_prob, scores.dtype)) if _n_outputs > 1 else loss
