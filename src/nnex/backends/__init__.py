"""Array backends: numpy (default); torch, jax and cupy are selected through providers."""

from __future__ import annotations

from .base import ArrayBackend
from .numpy_backend import NumpyBackend

# onnxruntime's provider names map onto ours so that code written for onnxruntime runs as is
_ORT_ALIASES = {
    "CPUExecutionProvider": "numpy",
    "CUDAExecutionProvider": "torch:cuda",
}


def available_backends() -> list[str]:
    names = ["numpy"]
    for mod, name in (("torch", "torch"), ("jax", "jax"), ("cupy", "cupy")):
        try:
            __import__(mod)
            names.append(name)
        except ImportError:
            pass
    return names


def get_backend(providers=None) -> ArrayBackend:
    """The backend for the first provider that is available ("numpy" when none is given)."""
    if not providers:
        return NumpyBackend()
    errors = []
    for p in providers:
        if isinstance(p, (tuple, list)):
            p = p[0]
        name = _ORT_ALIASES.get(p, p)
        if name == "numpy":
            return NumpyBackend()
        errors.append(f"{p!r}: not available in this version of nnex (available: {', '.join(available_backends())})")
    raise ValueError("no usable provider in " + repr(list(providers)) + ": " + "; ".join(errors))


__all__ = ["ArrayBackend", "NumpyBackend", "available_backends", "get_backend"]
