"""What the gradient-boosting and libsvm converters share: options, the model's input
(an array or a DataFrame whose category columns are mapped to the framework's codes) and
the output contract of docs/converters.md (classifiers: ``label``, ``probabilities``;
regressors: ``prediction``), emitted through the scikit-learn converter's helpers.

It lives here because the LightGBM converter was first; xgboost/, catboost/ and libsvm/
import it (it imports no framework).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from ...ir.value import Value
from .. import ConversionError
from ..sklearn import _classifier_outputs
from ..sklearn._context import Classified, Ctx

COMMON_OPTIONS = ("dtype", "zipmap", "name")


def check_options(framework: str, options: dict, allowed: Sequence[str]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConversionError(f"{framework}: unknown option(s) {unknown}; supported: {sorted(set(allowed))}")


def new_ctx(dtype, name: str) -> Ctx:
    ctx = Ctx(dtype)
    ctx.b.graph.name = name
    return ctx


def is_dataframe(sample) -> bool:
    return type(sample).__module__.split(".")[0] == "pandas" and hasattr(sample, "columns")


@dataclass
class Categories:
    """A category column: its input kind and the framework's code for each category."""

    values: list  # category values (str, int or float) in code order
    codes: list | None = None  # code of each value (default: its position)
    unknown: float = float("nan")  # the code an unseen value gets


def matrix_input(ctx: Ctx, sample, n_features: int, categories: dict[str, Categories] | None = None,
                 framework: str = "") -> Value:
    """The model's (N, n_features) float matrix, from the input(s) the sample calls for.

    An array sample (or none) gives one input ``X`` (N, n_features); a DataFrame one (N, 1)
    input per column named after it, string for category columns with string categories,
    each category column mapped to the framework's category codes.
    """
    if sample is None or not is_dataframe(sample):
        if sample is not None:
            arr = np.asarray(sample)
            if arr.ndim != 2:
                raise ConversionError(f"{framework}: the sample must be 2-D (N, n_features), got shape {arr.shape}")
            if arr.dtype.kind not in "biuf":
                raise ConversionError(f"{framework}: the sample must be numeric, got dtype {arr.dtype}; pass a "
                                      f"pandas DataFrame for category columns")
            if arr.shape[1] != n_features:
                raise ConversionError(f"{framework}: the sample has {arr.shape[1]} features, the model "
                                      f"{n_features}")
        return ctx.b.input("X", ctx.elem, ["N", n_features])
    return _frame_input(ctx, sample, n_features, categories or {}, framework)


def _frame_input(ctx: Ctx, df, n_features: int, categories: dict[str, Categories], framework: str) -> Value:
    from pandas.api import types as pdt

    if df.shape[1] != n_features:
        raise ConversionError(f"{framework}: the sample has {df.shape[1]} columns, the model {n_features}")
    cols = []
    for col in df.columns:
        if not isinstance(col, str):
            raise ConversionError(f"{framework}: DataFrame column names must be strings to name the inputs, "
                                  f"got {col!r}")
        dt = df[col].dtype
        if col in categories:
            cols.append(category_codes(ctx, col, categories[col]))
        elif isinstance(dt, pdt.CategoricalDtype):
            raise ConversionError(f"{framework}: column {col!r} is categorical in the sample but the model has "
                                  f"no categories for it")
        elif pdt.is_numeric_dtype(dt) or pdt.is_bool_dtype(dt):
            cols.append(ctx.b.input(col, ctx.elem, ["N", 1]))
        else:
            raise ConversionError(f"{framework}: column {col!r} of dtype {dt} is neither numeric nor categorical")
    return cols[0] if len(cols) == 1 else ctx.op.Concat(*cols, axis=1)


def category_codes(ctx: Ctx, name: str, cats: Categories) -> Value:
    """An (N, 1) input of category values -> their codes as floats (unseen: ``unknown``)."""
    values = list(cats.values)
    codes = np.asarray(range(len(values)) if cats.codes is None else cats.codes, dtype=ctx.dtype)
    if all(isinstance(v, str) for v in values):
        x = ctx.b.input(name, onnx.TensorProto.STRING, ["N", 1])
        keys = np.asarray(values, dtype=object)
    elif all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values):
        x = ctx.b.input(name, ctx.elem, ["N", 1])
        keys = np.asarray(values, dtype=ctx.dtype)
    else:
        raise ConversionError(f"column {name!r}: categories must be all strings or all numbers, got "
                              f"{values[:5]}")
    if len(values) == 0:
        return ctx.op.Add(ctx.op.Mul(ctx.op.Cast(ctx.op.Shape(x), to=ctx.elem), ctx.scalar(0.0)),
                          ctx.scalar(cats.unknown))
    return ctx.ml.LabelEncoder(x, keys_tensor=keys, values_tensor=codes,
                               default_tensor=np.asarray([cats.unknown], dtype=ctx.dtype))


def truncated_categories(ctx: Ctx, x: Value, columns: Sequence[int], width: int) -> Value:
    """``x`` with the given columns replaced by int(x) (C's truncation toward zero) where
    -1 < x < 2**31, and -1 elsewhere (NaN included): the category LightGBM looks up."""
    if not columns:
        return x
    ok = ctx.op.And(ctx.op.Greater(x, ctx.scalar(-1.0)), ctx.op.Less(x, ctx.scalar(2.0 ** 31)))
    t = ctx.op.Where(ok, ctx.op.Floor(ctx.op.Abs(x)), ctx.scalar(-1.0))
    return select_columns(ctx, t, x, columns, width)


def select_columns(ctx: Ctx, a: Value, b: Value, columns: Sequence[int], width: int) -> Value:
    """Columns ``columns`` from a, the others from b (both (N, width))."""
    mask = np.zeros((1, width), dtype=bool)
    mask[0, list(columns)] = True
    return ctx.op.Where(ctx.b.const(mask), a, b)


# ------------------------------------------------------------------ outputs


def classifier_outputs(ctx: Ctx, label: Value, proba: Value, classes, zipmap: bool = False) -> onnx.ModelProto:
    _classifier_outputs(ctx, Classified(label, proba, np.asarray(classes)), zipmap)
    return ctx.b.to_proto()


def regressor_output(ctx: Ctx, v: Value, width: int) -> onnx.ModelProto:
    """``prediction``: (N,) for one target (v is (N, 1)), else (N, width)."""
    if width == 1:
        ctx.b.output(ctx.flat(v), "prediction", dtype=ctx.dtype, shape=["N"])
    else:
        ctx.b.output(v, "prediction", dtype=ctx.dtype, shape=["N", width])
    return ctx.b.to_proto()


def binary_label(ctx: Ctx, p1: Value, classes) -> Value:
    """classes[1] where the probability of class 1 is above 0.5 (LightGBM's and XGBoost's
    argmax of [1 - p, p]), else classes[0]."""
    return ctx.threshold_labels(p1, classes, 0.5)


def no_zipmap_for_regressors(framework: str, zipmap: bool) -> None:
    if zipmap:
        raise ConversionError(f"{framework}: zipmap applies to classifiers only")
