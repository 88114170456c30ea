"""Activations and softmax."""

from __future__ import annotations

import math

import torch

from ..context import Ctx
from ..registry import lowers
from ._common import BOOL, FLOAT, aten, axis


@lowers(aten.gelu.default)
def gelu(ctx: Ctx, x, approximate="none"):
    dt = ctx.out_dtype
    if ctx.opset >= 20:
        return ctx.op.Gelu(x, approximate=approximate)
    op = ctx.op
    half, one = ctx.const(0.5, dt), ctx.const(1.0, dt)
    if approximate == "tanh":
        inner = op.Mul(ctx.const(math.sqrt(2 / math.pi), dt),
                       op.Add(x, op.Mul(ctx.const(0.044715, dt), op.Mul(x, op.Mul(x, x)))))
        return op.Mul(op.Mul(half, x), op.Add(one, op.Tanh(inner)))
    return op.Mul(op.Mul(half, x), op.Add(one, op.Erf(op.Div(x, ctx.const(math.sqrt(2.0), dt)))))


@lowers(aten.hardtanh.default)
def hardtanh(ctx: Ctx, x, lo=-1.0, hi=1.0):
    dt = ctx.out_dtype
    if dt.is_floating_point:
        return ctx.op.Clip(x, ctx.const(lo, dt), ctx.const(hi, dt))
    return ctx.op.Min(ctx.op.Max(x, ctx.const(lo, dt)), ctx.const(hi, dt))


@lowers(aten.leaky_relu.default)
def leaky_relu(ctx: Ctx, x, slope=0.01):
    return ctx.op.LeakyRelu(x, alpha=float(slope))


@lowers(aten.elu.default)
def elu(ctx: Ctx, x, alpha=1.0, scale=1.0, input_scale=1.0):
    if scale == 1 and input_scale == 1:
        return ctx.op.Elu(x, alpha=float(alpha))
    dt = ctx.out_dtype
    op = ctx.op
    neg = op.Mul(ctx.const(alpha, dt), op.Sub(op.Exp(op.Mul(x, ctx.const(input_scale, dt))), ctx.const(1.0, dt)))
    return op.Mul(op.Where(op.Greater(x, ctx.const(0.0, dt)), x, neg), ctx.const(scale, dt))


@lowers(aten.celu.default)
def celu(ctx: Ctx, x, alpha=1.0):
    return ctx.op.Celu(x, alpha=float(alpha))


@lowers(aten.selu.default)
def selu(ctx: Ctx, x):
    return ctx.op.Selu(x, alpha=1.6732632423543772, gamma=1.0507009873554805)


@lowers(aten.silu.default)
def silu(ctx: Ctx, x):
    return ctx.op.Mul(x, ctx.op.Sigmoid(x))


@lowers(aten.mish.default)
def mish(ctx: Ctx, x):
    return ctx.op.Mul(x, ctx.op.Tanh(softplus(ctx, x)))


@lowers(aten.hardswish.default)
def hardswish(ctx: Ctx, x):
    return ctx.op.HardSwish(x)


@lowers(aten.hardsigmoid.default)
def hardsigmoid(ctx: Ctx, x):
    return ctx.op.HardSigmoid(x, alpha=1 / 6, beta=0.5)


@lowers(aten.softplus.default)
def softplus(ctx: Ctx, x, beta=1.0, threshold=20.0):
    # torch switches to the identity above the threshold; ONNX Softplus does not
    dt = ctx.dtype(x)
    op = ctx.op
    bx = x if beta == 1 else op.Mul(x, ctx.const(beta, dt))
    sp = op.Softplus(bx)
    if beta != 1:
        sp = op.Div(sp, ctx.const(beta, dt))
    return op.Where(op.Greater(bx, ctx.const(threshold, dt)), x, sp)


@lowers(aten.log_sigmoid_forward.default)
def log_sigmoid_forward(ctx: Ctx, x):
    dt = ctx.dtype(x)
    op = ctx.op
    zero = ctx.const(0.0, dt)
    out = op.Sub(op.Min(x, zero), op.Softplus(op.Neg(op.Abs(x))))
    return out, None


@lowers(aten.prelu.default, aten._prelu_kernel.default)
def prelu(ctx: Ctx, x, w):
    r = ctx.rank(x)
    wr = ctx.rank(w)
    if wr == 1 and r >= 2:
        shape = ctx.static_shape(w)
        if shape and shape[0] != 1:
            w = ctx.op.Reshape(w, ctx.ints([shape[0]] + [1] * (r - 2)))
    return ctx.op.PRelu(x, w)


@lowers(aten.threshold.default)
def threshold(ctx: Ctx, x, th, value):
    dt = ctx.out_dtype
    return ctx.op.Where(ctx.op.Greater(x, ctx.const(th, dt)), x, ctx.const(value, dt))


@lowers(aten.glu.default)
def glu(ctx: Ctx, x, dim=-1):
    a, b = ctx.op.Split(x, axis=axis(dim, ctx.rank(x)), num_outputs=2, _outputs=2)
    return ctx.op.Mul(a, ctx.op.Sigmoid(b))


@lowers(aten._softmax.default, aten.softmax.int)
def softmax(ctx: Ctx, x, dim, half_to_float=False):
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt if not isinstance(half_to_float, torch.dtype) else half_to_float)
    return ctx.op.Softmax(x, axis=axis(dim, ctx.rank(x)))


@lowers(aten._log_softmax.default, aten.log_softmax.int)
def log_softmax(ctx: Ctx, x, dim, half_to_float=False):
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt if not isinstance(half_to_float, torch.dtype) else half_to_float)
    return ctx.op.LogSoftmax(x, axis=axis(dim, ctx.rank(x)))


@lowers(aten._safe_softmax.default)
def safe_softmax(ctx: Ctx, x, dim, dtype=None):
    # a row that is -inf everywhere gives zeros instead of NaN
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt)
    ax = axis(dim, ctx.rank(x))
    op = ctx.op
    sm = op.Softmax(x, axis=ax)
    masked = op.IsInf(x, detect_positive=0)
    all_masked = op.ReduceMin(op.Cast(masked, to=FLOAT), ctx.ints([ax]), keepdims=1)
    return op.Where(op.Cast(all_masked, to=BOOL), ctx.const(0.0, dt), sm)
