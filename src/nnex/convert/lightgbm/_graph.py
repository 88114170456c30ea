"""The raw scores of a LightGBM booster as an ONNX graph, and its objective's transform."""

from __future__ import annotations

import numpy as np
import onnx

from ...ir.value import Value
from .. import ConversionError
from ..sklearn._context import Ctx
from ..sklearn._forest import ensemble
from ._common import truncated_categories
from ._model import ZERO_THRESHOLD, Booster, LinearLeaves


def raw_scores(ctx: Ctx, model: Booster, x: Value) -> Value:
    """(N, n_targets): the sum of the trees' outputs (averaged for ``boosting="rf"``)."""
    f = model.n_features
    k = model.n_targets
    # LightGBM reads |x| <= 1e-35 as 0; features whose 0 is missing see NaN there instead
    if model.zero_missing or model.linear.index_trees:
        small = ctx.op.LessOrEqual(ctx.op.Abs(x), ctx.scalar(ZERO_THRESHOLD))
        as_zero = ctx.op.Where(small, ctx.scalar(0.0), x)
    else:
        small, as_zero = None, x
    x_tree = as_zero
    if model.zero_missing:
        fill = np.zeros((1, f))
        fill[0, sorted(model.zero_missing)] = np.nan
        x_tree = ctx.op.Where(small, ctx.const(fill), x)
    x_tree = truncated_categories(ctx, x_tree, sorted(model.categorical), f)
    parts = []
    if model.trees or not model.linear.index_trees:
        parts.append(ensemble(ctx, x_tree, model.trees, k, round_to_float32=False) if model.trees
                     else ctx.op.Mul(ctx.op.Slice(x, ctx.i64([0]), ctx.i64([1]), ctx.i64([1])),
                                     ctx.const(np.zeros((1, k)))))
    if model.linear.index_trees:
        parts.append(_linear_trees(ctx, model.linear, x_tree, as_zero, f, k))
    raw = parts[0] if len(parts) == 1 else ctx.op.Add(*parts)
    if model.average_output and model.n_iterations:
        raw = ctx.op.Div(raw, ctx.scalar(model.n_iterations))
    return raw


def _linear_trees(ctx: Ctx, lin: LinearLeaves, x_tree: Value, x: Value, f: int, k: int) -> Value:
    """(N, k) sum of the linear trees, computed in double as LightGBM does.

    One TreeEnsemble gives each sample's leaf row in every linear tree; every leaf's linear
    model is evaluated for all samples with one MatMul, and each tree picks its leaf's value.
    """
    n_trees = len(lin.index_trees)
    rows = ensemble(ctx, x_tree, lin.index_trees, n_trees, round_to_float32=False)
    ids = ctx.op.Cast(rows, to=onnx.TensorProto.INT64)  # exact: rows < 2**24
    d = ctx.with_dtype(np.float64)
    xd = ctx.to_dtype(x, np.float64)
    nan = d.op.IsNaN(xd)
    n_leaves = len(lin.const)
    coeff = np.zeros((f, n_leaves))
    uses = np.zeros((f, n_leaves))
    for j, cs in enumerate(lin.coeff):
        for feat, c in cs.items():
            coeff[feat, j] = c
            uses[feat, j] = 1.0
    finite = d.op.Where(d.op.Or(nan, d.op.IsInf(xd)), d.scalar(0.0), xd)
    values = d.op.Add(d.op.MatMul(finite, d.const(coeff)), d.const(np.asarray(lin.const).reshape(1, -1)))
    values = _infinite_terms(d, xd, values, coeff, uses)
    nan_used = d.op.MatMul(d.op.Cast(nan, to=onnx.TensorProto.DOUBLE), d.const(uses))
    value = d.op.GatherElements(values, ids, axis=1)
    has_nan = d.op.Greater(d.op.GatherElements(nan_used, ids, axis=1), d.scalar(0.0))
    fallback = d.op.Gather(d.const(np.asarray(lin.fallback)), ids, axis=0)
    per_tree = d.op.Where(has_nan, fallback, value)
    to_target = np.zeros((n_trees, k))
    to_target[np.arange(n_trees), lin.tree_target] = 1.0
    return d.to_dtype(d.op.MatMul(per_tree, d.const(to_target)), ctx.dtype)


def _infinite_terms(d: Ctx, x: Value, values: Value, coeff: np.ndarray, uses: np.ndarray) -> Value:
    """Leaf values where an infinite feature enters a leaf model: +-inf, or NaN when terms
    of both signs meet or the coefficient is 0, as the sum over the leaf's features gives.
    (The finite MatMul cannot see them: inf * 0 for the leaves not using the feature.)"""
    dbl = onnx.TensorProto.DOUBLE
    pos = d.op.Cast(d.op.IsInf(x, detect_negative=0), to=dbl)
    neg = d.op.Cast(d.op.IsInf(x, detect_positive=0), to=dbl)
    up = d.op.Add(d.op.MatMul(pos, d.const((coeff > 0) * 1.0)), d.op.MatMul(neg, d.const((coeff < 0) * 1.0)))
    down = d.op.Add(d.op.MatMul(pos, d.const((coeff < 0) * 1.0)), d.op.MatMul(neg, d.const((coeff > 0) * 1.0)))
    zero = d.op.MatMul(d.op.Add(pos, neg), d.const(((coeff == 0) & (uses > 0)) * 1.0))
    is_up, is_down = d.op.Greater(up, d.scalar(0.0)), d.op.Greater(down, d.scalar(0.0))
    values = d.op.Where(is_down, d.scalar(-np.inf), values)
    values = d.op.Where(is_up, d.scalar(np.inf), values)
    undefined = d.op.Or(d.op.And(is_up, is_down), d.op.Greater(zero, d.scalar(0.0)))
    return d.op.Where(undefined, d.scalar(np.nan), values)


# ------------------------------------------------------------------ objectives

CLASSIFICATION = {"binary", "multiclass", "multiclassova"}
IDENTITY = {"regression", "regression_l1", "huber", "fair", "quantile", "mape", "lambdarank", "rank_xendcg",
            "custom", "none", "None"}
EXP = {"poisson", "gamma", "tweedie"}


def transform(ctx: Ctx, model: Booster, raw: Value) -> Value:
    """LightGBM's ConvertOutput for the model's objective, on (N, k) raw scores."""
    obj, params = model.objective, model.objective_params
    if obj == "binary":
        return ctx.op.Sigmoid(_scaled(ctx, raw, params))
    if obj == "multiclass":
        return ctx.softmax(raw)
    if obj == "multiclassova":
        return ctx.op.Sigmoid(_scaled(ctx, raw, params))
    if obj in ("cross_entropy", "xentropy"):
        return ctx.op.Sigmoid(raw)
    if obj in ("cross_entropy_lambda", "xentlambda"):
        return _softplus(ctx, raw)
    if obj in EXP:
        return ctx.op.Exp(raw)
    if obj == "regression" and "sqrt" in params:
        return ctx.op.Mul(ctx.op.Sign(raw), ctx.op.Mul(raw, raw))
    if obj in IDENTITY:
        return raw
    raise ConversionError(f"LightGBM: the objective {obj!r} is not supported")


def _softplus(ctx: Ctx, x: Value) -> Value:
    """log(1 + exp(x)), stable for large |x| (onnxruntime has no double Softplus)."""
    tail = ctx.op.Log(ctx.op.Add(ctx.scalar(1.0), ctx.op.Exp(ctx.op.Neg(ctx.op.Abs(x)))))
    return ctx.op.Add(ctx.op.Max(x, ctx.scalar(0.0)), tail)


def _scaled(ctx: Ctx, raw: Value, params: dict) -> Value:
    s = float(params.get("sigmoid", "1") or 1)
    return raw if s == 1.0 else ctx.op.Mul(raw, ctx.scalar(s))
