"""nnex's own helper threads, for kernels that split their work in independent parts.

NumPy's larger loops, BLAS and the compiled kernels (nnex/_jit.py) release the GIL, so a part
handed to another Python thread runs on another core. ``run_parts(fn, parts)`` runs the first
part on the caller's thread and the others on helper threads, and returns when all are done.

Handing over goes through two plain locks per helper: a ``ThreadPoolExecutor`` round trip
(future, queue, condition) costs about 40 us here, two locks about 12.

A woken helper is kept off the caller's CPU. Linux places a thread woken by another on the
waker's CPU when it expects the waker to sleep soon; the caller does not sleep, it runs its own
part, and the two then share one core until the load balancer moves one of them, which takes
longer than a part of a few milliseconds: measured on two LSTM directions (1.6 ms each), half
the pairs started on one CPU and took 3.1-3.5 ms, against 1.6 with the helper kept away.
"""

from __future__ import annotations

import ctypes
import os
import threading


def _cpu_getter():
    """A function giving the CPU the calling thread runs on, or None where that is unknown."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sched_getcpu
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_int
    fn.argtypes = []
    return fn


_current_cpu = _cpu_getter()


class _Helper:
    """One thread that runs one part at a time."""

    def __init__(self):
        self.go = threading.Lock()
        self.go.acquire()
        self.done = threading.Lock()
        self.done.acquire()
        self.job = None
        self.error = None
        self.tid = None
        self.cpus = None  # the CPU set it was last given, None: never restricted
        started = threading.Event()
        threading.Thread(target=self._loop, args=(started,), name="nnex-helper", daemon=True).start()
        started.wait()

    def _loop(self, started):
        self.tid = threading.get_native_id()
        started.set()
        while True:
            self.go.acquire()
            fn, args = self.job
            self.job = None
            try:
                fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised on the caller's thread
                self.error = e
            self.done.release()

    def keep_off(self, cpu: int) -> None:
        """Let the helper run on any CPU the process may use but ``cpu``."""
        try:
            allowed = os.sched_getaffinity(0)
        except OSError:
            return
        cpus = allowed - {cpu} or allowed
        if cpus != self.cpus:
            try:
                os.sched_setaffinity(self.tid, cpus)
            except OSError:  # the thread is gone or the set is not allowed: placement is only a hint
                return
            self.cpus = cpus

    def start(self, fn, args):
        self.job = (fn, args)
        self.go.release()

    def wait(self):
        self.done.acquire()
        err, self.error = self.error, None
        if err is not None:
            raise err


_helpers: list = []
_busy = threading.Lock()  # held by the caller whose parts the helpers run


def _take_helpers(n: int) -> list | None:
    """``n`` idle helpers, or None when another caller has them (its parts then run inline)."""
    if not _busy.acquire(blocking=False):
        return None
    try:
        while len(_helpers) < n:
            _helpers.append(_Helper())
    except BaseException:
        _busy.release()
        raise
    return _helpers[:n]


def _forget_helpers() -> None:
    # a forked child has none of the parent's threads: its first split starts its own
    global _helpers, _busy
    _helpers, _busy = [], threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helpers)


def run_parts(fn, parts) -> None:
    """``fn(*part)`` for every part: the first on this thread, the others on helper threads (or
    here too, one after the other, when another caller is using the helpers)."""
    if len(parts) == 1:
        fn(*parts[0])
        return
    helpers = _take_helpers(len(parts) - 1)
    if helpers is None:
        for part in parts:
            fn(*part)
        return
    try:
        if _current_cpu is not None:
            here = _current_cpu()
            if here >= 0:
                for h in helpers:
                    h.keep_off(here)
        started = []
        try:
            for h, part in zip(helpers, parts[1:]):
                h.start(fn, part)
                started.append(h)
            fn(*parts[0])
        finally:
            errors = []
            for h in started:
                try:
                    h.wait()
                except BaseException as e:  # noqa: BLE001
                    errors.append(e)
        if errors:
            raise errors[0]
    finally:
        _busy.release()
