"""ai.onnx.ml linear models: LinearClassifier, LinearRegressor.

The binary case of LinearClassifier (one coefficient row, two class labels) follows
onnxruntime, which is what model converters target: the label is the positive class
when the raw score is > 0, and the score column is expanded to two columns
[1 - s, s] (after the logistic or probit transform when one is asked for; the
softmaxes make no sense on a single score and are skipped).
"""

from __future__ import annotations

import numpy as np

from ..registry import ML_DOMAIN, op
from ._common import as_2d, as_float, class_labels, label_array, logistic, post_transform_scores, probit


def _linear_scores(x, coefficients, intercepts, n_out: int) -> np.ndarray:
    """[N, n_out] raw scores X @ W.T + b (W is given row-major, one row per output)."""
    m = as_float(as_2d(x)).astype(np.float64)
    w = np.asarray(coefficients, dtype=np.float64).reshape(n_out, -1)
    if w.shape[1] != m.shape[1]:
        raise ValueError(f"{w.shape[1]} coefficients per output for {m.shape[1]} features")
    scores = m @ w.T
    if intercepts:
        scores = scores + np.asarray(intercepts, dtype=np.float64)
    return scores


def binary_scores(s: np.ndarray, post_transform: str) -> np.ndarray:
    """Two score columns [1 - t(s), t(s)] from one raw score column, as onnxruntime does."""
    if post_transform == "LOGISTIC":
        s = logistic(s)
    elif post_transform == "PROBIT":
        s = probit(s)
    return np.concatenate([1.0 - s, s], axis=1)


@op("LinearClassifier", since=1, domain=ML_DOMAIN)
def linear_classifier(
    xp,
    x,
    *,
    coefficients,
    classlabels_ints=None,
    classlabels_strings=None,
    intercepts=None,
    multi_class=0,
    post_transform="NONE",
):
    labels, strings = class_labels(classlabels_ints, classlabels_strings)
    # one weight row per intercept; without intercepts, as many rows as the weights fill
    n_classes = len(intercepts) if intercepts else max(len(coefficients) // max(as_2d(x).shape[1], 1), 1)
    scores = _linear_scores(x, coefficients, intercepts, n_classes)
    if n_classes == 1:
        positive = scores[:, 0] > 0
        if len(labels) == 2:
            y = label_array(labels, positive.astype(np.int64))
            z = binary_scores(scores, post_transform)
        else:
            # no usable label pair: the 0/1 decision itself is the label
            y = np.where(positive, "1", "0").astype(object) if strings else positive.astype(np.int64)
            z = post_transform_scores(scores, post_transform)
    else:
        y = label_array(labels, np.argmax(scores, axis=1)) if labels else np.argmax(scores, axis=1)
        z = post_transform_scores(scores, post_transform)
    z = xp.asarray(z.astype(np.float32))
    return (y if y.dtype == object else xp.asarray(y)), z


@op("LinearRegressor", since=1, domain=ML_DOMAIN)
def linear_regressor(xp, x, *, coefficients=None, intercepts=None, post_transform="NONE", targets=1):
    scores = _linear_scores(x, coefficients, intercepts, int(targets))
    return xp.asarray(post_transform_scores(scores, post_transform).astype(np.float32))
