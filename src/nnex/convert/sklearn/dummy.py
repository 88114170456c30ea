"""Dummy estimators and isotonic regression."""

from __future__ import annotations

import warnings

import numpy as np

from ._context import Classified, Data
from ._registry import predictor, transformer, unsupported
from .preprocessing import interp


def _rows(ctx, x, row: np.ndarray):
    """A constant row repeated for every sample of x."""
    x = ctx.matrix(x)
    n = ctx.op.Shape(x.v, start=0, end=1)
    row = np.asarray(row).reshape(1, -1)
    return ctx.op.Expand(ctx.consts_like(row) if row.dtype.kind not in "f" else ctx.const(row),
                         ctx.op.Concat(n, ctx.i64([row.shape[1]]), axis=0))


@predictor("DummyClassifier")
def _dummy_classifier(ctx, est, x):
    if est.strategy not in ("prior", "most_frequent", "constant"):
        raise unsupported(est, f"strategy={est.strategy!r} (random predictions)")
    if est.n_outputs_ != 1:
        raise unsupported(est, "multi-output targets")
    sample = np.zeros((1, est.n_features_in_ if hasattr(est, "n_features_in_") else 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = np.asarray(est.predict_proba(sample), np.float64)[0]
        label = est.predict(sample)[0]
    classes = np.asarray(est.classes_)
    idx = int(np.flatnonzero(classes == label)[0])
    lab = ctx.flat(_rows(ctx, x, np.array([idx], dtype=np.int64)))
    return Classified(ctx.labels_from_index(lab, classes), _rows(ctx, x, proba), classes)


@predictor("DummyRegressor")
def _dummy_regressor(ctx, est, x):
    const = np.asarray(est.constant_, np.float64).reshape(-1)
    out = _rows(ctx, x, const)
    return Data(ctx.flat(out), ndim=1) if est.n_outputs_ == 1 else Data(out, width=len(const))


def _isotonic(ctx, est, x) -> Data:
    x = ctx.matrix(ctx.float(x))
    out_ctx, ctx = ctx, ctx.with_dtype(np.float64)  # interpolation between close thresholds needs double
    v = out_ctx.to_dtype(x.v, np.float64)
    lo, hi = float(est.X_min_), float(est.X_max_)
    if est.out_of_bounds == "clip":
        v = ctx.op.Clip(v, ctx.scalar(lo), ctx.scalar(hi))
    xs = np.asarray(est.X_thresholds_, np.float64)[:, None]
    ys = np.asarray(est.y_thresholds_, np.float64)[:, None]
    res = interp(ctx, v, xs, ys)
    if est.out_of_bounds != "clip":
        # "nan" gives NaN outside the fitted range ("raise" cannot raise in ONNX: NaN too)
        out = ctx.op.Or(ctx.op.Less(v, ctx.scalar(lo)), ctx.op.Greater(v, ctx.scalar(hi)))
        res = ctx.op.Where(out, ctx.scalar(np.nan), res)
    return Data(ctx.flat(ctx.to_dtype(res, out_ctx.dtype)), ndim=1)


@predictor("IsotonicRegression")
def _isotonic_predict(ctx, est, x):
    return _isotonic(ctx, est, x)


@transformer("IsotonicRegression")
def _isotonic_transform(ctx, est, x):
    return _isotonic(ctx, est, x)
