"""An RBF SVM classifier's work around NumPy's exp as two compiled loops (numba; see nnex/_jit.py).

For a few samples, NumPy computes the squared distances to the support vectors in five small
calls (a product, three adds, a clamp), each costing more than its arithmetic.  Here, per
sample: |x|^2 + |v|^2 - 2 x.v (as svm.py computes it, in float32 as onnxruntime does),
clamped at 0 and scaled by -gamma.  The exp stays with NumPy, whose float32 exp is vectorised
(a compiled scalar exp per vector is slower).  The decisions (a product with the pair weights and rho) and the one-vs-one vote are the second
loop: a row's scores otherwise take another eight NumPy calls.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def rbf_exponents(x, vt2, norms, neg_gamma, out):
    """out[s, j] = neg_gamma * max(|x_s|^2 + norms[j] + x_s . vt2[:, j], 0).

    x (N, F), vt2 (F, S) = -2 * vectors.T, norms (S,) = |v_j|^2, out (N, S); float32.
    """
    n, n_features = x.shape
    n_vectors = norms.shape[0]
    for s in range(n):
        xx = np.float32(0.0)
        for f in range(n_features):
            xx += x[s, f] * x[s, f]
        o = out[s]
        for j in range(n_vectors):
            o[j] = norms[j] + xx
        for f in range(n_features):
            xf = x[s, f]
            for j in range(n_vectors):
                o[j] += xf * vt2[f, j]
        for j in range(n_vectors):
            d = o[j]
            if d < 0:
                d = np.float32(0.0)
            o[j] = d * neg_gamma


# reassoc: the dot products vectorise (summed in lanes, as a BLAS product would)
@numba.njit(cache=True, nogil=True, fastmath={"contract", "reassoc"}, error_model="numpy")
def ovo_decide(k, weights_t, bias, pair_i, pair_j, label_ids, labels, scores):
    """One-vs-one decisions and the majority vote, after the kernel values k (N, S) float32.

    A decision is k[s] . weights_t[p] (float32, as svm.py's product) + bias[p] (float64),
    rounded to float32 into scores[s, p]; of two classes, scores[s] = [-d, d].  Pair p =
    (pair_i[p], pair_j[p]) is a win for its first class where d > 0, for its second elsewhere
    (NaN included); labels[s] = label_ids[first class with the most wins].
    """
    n, n_vectors = k.shape
    n_pairs = weights_t.shape[0]
    n_classes = label_ids.shape[0]
    votes = np.zeros(n_classes, dtype=np.int64)
    for s in range(n):
        ks = k[s]
        votes[:] = 0
        for p in range(n_pairs):
            w = weights_t[p]
            acc = np.float32(0.0)
            for j in range(n_vectors):
                acc += ks[j] * w[j]
            d = np.float64(acc) + bias[p]
            if n_classes == 2:
                scores[s, 0] = -d
                scores[s, 1] = d
            else:
                scores[s, p] = d
            if d > 0:
                votes[pair_i[p]] += 1
            else:
                votes[pair_j[p]] += 1
        best = 0
        for c in range(1, n_classes):
            if votes[c] > votes[best]:
                best = c
        labels[s] = label_ids[best]
