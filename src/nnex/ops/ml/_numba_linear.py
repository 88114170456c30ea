"""LinearClassifier's scores, post-transform and winning class as one compiled loop (numba; see
nnex/_jit.py).

A logistic regression scored one row at a time is a few dozen multiply-adds; NumPy does it in
about ten calls (product, bias, transform, argmax, label lookup, casts) of a microsecond each.
Here it is one call.  The arithmetic is linear.py's, in float32 as onnxruntime computes it:
raw scores X @ W.T + b, the winner their first maximum (NumPy's argmax: a NaN wins), and the
transform applied row by row with the same formulas as _common.py.
"""

from __future__ import annotations

import numba
import numpy as np

# post_transform codes (linear.py maps the names)
NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def classify(x, w, b, transform, label_ids, labels_out, scores_out):
    """labels_out[s] = label_ids[argmax_c raw[s, c]], scores_out[s] = transform(raw[s]).

    x (N, F), w (C, F), b (C,), scores_out (N, C): float32; label_ids (C,), labels_out (N,): int64.
    """
    n, n_features = x.shape
    n_classes = w.shape[0]
    for s in range(n):
        o = scores_out[s]
        best = 0
        for c in range(n_classes):
            acc = np.float32(0.0)
            for f in range(n_features):
                acc += x[s, f] * w[c, f]
            v = acc + b[c]
            o[c] = v
            # first maximum, and a NaN takes it for good (as np.argmax)
            top = o[best]
            if top == top and (v > top or v != v):
                best = c
        labels_out[s] = label_ids[best]
        if transform == LOGISTIC:
            for c in range(n_classes):
                v = o[c]
                e = np.exp(-abs(v))
                o[c] = np.float32(1.0) / (np.float32(1.0) + e) if v >= 0 else e / (np.float32(1.0) + e)
        elif transform == SOFTMAX or transform == SOFTMAX_ZERO:
            top = o[0]
            for c in range(1, n_classes):
                v = o[c]
                if v > top or v != v:  # np.maximum: NaN propagates
                    top = v
                if top != top:
                    break
            total = np.float32(0.0)
            for c in range(n_classes):
                v = o[c]
                if transform == SOFTMAX_ZERO and not abs(v) > np.float32(1e-7):  # NaN: a zero too
                    e = np.float32(0.0)
                else:
                    e = np.exp(v - top)
                o[c] = e
                total += e
            if transform == SOFTMAX_ZERO and total == 0:
                total = np.float32(1.0)
            for c in range(n_classes):
                o[c] = o[c] / total
