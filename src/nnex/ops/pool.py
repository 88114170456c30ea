"""Pooling operators: AveragePool, MaxPool, LpPool, their Global* forms, MaxUnpool, MaxRoiPool.

Windowed pools loop over kernel positions only: for each position one strided
slice of the padded input covers every output pixel at once, and is folded into
the running max/sum.  Average divisors are separable (a product of per-axis
counts), so they are computed per axis and broadcast, never per window.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

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
# AveragePool / LpPool
# ---------------------------------------------------------------------------


def _sum_pool(x, kernel, strides, dilations, begins, out_shape, power=None):
    """Sum of (|x|^power when given) over each window; padding contributes zero."""
    acc = _acc_dtype(x.dtype)
    xs = np.asarray(x, dtype=acc)
    if power is not None:
        xs = np.abs(xs) ** power
    xpad = _padded_for_windows(xs, begins, x.shape[2:], kernel, strides, dilations, out_shape, 0)
    head = (slice(None), slice(None))
    total = np.zeros(x.shape[:2] + tuple(out_shape), dtype=acc)
    for pos in _positions(kernel):
        total += xpad[head + kernel_slices(pos, strides, dilations, out_shape)]
    return total


@op("AveragePool", since=(1, 7, 10, 11, 19, 22))
def average_pool(xp, X, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
                 kernel_shape, pads=None, strides=None):
    kernel, strides, dilations, begins, ends, out = _geometry_from_attrs(
        X, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)
    total = _sum_pool(X, kernel, strides, dilations, begins, out)
    counts = average_counts(tuple(X.shape[2:]), tuple(kernel), tuple(strides), tuple(dilations),
                            tuple(begins), tuple(ends), tuple(out), bool(count_include_pad))
    return (total / counts.astype(total.dtype)).astype(X.dtype, copy=False)


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
    in_shape = x.shape[2:]
    xpad = _padded_for_windows(x, begins, in_shape, kernel, strides, dilations, out, _lowest(x.dtype))
    head = (slice(None), slice(None))
    want_index = _n_outputs > 1
    best = None
    arg = None
    for pos in _positions(kernel):
        vals = xpad[head + kernel_slices(pos, strides, dilations, out)]
        if best is None:
            best = vals.copy()
            if want_index:
                arg = np.broadcast_to(
                    _flat_index(out, pos, kernel, strides, dilations, begins, in_shape, storage_order),
                    best.shape).copy()
            continue
        if want_index:
            # strict '>' keeps the first maximum, as a row-major scan does
            better = vals > best
            idx = _flat_index(out, pos, kernel, strides, dilations, begins, in_shape, storage_order)
            arg = np.where(better, idx, arg)
            best = np.where(better, vals, best)
        else:
            np.maximum(best, vals, out=best)
    if not want_index:
        return best
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
    y = xp.mean(astype(xp, X, acc), axis=_spatial_axes(X), keepdims=True)
    return xp.astype(y, X.dtype, copy=False)


@op("GlobalMaxPool", since=1)
def global_max_pool(xp, X):
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
