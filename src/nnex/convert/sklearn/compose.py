"""Composition: Pipeline, FeatureUnion, ColumnTransformer, TransformedTargetRegressor,
and the searches (GridSearchCV, ...) that delegate to their best estimator."""

from __future__ import annotations

import numpy as np

from .. import ConversionError
from ._context import FLOAT, STR, Ctx, Data, Table
from ._registry import name_of, predict, predictor, transform, transformer, unsupported


def _steps(est):
    return [(n, s) for n, s in est.steps if s is not None and not (isinstance(s, str) and s == "passthrough")]


def _through_steps(ctx, est, x, steps):
    for _, step in steps:
        x = transform(ctx, step, x)
    return x


@predictor("Pipeline")
def _pipeline_predict(ctx, est, x):
    steps = _steps(est)
    if not steps or steps[-1][1] is not est.steps[-1][1]:
        raise unsupported(est, "a pipeline whose last step is 'passthrough' used for prediction")
    x = _through_steps(ctx, est, x, steps[:-1])
    return predict(ctx, steps[-1][1], x)


@transformer("Pipeline")
def _pipeline_transform(ctx, est, x):
    return _through_steps(ctx, est, x, _steps(est))


def concat_outputs(ctx: Ctx, outs: list[Data], owner) -> Data:
    """hstack of transformer outputs (bool and int become float, as numpy's hstack does)."""
    outs = [ctx.matrix(o) for o in outs]
    kinds = {o.kind for o in outs}
    if STR in kinds and len(kinds) > 1:
        raise unsupported(owner, "an output mixing string and numeric columns")
    if STR not in kinds:
        outs = [ctx.float(o) for o in outs]
    if len(outs) == 1:
        return outs[0]
    width = sum(o.width for o in outs) if all(o.width is not None for o in outs) else None
    return Data(ctx.op.Concat(*[o.v for o in outs], axis=1), outs[0].kind, width)


@transformer("FeatureUnion")
def _feature_union(ctx, est, x):
    weights = est.transformer_weights or {}
    outs = []
    for name, t in est.transformer_list:
        if isinstance(t, str) and t == "drop":
            continue
        out = ctx.matrix(x) if isinstance(t, str) and t == "passthrough" else transform(ctx, t, x)
        if name in weights and weights[name] is not None:
            out = ctx.float(out)
            out = Data(ctx.op.Mul(out.v, ctx.scalar(weights[name])), FLOAT, out.width)
        outs.append(out)
    if not outs:
        raise unsupported(est, "no transformer left")
    return concat_outputs(ctx, outs, est)


# ------------------------------------------------------------------ ColumnTransformer


def select_columns(ctx: Ctx, x, indices, scalar: bool, names=None):
    """Columns ``indices`` of the input (a Table, by name where the model knows names)."""
    indices = [int(i) for i in np.asarray(indices).ravel()]
    if isinstance(x, Table):
        by_name = dict(x.columns)
        picked = []
        for i in indices:
            name = names[i] if names is not None else None
            if name is not None and name in by_name:
                picked.append(by_name[name])
            elif name is None and i < len(x.columns):
                picked.append(x.columns[i][1])
            else:
                raise ConversionError(f"column {name if name is not None else i!r} is not among the inputs "
                                      f"{x.names}")
        if scalar:
            d = picked[0]
            return Data(ctx.flat(d.v), d.kind, None, ndim=1)
        if len(picked) == 1:
            return picked[0]
        if len(picked) > 1:
            sub = Table([(f"c{i}", d) for i, d in zip(indices, picked)])
            kinds = {d.kind for d in picked}
            return sub if len(kinds) > 1 else ctx.concat_table(sub)
    x = ctx.matrix(x)
    if scalar:
        return Data(ctx.flat(ctx.col(x.v, indices[0])), x.kind, None, ndim=1)
    if x.width is not None and indices == list(range(x.width)):
        return x
    return Data(ctx.columns(x.v, indices), x.kind, len(indices))


@transformer("ColumnTransformer")
def _column_transformer(ctx, est, x):
    names = getattr(est, "feature_names_in_", None)
    names = list(names) if names is not None else None
    weights = est.transformer_weights or {}
    outs = []
    for name, t, cols in est.transformers_:
        if isinstance(t, str) and t == "drop":
            continue
        idx = est._transformer_to_input_indices[name]
        if len(idx) == 0:
            continue
        sub = select_columns(ctx, x, idx, np.isscalar(cols) and not isinstance(cols, (bool, np.bool_)), names)
        out = sub if isinstance(t, str) and t == "passthrough" else transform(ctx, t, sub)
        if isinstance(out, Table):
            out = ctx.concat_table(out)
        if weights.get(name) is not None:
            out = ctx.float(out)
            out = Data(ctx.op.Mul(out.v, ctx.scalar(weights[name])), FLOAT, out.width)
        outs.append(out)
    if not outs:
        raise unsupported(est, "no column selected")
    return concat_outputs(ctx, outs, est)


# ------------------------------------------------------------------ target transforms, searches


@predictor("TransformedTargetRegressor")
def _transformed_target(ctx, est, x):
    y = predict(ctx, est.regressor_, x)
    two_d = y.ndim == 2
    yv = y.v if two_d else ctx.as_column(y.v)
    inv = inverse_transform(ctx, est.transformer_, Data(yv, FLOAT, y.width or 1))
    if not two_d or (inv.width == 1 and getattr(est, "_training_dim", 2) == 1):
        return Data(ctx.flat(inv.v), ndim=1)
    return inv


def inverse_transform(ctx: Ctx, t, y: Data) -> Data:
    kind = name_of(t)
    if kind == "FunctionTransformer":
        from .preprocessing import apply_function

        if t.inverse_func is None:
            return y
        return Data(apply_function(ctx, t, t.inverse_func, t.inv_kw_args, y.v), FLOAT, y.width)
    if kind == "StandardScaler":
        v = y.v
        if t.with_std and t.scale_ is not None:
            v = ctx.op.Mul(v, ctx.const(t.scale_))
        if t.with_mean and t.mean_ is not None:
            v = ctx.op.Add(v, ctx.const(t.mean_))
        return Data(v, FLOAT, y.width)
    if kind == "MinMaxScaler":
        return Data(ctx.op.Div(ctx.op.Sub(y.v, ctx.const(t.min_)), ctx.const(t.scale_)), FLOAT, y.width)
    if kind == "MaxAbsScaler":
        return Data(ctx.op.Mul(y.v, ctx.const(t.scale_)), FLOAT, y.width)
    if kind == "RobustScaler":
        v = y.v
        if t.with_scaling:
            v = ctx.op.Mul(v, ctx.const(t.scale_))
        if t.with_centering:
            v = ctx.op.Add(v, ctx.const(t.center_))
        return Data(v, FLOAT, y.width)
    raise ConversionError(f"the inverse_transform of {kind} cannot be converted")


@predictor("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV")
def _search_predict(ctx, est, x):
    if not hasattr(est, "best_estimator_"):
        raise unsupported(est, "refit=False (no best_estimator_)")
    return predict(ctx, est.best_estimator_, x)


@transformer("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV")
def _search_transform(ctx, est, x):
    if not hasattr(est, "best_estimator_"):
        raise unsupported(est, "refit=False (no best_estimator_)")
    return transform(ctx, est.best_estimator_, x)

