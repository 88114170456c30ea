"""GaussianProcessRegressor.predict: the posterior mean K(X, X_train) @ alpha_, in double
(alpha_ often sums large terms of both signs).

Kernels: ConstantKernel, WhiteKernel, RBF (isotropic or not), Matern (nu 0.5, 1.5, 2.5,
inf), RationalQuadratic, ExpSineSquared, DotProduct, and their sums, products and powers.
Distances come from the differences themselves (an (N, M, F) tensor), as scipy's cdist
computes them, so that a query equal to a training point gets exactly 0.
"""

from __future__ import annotations

import math

import numpy as np

from ._context import Classified, Ctx, Data, in_double
from ._registry import name_of, predictor, unsupported


def _sq_dists(ctx: Ctx, x, y: np.ndarray, scale=1.0):
    """cdist(x / scale, y / scale, "sqeuclidean") (N, M)."""
    scale = np.asarray(scale, np.float64)
    xs = ctx.op.Div(x, ctx.const(np.broadcast_to(scale, (y.shape[1],))[None]))
    diff = ctx.op.Sub(ctx.op.Unsqueeze(xs, ctx.i64([1])), ctx.const((y / scale)[None]))
    return ctx.reduce("ReduceSum", ctx.op.Mul(diff, diff), axis=2, keepdims=0)


def gp_kernel(ctx: Ctx, owner, k, x, y: np.ndarray):
    """k(X, Y) for a fitted scikit-learn kernel and constant rows Y."""
    op = ctx.op
    kind = name_of(k)
    n_rows = ctx.op.Shape(x, start=0, end=1)
    full = (lambda value: op.Expand(ctx.const([[value]]), op.Concat(n_rows, ctx.i64([len(y)]), axis=0)))
    if kind == "Sum":
        return op.Add(gp_kernel(ctx, owner, k.k1, x, y), gp_kernel(ctx, owner, k.k2, x, y))
    if kind == "Product":
        return op.Mul(gp_kernel(ctx, owner, k.k1, x, y), gp_kernel(ctx, owner, k.k2, x, y))
    if kind == "Exponentiation":
        return op.Pow(gp_kernel(ctx, owner, k.kernel, x, y), ctx.scalar(float(k.exponent)))
    if kind == "ConstantKernel":
        return full(float(k.constant_value))
    if kind == "WhiteKernel":
        return full(0.0)  # noise only on k(X, X); k(X, Y) is zero
    if kind == "DotProduct":
        return op.Add(op.MatMul(x, ctx.const(y.T)), ctx.scalar(float(k.sigma_0) ** 2))
    if kind == "RBF":
        return op.Exp(op.Mul(_sq_dists(ctx, x, y, k.length_scale), ctx.scalar(-0.5)))
    if kind == "Matern":
        d = op.Sqrt(_sq_dists(ctx, x, y, k.length_scale))
        nu = float(k.nu)
        if nu == 0.5:
            return op.Exp(op.Neg(d))
        if nu == 1.5:
            s = op.Mul(d, ctx.scalar(math.sqrt(3)))
            return op.Mul(op.Add(s, ctx.scalar(1.0)), op.Exp(op.Neg(s)))
        if nu == 2.5:
            s = op.Mul(d, ctx.scalar(math.sqrt(5)))
            poly = op.Add(op.Add(s, ctx.scalar(1.0)), op.Div(op.Mul(s, s), ctx.scalar(3.0)))
            return op.Mul(poly, op.Exp(op.Neg(s)))
        if np.isinf(nu):
            return op.Exp(op.Div(op.Neg(op.Mul(d, d)), ctx.scalar(2.0)))
        raise unsupported(owner, f"a Matern kernel with nu={nu} (Bessel functions; supported: 0.5, 1.5, 2.5, inf)")
    if kind == "RationalQuadratic":
        alpha, ls = float(k.alpha), float(np.asarray(k.length_scale).ravel()[0])
        base = op.Add(op.Div(_sq_dists(ctx, x, y), ctx.scalar(2 * alpha * ls ** 2)), ctx.scalar(1.0))
        return op.Pow(base, ctx.scalar(-alpha))
    if kind == "ExpSineSquared":
        d = op.Sqrt(_sq_dists(ctx, x, y))
        s = op.Div(op.Sin(op.Mul(d, ctx.scalar(np.pi / float(k.periodicity)))), ctx.scalar(float(k.length_scale)))
        return op.Exp(op.Mul(op.Mul(s, s), ctx.scalar(-2.0)))
    raise unsupported(owner, f"the kernel {kind}")


@predictor("GaussianProcessRegressor")
@in_double
def _gp_regressor(ctx, est, x):
    x = ctx.matrix(ctx.float(x))
    if not hasattr(est, "X_train_"):
        raise unsupported(est, "an unfitted model (its prior)")
    train = np.asarray(est.X_train_)
    if train.dtype.kind not in "fiub":
        raise unsupported(est, "training data that is not numeric")
    k = gp_kernel(ctx, est, est.kernel_, x.v, np.asarray(train, np.float64))
    alpha = np.asarray(est.alpha_, np.float64)
    alpha2 = alpha.reshape(len(alpha), -1)
    std = np.broadcast_to(np.asarray(est._y_train_std, np.float64).ravel(), (alpha2.shape[1],))
    mean = np.broadcast_to(np.asarray(est._y_train_mean, np.float64).ravel(), (alpha2.shape[1],))
    out = ctx.op.Add(ctx.op.Mul(ctx.op.MatMul(k, ctx.const(alpha2)), ctx.const(std[None])), ctx.const(mean[None]))
    if alpha.ndim == 1 or alpha2.shape[1] == 1:
        return Data(ctx.flat(out), ndim=1)
    return Data(out, width=alpha2.shape[1])


def gp_kernel_diag(ctx: Ctx, owner, k, x):
    """k.diag(X) as (N, 1): k(x, x) for each row (White noise included)."""
    op = ctx.op
    kind = name_of(k)
    ones = op.Add(op.Mul(op.ReduceSum(x, ctx.i64([1]), keepdims=1), ctx.scalar(0.0)), ctx.scalar(1.0))
    if kind == "Sum":
        return op.Add(gp_kernel_diag(ctx, owner, k.k1, x), gp_kernel_diag(ctx, owner, k.k2, x))
    if kind == "Product":
        return op.Mul(gp_kernel_diag(ctx, owner, k.k1, x), gp_kernel_diag(ctx, owner, k.k2, x))
    if kind == "Exponentiation":
        return op.Pow(gp_kernel_diag(ctx, owner, k.kernel, x), ctx.scalar(float(k.exponent)))
    if kind == "ConstantKernel":
        return op.Mul(ones, ctx.scalar(float(k.constant_value)))
    if kind == "WhiteKernel":
        return op.Mul(ones, ctx.scalar(float(k.noise_level)))
    if kind == "DotProduct":
        return op.Add(op.ReduceSum(op.Mul(x, x), ctx.i64([1]), keepdims=1), ctx.scalar(float(k.sigma_0) ** 2))
    if kind in ("RBF", "Matern", "RationalQuadratic", "ExpSineSquared"):
        return ones  # normalized stationary kernels: k(x, x) = 1
    raise unsupported(owner, f"the kernel {kind}")


_SERIES_TERMS, _FRACTION_TERMS, _SWITCH = 45, 90, 2.5


def erf(ctx: Ctx, z):
    """erf in double to about 1e-15 (onnxruntime has no double Erf): its Maclaurin series
    below |z| = 2.5, 1 - erfc by the continued fraction above."""
    op = ctx.op
    a = op.Abs(z)
    small = op.Min(a, ctx.scalar(_SWITCH))
    z2 = op.Mul(small, small)
    acc = ctx.scalar(0.0)
    for n in range(_SERIES_TERMS, -1, -1):
        c = (-1) ** n / (math.factorial(n) * (2 * n + 1))
        acc = op.Add(op.Mul(acc, z2), ctx.scalar(c))
    series = op.Mul(op.Mul(acc, small), ctx.scalar(2.0 / math.sqrt(math.pi)))
    big = op.Max(a, ctx.scalar(_SWITCH))
    t = big
    for k in range(_FRACTION_TERMS, 0, -1):
        t = op.Add(big, op.Div(ctx.scalar(k / 2.0), t))
    erfc = op.Div(op.Exp(op.Neg(op.Mul(big, big))), op.Mul(t, ctx.scalar(math.sqrt(math.pi))))
    value = op.Where(op.LessOrEqual(a, ctx.scalar(_SWITCH)), series, op.Sub(ctx.scalar(1.0), erfc))
    return op.Where(op.Less(z, ctx.scalar(0.0)), op.Neg(value), value)


def _binary_laplace(ctx: Ctx, owner, b, x):
    """(latent mean (N, 1), P(class 1) (N, 1)) of a _BinaryGaussianProcessClassifierLaplace."""
    from sklearn.gaussian_process._gpc import COEFS, LAMBDAS

    train = np.asarray(b.X_train_, np.float64)
    k = gp_kernel(ctx, owner, b.kernel_, x, train)  # (N, M)
    mean = ctx.op.MatMul(k, ctx.const((np.asarray(b.y_train_, np.float64) - b.pi_)[:, None]))
    # v = L^-1 (W_sr K*): v^T = K(X, X_train) diag(W_sr) L^-T
    lower = np.asarray(b.L_, np.float64)
    proj = np.asarray(b.W_sr_, np.float64)[:, None] * np.linalg.inv(lower).T
    vt = ctx.op.MatMul(k, ctx.const(proj))
    var = ctx.op.Sub(gp_kernel_diag(ctx, owner, b.kernel_, x), ctx.sum(ctx.op.Mul(vt, vt)))
    lam = np.asarray(LAMBDAS, np.float64).ravel()[None, :]  # (1, 5)
    coefs = np.asarray(COEFS, np.float64).ravel()
    alpha = ctx.op.Div(ctx.scalar(1.0), ctx.op.Mul(var, ctx.scalar(2.0)))
    gamma = ctx.op.Mul(mean, ctx.const(lam))
    arg = ctx.op.Mul(gamma, ctx.op.Sqrt(ctx.op.Div(alpha, ctx.op.Add(alpha, ctx.const(lam ** 2)))))
    integrals = ctx.op.Div(ctx.op.Mul(ctx.op.Sqrt(ctx.op.Div(ctx.scalar(np.pi), alpha)), erf(ctx, arg)),
                           ctx.op.Mul(ctx.op.Sqrt(ctx.op.Mul(var, ctx.scalar(2 * np.pi))), ctx.scalar(2.0)))
    p1 = ctx.op.Add(ctx.op.MatMul(integrals, ctx.const(coefs[:, None])), ctx.scalar(0.5 * coefs.sum()))
    return mean, p1


@predictor("GaussianProcessClassifier")
@in_double
def _gp_classifier(ctx, est, x):
    x = ctx.matrix(ctx.float(x))
    classes = np.asarray(est.classes_)
    base = est.base_estimator_
    if len(classes) == 2:
        mean, p1 = _binary_laplace(ctx, est, base, x.v)
        label = ctx.threshold_labels(mean, classes)  # f* > 0: the second class
        return Classified(label, ctx.binary_columns(p1), classes)
    if est.multi_class != "one_vs_rest":
        raise unsupported(est, f"multi_class={est.multi_class!r} (no predict_proba)")
    # one-vs-rest over binary Laplace classifiers: argmax of P(class), rows normalized
    p = ctx.op.Concat(*[_binary_laplace(ctx, est, b, x.v)[1] for b in base.estimators_], axis=1)
    s = ctx.sum(p)
    proba = ctx.op.Div(p, ctx.op.Where(ctx.op.Equal(s, ctx.scalar(0.0)), ctx.scalar(1.0), s))
    return Classified(ctx.argmax_labels(p, classes), proba, classes)
