"""Optional compiled kernels, through numba, for the few ops NumPy cannot run at memory speed.

NumPy does an op as a sequence of whole-array calls.  Where an op is a small amount of
work per element spread over many calls (a depthwise convolution: nine multiply-adds per
output, each its own pass over memory; a tree ensemble: one data-dependent step per tree
level), the calls cost more than the arithmetic.  With numba installed (``pip install
nnex[perf]``) such an op runs as one compiled loop; without it, the NumPy kernels run, and
give the same results.  ``NNEX_JIT=0`` turns the compiled kernels off.

Kernels are compiled on first use and cached on disk (numba's ``cache=True``), so a new
process loads them instead of compiling them again.
"""

from __future__ import annotations

import importlib
import os
import threading

_lock = threading.Lock()
_loaded: dict = {}


def enabled() -> bool:
    """Whether compiled kernels may be used: numba importable and ``NNEX_JIT`` not ``0``
    (read once; ``refresh()`` reads it again)."""
    on = _loaded.get("enabled")
    if on is None:
        off = os.environ.get("NNEX_JIT", "1").strip().lower() in ("0", "false", "no", "off")
        on = _loaded["enabled"] = not off and _numba() is not None
    return on


def refresh() -> None:
    """Read ``NNEX_JIT`` again at the next kernel lookup."""
    _loaded.pop("enabled", None)


def _numba():
    if "numba" not in _loaded:
        with _lock:
            if "numba" not in _loaded:
                try:
                    import numba
                except Exception:  # noqa: BLE001 - any failure to import means: no compiled kernels
                    numba = None
                _loaded["numba"] = numba
    return _loaded["numba"]


def kernels(module: str):
    """The kernel module ``module`` (a module of nnex that imports numba), or None when compiled
    kernels are off or the module cannot be imported."""
    mod = _loaded.get(module)
    if mod is not None and _loaded.get("enabled"):
        return mod or None
    if not enabled():
        return None
    if mod is None:
        with _lock:
            mod = _loaded.get(module)
            if mod is None:
                try:
                    mod = importlib.import_module(module)
                except Exception:  # noqa: BLE001 - a broken numba install falls back to NumPy
                    mod = False
                _loaded[module] = mod
    return mod or None
