"""Native PyTorch kernels that replace standard ones on the torch backend.

Each takes the standard kernel's arguments (ONNX inputs, attributes with the spec's
defaults) and returns ``NotImplemented`` for what it does not cover; the standard kernel
then runs. Geometry (pads, output sizes, average divisors) comes from the standard
modules, so both paths agree on what the op means.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ..ops.conv import _ints, conv_pads, conv_transpose_geometry
from ..ops.pool import _geometry_from_attrs, average_counts
from . import common_kernels

_SPATIAL = (1, 2, 3)


def register(backend) -> None:
    """Install the native kernels on ``backend`` (a TorchBackend)."""
    import torch
    import torch.nn.functional as F

    k = _Kernels(torch, F, backend)
    backend.native("Conv", 1, k.conv)
    backend.native("ConvTranspose", 1, k.conv_transpose_v1)
    backend.native("ConvTranspose", 11, k.conv_transpose)
    backend.native("MaxPool", (1, 8, 10, 12, 22), k.max_pool)
    backend.native("AveragePool", (1, 7, 10, 11, 19, 22), k.average_pool)
    backend.native("MatMul", 1, k.matmul)
    backend.native("Gemm", (7, 11), k.gemm)
    backend.native("Softmax", 13, k.softmax)
    backend.native("LogSoftmax", 13, k.log_softmax)
    backend.native("LayerNormalization", 17, k.layer_norm)
    backend.native("Attention", (23, 24, 25), k.attention)
    backend.native("Pad", (11, 18, 19), k.pad)
    backend.native("ScatterElements", (11, 16, 18), k.scatter_elements)
    backend.native("Scatter", (9, 11), k.scatter)
    backend.native("ScatterND", (11, 16, 18), k.scatter_nd)
    backend.native("LSTM", (7, 14), k.lstm)
    backend.native("GRU", (7, 14), k.gru)
    backend.native("RNN", (7, 14), k.rnn)
    for op_type, fn in (("Relu", k.relu), ("Sigmoid", k.sigmoid), ("Tanh", k.tanh)):
        backend.native(op_type, (6, 13, 14) if op_type == "Relu" else (6, 13), fn)
    for op_type, name in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul")):
        backend.native(op_type, (7, 13, 14), k.binary(getattr(torch, name)))
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
    def conv(self, xp, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
             pads=None, strides=None):
        nsp = X.ndim - 2
        if nsp not in _SPATIAL or not X.is_floating_point() or X.is_complex():
            return NotImplemented
        kernel = _ints(kernel_shape, nsp, 0) if kernel_shape else list(W.shape[2:])
        strides = _ints(strides, nsp, 1)
        dilations = _ints(dilations, nsp, 1)
        p = conv_pads(auto_pad, X.shape[2:], kernel, strides, dilations, pads)
        begins, ends = p[:nsp], p[nsp:]
        if begins != ends:
            X = self.F.pad(X, _pairs(begins, ends))
            begins = [0] * nsp
        with self._float32(X):
            return self._conv[nsp](X, W, B, tuple(strides), tuple(begins), tuple(dilations), group)

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

    def max_pool(self, xp, X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, pads=None,
                 storage_order=0, strides=None, _n_outputs=1):
        nsp = X.ndim - 2
        if nsp not in _SPATIAL or not X.is_floating_point() or X.is_complex():
            return NotImplemented
        kernel, strides, dilations, begins, _ends, out = _geometry_from_attrs(
            X, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)
        if min(out, default=1) <= 0:
            return NotImplemented
        xpad = self._windows_padded(X, begins, kernel, strides, dilations, out, -math.inf)
        want_index = _n_outputs > 1
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
                   clip, direction, layout, _n_outputs):
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

        params = []
        for d in range(num_dirs):
            bias = B[d] if B is not None else torch.zeros(2 * G * H, dtype=X.dtype, device=X.device)
            params += [reorder(W[d]), reorder(R[d]), reorder(bias[: G * H]), reorder(bias[G * H:])]
        hx = [torch.zeros((num_dirs, batch, H), dtype=X.dtype, device=X.device) if s is None else s.to(X.dtype)
              for s in states]
        reverse = direction == "reverse"
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
             hidden_size=None, input_forget=0, layout=0, output_sequence=0, _n_outputs=None):
        if input_forget or (P is not None and bool(P.any())):
            return NotImplemented
        return self._recurrent(self.torch.lstm, X, W, R, B, sequence_lens, [initial_h, initial_c],
                               self._LSTM_GATES, 2, activations=activations,
                               defaults=["sigmoid", "tanh", "tanh"], clip=clip, direction=direction,
                               layout=layout, _n_outputs=_n_outputs)

    def gru(self, xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None,
            activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, layout=0,
            linear_before_reset=0, output_sequence=0, _n_outputs=None):
        if not linear_before_reset:
            return NotImplemented  # torch's GRU applies the reset gate after the linear map
        return self._recurrent(self.torch.gru, X, W, R, B, sequence_lens, [initial_h], self._GRU_GATES, 1,
                               activations=activations, defaults=["sigmoid", "tanh"], clip=clip,
                               direction=direction, layout=layout, _n_outputs=_n_outputs)

    def rnn(self, xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None,
            activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, layout=0,
            output_sequence=0, _n_outputs=None):
        fn, defaults = self.torch.rnn_tanh, ["tanh"]
        if activations and all(a.lower() == "relu" for a in activations):
            fn, defaults = self.torch.rnn_relu, ["relu"]
        return self._recurrent(fn, X, W, R, B, sequence_lens, [initial_h], (0,), 1, activations=activations,
                               defaults=defaults, clip=clip, direction=direction, layout=layout,
                               _n_outputs=_n_outputs)

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

