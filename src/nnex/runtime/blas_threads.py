"""BLAS on one thread for the length of a run, where nnex spreads the work itself.

With ``NNEX_CONV_THREADS`` above 1 the NumPy backend splits a large convolution's matrix
products, depthwise sums and bias/clamp passes over its own threads (ops/_conv_parallel.py).
OpenBLAS's worker threads busy-wait about 0.1 s after each call before they sleep (measured
here), so a product handed to them leaves them spinning on the cores nnex's next blocks
need: BLAS runs on one thread during such a run. The previous thread count is restored
after the run, so the caller's own NumPy work keeps its BLAS threads.
"""

from __future__ import annotations

import threading


class _SingleThreadBlas:
    """Entered by every run that wants it; the first one in sets one thread, the last one out
    restores the count (runs of several sessions or threads may overlap)."""

    def __init__(self, libs):
        self.libs = libs
        self.lock = threading.Lock()
        self.active = 0
        self.saved = None

    def __enter__(self):
        with self.lock:
            if self.active == 0:
                self.saved = [lib.get_num_threads() for lib in self.libs]
                for lib in self.libs:
                    lib.set_num_threads(1)
            self.active += 1
        return self

    def __exit__(self, *exc):
        with self.lock:
            self.active -= 1
            if self.active == 0:
                for lib, n in zip(self.libs, self.saved):
                    lib.set_num_threads(n)
        return False


_scope: _SingleThreadBlas | None = None
_scope_lock = threading.Lock()


def _shared_scope():
    """The process's one _SingleThreadBlas, or False when threadpoolctl is missing or finds no BLAS."""
    global _scope
    if _scope is None:
        with _scope_lock:
            if _scope is None:
                try:
                    from threadpoolctl import ThreadpoolController
                except ImportError:
                    _scope = False
                else:
                    libs = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
                    _scope = _SingleThreadBlas(libs) if libs else False
    return _scope


def single_thread_blas():
    """A factory of contexts that run BLAS on one thread, or None when that cannot be
    done here (threadpoolctl not installed, no BLAS library found, or it already has one)."""
    scope = _shared_scope()
    if not scope or wanted_threads() <= 1:
        return None
    return lambda: scope


def wanted_threads() -> int | None:
    """The BLAS thread count the process asked for (an intra_op_num_threads, OPENBLAS_NUM_THREADS):
    the count in force, or the one a single-thread scope of nnex's own will restore; None when
    it cannot be read (no threadpoolctl, no BLAS found)."""
    scope = _shared_scope()
    if not scope:
        return None
    saved = scope.saved if scope.active else None
    return max(saved if saved else [lib.get_num_threads() for lib in scope.libs])
