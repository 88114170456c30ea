"""LightGBM -> ONNX: ``nnex.convert(model, X_sample, **options)``.

Models: LGBMClassifier, LGBMRegressor, LGBMRanker and a raw ``lightgbm.Booster`` (binary
and multiclass objectives give classifier outputs with classes 0..k-1, the others a
prediction). Trees become one ai.onnx.ml TreeEnsemble (ml opset 5): numerical splits
with LightGBM's missing-value rules (None, Zero, NaN; ``default_left``), categorical
splits as set membership, linear trees exactly (see ``_model`` and ``_graph``).

Outputs (docs/converters_gbm.md): classifiers ``label`` (N,) and ``probabilities``
(N, n_classes); regressors and rankers ``prediction`` (N,) (``raw_score=True``: the raw
scores, (N,) or (N, n_classes), as ``predict(raw_score=True)``).

Options: ``dtype`` (numpy.float32 default, numpy.float64), ``zipmap``, ``name``,
``num_iteration`` (default: the best iteration when there is one, else all, as
predict), ``start_iteration``, ``raw_score``.
"""

from __future__ import annotations

import numpy as np
import onnx

from .. import ConversionError
from ._common import (
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
)
from ._graph import CLASSIFICATION, raw_scores, transform
from ._model import read_booster

_OPTIONS = COMMON_OPTIONS + ("num_iteration", "start_iteration", "raw_score")


def convert(model, X_sample=None, **options) -> onnx.ModelProto:
    """Convert a fitted LightGBM model (scikit-learn wrapper or Booster) to ONNX."""
    check_options("LightGBM", options, _OPTIONS)
    import lightgbm

    if isinstance(model, lightgbm.Booster):
        booster, classes, wrapper = model, None, None
    elif isinstance(model, lightgbm.LGBMModel):
        try:
            booster = model.booster_
        except (ValueError, AttributeError):  # LightGBM's NotFittedError is both
            raise ConversionError(f"{type(model).__name__} is not fitted") from None
        wrapper = model
        classes = getattr(model, "classes_", None) if isinstance(model, lightgbm.LGBMClassifier) else None
    else:
        raise ConversionError(f"nnex cannot convert {type(model).__qualname__} from lightgbm")
    dtype = options.get("dtype", np.float32)
    zipmap = bool(options.get("zipmap", False))
    num_iteration = options.get("num_iteration")
    start = int(options.get("start_iteration", 0))
    bst = read_booster(booster, num_iteration, start)
    ctx = new_ctx(dtype, options.get("name") or type(model).__name__)
    x = matrix_input(ctx, X_sample, bst.n_features, _categories(bst, X_sample), "LightGBM")
    raw = raw_scores(ctx, bst, x)
    k = bst.n_targets
    if options.get("raw_score", False):
        no_zipmap_for_regressors("LightGBM", zipmap)
        return regressor_output(ctx, raw, k)
    classify = classes is not None or (wrapper is None and bst.objective in CLASSIFICATION)
    if wrapper is not None and isinstance(wrapper, lightgbm.LGBMClassifier) and bst.objective not in CLASSIFICATION:
        raise ConversionError(f"LGBMClassifier: the objective {bst.objective!r} gives no probabilities nnex can "
                              f"reproduce (use raw_score=True)")
    out = transform(ctx, bst, raw)
    if not classify:
        no_zipmap_for_regressors("LightGBM", zipmap)
        return regressor_output(ctx, out, k)
    if classes is None:
        classes = np.arange(max(k, 2))
    if k == 1:
        proba = ctx.binary_columns(out)
        return classifier_outputs(ctx, binary_label(ctx, out, classes), proba, classes, zipmap)
    return classifier_outputs(ctx, ctx.argmax_labels(out, classes), out, classes, zipmap)


def _categories(bst, sample) -> dict[str, Categories]:
    """Category columns of a DataFrame sample -> the codes LightGBM gave them in training
    (``pandas_categorical``, in the order of the category columns); unseen values are NaN."""
    if not is_dataframe(sample):
        return {}
    from pandas.api.types import CategoricalDtype

    cat_cols = [c for c in sample.columns if isinstance(sample[c].dtype, CategoricalDtype)]
    known = bst.pandas_categorical or []
    if len(cat_cols) != len(known):
        raise ConversionError(f"LightGBM: the sample has {len(cat_cols)} category column(s), the model was trained "
                              f"with {len(known)}")
    return {c: Categories([v.item() if hasattr(v, "item") else v for v in values])
            for c, values in zip(cat_cols, known)}


__all__ = ["convert"]
