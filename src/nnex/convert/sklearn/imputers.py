"""SimpleImputer, MissingIndicator, KNNImputer."""

from __future__ import annotations

import numpy as np

from ._context import BOOL, FLOAT, STR, Ctx, Data
from ._registry import transformer, unsupported


def _is_nan_marker(m) -> bool:
    return m is None or (isinstance(m, float) and np.isnan(m))


def missing_mask(ctx: Ctx, est, x: Data, marker):
    """(N, F) bool: where x equals the missing-value marker."""
    if x.kind == STR:
        if _is_nan_marker(marker):
            # a string tensor has no NaN/None: nothing is missing
            return ctx.op.Equal(x.v, ctx.b.const(np.array([["\x00nnex-never"]], dtype=object)))
        return ctx.op.Equal(x.v, ctx.b.const(np.array([[str(marker)]], dtype=object)))
    if _is_nan_marker(marker):
        return ctx.op.IsNaN(x.v)
    if isinstance(marker, str):
        raise unsupported(est, f"missing_values={marker!r} on numeric data")
    return ctx.op.Equal(x.v, ctx.scalar(float(marker)))


def _as_matrix(ctx: Ctx, x) -> Data:
    x = ctx.matrix(x)
    return x if x.kind in (STR, FLOAT) else ctx.float(x)


@transformer("SimpleImputer")
def _simple_imputer(ctx, est, x):
    x = _as_matrix(ctx, x)
    stats = np.asarray(est.statistics_)
    if stats.dtype == object and all(isinstance(s, (int, float, np.number)) for s in stats.tolist()):
        stats = stats.astype(np.float64)  # the constant strategy keeps numbers in an object array
    mask = missing_mask(ctx, est, x, est.missing_values)
    if stats.dtype.kind in "OUS" or x.kind == STR:
        if x.kind != STR:
            raise unsupported(est, "string statistics on numeric data")
        fill = ctx.b.const(np.asarray([str(s) for s in stats], dtype=object).reshape(1, -1))
        valid = np.array([s is not None and not (isinstance(s, float) and np.isnan(s)) for s in stats])
    else:
        stats = stats.astype(np.float64)
        valid = ~np.isnan(stats)
        fill = ctx.const(np.where(valid, stats, 0.0).reshape(1, -1))
    out = ctx.op.Where(mask, fill, x.v)
    width = len(stats)
    if not est.keep_empty_features and not valid.all():
        out = ctx.columns(out, np.flatnonzero(valid))
        width = int(valid.sum())
    result = Data(out, x.kind, width)
    if est.add_indicator and est.indicator_ is not None:
        ind = _indicator_columns(ctx, est.indicator_, mask)
        if x.kind == STR:
            raise unsupported(est, "add_indicator on string data (the output would mix strings and numbers)")
        result = Data(ctx.op.Concat(out, ctx.op.Cast(ind.v, to=ctx.elem), axis=1), FLOAT, width + ind.width)
    return result


def _indicator_columns(ctx: Ctx, est, mask) -> Data:
    features = np.asarray(est.features_)
    if est.features == "missing-only":
        mask = ctx.columns(mask, features)
    return Data(mask, BOOL, len(features) if est.features == "missing-only" else est._n_features)


@transformer("MissingIndicator")
def _missing_indicator(ctx, est, x):
    if est.sparse is True or (est.sparse == "auto" and getattr(est, "_sparse_input", False)):
        raise unsupported(est, "sparse output")
    x = _as_matrix(ctx, x)
    return _indicator_columns(ctx, est, missing_mask(ctx, est, x, est.missing_values))


@transformer("KNNImputer")
def _knn_imputer(ctx, est, x):
    if est.metric != "nan_euclidean":
        raise unsupported(est, f"metric={est.metric!r}")
    if callable(est.weights):
        raise unsupported(est, "callable weights")
    x = _as_matrix(ctx, x)
    if x.kind == STR:
        raise unsupported(est, "string data")
    o = ctx.op
    fit = np.asarray(est._fit_X, np.float64)
    fit_missing = np.asarray(est._mask_fit_X, bool)
    fit0 = np.where(fit_missing, 0.0, fit)
    n_fit, n_feat = fit.shape
    mask = missing_mask(ctx, est, x, est.missing_values)
    present = o.Cast(o.Not(mask), to=ctx.elem)
    x0 = o.Where(mask, ctx.scalar(0.0), x.v)
    # nan_euclidean distances: squared differences over the features both rows have,
    # scaled by n_features / (number of such features)
    fit_present = (~fit_missing).astype(np.float64)
    d2 = o.Sub(o.Add(o.MatMul(o.Mul(x0, x0), ctx.const(fit_present.T)),
                     o.MatMul(present, ctx.const((fit0 * fit0).T))),
               o.Mul(o.MatMul(x0, ctx.const(fit0.T)), ctx.scalar(2.0)))
    d2 = o.Max(d2, ctx.scalar(0.0))
    count = o.MatMul(present, ctx.const(fit_present.T))
    dist = o.Sqrt(o.Mul(o.Div(d2, o.Max(count, ctx.scalar(1.0))), ctx.scalar(float(n_feat))))
    finite = o.Greater(count, ctx.scalar(0.0))  # (N, M): rows share a feature
    # per column: donors are the training rows that have it
    donors = ctx.b.const(~fit_missing.T[None])  # (1, F, M)
    usable = o.And(o.Unsqueeze(finite, ctx.i64([1])), donors)  # (N, F, M)
    key = o.Where(usable, o.Unsqueeze(dist, ctx.i64([1])), ctx.scalar(np.inf))
    k = min(int(est.n_neighbors), n_fit)
    near, idx = o.TopK(key, ctx.i64([k]), axis=2, largest=0, sorted=1, _outputs=2)  # (N, F, k)
    ok = o.Less(near, ctx.scalar(np.inf))
    if est.weights == "distance":
        zero = o.Equal(near, ctx.scalar(0.0))
        any_zero = o.Greater(ctx.reduce("ReduceMax", o.Cast(zero, to=ctx.elem), axis=2), ctx.scalar(0.0))
        inv = o.Div(ctx.scalar(1.0), o.Where(o.Or(zero, o.Not(ok)), ctx.scalar(1.0), near))
        w = o.Where(any_zero, o.Cast(zero, to=ctx.elem), inv)
        w = o.Where(ok, w, ctx.scalar(0.0))
    else:
        w = o.Cast(ok, to=ctx.elem)
    flat = o.Add(idx, ctx.i64((np.arange(n_feat) * n_fit)[None, :, None]))
    vals = o.Gather(ctx.const(fit0.T.ravel()), flat, axis=0)  # donor values (N, F, k)
    wsum = ctx.reduce("ReduceSum", w, axis=2, keepdims=0)
    avg = o.Div(ctx.reduce("ReduceSum", o.Mul(w, vals), axis=2, keepdims=0),
                o.Where(o.Equal(wsum, ctx.scalar(0.0)), ctx.scalar(1.0), wsum))
    with np.errstate(invalid="ignore"):
        col_mean = np.nanmean(np.where(fit_missing, np.nan, fit), axis=0)
    valid = np.asarray(est._valid_mask, bool)
    # no donor shares a feature with the row: the column mean, as scikit-learn does
    filled = o.Where(o.Equal(wsum, ctx.scalar(0.0)), ctx.const(np.nan_to_num(col_mean)[None]), avg)
    out = o.Where(mask, filled, x.v)
    width = n_feat
    if est.keep_empty_features:
        out = o.Where(ctx.b.const(~valid[None]), ctx.scalar(0.0), out)
    elif not valid.all():
        out = ctx.columns(out, np.flatnonzero(valid))
        width = int(valid.sum())
    if est.add_indicator and est.indicator_ is not None:
        ind = _indicator_columns(ctx, est.indicator_, mask)
        return Data(o.Concat(out, o.Cast(ind.v, to=ctx.elem), axis=1), FLOAT, width + ind.width)
    return Data(out, FLOAT, width)
