"""Convolution operators: Conv, ConvTranspose, DeformConv, Col2Im, CausalConvWithState.

Conv picks one of four kernels per shape (``_conv_geometry``, cached): depthwise
(_conv_depthwise: a weighted sum of taps, channels-last), 1x1 (one matrix product),
2-D stride-1 convs with few output channels (one product per kernel row, no columns)
and everything else (matrix products over cache-sized blocks of im2col columns), the
last three in _conv_gemm.  ConvTranspose is the adjoint: one matmul producing columns,
then a col2im scatter-add (a Python loop over kernel positions only, each position a
strided slice add).

The geometry helpers (``conv_pads``, ``conv_output_shape``, ``pad_spatial``,
``window_view``, ``col2im_add``) are public so pooling and other modules can reuse them.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._conv_depthwise import conv_depthwise
from ._conv_gemm import conv_im2col, conv_pointwise, conv_tap_products, use_tap_products
from ._conv_parallel import clamp
from .registry import op

# ---------------------------------------------------------------------------
# geometry helpers
# ---------------------------------------------------------------------------


def _ints(values, n: int, fill: int) -> list[int]:
    """An attribute list, or ``n`` copies of ``fill`` when absent/empty."""
    return [int(v) for v in values] if values else [fill] * n


def _auto_pad_name(auto_pad) -> str:
    return auto_pad.decode() if isinstance(auto_pad, bytes) else (auto_pad or "NOTSET")


def same_pads(total: int, auto_pad: str) -> tuple[int, int]:
    """Split a total padding: SAME_UPPER puts the odd element at the end, SAME_LOWER at the start."""
    small = total // 2
    big = total - small
    return (small, big) if auto_pad == "SAME_UPPER" else (big, small)


def conv_pads(auto_pad, in_shape, kernel, strides, dilations, pads) -> list[int]:
    """Begin/end pads ``[b0, b1, ..., e0, e1, ...]`` of a (non-transposed) convolution."""
    n = len(in_shape)
    auto_pad = _auto_pad_name(auto_pad)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for x, k, s, d in zip(in_shape, kernel, strides, dilations):
            out = -(-x // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - x)
            b, e = same_pads(total, auto_pad)
            begins.append(b)
            ends.append(e)
        return begins + ends
    if auto_pad == "VALID":
        return [0] * (2 * n)
    return _ints(pads, 2 * n, 0)


def conv_output_shape(in_shape, kernel, strides, dilations, pads) -> list[int]:
    """Spatial output shape (floor division) of a convolution with explicit pads."""
    n = len(in_shape)
    return [
        (in_shape[i] + pads[i] + pads[n + i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1
        for i in range(n)
    ]


def pad_spatial(x: np.ndarray, begins, ends, value=0) -> np.ndarray:
    """Pad (positive) or crop (negative) the trailing ``len(begins)`` axes of ``x``."""
    n = len(begins)
    lead = x.ndim - n
    if any(b < 0 for b in begins) or any(e < 0 for e in ends):
        crop = tuple(
            slice(max(0, -b), x.shape[lead + i] - max(0, -e)) for i, (b, e) in enumerate(zip(begins, ends))
        )
        x = x[(slice(None),) * lead + crop]
        begins = [max(0, b) for b in begins]
        ends = [max(0, e) for e in ends]
    if not any(begins) and not any(ends):
        return x
    widths = [(0, 0)] * lead + [(b, e) for b, e in zip(begins, ends)]
    return np.pad(x, widths, mode="constant", constant_values=value)


def window_view(xpad: np.ndarray, kernel, strides, dilations, out_shape) -> np.ndarray:
    """Read-only strided view ``(*lead, *out_shape, *kernel)`` of sliding windows.

    ``xpad`` holds the already padded input; its trailing ``len(kernel)`` axes are
    spatial and must be large enough for every window.
    """
    n = len(kernel)
    lead = xpad.ndim - n
    sp = xpad.strides[lead:]
    shape = xpad.shape[:lead] + tuple(out_shape) + tuple(kernel)
    strides_ = (
        xpad.strides[:lead]
        + tuple(sp[i] * strides[i] for i in range(n))
        + tuple(sp[i] * dilations[i] for i in range(n))
    )
    return as_strided(xpad, shape=shape, strides=strides_, writeable=False)


def kernel_slices(offsets, strides, dilations, out_shape) -> tuple[slice, ...]:
    """Spatial slices that pick, for one kernel position, the input element of every output."""
    return tuple(
        slice(k * d, k * d + (o - 1) * s + 1, s) for k, s, d, o in zip(offsets, strides, dilations, out_shape)
    )


def im2col(xpad: np.ndarray, kernel, strides, dilations, out_shape) -> np.ndarray:
    """Columns ``(N, C*prod(kernel), prod(out_shape))`` of a padded ``(N, C, *spatial)`` input."""
    n = len(kernel)
    win = window_view(xpad, kernel, strides, dilations, out_shape)  # (N, C, *out, *k)
    order = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))
    N, C = xpad.shape[:2]
    return np.ascontiguousarray(win.transpose(order)).reshape(N, C * math.prod(kernel), math.prod(out_shape))


def col2im_add(cols: np.ndarray, buf: np.ndarray, kernel, strides, dilations, in_shape) -> np.ndarray:
    """Scatter-add ``cols`` ``(*lead, *kernel, *in_shape)`` into ``buf`` ``(*lead, *spatial)``.

    The adjoint of ``im2col``: kernel position ``k`` of block ``o`` lands at
    ``o * stride + k * dilation``.  Loops over kernel positions only.
    """
    n = len(kernel)
    lead = buf.ndim - n
    head = (slice(None),) * lead
    for pos in itertools.product(*(range(k) for k in kernel)):
        buf[head + kernel_slices(pos, strides, dilations, in_shape)] += cols[head + pos]
    return buf


def _compute_dtype(dtype) -> np.dtype:
    """Half-precision types are computed in float32 (numpy's float16 matmul is slow and lossy)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize >= 4:
        return dtype
    if dtype.kind in "iu":
        return dtype
    return np.dtype(np.float32)


def _channel_shape(ndim: int) -> tuple[int, ...]:
    return (1, -1) + (1,) * (ndim - 2)


# ---------------------------------------------------------------------------
# Conv
# ---------------------------------------------------------------------------


def _key(values):
    """A hashable form of an int-list attribute (None stays None)."""
    return None if values is None else tuple(int(v) for v in values)


@functools.lru_cache(maxsize=1024)
def _conv_geometry(in_shape, w_shape, auto_pad, dilations, group, kernel_shape, pads, strides):
    """``(kind, pads, kernel, strides, dilations, out_shape)`` of a Conv, checked once per shape."""
    nsp = len(in_shape) - 2
    kernel = _ints(kernel_shape, nsp, 0) if kernel_shape else list(w_shape[2:])
    strides = _ints(strides, nsp, 1)
    dilations = _ints(dilations, nsp, 1)
    pads = conv_pads(auto_pad, in_shape[2:], kernel, strides, dilations, pads)
    out_shape = conv_output_shape(in_shape[2:], kernel, strides, dilations, pads)
    C, M = in_shape[1], w_shape[0]
    if group < 1 or C % group or M % group or w_shape[1] * group != C:
        raise ValueError(f"Conv: input has {C} channels, weights {tuple(w_shape)}, group {group}: "
                         f"W must be (M, C / group, *kernel) with M and C divisible by group")
    if len(w_shape) != len(in_shape) or list(w_shape[2:]) != kernel:
        raise ValueError(f"Conv: weights {tuple(w_shape)} do not match kernel_shape {kernel} "
                         f"of a {nsp}-D input {tuple(in_shape)}")
    if any(o < 0 for o in out_shape):
        raise ValueError(f"Conv: kernel {kernel} (dilations {dilations}) is larger than the input "
                         f"{list(in_shape[2:])} padded by {pads}")
    if C == group and group > 1:
        kind = "depthwise"
    elif all(k == 1 for k in kernel) and not any(pads):
        kind = "pointwise"
    elif use_tap_products(in_shape, w_shape, strides, group):
        kind = "taps"
    else:
        kind = "im2col"
    return kind, tuple(pads), tuple(kernel), tuple(strides), tuple(dilations), tuple(out_shape)


def conv_nd(x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
            strides=None, activation=None):
    """N-D grouped convolution (the Conv op), result in ``x``'s dtype.

    The result may be stored channels-last (see _conv_layout): depthwise convolutions
    produce it, pointwise ones keep the layout they are given.  ``activation`` =
    ``(lo, hi)`` (either None: no bound) clamps the result, a Clip or Relu that reads
    only this Conv fused into it (``fused_activation``).
    """
    attrs = (_auto_pad_name(auto_pad), _key(dilations), int(group), _key(kernel_shape), _key(pads),
             _key(strides))
    return _conv(x, w, b, attrs, activation)


def _conv(x, w, b, attrs, activation):
    """``conv_nd`` with its attributes in ``_conv_geometry``'s (hashable) form."""
    out_dtype = x.dtype
    cdt = _compute_dtype(out_dtype)
    if x.dtype != cdt:
        x = x.astype(cdt)
    if w.dtype != cdt or not w.flags.c_contiguous:
        w = np.ascontiguousarray(w, dtype=cdt)
    if b is not None:
        if b.shape != (w.shape[0],):
            raise ValueError(f"Conv: bias of shape {tuple(b.shape)} for {w.shape[0]} output channels")
        if b.dtype != cdt:
            b = b.astype(cdt)
    auto_pad, dilations, group, kernel_shape, pads, strides = attrs
    kind, pads, kernel, strides, dilations, out_shape = _conv_geometry(
        x.shape, w.shape, auto_pad, dilations, group, kernel_shape, pads, strides)
    if kind == "depthwise":
        y = conv_depthwise(x, w, b, pads, kernel, strides, dilations, out_shape, group, activation)
    elif kind == "pointwise":
        y = conv_pointwise(x, w, b, strides, group, activation)
    else:
        if kind == "taps":
            y = conv_tap_products(x, w, b, pads, kernel, dilations, out_shape)
        else:
            y = conv_im2col(x, w, b, pads, kernel, strides, dilations, out_shape, group)
        if activation is not None:
            clamp(y, activation)
    return y if y.dtype == out_dtype else y.astype(out_dtype)


@op("Conv", since=1)
def conv(xp, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
         strides=None, _activation=None):
    # ``_activation`` is no ONNX attribute: the planner sets it on a Conv it fuses with
    # the Clip / Relu after it (see _conv_activation.fused_activation)
    return conv_nd(X, W, B, auto_pad=auto_pad, dilations=dilations, group=group,
                   kernel_shape=kernel_shape, pads=pads, strides=strides, activation=_activation)


def _prepare_conv(attrs: dict):
    """The node's call, its attributes converted once (the planner's ``nnex_prepare``):
    a small network's Conv spends about as long converting them as convolving."""
    names = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "_activation")
    if not set(attrs) <= set(names):
        raise TypeError(f"Conv: unexpected attributes {sorted(set(attrs) - set(names))}")
    key = (_auto_pad_name(attrs.get("auto_pad", "NOTSET")), _key(attrs.get("dilations")),
           int(attrs.get("group", 1)), _key(attrs.get("kernel_shape")), _key(attrs.get("pads")),
           _key(attrs.get("strides")))
    activation = attrs.get("_activation")

    def conv_node(xp, X, W, B=None):
        return _conv(X, W, B, key, activation)

    return conv_node


conv.nnex_prepare = _prepare_conv


# ---------------------------------------------------------------------------
# ConvTranspose
# ---------------------------------------------------------------------------


def _crop(buf: np.ndarray, begins, lengths) -> np.ndarray:
    """Window ``[begin, begin + length)`` of each spatial axis; outside ``buf`` reads as zero."""
    n = len(begins)
    lead = buf.ndim - n
    # pad_spatial crops where its pads are negative
    ends = [begins[i] + lengths[i] - buf.shape[lead + i] for i in range(n)]
    return pad_spatial(buf, [-b for b in begins], ends)


def conv_transpose_geometry(in_shape, kernel, strides, dilations, output_padding, auto_pad, output_shape,
                            pads, same_upper_at_end=True):
    """``(full, begins, target)`` of a transposed convolution, per spatial axis: the size of
    the uncropped result (output_padding included), where the output window starts in it,
    and the output size. The output is ``full[begins:begins + target]`` (zeros past ``full``).
    """
    nsp = len(in_shape)
    out_pad = _ints(output_padding, nsp, 0)
    auto_pad = _auto_pad_name(auto_pad)
    full = [
        (in_shape[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 + out_pad[i] for i in range(nsp)
    ]
    if output_shape or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if output_shape:
            target = [int(v) for v in output_shape][-nsp:]
        else:
            target = [in_shape[i] * strides[i] for i in range(nsp)]
        begins = []
        for i in range(nsp):
            total = full[i] - target[i]
            upper = auto_pad == "SAME_UPPER"
            small, big = total // 2, total - total // 2
            begins.append(small if upper == same_upper_at_end else big)
    else:
        p = _ints(pads, 2 * nsp, 0)
        begins = p[:nsp]
        target = [full[i] - p[i] - p[nsp + i] for i in range(nsp)]
    return full, begins, target


def conv_transpose_nd(x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                      output_padding=None, output_shape=None, pads=None, strides=None,
                      same_upper_at_end=True):
    """N-D grouped transposed convolution.

    ``same_upper_at_end`` is False for ConvTranspose-1, whose spec put the larger
    half of the padding at the start for SAME_UPPER (reversed in opset 11).
    """
    out_dtype = x.dtype
    cdt = _compute_dtype(x.dtype)
    x = np.asarray(x, dtype=cdt)
    w = np.asarray(w, dtype=cdt)
    nsp = x.ndim - 2
    in_shape = list(x.shape[2:])
    kernel = _ints(kernel_shape, nsp, 0) if kernel_shape else list(w.shape[2:])
    strides = _ints(strides, nsp, 1)
    dilations = _ints(dilations, nsp, 1)
    full, begins, target = conv_transpose_geometry(in_shape, kernel, strides, dilations, output_padding,
                                                   auto_pad, output_shape, pads, same_upper_at_end)

    N, C = x.shape[:2]
    Mg = w.shape[1]
    M = Mg * group
    Cg = C // group
    K = math.prod(kernel)
    L = math.prod(in_shape)
    # columns (N, group, Mg*K, L): each input pixel spread over the kernel
    wg = w.reshape(group, Cg, Mg * K).transpose(0, 2, 1)
    cols = np.matmul(wg, x.reshape(N, group, Cg, L))
    cols = cols.reshape((N, M) + tuple(kernel) + tuple(in_shape))
    buf = np.zeros((N, M) + tuple(full), dtype=cdt)
    col2im_add(cols, buf, kernel, strides, dilations, in_shape)
    if list(begins) == [0] * nsp and list(target) == list(full):
        y = buf
    else:
        y = np.ascontiguousarray(_crop(buf, begins, target))
    if b is not None:
        y += np.asarray(b, dtype=cdt).reshape(_channel_shape(y.ndim))
    return y.astype(out_dtype, copy=False)


def _conv_transpose_kernel(same_upper_at_end: bool):
    def conv_transpose(xp, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                       output_padding=None, output_shape=None, pads=None, strides=None):
        return conv_transpose_nd(X, W, B, auto_pad=auto_pad, dilations=dilations, group=group,
                                 kernel_shape=kernel_shape, output_padding=output_padding,
                                 output_shape=output_shape, pads=pads, strides=strides,
                                 same_upper_at_end=same_upper_at_end)

    return conv_transpose


op("ConvTranspose", since=1)(_conv_transpose_kernel(False))
op("ConvTranspose", since=11)(_conv_transpose_kernel(True))


# ---------------------------------------------------------------------------
# DeformConv
# ---------------------------------------------------------------------------


def _sample_linear(xg: np.ndarray, coords: list[np.ndarray]) -> np.ndarray:
    """Multilinear sampling of ``xg`` ``(N, Cg, *spatial)`` at ``coords`` (each ``(N, P)``).

    Points outside the image contribute zero (GridSample zeros padding, aligned corners).
    Returns ``(N, Cg, P)``.
    """
    N, Cg = xg.shape[:2]
    spatial = xg.shape[2:]
    flat = xg.reshape(N, Cg, -1)
    lows = [np.floor(c) for c in coords]
    fracs = [c - lo for c, lo in zip(coords, lows)]
    lows = [lo.astype(np.int64) for lo in lows]
    out = np.zeros((N, Cg, coords[0].shape[1]), dtype=xg.dtype)
    for corner in itertools.product((0, 1), repeat=len(spatial)):
        weight = np.ones_like(coords[0])
        index = np.zeros(coords[0].shape, dtype=np.int64)
        valid = np.ones(coords[0].shape, dtype=bool)
        for ax, bit in enumerate(corner):
            pos = lows[ax] + bit
            weight = weight * (fracs[ax] if bit else 1 - fracs[ax])
            valid &= (pos >= 0) & (pos < spatial[ax])
            index = index * spatial[ax] + np.clip(pos, 0, spatial[ax] - 1)
        weight = np.where(valid, weight, 0).astype(xg.dtype)
        vals = np.take_along_axis(flat, index[:, None, :], axis=2)
        out += vals * weight[:, None, :]
    return out


@op("DeformConv", since=19)
def deform_conv(xp, X, W, offset, B=None, mask=None, *, dilations=None, group=1, kernel_shape=None,
                offset_group=1, pads=None, strides=None):
    out_dtype = X.dtype
    cdt = _compute_dtype(X.dtype)
    x = np.asarray(X, dtype=cdt)
    w = np.asarray(W, dtype=cdt)
    nsp = x.ndim - 2
    kernel = _ints(kernel_shape, nsp, 0) if kernel_shape else list(w.shape[2:])
    strides = _ints(strides, nsp, 1)
    dilations = _ints(dilations, nsp, 1)
    pads = _ints(pads, 2 * nsp, 0)
    out_shape = list(offset.shape[2:])
    N, C = x.shape[:2]
    M = w.shape[0]
    K = math.prod(kernel)
    L = math.prod(out_shape)
    Co = C // offset_group
    off = np.asarray(offset, dtype=cdt).reshape((N, offset_group, K, nsp, L))
    msk = None if mask is None else np.asarray(mask, dtype=cdt).reshape(N, offset_group, K, L)

    # base sampling position of (kernel position, output position) per axis: (K, L)
    kgrid = np.stack(np.meshgrid(*(np.arange(k) for k in kernel), indexing="ij"), 0).reshape(nsp, K)
    ogrid = np.stack(np.meshgrid(*(np.arange(o) for o in out_shape), indexing="ij"), 0).reshape(nsp, L)
    base = [
        (ogrid[i][None, :] * strides[i] - pads[i] + kgrid[i][:, None] * dilations[i]).astype(cdt)
        for i in range(nsp)
    ]

    cols = np.empty((N, C, K, L), dtype=cdt)
    for g in range(offset_group):
        coords = [(base[i][None] + off[:, g, :, i, :]).reshape(N, K * L) for i in range(nsp)]
        vals = _sample_linear(x[:, g * Co:(g + 1) * Co], coords).reshape(N, Co, K, L)
        if msk is not None:
            vals = vals * msk[:, g][:, None]
        cols[:, g * Co:(g + 1) * Co] = vals
    Cg, Mg = C // group, M // group
    y = np.matmul(w.reshape(group, Mg, Cg * K), cols.reshape(N, group, Cg * K, L))
    y = y.reshape((N, M) + tuple(out_shape))
    if B is not None:
        y = y + np.asarray(B, dtype=cdt).reshape(_channel_shape(y.ndim))
    return y.astype(out_dtype, copy=False)


# ---------------------------------------------------------------------------
# Col2Im
# ---------------------------------------------------------------------------


@op("Col2Im", since=18, host_inputs=(1, 2))
def col2im(xp, input, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    image = [int(v) for v in np.asarray(image_shape).reshape(-1)]
    block = [int(v) for v in np.asarray(block_shape).reshape(-1)]
    n = len(image)
    strides = _ints(strides, n, 1)
    dilations = _ints(dilations, n, 1)
    pads = _ints(pads, 2 * n, 0)
    x = np.asarray(input)
    out_dtype = x.dtype
    cdt = _compute_dtype(out_dtype)
    nblocks = conv_output_shape(image, block, strides, dilations, pads)
    N = x.shape[0]
    C = x.shape[1] // math.prod(block)
    cols = x.astype(cdt, copy=False).reshape((N, C) + tuple(block) + tuple(nblocks))
    padded = [image[i] + pads[i] + pads[n + i] for i in range(n)]
    buf = np.zeros((N, C) + tuple(padded), dtype=cdt)
    col2im_add(cols, buf, block, strides, dilations, nblocks)
    y = buf[(slice(None), slice(None)) + tuple(slice(pads[i], pads[i] + image[i]) for i in range(n))]
    return np.ascontiguousarray(y).astype(out_dtype, copy=False)


# ---------------------------------------------------------------------------
# CausalConvWithState
# ---------------------------------------------------------------------------


@op("CausalConvWithState", since=27)
def causal_conv_with_state(xp, input, weight, bias=None, past_state=None, *, activation="none"):
    """Depthwise causal 1-D conv over ``[past_state | input]``; the state keeps the last k-1 steps."""
    x = np.asarray(input)
    out_dtype = x.dtype
    cdt = _compute_dtype(out_dtype)
    N, C, _ = x.shape
    k = weight.shape[2]
    if past_state is None:
        past = np.zeros((N, C, k - 1), dtype=out_dtype)
    else:
        past = np.asarray(past_state, dtype=out_dtype)
    padded = np.concatenate([past, x], axis=2)
    y = conv_nd(padded.astype(cdt, copy=False), np.asarray(weight, dtype=cdt),
                None if bias is None else np.asarray(bias, dtype=cdt), group=C)
    act = _auto_pad_name(activation).lower()
    if act in ("silu", "swish"):
        y32 = y.astype(np.float32, copy=False)
        y = y32 / (1.0 + np.exp(-y32))
    elif act != "none":
        raise ValueError(f"CausalConvWithState: unsupported activation {activation!r}")
    present = np.ascontiguousarray(padded[:, :, padded.shape[2] - (k - 1):])
    return y.astype(out_dtype, copy=False), present
