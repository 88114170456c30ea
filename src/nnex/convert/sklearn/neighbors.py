"""Nearest neighbours: brute force over the stored training set (TopK on distances)."""

from __future__ import annotations

import numpy as np

from ._context import Classified, Ctx, Data, Neighbors, Outliers, in_double, label_array, multi_target
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


# ------------------------------------------------------------------ radius neighbours


def _radius_mask(ctx: Ctx, est, x):
    """(N, M) float 1 where the training point lies within the radius (distance <= radius)."""
    if getattr(est, "_fit_method", "brute") == "precomputed" or est.metric == "precomputed":
        raise unsupported(est, "metric='precomputed'")
    fit_x = np.asarray(est._fit_X, dtype=np.float64)
    metric = getattr(est, "effective_metric_", est.metric)
    p = (getattr(est, "effective_metric_params_", None) or {}).get("p", getattr(est, "p", 2))
    squared = metric in ("euclidean", "l2") or (metric == "minkowski" and p == 2)
    d = distances(ctx, est, x, fit_x, squared_ok=True)
    # scikit-learn compares squared euclidean distances with the squared radius
    radius = float(est.radius) ** 2 if squared else float(est.radius)
    return ctx.op.Cast(ctx.op.LessOrEqual(d, ctx.scalar(radius)), to=ctx.elem)


def _exact_distances(ctx: Ctx, est, x):
    """(N, M) distances to every training point from the differences themselves (an
    (N, M, F) tensor), as the trees scikit-learn searches with compute them: a query equal
    to a training point gets exactly 0."""
    fit_x = np.asarray(est._fit_X, dtype=np.float64)
    return _norm(ctx, est, ctx.op.Sub(ctx.op.Unsqueeze(x, ctx.i64([1])), ctx.const(fit_x[None])))


def _within_radius(ctx: Ctx, est, x):
    """(mask (N, M) of the training points within the radius, their weights (N, M)).

    Uniform weights are the mask; distance weights 1 / distance, except in a row holding a
    zero distance, where only the exact matches weigh (1 each), as scikit-learn's _get_weights.
    """
    if callable(est.weights):
        raise unsupported(est, "callable weights")
    mask = _radius_mask(ctx, est, x)
    if est.weights == "uniform":
        return mask, mask
    within = ctx.op.Greater(mask, ctx.scalar(0.0))
    dist = _exact_distances(ctx, est, x)
    exact = ctx.op.And(within, ctx.op.Equal(dist, ctx.scalar(0.0)))
    any_exact = ctx.op.Greater(ctx.reduce("ReduceMax", ctx.op.Cast(exact, to=ctx.elem)), ctx.scalar(0.0))
    inv = ctx.op.Div(mask, ctx.op.Where(ctx.op.Greater(dist, ctx.scalar(0.0)), dist, ctx.scalar(1.0)))
    return mask, ctx.op.Where(any_exact, ctx.op.Cast(exact, to=ctx.elem), inv)


def _fast_class_mode(est) -> bool:
    """Whether predict_proba takes scikit-learn's RadiusNeighborsClassMode path, which places
    an outlier's probability at the *index* ``outlier_label`` rather than at that label."""
    from sklearn.metrics._pairwise_distances_reduction import RadiusNeighborsClassMode

    if est.weights != "uniform" or est._fit_method != "brute" or est.outputs_2d_:
        return False
    metric = "euclidean" if est.metric == "minkowski" and est.p == 2 else est.metric
    fit_x = np.ascontiguousarray(est._fit_X)
    return bool(RadiusNeighborsClassMode.is_usable_for(fit_x[:1], fit_x, metric))


@predictor("RadiusNeighborsClassifier")
@in_double
def _radius_classifier(ctx, est, x):
    x = ctx.float(x)
    mask, w = _within_radius(ctx, est, x.v)
    outlier = ctx.op.Equal(ctx.sum(mask), ctx.scalar(0.0))  # (N, 1): no neighbour within the radius
    y = np.asarray(est._y, np.int64).reshape(len(est._y), -1)
    all_classes = list(est.classes_) if est.outputs_2d_ else [np.asarray(est.classes_)]
    out_labels = est.outlier_label_
    fast = _fast_class_mode(est)
    results = []
    for k, classes in enumerate(all_classes):
        classes = np.asarray(classes)
        onehot = np.eye(len(classes))[y[:, k]]
        votes = ctx.op.MatMul(w, ctx.const(onehot))
        fill = np.zeros((1, len(classes)))
        if out_labels is not None:
            if fast:
                raw = est.outlier_label
                if isinstance(raw, (int, np.integer)) and 0 <= int(raw) < len(classes):
                    fill[0, int(raw)] = 1.0
            else:
                hit = np.flatnonzero(classes == out_labels[k])
                if hit.size == 1:
                    fill[0, hit[0]] = 1.0
        votes = ctx.op.Where(outlier, ctx.const(fill), votes)
        total = ctx.sum(votes)
        proba = ctx.op.Div(votes, ctx.op.Where(ctx.op.Equal(total, ctx.scalar(0.0)), ctx.scalar(1.0), total))
        label = ctx.argmax_labels(proba, classes)
        if out_labels is None:
            # scikit-learn raises for a row without neighbours: its probabilities are NaN
            # (its label the first class)
            proba = ctx.op.Where(outlier, ctx.scalar(np.nan), proba)
        else:
            # a row of zero probabilities gets the outlier label (it may be no class)
            lab = label_array(np.append(classes, out_labels[k]))[-1:]
            zero = ctx.flat(ctx.op.Equal(ctx.reduce("ReduceMax", ctx.op.Abs(proba)), ctx.scalar(0.0)))
            label = ctx.op.Where(zero, ctx.b.const(lab), label)
        results.append(Classified(label, proba, classes))
    return results[0] if len(results) == 1 else multi_target(ctx, est, results)


@predictor("RadiusNeighborsRegressor")
@in_double
def _radius_regressor(ctx, est, x):
    x = ctx.float(x)
    _, w = _within_radius(ctx, est, x.v)
    y = np.asarray(est._y, np.float64)
    y2 = y.reshape(len(y), -1)
    # no neighbour: 0 / 0, NaN as scikit-learn predicts
    out = ctx.op.Div(ctx.op.MatMul(w, ctx.const(y2)), ctx.sum(w))
    if y.ndim == 1:
        return Data(ctx.flat(out), ndim=1)
    return Data(out, width=y.shape[1])


# ------------------------------------------------------------------ neighbour graphs, local outlier factor


def _k_nearest(ctx: Ctx, est, x, k: int):
    """(distances (N, k) from the differences, indices (N, k)) of the k nearest training points."""
    if getattr(est, "_fit_method", "brute") == "precomputed" or est.metric == "precomputed":
        raise unsupported(est, "metric='precomputed'")
    fit_x = np.asarray(est._fit_X, dtype=np.float64)
    d = distances(ctx, est, x, fit_x, squared_ok=True)
    _, ind = ctx.op.TopK(d, ctx.i64([k]), axis=1, largest=0, sorted=1, _outputs=2)
    near = ctx.op.Gather(ctx.const(fit_x), ind, axis=0)
    return _norm(ctx, est, ctx.op.Sub(near, ctx.op.Unsqueeze(x, ctx.i64([1])))), ind


def _dense_graph(ctx: Ctx, n_fit: int, ind, values):
    """An (N, n_fit) matrix holding ``values`` at ``ind`` (N, k), zeros elsewhere."""
    shape = ctx.op.Concat(ctx.op.Shape(ind, start=0, end=1), ctx.i64([n_fit]), axis=0)
    zeros = ctx.op.Expand(ctx.const(np.zeros((1, 1))), shape)
    return ctx.op.ScatterElements(zeros, ind, values, axis=1)


@transformer("KNeighborsTransformer")
@in_double
def _kneighbors_transformer(ctx, est, x):
    x = ctx.float(x)
    n_fit = est.n_samples_fit_
    # transform asks for one more neighbour in distance mode (the point itself in training)
    k = int(est.n_neighbors) + (1 if est.mode == "distance" else 0)
    dist, ind = _k_nearest(ctx, est, x.v, k)
    values = dist if est.mode == "distance" else ctx.op.Add(ctx.op.Mul(dist, ctx.scalar(0.0)), ctx.scalar(1.0))
    return Data(_dense_graph(ctx, n_fit, ind, values), "float", n_fit)


@transformer("RadiusNeighborsTransformer")
@in_double
def _radius_neighbors_transformer(ctx, est, x):
    x = ctx.float(x)
    n_fit = est.n_samples_fit_
    mask = _radius_mask(ctx, est, x.v)
    if est.mode == "connectivity":
        return Data(mask, "float", n_fit)
    return Data(ctx.op.Mul(mask, _exact_distances(ctx, est, x.v)), "float", n_fit)


@predictor("LocalOutlierFactor")
@in_double
def _local_outlier_factor(ctx, est, x):
    if not est.novelty:
        raise unsupported(est, "novelty=False (no predict nor decision_function for new data)")
    x = ctx.float(x)
    k = int(est.n_neighbors_)
    dist, ind = _k_nearest(ctx, est, x.v, k)
    # reachability distance: max(distance, the neighbour's own k-distance)
    k_dist = ctx.op.Gather(ctx.const(np.asarray(est._distances_fit_X_, np.float64)[:, k - 1]), ind, axis=0)
    reach = ctx.op.Max(dist, k_dist)
    lrd = ctx.op.Div(ctx.scalar(1.0), ctx.op.Add(ctx.reduce("ReduceMean", reach), ctx.scalar(1e-10)))
    ratios = ctx.op.Div(ctx.op.Gather(ctx.const(np.asarray(est._lrd, np.float64)), ind, axis=0), lrd)
    score = ctx.op.Neg(ctx.reduce("ReduceMean", ratios, keepdims=0))
    decision = ctx.op.Sub(score, ctx.scalar(float(est.offset_)))
    label = ctx.op.Where(ctx.op.Less(decision, ctx.scalar(0.0)), ctx.i64(-1), ctx.i64(1))
    return Outliers(label, decision)


@predictor("NearestNeighbors")
@in_double
def _nearest_neighbors(ctx, est, x):
    """kneighbors(X): the n_neighbors nearest training points, nearest first."""
    x = ctx.float(x)
    dist, ind = _k_nearest(ctx, est, x.v, int(est.n_neighbors))
    return Neighbors(ind, dist)
