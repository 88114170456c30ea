"""Native JAX kernels (jax.lax) that replace standard ones on the jax backend.

Convolutions are ``lax.conv_general_dilated`` (a transposed convolution is the same with
the input dilated by the strides and the kernel flipped); pools are ``lax.reduce_window``.
Geometry comes from the standard modules, so both paths agree on what the op means.
16-bit floats are computed in float32, as the standard kernels do.
"""

from __future__ import annotations

import numpy as np

from ..ops.conv import _ints, conv_pads, conv_transpose_geometry
from ..ops.pool import _geometry_from_attrs, average_counts
from . import common_kernels

_SPATIAL_LETTERS = "HWDTUV"


def register(backend) -> None:
    """Install the native kernels on ``backend`` (a JaxBackend)."""
    import jax.numpy as jnp
    from jax import lax

    k = _Kernels(jnp, lax)
    backend.native("Conv", 1, k.conv)
    backend.native("ConvTranspose", 1, k.conv_transpose_v1)
    backend.native("ConvTranspose", 11, k.conv_transpose)
    backend.native("MaxPool", (1, 8, 10, 12, 22), k.max_pool)
    backend.native("AveragePool", (1, 7, 10, 11, 19, 22), k.average_pool)
    backend.native("Div", (7, 13, 14), k.div)
    backend.native("ScatterElements", (11, 16, 18), k.scatter_elements)
    backend.native("Scatter", (9, 11), k.scatter)
    backend.native("ScatterND", (11, 16, 18), k.scatter_nd)
    common_kernels.register(backend)


_UPDATE = {"none": "set", "add": "add", "mul": "multiply", "max": "max", "min": "min"}


class _Kernels:
    def __init__(self, jnp, lax):
        self.jnp, self.lax = jnp, lax
        self._half = {np.dtype(np.float16), np.dtype("bfloat16")}
        self._float = {np.dtype(np.float32), np.dtype(np.float64)}

    def _compute(self, x):
        """``x`` in its compute dtype, or None when the kernel does not cover the dtype."""
        if x.dtype in self._float:
            return x
        if x.dtype in self._half:
            return x.astype(np.float32)
        return None

    def _dims(self, nsp):
        s = _SPATIAL_LETTERS[:nsp]
        return ("NC" + s, "OI" + s, "NC" + s)

    # ------------------------------------------------------------------ conv
    def conv(self, xp, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
             pads=None, strides=None):
        x, w = self._compute(X), self._compute(W)
        nsp = X.ndim - 2
        if x is None or w is None or nsp < 1:
            return NotImplemented
        kernel = _ints(kernel_shape, nsp, 0) if kernel_shape else list(W.shape[2:])
        strides = _ints(strides, nsp, 1)
        dilations = _ints(dilations, nsp, 1)
        p = conv_pads(auto_pad, X.shape[2:], kernel, strides, dilations, pads)
        y = self.lax.conv_general_dilated(
            x, w, tuple(strides), list(zip(p[:nsp], p[nsp:])), rhs_dilation=tuple(dilations),
            dimension_numbers=self._dims(nsp), feature_group_count=group,
            precision=self.lax.Precision.HIGHEST)
        if B is not None:
            y = y + B.astype(y.dtype).reshape((1, -1) + (1,) * nsp)
        return y.astype(X.dtype)

    def conv_transpose(self, xp, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1,
                       kernel_shape=None, output_padding=None, output_shape=None, pads=None, strides=None,
                       _same_upper_at_end=True):
        jnp = self.jnp
        x, w = self._compute(X), self._compute(W)
        nsp = X.ndim - 2
        if x is None or w is None or nsp < 1:
            return NotImplemented
        in_shape = list(X.shape[2:])
        kernel = _ints(kernel_shape, nsp, 0) if kernel_shape else list(W.shape[2:])
        strides = _ints(strides, nsp, 1)
        dilations = _ints(dilations, nsp, 1)
        _, begins, target = conv_transpose_geometry(in_shape, kernel, strides, dilations, output_padding,
                                                    auto_pad, output_shape, pads, _same_upper_at_end)
        # the adjoint of a convolution: dilate the input by the strides, pad by the kernel
        # extent (minus the output window's start), convolve with the flipped kernel
        padding = []
        for i in range(nsp):
            span = (kernel[i] - 1) * dilations[i] + 1
            dilated = (in_shape[i] - 1) * strides[i] + 1
            lo = span - 1 - begins[i]
            padding.append((lo, target[i] - dilated - lo + span - 1))
        C, Mg = W.shape[:2]
        Cg = C // group
        wg = w.reshape((group, Cg, Mg) + tuple(W.shape[2:]))
        wg = jnp.swapaxes(wg, 1, 2).reshape((group * Mg, Cg) + tuple(W.shape[2:]))
        wg = jnp.flip(wg, axis=tuple(range(2, 2 + nsp)))
        y = self.lax.conv_general_dilated(
            x, wg, (1,) * nsp, padding, lhs_dilation=tuple(strides), rhs_dilation=tuple(dilations),
            dimension_numbers=self._dims(nsp), feature_group_count=group,
            precision=self.lax.Precision.HIGHEST)
        if B is not None:
            y = y + B.astype(y.dtype).reshape((1, -1) + (1,) * nsp)
        return y.astype(X.dtype)

    def conv_transpose_v1(self, xp, X, W, B=None, **attrs):
        return self.conv_transpose(xp, X, W, B, _same_upper_at_end=False, **attrs)

    # ------------------------------------------------------------------ pooling
    def _window_reduce(self, x, init, op, kernel, strides, dilations, begins, out):
        nsp = len(kernel)
        in_shape = x.shape[2:]
        rights = [max(0, (out[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - begins[i]
                      - in_shape[i]) for i in range(nsp)]
        y = self.lax.reduce_window(
            x, init, op, (1, 1) + tuple(kernel), (1, 1) + tuple(strides),
            [(0, 0), (0, 0)] + list(zip(begins, rights)), window_dilation=(1, 1) + tuple(dilations))
        return y[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)]

    def max_pool(self, xp, X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, pads=None,
                 storage_order=0, strides=None, _n_outputs=1):
        if _n_outputs > 1 or X.ndim < 3:
            return NotImplemented  # the indices output: the standard kernel
        dt = np.dtype(X.dtype)
        if dt.kind == "f" or dt in self._half:
            init = -np.inf
        elif dt.kind in "iu":
            init = np.iinfo(dt).min
        else:
            return NotImplemented
        kernel, strides, dilations, begins, _ends, out = _geometry_from_attrs(
            X, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)
        if min(out, default=1) <= 0:
            return NotImplemented
        return self._window_reduce(X, self.jnp.asarray(init, dtype=X.dtype), self.lax.max, kernel, strides,
                                   dilations, begins, out)

    def average_pool(self, xp, X, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
                     kernel_shape, pads=None, strides=None):
        x = self._compute(X)
        if x is None or X.ndim < 3:
            return NotImplemented
        kernel, strides, dilations, begins, ends, out = _geometry_from_attrs(
            X, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)
        if min(out, default=1) <= 0:
            return NotImplemented
        sums = self._window_reduce(x, self.jnp.asarray(0, dtype=x.dtype), self.lax.add, kernel, strides,
                                   dilations, begins, out)
        counts = average_counts(tuple(X.shape[2:]), tuple(kernel), tuple(strides), tuple(dilations),
                                tuple(begins), tuple(ends), tuple(out), bool(count_include_pad))
        return (sums / counts.astype(x.dtype)).astype(X.dtype)

    # ------------------------------------------------------------------ arithmetic
    def div(self, xp, a, b):
        """Float division with both operands at full shape: XLA turns a division by a
        broadcast operand into a product by its reciprocal, one ulp off in half the cases."""
        if a.dtype.kind not in "fc" and a.dtype not in self._half:
            return NotImplemented  # integer division truncates: the standard kernel
        if a.shape != b.shape:
            jnp = self.jnp
            shape = jnp.broadcast_shapes(a.shape, b.shape)
            a, b = jnp.broadcast_to(a, shape), jnp.broadcast_to(b, shape)
        return a / b

    # ------------------------------------------------------------------ scatters

    def _scatter(self, data, key, updates, reduction):
        method = _UPDATE.get(reduction)
        if method is None:
            return NotImplemented
        return getattr(data.at[key], method)(updates)

    def scatter_elements(self, xp, data, indices, updates, *, axis=0, reduction="none"):
        jnp = self.jnp
        axis = axis % data.ndim if data.ndim else 0
        idx = jnp.where(indices < 0, indices + data.shape[axis], indices)
        # full coordinates: the grid position in every dim except ``axis``, which idx gives
        key = list(jnp.indices(idx.shape, sparse=True))
        key[axis] = idx
        return self._scatter(data, tuple(key), updates, reduction)

    def scatter(self, xp, data, indices, updates, *, axis=0):
        return self.scatter_elements(xp, data, indices, updates, axis=axis)

    def scatter_nd(self, xp, data, indices, updates, *, reduction="none"):
        jnp = self.jnp
        k = indices.shape[-1]
        key = tuple(jnp.where(indices[..., j] < 0, indices[..., j] + data.shape[j], indices[..., j])
                    for j in range(k))
        return self._scatter(data, key, updates, reduction)
