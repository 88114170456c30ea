"""Array backends: numpy (default); torch, jax and cupy are selected through providers.

A provider is a name, optionally with a device: "numpy", "torch", "torch:cuda",
"torch:cuda:1", "jax", "jax:cpu", "cupy", "cupy:1"; onnxruntime's names map onto ours.
"""

from __future__ import annotations

import importlib.util

from .base import ArrayBackend, UnsupportedDtypeError
from .numpy_backend import NumpyBackend

# onnxruntime's provider names map onto ours so that code written for onnxruntime runs as is
_ORT_ALIASES = {
    "CPUExecutionProvider": "numpy",
    "CUDAExecutionProvider": "torch:cuda",
}

_LIBRARIES = {"torch": "torch", "jax": "jax", "cupy": "cupy"}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available_backends() -> list[str]:
    """The providers this installation can use (a GPU provider only where a GPU is seen)."""
    names = ["numpy"]
    if _installed("torch"):
        names.append("torch")
        import torch

        if torch.cuda.is_available():
            names.append("torch:cuda")
    if _installed("jax"):
        names.append("jax")
    if _installed("cupy") and _cuda_devices() > 0:
        names.append("cupy")
    return names


def _cuda_devices() -> int:
    """GPUs CuPy sees (0 without a driver)."""
    import cupy

    try:
        return cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError:
        return 0


def _make(name: str, device: str | None) -> ArrayBackend:
    if name == "numpy":
        if device not in (None, "cpu"):
            raise ValueError(f"the numpy backend runs on the CPU only, not {device!r}")
        return NumpyBackend()
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(device or "cpu")
    if name == "jax":
        from .jax_backend import JaxBackend

        return JaxBackend(device)
    if name == "cupy":
        from .cupy_backend import CupyBackend

        return CupyBackend(device)
    raise KeyError(name)


def get_backend(providers=None) -> ArrayBackend:
    """The backend for the first provider that is available ("numpy" when none is given)."""
    if not providers:
        return NumpyBackend()
    if isinstance(providers, str):
        providers = [providers]
    errors = []
    for p in providers:
        if isinstance(p, (tuple, list)):
            p = p[0]
        spec = _ORT_ALIASES.get(p, p)
        name, _, device = spec.partition(":")
        if name not in ("numpy", *_LIBRARIES):
            errors.append(f"{p!r}: unknown provider (known: numpy, torch, torch:cuda, jax, cupy and "
                          f"{', '.join(_ORT_ALIASES)})")
            continue
        if name != "numpy" and not _installed(_LIBRARIES[name]):
            errors.append(f"{p!r}: {_LIBRARIES[name]} is not installed (pip install nnex[{name}])")
            continue
        try:
            return _make(name, device or None)
        except Exception as e:  # noqa: BLE001  (the next provider may do)
            errors.append(f"{p!r}: {e}")
    raise ValueError("no usable provider in " + repr(list(providers)) + ": " + "; ".join(errors))


__all__ = ["ArrayBackend", "NumpyBackend", "UnsupportedDtypeError", "available_backends", "get_backend"]
