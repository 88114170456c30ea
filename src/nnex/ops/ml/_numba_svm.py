"""The RBF kernel's exponents for a few samples as one compiled loop (numba; see nnex/_jit.py).

For a few samples, NumPy computes the squared distances to the support vectors in five small
calls (a product, three adds, a clamp), each costing more than its arithmetic.  Here, per
sample: |x|^2 + |v|^2 - 2 x.v (as svm.py computes it, in float32 as onnxruntime does),
clamped at 0 and scaled by -gamma.  The exp and the product with the pair weights stay with
NumPy, whose float32 exp is vectorised (a compiled scalar exp per vector is slower).
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
