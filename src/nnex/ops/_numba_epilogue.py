"""The bias and clamp that follow a convolution's matrix product, in one compiled pass (numba;
see nnex/_jit.py).

NumPy adds the bias in one pass over the product and clamps it (a fused Relu/Clip) in
another; on a large output each pass costs about as much as memory allows, together about as
much as the product itself (MobileNetV2's 16->96 1x1 conv at 112x112: 422 us of product, 380 of
bias and clamp).  Here each value is read and written once.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def bias_clamp(y, bias, per_row, lo, hi):
    """y [rows, cols] += bias (``per_row``: bias[r] for row r, else bias[c] for column c; an
    empty bias adds nothing), then clamped to [lo, hi] (max first, then min; NaN stays NaN)."""
    rows, cols = y.shape
    has_bias = bias.shape[0] > 0
    for r in range(rows):
        yr = y[r]
        for c in range(cols):
            v = yr[c]
            if has_bias:
                v += bias[r] if per_row else bias[c]
            if v < lo:  # noqa: PLR1730 - max() would turn NaN into the bound
                v = lo
            if v > hi:  # noqa: PLR1730
                v = hi
            yr[c] = v
