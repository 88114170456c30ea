"""ai.onnx.ml support vector machines: SVMClassifier, SVMRegressor.

The classifier follows libsvm's layout (what converters emit and onnxruntime runs):
with support vectors it is a one-vs-one SVC, one decision function per class pair
(i < j) built from the two classes' vectors, ``coefficients`` being libsvm's
[n_classes - 1, n_vectors] dual coefficients; the label is the majority vote and
class probabilities are reported when ``prob_a``/``prob_b`` (Platt scaling per pair)
are given: the pairwise probabilities are coupled into class probabilities by the
method of Wu, Lin and Weng (libsvm's ``multiclass_probability``).  Without support
vectors the model is linear: one weight row per class.  Everything is vectorized
over samples; loops run over class pairs and coupling iterations only.
"""

from __future__ import annotations

import numpy as np

from ..registry import ML_DOMAIN, op
from ._common import as_2d, as_float, class_labels, label_array, post_transform_scores, prepared


def _kernel(x: np.ndarray, sv: np.ndarray, kernel_type: str, params) -> np.ndarray:
    """[N, S] kernel values between samples and support vectors."""
    gamma, coef0, degree = (list(params or []) + [0.0, 0.0, 0.0])[:3]
    if kernel_type == "LINEAR":
        return x @ sv.T
    if kernel_type == "POLY":
        return np.power(gamma * (x @ sv.T) + coef0, int(degree))
    if kernel_type == "RBF":
        d2 = np.sum(x * x, axis=1)[:, None] + np.sum(sv * sv, axis=1)[None, :] - 2.0 * (x @ sv.T)
        return np.exp(-gamma * np.maximum(d2, 0.0))
    if kernel_type == "SIGMOID":
        return np.tanh(gamma * (x @ sv.T) + coef0)
    raise ValueError(f"unknown SVM kernel_type {kernel_type!r}")


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _ovo_decisions(k: np.ndarray, coef: np.ndarray, rho: np.ndarray, vectors_per_class) -> np.ndarray:
    """[N, n_pairs] one-vs-one decision values from the kernel matrix [N, S]."""
    bounds = np.concatenate([[0], np.cumsum(vectors_per_class)]).astype(np.int64)
    n_classes = len(vectors_per_class)
    cols = []
    for p, (i, j) in enumerate(_pairs(n_classes)):
        si = slice(bounds[i], bounds[i + 1])
        sj = slice(bounds[j], bounds[j + 1])
        cols.append(k[:, si] @ coef[j - 1, si] + k[:, sj] @ coef[i, sj] + rho[p])
    return np.stack(cols, axis=1) if cols else np.zeros((k.shape[0], 0))


def _platt(dec: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise probabilities 1 / (1 + exp(A * dec + B)), kept off 0 and 1."""
    z = dec * a + b
    e = np.exp(-np.abs(z))
    p = np.where(z >= 0, e / (1.0 + e), 1.0 / (1.0 + e))
    return np.clip(p, 1e-7, 1.0 - 1e-7)


def couple_probabilities(r: np.ndarray) -> np.ndarray:
    """Class probabilities [N, K] from pairwise ones r[N, K, K] (r[:, i, j] = P(i | i or j)).

    Wu, Lin & Weng (2004), method 2, solved by libsvm's fixed-point iteration; each
    sample stops updating once it has converged, as it would on its own.
    """
    n, k, _ = r.shape
    off = ~np.eye(k, dtype=bool)
    q = -np.transpose(r, (0, 2, 1)) * r  # Q[t, j] = -r[j, t] * r[t, j]
    diag = np.sum(np.where(off, np.transpose(r, (0, 2, 1)) ** 2, 0.0), axis=2)
    q[:, np.arange(k), np.arange(k)] = diag
    p = np.full((n, k), 1.0 / k)
    eps = 0.005 / k
    active = np.ones(n, dtype=bool)
    for _ in range(max(100, k)):
        qp = np.einsum("ntj,nj->nt", q, p)
        pqp = np.sum(p * qp, axis=1)
        active &= np.max(np.abs(qp - pqp[:, None]), axis=1) >= eps
        if not active.any():
            break
        for t in range(k):
            a = active
            diff = (pqp[a] - qp[a, t]) / q[a, t, t]
            p[a, t] += diff
            scale = 1.0 + diff
            pqp[a] = (pqp[a] + diff * (diff * q[a, t, t] + 2.0 * qp[a, t])) / scale**2
            qp[a] = (qp[a] + diff[:, None] * q[a, t, :]) / scale[:, None]
            p[a] /= scale[:, None]
    return p


@op("SVMClassifier", since=1, domain=ML_DOMAIN)
def svm_classifier(
    xp,
    x,
    *,
    classlabels_ints=None,
    classlabels_strings=None,
    coefficients=None,
    kernel_params=None,
    kernel_type="LINEAR",
    post_transform="NONE",
    prob_a=None,
    prob_b=None,
    rho=None,
    support_vectors=None,
    vectors_per_class=None,
):
    attrs = {k: v for k, v in locals().items() if k not in ("xp", "x")}
    labels, coefs, rhos, sv, pa, pb = prepared("SVMClassifier", attrs, lambda: _prepare_classifier(**attrs))
    m = as_float(as_2d(x)).astype(np.float64)
    n_classes = len(labels)
    if sv is not None:
        if sv.shape[1] != m.shape[1]:
            raise ValueError(f"SVMClassifier: support vectors of {sv.shape[1]} features for {m.shape[1]} features")
        k = _kernel(m, sv, kernel_type, kernel_params)
        dec = _ovo_decisions(k, coefs.reshape(n_classes - 1, -1), rhos, list(vectors_per_class))
        # the label is the majority vote even when probabilities are reported (as sklearn's
        # SVC.predict and onnxruntime do, libsvm would take the most probable class)
        votes = np.zeros((m.shape[0], n_classes), dtype=np.int64)
        for p, (i, j) in enumerate(_pairs(n_classes)):
            win_i = dec[:, p] > 0
            votes[:, i] += win_i
            votes[:, j] += ~win_i
        winner = np.argmax(votes, axis=1)
        if pa is not None:
            r = np.zeros((m.shape[0], n_classes, n_classes))
            for p, (i, j) in enumerate(_pairs(n_classes)):
                r[:, i, j] = _platt(dec[:, p], pa[p], pb[p])
                r[:, j, i] = 1.0 - r[:, i, j]
            scores = couple_probabilities(r)
        elif n_classes == 2:
            # one decision value: reported as the pair [-d, d], d for the second class
            scores = np.concatenate([-dec, dec], axis=1)
        else:
            scores = dec
    else:
        # linear mode: one weight row per class, all sharing rho[0] (as onnxruntime reads it)
        scores = _kernel(m, coefs.reshape(n_classes, -1), kernel_type, kernel_params) + rhos[0]
        winner = np.argmax(scores, axis=1)
    z = post_transform_scores(scores, post_transform)
    y = label_array(labels, winner)
    return (y if y.dtype == object else xp.asarray(y)), xp.asarray(z.astype(np.float32))


def _prepare_classifier(*, classlabels_ints, classlabels_strings, coefficients, prob_a, prob_b, rho,
                        support_vectors, vectors_per_class, **_):
    labels, _ = class_labels(classlabels_ints, classlabels_strings)
    coefs = np.asarray(coefficients if coefficients is not None else [], dtype=np.float64)
    rhos = np.asarray(rho if rho is not None and len(rho) else [0.0], dtype=np.float64)
    sv = None
    if vectors_per_class is not None and len(vectors_per_class) and support_vectors is not None and len(support_vectors):
        n_sv = int(np.sum(vectors_per_class))
        sv = np.asarray(support_vectors, dtype=np.float64).reshape(n_sv, -1)
    pa = pb = None
    if prob_a is not None and len(prob_a):
        pa, pb = np.asarray(prob_a, dtype=np.float64), np.asarray(prob_b, dtype=np.float64)
    return labels, coefs, rhos, sv, pa, pb


@op("SVMRegressor", since=1, domain=ML_DOMAIN)
def svm_regressor(
    xp,
    x,
    *,
    coefficients=None,
    kernel_params=None,
    kernel_type="LINEAR",
    n_supports=0,
    one_class=0,
    post_transform="NONE",
    rho=None,
    support_vectors=None,
):
    attrs = {"coefficients": coefficients, "n_supports": n_supports, "support_vectors": support_vectors}
    coefs, sv = prepared("SVMRegressor", attrs, lambda: _prepare_regressor(**attrs))
    m = as_float(as_2d(x)).astype(np.float64)
    bias = float(rho[0]) if rho is not None and len(rho) else 0.0
    if sv is not None:
        y = _kernel(m, sv, kernel_type, kernel_params) @ coefs + bias
    else:
        y = m @ coefs.reshape(-1) + bias
    y = y[:, None]
    if one_class:
        y = np.where(y > 0, 1.0, -1.0)
    return xp.asarray(post_transform_scores(y, post_transform).astype(np.float32))


def _prepare_regressor(*, coefficients, n_supports, support_vectors):
    coefs = np.asarray(coefficients if coefficients is not None else [], dtype=np.float64)
    sv = None
    if n_supports > 0:
        sv = np.asarray(support_vectors, dtype=np.float64).reshape(int(n_supports), -1)
    return coefs, sv
