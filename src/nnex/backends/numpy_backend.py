"""The default backend: NumPy arrays, through array-api-compat's NumPy namespace."""

from __future__ import annotations

import array_api_compat.numpy as np_xp
import numpy as np

from .base import ArrayBackend


class NumpyBackend(ArrayBackend):
    name = "numpy"
    xp = np_xp

    def asarray(self, x, *, strict: bool = False):
        return x

    def to_numpy(self, x):
        return x if type(x) is np.ndarray else np.asarray(x)

    def kernel_override(self, domain: str, op_type: str, opset: int):
        # the registry's kernels are NumPy kernels: nothing to adapt, nothing to pay per call
        return None

    def wrap_kernel(self, kernel):
        return kernel
