"""Categorical encoders: OneHotEncoder, OrdinalEncoder, LabelEncoder, LabelBinarizer.

Each input column is compared with its known categories (Equal, IsNaN for a NaN
category), and the index of the match looks up the encoded row. The rows are not
re-derived from the encoder's settings (drop, infrequent grouping, unknown handling,
missing-value encoding): they are what the fitted encoder's own transform returns for
each category, probed once at conversion time.

ONNX cannot raise: where scikit-learn would raise on an unknown category
(handle_unknown="error"), the model gives zeros (one-hot) or NaN (ordinal).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import onnx

from .. import ConversionError
from ._context import FLOAT, INT, STR, Ctx, Data, Table
from ._registry import transformer, unsupported

_UNKNOWN_STR = "\x00nnex-unknown-category"


def input_columns(ctx: Ctx, x, n: int) -> list[Data]:
    """The n input columns as (N, 1) Data each."""
    if isinstance(x, Table):
        cols = [d for _, d in x.columns]
    else:
        x = ctx.matrix(x)
        cols = [Data(ctx.col(x.v, j), x.kind, 1) for j in range(n)] if n > 1 else [x]
    if len(cols) != n:
        raise ConversionError(f"expected {n} input columns, got {len(cols)}")
    return cols


def _is_str(cats: np.ndarray) -> bool:
    return cats.dtype.kind in "OUS" and any(isinstance(c, str) for c in cats.tolist())


def _unknown_value(cats: np.ndarray):
    if _is_str(cats):
        return _UNKNOWN_STR
    finite = np.asarray([c for c in cats.tolist() if not _isnan(c)], dtype=np.float64)
    return float(finite.max() + 1) if finite.size else 0.0


def _isnan(c) -> bool:
    return isinstance(c, (float, np.floating)) and np.isnan(c)


def _probe(est, categories, j: int, values: list):
    """est.transform on rows whose feature j takes ``values`` (others their first category)."""
    n = len(categories)
    rows = [[categories[i][0] if i != j else v for i in range(n)] for v in values]
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        data = pd.DataFrame({str(nm): [r[i] for r in rows] for i, nm in enumerate(names)})
        data = data.astype({str(nm): np.asarray(categories[i]).dtype if not _is_str(np.asarray(categories[i]))
                            else object for i, nm in enumerate(names)})
    elif any(_is_str(np.asarray(c)) for c in categories):
        data = np.array(rows, dtype=object)
    else:
        data = np.array(rows, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = est.transform(data)
    return np.asarray(out.toarray() if hasattr(out, "toarray") else out, dtype=np.float64)


def encode_column(ctx: Ctx, col: Data, cats: np.ndarray, table: np.ndarray, unknown_row: np.ndarray):
    """table[index of col's value in cats] (N, width), ``unknown_row`` where it is in none."""
    cats = np.asarray(cats)
    if _is_str(cats):
        if col.kind != STR:
            raise ConversionError("a numeric column reaches an encoder fitted on strings")
        hits = ctx.op.Equal(col.v, ctx.b.const(cats.astype(object).reshape(1, -1)))
        hits = ctx.op.Cast(hits, to=ctx.elem)
    else:
        if col.kind == STR:
            raise ConversionError("a string column reaches an encoder fitted on numbers")
        v = ctx.float(col).v
        vals = np.asarray(cats, dtype=np.float64)
        nan = np.isnan(vals)
        hits = ctx.op.Cast(ctx.op.Equal(v, ctx.const(np.where(nan, 0.0, vals).reshape(1, -1))), to=ctx.elem)
        if nan.any():
            # NaN never equals itself: its category matches IsNaN instead
            isnan = ctx.op.Cast(ctx.op.IsNaN(v), to=ctx.elem)
            hits = ctx.op.Add(ctx.op.Mul(hits, ctx.const((~nan).astype(np.float64).reshape(1, -1))),
                              ctx.op.Mul(isnan, ctx.const(nan.astype(np.float64).reshape(1, -1))))
    idx = ctx.op.ArgMax(hits, axis=1, keepdims=0)
    known = ctx.op.Greater(ctx.reduce("ReduceMax", hits), ctx.scalar(0.5))
    rows = ctx.op.Gather(ctx.const(table), idx, axis=0)
    return ctx.op.Where(known, rows, ctx.const(np.asarray(unknown_row, np.float64).reshape(1, -1)))


def _encode_all(ctx: Ctx, est, x, out_slices, unknown_default: float) -> Data:
    categories = [np.asarray(c) for c in est.categories_]
    cols = input_columns(ctx, x, len(categories))
    outs = []
    for j, (col, cats) in enumerate(zip(cols, categories)):
        sl = out_slices[j]
        if sl.stop == sl.start:
            continue
        table = _probe(est, est.categories_, j, list(cats))[:, sl]
        try:
            unknown = _probe(est, est.categories_, j, [_unknown_value(cats)])[0, sl]
        except ValueError:  # handle_unknown="error": scikit-learn raises; see the module docstring
            unknown = np.full(sl.stop - sl.start, unknown_default)
        outs.append(encode_column(ctx, col, cats, table, unknown))
    width = out_slices[-1].stop if out_slices else 0
    if not outs:
        raise unsupported(est, "an encoding without output columns")
    return Data(outs[0] if len(outs) == 1 else ctx.op.Concat(*outs, axis=1), FLOAT, width)


@transformer("OneHotEncoder")
def _one_hot(ctx, est, x):
    bounds = np.cumsum([0] + list(est._n_features_outs))
    slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
    return _encode_all(ctx, est, x, slices, 0.0)


@transformer("OrdinalEncoder")
def _ordinal(ctx, est, x):
    slices = [slice(j, j + 1) for j in range(len(est.categories_))]
    return _encode_all(ctx, est, x, slices, np.nan)


@transformer("LabelEncoder")
def _label_encoder(ctx, est, x):
    classes = np.asarray(est.classes_)
    if isinstance(x, Table) or x.ndim != 1:
        x = ctx.matrix(x)
        if x.width not in (None, 1):
            raise unsupported(est, "more than one input column")
    col = Data(x.v if x.ndim == 2 else ctx.as_column(x.v), x.kind, 1)
    codes = encode_column(ctx, col, classes, np.arange(len(classes), dtype=np.float64)[:, None],
                          np.array([-1.0]))
    # labels are 1-D and integer, as LabelEncoder.transform returns them
    return Data(ctx.op.Cast(ctx.flat(codes), to=onnx.TensorProto.INT64), INT, None, ndim=1)


@transformer("LabelBinarizer")
def _label_binarizer(ctx, est, x):
    classes = np.asarray(est.classes_)
    if est.y_type_ not in ("binary", "multiclass") or est.sparse_output:
        raise unsupported(est, f"y_type_={est.y_type_!r} or sparse output")
    x = ctx.matrix(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = np.asarray(est.transform(classes), dtype=np.float64)
    unknown = np.full(table.shape[1], float(est.neg_label))
    out = encode_column(ctx, x, classes, table, unknown)
    return Data(ctx.op.Cast(out, to=onnx.TensorProto.INT64), INT, table.shape[1])


@transformer("TargetEncoder")
def _target_encoder(ctx, est, x):
    # transform (not fit_transform, which cross-fits) looks each category up; unknown ones
    # get the target mean: both probed from the encoder itself
    k = len(est.classes_) if est.target_type_ == "multiclass" else 1
    slices = [slice(j * k, (j + 1) * k) for j in range(len(est.categories_))]
    return _encode_all(ctx, est, x, slices, np.nan)
