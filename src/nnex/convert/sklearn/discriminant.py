"""Linear and quadratic discriminant analysis."""

from __future__ import annotations

import numpy as np

from ._context import Classified, Data
from ._registry import predictor, transformer, unsupported
from .linear import classify_scores, decision


@predictor("LinearDiscriminantAnalysis")
def _lda(ctx, est, x):
    x = ctx.float(x)
    return classify_scores(ctx, decision(ctx, x, est.coef_, est.intercept_), est.classes_, "softmax")


@transformer("LinearDiscriminantAnalysis")
def _lda_transform(ctx, est, x):
    x = ctx.float(x)
    n = est._max_components
    scalings = np.asarray(est.scalings_, np.float64)[:, :n]
    if est.solver == "svd":
        return Data(ctx.linear(x.v, scalings, -np.asarray(est.xbar_, np.float64) @ scalings), width=n)
    if est.solver == "eigen":
        return Data(ctx.linear(x.v, scalings), width=n)
    raise unsupported(est, f"transform with solver={est.solver!r}")


@predictor("QuadraticDiscriminantAnalysis")
def _qda(ctx, est, x):
    x = ctx.float(x)
    norms = []
    for mean, rot, scale in zip(est.means_, est.rotations_, est.scalings_):
        w = np.asarray(rot, np.float64) * (np.asarray(scale, np.float64) ** -0.5)
        x2 = ctx.linear(x.v, w, -np.asarray(mean, np.float64) @ w)
        norms.append(ctx.sum(ctx.op.Mul(x2, x2)))
    norm2 = norms[0] if len(norms) == 1 else ctx.op.Concat(*norms, axis=1)
    u = np.array([np.sum(np.log(s)) for s in est.scalings_])
    scores = ctx.op.Add(ctx.op.Mul(ctx.op.Add(norm2, ctx.const(u[None])), ctx.scalar(-0.5)),
                        ctx.const(np.log(est.priors_)[None]))
    classes = np.asarray(est.classes_)
    decision = ctx.op.Sub(ctx.col(scores, 1), ctx.col(scores, 0)) if len(classes) == 2 else scores
    return Classified(ctx.argmax_labels(scores, classes), ctx.softmax(scores), classes, decision=decision)
