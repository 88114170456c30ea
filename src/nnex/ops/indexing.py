"""Indexing operators: gathers, scatters, slicing, selection, sorting and cumulative ops.

Negative indices are normalized explicitly (``idx + dim``) rather than relying on NumPy's
wrap-around, so the kernels mean the same thing on backends without it.  Scatters with a
reduction use NumPy's unbuffered ``ufunc.at`` so duplicate indices accumulate.
"""

from __future__ import annotations

import math

import numpy as np

from .registry import op


def _ints(v) -> list[int] | None:
    """A host shape-like input as a list of Python ints (None stays None)."""
    if v is None:
        return None
    return [int(i) for i in np.asarray(v).reshape(-1).tolist()]


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _wrap(xp, indices, dim):
    """Map negative indices into [0, dim)."""
    indices = xp.astype(indices, xp.int64)
    return xp.where(indices < 0, indices + dim, indices)


# --------------------------------------------------------------------------- gathers


@op("Gather", since=(1, 11))
def gather(xp, data, indices, *, axis=0):
    axis = _axis(axis, data.ndim)
    idx = _wrap(xp, indices, data.shape[axis])
    # take() wants 1-D indices; reshape around it to support any index rank (0-d included).
    out = xp.take(data, xp.reshape(idx, (-1,)), axis=axis)
    shape = data.shape[:axis] + tuple(indices.shape) + data.shape[axis + 1 :]
    return xp.reshape(out, shape)


@op("GatherElements", since=11)
def gather_elements(xp, data, indices, *, axis=0):
    axis = _axis(axis, data.ndim)
    # The output takes the indices' shape: off-axis dims of data beyond it are ignored, not
    # broadcast (take_along_axis alone would broadcast).
    window = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(indices.shape))
    return xp.take_along_axis(data[window], _wrap(xp, indices, data.shape[axis]), axis=axis)


@op("GatherND", since=(11, 12))
def gather_nd(xp, data, indices, *, batch_dims=0):
    b = batch_dims
    k = indices.shape[-1]
    batch_shape = data.shape[:b]
    nb = math.prod(batch_shape)
    mid_shape = tuple(indices.shape[b:-1])
    tail = data.shape[b + k :]
    d = xp.reshape(data, (nb,) + data.shape[b:])
    idx = xp.reshape(xp.astype(indices, xp.int64), (nb, math.prod(mid_shape), k))
    # One advanced index per indexed dim, plus the flattened batch position.
    key = [xp.reshape(xp.arange(nb, dtype=xp.int64), (nb, 1))]
    for j in range(k):
        key.append(_wrap(xp, idx[..., j], data.shape[b + j]))
    out = d[tuple(key)]
    return xp.reshape(out, batch_shape + mid_shape + tail)


# --------------------------------------------------------------------------- scatters

_REDUCERS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _scatter_into(data, key, updates, reduction):
    """out = copy(data); out[key] (op)= updates, accumulating over duplicate keys."""
    out = np.array(data, copy=True)
    if reduction == "none":
        out[key] = updates
    else:
        _REDUCERS[reduction].at(out, key, updates)
    return out


@op("ScatterElements", since=(11, 16, 18))
def scatter_elements(xp, data, indices, updates, *, axis=0, reduction="none"):
    axis = _axis(axis, data.ndim)
    idx = np.asarray(_wrap(xp, indices, data.shape[axis]))
    # Full coordinates: the grid position in every dim except `axis`, which comes from idx.
    key = list(np.indices(idx.shape, sparse=True))
    key[axis] = idx
    return _scatter_into(data, tuple(key), np.asarray(updates), reduction)


@op("Scatter", since=(9, 11))
def scatter(xp, data, indices, updates, *, axis=0):
    return scatter_elements(xp, data, indices, updates, axis=axis)


@op("ScatterND", since=(11, 16, 18))
def scatter_nd(xp, data, indices, updates, *, reduction="none"):
    idx = np.asarray(indices, dtype=np.int64)
    k = idx.shape[-1]
    key = tuple(np.where(idx[..., j] < 0, idx[..., j] + data.shape[j], idx[..., j]) for j in range(k))
    return _scatter_into(data, key, np.asarray(updates), reduction)


@op("TensorScatter", since=24)
def tensor_scatter(xp, past_cache, update, write_indices=None, *, mode="linear", axis=-2):
    axis = _axis(axis, past_cache.ndim)
    batch, max_len, seq = past_cache.shape[0], past_cache.shape[axis], update.shape[axis]
    if write_indices is None:
        write_indices = np.zeros(batch, dtype=np.int64)
    start = np.asarray(write_indices, dtype=np.int64).reshape(batch, 1)
    pos = start + np.arange(seq, dtype=np.int64)  # [batch, seq]
    if mode == "circular":
        pos = pos % max_len
    # Lay [batch, seq] out on dims (0, axis) and broadcast to the update's shape.
    shape = [1] * past_cache.ndim
    shape[0], shape[axis] = batch, seq
    if axis == 0:
        raise ValueError("TensorScatter: axis cannot be the batch dimension")
    pos = np.broadcast_to(pos.reshape(shape), update.shape)
    out = np.array(past_cache, copy=True)
    np.put_along_axis(out, pos, np.asarray(update), axis=axis)
    return out


# --------------------------------------------------------------------------- Slice


def _slice_key(shape, starts, ends, axes, steps):
    """Per-dim forward Python slices with ONNX clamping, and the axes to flip afterwards.

    A negative step (which may run to before index 0) is taken as the forward slice of
    the same elements, then flipped: not every array library slices backwards.
    """
    rank = len(shape)
    axes = list(range(len(starts))) if axes is None else [_axis(a, rank) for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    key = [slice(None)] * rank
    flips = []
    for a, s, e, st in zip(axes, starts, ends, steps):
        dim = shape[a]
        s = s + dim if s < 0 else s
        e = e + dim if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), dim), min(max(e, 0), dim)
            key[a] = slice(s, e, st)
            continue
        s, e = min(max(s, 0), dim - 1), min(max(e, -1), dim - 1)
        n = len(range(s, e, st))
        if n == 0:
            key[a] = slice(0, 0)
            continue
        last = s + st * (n - 1)
        key[a] = slice(last, s + 1, -st)
        flips.append(a)
    return tuple(key), tuple(flips)


def _slice(xp, data, starts, ends, axes, steps):
    key, flips = _slice_key(data.shape, starts, ends, axes, steps)
    out = data[key]
    return xp.flip(out, axis=flips) if flips else out


@op("Slice", since=1)
def slice_1(xp, data, *, starts, ends, axes=None):
    return _slice(xp, data, starts, ends, axes, None)


@op("Slice", since=(10, 11), host_inputs=(1, 2, 3, 4))
def slice_(xp, data, starts, ends, axes=None, steps=None):
    return _slice(xp, data, _ints(starts), _ints(ends), _ints(axes), _ints(steps))


# --------------------------------------------------------------------------- selection


@op("Compress", since=(9, 11), host_inputs=(1,))
def compress(xp, input, condition, *, axis=None):
    if axis is None:
        input, axis = xp.reshape(input, (-1,)), 0
    axis = _axis(axis, input.ndim)
    # The condition decides the output shape, so it is a host value; one shorter than the
    # axis selects nothing beyond its end.
    keep = np.nonzero(np.asarray(condition).reshape(-1))[0]
    return xp.take(input, xp.asarray(keep, dtype=xp.int64), axis=axis)


@op("NonZero", since=9)
def non_zero(xp, x):
    if x.ndim == 0:
        # A scalar is treated like a 1-element vector (as onnxruntime does).
        return np.zeros((1, int(bool(x))), dtype=np.int64)
    return np.asarray(np.stack(np.nonzero(np.asarray(x))), dtype=np.int64).reshape(x.ndim, -1)


@op("Unique", since=11)
def unique(xp, x, *, axis=None, sorted=1):
    x = np.asarray(x)
    if axis is None:
        flat = x.reshape(-1)
        y, first, inverse, counts = np.unique(
            flat, return_index=True, return_inverse=True, return_counts=True
        )
        take_axis = 0
        src = flat
    else:
        take_axis = _axis(axis, x.ndim)
        y, first, inverse, counts = np.unique(
            x, return_index=True, return_inverse=True, return_counts=True, axis=take_axis
        )
        src = x
    inverse = inverse.reshape(-1)
    if not sorted:
        # Reorder the unique entries by first occurrence and remap the inverse accordingly.
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        first, counts, inverse = first[order], counts[order], rank[inverse]
        y = np.take(src, first, axis=take_axis)
    i64 = np.int64
    return y, first.astype(i64), inverse.astype(i64), counts.astype(i64)


# --------------------------------------------------------------------------- TopK


def _topk(xp, x, k, axis, largest):
    axis = _axis(axis, x.ndim)
    # A stable sort keeps equal values in increasing index order, as the spec's tie-break
    # asks, in both directions.  Always sorting also satisfies sorted=0 (any order allowed).
    order = xp.argsort(x, axis=axis, descending=bool(largest), stable=True)
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, k)
    idx = xp.astype(order[tuple(index)], xp.int64)
    return xp.take_along_axis(x, idx, axis=axis), idx


@op("TopK", since=1)
def top_k_1(xp, X, *, k, axis=-1):
    return _topk(xp, X, k, axis, 1)


@op("TopK", since=10, host_inputs=(1,))
def top_k_10(xp, X, K, *, axis=-1):
    return _topk(xp, X, _ints(K)[0], axis, 1)


@op("TopK", since=11, host_inputs=(1,))
def top_k(xp, X, K, *, axis=-1, largest=1, sorted=1):
    return _topk(xp, X, _ints(K)[0], axis, largest)


# --------------------------------------------------------------------------- ReverseSequence


@op("ReverseSequence", since=10)
def reverse_sequence(xp, input, sequence_lens, *, batch_axis=1, time_axis=0):
    t_len, b_len = input.shape[time_axis], input.shape[batch_axis]
    lens = xp.reshape(xp.astype(sequence_lens, xp.int64), (1, b_len))
    t = xp.reshape(xp.arange(t_len, dtype=xp.int64), (t_len, 1))
    src = xp.where(t < lens, lens - 1 - t, t)  # source time index, laid out [time, batch]
    if batch_axis < time_axis:
        src = xp.permute_dims(src, (1, 0))
    shape = [1] * input.ndim
    shape[time_axis], shape[batch_axis] = t_len, b_len
    src = xp.broadcast_to(xp.reshape(src, tuple(shape)), input.shape)
    return xp.take_along_axis(input, src, axis=time_axis)


# --------------------------------------------------------------------------- cumulative


def _cumulate(xp, x, axis, exclusive, reverse, fn, identity):
    axis = _axis(int(np.asarray(axis).reshape(-1)[0]), x.ndim)
    if reverse:
        x = xp.flip(x, axis=axis)
    y = fn(x, axis=axis, dtype=x.dtype)
    if exclusive:
        # Shift by one along axis, starting from the identity element.
        head = xp.full(x.shape[:axis] + (1,) + x.shape[axis + 1 :], identity, dtype=x.dtype)
        index = [slice(None)] * x.ndim
        index[axis] = slice(0, x.shape[axis] - 1)
        y = xp.concat([head, y[tuple(index)]], axis=axis)
    if reverse:
        y = xp.flip(y, axis=axis)
    return y


@op("CumSum", since=11, host_inputs=(1,))
def cum_sum(xp, x, axis, *, exclusive=0, reverse=0):
    return _cumulate(xp, x, axis, exclusive, reverse, xp.cumulative_sum, 0)


@op("CumProd", since=26, host_inputs=(1,))
def cum_prod(xp, x, axis, *, exclusive=0, reverse=0):
    return _cumulate(xp, x, axis, exclusive, reverse, xp.cumulative_prod, 1)
