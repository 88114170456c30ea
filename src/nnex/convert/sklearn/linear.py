"""Linear models: one Gemm, then the model's link (sigmoid, softmax, exp, ...)."""

from __future__ import annotations

import numpy as np

from ...ir.value import Value
from ._context import Classified, Ctx, Data, Outliers
from ._registry import predict, predictor, unsupported


def decision(ctx: Ctx, x: Data, coef, intercept) -> Value:
    """X @ coef.T + intercept as (N, n_out)."""
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    return ctx.linear(x.v, coef.T, np.broadcast_to(np.asarray(intercept, np.float64).ravel(), (coef.shape[0],)))


def classify_scores(ctx: Ctx, scores, classes, proba_kind: str | None) -> Classified:
    """Labels and per-class outputs from linear decision scores (N, 1 or n_classes).

    proba_kind: "softmax", "ovr" (sigmoid, rows normalized), "modified_huber", or None
    (the model has no predict_proba: its decision scores are returned).
    """
    classes = np.asarray(classes)
    binary = len(classes) == 2
    label = ctx.threshold_labels(scores, classes) if binary else ctx.argmax_labels(scores, classes)
    if proba_kind is None:
        out = ctx.signed_columns(scores) if binary else scores
        return Classified(label, out, classes, is_proba=False, decision=scores)
    if proba_kind == "softmax" and not binary:
        return Classified(label, ctx.softmax(scores), classes, decision=scores)
    if proba_kind in ("softmax", "ovr"):
        p = ctx.op.Sigmoid(scores)
        proba = ctx.binary_columns(p) if binary else _normalize_or_uniform(ctx, p)
        return Classified(label, proba, classes, decision=scores)
    if proba_kind == "modified_huber":
        p = ctx.op.Div(ctx.op.Add(ctx.op.Clip(scores, ctx.scalar(-1.0), ctx.scalar(1.0)), ctx.scalar(1.0)),
                       ctx.scalar(2.0))
        proba = ctx.binary_columns(p) if binary else _normalize_or_uniform(ctx, p)
        return Classified(label, proba, classes, decision=scores)
    raise ValueError(proba_kind)


def _normalize_or_uniform(ctx: Ctx, p):
    """Rows divided by their sum; an all-zero row becomes uniform (as scikit-learn does)."""
    s = ctx.sum(p)
    zero = ctx.op.Equal(s, ctx.scalar(0.0))
    p = ctx.op.Where(zero, ctx.scalar(1.0), p)
    return ctx.op.Div(p, ctx.sum(p))


@predictor("LogisticRegression", "LogisticRegressionCV")
def _logistic(ctx, est, x):
    x = ctx.float(x)
    s = decision(ctx, x, est.coef_, est.intercept_)
    return classify_scores(ctx, s, est.classes_, "softmax")


@predictor("SGDClassifier")
def _sgd_classifier(ctx, est, x):
    x = ctx.float(x)
    s = decision(ctx, x, est.coef_, est.intercept_)
    kind = {"log_loss": "ovr", "modified_huber": "modified_huber"}.get(est.loss)
    return classify_scores(ctx, s, est.classes_, kind)


@predictor("Perceptron", "PassiveAggressiveClassifier", "RidgeClassifier", "RidgeClassifierCV", "LinearSVC")
def _decision_only(ctx, est, x):
    x = ctx.float(x)
    if np.asarray(est.classes_).ndim != 1:
        raise unsupported(est, "multilabel targets")
    s = decision(ctx, x, est.coef_, est.intercept_)
    return classify_scores(ctx, s, est.classes_, None)


def regression(ctx: Ctx, x: Data, coef, intercept) -> Data:
    """X @ coef.T + intercept shaped as scikit-learn's predict returns it."""
    coef = np.asarray(coef, dtype=np.float64)
    s = decision(ctx, x, coef, intercept)
    if coef.ndim == 1:
        return Data(ctx.flat(s), width=None, ndim=1)
    return Data(s, width=coef.shape[0])


@predictor(
    "LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV", "Lars", "LarsCV",
    "LassoLars", "LassoLarsCV", "LassoLarsIC", "OrthogonalMatchingPursuit", "OrthogonalMatchingPursuitCV",
    "MultiTaskLasso", "MultiTaskLassoCV", "MultiTaskElasticNet", "MultiTaskElasticNetCV", "BayesianRidge",
    "ARDRegression", "HuberRegressor", "QuantileRegressor", "TheilSenRegressor", "SGDRegressor",
    "PassiveAggressiveRegressor", "LinearSVR",
)
def _linear_regressor(ctx, est, x):
    x = ctx.float(x)
    coef = np.asarray(est.coef_, dtype=np.float64)
    intercept = np.asarray(est.intercept_, dtype=np.float64)
    if coef.ndim == 1:
        # SGDRegressor and LinearSVR keep a (1,) intercept but predict a 1-D result
        return regression(ctx, x, coef.ravel(), intercept.ravel()[:1])
    return regression(ctx, x, coef, intercept)


@predictor("PoissonRegressor", "GammaRegressor", "TweedieRegressor")
def _glm(ctx, est, x):
    x = ctx.float(x)
    r = regression(ctx, x, est.coef_, est.intercept_)
    link = type(est._base_loss.link).__name__
    if link == "IdentityLink":
        return r
    if link == "LogLink":
        return Data(ctx.op.Exp(r.v), width=r.width, ndim=r.ndim)
    raise unsupported(est, f"the link function {link}")


@predictor("RANSACRegressor")
def _ransac(ctx, est, x):
    return predict(ctx, est.estimator_, x)


@predictor("SGDOneClassSVM")
def _sgd_one_class_svm(ctx, est, x):
    x = ctx.float(x)
    d = ctx.flat(decision(ctx, x, np.asarray(est.coef_, np.float64).reshape(1, -1),
                          -np.asarray(est.offset_, np.float64).ravel()[:1]))
    # predict: 1 where the decision is >= 0, else -1
    label = ctx.op.Where(ctx.op.GreaterOrEqual(d, ctx.scalar(0.0)), ctx.i64(1), ctx.i64(-1))
    return Outliers(label, d)
