"""Nearest neighbours: brute force over the stored training set (TopK on distances)."""

from __future__ import annotations

import numpy as np

from ._context import Classified, Ctx, Data
from ._kernels import manhattan_distances, minkowski_distances, squared_distances
from ._registry import predictor, transformer, unsupported


def distances(ctx: Ctx, est, x, y: np.ndarray, *, squared_ok: bool = False):
    """Distances from each row of x to each row of y under the estimator's metric.

    With ``squared_ok`` a euclidean metric may return squared distances (same order).
    """
    metric = getattr(est, "effective_metric_", getattr(est, "metric", "euclidean"))
    params = dict(getattr(est, "effective_metric_params_", None) or getattr(est, "metric_params", None) or {})
    p = params.pop("p", getattr(est, "p", 2) if metric == "minkowski" else None)
    if params.pop("w", None) is not None or params:
        raise unsupported(est, f"metric parameters {sorted(params) or ['w']}")
    if callable(metric):
        raise unsupported(est, "a callable metric")
    if metric == "minkowski":
        metric = {1: "manhattan", 2: "euclidean"}.get(p, metric)
    if metric in ("euclidean", "l2", "sqeuclidean"):
        d2 = squared_distances(ctx, x, y)
        return d2 if squared_ok or metric == "sqeuclidean" else ctx.op.Sqrt(d2)
    if metric in ("manhattan", "cityblock", "l1"):
        return manhattan_distances(ctx, x, y)
    if metric in ("chebyshev", "infinity"):
        return minkowski_distances(ctx, x, y, np.inf)
    if metric == "minkowski":
        return minkowski_distances(ctx, x, y, float(p))
    raise unsupported(est, f"metric={metric!r}")


def _neighbors(ctx: Ctx, est, x):
    """(distances (N, k) or None, indices (N, k)) of the k nearest training points."""
    if getattr(est, "_fit_method", "brute") == "precomputed" or est.metric == "precomputed":
        raise unsupported(est, "metric='precomputed'")
    fit_x = np.asarray(est._fit_X, dtype=np.float64)
    k = int(est.n_neighbors)
    need_dist = est.weights != "uniform"
    if callable(est.weights):
        raise unsupported(est, "callable weights")
    d = distances(ctx, est, x, fit_x, squared_ok=True)
    _, ind = ctx.op.TopK(d, ctx.i64([k]), axis=1, largest=0, sorted=1, _outputs=2)
    if not need_dist:
        return None, ind
    # the k distances again, from the differences themselves: a query equal to a training
    # point must get exactly 0 (its weight depends on it), which ||x||^2 - 2xy + ||y||^2 misses
    near = ctx.op.Gather(ctx.const(fit_x), ind, axis=0)  # (N, k, F)
    diff = ctx.op.Sub(near, ctx.op.Unsqueeze(x, ctx.i64([1])))
    return _norm(ctx, est, diff), ind


def _norm(ctx: Ctx, est, diff):
    """Row norms over the last axis of differences, under the estimator's metric."""
    metric = getattr(est, "effective_metric_", est.metric)
    p = (getattr(est, "effective_metric_params_", None) or {}).get("p", getattr(est, "p", 2))
    if metric == "minkowski":
        metric = {1: "manhattan", 2: "euclidean"}.get(p, metric)
    if metric in ("euclidean", "l2"):
        return ctx.op.Sqrt(ctx.reduce("ReduceSum", ctx.op.Mul(diff, diff), axis=2, keepdims=0))
    if metric == "sqeuclidean":
        return ctx.reduce("ReduceSum", ctx.op.Mul(diff, diff), axis=2, keepdims=0)
    a = ctx.op.Abs(diff)
    if metric in ("manhattan", "cityblock", "l1"):
        return ctx.reduce("ReduceSum", a, axis=2, keepdims=0)
    if metric in ("chebyshev", "infinity"):
        return ctx.reduce("ReduceMax", a, axis=2, keepdims=0)
    s = ctx.reduce("ReduceSum", ctx.op.Pow(a, ctx.scalar(float(p))), axis=2, keepdims=0)
    return ctx.op.Pow(s, ctx.scalar(1.0 / float(p)))


def _weights(ctx: Ctx, dist):
    """1 / distance; a row with a zero distance weighs its exact matches 1, the rest 0."""
    exact = ctx.op.Equal(dist, ctx.scalar(0.0))
    any_exact = ctx.reduce("ReduceMax", ctx.op.Cast(exact, to=ctx.elem))
    inv = ctx.op.Div(ctx.scalar(1.0), ctx.op.Where(exact, ctx.scalar(1.0), dist))
    return ctx.op.Where(ctx.op.Greater(any_exact, ctx.scalar(0.0)), ctx.op.Cast(exact, to=ctx.elem), inv)


@predictor("KNeighborsClassifier")
def _knn_classifier(ctx, est, x):
    x = ctx.float(x)
    if np.asarray(est._y).ndim != 1:
        raise unsupported(est, "multi-output targets")
    classes = np.asarray(est.classes_)
    dist, ind = _neighbors(ctx, est, x.v)
    labels = ctx.op.Gather(ctx.i64(np.asarray(est._y, np.int64)), ind, axis=0)  # (N, k) class indices
    hits = ctx.op.Cast(ctx.op.Equal(ctx.op.Unsqueeze(labels, ctx.i64([2])),
                                    ctx.i64(np.arange(len(classes)).reshape(1, 1, -1))), to=ctx.elem)
    if dist is not None:
        hits = ctx.op.Mul(hits, ctx.op.Unsqueeze(_weights(ctx, dist), ctx.i64([2])))
    votes = ctx.reduce("ReduceSum", hits, axis=1, keepdims=0)
    total = ctx.sum(votes)
    proba = ctx.op.Div(votes, ctx.op.Where(ctx.op.Equal(total, ctx.scalar(0.0)), ctx.scalar(1.0), total))
    return Classified(ctx.argmax_labels(proba, classes), proba, classes)


@predictor("KNeighborsRegressor")
def _knn_regressor(ctx, est, x):
    x = ctx.float(x)
    y = np.asarray(est._y, np.float64)
    y2 = y.reshape(len(y), -1)
    dist, ind = _neighbors(ctx, est, x.v)
    vals = ctx.op.Gather(ctx.const(y2), ind, axis=0)  # (N, k, T)
    if dist is None:
        out = ctx.reduce("ReduceMean", vals, axis=1, keepdims=0)
    else:
        w = _weights(ctx, dist)
        num = ctx.reduce("ReduceSum", ctx.op.Mul(vals, ctx.op.Unsqueeze(w, ctx.i64([2]))), axis=1, keepdims=0)
        out = ctx.op.Div(num, ctx.sum(w))
    if y.ndim == 1:
        return Data(ctx.flat(out), ndim=1)
    return Data(out, width=y.shape[1])


@predictor("NearestCentroid")
def _nearest_centroid(ctx, est, x):
    x = ctx.float(x)
    classes = np.asarray(est.classes_)
    centroids = np.asarray(est.centroids_, np.float64)
    prior = np.asarray(getattr(est, "class_prior_", np.full(len(classes), 1 / len(classes))), np.float64)
    uniform = np.isclose(prior, 1 / len(classes)).all()
    if est.metric == "euclidean" and hasattr(est, "within_class_std_dev_"):
        sd = np.asarray(est.within_class_std_dev_, np.float64)
        mask = sd != 0
        scale = np.where(mask, sd, 1.0)
        xn = ctx.op.Div(x.v, ctx.const(scale))
        scores = ctx.op.Add(ctx.op.Neg(squared_distances(ctx, xn, centroids / scale)),
                            ctx.const(2.0 * np.log(prior)))
        if uniform:
            label = ctx.argmax_labels(ctx.op.Neg(squared_distances(ctx, x.v, centroids)), classes)
        else:
            label = ctx.argmax_labels(scores, classes)
        decision = ctx.op.Sub(ctx.col(scores, 1), ctx.col(scores, 0)) if len(classes) == 2 else scores
        return Classified(label, ctx.softmax(scores), classes, decision=decision)
    if not uniform:
        raise unsupported(est, f"metric={est.metric!r} with non-uniform priors")
    neg = ctx.op.Neg(distances(ctx, est, x.v, centroids, squared_ok=True))
    # no predict_proba for this metric: the scores are the negated distances
    return Classified(ctx.argmax_labels(neg, classes), neg, classes, is_proba=False)


# ------------------------------------------------------------------ clustering


@predictor("KMeans", "MiniBatchKMeans")
def _kmeans_predict(ctx, est, x):
    x = ctx.float(x)
    d = squared_distances(ctx, x.v, est.cluster_centers_)
    return Data(ctx.op.ArgMin(d, axis=1, keepdims=0), "int", None, ndim=1)


@transformer("KMeans", "MiniBatchKMeans")
def _kmeans_transform(ctx, est, x):
    x = ctx.float(x)
    centers = np.asarray(est.cluster_centers_)
    return Data(ctx.op.Sqrt(squared_distances(ctx, x.v, centers)), "float", len(centers))
