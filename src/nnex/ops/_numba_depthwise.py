"""The depthwise convolution as one compiled loop (numba; see nnex/_jit.py).

Channels-last, one output pixel at a time: its channels start from the bias, every kernel
tap inside the image adds its input pixel times the tap's weights (a contiguous run of
channels, which the compiler turns into vector multiply-adds), and the clamp of a fused
Relu/Clip is applied on the way out.  The padding is never materialised: taps outside
the image are skipped.  Accumulation is in the output type, as onnxruntime's.
"""

from __future__ import annotations

import numba
import numpy as np

# contract: allow fused multiply-add; the other fast-math flags would change NaN and inf handling
_FLAGS = {"contract"}


@numba.njit(cache=True, nogil=True, boundscheck=False, fastmath=_FLAGS)
def depthwise2d(x, w, b, pad_top, pad_left, stride_h, stride_w, dil_h, dil_w, lo, hi, out):
    """x (N, H, W, C), w (KH, KW, C), b (C,), out (N, Ho, Wo, C); all C-contiguous.

    ``lo``/``hi`` clamp the result (-inf/inf: no clamp); NaN passes through, as in NumPy's clip.
    """
    N, H, W, C = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    KH, KW = w.shape[0], w.shape[1]
    acc = np.empty(C, dtype=out.dtype)
    for n in range(N):
        for ho in range(Ho):
            for wo in range(Wo):
                for c in range(C):
                    acc[c] = b[c]
                for ki in range(KH):
                    hi_ = ho * stride_h - pad_top + ki * dil_h
                    if hi_ < 0 or hi_ >= H:
                        continue
                    for kj in range(KW):
                        wi = wo * stride_w - pad_left + kj * dil_w
                        if wi < 0 or wi >= W:
                            continue
                        for c in range(C):
                            acc[c] += x[n, hi_, wi, c] * w[ki, kj, c]
                for c in range(C):
                    v = acc[c]
                    # not max()/min(): they would turn NaN into a bound
                    if v < lo:  # noqa: PLR1730
                        v = lo
                    if v > hi:  # noqa: PLR1730
                        v = hi
                    out[n, ho, wo, c] = v

