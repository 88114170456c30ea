"""ai.onnx.ml linear models: LinearClassifier, LinearRegressor.

The binary case of LinearClassifier (one coefficient row, two class labels) follows
onnxruntime, which is what model converters target: the label is the positive class
when the raw score is > 0, and the score column is expanded to two columns
[1 - s, s] (after the logistic or probit transform when one is asked for; the
softmaxes make no sense on a single score and are skipped).
"""

from __future__ import annotations

import numpy as np

from ... import _jit
from ..registry import ML_DOMAIN, op
from ._common import (as_2d, as_float, class_labels, logistic, per_node, post_transform_scores, probit, to_xp,
                      transform_name)


_COMPILED_TRANSFORMS = {"NONE": 0, "LOGISTIC": 1, "SOFTMAX": 2, "SOFTMAX_ZERO": 3}


def _rows(x) -> np.ndarray:
    """[N, F] float64 samples."""
    if type(x) is np.ndarray and x.ndim == 2:
        return x if x.dtype == np.float64 else x.astype(np.float64)
    return as_float(as_2d(x)).astype(np.float64)


def _linear_scores(m: np.ndarray, w: np.ndarray, b) -> np.ndarray:
    """[N, n_out] raw scores X @ W.T + b (W [n_out, F], one row per output)."""
    if w.shape[1] != m.shape[1]:
        raise ValueError(f"{w.shape[1]} coefficients per output for {m.shape[1]} features")
    scores = m @ w.T
    if b is not None:
        scores += b
    return scores


def binary_scores(s: np.ndarray, post_transform: str) -> np.ndarray:
    """Two score columns [1 - t(s), t(s)] from one raw score column, as onnxruntime does."""
    if post_transform == "LOGISTIC":
        s = logistic(s)
    elif post_transform == "PROBIT":
        s = probit(s)
    return np.concatenate([1.0 - s, s], axis=1)


@op("LinearClassifier", since=1, domain=ML_DOMAIN)
@per_node
def linear_classifier(
    *,
    coefficients,
    classlabels_ints=None,
    classlabels_strings=None,
    intercepts=None,
    multi_class=0,
    post_transform="NONE",
):
    labels, strings = class_labels(classlabels_ints, classlabels_strings)
    label_table = np.asarray(labels, dtype=object if strings else np.int64)
    transform = transform_name(post_transform)
    coefs = np.asarray(coefficients, dtype=np.float64)
    bias = np.asarray(intercepts, dtype=np.float64) if intercepts else None
    bias32 = None if bias is None else bias.astype(np.float32)
    weights = {}  # (number of features, dtype) -> [n_classes, F] weights

    def scores_of(m):
        key = (m.shape[1], m.dtype)
        w = weights.get(key)
        if w is None:
            # one weight row per intercept; without intercepts, as many rows as the weights fill
            n_classes = len(intercepts) if intercepts else max(len(coefs) // max(m.shape[1], 1), 1)
            w = weights[key] = coefs.reshape(n_classes, -1).astype(m.dtype)
        return _linear_scores(m, w, bias32 if m.dtype == np.float32 else bias)

    # the compiled loop (_numba_linear) for float32 rows of two or more classes, int labels
    code = _COMPILED_TRANSFORMS.get(transform)
    n_rows = len(intercepts) if intercepts else 0
    compiled_ok = code is not None and not strings and n_rows > 1 and len(labels) in (0, n_rows)
    label_ids = np.asarray(labels if labels else range(n_rows), dtype=np.int64) if compiled_ok else None

    def compiled(x):
        jit = _jit.kernels("nnex.ops.ml._numba_linear")
        if jit is None:
            return None
        w = weights.get((x.shape[1], x.dtype))
        if w is None or w.shape[1] != x.shape[1]:
            scores_of(x[:0])  # the shapes checked (a clear error), the weights made
            w = weights[(x.shape[1], x.dtype)]
        y = np.empty(x.shape[0], dtype=np.int64)
        z = np.empty((x.shape[0], n_rows), dtype=np.float32)
        jit.classify(x if x.flags.c_contiguous else np.ascontiguousarray(x), w, bias32, code, label_ids, y, z)
        return y, z

    def run(xp, x):
        # float samples are scored in float32, as onnxruntime does; anything else in float64
        f32 = type(x) is np.ndarray and x.ndim == 2 and x.dtype == np.float32
        if f32 and compiled_ok:
            out = compiled(x)
            if out is not None:
                return to_xp(xp, out[0]), to_xp(xp, out[1])
        scores = scores_of(x if f32 else _rows(x))
        if scores.shape[1] == 1:
            positive = scores[:, 0] > 0
            if len(labels) == 2:
                y = label_table.take(positive.astype(np.intp))
                z = binary_scores(scores, transform)
            else:
                # no usable label pair: the 0/1 decision itself is the label
                y = np.where(positive, "1", "0").astype(object) if strings else positive.astype(np.int64)
                z = post_transform_scores(scores, transform)
        else:
            winner = scores.argmax(axis=1)
            y = label_table.take(winner) if labels else winner
            z = post_transform_scores(scores, transform)
        z = to_xp(xp, z.astype(np.float32, copy=False))
        return (y if y.dtype == object else to_xp(xp, y)), z

    return run


@op("LinearRegressor", since=1, domain=ML_DOMAIN)
@per_node
def linear_regressor(*, coefficients=None, intercepts=None, post_transform="NONE", targets=1):
    w = np.asarray(coefficients, dtype=np.float64).reshape(int(targets), -1)
    bias = np.asarray(intercepts, dtype=np.float64) if intercepts else None
    transform = transform_name(post_transform)

    def run(xp, x):
        scores = _linear_scores(_rows(x), w, bias)
        return to_xp(xp, post_transform_scores(scores, transform).astype(np.float32))

    return run
