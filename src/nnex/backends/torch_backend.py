"""PyTorch backend: ``providers=["torch"]`` (CPU) or ``["torch:cuda"]`` (``"torch:cuda:1"``, ...)."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from .base import ArrayBackend
from .namespace import make_namespace


def _dtype_table(torch) -> dict:
    # uint16/32/64 and the float8 types exist in torch, but most ops refuse them: they stay
    # on the host, where NumPy computes with them
    pairs = {
        np.bool_: torch.bool, np.uint8: torch.uint8, np.int8: torch.int8, np.int16: torch.int16,
        np.int32: torch.int32, np.int64: torch.int64, np.float16: torch.float16,
        ml_dtypes.bfloat16: torch.bfloat16, np.float32: torch.float32, np.float64: torch.float64,
        np.complex64: torch.complex64, np.complex128: torch.complex128,
    }
    return {np.dtype(k): v for k, v in pairs.items()}


class TorchBackend(ArrayBackend):
    name = "torch"

    def __init__(self, device: str = "cpu"):
        super().__init__()
        import array_api_compat.torch as compat
        import torch

        self._torch = torch
        self.device = device
        self._device = torch.device(device)
        if self._device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"torch:{device}: this PyTorch has no CUDA device available")
        self._on_cpu = self._device.type == "cpu"
        self._dtypes = _dtype_table(torch)
        self.xp = make_namespace(f"nnex.torch.{device}", compat, self._dtypes,
                                 None if self._on_cpu else self._device)
        from . import torch_kernels

        torch_kernels.register(self)

    def holds(self, dtype) -> bool:
        return dtype in self._dtypes

    def asarray(self, x, *, strict: bool = False):
        torch = self._torch
        if isinstance(x, torch.Tensor):
            return x if x.device == self._device else x.to(self._device)
        if not isinstance(x, np.ndarray):
            if x is None or isinstance(x, (list, tuple, dict)):
                return self.structured(x, strict)
            x = np.asarray(x)
        tdtype = self._dtypes.get(x.dtype)
        if tdtype is None:
            if strict:
                raise self._unsupported(x.dtype)
            return x
        if not x.flags.writeable or any(s < 0 for s in x.strides) or not x.dtype.isnative:
            # torch shares NumPy's memory; it needs a writeable, native-endian, forward layout
            x = np.array(x, dtype=x.dtype.newbyteorder("="), order="C")
        if tdtype is torch.bfloat16:
            t = torch.from_numpy(x.view(np.int16)).view(torch.bfloat16)
        else:
            t = torch.from_numpy(x)
        return t if self._on_cpu else t.to(self._device)

    def to_numpy(self, x) -> np.ndarray:
        torch = self._torch
        if isinstance(x, np.ndarray):
            return x
        if not isinstance(x, torch.Tensor):
            return np.asarray(x)
        if x.requires_grad:
            x = x.detach()
        if not self._on_cpu:
            x = x.cpu()
        if x.is_conj():
            x = x.resolve_conj()
        if x.dtype is torch.bfloat16:
            return x.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        return x.numpy()
