"""Naive Bayes: joint log-likelihoods, probabilities by softmax, labels by argmax."""

from __future__ import annotations

import numpy as np

from ._context import Classified, Ctx
from ._registry import predictor, unsupported


def _from_jll(ctx: Ctx, jll, classes) -> Classified:
    return Classified(ctx.argmax_labels(jll, classes), ctx.softmax(jll), np.asarray(classes))


@predictor("GaussianNB")
def _gaussian(ctx, est, x):
    x = ctx.float(x)
    theta = np.asarray(est.theta_, np.float64)
    var = np.asarray(est.var_, np.float64)
    diff = ctx.op.Sub(ctx.op.Unsqueeze(x.v, ctx.i64([1])), ctx.const(theta[None]))  # (N, C, F)
    quad = ctx.reduce("ReduceSum", ctx.op.Div(ctx.op.Mul(diff, diff), ctx.const(var[None])), axis=2, keepdims=0)
    const = np.log(est.class_prior_) - 0.5 * np.log(2.0 * np.pi * var).sum(axis=1)
    jll = ctx.op.Add(ctx.op.Mul(quad, ctx.scalar(-0.5)), ctx.const(const[None]))
    return _from_jll(ctx, jll, est.classes_)


@predictor("MultinomialNB")
def _multinomial(ctx, est, x):
    x = ctx.float(x)
    jll = ctx.linear(x.v, np.asarray(est.feature_log_prob_).T, est.class_log_prior_)
    return _from_jll(ctx, jll, est.classes_)


@predictor("ComplementNB")
def _complement(ctx, est, x):
    x = ctx.float(x)
    flp = np.asarray(est.feature_log_prob_).T
    jll = ctx.linear(x.v, flp, est.class_log_prior_) if len(est.classes_) == 1 else ctx.linear(x.v, flp)
    return _from_jll(ctx, jll, est.classes_)


@predictor("BernoulliNB")
def _bernoulli(ctx, est, x):
    x = ctx.float(x)
    v = x.v
    if est.binarize is not None:
        v = ctx.op.Cast(ctx.op.Greater(v, ctx.scalar(est.binarize)), to=ctx.elem)
    flp = np.asarray(est.feature_log_prob_, np.float64)
    neg = np.log(1 - np.exp(flp))
    jll = ctx.linear(v, (flp - neg).T, est.class_log_prior_ + neg.sum(axis=1))
    return _from_jll(ctx, jll, est.classes_)


@predictor("CategoricalNB")
def _categorical(ctx, est, x):
    x = ctx.float(x)
    jll = None
    for i, flp in enumerate(est.feature_log_prob_):
        idx = ctx.op.Cast(ctx.flat(ctx.col(x.v, i)), to=7)  # int64 category codes
        term = ctx.op.Gather(ctx.const(np.asarray(flp, np.float64).T), idx, axis=0)  # (N, C)
        jll = term if jll is None else ctx.op.Add(jll, term)
    if jll is None:
        raise unsupported(est, "no features")
    jll = ctx.op.Add(jll, ctx.const(np.asarray(est.class_log_prior_, np.float64)[None]))
    return _from_jll(ctx, jll, est.classes_)
