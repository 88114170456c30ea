"""Convolutions, pooling, bias and batch normalization, softmax.

TensorFlow's default layout is channels-last (NHWC); ONNX's Conv and pools are channels-first.
Each op here transposes its input to NCHW and its result back; the layout pass
(``layout.py``) then moves those transposes through the layout-agnostic ops between
convolutions until pairs meet and cancel.
"""

from __future__ import annotations

import numpy as np

from ... import ConversionError
from ..registry import lowers
from ._common import (
    attr,
    channels_last,
    explicit_pads,
    out_dtype,
    out_shape,
    same_pads,
    spatial,
    to_channels_first,
    to_channels_last,
)


def _padding(op, x_shape, data_format, rank, kernel, strides, dilations) -> dict:
    padding = attr(op, "padding", "VALID")
    if padding == "VALID":
        return {"pads": [0] * (2 * (rank - 2))}
    if padding == "EXPLICIT":
        return {"pads": explicit_pads(attr(op, "explicit_paddings"), data_format, rank)}
    if padding != "SAME":
        raise ConversionError(f"padding {padding!r} is not supported")
    sizes = None
    if x_shape is not None:
        sizes = [x_shape[d] for d in (range(1, rank - 1) if channels_last(data_format) else range(2, rank))]
    pads = same_pads(sizes, kernel, strides, dilations) if sizes is not None else None
    return {"pads": pads} if pads is not None else {"auto_pad": "SAME_UPPER"}


def _to_cf(ctx, x, data_format, rank):
    return ctx.transpose(x, to_channels_first(rank)) if channels_last(data_format) else x


def _from_cf(ctx, y, data_format, rank):
    return ctx.transpose(y, to_channels_last(rank)) if channels_last(data_format) else y


def _weights(ctx, w, perm, reshape=None):
    """Filter re-laid out for ONNX: computed here when constant (the usual case)."""
    arr = ctx.value(w)
    if arr is not None:
        if reshape is not None:
            arr = arr.reshape(reshape)
        return ctx.const(np.ascontiguousarray(np.transpose(arr, perm)))
    if reshape is not None:
        w = ctx.reshape(w, reshape)
    return ctx.op.Transpose(w, perm=list(perm))


def _dilated(ctx, op, d, w, depthwise):
    """The SpaceToBatchND -> conv -> BatchToSpaceND triple as one dilated Conv."""
    x = d.x
    # padding then cropping the output of a stride-1 conv: both fold into the conv's pads
    begins = [int(d.paddings[i, 0] - d.crops[i, 0]) for i in range(2)]
    ends = [int(d.paddings[i, 1] - d.crops[i, 1]) for i in range(2)]
    if min(begins + ends) < 0:
        raise ConversionError("a dilated convolution crops more than it pads")
    wshape = ctx.static_shape(w)
    if depthwise:
        kh, kw, c, m = wshape
        wt, group = _weights(ctx, w, [3, 2, 0, 1], reshape=(kh, kw, 1, c * m)), c
    else:
        xs = ctx.shape(x)
        group = xs[-1] // wshape[2] if xs is not None and xs[-1] is not None else 1
        wt = _weights(ctx, w, [3, 2, 0, 1])
    y = ctx.op.Conv(_to_cf(ctx, x, "NHWC", 4), wt, strides=[1, 1], dilations=list(d.block), group=group,
                    pads=begins + ends)
    ctx.record(y, out_dtype(op))
    d.done = _from_cf(ctx, y, "NHWC", 4)
    return d


@lowers("Conv2D", "Conv3D", "Conv1D")
def conv(ctx, op, x, w):
    if type(x).__name__ == "Dilated":
        return _dilated(ctx, op, x, w, depthwise=False)
    rank = ctx.rank(x)
    fmt = attr(op, "data_format", "NHWC")
    wshape = ctx.static_shape(w)
    if wshape is None:
        raise ConversionError("the filter's shape must be static")
    kernel = list(wshape[:rank - 2])
    strides = spatial(attr(op, "strides"), fmt, rank)
    dilations = spatial(attr(op, "dilations", [1] * rank), fmt, rank)
    xs = ctx.shape(x)
    cin = xs[-1 if channels_last(fmt) else 1] if xs is not None else None
    group = 1
    if cin is not None and cin != wshape[rank - 2]:
        if cin % wshape[rank - 2]:
            raise ConversionError(f"{cin} input channels do not divide into groups of {wshape[rank - 2]}")
        group = cin // wshape[rank - 2]
    wt = _weights(ctx, w, [rank - 1, rank - 2] + list(range(rank - 2)))
    y = ctx.op.Conv(_to_cf(ctx, x, fmt, rank), wt, strides=strides, dilations=dilations, group=group,
                    **_padding(op, xs, fmt, rank, kernel, strides, dilations))
    ctx.record(y, out_dtype(op))
    return _from_cf(ctx, y, fmt, rank)


@lowers("DepthwiseConv2dNative")
def depthwise_conv(ctx, op, x, w):
    if type(x).__name__ == "Dilated":
        return _dilated(ctx, op, x, w, depthwise=True)
    fmt = attr(op, "data_format", "NHWC")
    wshape = ctx.static_shape(w)
    if wshape is None:
        raise ConversionError("the filter's shape must be static")
    kh, kw, c, m = wshape
    strides = spatial(attr(op, "strides"), fmt, 4)
    dilations = spatial(attr(op, "dilations", [1, 1, 1, 1]), fmt, 4)
    # TensorFlow's output channel c * m + k is ONNX's group c, filter k
    wt = _weights(ctx, w, [3, 2, 0, 1], reshape=(kh, kw, 1, c * m))
    y = ctx.op.Conv(_to_cf(ctx, x, fmt, 4), wt, strides=strides, dilations=dilations, group=c,
                    **_padding(op, ctx.shape(x), fmt, 4, [kh, kw], strides, dilations))
    ctx.record(y, out_dtype(op))
    return _from_cf(ctx, y, fmt, 4)


@lowers("Conv2DBackpropInput", "Conv3DBackpropInputV2")
def conv_transpose(ctx, op, sizes, w, dy):
    rank = ctx.rank(dy)
    fmt = attr(op, "data_format", "NHWC")
    out_sizes = ctx.value(sizes)
    if out_sizes is None:
        out_sizes = out_shape(op)
    wshape = ctx.static_shape(w)
    dshape = ctx.shape(dy)
    sp = list(range(1, rank - 1)) if channels_last(fmt) else list(range(2, rank))
    if out_sizes is None or wshape is None or dshape is None or any(
            out_sizes[d] is None or dshape[d] is None for d in sp):
        raise ConversionError("the spatial sizes of the input and output and the filter's shape must be static")
    ins = [dshape[d] for d in sp]
    outs = [int(out_sizes[d]) for d in sp]
    kernel = list(wshape[:rank - 2])
    strides = spatial(attr(op, "strides"), fmt, rank)
    dilations = spatial(attr(op, "dilations", [1] * rank), fmt, rank)
    padding = attr(op, "padding", "VALID")
    if padding == "EXPLICIT":
        fwd = explicit_pads(attr(op, "explicit_paddings"), fmt, rank)
        begins = fwd[:rank - 2]
    elif padding == "SAME":
        begins = same_pads(outs, kernel, strides, dilations)[:rank - 2]
    else:
        begins = [0] * (rank - 2)
    pads_end, out_pad = [], []
    for n, o, k, s, d, b in zip(ins, outs, kernel, strides, dilations, begins):
        full = (n - 1) * s + (k - 1) * d + 1
        end = full - b - o  # what is cropped at the end; negative: the output is longer than the full one
        pads_end.append(max(end, 0))
        out_pad.append(max(-end, 0))
    # forward filter [k..., in, out] -> ConvTranspose weight [out (its input), in, k...]
    wt = _weights(ctx, w, [rank - 1, rank - 2] + list(range(rank - 2)))
    kw = {"output_padding": out_pad} if any(out_pad) else {}
    y = ctx.op.ConvTranspose(_to_cf(ctx, dy, fmt, rank), wt, strides=strides, dilations=dilations,
                             pads=list(begins) + pads_end, **kw)
    ctx.record(y, out_dtype(op))
    return _from_cf(ctx, y, fmt, rank)


def _pool(ctx, op, onnx_op, x, ksize, strides, **extra):
    rank = ctx.rank(x)
    fmt = attr(op, "data_format", "NHWC")
    full_k, full_s = list(ksize), list(strides)
    cdim = rank - 1 if channels_last(fmt) else 1
    if full_k[0] != 1 or full_k[cdim] != 1 or full_s[0] != 1 or full_s[cdim] != 1:
        raise ConversionError("pooling over the batch or channel dimension is not supported")
    kernel = spatial(full_k, fmt, rank)
    st = spatial(full_s, fmt, rank)
    pad = _padding(op, ctx.shape(x), fmt, rank, kernel, st, [1] * (rank - 2))
    y = getattr(ctx.op, onnx_op)(_to_cf(ctx, x, fmt, rank), kernel_shape=kernel, strides=st, **pad, **extra)
    ctx.record(y, out_dtype(op))
    return _from_cf(ctx, y, fmt, rank)


@lowers("MaxPool", "MaxPool3D")
def max_pool(ctx, op, x):
    return _pool(ctx, op, "MaxPool", x, attr(op, "ksize"), attr(op, "strides"))


@lowers("MaxPoolV2")
def max_pool_v2(ctx, op, x, ksize, strides):
    return _pool(ctx, op, "MaxPool", x, ctx.const_value(ksize, "ksize").tolist(),
                 ctx.const_value(strides, "strides").tolist())


@lowers("AvgPool", "AvgPool3D")
def avg_pool(ctx, op, x):
    # TensorFlow averages over the window's part inside the input (SAME padding is not counted)
    return _pool(ctx, op, "AveragePool", x, attr(op, "ksize"), attr(op, "strides"), count_include_pad=0)


def _channel_broadcast(ctx, v, x, fmt):
    """``v`` (one value per channel) shaped to broadcast against ``x`` in layout ``fmt``."""
    if channels_last(fmt):
        return v
    rank = ctx.rank(x)
    return ctx.reshape(v, [-1] + [1] * (rank - 2))


@lowers("BiasAdd", "BiasAddV1")
def bias_add(ctx, op, x, b):
    return ctx.op.Add(x, _channel_broadcast(ctx, b, x, attr(op, "data_format", "NHWC")))


@lowers("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def fused_batch_norm(ctx, op, x, scale, offset, mean, var):
    if attr(op, "is_training", False):
        raise ConversionError("batch normalization in training mode (batch statistics) is not supported; "
                              "convert the model in inference mode")
    eps = float(attr(op, "epsilon", 1e-3))
    fmt = attr(op, "data_format", "NHWC")
    dt = ctx.dtype(x)
    consts = [ctx.value(v) for v in (scale, offset, mean, var)]
    if all(c is not None for c in consts):
        s, o, m, v = (c.astype(np.float64) for c in consts)
        mul = s / np.sqrt(v + eps)
        mul_v, add_v = ctx.const(mul.astype(dt)), ctx.const((o - m * mul).astype(dt))
    else:
        f = [ctx.cast(v, dt) for v in (scale, offset, mean, var)]
        mul_v = ctx.op.Mul(f[0], ctx.op.Reciprocal(ctx.op.Sqrt(ctx.op.Add(f[3], ctx.scalar_const(eps, x)))))
        add_v = ctx.op.Sub(f[1], ctx.op.Mul(f[2], mul_v))
    y = ctx.op.Add(ctx.op.Mul(x, _channel_broadcast(ctx, mul_v, x, fmt)), _channel_broadcast(ctx, add_v, x, fmt))
    return [y, mean, var, mean, var, None]


@lowers("Softmax")
def softmax(ctx, op, x):
    return ctx.op.Softmax(x, axis=-1)


@lowers("LogSoftmax")
def log_softmax(ctx, op, x):
    return ctx.op.LogSoftmax(x, axis=-1)


@lowers("LRN")
def lrn(ctx, op, x):
    r = int(attr(op, "depth_radius", 5))
    size = 2 * r + 1
    # TensorFlow's alpha multiplies the plain sum, ONNX's the mean over the window
    y = ctx.op.LRN(ctx.transpose(x, [0, 3, 1, 2]), size=size, alpha=float(attr(op, "alpha", 1.0)) * size,
                   beta=float(attr(op, "beta", 0.5)), bias=float(attr(op, "bias", 1.0)))
    return ctx.transpose(y, [0, 2, 3, 1])


@lowers("DepthToSpace", "SpaceToDepth")
def depth_space(ctx, op, x):
    fmt = attr(op, "data_format", "NHWC")
    if fmt not in ("NHWC", "NCHW"):
        raise ConversionError(f"data_format {fmt!r} is not supported")
    bs = int(attr(op, "block_size"))
    kw = {"mode": "DCR"} if op.type == "DepthToSpace" else {}
    y = getattr(ctx.op, op.type)(_to_cf(ctx, x, fmt, 4), blocksize=bs, **kw)
    ctx.record(y, out_dtype(op))
    return _from_cf(ctx, y, fmt, 4)

