"""CatBoost -> ONNX: ``nnex.convert(model, X_sample, **options)``.

Models: CatBoostClassifier, CatBoostRegressor, CatBoostRanker and CatBoost, with
numerical and categorical features (one-hot splits and CTRs, combinations of
categorical features included), read from CatBoost's JSON export and evaluated as
CatBoost does (``_model``, ``_graph``); CatBoost's own ONNX export is not used.

Inputs: an array sample gives one input ``X`` (numerical models only); a DataFrame sample
one (N, 1) input per column, named after it: float for numerical features, string for
categorical ones (the values as CatBoost reads them, e.g. "3" for an integer 3).
CatBoost keeps only hashes of the category values, so the ONNX model knows the values
present in the sample: pass the training data (or any frame holding every category
value) as the sample of a model with categorical features; a sample that visibly lacks
values the model saw is refused.

Outputs (docs/converters_gbm.md): classifiers ``label``, ``probabilities`` (Logloss,
CrossEntropy: sigmoid; MultiClass: softmax; MultiClassOneVsAll: one sigmoid per class;
multi-label MultiLogloss, MultiCrossEntropy: ``label`` (N, n_labels) 0/1 and the
probability of each label (N, n_labels));
regressors ``prediction`` (``exp`` for Poisson and Tweedie, as predict; RMSEWithUncertainty:
(N, 2) mean and variance); ``raw_score=True``
gives RawFormulaVal. Options: ``dtype``, ``zipmap``, ``name``, ``raw_score``.
"""

from __future__ import annotations

import numpy as np
import onnx

from .. import ConversionError
from ..lightgbm._common import (
    COMMON_OPTIONS,
    check_options,
    classifier_outputs,
    is_dataframe,
    new_ctx,
    no_zipmap_for_regressors,
    regressor_output,
)
from ..sklearn import _classifier_outputs
from ..sklearn._context import Classified, Ctx
from ._graph import cat_hash_input, raw_scores
from ._model import Model, check_coverage, read_cat_hashes, read_model

_OPTIONS = COMMON_OPTIONS + ("raw_score",)
_MULTILABEL = {"MultiLogloss", "MultiCrossEntropy"}
_CLASSIFICATION = {"Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll"} | _MULTILABEL
_EXP = {"Poisson", "Tweedie"}


def convert(model, X_sample=None, **options) -> onnx.ModelProto:
    """Convert a fitted CatBoost model to ONNX."""
    check_options("CatBoost", options, _OPTIONS)
    import catboost

    if not isinstance(model, catboost.CatBoost):
        raise ConversionError(f"nnex cannot convert {type(model).__qualname__} from catboost")
    if not model.is_fitted():
        raise ConversionError(f"{type(model).__name__} is not fitted")
    m = read_model(model)
    ctx = new_ctx(options.get("dtype", np.float32), options.get("name") or type(model).__name__)
    floats, cats = _inputs(ctx, model, m, X_sample)
    raw = raw_scores(ctx, m, floats, cats)
    zipmap = bool(options.get("zipmap", False))
    loss = m.loss
    if options.get("raw_score", False):
        no_zipmap_for_regressors("CatBoost", zipmap)
        return regressor_output(ctx, raw, m.dim)
    if isinstance(model, catboost.CatBoostClassifier) or loss in _CLASSIFICATION:
        return _classifier(ctx, model, m, raw, zipmap)
    no_zipmap_for_regressors("CatBoost", zipmap)
    if loss in _EXP:
        return regressor_output(ctx, ctx.op.Exp(raw), m.dim)
    if loss == "RMSEWithUncertainty":
        # predict gives [mean, variance]: the second raw value is log(sigma)
        if m.dim != 2:
            raise ConversionError(f"CatBoost: RMSEWithUncertainty with {m.dim} outputs (expected 2)")
        var = ctx.op.Exp(ctx.op.Mul(ctx.col(raw, 1), ctx.scalar(2.0)))
        return regressor_output(ctx, ctx.op.Concat(ctx.col(raw, 0), var, axis=1), 2)
    return regressor_output(ctx, raw, m.dim)


def _classifier(ctx: Ctx, model, m: Model, raw, zipmap: bool) -> onnx.ModelProto:
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) == 0:
        classes = np.arange(max(m.dim, 2))
    classes = np.asarray(classes)
    if m.loss in ("Logloss", "CrossEntropy"):
        if m.dim != 1:
            raise ConversionError(f"CatBoost: {m.loss} with {m.dim} outputs is not supported")
        p1 = ctx.op.Sigmoid(raw)
        threshold = 0.5
        if hasattr(model, "get_probability_threshold"):
            threshold = float(model.get_probability_threshold())
        label = ctx.threshold_labels(p1, classes, threshold)
        return classifier_outputs(ctx, label, ctx.binary_columns(p1), classes, zipmap)
    if m.loss in _MULTILABEL:
        # one sigmoid per label; predict gives 1 where it is above one half, i.e. the raw value above 0
        label = ctx.op.Cast(ctx.op.Greater(raw, ctx.scalar(0.0)), to=onnx.TensorProto.INT64)
        _classifier_outputs(ctx, Classified(label, ctx.op.Sigmoid(raw), np.array([0, 1]), multilabel=True), zipmap)
        return ctx.b.to_proto()
    if m.loss == "MultiClass":
        proba = ctx.softmax(raw)
    elif m.loss == "MultiClassOneVsAll":
        proba = ctx.op.Sigmoid(raw)
    else:
        raise ConversionError(f"CatBoost: the loss {m.loss!r} gives no class probabilities")
    return classifier_outputs(ctx, ctx.argmax_labels(raw, classes), proba, classes, zipmap)


def _inputs(ctx: Ctx, model, m: Model, sample):
    """(N, n_float) float32 features and one (N, 1) int64 hash per categorical feature."""
    float_flat = [int(f["flat_feature_index"]) for f in m.float_features]
    cat_flat = [int(c["flat_feature_index"]) for c in m.cat_features]
    if sample is None or not is_dataframe(sample):
        if cat_flat:
            raise ConversionError("CatBoost: a model with categorical features needs a pandas DataFrame sample "
                                  "holding every category value (the training data)")
        if sample is not None and np.asarray(sample).shape[1] != m.n_flat:
            raise ConversionError(f"CatBoost: the sample has {np.asarray(sample).shape[1]} features, the model "
                                  f"{m.n_flat}")
        x = ctx.b.input("X", ctx.elem, ["N", m.n_flat])
        x = ctx.op.Cast(x, to=onnx.TensorProto.FLOAT) if ctx.dtype != np.float32 else x
        if float_flat != list(range(m.n_flat)):
            x = ctx.op.Gather(x, ctx.i64(float_flat), axis=1)
        return x, []
    columns = list(sample.columns)
    if len(columns) != m.n_flat:
        raise ConversionError(f"CatBoost: the sample has {len(columns)} columns, the model {m.n_flat}")
    if not all(isinstance(c, str) for c in columns):
        raise ConversionError("CatBoost: DataFrame column names must be strings to name the inputs")
    if cat_flat:
        m.cat_hashes = read_cat_hashes(model, sample, [columns[j] for j in cat_flat],
                                       symmetric=not m.free_trees)
        check_coverage(m)
    values = {}
    for j, col in enumerate(columns):
        if j in cat_flat:
            values[j] = ctx.b.input(col, onnx.TensorProto.STRING, ["N", 1])
        else:
            v = ctx.b.input(col, ctx.elem, ["N", 1])
            values[j] = ctx.op.Cast(v, to=onnx.TensorProto.FLOAT) if ctx.dtype != np.float32 else v
    floats = None
    if float_flat:
        cols = [values[j] for j in float_flat]
        floats = cols[0] if len(cols) == 1 else ctx.op.Concat(*cols, axis=1)
    cats = [cat_hash_input(ctx, values[j], m.cat_hashes[i]) for i, j in enumerate(cat_flat)]
    return floats, cats


__all__ = ["convert"]
