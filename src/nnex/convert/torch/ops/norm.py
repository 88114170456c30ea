"""Batch, layer, group, instance and RMS normalization."""

from __future__ import annotations

import numpy as np
import torch

from ... import ConversionError
from ..context import Ctx, static_int
from ..registry import lowers
from ._common import aten


def _channels(ctx: Ctx, x) -> int:
    c = static_int(ctx.shape(x)[1]) if ctx.rank(x) > 1 else None
    if c is None:
        raise ConversionError("normalization over a symbolic number of channels is not supported")
    return c


def _affine(ctx: Ctx, v, n_or_shape, fill, dt):
    if v is not None:
        return ctx.tensor(v, dt)
    shape = [n_or_shape] if isinstance(n_or_shape, int) else list(n_or_shape)
    return ctx.const(np.full(shape, fill), dt)


def _stats_norm(ctx: Ctx, x, reduce_axes, eps):
    """(x - mean) / sqrt(var + eps) over ``reduce_axes`` (biased variance), with mean and rstd."""
    op = ctx.op
    dt = ctx.dtype(x)
    ax = ctx.ints(reduce_axes)
    mean = op.ReduceMean(x, ax, keepdims=1)
    d = op.Sub(x, mean)
    var = op.ReduceMean(op.Mul(d, d), ax, keepdims=1)
    rstd = op.Reciprocal(op.Sqrt(op.Add(var, ctx.const(eps, dt))))
    return op.Mul(d, rstd), mean, rstd


def _per_channel(ctx: Ctx, v, r):
    return ctx.op.Reshape(v, ctx.ints([-1] + [1] * (r - 2))) if r > 2 else v


@lowers(aten._native_batch_norm_legit_no_training.default)
def batch_norm_inference(ctx: Ctx, x, w, b, mean, var, momentum, eps):
    dt = ctx.dtype(x)
    c = _channels(ctx, x)
    y = ctx.op.BatchNormalization(x, _affine(ctx, w, c, 1.0, dt), _affine(ctx, b, c, 0.0, dt),
                                  ctx.tensor(mean, dt), ctx.tensor(var, dt), epsilon=float(eps))
    return y, None, None


def _batch_norm_batch_stats(ctx: Ctx, x, w, b, eps):
    r = ctx.rank(x)
    dt = ctx.dtype(x)
    y, mean, rstd = _stats_norm(ctx, x, [0] + list(range(2, r)), eps)
    if w is not None:
        y = ctx.op.Mul(y, _per_channel(ctx, ctx.tensor(w, dt), r))
    if b is not None:
        y = ctx.op.Add(y, _per_channel(ctx, ctx.tensor(b, dt), r))
    flat = ctx.ints([-1])
    return y, ctx.op.Reshape(mean, flat), ctx.op.Reshape(rstd, flat)


@lowers(aten._native_batch_norm_legit.default)
def batch_norm_legit(ctx: Ctx, x, w, b, running_mean, running_var, training, momentum, eps):
    if not training:
        return batch_norm_inference(ctx, x, w, b, running_mean, running_var, momentum, eps)
    return _batch_norm_batch_stats(ctx, x, w, b, eps)


@lowers(aten._native_batch_norm_legit.no_stats)
def batch_norm_no_stats(ctx: Ctx, x, w, b, training, momentum, eps):
    return _batch_norm_batch_stats(ctx, x, w, b, eps)


@lowers(aten.native_batch_norm.default, aten._native_batch_norm_legit_functional.default)
def native_batch_norm(ctx: Ctx, x, w, b, running_mean, running_var, training, momentum, eps):
    if not training and running_mean is not None:
        return batch_norm_inference(ctx, x, w, b, running_mean, running_var, momentum, eps)
    out = _batch_norm_batch_stats(ctx, x, w, b, eps)
    if ctx.node.target is aten._native_batch_norm_legit_functional.default:
        return (*out, running_mean, running_var)
    return out


@lowers(aten.native_layer_norm.default)
def native_layer_norm(ctx: Ctx, x, normalized_shape, w, b, eps):
    dt = ctx.dtype(x)
    k = len(normalized_shape)
    shape = [static_int(s) for s in normalized_shape]
    if w is None and None in shape:
        raise ConversionError("layer_norm without weight over symbolic sizes is not supported")
    scale = _affine(ctx, w, shape, 1.0, dt)
    bias = _affine(ctx, b, shape, 0.0, dt) if b is not None else None
    n_out = 3 if (ctx.used(1) or ctx.used(2)) else 1
    out = ctx.op.LayerNormalization(x, scale, bias, axis=-k, epsilon=float(eps), _outputs=n_out)
    if n_out == 1:
        return out, None, None
    return out


@lowers(aten.layer_norm.default)
def layer_norm(ctx: Ctx, x, normalized_shape, w=None, b=None, eps=1e-5, cudnn_enable=True):
    return native_layer_norm(ctx, x, normalized_shape, w, b, eps)[0]


def _group_norm(ctx: Ctx, x, w, b, groups, eps):
    # group statistics are instance-norm statistics of x seen as [N, G, -1]
    dt = ctx.dtype(x)
    op = ctx.op
    r = ctx.rank(x)
    xs = op.Reshape(x, ctx.ints([0, groups, -1]))
    y = op.InstanceNormalization(xs, ctx.const(np.ones(groups), dt), ctx.const(np.zeros(groups), dt),
                                 epsilon=float(eps))
    y = op.Reshape(y, ctx.shape_of(x))
    if w is not None:
        y = op.Mul(y, _per_channel(ctx, ctx.tensor(w, dt), r))
    if b is not None:
        y = op.Add(y, _per_channel(ctx, ctx.tensor(b, dt), r))
    return y


@lowers(aten.native_group_norm.default)
def native_group_norm(ctx: Ctx, x, w, b, n, c, hxw, group, eps):
    if ctx.used(1) or ctx.used(2):
        raise ConversionError("the mean/rstd outputs of group_norm are not supported")
    return _group_norm(ctx, x, w, b, int(group), eps), None, None


@lowers(aten.group_norm.default)
def group_norm(ctx: Ctx, x, groups, w=None, b=None, eps=1e-5, cudnn_enabled=True):
    return _group_norm(ctx, x, w, b, int(groups), eps)


@lowers(aten.instance_norm.default)
def instance_norm(ctx: Ctx, x, w, b, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled):
    dt = ctx.dtype(x)
    if not use_input_stats:
        c = _channels(ctx, x)
        return ctx.op.BatchNormalization(x, _affine(ctx, w, c, 1.0, dt), _affine(ctx, b, c, 0.0, dt),
                                         ctx.tensor(running_mean, dt), ctx.tensor(running_var, dt),
                                         epsilon=float(eps))
    c = _channels(ctx, x)
    return ctx.op.InstanceNormalization(x, _affine(ctx, w, c, 1.0, dt), _affine(ctx, b, c, 0.0, dt),
                                        epsilon=float(eps))


@lowers(aten.rms_norm.default)
def rms_norm(ctx: Ctx, x, normalized_shape, w=None, eps=None):
    dt = ctx.dtype(x)
    op = ctx.op
    k = len(normalized_shape)
    if eps is None:
        eps = torch.finfo(dt).eps
    ax = ctx.ints(list(range(-k, 0)))
    ms = op.ReduceMean(op.Mul(x, x), ax, keepdims=1)
    y = op.Mul(x, op.Reciprocal(op.Sqrt(op.Add(ms, ctx.const(eps, dt)))))
    return op.Mul(y, ctx.tensor(w, dt)) if w is not None else y


@lowers(aten.batch_norm.default)
def batch_norm(ctx: Ctx, x, w, b, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    if training or running_mean is None:
        return _batch_norm_batch_stats(ctx, x, w, b, eps)[0]
    return batch_norm_inference(ctx, x, w, b, running_mean, running_var, momentum, eps)[0]
