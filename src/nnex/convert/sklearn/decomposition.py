"""Matrix decompositions (PCA and relatives), kernel PCA, and linear projections."""

from __future__ import annotations

import numpy as np

from ._context import FLOAT, Data
from ._kernels import pairwise_kernel
from ._registry import predictor, transformer, unsupported


def _affine(ctx, x, w, b=None) -> Data:
    x = ctx.float(x)
    x = ctx.matrix(x)
    w = np.asarray(w, np.float64)
    return Data(ctx.linear(x.v, w, b), FLOAT, w.shape[1])


@transformer("PCA", "IncrementalPCA")
def _pca(ctx, est, x):
    comps = np.asarray(est.components_, np.float64)
    w = comps.T
    b = -(np.asarray(est.mean_, np.float64) @ w)
    if est.whiten:
        scale = np.sqrt(np.asarray(est.explained_variance_, np.float64))
        scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
        w, b = w / scale, b / scale
    return _affine(ctx, x, w, b)


@transformer("TruncatedSVD")
def _truncated_svd(ctx, est, x):
    return _affine(ctx, x, np.asarray(est.components_).T)


@transformer("FastICA")
def _fast_ica(ctx, est, x):
    w = np.asarray(est.components_, np.float64).T
    b = -(np.asarray(est.mean_, np.float64) @ w) if est.whiten else None
    return _affine(ctx, x, w, b)


@transformer("FactorAnalysis")
def _factor_analysis(ctx, est, x):
    comps = np.asarray(est.components_, np.float64)
    wpsi = comps / np.asarray(est.noise_variance_, np.float64)
    cov_z = np.linalg.inv(np.eye(len(comps)) + wpsi @ comps.T)
    w = wpsi.T @ cov_z
    return _affine(ctx, x, w, -(np.asarray(est.mean_, np.float64) @ w))


@transformer("SparsePCA", "MiniBatchSparsePCA")
def _sparse_pca(ctx, est, x):
    # transform is a ridge regression on the components: linear in X
    comps = np.asarray(est.components_, np.float64)
    gram = comps @ comps.T + est.ridge_alpha * np.eye(len(comps))
    w = comps.T @ np.linalg.inv(gram)
    return _affine(ctx, x, w, -(np.asarray(est.mean_, np.float64) @ w))


@transformer("GaussianRandomProjection", "SparseRandomProjection")
def _random_projection(ctx, est, x):
    comps = est.components_
    comps = comps.toarray() if hasattr(comps, "toarray") else np.asarray(comps)
    return _affine(ctx, x, np.asarray(comps, np.float64).T)


@transformer("KernelPCA")
def _kernel_pca(ctx, est, x):
    x = ctx.matrix(ctx.float(x))
    if callable(est.kernel) or est.kernel == "precomputed":
        raise unsupported(est, f"kernel={est.kernel!r}")
    k = pairwise_kernel(ctx, x.v, est.X_fit_, est.kernel,
                        {"gamma": est.gamma_, "degree": est.degree, "coef0": est.coef0})
    c = est._centerer
    rows = np.asarray(c.K_fit_rows_, np.float64)
    # KernelCenterer.transform: K - fit_rows - mean(K, axis=1) + fit_all
    pred_cols = ctx.op.Div(ctx.sum(k), ctx.scalar(rows.shape[0]))
    k = ctx.op.Add(ctx.op.Sub(ctx.op.Sub(k, ctx.const(rows[None])), pred_cols), ctx.scalar(float(c.K_fit_all_)))
    vals = np.asarray(est.eigenvalues_, np.float64)
    vecs = np.asarray(est.eigenvectors_, np.float64)
    nz = np.flatnonzero(vals)
    alphas = np.zeros_like(vecs)
    alphas[:, nz] = vecs[:, nz] / np.sqrt(vals[nz])
    return Data(ctx.op.MatMul(k, ctx.const(alphas)), FLOAT, alphas.shape[1])


@transformer("DictionaryLearning", "MiniBatchDictionaryLearning")
def _iterative(ctx, est, x):
    raise unsupported(est, "transform (it solves an optimisation problem per sample, iterated to a tolerance)")


@transformer("NeighborhoodComponentsAnalysis")
def _nca(ctx, est, x):
    return _affine(ctx, x, np.asarray(est.components_, np.float64).T)


@transformer("BernoulliRBM")
def _bernoulli_rbm(ctx, est, x):
    # transform: the hidden units' activation probabilities
    h = _affine(ctx, x, np.asarray(est.components_, np.float64).T, est.intercept_hidden_)
    return Data(ctx.op.Sigmoid(h.v), FLOAT, h.width)


# ------------------------------------------------------------------ cross decomposition


def _pls_scaled(ctx, est, x):
    """(X - x_mean) / x_std as a Data."""
    x = ctx.matrix(ctx.float(x))
    mean = np.asarray(est._x_mean, np.float64)
    std = np.asarray(est._x_std, np.float64)
    return Data(ctx.op.Div(ctx.op.Sub(x.v, ctx.const(mean[None])), ctx.const(std[None])), FLOAT, x.width)


@transformer("PLSRegression", "PLSCanonical", "CCA")
def _pls_transform(ctx, est, x):
    return _affine(ctx, _pls_scaled(ctx, est, x), est.x_rotations_)


@transformer("PLSSVD")
def _pls_svd_transform(ctx, est, x):
    return _affine(ctx, _pls_scaled(ctx, est, x), est.x_weights_)


@predictor("PLSRegression", "PLSCanonical", "CCA")
def _pls_predict(ctx, est, x):
    # predict centres X but does not scale it: coef_ holds the scaling
    x = ctx.matrix(ctx.float(x))
    coef = np.asarray(est.coef_, np.float64)  # (n_targets, n_features)
    mean = np.asarray(est._x_mean, np.float64)
    out = ctx.linear(x.v, coef.T, np.asarray(est.intercept_, np.float64) - mean @ coef.T)
    if est._predict_1d:
        return Data(ctx.flat(out), ndim=1)
    return Data(out, FLOAT, coef.shape[0])
