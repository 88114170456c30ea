"""A backend's array namespace: the library's array API module, plus nnex's dtype table,
plus (for accelerators) array creation defaulting to the backend's device."""

from __future__ import annotations

import functools
import types

# array-creating functions that take ``device=``; on an accelerator they default to it
_CREATION = ("arange", "asarray", "empty", "eye", "full", "linspace", "ones", "zeros")


def make_namespace(name: str, module, dtypes: dict, device=None) -> types.ModuleType:
    """A copy of ``module`` (an array API namespace) with ``nnex_dtypes`` set to ``dtypes``
    (NumPy dtype -> the library's dtype) and creation functions placed on ``device``."""
    ns = types.ModuleType(name, getattr(module, "__doc__", None))
    ns.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    ns.nnex_dtypes = dtypes
    ns.nnex_device = device
    if device is not None:
        for fname in _CREATION:
            fn = getattr(module, fname, None)
            if fn is not None:
                setattr(ns, fname, _on_device(fn, device))
    return ns


def _on_device(fn, device):
    @functools.wraps(fn)
    def create(*args, **kwargs):
        if kwargs.get("device") is None:
            kwargs["device"] = device
        return fn(*args, **kwargs)

    return create
