"""Native PyTorch kernels that replace standard ones on the torch backend.

Each takes the standard kernel's arguments (ONNX inputs, attributes with the spec's
defaults) and returns ``NotImplemented`` for what it does not cover; the standard kernel
then runs. Geometry (pads, output sizes, average divisors) comes from the standard
modules, so both paths agree on what the op means.

Most are shared by every node; the ones made by a ``per_node`` factory belong to one node
and remember what it prepared from its constant inputs (Conv, MatMul/Gemm and LSTM weights
reordered for oneDNN on a CPU, a constant exponent or clip bound as a Python number, the
shape array of Shape). Constants are the device copies the backend made of read-only host
values (see ``_immutable``).
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np

from ..ops.conv import _ints, conv_pads, conv_transpose_geometry
from ..ops.pool import _geometry_from_attrs, average_counts
from ..ops.shape import _target_shape
from . import common_kernels

_SPATIAL = (1, 2, 3)


def per_node(factory):
    """Mark ``factory`` as making one kernel per node (a kernel with caches of its own)."""
    factory.nnex_per_node = True
    return factory


def register(backend) -> None:
    """Install the native kernels on ``backend`` (a TorchBackend)."""
    import torch
    import torch.nn.functional as F

    k = _Kernels(torch, F, backend)
    backend.native("Conv", 1, per_node(lambda: _ConvNode(k)))
    backend.native("ConvTranspose", 1, k.conv_transpose_v1)
    backend.native("ConvTranspose", 11, k.conv_transpose)
    backend.native("MaxPool", (1, 8, 10, 12, 22), k.max_pool)
    backend.native("AveragePool", (1, 7, 10, 11, 19, 22), k.average_pool)
    backend.native("MatMul", 1, per_node(lambda: _LinearNode(k, k.matmul)))
    backend.native("Gemm", (7, 11), per_node(lambda: _LinearNode(k, k.gemm)))
    backend.native("Softmax", 13, k.softmax)
    backend.native("LogSoftmax", 13, k.log_softmax)
    backend.native("Softmax", (1, 11), k.softmax_2d)
    backend.native("LogSoftmax", (1, 11), k.log_softmax_2d)
    backend.native("BatchNormalization", (1, 6, 7, 9, 14, 15), k.batch_norm)
    backend.native("GlobalAveragePool", 1, k.global_average_pool)
    backend.native("GlobalMaxPool", 1, k.global_max_pool)
    backend.native("LayerNormalization", 17, k.layer_norm)
    backend.native("Attention", (23, 24, 25), k.attention)
    backend.native("Pad", (11, 18, 19), k.pad)
    backend.native("ScatterElements", (11, 16, 18), k.scatter_elements)
    backend.native("Scatter", (9, 11), k.scatter)
    backend.native("ScatterND", (11, 16, 18), k.scatter_nd)
    backend.native("LSTM", (7, 14), per_node(lambda: _Recurrent(k.lstm, host=True)))
    backend.native("GRU", (7, 14), per_node(lambda: _Recurrent(k.gru)))
    backend.native("RNN", (7, 14), per_node(lambda: _Recurrent(k.rnn)))
    for op_type, fn in (("Relu", k.relu), ("Sigmoid", k.sigmoid), ("Tanh", k.tanh)):
        backend.native(op_type, (6, 13, 14) if op_type == "Relu" else (6, 13), fn)
    for op_type, name in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul")):
        backend.native(op_type, (7, 13, 14), k.binary(getattr(torch, name)))
    backend.native("Div", (7, 13, 14), k.div)
    backend.native("Pow", (7, 12, 13, 15), per_node(lambda: _PowNode(k)))
    backend.native("Clip", (11, 12, 13), per_node(lambda: _ClipNode(k)))
    backend.native("Clip", 6, k.clip_attrs)
    backend.native("Erf", (9, 13), k.erf)
    for op_type, fold in (("Sum", torch.add), ("Max", torch.maximum), ("Min", torch.minimum)):
        backend.native(op_type, (6, 8, 13) if op_type == "Sum" else (6, 8, 12, 13), k.variadic(fold))
    # shapes and layouts: thin, since they are many (a transformer runs hundreds per call)
    backend.native("Shape", (1, 15), per_node(_ShapeNode))
    backend.native("Reshape", (5, 14), k.reshape)
    backend.native("Flatten", (1, 11), k.flatten)
    backend.native("Transpose", 1, k.transpose)
    backend.native("Squeeze", 13, k.squeeze)
    backend.native("Unsqueeze", 13, k.unsqueeze)
    backend.native("Concat", (4, 11), k.concat)
    backend.native("Split", (13, 18), k.split)
    backend.native("Gather", (1, 11), k.gather)
    common_kernels.register(backend)


def _pairs(begins, ends):
    """torch.nn.functional.pad's layout: (begin, end) of the last axis first."""
    out = []
    for b, e in zip(reversed(begins), reversed(ends)):
        out += [b, e]
    return out


_REDUCE = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


class _Kernels:
    def __init__(self, torch, F, backend):
        self.torch, self.F = torch, F
        self.backend = backend
        self._conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
        self._conv_t = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
        self._max_pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
        self._counts: dict = {}

    # ------------------------------------------------------------------ conv
    # oneDNN's kernels on weights reordered once (what torch.compile's freezing uses), or None
    # where this PyTorch lacks them
    @functools.cached_property
    def mkldnn_linear(self):
        return self._mkldnn_ops("mkldnn._reorder_linear_weight", "mkldnn._linear_pointwise")

    @functools.cached_property
    def mkldnn_conv(self):
        return self._mkldnn_ops("mkldnn._reorder_convolution_weight", "mkldnn._convolution_pointwise")

    @functools.cached_property
    def mkldnn_lstm(self):
        return self._mkldnn_ops("mkldnn._reorder_mkldnn_rnn_layer_weight", "aten.mkldnn_rnn_layer")

    def _mkldnn_ops(self, *names):
        torch = self.torch
        if not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
            return None
        ops = []
        for name in names:
            namespace, _, op = name.partition(".")
            try:
                ops.append(getattr(getattr(torch.ops, namespace), op))
            except (AttributeError, RuntimeError):
                return None
        return tuple(ops)

    @contextlib.contextmanager
    def _float32(self, x):
        """float32 means float32: no TF32 in cuDNN convolutions (PyTorch's default on GPUs)."""
        cudnn = self.torch.backends.cudnn
        if not x.is_cuda or x.dtype != self.torch.float32 or not cudnn.allow_tf32:
            yield
            return
        cudnn.allow_tf32 = False
        try:
            yield
        finally:
            cudnn.allow_tf32 = True

    def conv_transpose(self, xp, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1,
                       kernel_shape=None, output_padding=None, output_shape=None, pads=None, strides=None,
                       _same_upper_at_end=True):
        nsp = X.ndim - 2
        if nsp not in _SPATIAL or not X.is_floating_point() or X.is_complex():
            return NotImplemented
        kernel = _ints(kernel_shape, nsp, 0) if kernel_shape else list(W.shape[2:])
        strides = _ints(strides, nsp, 1)
        dilations = _ints(dilations, nsp, 1)
        _, begins, target = conv_transpose_geometry(list(X.shape[2:]), kernel, strides, dilations,
                                                    output_padding, auto_pad, output_shape, pads,
                                                    _same_upper_at_end)
        with self._float32(X):
            y = self._conv_t[nsp](X, W, None, strides, 0, 0, group, dilations)
        # the output window [begins, begins + target) of the uncropped result; positions past
        # its end (output_padding) are zeros: pad crops where negative, extends where positive
        ends = [begins[i] + target[i] - y.shape[2 + i] for i in range(nsp)]
        y = self.F.pad(y, _pairs([-b for b in begins], ends))
        if B is not None:
            y = y + B.reshape((1, -1) + (1,) * nsp)
        return y

    def conv_transpose_v1(self, xp, X, W, B=None, **attrs):
        return self.conv_transpose(xp, X, W, B, _same_upper_at_end=False, **attrs)

    # ------------------------------------------------------------------ pooling
    def _windows_padded(self, X, begins, kernel, strides, dilations, out, value):
        """X padded so that every output window lies inside (as the standard kernel does)."""
        nsp = len(kernel)
        in_shape = X.shape[2:]
        rights = [max(0, (out[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - begins[i]
                      - in_shape[i]) for i in range(nsp)]
        if any(begins) or any(rights):
            X = self.F.pad(X, _pairs(begins, rights), value=value)
        return X

    @staticmethod
    def _torch_padding(in_shape, kernel, strides, dilations, begins, ends, out):
        """The padding torch's pooling takes itself (no padded copy of the input), or None where
        its geometry is not ONNX's: uneven pads, pads past half the window, other output sizes."""
        if begins != ends:
            return None
        for x, k, s, d, p, o in zip(in_shape, kernel, strides, dilations, begins, out):
            if p > k // 2 or (x + 2 * p - d * (k - 1) - 1) // s + 1 != o:
                return None
        return tuple(begins)

    def max_pool(self, xp, X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, pads=None,
                 storage_order=0, strides=None, _n_outputs=1):
        nsp = X.ndim - 2
        if nsp not in _SPATIAL or not X.is_floating_point() or X.is_complex():
            return NotImplemented
        kernel, strides, dilations, begins, _ends, out = _geometry_from_attrs(
            X, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)
        if min(out, default=1) <= 0:
            return NotImplemented
        want_index = _n_outputs > 1
        padding = None if want_index else self._torch_padding(X.shape[2:], kernel, strides, dilations, begins,
                                                             _ends, out)
        if padding is not None:
            return self._max_pool[nsp](X, kernel, strides, padding, dilations)
        xpad = self._windows_padded(X, begins, kernel, strides, dilations, out, -math.inf)
        res = self._max_pool[nsp](xpad, kernel, strides, 0, dilations, False, want_index)
        window = (slice(None), slice(None)) + tuple(slice(0, o) for o in out)
        if not want_index:
            return res[window]
        y, idx = res[0][window], res[1][window]
        return y, self._onnx_indices(idx, X.shape, xpad.shape[2:], begins, storage_order)

    def _onnx_indices(self, idx, in_full, padded, begins, storage_order):
        """torch's per-plane flat index in the padded input -> ONNX's flat index into X."""
        torch = self.torch
        nsp = len(padded)
        coords = []
        rest = idx
        for i in reversed(range(nsp)):
            coords.append(torch.remainder(rest, padded[i]) - begins[i])
            rest = torch.div(rest, padded[i], rounding_mode="floor")
        coords.reverse()
        in_shape = in_full[2:]
        axes = range(nsp - 1, -1, -1) if storage_order else range(nsp)
        flat = torch.zeros_like(idx)
        for i in axes:
            flat = flat * in_shape[i] + coords[i]
        N, C = in_full[:2]
        plane = torch.arange(N * C, dtype=idx.dtype, device=idx.device).reshape((N, C) + (1,) * nsp)
        return flat + plane * math.prod(in_shape)

    def average_pool(self, xp, X, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
                     kernel_shape, pads=None, strides=None):
        nsp = X.ndim - 2
        if nsp not in _SPATIAL or not X.is_floating_point() or X.is_complex():
            return NotImplemented
        kernel, strides, dilations, begins, ends, out = _geometry_from_attrs(
            X, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)
        if min(out, default=1) <= 0 or any(d != 1 for d in dilations):
            return NotImplemented  # torch's avg_pool has no dilation
        acc = X if X.dtype in (self.torch.float32, self.torch.float64) else X.float()
        padding = self._torch_padding(X.shape[2:], kernel, strides, dilations, begins, ends, out)
        if padding is not None and nsp > 1 and (count_include_pad or not any(padding)):
            # every window inside the padded input: torch divides as ONNX does
            pool = self.F.avg_pool2d if nsp == 2 else self.F.avg_pool3d
            return pool(acc, kernel, strides, padding, False, True).to(X.dtype)
        xpad = self._windows_padded(acc, begins, kernel, strides, dilations, out, 0.0)
        if nsp == 1:  # avg_pool1d has no divisor_override: go through 2-D
            sums = self.F.avg_pool2d(xpad[:, :, None], (1, kernel[0]), (1, strides[0]), divisor_override=1)[:, :, 0]
        else:
            pool = self.F.avg_pool2d if nsp == 2 else self.F.avg_pool3d
            sums = pool(xpad, kernel, strides, divisor_override=1)
        sums = sums[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)]
        key = (tuple(X.shape[2:]), tuple(kernel), tuple(strides), tuple(dilations), tuple(begins),
               tuple(ends), tuple(out), bool(count_include_pad), acc.dtype, acc.device)
        counts = self._counts.get(key)
        if counts is None:
            host = average_counts(*key[:8])
            counts = self._counts[key] = self.torch.as_tensor(np.array(host), dtype=acc.dtype, device=acc.device)
        return (sums / counts).to(X.dtype)

    # ------------------------------------------------------------------ linear algebra
    def matmul(self, xp, a, b):
        if a.dtype != b.dtype or a.dtype in (self.torch.uint8, self.torch.int8, self.torch.int16):
            return NotImplemented
        return self.torch.matmul(a, b)

    def gemm(self, xp, a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
        torch = self.torch
        if not a.is_floating_point() or a.dtype != b.dtype:
            return NotImplemented
        if transA:
            a = a.T
        if transB:
            b = b.T
        if c is None or beta == 0.0:
            y = torch.matmul(a, b)
            return y if alpha == 1.0 else y * alpha
        if c.dtype != a.dtype:
            return NotImplemented
        return torch.addmm(c, a, b, beta=beta, alpha=alpha)

    # ------------------------------------------------------------------ activations
    def relu(self, xp, x):
        return self.torch.relu(x) if x.dtype != self.torch.bool else NotImplemented

    def sigmoid(self, xp, x):
        return self._upcast(self.torch.sigmoid, x)

    def tanh(self, xp, x):
        return self._upcast(self.torch.tanh, x)

    def _upcast(self, fn, x):
        # 16-bit floats are computed in float32, as the standard kernels do
        torch = self.torch
        if x.dtype in (torch.float16, torch.bfloat16):
            return fn(x.float()).to(x.dtype)
        if not x.is_floating_point():
            return NotImplemented
        return fn(x)

    def softmax(self, xp, input, *, axis=-1):
        if not input.is_floating_point():
            return NotImplemented
        return self.torch.softmax(input, axis, dtype=self.torch.float32).to(input.dtype) \
            if input.dtype in (self.torch.float16, self.torch.bfloat16) else self.torch.softmax(input, axis)

    def log_softmax(self, xp, input, *, axis=-1):
        if not input.is_floating_point():
            return NotImplemented
        return self.torch.log_softmax(input, axis, dtype=self.torch.float32).to(input.dtype) \
            if input.dtype in (self.torch.float16, self.torch.bfloat16) else self.torch.log_softmax(input, axis)

    def softmax_2d(self, xp, input, *, axis=1):
        return self._flat_2d(self.softmax, input, axis)

    def log_softmax_2d(self, xp, input, *, axis=1):
        return self._flat_2d(self.log_softmax, input, axis)

    def _flat_2d(self, fn, x, axis):
        """Softmax-1/11: over the input seen as 2-D, its axes from ``axis`` on flattened into one."""
        axis = axis + x.ndim if axis < 0 else axis
        if not x.is_floating_point():
            return NotImplemented
        y = fn(None, x.reshape((math.prod(x.shape[:axis]), -1)), axis=1)
        return y.reshape(x.shape)

    def batch_norm(self, xp, X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9,
                   training_mode=0, is_test=0, spatial=1, consumed_inputs=None, _n_outputs=1, _opset=15):
        """Inference only (statistics given): torch normalizes in the input type, float32/64 here."""
        training = bool(training_mode) if _opset >= 14 else _n_outputs > 1 and not (_opset < 7 and is_test)
        dt = X.dtype
        if (training or X.ndim < 2 or dt not in (self.torch.float32, self.torch.float64)
                or (_opset < 9 and not spatial)
                or any(p.dtype != dt or p.ndim != 1 for p in (scale, B, input_mean, input_var))):
            return NotImplemented
        y = self.F.batch_norm(X, input_mean, input_var, scale, B, False, 0.0, epsilon)
        return y if _n_outputs <= 1 else (y,) + (None,) * (_n_outputs - 1)

    def global_average_pool(self, xp, X):
        if X.ndim < 3 or X.dtype not in (self.torch.float32, self.torch.float64):
            return NotImplemented
        if X.ndim == 4:
            return self.F.adaptive_avg_pool2d(X, 1)
        return X.mean(dim=tuple(range(2, X.ndim)), keepdim=True)

    def global_max_pool(self, xp, X):
        if X.ndim < 3 or not X.is_floating_point() or X.is_complex():
            return NotImplemented
        return X.amax(dim=tuple(range(2, X.ndim)), keepdim=True)

    def div(self, xp, a, b):
        # integer division truncates (the standard kernel); floats divide
        if a.dtype != b.dtype or not a.is_floating_point():
            return NotImplemented
        return self.torch.div(a, b)

    def erf(self, xp, x):
        if x.dtype not in (self.torch.float32, self.torch.float64):
            return NotImplemented
        return self.torch.erf(x)

    def clip_attrs(self, xp, input, *, max=3.4028234663852886e38, min=-3.4028234663852886e38):
        if input.dtype not in (self.torch.float32, self.torch.float64):
            return NotImplemented
        # min > max: every element becomes max, in torch as in the spec
        return self.torch.clamp(input, min, max)

    @staticmethod
    def variadic(fold):
        def kernel(xp, *inputs):
            inputs = [x for x in inputs if x is not None]
            dt = inputs[0].dtype
            if any(x.dtype != dt for x in inputs) or dt == xp.bool:
                return NotImplemented
            out = inputs[0]
            for x in inputs[1:]:
                out = fold(out, x)
            return out

        kernel.__name__ = fold.__name__
        return kernel

    # ------------------------------------------------------------------ shapes
    def reshape(self, xp, data, shape, *, allowzero=0):
        return data.reshape(_target_shape(data.shape, shape.reshape(-1).tolist(), allowzero))

    def flatten(self, xp, x, *, axis=1):
        axis = axis + x.ndim if axis < 0 else axis
        return x.reshape((math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))

    def transpose(self, xp, data, *, perm=None):
        return data.permute(tuple(perm) if perm is not None else tuple(range(data.ndim - 1, -1, -1)))

    def squeeze(self, xp, data, axes=None):
        if axes is None or not axes.size:
            return data.reshape([d for d in data.shape if d != 1])
        rank = data.ndim
        drop = {a + rank if a < 0 else a for a in axes.reshape(-1).tolist()}
        return data.reshape([d for i, d in enumerate(data.shape) if i not in drop])

    def unsqueeze(self, xp, data, axes):
        axes = axes.reshape(-1).tolist()
        rank = data.ndim + len(axes)
        new = {a + rank if a < 0 else a for a in axes}
        dims = iter(data.shape)
        return data.reshape([1 if i in new else next(dims) for i in range(rank)])

    def concat(self, xp, *inputs, axis):
        inputs = [x for x in inputs if x is not None]
        dt = inputs[0].dtype
        if any(x.dtype != dt or x.ndim != inputs[0].ndim for x in inputs):
            return NotImplemented
        return self.torch.cat(inputs, axis)

    def split(self, xp, input, split=None, *, axis=0, num_outputs=None, _n_outputs):
        axis = axis + input.ndim if axis < 0 else axis
        dim = input.shape[axis]
        if split is not None and split.size:
            sizes = split.reshape(-1).tolist()
        else:
            n = num_outputs or _n_outputs
            chunk = -(-dim // n)
            sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
        if sum(sizes) != dim or min(sizes) < 0:
            return NotImplemented  # the standard kernel says what is wrong
        return tuple(self.torch.split(input, sizes, axis))

    def gather(self, xp, data, indices, *, axis=0):
        torch = self.torch
        if indices.dtype not in (torch.int64, torch.int32) or data.ndim == 0:
            return NotImplemented
        axis = axis + data.ndim if axis < 0 else axis
        idx = indices.reshape(-1)
        if idx.numel() and bool((idx < 0).any()):
            idx = torch.where(idx < 0, idx + data.shape[axis], idx)
        out = torch.index_select(data, axis, idx)
        return out.reshape(tuple(data.shape[:axis]) + tuple(indices.shape) + tuple(data.shape[axis + 1:]))

    @staticmethod
    def binary(fn):
        def kernel(xp, a, b):
            return fn(a, b) if a.dtype == b.dtype else NotImplemented

        kernel.__name__ = fn.__name__
        return kernel

    def layer_norm(self, xp, X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
        torch = self.torch
        # torch keeps the statistics in the input type: native only where that is stash_type (float)
        if X.dtype != torch.float32 or stash_type != 1 or Scale.dtype != X.dtype:
            return NotImplemented
        axis = axis + X.ndim if axis < 0 else axis
        normalized = tuple(X.shape[axis:])
        if B is not None and tuple(B.shape) != normalized or tuple(Scale.shape) != normalized:
            return NotImplemented  # broadcast scale/bias: the standard kernel handles them
        y, mean, rstd = torch.native_layer_norm(X, normalized, Scale, B, epsilon)
        keep = tuple(X.shape[:axis]) + (1,) * (X.ndim - axis)
        return y, mean.reshape(keep), rstd.reshape(keep)

    def pad(self, xp, data, pads, constant_value=None, axes=None, *, mode="constant"):
        torch = self.torch
        if mode != "constant" or data.dtype == torch.bool:
            return NotImplemented
        rank = data.ndim
        p = [int(v) for v in np.asarray(pads).reshape(-1)]
        ax = list(range(rank)) if axes is None else [int(a) % rank for a in np.asarray(axes).reshape(-1)]
        n = len(ax)
        begins, ends = [0] * rank, [0] * rank
        for i, a in enumerate(ax):
            begins[a], ends[a] = p[i], p[n + i]
        value = 0
        if constant_value is not None and math.prod(constant_value.shape):
            value = constant_value.reshape(-1)[0].item()
        return self.F.pad(data, _pairs(begins, ends), value=value)

    # ------------------------------------------------------------------ scatters

    def scatter_elements(self, xp, data, indices, updates, *, axis=0, reduction="none"):
        torch = self.torch
        if reduction not in ("none", *_REDUCE) or data.dtype == torch.bool and reduction != "none":
            return NotImplemented
        axis = axis % data.ndim if data.ndim else 0
        idx = indices.long()
        idx = torch.where(idx < 0, idx + data.shape[axis], idx)
        if reduction == "none":
            return data.scatter(axis, idx, updates)
        return data.scatter_reduce(axis, idx, updates, _REDUCE[reduction], include_self=True)

    def scatter(self, xp, data, indices, updates, *, axis=0):
        return self.scatter_elements(xp, data, indices, updates, axis=axis)

    def scatter_nd(self, xp, data, indices, updates, *, reduction="none"):
        """Rows of ``data`` seen as (prod(shape[:k]), rest): one scatter along axis 0 of the
        linear row index of every update (duplicates accumulate under a reduction)."""
        torch = self.torch
        if reduction not in ("none", *_REDUCE) or data.dtype == torch.bool and reduction != "none":
            return NotImplemented
        k = indices.shape[-1]
        idx = indices.long()
        lin = torch.zeros(idx.shape[:-1], dtype=torch.int64, device=idx.device)
        for j in range(k):
            col = idx[..., j]
            lin = lin * data.shape[j] + torch.where(col < 0, col + data.shape[j], col)
        rows = math.prod(data.shape[:k])
        flat = data.reshape((rows, -1))
        n = math.prod(lin.shape)
        upd = updates.reshape((n, flat.shape[1]))
        index = lin.reshape(n, 1).expand(n, flat.shape[1])
        if reduction == "none":
            out = flat.scatter(0, index, upd)
        else:
            out = flat.scatter_reduce(0, index, upd, _REDUCE[reduction], include_self=True)
        return out.reshape(data.shape)

    # ------------------------------------------------------------------ recurrent
    # torch's fused RNNs cover ONNX's default activations, without clip, peepholes or
    # per-sequence lengths; ONNX orders the gates of W/R/B differently (reordered here)
    _LSTM_GATES = (0, 2, 3, 1)  # ONNX i, o, f, c -> torch i, f, g, o
    _GRU_GATES = (1, 0, 2)  # ONNX z, r, h -> torch r, z, n

    def _recurrent(self, fn, X, W, R, B, sequence_lens, states, gates, n_states, *, activations, defaults,
                   clip, direction, layout, _n_outputs, cache=None):
        torch = self.torch
        if X.dtype not in (torch.float32, torch.float64) or clip is not None:
            return NotImplemented
        num_dirs = 2 if direction == "bidirectional" else 1
        if activations and [a.lower() for a in activations] not in (defaults, defaults * num_dirs):
            return NotImplemented
        if layout:
            X = X.transpose(0, 1)
            states = [None if s is None else s.transpose(0, 1) for s in states]
        T, batch = X.shape[:2]
        if sequence_lens is not None and not bool((sequence_lens == T).all()):
            return NotImplemented
        H = R.shape[-1]
        G = len(gates)

        def reorder(m):  # rows grouped by gate: (G*H, ...) in torch's gate order
            return m.reshape((G, H) + tuple(m.shape[1:]))[list(gates)].reshape(m.shape)

        reverse = direction == "reverse"
        # oneDNN's LSTM layer on weights reordered once (torch.lstm reorders them at every call)
        layers = (fn is torch.lstm and self.mkldnn_lstm is not None and X.dtype == torch.float32
                  and X.device.type == "cpu" and torch.is_inference_mode_enabled() and _immutable(W, R, B))
        prepared = cache.get((W, R, B), X.dtype) if cache is not None else None
        if prepared is None:
            params = []
            for d in range(num_dirs):
                bias = B[d] if B is not None else torch.zeros(2 * G * H, dtype=X.dtype, device=X.device)
                params += [reorder(W[d]), reorder(R[d]), reorder(bias[: G * H]), reorder(bias[G * H:])]
            packed = None
            if layers:
                reorder_weights = self.mkldnn_lstm[0]
                packed = [reorder_weights(params[4 * d], params[4 * d + 1], H, reverse or d == 1, True, False)
                          for d in range(num_dirs)]
            prepared = (params, packed)
            if cache is not None:
                cache.put((W, R, B), prepared, X.dtype)
        params, packed = prepared
        hx = [torch.zeros((num_dirs, batch, H), dtype=X.dtype, device=X.device) if s is None else s.to(X.dtype)
              for s in states]
        if layers and packed is not None:
            ys, finals = [], [[], []]
            for d in range(num_dirs):
                # mode 2 is LSTM in oneDNN's (ideep's) numbering; outputs come in time order
                out = self.mkldnn_lstm[1](X.contiguous(), packed[d][0], packed[d][1], params[4 * d + 2],
                                          params[4 * d + 3], hx[0][d:d + 1].contiguous(),
                                          hx[1][d:d + 1].contiguous(), reverse or d == 1, [], 2, H, 1, True,
                                          False, False, False)
                ys.append(out[0])
                finals[0].append(out[1])
                finals[1].append(out[2])
            Y = torch.stack(ys, 1)
            finals = [torch.cat(f, 0) for f in finals]
        else:
            if reverse:
                X = X.flip(0)
            out = fn(X, hx[0] if n_states == 1 else tuple(hx), params, True, 1, 0.0, False, num_dirs == 2, False)
            y, finals = out[0], list(out[1:])
            if reverse:
                y = y.flip(0)
            Y = y.reshape(T, batch, num_dirs, H).permute(0, 2, 1, 3)
        if layout:
            Y = Y.permute(2, 0, 1, 3)
            finals = [f.transpose(0, 1) for f in finals]
        outs = (Y, *finals)
        return outs[: max(_n_outputs, 1)] if _n_outputs is not None else outs

    def lstm(self, xp, X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *,
             activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
             hidden_size=None, input_forget=0, layout=0, output_sequence=0, _n_outputs=None, cache=None,
             host_cache=None):
        if input_forget or (P is not None and bool(P.any())):
            return NotImplemented
        if P is None and X.dtype == self.torch.float32 and host_cache is not None:
            out = self._host_lstm(X, W, R, B, sequence_lens, initial_h, initial_c, activations=activations,
                                  direction=direction, layout=layout, _n_outputs=_n_outputs, cache=host_cache)
            if out is not NotImplemented:
                return out
        return self._recurrent(self.torch.lstm, X, W, R, B, sequence_lens, [initial_h, initial_c],
                               self._LSTM_GATES, 2, activations=activations,
                               defaults=["sigmoid", "tanh", "tanh"], clip=clip, direction=direction,
                               layout=layout, _n_outputs=_n_outputs, cache=cache)

    # At batch 1 oneDNN's LSTM layer is half as fast as onnxruntime's (lstm_tagger: 9 ms against
    # 5); the compiled recurrence of the NumPy backend (numpy_lstm.py) runs at onnxruntime's speed,
    # on the tensors' memory, without a copy.
    _HOST_LSTM_MAX_BATCH = 1

    def _host_lstm(self, X, W, R, B, sequence_lens, initial_h, initial_c, *, activations, direction, layout,
                   _n_outputs, cache):
        from . import numpy_lstm

        torch = self.torch
        batch = X.shape[0 if layout else 1] if X.ndim == 3 else 0
        tensors = (X, W, R, B, initial_h, initial_c)
        if (not 1 <= batch <= self._HOST_LSTM_MAX_BATCH or X.device.type != "cpu"
                or not torch.is_inference_mode_enabled() or not numpy_lstm.compiled_recurrence()
                or any(t is not None and t.dtype != torch.float32 for t in tensors)):
            return NotImplemented
        host = [None if t is None else t.numpy() for t in tensors]

        def weights():  # after numpy_lstm.lstm has checked the shapes
            prepared = cache.get((W, R, B))
            if prepared is None:
                prepared = numpy_lstm.prepare_weights(*host[1:4])
                cache.put((W, R, B), prepared)
            return prepared

        lens = None if sequence_lens is None else sequence_lens.cpu().numpy()
        outs = numpy_lstm.lstm(host[0], host[1], host[2], host[3], lens, host[4], host[5],
                               activations=activations, direction=direction, layout=layout,
                               _n_outputs=_n_outputs, _weights=weights)
        if outs is NotImplemented:
            return NotImplemented
        if direction == "bidirectional" and numpy_lstm.parallel_directions_possible():
            # its two directions take both cores: torch's OpenMP workers, which spin after each
            # parallel region, would take the second one's (see TorchBackend.run_context)
            self.backend.host_threads_busy = True
        return tuple(torch.from_numpy(o) for o in outs)

    def gru(self, xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None,
            activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, layout=0,
            linear_before_reset=0, output_sequence=0, _n_outputs=None, cache=None):
        if not linear_before_reset:
            return NotImplemented  # torch's GRU applies the reset gate after the linear map
        return self._recurrent(self.torch.gru, X, W, R, B, sequence_lens, [initial_h], self._GRU_GATES, 1,
                               activations=activations, defaults=["sigmoid", "tanh"], clip=clip,
                               direction=direction, layout=layout, _n_outputs=_n_outputs, cache=cache)

    def rnn(self, xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None,
            activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, layout=0,
            output_sequence=0, _n_outputs=None, cache=None):
        fn, defaults = self.torch.rnn_tanh, ["tanh"]
        if activations and all(a.lower() == "relu" for a in activations):
            fn, defaults = self.torch.rnn_relu, ["relu"]
        return self._recurrent(fn, X, W, R, B, sequence_lens, [initial_h], (0,), 1, activations=activations,
                               defaults=defaults, clip=clip, direction=direction, layout=layout,
                               _n_outputs=_n_outputs, cache=cache)

    # ------------------------------------------------------------------ attention
    def attention(self, xp, Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None,
                  *, is_causal=0, kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None,
                  softcap=0.0, softmax_precision=None, left_window_size=-1, right_window_size=-1,
                  _n_outputs=None):
        """torch's scaled_dot_product_attention for the plain cases (no softcap, window,
        padding lengths, or scores output); a fully masked query row gives zeros, as ONNX asks."""
        torch = self.torch
        if (softcap or softmax_precision is not None or left_window_size >= 0 or right_window_size >= 0
                or nonpad_kv_seqlen is not None or (_n_outputs is not None and _n_outputs > 3)
                or not Q.is_floating_point() or (past_key is None) != (past_value is None)):
            return NotImplemented
        if is_causal and (past_key is not None or attn_mask is not None):
            return NotImplemented  # causal with a cache is bottom-right aligned; SDPA takes one mask
        is_3d = Q.ndim == 3
        if is_3d:
            if q_num_heads is None or kv_num_heads is None:
                return NotImplemented
            Q, K, V = (self._heads(t, n) for t, n in ((Q, q_num_heads), (K, kv_num_heads), (V, kv_num_heads)))
        if past_key is not None:
            K = torch.cat([past_key, K], dim=2)
            V = torch.cat([past_value, V], dim=2)
        hq, hkv = Q.shape[1], K.shape[1]
        if hkv == 0 or hq % hkv:
            return NotImplemented
        mask = attn_mask
        if mask is not None:
            sk = K.shape[2]
            if mask.shape[-1] < sk:
                fill = (torch.zeros if mask.dtype == torch.bool else
                        lambda s, dtype, device: torch.full(s, -math.inf, dtype=dtype, device=device))
                mask = torch.cat([mask, fill(tuple(mask.shape[:-1]) + (sk - mask.shape[-1],), dtype=mask.dtype,
                                             device=mask.device)], dim=-1)
            if mask.dtype != torch.bool:
                mask = mask.to(Q.dtype)
        out_dtype = Q.dtype
        if out_dtype in (torch.float16, torch.bfloat16):
            # 16-bit inputs: torch's CPU kernel rounds the scores to 16 bits; compute in float32
            Q, Kc, Vc = Q.float(), K.float(), V.float()
            mask = mask.float() if mask is not None and mask.dtype != torch.bool else mask
        else:
            Kc, Vc = K, V
        y = self.F.scaled_dot_product_attention(Q, Kc, Vc, attn_mask=mask, is_causal=bool(is_causal), scale=scale,
                                                enable_gqa=hq != hkv).to(out_dtype)
        if mask is not None:
            empty = ~mask.any(-1, keepdim=True) if mask.dtype == torch.bool else \
                (mask == -math.inf).all(-1, keepdim=True)
            y = torch.where(empty, torch.zeros((), dtype=y.dtype, device=y.device), y)
        if is_3d:
            b, h, s, d = y.shape
            y = y.permute(0, 2, 1, 3).reshape(b, s, h * d)
        outs = (y, K, V)
        return outs[: max(_n_outputs, 1)] if _n_outputs is not None else outs + (None,)

    @staticmethod
    def _heads(x, n):
        b, s, hd = x.shape
        return x.reshape(b, s, n, hd // n).permute(0, 2, 1, 3)



# ---------------------------------------------------------------------- per-node kernels


def _immutable(*tensors) -> bool:
    """True when none of ``tensors`` can change between runs: the device copies the backend
    makes of read-only host values (plan constants, remembered shape arithmetic) are marked
    ``nnex_constant`` (torch_backend.py). Parameters of nnex.to_torch modules are not: they
    are never prepared ahead."""
    return all(t is None or getattr(t, "nnex_constant", False) for t in tensors)


class _LastOf:
    """One remembered value, for a key of objects compared by identity (held, so that their ids
    stay theirs) and a plain value compared by equality; kept only when the key's tensors
    are constants."""

    __slots__ = ("entry",)

    def __init__(self):
        self.entry = None

    def get(self, objects: tuple, value=None):
        entry = self.entry  # one read: another thread may replace it meanwhile
        if entry is not None and entry[1] == value and len(entry[0]) == len(objects) and all(
                a is b for a, b in zip(entry[0], objects)):
            return entry[2]
        return None

    def put(self, objects: tuple, result, value=None) -> None:
        if _immutable(*(o for o in objects if hasattr(o, "is_inference"))):
            self.entry = (objects, value, result)


class _ConvNode:
    """Conv of one node. On a CPU with oneDNN, 2-D float32 convolutions of constant weights run
    channels-last on a weight reordered once for oneDNN (what torch.compile's freezing does):
    the layout then stays channels-last through the network (torch's elementwise ops,
    pooling, BatchNorm and Concat keep it) and pooling is several times faster in it."""

    def __init__(self, k: _Kernels):
        self.k = k
        self.geometry = None
        self.packed = _LastOf()
        self.mkldnn = k.mkldnn_conv
        # the oneDNN call of the last run, when nothing it depends on can have changed:
        # (input shape, W, B, packed weight, call arguments); a run of a small network
        # spends as long in the checks of the general path as in the convolution
        self.last = None

    def __call__(self, xp, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                 pads=None, strides=None, _activation=None):
        # ``_activation`` = (lo, hi): a Clip / Relu the planner fused into this Conv
        # (ops/_conv_activation.py); oneDNN applies it as the convolution writes its result
        last = self.last
        if (last is not None and last[1] is W and last[2] is B and X.shape == last[0] and X.is_cpu
                and X.dtype == last[5] and self.k.torch.is_inference_mode_enabled()):
            y = self.mkldnn[1](X.contiguous(memory_format=self.k.torch.channels_last), last[3], B, *last[4])
            return y if last[6] is None else y.clamp_(*last[6])
        k = self.k
        torch = k.torch
        nsp = X.ndim - 2
        if nsp not in _SPATIAL or not X.is_floating_point() or X.is_complex():
            return NotImplemented
        key = (tuple(X.shape[2:]), tuple(W.shape))
        geo = self.geometry
        if geo is None or geo[0] != key:
            kernel = _ints(kernel_shape, nsp, 0) if kernel_shape else list(W.shape[2:])
            st = _ints(strides, nsp, 1)
            dl = _ints(dilations, nsp, 1)
            p = conv_pads(auto_pad, X.shape[2:], kernel, st, dl, pads)
            begins, ends = p[:nsp], p[nsp:]
            uneven = _pairs(begins, ends) if begins != ends else None
            geo = self.geometry = (key, tuple(st), tuple(begins) if uneven is None else (0,) * nsp, tuple(dl),
                                   uneven)
        _, st, padding, dl, uneven = geo
        if uneven is not None:
            X = k.F.pad(X, uneven)
        if (nsp == 2 and self.mkldnn is not None and X.dtype == torch.float32 and W.dtype == torch.float32
                and (B is None or B.dtype == torch.float32) and X.device.type == "cpu"
                and torch.is_inference_mode_enabled() and _immutable(W, B)):
            in_shape = X.shape
            X = X.contiguous(memory_format=torch.channels_last)
            shape = tuple(X.shape)
            packed = self.packed.get((W,), shape)
            if packed is None:
                reorder = self.mkldnn[0]
                packed = reorder(W.contiguous(), list(padding), list(st), list(dl), group, list(shape))
                self.packed.put((W,), packed, shape)
            post, args = None, (list(padding), list(st), list(dl), group, "none", [], "")
            if _activation is not None:
                lo, hi = _activation
                if hi is not None and lo is not None:
                    args = args[:4] + ("hardtanh", [lo, hi], "")
                elif lo == 0.0:
                    args = args[:4] + ("relu", [], "")
                else:
                    post = _activation
            y = self.mkldnn[1](X, packed, B, *args)
            # W and B are constants (_immutable): only the input's shape and type can change
            self.last = None if uneven is not None else (in_shape, W, B, packed, args, X.dtype, post)
            return y if post is None else y.clamp_(*post)
        with k._float32(X):
            y = k._conv[nsp](X, W, B, st, padding, dl, group)
        return y if _activation is None else y.clamp_(*_activation)


class _LinearNode:
    """MatMul / Gemm of one node. A constant float32 weight whose output side is at least as
    wide as its input side (a classifier head, an MLP's expansion, attention projections) is
    reordered once for oneDNN's matrix product: with MKL on a CPU that is not Intel's (this
    machine's EPYC), sgemm runs such shapes well below the CPU's speed (a GPT-2 head,
    128x768 by 768x50257: 250 ms in MKL, 146 ms in oneDNN, 120 ms in onnxruntime's MLAS);
    narrower ones stay with torch.matmul, which does as well there."""

    def __init__(self, k: _Kernels, standard):
        self.k = k
        self.standard = standard
        self.packed = _LastOf()
        self.mkldnn = k.mkldnn_linear

    def __call__(self, xp, a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
        torch = self.k.torch
        gemm = self.standard == self.k.gemm
        if (self.mkldnn is not None and b.ndim == 2 and a.ndim >= 2 and a.dtype == torch.float32
                and b.dtype == torch.float32 and a.device.type == "cpu" and not transA and alpha == 1.0
                and torch.is_inference_mode_enabled() and _immutable(b)):
            K, N = (b.shape[1], b.shape[0]) if transB else tuple(b.shape)
            bias = None
            if gemm and c is not None and beta != 0.0:
                if (beta != 1.0 or c.dtype != torch.float32 or c.numel() != N or c.ndim > 2
                        or (c.ndim == 2 and c.shape[0] != 1)):
                    return self._standard(xp, a, b, c, gemm, alpha, beta, transA, transB)
                bias = c.reshape(N)
            if N >= K and a.shape[-1] == K:
                x = a.reshape(-1, K)
                packed = self.packed.get((b,))
                if packed is None:
                    weight = b if transB else b.t()
                    packed = self.mkldnn[0](weight.contiguous(), x.shape[0])
                    self.packed.put((b,), packed)
                y = self.mkldnn[1](x.contiguous(), packed, bias, "none", [], "")
                return y.reshape(tuple(a.shape[:-1]) + (N,))
        return self._standard(xp, a, b, c, gemm, alpha, beta, transA, transB)

    def _standard(self, xp, a, b, c, gemm, alpha, beta, transA, transB):
        if gemm:
            return self.standard(xp, a, b, c, alpha=alpha, beta=beta, transA=transA, transB=transB)
        return self.standard(xp, a, b)


class _Recurrent:
    """LSTM/GRU/RNN of one node: the weights in torch's gate order are made once (and an LSTM's
    in the NumPy kernel's form, for its runs on the host)."""

    def __init__(self, fn, host=False):
        self.fn = fn
        self.cache = _LastOf()
        self.extra = {"host_cache": _LastOf()} if host else {}

    def __call__(self, xp, *inputs, **attrs):
        return self.fn(xp, *inputs, cache=self.cache, **self.extra, **attrs)


def _scalar_of(cache: _LastOf, t):
    """The Python number in a one-element tensor (remembered for a constant one)."""
    v = cache.get((t,))
    if v is None:
        v = t.reshape(()).item()
        cache.put((t,), v)
    return v


class _PowNode:
    """Pow by a one-element exponent (x ** 3 in GELU's tanh form): torch's scalar pow, which
    multiplies for small integral exponents where the tensor form calls pow per element."""

    def __init__(self, k: _Kernels):
        self.torch = k.torch
        self.exponent = _LastOf()

    def __call__(self, xp, x, y):
        torch = self.torch
        if (x.dtype not in (torch.float32, torch.float64) or y.numel() != 1 or y.ndim > x.ndim
                or y.is_complex() or y.dtype == torch.bool or y.requires_grad):
            return NotImplemented
        e = _scalar_of(self.exponent, y)
        if y.is_floating_point() and y.dtype != x.dtype and float(x.new_tensor(e).item()) != e:
            return NotImplemented  # an exponent x's type does not hold exactly: the wider type computes
        return torch.pow(x, e)


class _ClipNode:
    """Clip-11+ by constant bounds: torch.clamp on Python numbers."""

    def __init__(self, k: _Kernels):
        self.torch = k.torch
        self.bounds = _LastOf()

    def __call__(self, xp, input, min=None, max=None):
        torch = self.torch
        dt = input.dtype
        bounds = (min, max)
        if dt == torch.bool or dt.is_complex or any(
                b is not None and (b.dtype != dt or b.numel() != 1 or b.requires_grad) for b in bounds):
            return NotImplemented
        pair = self.bounds.get(bounds)
        if pair is None:
            pair = tuple(None if b is None else b.reshape(()).item() for b in bounds)
            self.bounds.put(bounds, pair)
        if pair == (None, None):
            return input
        # min > max: every element becomes max, in torch as in the spec
        return torch.clamp(input, *pair)


class _ShapeNode:
    """Shape of one node: the same read-only array while the shape stays the same, so that the
    shape arithmetic after it is remembered by its nodes (see torch_backend.py)."""

    def __init__(self):
        self.last = None

    def __call__(self, xp, data, *, start=0, end=None):
        dims = tuple(data.shape)
        last = self.last
        if last is not None and last[0] == dims:
            return last[1]
        rank = len(dims)
        s = min(max(start + rank if start < 0 else start, 0), rank)
        e = rank if end is None else min(max(end + rank if end < 0 else end, 0), rank)
        out = np.asarray(dims[s:e], dtype=np.int64).reshape(-1)
        out.flags.writeable = False
        self.last = (dims, out)
        return out
