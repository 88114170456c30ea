"""XGBoost -> ONNX: ``nnex.convert(model, X_sample, **options)``.

Models: XGBClassifier, XGBRegressor, XGBRanker, XGBRFClassifier, XGBRFRegressor and a raw
``xgboost.Booster`` (gbtree, dart, gblinear). Feature names do not matter: features are
read by position (a DataFrame sample gives one input per column, named after it, and
category columns map to the codes XGBoost recorded in training). Trees become one
ai.onnx.ml TreeEnsemble (ml opset 5); see ``_model`` for how XGBoost's splits, missing
values and categorical splits are kept exact.

Outputs (docs/converters_gbm.md): classifiers ``label``, ``probabilities``; regressors and
rankers ``prediction``; ``raw_score=True`` gives the margin (``output_margin=True``).
Options: ``dtype``, ``zipmap``, ``name``, ``iteration_range`` (default: up to the best
iteration when there is one, as predict), ``missing`` (a Booster's missing value; the
scikit-learn wrappers carry theirs), ``raw_score``.
"""

from __future__ import annotations

import numpy as np
import onnx

from .. import ConversionError
from ..lightgbm._common import (
    COMMON_OPTIONS,
    Categories,
    binary_label,
    check_options,
    classifier_outputs,
    is_dataframe,
    matrix_input,
    new_ctx,
    no_zipmap_for_regressors,
    regressor_output,
    select_columns,
)
from ..sklearn._context import Ctx
from ..sklearn._forest import ensemble
from ._model import Booster, read_booster

_OPTIONS = COMMON_OPTIONS + ("iteration_range", "missing", "raw_score")

_LOGISTIC = {"binary:logistic", "reg:logistic"}
_LOG_LINK = {"count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft"}
_IDENTITY = {"reg:squarederror", "reg:squaredlogerror", "reg:pseudohubererror", "reg:absoluteerror",
             "reg:quantileerror", "reg:linear", "binary:logitraw", "rank:pairwise", "rank:ndcg", "rank:map"}


def convert(model, X_sample=None, **options) -> onnx.ModelProto:
    """Convert a fitted XGBoost model (scikit-learn wrapper or Booster) to ONNX."""
    check_options("XGBoost", options, _OPTIONS)
    import xgboost

    missing = options.get("missing", np.nan)
    iteration_range = options.get("iteration_range")
    if isinstance(model, xgboost.Booster):
        booster, wrapper = model, None
        if iteration_range is None and model.attr("best_iteration") is not None:
            iteration_range = (0, int(model.attr("best_iteration")) + 1)
    elif isinstance(model, xgboost.XGBModel):
        try:
            booster = model.get_booster()
        except (ValueError, AttributeError):  # XGBoost's NotFittedError is both
            raise ConversionError(f"{type(model).__name__} is not fitted") from None
        wrapper = model
        if "missing" not in options:
            missing = model.missing
        if iteration_range is None:
            iteration_range = model._get_iteration_range(None)
    else:
        raise ConversionError(f"nnex cannot convert {type(model).__qualname__} from xgboost")
    bst = read_booster(booster, tuple(iteration_range) if iteration_range is not None else None)
    dtype = options.get("dtype", np.float32)
    zipmap = bool(options.get("zipmap", False))
    ctx = new_ctx(dtype, options.get("name") or type(model).__name__)
    x = matrix_input(ctx, X_sample, bst.n_features, _categories(bst, X_sample), "XGBoost")
    margin = _margin(ctx, bst, x, missing)
    k = bst.n_outputs
    if options.get("raw_score", False):
        no_zipmap_for_regressors("XGBoost", zipmap)
        return regressor_output(ctx, margin, k)
    obj = bst.objective
    is_classifier = isinstance(wrapper, xgboost.XGBClassifier) or (
        wrapper is None and (obj.startswith("multi:") or obj in ("binary:logistic", "binary:hinge")))
    if is_classifier:
        classes = getattr(wrapper, "classes_", None)
        if classes is None:
            classes = np.arange(max(k, 2))
        if obj.startswith("multi:"):
            proba = ctx.softmax(margin)
            return classifier_outputs(ctx, ctx.argmax_labels(proba, classes), proba, classes, zipmap)
        if obj == "binary:hinge":
            p1 = ctx.op.Cast(ctx.op.Greater(margin, ctx.scalar(0.0)), to=ctx.elem)
        elif obj in _LOGISTIC:
            p1 = ctx.op.Sigmoid(margin)
        elif obj == "binary:logitraw":
            p1 = margin  # XGBoost's predict_proba gives the raw margin as "probability"
        else:
            raise ConversionError(f"XGBClassifier: the objective {obj!r} is not supported")
        if k != 1:
            raise ConversionError(f"XGBoost: a binary objective with {k} outputs is not supported")
        return classifier_outputs(ctx, binary_label(ctx, p1, classes), ctx.binary_columns(p1), classes, zipmap)
    no_zipmap_for_regressors("XGBoost", zipmap)
    return regressor_output(ctx, _transform(ctx, obj, margin), k)


def _categories(bst: Booster, sample) -> dict[str, Categories]:
    """Category columns of a DataFrame sample -> XGBoost's codes (unseen values: missing)."""
    if not is_dataframe(sample):
        return {}
    from pandas.api.types import CategoricalDtype

    out = {}
    for j, col in enumerate(sample.columns):
        if not isinstance(sample[col].dtype, CategoricalDtype):
            continue
        if j in bst.categories:
            values = bst.categories[j]
        else:  # a model without recorded categories: the sample's own (training) categories
            values = list(sample[col].cat.categories)
        out[col] = Categories([v.item() if hasattr(v, "item") else v for v in values])
    return out


def _margin(ctx: Ctx, bst: Booster, x, missing) -> object:
    """(N, n_outputs) margins: intercept plus the trees (or the linear model)."""
    if missing is not None and not (isinstance(missing, float) and np.isnan(missing)):
        x = ctx.op.Where(ctx.op.Equal(x, ctx.scalar(float(np.float32(missing)))), ctx.scalar(np.nan), x)
    base_margin = _base_margin(bst)
    if bst.linear is not None:
        # gblinear adds the first intercept to every output (gblinear.cc: base_score(0))
        base_margin = np.full(bst.n_outputs, base_margin[0])
    base = ctx.const(base_margin.reshape(1, -1))
    if bst.linear is not None:
        x0 = ctx.op.Where(ctx.op.IsNaN(x), ctx.scalar(0.0), x)  # gblinear skips missing entries
        w = bst.linear
        return ctx.op.Add(ctx.linear(x0, w[:-1], w[-1]), base)
    if bst.categorical:
        cols = sorted(bst.categorical)
        x = select_columns(ctx, ctx.op.Floor(x), x, cols, bst.n_features)
    if not bst.trees:
        return ctx.op.Add(ctx.op.Mul(ctx.op.Slice(x, ctx.i64([0]), ctx.i64([1]), ctx.i64([1])),
                                     ctx.const(np.zeros((1, bst.n_outputs)))), base)
    s = ensemble(ctx, x, bst.trees, bst.n_outputs, round_to_float32=True)
    return ctx.op.Add(s, base)


def _base_margin(bst: Booster) -> np.ndarray:
    """The intercept as a margin: base_score is stored in the objective's output space."""
    b = np.asarray(bst.base_score, dtype=np.float64)
    obj = bst.objective
    if obj in _LOGISTIC:
        return -np.log(1.0 / b - 1.0)
    if obj in _LOG_LINK:
        return np.log(b)
    return b


def _transform(ctx: Ctx, obj: str, margin):
    if obj in _LOGISTIC:
        return ctx.op.Sigmoid(margin)
    if obj in _LOG_LINK:
        return ctx.op.Exp(margin)
    if obj == "binary:hinge":
        return ctx.op.Cast(ctx.op.Greater(margin, ctx.scalar(0.0)), to=ctx.elem)
    if obj in _IDENTITY or obj.startswith("rank:"):
        return margin
    if obj.startswith("multi:"):
        return ctx.softmax(margin)
    raise ConversionError(f"XGBoost: the objective {obj!r} is not supported")


__all__ = ["convert"]
