"""CuPy backend (NVIDIA GPUs): ``providers=["cupy"]`` or ``["cupy:1"]`` for GPU 1.

CuPy has no convolution or pooling of its own in the array API, so those ops (the
standard kernels written with NumPy strided views) run on the host; everything written
against the array API runs on the GPU.
"""

from __future__ import annotations

import numpy as np

from .base import ArrayBackend
from .namespace import make_namespace

# no bfloat16 / float8 / sub-byte types in CuPy: they stay on the host
_HELD = (np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64,
         np.float16, np.float32, np.float64, np.complex64, np.complex128)


def _float32_accumulating_matmul(cupy, matmul):
    """float16 products summed in float32, as NumPy and torch sum them (CuPy's half GEMM
    rounded the suite's fp16 Attention cases 4 ulps away from the expected outputs)."""
    half = cupy.dtype(cupy.float16)

    def fp16_safe_matmul(a, b):
        if a.dtype == half and b.dtype == half:
            return matmul(a.astype(cupy.float32), b.astype(cupy.float32)).astype(half)
        return matmul(a, b)

    return fp16_safe_matmul


class CupyBackend(ArrayBackend):
    name = "cupy"

    def __init__(self, device: str | None = None):
        super().__init__()
        import array_api_compat.cupy as compat
        import cupy

        self._cupy = cupy
        index = int(device) if device else 0
        if not 0 <= index < cupy.cuda.runtime.getDeviceCount():
            raise RuntimeError(f"cupy: there is no GPU {index} "
                               f"({cupy.cuda.runtime.getDeviceCount()} visible)")
        self._gpu = cupy.cuda.Device(index)
        self.device = f"cuda:{index}"
        self._dtypes = {np.dtype(d): np.dtype(d) for d in _HELD}
        # CuPy allocates on the current device: run_context() makes it this one
        self.xp = make_namespace(f"nnex.cupy.{index}", compat, self._dtypes, None)
        self.xp.matmul = _float32_accumulating_matmul(cupy, compat.matmul)
        from . import common_kernels

        common_kernels.register(self)

    def holds(self, dtype) -> bool:
        return dtype in self._dtypes

    def asarray(self, x, *, strict: bool = False):
        cupy = self._cupy
        if isinstance(x, cupy.ndarray):
            return x
        if not isinstance(x, np.ndarray):
            if x is None or isinstance(x, (list, tuple, dict)):
                return self.structured(x, strict)
            x = np.asarray(x)
        if x.dtype not in self._dtypes:
            if strict:
                raise self._unsupported(x.dtype)
            return x
        with self._gpu:
            return cupy.asarray(x)

    def to_numpy(self, x) -> np.ndarray:
        if isinstance(x, np.ndarray):
            return x
        if isinstance(x, self._cupy.ndarray):
            return self._cupy.asnumpy(x)
        return np.asarray(x)

    def run_context(self):
        return self._gpu
