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
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# below this many multiply-adds per block, handing a block to a thread costs more than it saves
MIN_BLOCK_WORK = 500_000

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
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


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < workers:  # noqa: SLF001 - grow it (the count changed)
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="nnex-conv")
        return _pool


def _forget_pool() -> None:
    # a forked child has none of the parent's threads: its first large convolution starts its own
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_blocks(fn, blocks) -> None:
    """``fn(*block)`` for every block: the first on this thread, the others on the pool."""
    if len(blocks) == 1:
        fn(*blocks[0])
        return
    pool = _executor(len(blocks) - 1)
    futures = [pool.submit(fn, *blk) for blk in blocks[1:]]
    try:
        fn(*blocks[0])
    finally:
        for f in futures:
            f.result()


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


def bias_and_clamp(y2d, bias, activation) -> None:
    """``y2d += bias``, then clamp to ``activation`` (``(lo, hi)``, either None for no bound), in place.

    ``bias`` (None, or broadcasting as ``(1, cols)`` or ``(rows, 1)``) is added block of rows
    by block of rows, the clamp following while the block is in cache; large arrays are
    split over the threads.
    """
    if bias is None and activation is None:
        return
    rows = y2d.shape[0]
    parts = parts_for(y2d.size * 4, rows)  # about as slow per element as four multiply-adds
    bounds = [rows * i // parts for i in range(parts + 1)]

    def block(r0, r1):
        part = y2d[r0:r1]
        if bias is not None:
            part += bias if bias.shape[0] == 1 else bias[r0:r1]
        if activation is not None:
            clamp(part, activation)

    run_blocks(block, [(bounds[i], bounds[i + 1]) for i in range(parts)])


def clamp(y, activation) -> None:
    """Clamp ``y`` in place to ``activation`` = ``(lo, hi)`` (Clip / Relu), either bound None."""
    lo, hi = activation
    if hi is None:
        np.maximum(y, lo, out=y)
    elif lo is None:
        np.minimum(y, hi, out=y)
    else:
        np.clip(y, lo, hi, out=y)
