"""LibSVM -> ONNX: ``nnex.convert(model, X_sample, **options)`` for the ``svm_model`` of the
``libsvm`` package (``libsvm.svmutil.svm_train`` / ``svm_load_model``).

The input ``X`` (N, n_features) holds libsvm's features 1..n_features in its columns
(``index_base=0`` for models trained on dicts keyed from 0). Everything is computed in
double, as libsvm does (svm.cpp, svm_predict_values / svm_predict_probability), and cast
back for a float model.

Outputs (docs/converters_gbm.md):

* C-SVC, nu-SVC: ``label`` (N,) int64 and ``probabilities`` (N, n_classes) in the order of
  ``model.get_labels()``, as ``svm_predict(..., "-b 1")`` gives them: Platt's sigmoid per
  class pair, then Wu-Lin-Weng coupling for more than two classes, the label being the
  most probable class. A model without probability information (or ``probability=False``)
  gives the vote label of plain ``svm_predict`` and, in place of probabilities, the
  decision values (N, n_pairs) in libsvm's pair order;
* one-class: ``label`` (N,) in {1, -1}, ``scores`` (N,) the decision value, and for a
  model trained with ``-b 1`` ``probabilities`` (N, 2), libsvm's density-mark estimate;
* epsilon-SVR, nu-SVR: ``prediction`` (N,).
"""

from __future__ import annotations

import numpy as np
import onnx

from ...ir.value import Value
from .. import ConversionError
from ..lightgbm._common import (
    COMMON_OPTIONS,
    check_options,
    new_ctx,
    no_zipmap_for_regressors,
    regressor_output,
)
from ..sklearn import _classifier_outputs
from ..sklearn._context import Classified, Ctx
from ..sklearn._kernels import kernel
from ..sklearn.svm import _couple, _votes

_OPTIONS = COMMON_OPTIONS + ("probability", "index_base")

C_SVC, NU_SVC, ONE_CLASS, EPSILON_SVR, NU_SVR = range(5)
_KERNELS = {0: "linear", 1: "poly", 2: "rbf", 3: "sigmoid"}
_MIN_PROB = 1e-7


def convert(model, X_sample=None, **options) -> onnx.ModelProto:
    """Convert a trained libsvm ``svm_model`` to ONNX."""
    check_options("libsvm", options, _OPTIONS)
    if type(model).__name__ != "svm_model":
        raise ConversionError(f"nnex cannot convert {type(model).__qualname__} from libsvm (only svm_model)")
    p = model.param
    kind = int(p.svm_type)
    if int(p.kernel_type) not in _KERNELS:
        raise ConversionError("libsvm: a precomputed kernel cannot be converted (the model holds no features)")
    base = int(options.get("index_base", 1))
    sv, n_features = _support_vectors(model, base, X_sample)
    zipmap = bool(options.get("zipmap", False))
    ctx = new_ctx(options.get("dtype", np.float32), options.get("name") or "libsvm")
    x = ctx.b.input("X", ctx.elem, ["N", n_features])
    d = ctx.with_dtype(np.float64)
    xd = ctx.to_dtype(x, np.float64)
    gram = kernel(d, xd, sv, _KERNELS[int(p.kernel_type)], gamma=float(p.gamma), coef0=float(p.coef0),
                  degree=int(p.degree))
    if kind in (EPSILON_SVR, NU_SVR, ONE_CLASS):
        coef = np.asarray([model.sv_coef[0][i] for i in range(model.l)], dtype=np.float64).reshape(-1, 1)
        dec = d.op.Sub(d.op.MatMul(gram, d.const(coef)), d.scalar(float(model.rho[0])))
        if kind != ONE_CLASS:
            no_zipmap_for_regressors("libsvm", zipmap)
            return regressor_output(ctx, d.to_dtype(dec, ctx.dtype), 1)
        return _one_class(ctx, d, model, dec, options)
    if kind not in (C_SVC, NU_SVC):
        raise ConversionError(f"libsvm: svm_type {kind} is not supported")
    return _classifier(ctx, d, model, gram, options, zipmap)


def _support_vectors(model, base: int, sample) -> tuple[np.ndarray, int]:
    rows = model.get_SV()
    indices = [i for r in rows for i in r]
    if indices and min(indices) < base:
        raise ConversionError(f"libsvm: the model has feature index {min(indices)}, below index_base={base}")
    n = max(indices, default=base - 1) - base + 1
    if sample is not None:
        width = np.asarray(sample).shape[1]
        if width < n:
            raise ConversionError(f"libsvm: the sample has {width} features, the support vectors use {n}")
        n = width
    if n == 0:
        raise ConversionError("libsvm: pass a sample (X[:5]) to give the number of features")
    sv = np.zeros((len(rows), n))
    for r, row in enumerate(rows):
        for i, v in row.items():
            sv[r, i - base] = v
    return sv, n


def _pairs(k: int):
    return [(i, j) for i in range(k) for j in range(i + 1, k)]


def _decision_values(d: Ctx, model, gram: Value) -> Value:
    """(N, n_pairs) one-vs-one decision values, pair (i, j) positive when class i wins."""
    k = int(model.nr_class)
    n_sv = [int(model.nSV[i]) for i in range(k)]
    start = np.concatenate([[0], np.cumsum(n_sv)]).astype(int)
    coef = np.zeros((int(model.l), len(_pairs(k))))
    for p, (i, j) in enumerate(_pairs(k)):
        coef[start[i]:start[i + 1], p] = [model.sv_coef[j - 1][s] for s in range(start[i], start[i + 1])]
        coef[start[j]:start[j + 1], p] = [model.sv_coef[i][s] for s in range(start[j], start[j + 1])]
    rho = np.asarray([model.rho[p] for p in range(len(_pairs(k)))], dtype=np.float64)
    return d.op.Sub(d.op.MatMul(gram, d.const(coef)), d.const(rho.reshape(1, -1)))


def _classifier(ctx: Ctx, d: Ctx, model, gram: Value, options: dict, zipmap: bool) -> onnx.ModelProto:
    k = int(model.nr_class)
    if k < 2:
        raise ConversionError("libsvm: a classifier trained on a single class cannot be converted")
    labels = np.asarray(model.get_labels(), dtype=np.int64)
    dec = _decision_values(d, model, gram)
    has_proba = bool(model.probA) and bool(model.probB)
    want = options.get("probability")
    if want and not has_proba:
        raise ConversionError("libsvm: probability=True needs a model trained with -b 1")
    if has_proba and want is not False:
        n_pairs = len(_pairs(k))
        a = np.asarray([model.probA[i] for i in range(n_pairs)]).reshape(1, -1)
        b = np.asarray([model.probB[i] for i in range(n_pairs)]).reshape(1, -1)
        r = d.op.Sigmoid(d.op.Neg(d.op.Add(d.op.Mul(dec, d.const(a)), d.const(b))))
        r = d.op.Clip(r, d.scalar(_MIN_PROB), d.scalar(1 - _MIN_PROB))
        proba = d.op.Concat(r, d.op.Sub(d.scalar(1.0), r), axis=1) if k == 2 else _couple(d, r, k)
        label = d.argmax_labels(proba, labels)
        res = Classified(label, d.to_dtype(proba, ctx.dtype), labels)
    else:
        if k == 2:
            idx = d.op.Cast(d.op.LessOrEqual(d.flat(dec), d.scalar(0.0)), to=onnx.TensorProto.INT64)
            label = d.labels_from_index(idx, labels)
        else:
            label = d.argmax_labels(_votes(d, dec, k), labels)
        res = Classified(label, d.to_dtype(dec, ctx.dtype), labels, is_proba=False)
    _classifier_outputs(ctx, res, zipmap)
    return ctx.b.to_proto()


def _one_class(ctx: Ctx, d: Ctx, model, dec: Value, options: dict) -> onnx.ModelProto:
    if options.get("zipmap"):
        raise ConversionError("libsvm: zipmap applies to classifiers only")
    flat = d.flat(dec)
    label = d.op.Where(d.op.Greater(flat, d.scalar(0.0)), d.i64(1), d.i64(-1))
    ctx.b.output(label, "label", dtype=np.int64, shape=["N"])
    ctx.b.output(d.to_dtype(flat, ctx.dtype), "scores", dtype=ctx.dtype, shape=["N"])
    has_marks = bool(model.prob_density_marks)
    if options.get("probability") and not has_marks:
        raise ConversionError("libsvm: probability=True needs a one-class model trained with -b 1")
    if has_marks and options.get("probability") is not False:
        marks = [float(model.prob_density_marks[i]) for i in range(10)]
        p = _density_probability(d, flat, marks)
        proba = d.op.Concat(d.as_column(p), d.as_column(d.op.Sub(d.scalar(1.0), p)), axis=1)
        ctx.b.output(d.to_dtype(proba, ctx.dtype), "probabilities", dtype=ctx.dtype, shape=["N", 2])
    return ctx.b.to_proto()


def _density_probability(d: Ctx, dec: Value, marks: list[float]) -> Value:
    """libsvm's predict_one_class_probability: 0.001 below the first mark, 0.999 above the
    last, else i/10 for the first mark i (1..9) above the value (0 when none is)."""
    p = d.scalar(0.0)
    for i in range(9, 0, -1):  # the first i with dec < marks[i] wins: build from the last
        p = d.op.Where(d.op.Less(dec, d.scalar(marks[i])), d.scalar(i / 10), p)
    p = d.op.Where(d.op.Greater(dec, d.scalar(marks[9])), d.scalar(0.999), p)
    return d.op.Where(d.op.Less(dec, d.scalar(marks[0])), d.scalar(0.001), p)


__all__ = ["convert"]
