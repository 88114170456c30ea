"""Trees and tree ensembles: decision trees, forests, gradient boosting (classic and
histogram-based, categorical splits and missing values included), AdaBoost, IsolationForest."""

from __future__ import annotations

import numpy as np
import onnx

from ._context import Classified, Ctx, Data, Outliers, multi_target
from ._forest import Tree, ensemble, from_sklearn
from ._registry import name_of, predict, predictor, transform, transformer, unsupported


def _output_classes(est) -> list:
    """The classes of each output (one array for a single-output model)."""
    return list(est.classes_) if est.n_outputs_ > 1 else [np.asarray(est.classes_)]


def _all_class_values(tree_, classes: list) -> np.ndarray:
    """(n_nodes, sum of n_classes): each output's class distribution side by side."""
    value = np.asarray(tree_.value)
    return np.concatenate([value[:, k, :len(c)] for k, c in enumerate(classes)], axis=1)


def _regression_values(tree_) -> np.ndarray:
    return np.asarray(tree_.value)[:, :, 0]


def _regression_data(ctx: Ctx, v, n_outputs: int) -> Data:
    return Data(ctx.flat(v), ndim=1) if n_outputs == 1 else Data(v, width=n_outputs)


def _classified(ctx: Ctx, est, proba, classes: list) -> Classified:
    """Labels from (N, sum of n_classes) probabilities: each output's argmax."""
    if len(classes) == 1:
        return Classified(ctx.argmax_labels(proba, classes[0]), proba, classes[0])
    results, start = [], 0
    for c in classes:
        p = ctx.op.Slice(proba, ctx.i64([start]), ctx.i64([start + len(c)]), ctx.i64([1]))
        results.append(Classified(ctx.argmax_labels(p, c), p, c))
        start += len(c)
    return multi_target(ctx, est, results)


@predictor("DecisionTreeClassifier", "ExtraTreeClassifier")
def _tree_classifier(ctx, est, x):
    x = ctx.float(x)
    classes = _output_classes(est)
    values = _all_class_values(est.tree_, classes)
    p = ensemble(ctx, x.v, [from_sklearn(est.tree_, values)], values.shape[1], round_to_float32=True)
    return _classified(ctx, est, p, classes)


@predictor("DecisionTreeRegressor", "ExtraTreeRegressor")
def _tree_regressor(ctx, est, x):
    x = ctx.float(x)
    v = ensemble(ctx, x.v, [from_sklearn(est.tree_, _regression_values(est.tree_))], est.n_outputs_,
                 round_to_float32=True)
    return _regression_data(ctx, v, est.n_outputs_)


@predictor("RandomForestClassifier", "ExtraTreesClassifier")
def _forest_classifier(ctx, est, x):
    x = ctx.float(x)
    classes = _output_classes(est)
    trees = [from_sklearn(e.tree_, _all_class_values(e.tree_, classes)) for e in est.estimators_]
    s = ensemble(ctx, x.v, trees, sum(len(c) for c in classes), round_to_float32=True)
    return _classified(ctx, est, ctx.op.Div(s, ctx.scalar(len(trees))), classes)


@predictor("RandomForestRegressor", "ExtraTreesRegressor")
def _forest_regressor(ctx, est, x):
    x = ctx.float(x)
    trees = [from_sklearn(e.tree_, _regression_values(e.tree_)) for e in est.estimators_]
    s = ensemble(ctx, x.v, trees, est.n_outputs_, round_to_float32=True)
    return _regression_data(ctx, ctx.op.Div(s, ctx.scalar(len(trees))), est.n_outputs_)



# ------------------------------------------------------------------ gradient boosting


def _constant_init(est, n_features: int) -> np.ndarray:
    """The init estimator's raw prediction, a constant row (1, K) for the supported inits."""
    init = est.init_
    if not (isinstance(init, str) and init == "zero") and name_of(init) not in ("DummyClassifier", "DummyRegressor"):
        raise unsupported(est, f"an init estimator of type {name_of(init)}")
    if name_of(init) == "DummyRegressor" and init.strategy == "constant" and np.ndim(init.constant_) > 1:
        raise unsupported(est, "a multi-output init")
    return np.asarray(est._raw_predict_init(np.zeros((1, n_features), dtype=np.float32)), np.float64)


def _gb_raw(ctx: Ctx, est, x: Data):
    x = ctx.float(x)
    stages = est.estimators_
    k = stages.shape[1]
    lr = float(est.learning_rate)
    trees = []
    for stage in stages:
        for j, e in enumerate(stage):
            t = from_sklearn(e.tree_, lr * _regression_values(e.tree_))
            t.first_target = j
            trees.append(t)
    s = ensemble(ctx, x.v, trees, k, round_to_float32=True)
    return ctx.op.Add(s, ctx.const(_constant_init(est, est.n_features_in_).reshape(1, k)))


@predictor("GradientBoostingClassifier")
def _gb_classifier(ctx, est, x):
    raw = _gb_raw(ctx, est, x)
    classes = est.classes_
    if len(classes) == 2:
        idx = ctx.op.Cast(ctx.op.GreaterOrEqual(ctx.flat(raw), ctx.scalar(0.0)), to=onnx.TensorProto.INT64)
        p = ctx.binary_columns(ctx.inverse_link(est._loss.link, raw))
        return Classified(ctx.labels_from_index(idx, classes), p, classes, decision=raw)
    return Classified(ctx.argmax_labels(raw, classes), ctx.inverse_link(est._loss.link, raw), classes, decision=raw)


@predictor("GradientBoostingRegressor")
def _gb_regressor(ctx, est, x):
    return Data(ctx.flat(_gb_raw(ctx, est, x)), ndim=1)


# ------------------------------------------------------------------ histogram gradient boosting


def _bits(bitset: np.ndarray) -> set:
    """The values whose bit is set in a scikit-learn bitset (uint32 words, 32 values each)."""
    words = np.asarray(bitset, dtype=np.uint32)
    return {w * 32 + b for w in range(len(words)) for b in range(32) if (int(words[w]) >> b) & 1}


def _hgb_tree(predictor_, known, f_idx_map, first_target) -> Tree:
    nodes = predictor_.nodes
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, -1, nodes["left"].astype(np.int64))
    right = np.where(leaf, -1, nodes["right"].astype(np.int64))
    t = Tree(left, right, nodes["feature_idx"].astype(np.int64), nodes["num_threshold"].astype(np.float64),
             nodes["value"].astype(np.float64).reshape(-1, 1), nodes["missing_go_to_left"].astype(bool),
             first_target=first_target)
    for i in np.flatnonzero(nodes["is_categorical"].astype(bool) & ~leaf):
        goes_left = _bits(predictor_.raw_left_cat_bitsets[nodes["bitset_idx"][i]])
        known_values = _bits(known[f_idx_map[nodes["feature_idx"][i]]])
        missing_left = bool(nodes["missing_go_to_left"][i])
        # unknown categories (and negative values) go where missing values go: test
        # membership of the set on the other side
        if missing_left:
            t.left_sets[int(i)] = (sorted(known_values - goes_left), False, False)
        else:
            t.left_sets[int(i)] = (sorted(goes_left), True, False)
    return t


def _hgb_raw(ctx: Ctx, est, x):
    if est._preprocessor is not None:
        x = transform(ctx, est._preprocessor, x)
    x = ctx.float(x)
    known, f_idx_map = est._bin_mapper.make_known_categories_bitsets()
    k = est.n_trees_per_iteration_
    trees = [_hgb_tree(p, known, f_idx_map, j) for it in est._predictors for j, p in enumerate(it)]
    s = ensemble(ctx, x.v, trees, k, round_to_float32=False)
    return ctx.op.Add(s, ctx.const(np.asarray(est._baseline_prediction, np.float64).reshape(1, k)))


@predictor("HistGradientBoostingClassifier")
def _hgb_classifier(ctx, est, x):
    raw = _hgb_raw(ctx, est, x)
    classes = est.classes_
    if est.n_trees_per_iteration_ == 1:
        label = ctx.threshold_labels(raw, classes)  # "> 0", as scikit-learn
        p = ctx.binary_columns(ctx.inverse_link(est._loss.link, raw))
        return Classified(label, p, classes, decision=raw)
    return Classified(ctx.argmax_labels(raw, classes), ctx.inverse_link(est._loss.link, raw), classes, decision=raw)


@predictor("HistGradientBoostingRegressor")
def _hgb_regressor(ctx, est, x):
    raw = _hgb_raw(ctx, est, x)
    return Data(ctx.flat(ctx.inverse_link(est._loss.link, raw)), ndim=1)


# ------------------------------------------------------------------ isolation forest


@predictor("IsolationForest")
def _isolation_forest(ctx, est, x):
    from sklearn.ensemble._iforest import _average_path_length

    x = ctx.float(x)
    trees = []
    for i, (e, feats) in enumerate(zip(est.estimators_, est.estimators_features_)):
        depth = est._decision_path_lengths[i] + est._average_path_length_per_tree[i] - 1.0
        trees.append(from_sklearn(e.tree_, depth.reshape(-1, 1), feature_map=feats))
    depths = ensemble(ctx, x.v, trees, 1, round_to_float32=True)
    denominator = len(est.estimators_) * float(_average_path_length([est._max_samples])[0])
    if denominator == 0:
        score = ctx.op.Mul(depths, ctx.scalar(0.0))
        score = ctx.op.Sub(score, ctx.scalar(1.0))
    else:
        score = ctx.op.Neg(ctx.op.Pow(ctx.scalar(2.0), ctx.op.Div(ctx.op.Neg(depths), ctx.scalar(denominator))))
    decision = ctx.flat(ctx.op.Sub(score, ctx.scalar(est.offset_)))
    inlier = ctx.op.GreaterOrEqual(decision, ctx.scalar(0.0))
    label = ctx.op.Where(inlier, ctx.i64(1), ctx.i64(-1))
    return Outliers(label, decision)


# ------------------------------------------------------------------ AdaBoost


def _is_plain_tree(e) -> bool:
    return name_of(e) in ("DecisionTreeClassifier", "ExtraTreeClassifier") and e.n_outputs_ == 1


@predictor("AdaBoostClassifier")
def _adaboost_classifier(ctx, est, x):
    classes = np.asarray(est.classes_)
    k = len(classes)
    weights = np.asarray(est.estimator_weights_, np.float64)[: len(est.estimators_)]
    if k == 1:
        raise unsupported(est, "a single class")
    if all(_is_plain_tree(e) and np.array_equal(e.classes_, classes) for e in est.estimators_):
        xf = ctx.float(x)
        trees = []
        for e, w in zip(est.estimators_, weights):
            votes = np.asarray(e.tree_.value)[:, 0, :k]
            onehot = np.eye(k)[np.argmax(votes, axis=1)]
            trees.append(from_sklearn(e.tree_, np.where(onehot > 0, w, -1 / (k - 1) * w)))
        pred = ensemble(ctx, xf.v, trees, k, round_to_float32=True)
    else:
        pred = None
        cls = ctx.consts_like(classes.reshape(1, -1))
        for e, w in zip(est.estimators_, weights):
            res = predict(ctx, e, x)
            hit = ctx.op.Equal(ctx.as_column(res.label), cls)
            term = ctx.op.Where(hit, ctx.scalar(w), ctx.scalar(-1 / (k - 1) * w))
            pred = term if pred is None else ctx.op.Add(pred, term)
    pred = ctx.op.Div(pred, ctx.scalar(weights.sum()))
    if k == 2:
        d = ctx.op.Sub(ctx.col(pred, 1), ctx.col(pred, 0))
        half = ctx.op.Div(d, ctx.scalar(2.0))
        proba = ctx.softmax(ctx.signed_columns(half))
        return Classified(ctx.threshold_labels(d, classes), proba, classes, decision=d)
    proba = ctx.softmax(ctx.op.Div(pred, ctx.scalar(k - 1)))
    return Classified(ctx.argmax_labels(pred, classes), proba, classes, decision=pred)


@predictor("AdaBoostRegressor")
def _adaboost_regressor(ctx, est, x):
    n = len(est.estimators_)
    weights = np.asarray(est.estimator_weights_, np.float64)[:n]
    if all(name_of(e) in ("DecisionTreeRegressor", "ExtraTreeRegressor") and e.n_outputs_ == 1
           for e in est.estimators_):
        xf = ctx.float(x)
        trees = []
        for j, e in enumerate(est.estimators_):
            t = from_sklearn(e.tree_, _regression_values(e.tree_))
            t.first_target = j
            trees.append(t)
        preds = ensemble(ctx, xf.v, trees, n, round_to_float32=True)
    else:
        preds = ctx.op.Concat(*[ctx.matrix(predict(ctx, e, x)).v for e in est.estimators_], axis=1)
    # weighted median: the first sorted prediction whose weight CDF reaches half the total
    values, order = ctx.op.TopK(preds, ctx.i64([n]), axis=1, largest=0, sorted=1, _outputs=2)
    w = ctx.op.Gather(ctx.b.const(weights), order, axis=0)
    cdf = ctx.op.CumSum(w, ctx.i64(1))
    total = ctx.op.Slice(cdf, ctx.i64([n - 1]), ctx.i64([n]), ctx.i64([1]))
    reached = ctx.op.GreaterOrEqual(cdf, ctx.op.Mul(total, ctx.b.const(np.float64(0.5))))
    at = ctx.op.ArgMax(ctx.op.Cast(reached, to=onnx.TensorProto.INT32), axis=1, keepdims=1)
    return Data(ctx.flat(ctx.op.GatherElements(values, at, axis=1)), ndim=1)


# ------------------------------------------------------------------ random trees embedding


@transformer("RandomTreesEmbedding")
def _random_trees_embedding(ctx, est, x):
    """The one-hot encoding of the leaf each tree sends a sample to."""
    xf = ctx.float(x)
    trees = []
    for j, e in enumerate(est.estimators_):
        t = from_sklearn(e.tree_, np.arange(e.tree_.node_count, dtype=np.float64).reshape(-1, 1))
        t.first_target = j
        trees.append(t)
    leaves = ensemble(ctx, xf.v, trees, len(trees), round_to_float32=True)  # (N, n_trees) leaf ids
    return transform(ctx, est.one_hot_encoder_, Data(leaves, width=len(trees)))
