"""GaussianMixture and BayesianGaussianMixture: predict (the component of highest weighted
log-probability) and predict_proba (its softmax), in double: the log-probabilities of far
points are large and their differences decide the probabilities."""

from __future__ import annotations

import numpy as np

from ._context import Classified, in_double
from ._registry import predictor, unsupported


def _cholesky_per_component(est) -> np.ndarray:
    """The precision Cholesky factor of each component as an (K, F, F) array."""
    pc = np.asarray(est.precisions_cholesky_, np.float64)
    k, f = np.asarray(est.means_).shape
    kind = est.covariance_type
    if kind == "full":
        return pc
    if kind == "tied":
        return np.broadcast_to(pc, (k, f, f)).copy()
    if kind == "diag":
        return np.stack([np.diag(row) for row in pc])
    if kind == "spherical":
        return np.stack([s * np.eye(f) for s in pc])
    raise unsupported(est, f"covariance_type={kind!r}")


def _log_det(est) -> np.ndarray:
    f = np.asarray(est.means_).shape[1]
    return np.array([np.log(np.diag(p)).sum() for p in _cholesky_per_component(est)]) if f else np.zeros(0)


def _extra_terms(est) -> np.ndarray:
    """What the model adds to the Gaussian log-density besides the log-weights (zero for
    GaussianMixture; BayesianGaussianMixture's degrees-of-freedom terms), per component."""
    from sklearn.mixture._gaussian_mixture import _estimate_log_gaussian_prob

    probe = np.asarray(est.means_, np.float64)
    gauss = _estimate_log_gaussian_prob(probe, est.means_, est.precisions_cholesky_, est.covariance_type)
    return (np.asarray(est._estimate_log_prob(probe), np.float64) - gauss).mean(axis=0)


@predictor("GaussianMixture", "BayesianGaussianMixture")
@in_double
def _gaussian_mixture(ctx, est, x):
    x = ctx.matrix(ctx.float(x))
    means = np.asarray(est.means_, np.float64)
    k, f = means.shape
    chol = _cholesky_per_component(est)
    # y_k = X P_k - mu_k P_k for every component at once: X (N, F) @ (F, K*F)
    stacked = np.concatenate(list(chol), axis=1)
    shift = np.concatenate([means[j] @ chol[j] for j in range(k)])
    y = ctx.op.Reshape(ctx.op.Sub(ctx.op.MatMul(x.v, ctx.const(stacked)), ctx.const(shift[None])),
                       ctx.i64([-1, k, f]))
    quad = ctx.reduce("ReduceSum", ctx.op.Mul(y, y), axis=2, keepdims=0)  # (N, K)
    const = -0.5 * f * np.log(2 * np.pi) + _log_det(est) + _extra_terms(est) + \
        np.asarray(est._estimate_log_weights(), np.float64)
    weighted = ctx.op.Add(ctx.op.Mul(quad, ctx.scalar(-0.5)), ctx.const(const[None]))
    classes = np.arange(k)
    return Classified(ctx.argmax_labels(weighted, classes), ctx.softmax(weighted), classes)
