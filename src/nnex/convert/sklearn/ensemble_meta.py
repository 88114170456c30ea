"""Meta-estimators: one-vs-rest / one-vs-one, voting, stacking, bagging, calibration,
multi-output wrappers and chains. Each converts its fitted sub-estimators and combines
their outputs the way the meta-estimator's predict / predict_proba combine them."""

from __future__ import annotations

import numpy as np
import onnx

from ._context import FLOAT, Classified, Ctx, Data, label_array, multi_target
from ._registry import name_of, predict, predictor, transform, transformer, unsupported
from .compose import select_columns


def response(ctx: Ctx, est, res: Classified, methods=("decision_function", "predict_proba")):
    """sklearn.utils._response._get_response_values: the first available method's output,
    2-D; for two classes the positive class's column (N, 1)."""
    binary = len(res.classes) == 2
    for m in methods:
        if m == "decision_function" and res.decision is not None:
            return res.decision
        if m == "predict_proba" and res.is_proba:
            return ctx.col(res.scores, 1) if binary else res.scores
        if m == "predict":
            return ctx.as_column(ctx.cast(res.label, ctx.dtype))
    raise unsupported(est, f"sub-estimator {name_of(est)} without {' or '.join(methods)}")


def _binary_score(ctx, est, res):
    """sklearn.multiclass._predict_binary: decision_function, else predict_proba[:, 1] (N, 1)."""
    return response(ctx, est, res, ("decision_function", "predict_proba"))


def _hcat(ctx: Ctx, vs):
    return vs[0] if len(vs) == 1 else ctx.op.Concat(*vs, axis=1)


def _label_const(classes):
    return label_array(np.asarray(classes))


def _onehot(ctx: Ctx, label, classes):
    hit = ctx.op.Equal(ctx.as_column(label), ctx.b.const(_label_const(classes).reshape(1, -1)))
    return ctx.op.Cast(hit, to=ctx.elem)


# ------------------------------------------------------------------ one-vs-rest, one-vs-one


@predictor("OneVsRestClassifier")
def _one_vs_rest(ctx, est, x):
    classes = np.asarray(est.classes_)
    res = [predict(ctx, e, x) for e in est.estimators_]
    if est.multilabel_:
        return _one_vs_rest_multilabel(ctx, est, res)
    has_decision = all(r.decision is not None for r in res)
    has_proba = all(r.is_proba for r in res)
    scores = _hcat(ctx, [_binary_score(ctx, e, r) for e, r in zip(est.estimators_, res)])
    if len(classes) == 2:
        thresh = 0.0 if has_decision else 0.5
        label = ctx.threshold_labels(scores, classes, thresh)
    else:
        label = ctx.argmax_labels(scores, classes)
    if has_proba:
        y = _hcat(ctx, [ctx.col(r.scores, 1) for r in res])
        if len(res) == 1:
            proba = ctx.binary_columns(y)
        else:
            s = ctx.sum(y)
            proba = ctx.op.Div(y, ctx.op.Where(ctx.op.Equal(s, ctx.scalar(0.0)), ctx.scalar(1.0), s))
        return Classified(label, proba, classes, decision=scores if has_decision else None)
    if not has_decision:
        raise unsupported(est, "sub-estimators with neither predict_proba nor decision_function")
    out = ctx.signed_columns(scores) if len(res) == 1 else scores
    return Classified(label, out, classes, is_proba=False, decision=scores)


def _one_vs_rest_multilabel(ctx, est, res):
    """Multilabel one-vs-rest: label j is on where estimator j's score passes the threshold
    scikit-learn takes from the first estimator (0 for a decision function, else 0.5)."""
    from sklearn.base import is_classifier

    first = est.estimators_[0]
    thresh = 0.0 if hasattr(first, "decision_function") and is_classifier(first) else 0.5
    scores = _hcat(ctx, [_binary_score(ctx, e, r) for e, r in zip(est.estimators_, res)])
    label = ctx.op.Cast(ctx.op.Greater(scores, ctx.scalar(thresh)), to=onnx.TensorProto.INT64)
    if all(r.is_proba for r in res):
        return Classified(label, _hcat(ctx, [ctx.col(r.scores, 1) for r in res]), np.array([0, 1]),
                          multilabel=True)
    return Classified(label, scores, np.array([0, 1]), is_proba=False, multilabel=True)


@predictor("_ConstantPredictor")
def _constant_predictor(ctx, est, x):
    """One-vs-rest's stand-in for a label seen alone in training: decision_function and
    predict give that label (0 or 1), predict_proba [1 - y, y]."""
    y = float(np.asarray(est.y_).ravel()[0])
    rows = ctx.op.Shape(ctx.matrix(x).v, start=0, end=1)
    decision = ctx.op.Expand(ctx.const([[y]]), ctx.op.Concat(rows, ctx.i64([1]), axis=0))
    label = ctx.op.Expand(ctx.i64([int(y)]), rows)
    return Classified(label, ctx.binary_columns(decision), np.array([0, 1]), decision=decision)


def ovr_votes(ctx: Ctx, pred01, conf, k: int):
    """sklearn.utils.multiclass._ovr_decision_function for (N, n_pairs) predictions in {0, 1}."""
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    to_i, to_j, sign = np.zeros((len(pairs), k)), np.zeros((len(pairs), k)), np.zeros((len(pairs), k))
    for p, (i, j) in enumerate(pairs):
        to_i[p, i] = to_j[p, j] = 1.0
        sign[p, i], sign[p, j] = -1.0, 1.0
    is_j = pred01
    is_i = ctx.op.Sub(ctx.scalar(1.0), pred01)
    votes = ctx.op.Add(ctx.op.MatMul(is_i, ctx.const(to_i)), ctx.op.MatMul(is_j, ctx.const(to_j)))
    s = ctx.op.MatMul(conf, ctx.const(sign))
    t = ctx.op.Div(s, ctx.op.Mul(ctx.op.Add(ctx.op.Abs(s), ctx.scalar(1.0)), ctx.scalar(3.0)))
    return ctx.op.Add(votes, t)


@predictor("OneVsOneClassifier")
def _one_vs_one(ctx, est, x):
    if est.pairwise_indices_ is not None:
        raise unsupported(est, "a pairwise (precomputed) base estimator")
    classes = np.asarray(est.classes_)
    k = len(classes)
    res = [predict(ctx, e, x) for e in est.estimators_]
    preds = _hcat(ctx, [ctx.as_column(ctx.cast(r.label, ctx.dtype)) for r in res])
    conf = _hcat(ctx, [_binary_score(ctx, e, r) for e, r in zip(est.estimators_, res)])
    y = ovr_votes(ctx, preds, conf, k)
    if k == 2:
        d = ctx.col(y, 1)
        thresh = 0.0 if all(r.decision is not None for r in res) else 0.5
        return Classified(ctx.threshold_labels(d, classes, thresh), ctx.signed_columns(d), classes,
                          is_proba=False, decision=d)
    return Classified(ctx.argmax_labels(y, classes), y, classes, is_proba=False, decision=y)


# ------------------------------------------------------------------ voting


def _weights(est, n):
    w = est._weights_not_none
    return np.ones(n) if w is None else np.asarray(w, np.float64)


@predictor("VotingClassifier")
def _voting_classifier(ctx, est, x):
    classes = np.asarray(est.classes_)
    w = _weights(est, len(est.estimators_))
    res = [predict(ctx, e, x) for e in est.estimators_]
    if est.voting == "soft":
        acc = None
        for r, wi in zip(res, w):
            if not r.is_proba:
                raise unsupported(est, "soft voting over a classifier without predict_proba")
            term = ctx.op.Mul(r.scores, ctx.scalar(wi))
            acc = term if acc is None else ctx.op.Add(acc, term)
        avg = ctx.op.Div(acc, ctx.scalar(w.sum()))
        return Classified(ctx.argmax_labels(avg, classes), avg, classes)
    # hard voting: sub-estimators predict encoded labels 0..k-1; the output scores are the
    # weighted vote counts (the model has no predict_proba)
    acc = None
    enc = np.arange(len(classes))
    for r, wi in zip(res, w):
        term = ctx.op.Mul(_onehot(ctx, r.label, enc), ctx.scalar(wi))
        acc = term if acc is None else ctx.op.Add(acc, term)
    return Classified(ctx.argmax_labels(acc, classes), acc, classes, is_proba=False)


@predictor("VotingRegressor")
def _voting_regressor(ctx, est, x):
    w = _weights(est, len(est.estimators_))
    acc = None
    for e, wi in zip(est.estimators_, w):
        r = predict(ctx, e, x)
        term = ctx.op.Mul(r.v, ctx.scalar(wi))
        acc = term if acc is None else ctx.op.Add(acc, term)
    return Data(ctx.op.Div(acc, ctx.scalar(w.sum())), ndim=1)


# ------------------------------------------------------------------ stacking


def _stack_features(ctx: Ctx, est, x, classifier: bool) -> Data:
    feats = []
    for e, method in zip(est.estimators_, est.stack_method_):
        if isinstance(e, str) and e == "drop":
            continue
        r = predict(ctx, e, x)
        if not classifier or not isinstance(r, Classified):
            feats.append(ctx.matrix(r).v)
            continue
        if method == "predict_proba":
            if not r.is_proba:
                raise unsupported(est, f"{name_of(e)} has no predict_proba")
            feats.append(ctx.col(r.scores, 1) if len(est.classes_) == 2 else r.scores)
        elif method == "decision_function":
            if r.decision is None:
                raise unsupported(est, f"{name_of(e)} has no decision_function")
            feats.append(r.decision)
        else:
            feats.append(ctx.as_column(ctx.cast(r.label, ctx.dtype)))
    if est.passthrough:
        feats.append(ctx.float(ctx.matrix(x)).v)
    return Data(_hcat(ctx, feats), FLOAT, None)


@predictor("StackingClassifier")
def _stacking_classifier(ctx, est, x):
    if isinstance(est._label_encoder, list):
        raise unsupported(est, "multilabel targets")
    classes = np.asarray(est.classes_)
    r = predict(ctx, est.final_estimator_, _stack_features(ctx, est, x, True))
    # the final estimator predicts encoded labels; map them back
    enc = np.asarray(est.final_estimator_.classes_)
    label = ctx.op.Gather(ctx.b.const(_label_const(classes)), ctx.cast(r.label, np.int64), axis=0)
    if not np.array_equal(enc, np.arange(len(classes))):
        raise unsupported(est, "a final estimator that did not see every class")
    return Classified(label, r.scores, classes, is_proba=r.is_proba, decision=r.decision)


@predictor("StackingRegressor")
def _stacking_regressor(ctx, est, x):
    return predict(ctx, est.final_estimator_, _stack_features(ctx, est, x, False))


@transformer("StackingClassifier")
def _stacking_classifier_transform(ctx, est, x):
    return _stack_features(ctx, est, x, True)


@transformer("StackingRegressor")
def _stacking_regressor_transform(ctx, est, x):
    return _stack_features(ctx, est, x, False)


# ------------------------------------------------------------------ bagging


def _subset(ctx: Ctx, x, features, n_in):
    features = np.asarray(features)
    if len(features) == n_in and np.array_equal(features, np.arange(n_in)):
        return x
    return select_columns(ctx, x, features, False)


@predictor("BaggingClassifier")
def _bagging_classifier(ctx, est, x):
    classes = np.asarray(est.classes_)
    k = len(classes)
    n_in = est.n_features_in_
    acc = None
    for e, feats in zip(est.estimators_, est.estimators_features_):
        r = predict(ctx, e, _subset(ctx, x, feats, n_in))
        if r.is_proba:
            sub = np.asarray(e.classes_, np.int64)
            p = r.scores
            if len(sub) != k:
                place = np.zeros((len(sub), k))
                place[np.arange(len(sub)), sub] = 1.0
                p = ctx.op.MatMul(p, ctx.const(place))
        else:
            p = _onehot(ctx, r.label, np.arange(k))
        acc = p if acc is None else ctx.op.Add(acc, p)
    proba = ctx.op.Div(acc, ctx.scalar(len(est.estimators_)))
    return Classified(ctx.argmax_labels(proba, classes), proba, classes)


@predictor("BaggingRegressor")
def _bagging_regressor(ctx, est, x):
    n_in = est.n_features_in_
    acc = None
    for e, feats in zip(est.estimators_, est.estimators_features_):
        r = predict(ctx, e, _subset(ctx, x, feats, n_in))
        acc = r.v if acc is None else ctx.op.Add(acc, r.v)
    return Data(ctx.op.Div(acc, ctx.scalar(len(est.estimators_))), ndim=1)


# ------------------------------------------------------------------ calibration


def _calibrator(ctx: Ctx, owner, cal, t):
    kind = name_of(cal)
    if kind == "_SigmoidCalibration":
        return ctx.op.Sigmoid(ctx.op.Neg(ctx.op.Add(ctx.op.Mul(t, ctx.scalar(cal.a_)), ctx.scalar(cal.b_))))
    if kind == "IsotonicRegression":
        return ctx.as_column(predict(ctx, cal, Data(t, FLOAT, 1)).v)
    raise unsupported(owner, f"a calibrator of type {kind}")


@predictor("CalibratedClassifierCV")
def _calibrated(ctx, est, x):
    classes = np.asarray(est.classes_)
    k = len(classes)
    acc = None
    for cc in est.calibrated_classifiers_:
        if cc.method not in ("sigmoid", "isotonic"):
            raise unsupported(est, f"method={cc.method!r}")
        r = predict(ctx, cc.estimator, x)
        preds = response(ctx, est, r)
        pos = np.searchsorted(classes, np.asarray(cc.estimator.classes_)) if classes.dtype.kind != "O" else \
            np.array([list(classes).index(c) for c in cc.estimator.classes_])
        cols = {}
        for j, (class_idx, cal) in enumerate(zip(pos, cc.calibrators)):
            if k == 2:
                class_idx += 1
            cols[int(class_idx)] = _calibrator(ctx, est, cal, ctx.col(preds, j))
        if k == 2:
            p1 = cols[1]
            proba = ctx.binary_columns(p1)
        else:
            zero = ctx.op.Mul(ctx.col(preds, 0), ctx.scalar(0.0))
            proba = _hcat(ctx, [cols.get(c, zero) for c in range(k)])
            s = ctx.sum(proba)
            nz = ctx.op.Equal(s, ctx.scalar(0.0))
            proba = ctx.op.Where(nz, ctx.scalar(1.0 / k), ctx.op.Div(proba, ctx.op.Where(nz, ctx.scalar(1.0), s)))
        acc = proba if acc is None else ctx.op.Add(acc, proba)
    mean = ctx.op.Div(acc, ctx.scalar(len(est.calibrated_classifiers_)))
    return Classified(ctx.argmax_labels(mean, classes), mean, classes)


@predictor("FrozenEstimator")
def _frozen(ctx, est, x):
    return predict(ctx, est.estimator, x)


@transformer("FrozenEstimator")
def _frozen_transform(ctx, est, x):
    return transform(ctx, est.estimator, x)


# ------------------------------------------------------------------ multi-output


@predictor("MultiOutputRegressor")
def _multi_output_regressor(ctx, est, x):
    outs = [ctx.matrix(predict(ctx, e, x)).v for e in est.estimators_]
    return Data(_hcat(ctx, outs), FLOAT, len(outs))


@predictor("RegressorChain")
def _regressor_chain(ctx, est, x):
    xf = ctx.float(ctx.matrix(x))
    chain = []
    for e in est.estimators_:
        aug = xf if not chain else Data(ctx.op.Concat(xf.v, *chain, axis=1), FLOAT, None)
        chain.append(ctx.matrix(predict(ctx, e, aug)).v)
    inv = np.empty_like(est.order_)
    inv[est.order_] = np.arange(len(est.order_))
    return Data(_hcat(ctx, [chain[i] for i in inv]), FLOAT, len(chain))


@predictor("ClassifierChain")
def _classifier_chain(ctx, est, x):
    xf = ctx.float(ctx.matrix(x))
    method = getattr(est, "chain_method_", "predict")
    feats, labels, probas = [], [], []
    for e in est.estimators_:
        aug = xf if not feats else Data(ctx.op.Concat(xf.v, *feats, axis=1), FLOAT, None)
        r = predict(ctx, e, aug)
        feats.append(response(ctx, e, r, (method,)))
        labels.append(ctx.as_column(ctx.cast(r.label, np.int64)))
        probas.append(response(ctx, e, r, ("predict_proba", "decision_function")))
    inv = np.empty_like(est.order_)
    inv[est.order_] = np.arange(len(est.order_))
    label = _hcat(ctx, [labels[i] for i in inv])
    scores = _hcat(ctx, [probas[i] for i in inv])
    return Classified(label, scores, np.array([0, 1]), multilabel=True)


@predictor("MultiOutputClassifier")
def _multi_output_classifier(ctx, est, x):
    return multi_target(ctx, est, [predict(ctx, e, x) for e in est.estimators_])


# ------------------------------------------------------------------ decision thresholds


@predictor("FixedThresholdClassifier", "TunedThresholdClassifierCV")
def _threshold_classifier(ctx, est, x):
    """The positive class where the sub-estimator's score for it reaches the threshold;
    probabilities and decision scores are the sub-estimator's."""
    inner = getattr(est, "estimator_", est.estimator)
    classes = np.asarray(est.classes_)
    r = predict(ctx, inner, x)
    methods = ["predict_proba", "decision_function"] if est.response_method == "auto" else [est.response_method]
    method = next((m for m in methods if hasattr(inner, m)), None)
    if method is None:
        raise unsupported(est, f"a sub-estimator without {' or '.join(methods)}")
    if name_of(est) == "TunedThresholdClassifierCV":
        pos_label, threshold = est._curve_scorer._get_pos_label(), float(est.best_threshold_)
    else:
        pos_label = est.pos_label
        threshold = est.threshold if est.threshold != "auto" else (0.5 if method == "predict_proba" else 0.0)
    pos = len(classes) - 1 if pos_label is None else int(np.flatnonzero(classes == pos_label)[0])
    if method == "predict_proba":
        if not r.is_proba:
            raise unsupported(est, f"{name_of(inner)} without predict_proba")
        score = ctx.col(r.scores, pos)
    else:
        if r.decision is None:
            raise unsupported(est, f"{name_of(inner)} without decision_function")
        score = r.decision if pos == 1 else ctx.op.Neg(r.decision)
    # _threshold_scores_to_class_labels: [negative, positive][score >= threshold]
    neg = 0 if pos_label is None else int(np.flatnonzero(classes != pos_label)[0])
    order = np.array([neg, 1 if pos_label is None else pos])
    hit = ctx.op.GreaterOrEqual(ctx.flat(score), ctx.scalar(float(threshold)))
    hit = ctx.op.Cast(hit, to=onnx.TensorProto.INT64)
    label = ctx.labels_from_index(ctx.op.Gather(ctx.i64(order), hit, axis=0), classes)
    return Classified(label, r.scores, classes, is_proba=r.is_proba, decision=r.decision)
