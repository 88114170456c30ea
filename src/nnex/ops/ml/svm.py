"""ai.onnx.ml support vector machines: SVMClassifier, SVMRegressor.

The classifier follows libsvm's layout (what converters emit and onnxruntime runs):
with support vectors it is a one-vs-one SVC, one decision function per class pair
(i < j) built from the two classes' vectors, ``coefficients`` being libsvm's
[n_classes - 1, n_vectors] dual coefficients; the label is the majority vote and
class probabilities are reported when ``prob_a``/``prob_b`` (Platt scaling per pair)
are given: the pairwise probabilities are coupled into class probabilities by the
method of Wu, Lin and Weng (libsvm's ``multiclass_probability``).  Without support
vectors the model is linear: one weight row per class.  The decision values of all
pairs are one product of the kernel row with a [vectors, pairs] weight matrix built
once per node, the votes another; only the probability coupling iterates.
"""

from __future__ import annotations

import numpy as np

from ... import _jit
from .._fast_clip import clamp_float
from ..registry import ML_DOMAIN, op
from ._common import as_2d, as_float, class_labels, per_node, post_transform_scores, to_xp, transform_name


def _kernel(kernel_type: str, params, vectors: np.ndarray):
    """``k(x)``: [N, S] kernel values between samples x [N, F] and the rows of ``vectors`` [S, F],
    with what does not depend on x computed once.  The RBF kernel of float samples is computed
    in float32, as onnxruntime does (NumPy's float32 exp is vectorized: several times faster
    over a thousand support vectors); everything else in float64."""
    gamma, coef0, degree = (list(params or []) + [0.0, 0.0, 0.0])[:3]
    vt = vectors.T
    if kernel_type == "LINEAR":
        return lambda x: _f64(x) @ vt
    if kernel_type == "POLY":
        return lambda x: np.power(gamma * (_f64(x) @ vt) + coef0, int(degree))
    if kernel_type == "SIGMOID":
        return lambda x: np.tanh(gamma * (_f64(x) @ vt) + coef0)
    if kernel_type != "RBF":
        raise ValueError(f"unknown SVM kernel_type {kernel_type!r}")
    # |x - v|^2 = |x|^2 + |v|^2 - 2 x.v; -2 v scales exactly, so the terms are as written
    norms = np.sum(vectors * vectors, axis=1)
    tables = {np.dtype(t): (norms.astype(t), np.ascontiguousarray(-2.0 * vt, dtype=t), t(-gamma))
              for t in (np.float32, np.float64)}

    def rbf(x):
        norms_t, vt2, neg_gamma = tables[x.dtype]
        d2 = x @ vt2
        d2 += norms_t
        d2 += np.add.reduce(x * x, axis=1)[:, None]
        clamp_float(d2, 0.0, None, out=d2)
        d2 *= neg_gamma
        return np.exp(d2, out=d2)

    rbf.float32_tables = tables[np.dtype(np.float32)]  # for the compiled decisions (_numba_svm)
    return rbf


def _f64(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.float64 else x.astype(np.float64)


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _ovo_weights(coef: np.ndarray, vectors_per_class) -> np.ndarray:
    """[S, n_pairs] weights W such that k @ W are the one-vs-one decision values (before rho):
    pair (i, j) weighs class i's vectors by coef[j - 1] and class j's by coef[i] (libsvm's layout)."""
    bounds = np.concatenate([[0], np.cumsum(vectors_per_class)]).astype(np.int64)
    pairs = _pairs(len(vectors_per_class))
    w = np.zeros((int(bounds[-1]), len(pairs)))
    for p, (i, j) in enumerate(pairs):
        si = slice(bounds[i], bounds[i + 1])
        sj = slice(bounds[j], bounds[j + 1])
        w[si, p] = coef[j - 1, si]
        w[sj, p] = coef[i, sj]
    return w


def _vote_table(n_classes: int):
    """(D, c) such that ``(dec > 0) @ D + c`` counts each class's one-vs-one wins."""
    pairs = _pairs(n_classes)
    d = np.zeros((len(pairs), n_classes))
    c = np.zeros(n_classes)
    for p, (i, j) in enumerate(pairs):
        d[p, i] += 1.0  # i wins where dec > 0 ...
        d[p, j] -= 1.0  # ... j everywhere else
        c[j] += 1.0
    return d, c


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


def _rows(x) -> np.ndarray:
    """[N, F] float64 samples."""
    if type(x) is np.ndarray and x.ndim == 2:
        return x if x.dtype == np.float64 else x.astype(np.float64)
    return as_float(as_2d(x)).astype(np.float64)


def _samples(x) -> np.ndarray:
    """[N, F] samples for a kernel: float32 ones as they are, anything else as float64."""
    if type(x) is np.ndarray and x.ndim == 2 and x.dtype == np.float32:
        return x
    return _rows(x)


@op("SVMClassifier", since=1, domain=ML_DOMAIN)
@per_node
def svm_classifier(
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
    labels, coefs, rhos, sv, pa, pb = _prepare_classifier(
        classlabels_ints=classlabels_ints, classlabels_strings=classlabels_strings, coefficients=coefficients,
        prob_a=prob_a, prob_b=prob_b, rho=rho, support_vectors=support_vectors, vectors_per_class=vectors_per_class)
    n_classes = len(labels)
    transform = transform_name(post_transform)
    label_table = np.asarray(labels, dtype=object if labels and isinstance(labels[0], str) else np.int64)
    strings = label_table.dtype == object
    if sv is None:
        # linear mode: one weight row per class, all sharing rho[0] (as onnxruntime reads it)
        kernel = _kernel(kernel_type, kernel_params, coefs.reshape(n_classes, -1))
        bias = rhos[0]

        def classify(m):
            scores = kernel(m).astype(np.float64) + bias
            return scores.argmax(axis=1), scores
    else:
        kernel = _kernel(kernel_type, kernel_params, sv)
        weights = _ovo_weights(coefs.reshape(n_classes - 1, -1), list(vectors_per_class))
        weights32 = weights.astype(np.float32)
        n_pairs = weights.shape[1]
        bias = rhos[np.arange(n_pairs)]
        votes, lost = _vote_table(n_classes)
        pairs = np.array(_pairs(n_classes), dtype=np.int64).reshape(-1, 2).T.copy()
        weights_t32 = np.ascontiguousarray(weights32.T)
        # what the compiled vote writes: the labels themselves, or indices into the string labels
        label_ids = np.arange(n_classes, dtype=np.int64) if strings else label_table

        def classify(m):
            if m.shape[1] != sv.shape[1]:
                raise ValueError(f"SVMClassifier: support vectors of {sv.shape[1]} features for {m.shape[1]} features")
            tables = getattr(kernel, "float32_tables", None)
            jit = _jit.kernels("nnex.ops.ml._numba_svm") if tables is not None and m.dtype == np.float32 else None
            if jit is not None:
                k = np.empty((m.shape[0], tables[0].shape[0]), dtype=np.float32)
                jit.rbf_exponents(np.ascontiguousarray(m), tables[1], tables[0], tables[2], k)
                np.exp(k, out=k)
                if pa is None:
                    # the decisions and votes compiled too: labels and float32 scores
                    y = np.empty(m.shape[0], dtype=np.int64)
                    z = np.empty((m.shape[0], max(n_pairs, 2)), dtype=np.float32)
                    jit.ovo_decide(k, weights_t32, bias, pairs[0], pairs[1], label_ids, y, z)
                    return y, z
                dec = (k @ weights32).astype(np.float64)
            else:
                k = kernel(m)
                dec = (k @ weights32).astype(np.float64) if k.dtype == np.float32 else k @ weights
            dec += bias
            # the label is the majority vote even when probabilities are reported (as sklearn's
            # SVC.predict and onnxruntime do, libsvm would take the most probable class)
            # wins as 0.0 / 1.0 (fmax sends NaN to 0, as dec > 0 would): no bool matmul
            winner = (np.fmax(np.sign(dec), 0.0) @ votes + lost).argmax(axis=1)
            if pa is not None:
                r = np.zeros((m.shape[0], n_classes, n_classes))
                p = _platt(dec, pa, pb)
                r[:, pairs[0], pairs[1]] = p
                r[:, pairs[1], pairs[0]] = 1.0 - p
                return winner, couple_probabilities(r)
            if n_classes == 2:
                # one decision value: reported as the pair [-d, d], d for the second class
                return winner, np.concatenate([-dec, dec], axis=1)
            return winner, dec

    def run(xp, x):
        winner, scores = classify(_samples(x))
        if scores.dtype == np.float32:  # the compiled vote (winner: labels, or indices of strings)
            z = scores if transform == "NONE" else post_transform_scores(scores, transform).astype(np.float32, copy=False)
            y = label_table.take(winner) if strings else winner
        else:
            z = post_transform_scores(scores, transform).astype(np.float32)
            y = label_table.take(winner)
        return (y if strings else to_xp(xp, y)), to_xp(xp, z)

    return run


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
@per_node
def svm_regressor(
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
    coefs = np.asarray(coefficients if coefficients is not None else [], dtype=np.float64)
    bias = float(rho[0]) if rho is not None and len(rho) else 0.0
    transform = transform_name(post_transform)
    if n_supports > 0:
        kernel = _kernel(kernel_type, kernel_params,
                         np.asarray(support_vectors, dtype=np.float64).reshape(int(n_supports), -1))

        coefs32 = coefs.astype(np.float32)

        def predict(m):
            k = kernel(m)
            return ((k @ coefs32).astype(np.float64) if k.dtype == np.float32 else k @ coefs) + bias
    else:
        weights = coefs.reshape(-1)

        def predict(m):
            return m @ weights + bias

    def run(xp, x):
        y = predict(_samples(x))[:, None]
        if one_class:
            y = np.where(y > 0, 1.0, -1.0)
        return to_xp(xp, post_transform_scores(y, transform).astype(np.float32))

    return run
