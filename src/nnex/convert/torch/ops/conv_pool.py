"""Convolutions (every rank, grouped, dilated, transposed), pooling (max, average, adaptive,
ceil_mode) and nn.Unfold / nn.Fold (im2col / col2im)."""

from __future__ import annotations

import math

import numpy as np

from ... import ConversionError
from ..context import Ctx
from ..registry import lowers
from ._common import aten


def _n(v, k):
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return v * k if len(v) == 1 and k > 1 else v


@lowers(aten.convolution.default, aten._convolution.default)
def convolution(ctx: Ctx, x, w, b, stride, padding, dilation, transposed, output_padding, groups, *rest):
    k = ctx.rank(x) - 2
    stride, padding, dilation = _n(stride, k), _n(padding, k), _n(dilation, k)
    attrs = {"strides": stride, "pads": padding + padding, "dilations": dilation, "group": int(groups)}
    if transposed:
        op = _n(output_padding, k)
        if any(op):
            attrs["output_padding"] = op
        return ctx.op.ConvTranspose(x, w, b, **attrs)
    return ctx.op.Conv(x, w, b, **attrs)


@lowers(aten.conv1d.default, aten.conv2d.default, aten.conv3d.default)
def conv_nd(ctx: Ctx, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    if isinstance(padding, str):
        raise ConversionError(f"padding={padding!r} should have been decomposed")
    return convolution(ctx, x, w, b, stride, padding, dilation, False, [0], groups)


def _pool_pads(ctx: Ctx, x, kernel, stride, padding, dilation, ceil_mode):
    """ONNX pads giving torch's output size: torch's ceil_mode drops a last window that would
    start in the right padding, which ONNX's ceil_mode does not; explicit end pads avoid both."""
    k = len(kernel)
    pads_begin = list(padding)
    pads_end = list(padding)
    if not ceil_mode:
        return pads_begin + pads_end, 0
    shape = ctx.shape(x)
    out = ctx.out_shape
    spatial_in = [ctx.size(x, len(shape) - k + i) for i in range(k)]
    spatial_out = [out[len(out) - k + i] for i in range(k)]
    from ..context import static_int

    if any(not isinstance(s, int) for s in spatial_in) or any(static_int(s) is None for s in spatial_out):
        return pads_begin + pads_end, 1
    for i in range(k):
        need = (static_int(spatial_out[i]) - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
        pads_end[i] = max(pads_end[i], need - spatial_in[i] - pads_begin[i])
    return pads_begin + pads_end, 0


def _maxpool(ctx: Ctx, x, kernel, stride, padding, dilation, ceil_mode):
    k = len(kernel)
    stride = _n(stride, k) if stride else list(kernel)
    padding, dilation = _n(padding, k), _n(dilation, k)
    pads, ceil = _pool_pads(ctx, x, kernel, stride, padding, dilation, ceil_mode)
    attrs = {"kernel_shape": list(kernel), "strides": stride, "pads": pads, "dilations": dilation, "ceil_mode": ceil}
    if not ctx.used(1):
        return ctx.op.MaxPool(x, **attrs), None
    y, idx = ctx.op.MaxPool(x, _outputs=2, **attrs)
    # ONNX counts indices over the whole tensor, torch within each (n, c) plane
    plane = ctx.op.ReduceProd(ctx.shape_of(x, 2), keepdims=0)
    return y, ctx.op.Mod(idx, plane)


@lowers(aten.max_pool1d_with_indices.default, aten.max_pool2d_with_indices.default,
        aten.max_pool3d_with_indices.default)
def max_pool_with_indices(ctx: Ctx, x, kernel, stride=(), padding=0, dilation=1, ceil_mode=False):
    kernel = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel]
    return _maxpool(ctx, x, kernel, stride, padding, dilation, ceil_mode)


@lowers(aten.max_pool1d.default, aten.max_pool2d.default, aten.max_pool3d.default)
def max_pool(ctx: Ctx, x, kernel, stride=(), padding=0, dilation=1, ceil_mode=False):
    kernel = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel]
    k = ctx.rank(x) - 2
    kernel = _n(kernel, k)
    stride = _n(stride, k) if stride else list(kernel)
    padding, dilation = _n(padding, k), _n(dilation, k)
    pads, ceil = _pool_pads(ctx, x, kernel, stride, padding, dilation, ceil_mode)
    return ctx.op.MaxPool(x, kernel_shape=kernel, strides=stride, pads=pads, dilations=dilation, ceil_mode=ceil)


@lowers(aten.avg_pool1d.default, aten.avg_pool2d.default, aten.avg_pool3d.default)
def avg_pool(ctx: Ctx, x, kernel, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
    kernel = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel]
    k = ctx.rank(x) - 2
    kernel = _n(kernel, k)
    stride = _n(stride, k) if stride else list(kernel)
    padding = _n(padding, k)
    dt = ctx.out_dtype
    if ceil_mode:
        return _avg_pool_ceil(ctx, x, kernel, stride, padding, count_include_pad, divisor_override)
    if divisor_override:
        s = ctx.op.AveragePool(x, kernel_shape=kernel, strides=stride, pads=padding + padding, count_include_pad=1)
        return ctx.op.Mul(s, ctx.const(math.prod(kernel) / divisor_override, dt))
    return ctx.op.AveragePool(x, kernel_shape=kernel, strides=stride, pads=padding + padding,
                              count_include_pad=int(bool(count_include_pad)))


def _avg_pool_ceil(ctx: Ctx, x, kernel, stride, padding, count_include_pad, divisor_override):
    # torch divides a window hanging past the padded input by what it covers: a sum pool over
    # zero-padded input, divided by per-window counts computed the same way at conversion time
    dt = ctx.out_dtype
    k = len(kernel)
    pads, _ = _pool_pads(ctx, x, kernel, stride, padding, [1] * k, True)
    r = ctx.rank(x)
    op = ctx.op
    in_sp = [ctx.size(x, r - k + i) for i in range(k)]
    if any(not isinstance(s, int) for s in in_sp):
        raise ConversionError("avg_pool with ceil_mode on symbolic spatial sizes is not supported")
    total = op.Mul(op.AveragePool(x, kernel_shape=kernel, strides=stride, pads=pads, count_include_pad=1),
                   ctx.const(float(math.prod(kernel)), dt))
    if divisor_override:
        return op.Div(total, ctx.const(float(divisor_override), dt))
    ones = np.ones([1, 1] + in_sp, dtype=np.float64)
    if count_include_pad:  # torch's own padding counts, the extra end padding does not
        ones = np.pad(ones, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=1.0)
        cnt_pads = [0] * k + [max(0, pads[k + i] - padding[i]) for i in range(k)]
    else:
        cnt_pads = pads
    cnt = _sum_pool_np(ones, kernel, stride, cnt_pads)
    return op.Div(total, ctx.const(cnt, dt))


def _sum_pool_np(a, kernel, stride, pads):
    k = len(kernel)
    a = np.pad(a, [(0, 0), (0, 0)] + [(pads[i], pads[k + i]) for i in range(k)])
    out_sp = [(a.shape[2 + i] - kernel[i]) // stride[i] + 1 for i in range(k)]
    out = np.zeros(a.shape[:2] + tuple(out_sp), dtype=a.dtype)
    for idx in np.ndindex(*out_sp):
        sl = tuple(slice(idx[i] * stride[i], idx[i] * stride[i] + kernel[i]) for i in range(k))
        out[(slice(None), slice(None)) + idx] = a[(slice(None), slice(None)) + sl].sum(axis=tuple(range(2, 2 + k)))
    return out


def _adaptive(ctx: Ctx, x, output_size, reduce_name: str):
    """Adaptive pooling is separable: reduce each spatial dim over torch's windows in turn."""
    r = ctx.rank(x)
    k = len(output_size)
    op = ctx.op
    out = x
    for i in range(k):
        d = r - k + i
        n = ctx.size(x, d)
        m = output_size[i]
        if not isinstance(n, int):
            raise ConversionError("adaptive pooling over a symbolic spatial size is not supported")
        if m is None or m == n:
            continue
        if n % m == 0:
            kern = [1] * k
            kern[i] = n // m
            if reduce_name == "ReduceMean":
                out = op.AveragePool(out, kernel_shape=kern, strides=kern)
            else:
                out = op.MaxPool(out, kernel_shape=kern, strides=kern)
            continue
        parts = []
        for j in range(m):
            s, e = (j * n) // m, -(-((j + 1) * n) // m)
            sl = op.Slice(out, ctx.ints([s]), ctx.ints([e]), ctx.ints([d]))
            parts.append(getattr(op, reduce_name)(sl, ctx.ints([d]), keepdims=1))
        out = op.Concat(*parts, axis=d)
    return out if out is not x else op.Identity(x)


@lowers(aten._adaptive_avg_pool2d.default, aten._adaptive_avg_pool3d.default, aten.adaptive_avg_pool1d.default,
        aten.adaptive_avg_pool2d.default, aten.adaptive_avg_pool3d.default)
def adaptive_avg_pool(ctx: Ctx, x, output_size):
    output_size = list(output_size)
    if all(s == 1 for s in output_size) and len(output_size) == ctx.rank(x) - 2:
        return ctx.op.GlobalAveragePool(x)
    return _adaptive(ctx, x, output_size, "ReduceMean")


@lowers(aten.adaptive_max_pool1d.default, aten.adaptive_max_pool2d.default, aten.adaptive_max_pool3d.default)
def adaptive_max_pool(ctx: Ctx, x, output_size):
    if ctx.used(1):
        raise ConversionError("the indices of adaptive max pooling are not supported")
    output_size = list(output_size)
    if all(s == 1 for s in output_size) and len(output_size) == ctx.rank(x) - 2:
        return ctx.op.GlobalMaxPool(x), None
    return _adaptive(ctx, x, output_size, "ReduceMax"), None


@lowers(aten.im2col.default)
def im2col(ctx: Ctx, x, kernel, dilation, padding, stride):
    # a grouped convolution with one-hot kernels picks every patch element, channel-major
    dt = ctx.dtype(x)
    batched = ctx.rank(x) == 4
    c = _channels(ctx, batched)
    if not batched:
        x = ctx.op.Unsqueeze(x, ctx.ints([0]))
    kh, kw = kernel
    kk = kh * kw
    w = np.zeros((c * kk, 1, kh, kw), dtype=np.float32)
    for ch in range(c):
        for i in range(kk):
            w[ch * kk + i, 0, i // kw, i % kw] = 1.0
    y = ctx.op.Conv(x, ctx.const(w, dt), kernel_shape=[kh, kw], strides=list(stride), pads=list(padding) * 2,
                    dilations=list(dilation), group=c)
    shape = ctx.op.Concat(ctx.shape_of(y, 0, 2), ctx.ints([-1]), axis=0)
    out = ctx.op.Reshape(y, shape)
    return out if batched else ctx.op.Squeeze(out, ctx.ints([0]))


def _channels(ctx: Ctx, batched: bool) -> int:
    src = ctx.node.args[0].meta["val"]
    c = src.shape[1] if batched else src.shape[0]
    from ..context import static_int

    n = static_int(c)
    if n is None:
        raise ConversionError("nn.Unfold on a symbolic number of channels is not supported")
    return n


@lowers(aten.col2im.default)
def col2im(ctx: Ctx, x, output_size, kernel, dilation, padding, stride):
    batched = ctx.rank(x) == 3
    if not batched:
        x = ctx.op.Unsqueeze(x, ctx.ints([0]))
    out = ctx.op.Col2Im(x, ctx.size_vec(output_size), ctx.ints(kernel), dilations=list(dilation),
                        pads=list(padding) * 2, strides=list(stride))
    return out if batched else ctx.op.Squeeze(out, ctx.ints([0]))


@lowers(aten.conv_transpose1d.default, aten.conv_transpose2d.input, aten.conv_transpose3d.input)
def conv_transpose_nd(ctx: Ctx, x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return convolution(ctx, x, w, b, stride, padding, dilation, True, output_padding, groups)
