"""ai.onnx.ml preprocessing operators: ArrayFeatureExtractor, Binarizer, FeatureVectorizer,
Imputer, Normalizer, Scaler.

Host-side NumPy; the results go to the backend through ``xp.asarray``.  Where the spec
is silent, shapes follow onnxruntime (the reference runtime of this domain).
"""

from __future__ import annotations

import math

import numpy as np

from ..registry import ML_DOMAIN, op
from ._common import _SMALL_ROW, as_2d, per_node, to_xp


@op("ArrayFeatureExtractor", since=1, domain=ML_DOMAIN)
def array_feature_extractor(xp, x, y):
    if type(y) is np.ndarray and y.ndim == 0 and type(x) is np.ndarray and x.ndim > 1 and y.dtype.kind in "iu":
        # one column (converters pick columns one by one): a view, checked in Python
        i = int(y)
        if not 0 <= i < x.shape[-1]:
            raise IndexError(f"ArrayFeatureExtractor: index {i} out of range for last dimension {x.shape[-1]}")
        return to_xp(xp, x[..., i:i + 1])
    a = x if type(x) is np.ndarray else np.asarray(x)
    idx = y if type(y) is np.ndarray and y.dtype == np.int64 else np.asarray(y, dtype=np.int64)
    if idx.ndim != 1:
        idx = idx.reshape(-1)
    last = a.shape[-1] if a.ndim else 1
    # a few indices (the usual case: converters pick columns one by one) are checked in Python
    if idx.size <= 32:
        values = idx.tolist()
        bad = bool(values) and (min(values) < 0 or max(values) >= last)
    else:
        bad = bool(idx.min() < 0 or idx.max() >= last)
    if bad:
        raise IndexError(f"ArrayFeatureExtractor: index out of range for last dimension {last}")
    return to_xp(xp, a.take(idx, axis=-1) if a.ndim > 1 else a.reshape(1, -1).take(idx, axis=1))


@op("Binarizer", since=1, domain=ML_DOMAIN)
def binarizer(xp, x, *, threshold=0.0):
    a = np.asarray(x)
    out = (a > threshold).astype(a.dtype)
    if a.dtype.kind == "f":
        out = np.where(np.isnan(a), a, out)  # a missing value stays missing
    return xp.asarray(out)


@op("FeatureVectorizer", since=1, domain=ML_DOMAIN)
def feature_vectorizer(xp, *inputs, inputdimensions=None):
    mats = [as_2d(x) for x in inputs]
    dims = list(inputdimensions) if inputdimensions else [m.shape[1] for m in mats]
    if len(dims) != len(mats):
        raise ValueError("FeatureVectorizer: inputdimensions must give one size per input")
    n = mats[0].shape[0] if mats else 0
    parts = []
    for m, d in zip(mats, dims):
        # each input contributes exactly d columns: truncated or zero-padded
        part = np.zeros((n, int(d)), dtype=np.float32)
        k = min(int(d), m.shape[1])
        part[:, :k] = m[:, :k]
        parts.append(part)
    out = np.concatenate(parts, axis=1) if parts else np.zeros((0, 0), np.float32)
    return xp.asarray(out)


@op("Imputer", since=1, domain=ML_DOMAIN)
def imputer(
    xp,
    x,
    *,
    imputed_value_floats=None,
    imputed_value_int64s=None,
    replaced_value_float=0.0,
    replaced_value_int64=0,
):
    a = np.asarray(x)
    if a.dtype.kind == "f":
        values, target = imputed_value_floats, replaced_value_float
    else:
        values, target = imputed_value_int64s, replaced_value_int64
    if not values:
        raise ValueError("Imputer: the imputed_value_* attribute matching the input type is missing")
    fill = np.asarray(values).astype(a.dtype)
    if fill.size not in (1, a.shape[-1] if a.ndim else 1):
        raise ValueError(f"Imputer: {fill.size} imputed values for {a.shape[-1]} features")
    hit = np.isnan(a) if a.dtype.kind == "f" and np.isnan(target) else a == target
    return xp.asarray(np.where(hit, fill, a))


@op("Normalizer", since=1, domain=ML_DOMAIN)
def normalizer(xp, x, *, norm="MAX"):
    a = x if type(x) is np.ndarray else np.asarray(x)
    if a.dtype == np.float32 and a.ndim == 2 and norm in ("L1", "MAX") and a.shape[0] == 1:
        # one float row (the per-call case)
        if norm == "L1" and a.shape[1] <= _SMALL_ROW:
            # a few values: Python floats (three NumPy calls cost 4 us, this 2); rounded to
            # float32 once, at the end
            row = a[0].tolist()
            div = math.fsum(abs(v) for v in row)
            if div != 0 and div != math.inf and div == div:
                return to_xp(xp, np.array([[v / div for v in row]], dtype=np.float32))
        # in float32, as onnxruntime computes it
        div = np.add.reduce(np.abs(a), axis=1) if norm == "L1" else np.maximum.reduce(a, axis=1)
        return to_xp(xp, a / div if div[0] != 0 else a.copy())
    m = (a if a.ndim == 2 else as_2d(a)).astype(np.float64)
    if norm == "MAX":
        div = np.maximum.reduce(m, axis=1, keepdims=True)
    elif norm == "L1":
        div = np.add.reduce(np.abs(m), axis=1, keepdims=True)
    elif norm == "L2":
        div = np.sqrt(np.add.reduce(np.square(m), axis=1, keepdims=True))
    else:
        raise ValueError(f"Normalizer: unknown norm {norm!r}")
    # a zero divisor leaves the row as it is
    if div.size == 1:
        if div[0, 0] == 0:
            div[0, 0] = 1.0
    else:
        div[div == 0] = 1.0
    m /= div
    return to_xp(xp, m.astype(np.float32).reshape(a.shape))


@op("Scaler", since=1, domain=ML_DOMAIN)
@per_node
def scaler(*, offset=None, scale=None):
    off = np.asarray(offset if offset else [0.0], dtype=np.float32)
    sc = np.asarray(scale if scale else [1.0], dtype=np.float32)

    def run(xp, x):
        a = x if type(x) is np.ndarray else np.asarray(x)
        out = np.subtract(a if a.dtype == np.float32 else a.astype(np.float32), off)
        if sc.size == 1 or out.shape[-1:] == sc.shape:
            out *= sc  # the product has the difference's shape
        else:
            out = out * sc
        return to_xp(xp, out)

    return run
