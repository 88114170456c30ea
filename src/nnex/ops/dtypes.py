"""Dtypes across backends: NumPy dtypes (the ONNX element types) <-> an ``xp``'s own.

A non-NumPy backend's namespace carries ``nnex_dtypes``: the NumPy dtypes it holds,
mapped to its own dtype objects. A dtype missing from that table lives on the host only,
and a kernel that would produce it returns ``NotImplemented`` so the runtime runs it on
NumPy (see backends/base.py).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np


def backend_dtype(xp, dtype):
    """``xp``'s dtype for NumPy ``dtype``, or None when the backend cannot hold it."""
    table = getattr(xp, "nnex_dtypes", None)
    if table is None:
        return np.dtype(dtype)  # NumPy holds every ONNX type (ml_dtypes included)
    return table.get(np.dtype(dtype))


def numpy_dtype(dtype) -> np.dtype:
    """The NumPy dtype of any backend's dtype (NumPy, JAX and CuPy use NumPy's; torch its own)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        name = str(dtype).rpartition(".")[2]  # torch.float32 -> float32
        return np.dtype(getattr(ml_dtypes, name, None) or name)


def on_host(xp) -> bool:
    """True when ``xp`` is NumPy's namespace (every dtype, every NumPy function)."""
    return getattr(xp, "nnex_dtypes", None) is None


def astype(xp, x, dtype, copy: bool = True):
    """``x`` as NumPy ``dtype`` on ``xp``'s backend (no copy when it already is)."""
    target = backend_dtype(xp, dtype)
    if target is None:
        raise TypeError(f"this backend has no array type for {np.dtype(dtype).name}")
    if x.dtype == target:
        return x
    return xp.astype(x, target)


def xp_asarray(xp, value, dtype):
    """A host value (scalar or NumPy array) as an ``xp`` array of NumPy ``dtype``."""
    v = np.asarray(value, dtype=dtype)
    if on_host(xp):
        return v
    target = backend_dtype(xp, dtype)
    if target is None:
        raise TypeError(f"this backend has no array type for {v.dtype.name}")
    if v.dtype.kind not in "biufc":  # bfloat16, float8: not every library reads them from NumPy
        return xp.astype(xp.asarray(v.astype(np.float32)), target)
    return xp.asarray(v)
