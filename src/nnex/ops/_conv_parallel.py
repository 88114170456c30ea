"""Independent blocks of a convolution's output, computed on several threads.

NumPy's elementwise loops (and ``einsum``) run on one core, but they release the GIL
while they work on large arrays, so Python threads that each own a block of output rows
do run side by side.  The depthwise convolution (a weighted sum of taps, no matrix
product for BLAS to spread over the cores) is where this pays: its blocks are
independent and each is hundreds of microseconds of work, while handing one to a
thread costs about 20.

``NNEX_CONV_THREADS`` (read once, at the first large convolution) sets the number of
threads; by default 1: everything on the caller's thread (see ``_default_threads``).
"""

from __future__ import annotations

import os

import numpy as np

from .. import _jit
from ..runtime.helper_threads import run_parts as run_blocks
from ._conv_layout import derived_weights
from ._fast_clip import clamp_float

# below this many multiply-adds per block, handing a block to a thread costs more than it saves
MIN_BLOCK_WORK = 500_000

_threads: int | None = None  # the thread count, read from the environment once


def _default_threads() -> int:
    # One by default. Measured on a quiet 2-core machine (this session's benchmark), nnex's
    # own threads with BLAS on one thread made ResNet-50 1.3x, super-resolution 1.35x slower
    # than OpenBLAS's threaded products, and did not speed MobileNetV2 up; they only won on
    # a machine loaded by other processes, where OpenBLAS's spinning workers lose their cores.
    return 1


def thread_count() -> int:
    global _threads
    n = _threads
    if n is None:
        value = os.environ.get("NNEX_CONV_THREADS", "")
        try:
            n = int(value) if value else _default_threads()
        except ValueError:
            n = _default_threads()
        n = _threads = max(1, n)
    return n


def parts_for(work: int, limit: int) -> int:
    """How many blocks to split ``work`` multiply-adds into (at most ``limit``)."""
    if work < 2 * MIN_BLOCK_WORK:
        return 1
    return max(1, min(thread_count(), limit, work // MIN_BLOCK_WORK))


def matmul(a, b, out) -> None:
    """``np.matmul(a, b, out=out)``, its rows (``a``'s second-to-last axis) in blocks over the
    threads when the product is large. The session runs BLAS on one thread meanwhile
    (runtime/blas_threads.py): OpenBLAS's own workers spin for ~0.1 s after each call and
    would take the cores these blocks run on."""
    m = a.shape[-2]
    parts = parts_for(m * a.shape[-1] * b.shape[-1], m)
    if parts == 1:
        np.matmul(a, b, out=out)
        return
    bounds = [m * i // parts for i in range(parts + 1)]

    def block(r0, r1):
        np.matmul(a[..., r0:r1, :], b, out=out[..., r0:r1, :])

    run_blocks(block, [(bounds[i], bounds[i + 1]) for i in range(parts)])


def product_rows(a, b, out, bias=None, activation=None) -> None:
    """``out = a @ b``, plus ``bias`` (broadcasting as ``(1, cols)`` or ``(rows, 1)``), then
    clamped to ``activation``: all of it one block of ``a``'s rows at a time, the blocks
    over the threads when the product is large, so each thread adds and clamps the rows
    it has just written, while they are in its cache."""
    m = a.shape[-2]
    parts = parts_for(m * a.shape[-1] * b.shape[-1], m)
    finish = _finisher(out, bias, activation)

    def block(r0, r1):
        o = out[..., r0:r1, :]
        np.matmul(a[..., r0:r1, :], b, out=o)
        if finish is not None:
            finish(o, r0, r1)

    if parts == 1:
        block(0, m)
        return
    bounds = [m * i // parts for i in range(parts + 1)]
    run_blocks(block, [(bounds[i], bounds[i + 1]) for i in range(parts)])


_EPILOGUE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NO_BIAS = {dt: np.zeros(0, dt) for dt in _EPILOGUE_DTYPES}


def _finisher(out, bias, activation):
    """``finish(o, r0, r1)``: rows r0..r1 of ``out`` (``o``) plus their ``bias``, clamped to
    ``activation``, in place; one compiled pass (_numba_epilogue) when numba is on, else NumPy's
    add and clip. None when there is nothing to do."""
    if bias is None and activation is None:
        return None
    # a (rows, 1) bias: one value per row of ``out``; (1, cols): one per column
    per_row = bias is not None and bias.shape[0] != 1
    one_per = bias is None or (bias.ndim == 2 and out.ndim == 2 and (
        bias.shape == (out.shape[0], 1) if per_row else bias.shape == (1, out.shape[1])))
    if out.ndim == 2 and out.dtype in _EPILOGUE_DTYPES and one_per and (bias is None or bias.dtype == out.dtype):
        jit = _jit.kernels("nnex.ops._numba_epilogue")
        if jit is not None:
            vec = _NO_BIAS[out.dtype] if bias is None else bias.reshape(-1)
            t = out.dtype.type
            lo, hi = (None, None) if activation is None else activation
            lo, hi = t(-np.inf if lo is None else lo), t(np.inf if hi is None else hi)
            kernel = jit.bias_clamp
            return lambda o, r0, r1: kernel(o, vec[r0:r1] if per_row else vec, per_row, lo, hi)
    tiled = bias is not None and not per_row and one_per and out.flags.c_contiguous

    def finish(o, r0, r1):
        if bias is not None:
            if tiled:
                _add_row_bias(o, bias)
            else:
                o += bias[r0:r1] if per_row else bias
        if activation is not None:
            clamp(o, activation)

    return finish


# a bias row added to rows of few columns runs NumPy's broadcast loop once per row; over
# rows of at least this many elements (the bias tiled to match) it runs at memory speed
# (a 12544x96 add: 303 us against 155)
_TILED_ROW = 1024


def _add_row_bias(o, bias) -> None:
    """``o += bias`` for a C-contiguous (rows, cols) ``o`` and a (1, cols) ``bias``."""
    rows, cols = o.shape
    k = min(rows, max(1, _TILED_ROW // cols))
    if k == 1:
        o += bias
        return
    # keyed on the bias array itself: the (1, cols) view is a new object each call
    src = bias.base if bias.base is not None and bias.base.size == cols else bias
    tiled = derived_weights(src, ("tiled-bias", k), lambda b: np.tile(b.reshape(1, cols), (1, k)))
    n = rows // k * k
    head = o[:n].reshape(n // k, k * cols)
    head += tiled
    if n < rows:
        o[n:] += bias


def bias_and_clamp(y2d, bias, activation) -> None:
    """``y2d += bias``, then clamp to ``activation`` (``(lo, hi)``, either None for no bound), in place.

    ``bias`` (None, or broadcasting as ``(1, cols)`` or ``(rows, 1)``) is added block of rows
    by block of rows, the clamp following while the block is in cache (see ``_finisher``);
    large arrays are split over the threads.
    """
    finish = _finisher(y2d, bias, activation)
    if finish is None:
        return
    rows = y2d.shape[0]
    parts = parts_for(y2d.size * 4, rows)  # about as slow per element as four multiply-adds
    bounds = [rows * i // parts for i in range(parts + 1)]
    run_blocks(lambda r0, r1: finish(y2d[r0:r1], r0, r1), [(bounds[i], bounds[i + 1]) for i in range(parts)])


def clamp(y, activation) -> None:
    """Clamp ``y`` in place to ``activation`` = ``(lo, hi)`` (Clip / Relu), either bound None."""
    clamp_float(y, activation[0], activation[1], out=y)
