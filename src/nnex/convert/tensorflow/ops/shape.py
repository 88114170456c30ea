"""Shapes, re-arrangements, slicing, gathering, padding."""

from __future__ import annotations

import numpy as np

from ... import ConversionError
from ..registry import lowers
from ._common import attr, norm_axes, out_dtype, out_shape

_BIG = np.iinfo(np.int64).max
_SMALL = np.iinfo(np.int64).min


@lowers("Reshape")
def reshape(ctx, op, x, shape):
    target = out_shape(op)
    if target is not None and sum(d is None for d in target) <= 1 and ctx.value(shape) is None:
        # TensorFlow knows all but (at most) one dim: a constant target with -1 there
        shape = ctx.ints([-1 if d is None else d for d in target])
    return ctx.op.Reshape(x, ctx.cast(shape, np.int64))


@lowers("Transpose", "ConjugateTranspose")
def transpose(ctx, op, x, perm):
    return ctx.transpose(x, ctx.const_value(perm, "the permutation").tolist())


@lowers("ConcatV2")
def concat_v2(ctx, op, *args):
    *xs, axis = args
    return _concat(ctx, op, xs, axis)


@lowers("Concat")
def concat_v1(ctx, op, axis, *xs):
    return _concat(ctx, op, xs, axis)


def _concat(ctx, op, xs, axis):
    rank = len(out_shape(op) or ctx.shape(xs[0]))
    a = norm_axes(ctx.const_value(axis, "the axis"), rank)[0]
    if len(xs) == 1:
        return xs[0]
    return ctx.op.Concat(*xs, axis=a)


@lowers("Pack")
def pack(ctx, op, *xs):
    rank = len(out_shape(op)) if out_shape(op) is not None else ctx.rank(xs[0]) + 1
    a = norm_axes(attr(op, "axis", 0), rank)[0]
    parts = [ctx.unsqueeze(x, [a]) for x in xs]
    return parts[0] if len(parts) == 1 else ctx.op.Concat(*parts, axis=a)


@lowers("Unpack")
def unpack(ctx, op, x):
    rank = ctx.rank(x)
    a = norm_axes(attr(op, "axis", 0), rank)[0]
    n = int(attr(op, "num"))
    parts = ctx.op.Split(x, ctx.ints([1] * n), axis=a, _outputs=n) if n > 1 else (x,)
    return [ctx.squeeze(p, [a]) for p in parts]


@lowers("Shape")
def shape(ctx, op, x):
    return ctx.cast(ctx.op.Shape(x), out_dtype(op))


@lowers("ShapeN")
def shape_n(ctx, op, *xs):
    return [ctx.cast(ctx.op.Shape(x), out_dtype(op, i)) for i, x in enumerate(xs)]


@lowers("Size")
def size(ctx, op, x):
    return ctx.cast(ctx.op.Size(x), out_dtype(op))


@lowers("Rank")
def rank(ctx, op, x):
    return ctx.const(np.asarray(ctx.rank(x), dtype=np.int32))


@lowers("ExpandDims")
def expand_dims(ctx, op, x, axis):
    r = ctx.rank(x) + 1
    return ctx.unsqueeze(x, norm_axes(ctx.const_value(axis, "the axis"), r))


@lowers("Squeeze")
def squeeze(ctx, op, x):
    axes = attr(op, "squeeze_dims", []) or []
    if not axes:
        s = ctx.shape(x)
        if s is None or any(d is None for d in s):
            return ctx.op.Squeeze(x)
        axes = [i for i, d in enumerate(s) if d == 1]
        if not axes:
            return x
    return ctx.squeeze(x, norm_axes(axes, ctx.rank(x)))


@lowers("BroadcastTo")
def broadcast_to(ctx, op, x, shape):
    return ctx.op.Expand(x, ctx.cast(shape, np.int64))


@lowers("Tile")
def tile(ctx, op, x, multiples):
    return ctx.op.Tile(x, ctx.cast(multiples, np.int64))


@lowers("Range")
def range_(ctx, op, start, limit, delta):
    dt = out_dtype(op)
    return ctx.op.Range(ctx.cast(start, dt), ctx.cast(limit, dt), ctx.cast(delta, dt))


@lowers("Slice")
def slice_(ctx, op, x, begin, size):
    begin = ctx.cast(begin, np.int64)
    size = ctx.cast(size, np.int64)
    s = ctx.value(size)
    if s is not None:
        b = ctx.value(begin)
        if b is not None:
            ends = [_BIG if int(n) == -1 else int(a) + int(n) for a, n in zip(b.tolist(), s.tolist())]
            return ctx.op.Slice(x, begin, ctx.ints(ends))
    # a size of -1 means "to the end"
    end = ctx.op.Where(ctx.op.Equal(size, ctx.ints([-1])), ctx.ints([_BIG]), ctx.op.Add(begin, size))
    return ctx.op.Slice(x, begin, end)


@lowers("StridedSlice")
def strided_slice(ctx, op, x, begin, end, strides):
    rank = ctx.rank(x)
    b, e, s = (ctx.value(v) for v in (begin, end, strides))
    if s is None:
        raise ConversionError("the strides of a strided slice must be constant")
    s = s.tolist()
    masks = {k: int(attr(op, k, 0)) for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                                "shrink_axis_mask")}
    # expand the spec (with its ellipsis and new axes) into one entry per input dim
    specs = []  # (kind, spec index): kind is "dim", "new"
    n_spec = len(s)
    n_real = sum(1 for i in range(n_spec) if not (masks["new_axis_mask"] >> i) & 1
                 and not (masks["ellipsis_mask"] >> i) & 1)
    for i in range(n_spec):
        if (masks["ellipsis_mask"] >> i) & 1:
            specs += [("all", None)] * (rank - n_real)
        elif (masks["new_axis_mask"] >> i) & 1:
            specs.append(("new", i))
        else:
            specs.append(("dim", i))
    dims_used = sum(1 for k, _ in specs if k != "new")
    specs += [("all", None)] * (rank - dims_used)
    axes, starts, ends, steps, squeeze, unsq, gathers = [], [], [], [], [], [], []
    dim = 0
    out_pos = 0
    for kind, i in specs:
        if kind == "new":
            unsq.append(out_pos)
            out_pos += 1
            continue
        if kind == "all":
            dim += 1
            out_pos += 1
            continue
        step = int(s[i])
        shrink = (masks["shrink_axis_mask"] >> i) & 1
        bmask = (masks["begin_mask"] >> i) & 1
        emask = (masks["end_mask"] >> i) & 1
        if shrink:
            if b is None:
                gathers.append((dim, i))
            else:
                st = int(b[i])
                axes.append(dim)
                starts.append(st)
                ends.append(_BIG if st == -1 else st + 1)
                steps.append(1)
                squeeze.append(dim)
            dim += 1
            continue
        axes.append(dim)
        starts.append(("mask", _BIG if step < 0 else 0) if bmask else ("at", i))
        ends.append(("mask", _SMALL if step < 0 else _BIG) if emask else ("at", i, "end"))
        steps.append(step)
        dim += 1
        out_pos += 1
    y = x
    if axes:
        st_v = _bounds(ctx, starts, b, begin)
        en_v = _bounds(ctx, ends, e, end)
        y = ctx.op.Slice(x, st_v, en_v, ctx.ints(axes), ctx.ints(steps))
    for d, i in reversed(gathers):  # dynamic single indices: Gather drops the axis itself
        idx = ctx.op.Gather(ctx.cast(begin, np.int64), ctx.const(np.asarray(i, dtype=np.int64)), axis=0)
        y = ctx.op.Gather(y, idx, axis=d)
    if squeeze:
        # the gathered axes are gone already: count only those before each squeezed one
        gone = [d for d, _ in gathers]
        y = ctx.squeeze(y, [d - sum(g < d for g in gone) for d in squeeze])
    if unsq:
        y = ctx.unsqueeze(y, unsq)
    return y


def _bounds(ctx, items, known, tensor):
    """Slice starts or ends: ints where known, else picked from the begin/end tensor."""
    vals = []
    dynamic = False
    for it in items:
        if isinstance(it, int):
            vals.append(it)
        elif it[0] == "mask":
            vals.append(it[1])
        elif known is not None:
            vals.append(int(known[it[1]]))
        else:
            vals.append(None)
            dynamic = True
    if not dynamic:
        return ctx.ints(vals)
    picks = [it[1] if not isinstance(it, int) and it[0] == "at" else 0 for it in items]
    gathered = ctx.op.Gather(ctx.cast(tensor, np.int64), ctx.ints(picks), axis=0)
    fixed = np.asarray([0 if v is None else v for v in vals], dtype=np.int64)
    use_fixed = np.asarray([v is not None for v in vals])
    return ctx.op.Where(ctx.const(use_fixed), ctx.const(fixed), gathered)


def _pads(ctx, paddings):
    """TensorFlow's [rank, 2] paddings as ONNX's [begins..., ends...]."""
    p = ctx.value(paddings)
    if p is not None:
        p = np.asarray(p, dtype=np.int64)
        return ctx.ints(list(p[:, 0]) + list(p[:, 1]))
    return ctx.op.Reshape(ctx.op.Transpose(ctx.cast(paddings, np.int64), perm=[1, 0]), ctx.ints([-1]))


@lowers("Pad", "PadV2")
def pad(ctx, op, x, paddings, value=None):
    return ctx.op.Pad(x, _pads(ctx, paddings), value, mode="constant")


@lowers("MirrorPad")
def mirror_pad(ctx, op, x, paddings):
    mode = attr(op, "mode", "REFLECT")
    if mode != "REFLECT":
        raise ConversionError(f"MirrorPad mode {mode!r} has no ONNX equivalent (only REFLECT)")
    return ctx.op.Pad(x, _pads(ctx, paddings), mode="reflect")


@lowers("GatherV2")
def gather_v2(ctx, op, params, indices, axis):
    a = norm_axes(ctx.const_value(axis, "the axis"), ctx.rank(params))[0]
    batch_dims = int(attr(op, "batch_dims", 0))
    if batch_dims:
        raise ConversionError("GatherV2 with batch_dims is not supported")
    return ctx.op.Gather(params, _indices(ctx, indices), axis=a)


@lowers("Gather", "ResourceGather")
def gather_v1(ctx, op, params, indices):
    return ctx.op.Gather(params, _indices(ctx, indices), axis=0)


def _indices(ctx, indices):
    dt = ctx.dtype(indices)
    return indices if dt in (np.dtype(np.int32), np.dtype(np.int64)) else ctx.cast(indices, np.int64)


@lowers("GatherNd")
def gather_nd(ctx, op, params, indices):
    return ctx.op.GatherND(params, ctx.cast(indices, np.int64), batch_dims=int(attr(op, "batch_dims", 0)))


@lowers("ScatterNd")
def scatter_nd(ctx, op, indices, updates, shape):
    zeros = ctx.op.ConstantOfShape(ctx.cast(shape, np.int64), value=np.zeros(1, dtype=ctx.dtype(updates)))
    return ctx.op.ScatterND(zeros, ctx.cast(indices, np.int64), updates, reduction="add")


@lowers("TensorScatterUpdate", "TensorScatterAdd", "TensorScatterMax", "TensorScatterMin")
def tensor_scatter(ctx, op, x, indices, updates):
    red = {"TensorScatterUpdate": "none", "TensorScatterAdd": "add", "TensorScatterMax": "max",
           "TensorScatterMin": "min"}[op.type]
    return ctx.op.ScatterND(x, ctx.cast(indices, np.int64), updates, reduction=red)


@lowers("Split")
def split(ctx, op, axis, x):
    n = int(attr(op, "num_split"))
    a = norm_axes(ctx.const_value(axis, "the axis"), ctx.rank(x))[0]
    if n == 1:
        return [x]
    return list(ctx.op.Split(x, axis=a, num_outputs=n, _outputs=n))


@lowers("SplitV")
def split_v(ctx, op, x, sizes, axis):
    n = int(attr(op, "num_split"))
    a = norm_axes(ctx.const_value(axis, "the axis"), ctx.rank(x))[0]
    sz = ctx.value(sizes)
    if sz is not None and (sz == -1).any():
        dim = ctx.shape(x)[a]
        if dim is None:
            raise ConversionError("a split size of -1 needs the dimension's static size")
        sz = sz.copy()
        sz[sz == -1] = dim - (sz.sum() + 1)
    if n == 1:
        return [x]
    sizes = ctx.ints(sz.tolist()) if sz is not None else ctx.cast(sizes, np.int64)
    return list(ctx.op.Split(x, sizes, axis=a, _outputs=n))


@lowers("ReverseV2")
def reverse_v2(ctx, op, x, axis):
    axes = norm_axes(ctx.const_value(axis, "the axes"), ctx.rank(x))
    if not axes:
        return x
    n = len(axes)
    return ctx.op.Slice(x, ctx.ints([-1] * n), ctx.ints([_SMALL] * n), ctx.ints(axes), ctx.ints([-1] * n))


@lowers("ReverseSequence")
def reverse_sequence(ctx, op, x, lengths):
    return ctx.op.ReverseSequence(x, ctx.cast(lengths, np.int64), batch_axis=int(attr(op, "batch_dim", 0)),
                                  time_axis=int(attr(op, "seq_dim")))


@lowers("OneHot")
def one_hot(ctx, op, indices, depth, on, off):
    rank = ctx.rank(indices) + 1
    a = int(attr(op, "axis", -1))
    values = ctx.op.Concat(ctx.reshape(off, [1]), ctx.reshape(on, [1]), axis=0)
    return ctx.op.OneHot(indices, ctx.cast(depth, np.int64), values, axis=a if a >= 0 else rank + a)


@lowers("Where")
def where(ctx, op, cond):
    if ctx.dtype(cond) != np.dtype(bool):
        cond = ctx.cast(cond, bool)
    return ctx.op.Transpose(ctx.op.NonZero(cond), perm=[1, 0])


@lowers("Cumsum")
def cumsum(ctx, op, x, axis):
    return ctx.op.CumSum(x, ctx.cast(axis, np.int64), exclusive=int(attr(op, "exclusive", False)),
                         reverse=int(attr(op, "reverse", False)))


@lowers("TopKV2")
def top_k(ctx, op, x, k):
    vals, idx = ctx.op.TopK(x, ctx.reshape(ctx.cast(k, np.int64), [1]), axis=-1, largest=1, sorted=1, _outputs=2)
    return [vals, ctx.cast(idx, out_dtype(op, 1))]


@lowers("BroadcastArgs")
def broadcast_args(ctx, op, a, b):
    dt = out_dtype(op)
    ones_a = ctx.op.ConstantOfShape(ctx.cast(a, np.int64), value=np.zeros(1, np.int8))
    ones_b = ctx.op.ConstantOfShape(ctx.cast(b, np.int64), value=np.zeros(1, np.int8))
    return ctx.cast(ctx.op.Shape(ctx.op.Add(ones_a, ones_b)), dt)


@lowers("InvertPermutation")
def invert_permutation(ctx, op, p):
    v = ctx.const_value(p, "the permutation")
    return ctx.const(np.argsort(v).astype(v.dtype))
