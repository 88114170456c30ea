"""Pooling operators: AveragePool, MaxPool, LpPool, their Global* forms, MaxUnpool, MaxRoiPool.

Max and sum over a box are separable: windowed pools reduce one spatial axis at a
time, each pass folding the kernel taps of that axis in with one strided slice per
tap (an output range and the input positions it reads, so the padding is never
materialised).  A k x k pool costs 2k passes instead of k^2.  The last (innermost)
axis goes last: its strided reads then cover the smallest array.  Intermediates keep
the input's memory order (channels-last stays channels-last, see _conv_layout).  A
window covering whole planes is one reduction across rows.  Average divisors are
separable too (a product of per-axis counts), computed once per shape.

MaxPool with indices keeps a running max over kernel taps that remembers where each
maximum came from.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from ._conv_layout import channels_last_view, empty_channels_last, is_channels_last
from .conv import _auto_pad_name, _ints, kernel_slices, pad_spatial, same_pads
from .dtypes import astype, numpy_dtype
from .registry import op

# ---------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------


def pool_geometry(in_shape, kernel, strides, dilations, pads, auto_pad, ceil_mode):
    """``(pads_begin, pads_end, out_shape)`` of a pooling window, per the ONNX pooling doc."""
    n = len(in_shape)
    auto_pad = _auto_pad_name(auto_pad)
    begins, ends, out = [], [], []
    for i in range(n):
        x, k, s, d = in_shape[i], kernel[i], strides[i], dilations[i]
        span = (k - 1) * d + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-x // s)
            b, e = same_pads(max(0, (o - 1) * s + span - x), auto_pad)
        elif auto_pad == "VALID":
            o = -(-(x - span + 1) // s) if ceil_mode else (x - span) // s + 1
            b = e = 0
        else:
            p = _ints(pads, 2 * n, 0)
            b, e = p[i], p[n + i]
            num = x + b + e - span
            o = (-(-num // s) if ceil_mode else num // s) + 1
            # a window that would start in the right padding is dropped
            if ceil_mode and (o - 1) * s >= x + b:
                o -= 1
        begins.append(b)
        ends.append(e)
        out.append(max(o, 0))
    return begins, ends, out


def _padded_for_windows(x, begins, in_shape, kernel, strides, dilations, out_shape, value):
    """Pad ``x`` so that every window (including ceil-mode overhang) lies inside."""
    n = len(kernel)
    rights = [(out_shape[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - begins[i] - in_shape[i]
              for i in range(n)]
    return pad_spatial(x, begins, [max(0, r) for r in rights], value)


def _window_counts(in_shape, kernel, strides, dilations, begins, lo, hi, out_shape) -> np.ndarray:
    """Per-output number of window taps whose input position lies in ``[lo_i, hi_i)`` (broadcast product)."""
    n = len(kernel)
    total = np.ones((), dtype=np.float64)
    for i in range(n):
        o = np.arange(out_shape[i])[:, None]
        pos = o * strides[i] - begins[i] + np.arange(kernel[i])[None, :] * dilations[i]
        cnt = ((pos >= lo[i]) & (pos < hi[i])).sum(axis=1).astype(np.float64)
        total = total[..., None] * cnt
    return total


def _geometry_from_attrs(x, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides):
    n = x.ndim - 2
    kernel = [int(k) for k in kernel_shape]
    strides = _ints(strides, n, 1)
    dilations = _ints(dilations, n, 1)
    begins, ends, out = pool_geometry(x.shape[2:], kernel, strides, dilations, pads, auto_pad, ceil_mode)
    return kernel, strides, dilations, begins, ends, out


def _positions(kernel):
    return itertools.product(*(range(k) for k in kernel))


def _acc_dtype(dtype):
    dtype = numpy_dtype(dtype)
    return dtype if dtype.kind == "f" and dtype.itemsize >= 4 else np.dtype(np.float32)


# ---------------------------------------------------------------------------
# separable window reduction
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _axis_passes(n, k, s, d, b, o):
    """Kernel taps of one axis: ``(out slice, in slice)`` for each tap that reads the input,
    the widest first; ``None`` when one window covers the whole axis (a plain reduction)."""
    if o == 1 and b == 0 and d == 1 and k >= n:
        return None
    taps = []
    for t in range(k):
        # output o reads input o * s + t * d - b
        lo = max(0, -(-(b - t * d) // s))
        hi = min(o, (n - 1 - t * d + b) // s + 1)
        if hi > lo:
            first = lo * s + t * d - b
            taps.append((slice(lo, hi), slice(first, first + (hi - lo - 1) * s + 1, s)))
    taps.sort(key=lambda p: p[0].start - p[0].stop)
    return tuple(taps)


def _empty_like_layout(x: np.ndarray, shape, dtype) -> np.ndarray:
    return empty_channels_last(shape, dtype) if is_channels_last(x) else np.empty(shape, dtype=dtype)


def _reduce_spatial(x: np.ndarray, ufunc) -> np.ndarray:
    """``ufunc`` (np.add or np.maximum) over all spatial axes, kept as size 1.

    NumPy reduces a short trailing axis slowly (the whole-plane pass of a 7x7 map is
    ~40 times slower than its memory traffic), so the planes are laid out as rows of
    an (N, L, C) array and reduced across rows, or summed by a product with ones.
    """
    N, C = x.shape[:2]
    L = math.prod(x.shape[2:])
    keep = (N, C) + (1,) * (x.ndim - 2)
    if L == 0 or N * C == 0:
        return ufunc.reduce(x, axis=_spatial_axes(x), keepdims=True)
    if is_channels_last(x):
        r = ufunc.reduce(channels_last_view(x).reshape(N, L, C), axis=1)
    elif x.flags.c_contiguous and ufunc is np.add and x.dtype in (np.float32, np.float64):
        r = x.reshape(N * C, L) @ np.ones(L, dtype=x.dtype)
    elif x.flags.c_contiguous:
        rows = np.empty((N, L, C), dtype=x.dtype)
        rows[...] = x.reshape(N, C, L).transpose(0, 2, 1)
        r = ufunc.reduce(rows, axis=1)
    else:
        return ufunc.reduce(x, axis=_spatial_axes(x), keepdims=True)
    return r.reshape(keep)


def _window_reduce(x, ufunc, identity, kernel, strides, dilations, begins, out_shape):
    """``ufunc`` (np.maximum or np.add) over every pooling window, padding = ``identity``."""
    n = len(kernel)
    spans = [_axis_passes(x.shape[2 + i], kernel[i], strides[i], dilations[i], begins[i], out_shape[i])
             for i in range(n)]
    if all(p is None for p in spans):
        return _reduce_spatial(x, ufunc)
    cur = x
    for i in range(n):
        axis = 2 + i
        passes = spans[i]
        if passes is None:
            cur = ufunc.reduce(cur, axis=axis, keepdims=True)
            continue
        shape = cur.shape[:axis] + (out_shape[i],) + cur.shape[axis + 1:]
        nxt = _empty_like_layout(cur, shape, cur.dtype)
        head = (slice(None),) * axis
        if not passes:
            nxt[...] = identity
            cur = nxt
            continue
        (out0, in0), rest = passes[0], passes[1:]
        nxt[head + (out0,)] = cur[head + (in0,)]
        if out0.start > 0:
            nxt[head + (slice(0, out0.start),)] = identity
        if out0.stop < out_shape[i]:
            nxt[head + (slice(out0.stop, None),)] = identity
        for o_sl, i_sl in rest:
            dst = nxt[head + (o_sl,)]
            ufunc(dst, cur[head + (i_sl,)], out=dst)
        cur = nxt
    if cur is x:
        cur = cur.copy()
    return cur


# ---------------------------------------------------------------------------
# AveragePool / LpPool
# ---------------------------------------------------------------------------


def _sum_pool(x, kernel, strides, dilations, begins, out_shape, power=None):
    """Sum of (|x|^power when given) over each window; padding contributes zero."""
    acc = _acc_dtype(x.dtype)
    xs = x if x.dtype == acc else x.astype(acc)
    if power is not None:
        xs = np.abs(xs) ** power
    return _window_reduce(xs, np.add, 0, kernel, strides, dilations, begins, out_shape)


@op("AveragePool", since=(1, 7, 10, 11, 19, 22))
def average_pool(xp, X, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
                 kernel_shape, pads=None, strides=None):
    kernel, strides, dilations, begins, ends, out = _geometry_from_attrs(
        X, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)
    total = _sum_pool(X, kernel, strides, dilations, begins, out)
    counts = average_counts(tuple(X.shape[2:]), tuple(kernel), tuple(strides), tuple(dilations),
                            tuple(begins), tuple(ends), tuple(out), bool(count_include_pad))
    if total.dtype != counts.dtype:
        counts = _counts_in(total.dtype, tuple(X.shape[2:]), tuple(kernel), tuple(strides), tuple(dilations),
                            tuple(begins), tuple(ends), tuple(out), bool(count_include_pad))
    np.divide(total, counts, out=total)
    return total.astype(X.dtype, copy=False)


@functools.lru_cache(maxsize=256)
def _counts_in(dtype, *geometry) -> np.ndarray:
    """``average_counts`` converted to the accumulation dtype, once per shape."""
    counts = average_counts(*geometry).astype(dtype)
    counts.flags.writeable = False
    return counts


@functools.lru_cache(maxsize=256)
def average_counts(in_shape, kernel, strides, dilations, begins, ends, out, count_include_pad) -> np.ndarray:
    """AveragePool's divisor per output position (float64, spatial shape ``out``; read-only)."""
    if count_include_pad:
        # padding counts, but not the ceil-mode overhang beyond it
        lo = [-b for b in begins]
        hi = [in_shape[i] + ends[i] for i in range(len(kernel))]
    else:
        lo = [0] * len(kernel)
        hi = list(in_shape)
    counts = _window_counts(in_shape, kernel, strides, dilations, begins, lo, hi, out)
    counts.flags.writeable = False
    return counts


@op("LpPool", since=(1, 2, 18))
def lp_pool(xp, X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, p=2, pads=None,
            strides=None):
    kernel, strides, dilations, begins, _ends, out = _geometry_from_attrs(
        X, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)
    total = _sum_pool(X, kernel, strides, dilations, begins, out, power=p)
    return (total ** (1.0 / p)).astype(X.dtype, copy=False)


# ---------------------------------------------------------------------------
# MaxPool
# ---------------------------------------------------------------------------


def _lowest(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return np.iinfo(dtype).min
    return -np.inf


def _flat_index(out_shape, pos, kernel, strides, dilations, begins, in_shape, storage_order):
    """Flat spatial input index (row- or column-major) of kernel tap ``pos`` for every output."""
    n = len(kernel)
    axes = range(n - 1, -1, -1) if storage_order else range(n)
    index = np.zeros((1,) * n, dtype=np.int64)
    for i in axes:
        coord = np.arange(out_shape[i]) * strides[i] - begins[i] + pos[i] * dilations[i]
        shape = [1] * n
        shape[i] = -1
        index = index * in_shape[i] + coord.reshape(shape)
    return index


@op("MaxPool", since=(1, 8, 10, 12, 22))
def max_pool(xp, X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, pads=None,
             storage_order=0, strides=None, _n_outputs=1):
    kernel, strides, dilations, begins, _ends, out = _geometry_from_attrs(
        X, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)
    x = np.asarray(X)
    if _n_outputs < 2:
        return _window_reduce(x, np.maximum, _lowest(x.dtype), kernel, strides, dilations, begins, out)
    in_shape = x.shape[2:]
    xpad = _padded_for_windows(x, begins, in_shape, kernel, strides, dilations, out, _lowest(x.dtype))
    head = (slice(None), slice(None))
    best = arg = None
    for pos in _positions(kernel):
        vals = xpad[head + kernel_slices(pos, strides, dilations, out)]
        idx = _flat_index(out, pos, kernel, strides, dilations, begins, in_shape, storage_order)
        if best is None:
            best = vals.copy()
            arg = np.broadcast_to(idx, best.shape).copy()
            continue
        # strict '>' keeps the first maximum, as a row-major scan does
        better = vals > best
        arg = np.where(better, idx, arg)
        best = np.where(better, vals, best)
    N, C = x.shape[:2]
    plane = np.arange(N * C, dtype=np.int64).reshape((N, C) + (1,) * len(kernel)) * math.prod(in_shape)
    return best, (arg + plane).astype(np.int64)


# ---------------------------------------------------------------------------
# Global pools
# ---------------------------------------------------------------------------


def _spatial_axes(x):
    return tuple(range(2, x.ndim))


@op("GlobalAveragePool", since=1)
def global_average_pool(xp, X):
    acc = _acc_dtype(X.dtype)
    # numpy's mean (pairwise summation over the flattened plane), not a row-by-row sum: its
    # rounding is what the suite's squeezenet expects, whose activations reach 1e10
    y = xp.mean(astype(xp, X, acc), axis=_spatial_axes(X), keepdims=True)
    return xp.astype(y, X.dtype, copy=False)


@op("GlobalMaxPool", since=1)
def global_max_pool(xp, X):
    if type(X) is np.ndarray and math.prod(X.shape[2:]) > 0:
        return _reduce_spatial(X, np.maximum)
    return xp.max(X, axis=_spatial_axes(X), keepdims=True)


@op("GlobalLpPool", since=(1, 2))
def global_lp_pool(xp, X, *, p=2):
    acc = _acc_dtype(X.dtype)
    s = xp.sum(xp.abs(astype(xp, X, acc)) ** p, axis=_spatial_axes(X), keepdims=True)
    return xp.astype(s ** (1.0 / p), X.dtype, copy=False)


# ---------------------------------------------------------------------------
# MaxUnpool
# ---------------------------------------------------------------------------


@op("MaxUnpool", since=9, host_inputs=(2,))
def max_unpool(xp, X, I, output_shape=None, *, kernel_shape, pads=None, strides=None):
    x = np.asarray(X)
    n = x.ndim - 2
    kernel = [int(k) for k in kernel_shape]
    strides = _ints(strides, n, 1)
    pads = _ints(pads, 2 * n, 0)
    inferred = list(x.shape[:2]) + [
        (x.shape[2 + i] - 1) * strides[i] - pads[i] - pads[n + i] + kernel[i] for i in range(n)
    ]
    target = inferred if output_shape is None else [int(v) for v in np.asarray(output_shape).reshape(-1)]
    idx = np.asarray(I, dtype=np.int64).reshape(-1)
    # Indices address the pooled input's layout; without output_shape that is the
    # inferred shape.  With output_shape, indices that fit the inferred shape are placed
    # in it and the result is zero-extended (as the conformance tests expect); indices
    # that do not fit are taken as addressing output_shape itself.
    layout = inferred if idx.size == 0 or idx.max() < math.prod(inferred) else target
    flat = np.zeros(math.prod(layout), dtype=x.dtype)
    flat[idx] = x.reshape(-1)
    y = flat.reshape(layout)
    if list(layout) == list(target):
        return y
    res = np.zeros(target, dtype=x.dtype)
    region = tuple(slice(0, min(a, b)) for a, b in zip(layout, target))
    res[region] = y[region]
    return res


# ---------------------------------------------------------------------------
# MaxRoiPool
# ---------------------------------------------------------------------------


def _bin_masks(start: int, size: int, bins: int, limit: int) -> np.ndarray:
    """(bins, limit) boolean masks of the input cells in each of ``bins`` RoI bins along one axis."""
    edges = np.arange(bins + 1, dtype=np.float64) * (size / bins)
    lo = np.clip(np.floor(edges[:-1]).astype(np.int64) + start, 0, limit)
    hi = np.clip(np.ceil(edges[1:]).astype(np.int64) + start, 0, limit)
    cells = np.arange(limit)
    return (cells[None, :] >= lo[:, None]) & (cells[None, :] < hi[:, None])


@op("MaxRoiPool", since=1)
def max_roi_pool(xp, X, rois, *, pooled_shape, spatial_scale=1.0):
    x = np.asarray(X)
    ph, pw = (int(v) for v in pooled_shape)
    H, W = x.shape[2:]
    rois = np.asarray(rois)
    y = np.zeros((rois.shape[0], x.shape[1], ph, pw), dtype=x.dtype)
    low = _lowest(x.dtype)
    for r, roi in enumerate(rois):
        b = int(roi[0])
        # round half away from zero, as Caffe's RoI pooling does
        x1, y1, x2, y2 = (int(math.copysign(math.floor(abs(float(v) * spatial_scale) + 0.5), float(v)))
                          for v in roi[1:5])
        rh = max(y2 - y1 + 1, 1)
        rw = max(x2 - x1 + 1, 1)
        mh = _bin_masks(y1, rh, ph, H)  # (ph, H)
        mw = _bin_masks(x1, rw, pw, W)  # (pw, W)
        img = x[b]  # (C, H, W)
        # separable max: first over W per column bin, then over H per row bin
        cols = np.where(mw[:, None, None, :], img[None], low).max(axis=3)  # (pw, C, H)
        vals = np.where(mh[:, None, None, :], cols[None], low).max(axis=3)  # (ph, pw, C)
        empty = ~(mh.any(axis=1)[:, None] & mw.any(axis=1)[None, :])  # (ph, pw)
        vals = np.where(empty[:, :, None], 0, vals)
        y[r] = vals.transpose(2, 0, 1)
    return y
