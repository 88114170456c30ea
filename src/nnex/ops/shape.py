"""Shape operators: reshaping, transposing, joining, splitting, padding and tensor creation.

Inputs that describe shapes, axes, pads or repeats are declared ``host_inputs`` so a jit
backend keeps them as concrete host values; kernels turn them into Python ints with
``_ints`` / ``_int`` before use.
"""

from __future__ import annotations

import math

import numpy as np

from .dtypes import backend_dtype, numpy_dtype, on_host
from .registry import op

# --------------------------------------------------------------------------- helpers


def _ints(v) -> list[int]:
    """A host shape-like input or attribute as a list of Python ints (None stays None)."""
    if v is None:
        return None
    return [int(i) for i in np.asarray(v).reshape(-1).tolist()]


def _int(v) -> int:
    """A host scalar (0-d or 1-element tensor) as a Python int."""
    return int(np.asarray(v).reshape(-1)[0])


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _copy(xp, x):
    """A fresh array, for kernels that would otherwise hand out a read-only broadcast view."""
    return xp.asarray(x, copy=True)


# --------------------------------------------------------------------------- Reshape


def _target_shape(in_shape, shape: list[int], allowzero: int) -> list[int]:
    """Resolve 0 (copy input dim unless allowzero) and -1 (infer) entries of a Reshape target."""
    out = list(shape)
    if not allowzero:
        for i, d in enumerate(out):
            if d == 0:
                out[i] = in_shape[i]
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        total = math.prod(in_shape)
        out[out.index(-1)] = total // known if known else 0
    return out


@op("Reshape", since=1)
def reshape_1(xp, data, *, shape=(), consumed_inputs=None):
    return xp.reshape(data, tuple(_target_shape(data.shape, list(shape), 0)))


@op("Reshape", since=(5, 14), host_inputs=(1,))
def reshape(xp, data, shape, *, allowzero=0):
    return xp.reshape(data, tuple(_target_shape(data.shape, _ints(shape), allowzero)))


# --------------------------------------------------------------------------- Transpose / Flatten


@op("Transpose", since=1)
def transpose(xp, data, *, perm=None):
    if perm is None:
        perm = list(range(data.ndim))[::-1]
    return xp.permute_dims(data, tuple(perm))


@op("Flatten", since=(1, 11))
def flatten(xp, x, *, axis=1):
    axis = _axis(axis, x.ndim)
    return xp.reshape(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


# --------------------------------------------------------------------------- Squeeze / Unsqueeze


def _squeeze(xp, data, axes):
    if axes is None or len(axes) == 0:
        axes = [i for i, d in enumerate(data.shape) if d == 1]
    axes = sorted(_axis(a, data.ndim) for a in axes)
    keep = [d for i, d in enumerate(data.shape) if i not in axes]
    return xp.reshape(data, tuple(keep))


def _unsqueeze(xp, data, axes):
    rank = data.ndim + len(axes)
    axes = {_axis(a, rank) for a in axes}
    dims = iter(data.shape)
    return xp.reshape(data, tuple(1 if i in axes else next(dims) for i in range(rank)))


@op("Squeeze", since=(1, 11))
def squeeze_1(xp, data, *, axes=None):
    return _squeeze(xp, data, axes)


@op("Squeeze", since=13, host_inputs=(1,))
def squeeze(xp, data, axes=None):
    return _squeeze(xp, data, _ints(axes))


@op("Unsqueeze", since=(1, 11))
def unsqueeze_1(xp, data, *, axes):
    return _unsqueeze(xp, data, axes)


@op("Unsqueeze", since=13, host_inputs=(1,))
def unsqueeze(xp, data, axes):
    return _unsqueeze(xp, data, _ints(axes))


# --------------------------------------------------------------------------- Concat / Split


@op("Concat", since=1)
def concat_1(xp, *inputs, axis=1):
    return concat(xp, *inputs, axis=axis)


@op("Concat", since=(4, 11))
def concat(xp, *inputs, axis):
    inputs = [x for x in inputs if x is not None]
    axis = _axis(axis, inputs[0].ndim)
    return xp.concat(inputs, axis=axis)


def _split(xp, x, split, axis, n_out):
    """Split along ``axis`` into ``split`` sizes, or ``n_out`` ceil-sized chunks (last smaller)."""
    axis = _axis(axis, x.ndim)
    dim = x.shape[axis]
    if not split:
        chunk = -(-dim // n_out)
        split = [chunk] * (n_out - 1) + [dim - chunk * (n_out - 1)]
    outs, start = [], 0
    for size in split:
        index = [slice(None)] * x.ndim
        index[axis] = slice(start, start + size)
        outs.append(x[tuple(index)])
        start += size
    return tuple(outs)


@op("Split", since=1, host_inputs=(1,))
def split_1(xp, input, split_input=None, *, axis=0, _n_outputs, **attrs):
    # Split-1 takes the sizes from the optional input or from the `split` attribute, whose
    # name clashes with the input's, hence **attrs.
    sizes = _ints(split_input) if split_input is not None else attrs.get("split")
    return _split(xp, input, sizes, axis, _n_outputs)


@op("Split", since=(2, 11))
def split_2(xp, input, *, split=None, axis=0, _n_outputs):
    return _split(xp, input, split, axis, _n_outputs)


@op("Split", since=13, host_inputs=(1,))
def split_13(xp, input, split=None, *, axis=0, _n_outputs):
    return _split(xp, input, _ints(split), axis, _n_outputs)


@op("Split", since=18, host_inputs=(1,))
def split_18(xp, input, split=None, *, axis=0, num_outputs=None, _n_outputs):
    return _split(xp, input, _ints(split), axis, num_outputs or _n_outputs)


# --------------------------------------------------------------------------- Expand / Tile


@op("Expand", since=8, host_inputs=(1,))
def expand(xp, input, shape):
    out_shape = np.broadcast_shapes(tuple(input.shape), tuple(_ints(shape)))
    return _copy(xp, xp.broadcast_to(input, out_shape))


@op("Tile", since=1, host_inputs=(1, 2))
def tile_1(xp, input, tiles, axis):
    reps = [1] * input.ndim
    reps[_axis(_int(axis), input.ndim)] = _int(tiles)
    return xp.tile(input, tuple(reps))


@op("Tile", since=6, host_inputs=(1,))
def tile(xp, input, repeats):
    return xp.tile(input, tuple(_ints(repeats)))


# --------------------------------------------------------------------------- Pad


def _pad(xp, data, pads, mode, value, axes=None):
    """Pad ``data``; negative pads crop.  ``pads`` is [begin..., end...] over ``axes``."""
    rank = data.ndim
    axes = list(range(rank)) if axes is None else [_axis(a, rank) for a in axes]
    n = len(axes)
    width = [(0, 0)] * rank
    for i, a in enumerate(axes):
        width[a] = (pads[i], pads[n + i])
    # Negative amounts remove elements first; what remains is padded with the positive parts.
    crop = tuple(slice(max(-b, 0), d - max(-e, 0)) for (b, e), d in zip(width, data.shape))
    data = data[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in width]
    if not any(b or e for b, e in width):
        return data
    native = getattr(xp, "pad", None)  # NumPy's np.pad contract (numpy, jax, cupy)
    if mode == "constant":
        if value is None:
            value = "" if data.dtype == object else 0
        elif not isinstance(value, (int, float, str, bytes, bool)):
            value = _host_scalar(xp, value)
        if native is None:
            return _pad_constant(xp, data, width, value)
        return native(data, width, mode="constant", constant_values=value)
    if native is None:
        return _pad_by_gather(xp, data, width, mode)
    return native(data, width, mode=mode)


def _host_scalar(xp, value):
    """The first element of a (possibly device) array as a Python scalar; 0 when empty."""
    a = np.asarray(value) if on_host(xp) or isinstance(value, np.ndarray) else None
    if a is None:
        flat = xp.reshape(value, (-1,))
        return flat[0].item() if flat.shape[0] else 0
    return a.reshape(-1)[0] if a.size else 0


def _pad_constant(xp, data, width, value):
    for axis, (b, e) in enumerate(width):
        if not b and not e:
            continue
        parts = []
        for n in (b, e):
            shape = list(data.shape)
            shape[axis] = n
            parts.append(xp.full(tuple(shape), value, dtype=data.dtype))
        data = xp.concat([parts[0], data, parts[1]], axis=axis)
    return data


def _pad_by_gather(xp, data, width, mode):
    """edge / reflect / wrap padding as one gather per padded axis; np.pad of the positions
    0..n-1 gives the source position of every output element."""
    for axis, (b, e) in enumerate(width):
        if not b and not e:
            continue
        if data.shape[axis] == 0:
            raise ValueError(f"Pad: cannot {mode}-pad an empty axis {axis}")
        src = np.pad(np.arange(data.shape[axis], dtype=np.int64), (b, e), mode=mode)
        data = xp.take(data, xp.asarray(src), axis=axis)
    return data


@op("Pad", since=1)
def pad_1(xp, data, *, paddings, mode="constant", value=0.0):
    return _pad(xp, data, list(paddings), mode, value)


@op("Pad", since=2)
def pad_2(xp, data, *, pads, mode="constant", value=0.0):
    return _pad(xp, data, list(pads), mode, value)


@op("Pad", since=(11, 18, 19), host_inputs=(1, 3))
def pad(xp, data, pads, constant_value=None, axes=None, *, mode="constant"):
    return _pad(xp, data, _ints(pads), mode, constant_value, _ints(axes))


@op("CenterCropPad", since=18, host_inputs=(1,))
def center_crop_pad(xp, input_data, shape, *, axes=None):
    rank = input_data.ndim
    axes = list(range(rank)) if axes is None else [_axis(a, rank) for a in axes]
    target = _ints(shape)
    begin, end = [0] * rank, [0] * rank
    for a, size in zip(axes, target):
        diff = size - input_data.shape[a]
        if diff >= 0:  # pad: the odd extra element goes to the end
            begin[a], end[a] = diff // 2, diff - diff // 2
        else:  # crop: the window start is rounded down
            cut = -diff
            begin[a], end[a] = -(cut // 2), -(cut - cut // 2)
    return _pad(xp, input_data, begin + end, "constant", None)


# --------------------------------------------------------------------------- Shape / Size


@op("Shape", since=(1, 15))
def shape(xp, data, *, start=0, end=None):
    rank = data.ndim
    start = min(max(_axis(start, rank), 0), rank)
    end = rank if end is None else min(max(_axis(end, rank), 0), rank)
    return np.asarray(data.shape[start:end], dtype=np.int64).reshape(-1)


@op("Size", since=1)
def size(xp, data):
    return np.asarray(math.prod(data.shape), dtype=np.int64)


# --------------------------------------------------------------------------- DepthToSpace / SpaceToDepth


@op("DepthToSpace", since=(1, 11))
def depth_to_space(xp, input, *, blocksize, mode="DCR"):
    b, c, h, w = input.shape
    bs = blocksize
    oc = c // (bs * bs)
    if mode == "DCR":
        tmp = xp.reshape(input, (b, bs, bs, oc, h, w))
        tmp = xp.permute_dims(tmp, (0, 3, 4, 1, 5, 2))
    else:  # CRD
        tmp = xp.reshape(input, (b, oc, bs, bs, h, w))
        tmp = xp.permute_dims(tmp, (0, 1, 4, 2, 5, 3))
    return xp.reshape(tmp, (b, oc, h * bs, w * bs))


@op("SpaceToDepth", since=(1, 28))
def space_to_depth(xp, input, *, blocksize, mode="DCR"):
    b, c, h, w = input.shape
    bs = blocksize
    tmp = xp.reshape(input, (b, c, h // bs, bs, w // bs, bs))
    # DCR puts the block offset outermost in the new channel index, CRD the old channel.
    perm = (0, 3, 5, 1, 2, 4) if mode == "DCR" else (0, 1, 3, 5, 2, 4)
    tmp = xp.permute_dims(tmp, perm)
    return xp.reshape(tmp, (b, c * bs * bs, h // bs, w // bs))


# --------------------------------------------------------------------------- Identity / Constant


@op("Identity", since=1)
def identity(xp, input):
    # Tensors, sequences (lists) and optionals (None) all pass through unchanged.  A 1-tuple
    # keeps a sequence input from being read as "one list entry per node output".
    return (input,)


def _dense_from_sparse(sp) -> np.ndarray:
    """Densify a SparseTensorProto (the runtime may already have given a dense array)."""
    from onnx import numpy_helper

    values = numpy_helper.to_array(sp.values)
    indices = numpy_helper.to_array(sp.indices).astype(np.int64)
    dims = tuple(sp.dims)
    out = np.zeros(math.prod(dims), dtype=values.dtype)
    if indices.ndim == 2:  # [nnz, rank] coordinates
        flat = np.ravel_multi_index(tuple(indices.T), dims) if indices.size else indices.reshape(-1)
    else:  # linearized positions
        flat = indices
    out[flat] = values
    return out.reshape(dims)


@op("Constant", since=(1, 11, 12))
def constant(
    xp,
    *,
    value=None,
    sparse_value=None,
    value_float=None,
    value_floats=None,
    value_int=None,
    value_ints=None,
    value_string=None,
    value_strings=None,
):
    if value is not None:
        return np.asarray(value)
    if sparse_value is not None:
        return sparse_value if isinstance(sparse_value, np.ndarray) else _dense_from_sparse(sparse_value)
    if value_float is not None:
        return np.asarray(value_float, dtype=np.float32)
    if value_floats is not None:
        return np.asarray(value_floats, dtype=np.float32).reshape(-1)
    if value_int is not None:
        return np.asarray(value_int, dtype=np.int64)
    if value_ints is not None:
        return np.asarray(value_ints, dtype=np.int64).reshape(-1)
    if value_string is not None:
        return np.array(value_string, dtype=object)
    if value_strings is not None:
        out = np.empty(len(value_strings), dtype=object)
        out[:] = list(value_strings)
        return out
    raise ValueError("Constant: no value attribute given")


@op("ConstantOfShape", since=9, host_inputs=(0,))
def constant_of_shape(xp, input, *, value=None):
    fill = np.zeros(1, dtype=np.float32) if value is None else np.asarray(value).reshape(-1)
    dtype = backend_dtype(xp, fill.dtype)
    if dtype is None:
        return NotImplemented
    if fill.dtype.kind not in "biufc" and not on_host(xp):
        # bfloat16 / float8 fill: not every library takes such a NumPy scalar
        return xp.astype(xp.full(tuple(_ints(input)), float(fill[0].astype(np.float32))), dtype)
    return xp.full(tuple(_ints(input)), fill[0].item() if not on_host(xp) else fill[0], dtype=dtype)


@op("EyeLike", since=9)
def eye_like(xp, input, *, dtype=None, k=0):
    if dtype is None:
        out_dtype = input.dtype
    else:
        from ..ir.tensor import np_dtype_of

        out_dtype = backend_dtype(xp, np_dtype_of(dtype))
        if out_dtype is None:
            return NotImplemented
    rows, cols = input.shape
    return xp.eye(rows, cols, k=k, dtype=out_dtype)


# --------------------------------------------------------------------------- Range / OneHot / Trilu


def _range_count(start, limit, delta) -> int:
    return max(math.ceil((limit - start) / delta), 0)


@op("Range", since=11, host_inputs=(0, 1, 2))
def range_11(xp, start, limit, delta):
    return _range(xp, start, limit, delta, None)


@op("Range", since=27, host_inputs=(0, 1, 2))
def range_27(xp, start, limit, delta, *, stash_type=1):
    return _range(xp, start, limit, delta, stash_type)


def _range(xp, start, limit, delta, stash_type):
    dtype = np.asarray(start).dtype
    s, l, d = (np.asarray(v).reshape(-1)[0].item() for v in (start, limit, delta))
    if dtype.kind in "iu":
        # Exact integer arithmetic: no float rounding of the element count.
        n = max(-((s - l) // d) if d > 0 else -((l - s) // -d), 0)
        return np.asarray(s + np.arange(n, dtype=np.int64) * d, dtype=dtype)
    n = _range_count(s, l, d)
    low = dtype.itemsize == 2
    if low and stash_type is not None:
        compute = np.float64 if stash_type == 11 else np.float32
    else:
        compute = dtype
    idx = np.arange(n, dtype=compute)
    return (np.asarray(s, dtype=compute) + idx * np.asarray(d, dtype=compute)).astype(dtype)


@op("OneHot", since=(9, 11), host_inputs=(1,))
def one_hot(xp, indices, depth, values, *, axis=-1):
    depth = int(np.asarray(depth).reshape(-1)[0])
    rank = indices.ndim + 1
    axis = _axis(axis, rank)
    idx = xp.astype(indices, xp.int64) if numpy_dtype(indices.dtype).kind != "f" else xp.astype(
        xp.trunc(indices), xp.int64
    )
    idx = xp.where(idx < 0, idx + depth, idx)
    # Compare against the class positions laid out along the new axis.
    classes = xp.reshape(xp.arange(depth, dtype=xp.int64), (depth,) + (1,) * (rank - 1 - axis))
    hot = xp.expand_dims(idx, axis=axis) == classes
    return xp.where(hot, values[1], values[0])


@op("Trilu", since=14, host_inputs=(1,))
def trilu(xp, input, k=None, *, upper=1):
    k = 0 if k is None else _int(k)
    rows, cols = input.shape[-2:]
    offset = xp.arange(cols, dtype=xp.int64)[None, :] - xp.arange(rows, dtype=xp.int64)[:, None]
    keep = offset >= k if upper else offset <= k
    # The cleared part holds the type's zero ("" for strings, not the integer 0).
    zero = np.array("", dtype=object) if input.dtype == object else xp.zeros((), dtype=input.dtype)
    return xp.where(keep, input, zero)
