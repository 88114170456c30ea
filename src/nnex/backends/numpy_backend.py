"""The default backend: NumPy arrays, through array-api-compat's NumPy namespace."""

from __future__ import annotations

import dataclasses
import functools

import array_api_compat.numpy as np_xp
import numpy as np

from ..ops.registry import lookup
from .base import ArrayBackend
from .numpy_kernels import DONORS, FAST, fast_kernel, with_fallback


class NumpyBackend(ArrayBackend):
    name = "numpy"
    xp = np_xp

    def asarray(self, x, *, strict: bool = False):
        return x

    def to_numpy(self, x):
        return x if type(x) is np.ndarray else np.asarray(x)

    def kernel_override(self, domain: str, op_type: str, opset: int):
        # the registry's kernels are NumPy kernels: nothing to adapt, nothing to pay per call;
        # only the hot ops get NumPy's own versions (numpy_kernels.py)
        if (domain, op_type) not in FAST:
            return None
        kernel = lookup(domain, op_type, opset)
        fast = None if kernel is None else fast_kernel(kernel)
        if fast is None:
            return None
        standard = kernel.fn
        fn = with_fallback(fast, standard)

        def bind(xp, attrs):
            # the planner's per-node call: no partial, no ``xp`` passed to the fast kernel
            if attrs:
                def call(*inputs):
                    r = fast(*inputs, **attrs)
                    return standard(xp, *inputs, **attrs) if r is NotImplemented else r
            else:
                def call(*inputs):
                    r = fast(*inputs)
                    return standard(xp, *inputs) if r is NotImplemented else r
            # the plan's generated code calls the fast kernel itself, and ``call`` only where it
            # declines (runtime/straight_line.py): one Python call per node instead of two
            call.nnex_first = functools.partial(fast, **attrs) if attrs else fast
            return call

        fn.nnex_bind = bind
        # what the planner needs to let the result overwrite a dying input (runtime/inplace.py)
        fn.nnex_inplace = (fast, DONORS.get((domain, op_type), ()), standard)
        return dataclasses.replace(kernel, fn=fn)

    def wrap_kernel(self, kernel):
        return kernel
