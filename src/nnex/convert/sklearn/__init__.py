"""scikit-learn -> ONNX: ``nnex.convert(model, X_sample, **options)``.

Outputs (the contract, see docs/converters.md):

* classifiers: ``label`` (N,) and ``probabilities`` (N, n_classes), the latter
  decision_function scores where the model has no predict_proba (binary: [-s, s]);
  ``zipmap=True`` turns probabilities into a list of {class: probability} maps;
  multilabel (every target 0/1): ``label`` (N, k) and the probability of label 1 (N, k);
  other multi-output: ``label`` (N, k) and each target's probabilities side by side;
* regressors: ``prediction``, (N,) or (N, n_targets) as the model's predict returns;
* outlier detectors: ``label`` (N,) in {-1, 1} and ``scores`` (N,), decision_function;
* clusterers with predict: ``label`` (N,) (and ``output`` when they transform);
  mixtures (GaussianMixture): ``label`` (N,) and ``probabilities`` (N, n_components);
* NearestNeighbors: ``indices`` (N, n_neighbors) and ``distances``, as kneighbors(X);
* transformers: ``output``.

Inputs: one tensor ``X`` for an array sample (float, or string for string data); for a
pandas DataFrame one (N, 1) input per column, named after it; for a list of dicts (a
DictVectorizer) one map ``X`` a run (see ``dicts``).
Options: ``dtype`` (numpy.float32 default, or numpy.float64), ``zipmap``, ``name``,
``method="transform"`` (convert transform of a model that also predicts, e.g. LDA).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from .. import ConversionError

# importing the converter modules registers them
from . import (  # noqa: F401  (registration)
    compose,
    decomposition,
    dicts,
    discriminant,
    dummy,
    encoders,
    ensemble_meta,
    feature_selection,
    gaussian_process,
    imputers,
    kernels,
    lda,
    linear,
    mixture,
    mlp,
    naive_bayes,
    neighbors,
    nmf,
    preprocessing,
    svm,
    text,
    trees,
)
from ._context import BOOL, FLOAT, INT, STR, Classified, Ctx, Data, Neighbors, Outliers, Table, label_array
from ._registry import has_predictor, has_transformer, predict, transform

_OPTIONS = {"dtype", "zipmap", "name", "method"}


def convert(model, X_sample=None, *, dtype=np.float32, zipmap: bool = False, name: str | None = None,
            method: str | None = None, **options) -> onnx.ModelProto:
    """Convert a fitted scikit-learn estimator (or Pipeline, ...) to an ``onnx.ModelProto``."""
    unknown = set(options) - _EXTRA_OPTIONS
    if unknown:
        raise ConversionError(f"unknown option(s) {sorted(unknown)}; supported: "
                              f"{sorted(_OPTIONS | _EXTRA_OPTIONS)}")
    _check_fitted(model)
    ctx = Ctx(dtype, options)
    ctx.b.graph.name = name or type(model).__name__
    x = _make_inputs(ctx, model, X_sample)
    role = _role(model)
    if method not in (None, "predict", "transform"):
        raise ConversionError(f"method must be 'predict' or 'transform', not {method!r}")
    if method == "transform":
        role = "transformer"
    if role == "classifier":
        res = predict(ctx, model, x)
        if not isinstance(res, Classified):
            raise ConversionError(f"{type(model).__name__}: the converter did not produce class outputs")
        _classifier_outputs(ctx, res, zipmap)
    elif role == "regressor":
        res = predict(ctx, model, x)
        ctx.b.output(res.v, "prediction", dtype=ctx.dtype,
                     shape=["N"] if res.ndim == 1 else ["N", res.width])
    elif role == "outlier":
        res = predict(ctx, model, x)
        ctx.b.output(res.label, "label", dtype=np.int64, shape=["N"])
        ctx.b.output(res.scores, "scores", dtype=ctx.dtype, shape=["N"])
    elif role == "clusterer":
        res = predict(ctx, model, x)
        if isinstance(res, Neighbors):  # NearestNeighbors: kneighbors(X)
            ctx.b.output(res.indices, "indices", dtype=np.int64, shape=["N", None])
            ctx.b.output(res.distances, "distances", dtype=ctx.dtype, shape=["N", None])
            return ctx.b.to_proto()
        if isinstance(res, Classified):  # a mixture: the component and its probabilities
            ctx.b.output(res.label, "label", dtype=np.int64, shape=["N"])
            ctx.b.output(res.scores, "probabilities", dtype=ctx.dtype, shape=["N", len(res.classes)])
            return ctx.b.to_proto()
        ctx.b.output(res.v, "label", dtype=np.int64, shape=["N"])
        if has_transformer(model):
            out = transform(ctx, model, x)
            _transformer_output(ctx, out)
    else:
        _transformer_output(ctx, transform(ctx, model, x))
    return ctx.b.to_proto()


# options read by individual converters (documented in docs/converters.md)
_EXTRA_OPTIONS = {"locale"}


def _check_fitted(model) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        raise ConversionError(f"{type(model).__name__} is not fitted") from None
    except TypeError:
        pass  # not an estimator check_is_fitted knows; its converter decides


def _role(model) -> str:
    from sklearn.base import is_classifier, is_outlier_detector, is_regressor

    if is_classifier(model):
        return "classifier"
    if is_regressor(model):
        return "regressor"
    if is_outlier_detector(model):
        return "outlier"
    try:
        from sklearn.base import is_clusterer
        clusterer = is_clusterer(model)
    except ImportError:  # older scikit-learn
        clusterer = getattr(model, "_estimator_type", None) == "clusterer"
    if clusterer and has_predictor(model):
        return "clusterer"
    if has_predictor(model) and not hasattr(model, "transform"):
        return "clusterer"  # a mixture model (it predicts components), NearestNeighbors
    return "transformer"


def _kind_of(dtype: np.dtype) -> str:
    return STR if dtype.kind in "OUS" else FLOAT


def _make_inputs(ctx: Ctx, model, sample):
    if sample is None:
        n = getattr(model, "n_features_in_", None)
        if n is None:
            raise ConversionError(f"{type(model).__name__}: pass a sample of the input (X[:5]) to convert it")
        sample = np.zeros((1, int(n)))
    if type(sample).__module__.split(".")[0] == "pandas" and hasattr(sample, "columns"):
        return _table_inputs(ctx, sample)
    if dicts.is_dict_sample(sample):
        return dicts.map_input(ctx, sample)
    if isinstance(sample, list) and sample and all(isinstance(s, str) for s in sample):
        sample = np.asarray(sample, dtype=object)
    arr = np.asarray(sample)
    if arr.ndim not in (1, 2):
        raise ConversionError(f"the sample must be 1-D or 2-D, got shape {arr.shape}")
    kind = _kind_of(arr.dtype)
    elem = TensorProto.STRING if kind == STR else ctx.elem
    shape = ["N"] if arr.ndim == 1 else ["N", arr.shape[1]]
    v = ctx.b.input("X", elem, shape)
    return Data(v, kind, None if arr.ndim == 1 else arr.shape[1], arr.ndim)


def _table_inputs(ctx: Ctx, df) -> Table:
    from pandas.api import types as pdt

    t = Table()
    for col in df.columns:
        if not isinstance(col, str):
            raise ConversionError(f"DataFrame column names must be strings to name the inputs, got {col!r}")
        dt = df[col].dtype
        if isinstance(dt, pdt.CategoricalDtype):
            dt = dt.categories.dtype
        kind = FLOAT if pdt.is_numeric_dtype(dt) or pdt.is_bool_dtype(dt) else STR
        elem = TensorProto.STRING if kind == STR else ctx.elem
        v = ctx.b.input(col, elem, ["N", 1])
        t.columns.append((col, Data(v, kind, 1)))
    return t


def _classifier_outputs(ctx: Ctx, res: Classified, zipmap: bool) -> None:
    if res.multilabel:
        # one 0/1 label and one score per target: (N, n_targets) each
        if zipmap:
            raise ConversionError("zipmap applies to single-target classifiers only")
        ctx.b.output(res.label, "label", dtype=np.int64, shape=["N", None])
        ctx.b.output(res.scores, "probabilities", dtype=ctx.dtype, shape=["N", None])
        return
    if res.targets is not None:
        # multi-output: labels (N, n_targets), each target's probabilities side by side
        if zipmap:
            raise ConversionError("zipmap applies to single-target classifiers only")
        labels = label_array(res.targets[0])
        lab_elem = TensorProto.STRING if labels.dtype == object else helper.np_dtype_to_tensor_dtype(labels.dtype)
        ctx.b.output(res.label, "label", dtype=lab_elem, shape=["N", len(res.targets)])
        ctx.b.output(res.scores, "probabilities", dtype=ctx.dtype, shape=["N", sum(len(c) for c in res.targets)])
        return
    labels = label_array(res.classes)
    lab_elem = TensorProto.STRING if labels.dtype == object else helper.np_dtype_to_tensor_dtype(labels.dtype)
    ctx.b.output(res.label, "label", dtype=lab_elem, shape=["N"])
    if not zipmap:
        # decision scores may have another width (SVC's one-vs-one shape: one per class pair)
        width = len(labels) if res.is_proba else None
        ctx.b.output(res.scores, "probabilities", dtype=ctx.dtype, shape=["N", width])
        return
    scores = res.scores if ctx.dtype == np.float32 else ctx.op.Cast(res.scores, to=TensorProto.FLOAT)
    if labels.dtype == object:
        z = ctx.ml.ZipMap(scores, classlabels_strings=[str(c) for c in labels])
        key = TensorProto.STRING
    elif labels.dtype.kind in "iu" or (labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
        z = ctx.ml.ZipMap(scores, classlabels_int64s=[int(c) for c in labels])
        key = TensorProto.INT64
    else:
        raise ConversionError(f"zipmap needs integer or string class labels, not {labels.dtype}")
    out = ctx.b.output(z, "probabilities")
    out.type = helper.make_sequence_type_proto(
        helper.make_map_type_proto(key, helper.make_tensor_type_proto(TensorProto.FLOAT, None)))


def _transformer_output(ctx: Ctx, out) -> None:
    if isinstance(out, Table):
        out = ctx.matrix(out)
    elem = {FLOAT: ctx.elem, INT: TensorProto.INT64, STR: TensorProto.STRING, BOOL: TensorProto.BOOL}[out.kind]
    ctx.b.output(out.v, "output", dtype=elem, shape=["N"] if out.ndim == 1 else ["N", out.width])


__all__ = ["Classified", "ConversionError", "Ctx", "Data", "Outliers", "Table", "convert"]
