"""Kernel approximations and kernel ridge regression."""

from __future__ import annotations

import numpy as np

from ._context import FLOAT, Data
from ._kernels import pairwise_kernel
from ._registry import predictor, transformer, unsupported


@transformer("Nystroem")
def _nystroem(ctx, est, x):
    x = ctx.matrix(ctx.float(x))
    if callable(est.kernel) or est.kernel == "precomputed":
        raise unsupported(est, f"kernel={est.kernel!r}")
    k = pairwise_kernel(ctx, x.v, est.components_, est.kernel, est._get_kernel_params())
    norm = np.asarray(est.normalization_, np.float64)
    return Data(ctx.op.MatMul(k, ctx.const(norm.T)), FLOAT, norm.shape[0])


@transformer("RBFSampler")
def _rbf_sampler(ctx, est, x):
    x = ctx.matrix(ctx.float(x))
    proj = ctx.linear(x.v, est.random_weights_, est.random_offset_)
    out = ctx.op.Mul(ctx.op.Cos(proj), ctx.scalar((2.0 / est.n_components) ** 0.5))
    return Data(out, FLOAT, np.asarray(est.random_weights_).shape[1])


@predictor("KernelRidge")
def _kernel_ridge(ctx, est, x):
    x = ctx.matrix(ctx.float(x))
    params = est.kernel_params if est.kernel_params is not None else \
        {"gamma": est.gamma, "degree": est.degree, "coef0": est.coef0}
    k = pairwise_kernel(ctx, x.v, est.X_fit_, est.kernel, params)
    dual = np.asarray(est.dual_coef_, np.float64)
    out = ctx.op.MatMul(k, ctx.const(dual.reshape(len(dual), -1)))
    return Data(ctx.flat(out), ndim=1) if dual.ndim == 1 else Data(out, width=dual.shape[1])


@transformer("KernelCenterer")
def _kernel_centerer(ctx, est, x):
    k = ctx.matrix(ctx.float(x))
    rows = np.asarray(est.K_fit_rows_, np.float64)
    # K - fit_rows - mean(K over the fitted columns) + fit_all
    pred_cols = ctx.op.Div(ctx.sum(k.v), ctx.scalar(rows.shape[0]))
    out = ctx.op.Sub(ctx.op.Sub(k.v, ctx.const(rows[None])), pred_cols)
    out = ctx.op.Add(out, ctx.scalar(float(est.K_fit_all_)))
    return Data(out, FLOAT, k.width)
