"""JAX backend: ``providers=["jax"]`` (JAX's default device), ``"jax:cpu"``, ``"jax:gpu"``.

ONNX's int64/float64 need JAX's 64-bit mode, which nnex turns on only around its own
work (``jax.enable_x64`` is a scoped, thread-local setting): the user's global JAX
configuration is left alone. The runtime enters ``run_context()`` once per run; every
kernel also checks the mode (0.2 us) so that it is right when called outside a run.
"""

from __future__ import annotations

import contextlib
import dataclasses

import ml_dtypes
import numpy as np

from .base import ArrayBackend
from .jax_jit import jit_kernel
from .namespace import make_namespace

# sub-byte types (int4, float4, ...) and float8e8m0 stay on the host: ops/ treats them
# with ml_dtypes' exact semantics there
_HELD = (np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64,
         np.float16, ml_dtypes.bfloat16, np.float32, np.float64, np.complex64, np.complex128,
         ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fnuz, ml_dtypes.float8_e5m2, ml_dtypes.float8_e5m2fnuz)

# kept eager: they produce host values (Shape, Size, Constant), run subgraphs, cost nothing,
# or divide by a broadcast value where rounding matters (XLA would compile the division as
# a product by the reciprocal: see jax_kernels.div)
_EAGER_OPS = {("", op) for op in ("Shape", "Size", "Constant", "Identity", "If", "Loop", "Scan", "Div",
                                   "QuantizeLinear", "DynamicQuantizeLinear", "QLinearMatMul")}


class JaxBackend(ArrayBackend):
    name = "jax"

    def __init__(self, device: str | None = None):
        super().__init__()
        import jax
        import jax.numpy as jnp

        self._jax = jax
        self._x64 = jax.enable_x64
        self._device = jax.devices(device)[0] if device else None
        self.device = device or "cpu"
        self._on_cpu = (self._device or jax.devices()[0]).platform == "cpu"
        self._dtypes = {np.dtype(d): np.dtype(d) for d in _HELD}
        self.xp = make_namespace("nnex.jax", jnp, self._dtypes, None)
        # erf is not in the array API; the kernels use a backend's own when it has one
        self.xp.erf = jax.lax.erf
        self._array_type = jax.Array
        # a compiled identity moves a NumPy array to the default device several times faster
        # than jax.device_put / jnp.asarray (C++ argument handling)
        self._put = jax.jit(lambda a: a)
        from . import jax_kernels

        jax_kernels.register(self)

    def holds(self, dtype) -> bool:
        return dtype in self._dtypes

    def asarray(self, x, *, strict: bool = False):
        if isinstance(x, self._array_type):
            return x
        if not isinstance(x, np.ndarray):
            if x is None or isinstance(x, (list, tuple, dict)):
                return self.structured(x, strict)
            x = np.asarray(x)
        if x.dtype not in self._dtypes:
            if strict:
                raise self._unsupported(x.dtype)
            return x
        with self._x64(True):
            if self._device is None:
                return self._put(x)
            return self._jax.device_put(x, self._device)

    def to_numpy(self, x) -> np.ndarray:
        if isinstance(x, np.ndarray):
            return x
        # a copy: JAX's buffers are immutable, the caller may write into its outputs
        return np.array(x)

    def run_context(self):
        if self._on_cpu:
            return self._x64(True)
        # GPUs run float32 matrix products in TF32 by default (2e-3 off on BERT): ONNX's
        # float is float32, so products and convolutions get full precision, as in torch:cuda
        stack = contextlib.ExitStack()
        stack.enter_context(self._x64(True))
        stack.enter_context(self._jax.default_matmul_precision("highest"))
        return stack

    def _compiled(self, kernel, fn):
        if (kernel.domain, kernel.op_type) in _EAGER_OPS:
            return fn
        return jit_kernel(self._jax, fn, frozenset(kernel.host_inputs))

    def wrap_kernel(self, kernel):
        adapted = super().wrap_kernel(kernel)
        fn, x64 = adapted.fn, self._x64

        def in_x64(xp, *inputs, **attrs):
            if x64.value:
                return fn(xp, *inputs, **attrs)
            with x64(True):
                return fn(xp, *inputs, **attrs)

        in_x64.__name__ = fn.__name__
        return dataclasses.replace(adapted, fn=in_x64)
