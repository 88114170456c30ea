"""Multi-layer perceptrons."""

from __future__ import annotations

import numpy as np

from ._context import Classified, Ctx, Data
from ._registry import predictor, unsupported


def _activate(ctx: Ctx, est, v, name: str):
    if name == "identity":
        return v
    if name == "logistic":
        return ctx.op.Sigmoid(v)
    if name == "tanh":
        return ctx.op.Tanh(v)
    if name == "relu":
        return ctx.op.Relu(v)
    if name == "exp":
        return ctx.op.Exp(v)
    if name == "softmax":
        return ctx.softmax(v)
    raise unsupported(est, f"activation={name!r}")


def forward(ctx: Ctx, est, x):
    v = x.v
    layers = list(zip(est.coefs_, est.intercepts_))
    for i, (w, b) in enumerate(layers):
        v = ctx.linear(v, w, b)
        v = _activate(ctx, est, v, est.out_activation_ if i == len(layers) - 1 else est.activation)
    return v


@predictor("MLPClassifier")
def _mlp_classifier(ctx, est, x):
    x = ctx.float(x)
    classes = np.asarray(est.classes_)
    if est._label_binarizer.y_type_ == "multilabel-indicator":
        raise unsupported(est, "multilabel targets")
    out = forward(ctx, est, x)
    if len(classes) == 2:
        # one logistic output; LabelBinarizer's inverse thresholds it at 0.5
        return Classified(ctx.threshold_labels(out, classes, 0.5), ctx.binary_columns(out), classes)
    return Classified(ctx.argmax_labels(out, classes), out, classes)


@predictor("MLPRegressor")
def _mlp_regressor(ctx, est, x):
    x = ctx.float(x)
    out = forward(ctx, est, x)
    n_out = est.n_outputs_
    return Data(ctx.flat(out), ndim=1) if n_out == 1 else Data(out, width=n_out)
