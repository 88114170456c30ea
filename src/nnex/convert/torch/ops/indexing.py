"""Indexing: index / index_put (advanced indexing, boolean masks), gather, scatter (all
reductions), index_select, slice/select_scatter, masked ops, nonzero, embedding, EmbeddingBag."""

from __future__ import annotations

import numpy as np
import torch

from ... import ConversionError
from ..context import Ctx, static_int
from ..registry import lowers
from ._common import BOOL, INT32, INT64, aten, axis, neg_inf, onnx_type, pos_inf

INT64_MAX = 2**63 - 1


def _wrap(ctx: Ctx, idx, size):
    """Negative indices count from the end: idx + size where idx < 0."""
    op = ctx.op
    idx = ctx.cast(idx, torch.int64)
    n = ctx.tensor(size, torch.int64)
    return op.Where(op.Less(idx, ctx.const(0, torch.int64)), op.Add(idx, n), idx)


def _expand_masks(ctx: Ctx, x, indices):
    """Boolean masks become the int64 index tensors of their True positions (one per masked dim)."""
    out = []
    for idx in indices:
        if idx is not None and ctx.dtype(idx) in (torch.bool, torch.uint8):
            k = ctx.rank(idx)
            nz = ctx.op.NonZero(ctx.cast(idx, torch.bool))  # [k, count]
            for j in range(k):
                row = ctx.op.Gather(nz, ctx.const(j, torch.int64), axis=0)
                out.append(ctx.record(row, torch.int64, (None,)))
        else:
            out.append(idx)
    return out


def _broadcast_shape(ctx: Ctx, idxs):
    shapes = [ctx.static_shape(i) for i in idxs]
    if all(s is not None for s in shapes):
        return ctx.ints(np.broadcast_shapes(*[tuple(s) for s in shapes])), len(np.broadcast_shapes(*shapes))
    zero = None
    for i in idxs:
        z = ctx.op.Mul(i, ctx.const(0, torch.int64))
        zero = z if zero is None else ctx.op.Add(zero, z)
    rank = max(ctx.rank(i) for i in idxs)
    return ctx.shape_of(zero), rank


def _prepare(ctx: Ctx, x, indices):
    """x with the indexed dims moved to the front, the stacked [*B, k] indices, and how torch
    lays out the result (B where the indexed dims were, or first)."""
    indices = _expand_masks(ctx, x, list(indices))
    r = ctx.rank(x)
    indices = indices + [None] * (r - len(indices))
    dims = [d for d, i in enumerate(indices) if i is not None]
    if not dims:
        raise ConversionError("indexing without index tensors")
    idxs = [_wrap(ctx, indices[d], ctx.size(x, d)) for d in dims]
    for d, v in zip(dims, idxs):
        ctx.record(v, torch.int64, ctx.shape(indices[d]))
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    rest = [d for d in range(r) if d not in dims]
    perm = dims + rest
    xt = x if perm == list(range(r)) else ctx.op.Transpose(x, perm=perm)
    bshape, brank = _broadcast_shape(ctx, idxs)
    stacked = ctx.op.Concat(*[ctx.op.Unsqueeze(ctx.op.Expand(i, bshape), ctx.ints([-1])) for i in idxs], axis=-1)
    front = dims[0] if adjacent else 0
    return xt, stacked, dims, rest, bshape, brank, front


@lowers(aten.index.Tensor, aten._unsafe_index.Tensor)
def index(ctx: Ctx, x, indices):
    live = [(d, i) for d, i in enumerate(indices) if i is not None]
    if len(live) == 1 and ctx.dtype(live[0][1]) not in (torch.bool, torch.uint8):
        d, i = live[0]
        return ctx.op.Gather(x, _wrap(ctx, i, ctx.size(x, d)), axis=d)
    xt, stacked, _, rest, _, brank, front = _prepare(ctx, x, indices)
    g = ctx.op.GatherND(xt, stacked)  # [*B, *rest]
    if front == 0:
        return g
    n_rest = len(rest)
    # B goes back where the indexed dims were: rest[:front] + B + rest[front:]
    perm = [brank + j for j in range(front)] + list(range(brank)) + [brank + j for j in range(front, n_rest)]
    return ctx.op.Transpose(g, perm=perm)


@lowers(aten.index_put.default, aten._unsafe_index_put.default, aten.index_put_.default)
def index_put(ctx: Ctx, x, indices, values, accumulate=False):
    dt = ctx.dtype(x)
    xt, stacked, dims, rest, bshape, brank, front = _prepare(ctx, x, indices)
    r = ctx.rank(x)
    op = ctx.op
    # values broadcast to torch's layout of x[indices], then moved to [*B, *rest]
    xshape = ctx.shape_of(x)
    rest_shape = [op.Gather(xshape, ctx.ints([d]), axis=0) for d in rest]
    parts = rest_shape[:front] + [bshape] + rest_shape[front:]
    target = op.Concat(*parts, axis=0) if len(parts) > 1 else parts[0]
    v = op.Expand(ctx.tensor(values, dt), target)
    if front:
        n_rest = len(rest)
        perm = list(range(front, front + brank)) + list(range(front)) + list(range(front + brank, brank + n_rest))
        v = op.Transpose(v, perm=perm)
    kw = {"reduction": "add"} if accumulate else {}
    work = dt
    if accumulate and dt == torch.bool:
        work = torch.int32
    out = op.ScatterND(ctx.cast(xt, work), stacked, ctx.cast(ctx.record(v, dt), work), **kw)
    out = ctx.cast(ctx.record(out, work), dt)
    perm = dims + rest
    if perm == list(range(r)):
        return out
    inv = [perm.index(i) for i in range(r)]
    return op.Transpose(out, perm=inv)


@lowers(aten.index_select.default)
def index_select(ctx: Ctx, x, dim, idx):
    d = axis(dim, max(ctx.rank(x), 1))
    if ctx.rank(x) == 0:
        return ctx.op.Identity(x)
    return ctx.op.Gather(x, _wrap(ctx, idx, ctx.size(x, d)), axis=d)


@lowers(aten.gather.default)
def gather(ctx: Ctx, x, dim, idx, sparse_grad=False):
    r = ctx.rank(x)
    if r == 0:
        return ctx.op.Identity(x)
    d = axis(dim, r)
    return ctx.op.GatherElements(x, _wrap(ctx, idx, ctx.size(x, d)), axis=d)


def _updates_like_index(ctx: Ctx, src, idx, dt):
    """torch lets src be larger than index (its leading part is used); ONNX wants equal shapes."""
    src = ctx.tensor(src, dt)
    if ctx.shape(src) is None or ctx.rank(src) == 0 or isinstance(src, (int, float)):
        return ctx.op.Expand(src, ctx.shape_of(idx))
    si, ss = ctx.static_shape(idx), ctx.static_shape(src)
    if si is not None and si == ss:
        return src
    r = ctx.rank(idx)
    return ctx.op.Slice(src, ctx.ints([0] * r), ctx.shape_of(idx), ctx.ints(range(r)))


def _scatter(ctx: Ctx, x, dim, idx, updates, reduction="none"):
    r = ctx.rank(x)
    d = axis(dim, r)
    kw = {} if reduction == "none" else {"reduction": reduction}
    out = ctx.op.ScatterElements(x, _wrap(ctx, idx, ctx.size(x, d)), updates, axis=d, **kw)
    return ctx.record(out, ctx.dtype(x), ctx.shape(x))


@lowers(aten.scatter.src, aten.scatter.value)
def scatter(ctx: Ctx, x, dim, idx, src):
    dt = ctx.out_dtype
    if isinstance(src, (int, float, bool)) or ctx.shape(src) is None or ctx.rank(src) == 0:
        upd = ctx.op.Expand(ctx.tensor(src, dt), ctx.shape_of(idx))
    else:
        upd = _updates_like_index(ctx, src, idx, dt)
    return _scatter(ctx, ctx.tensor(x, dt), dim, idx, upd)


@lowers(aten.scatter.reduce, aten.scatter.value_reduce)
def scatter_reduce_legacy(ctx: Ctx, x, dim, idx, src, reduce):
    return scatter_reduce(ctx, x, dim, idx, src, {"add": "sum", "multiply": "prod"}[reduce], True)


@lowers(aten.scatter_add.default)
def scatter_add(ctx: Ctx, x, dim, idx, src):
    dt = ctx.out_dtype
    work = torch.int32 if dt == torch.bool else dt
    out = _scatter(ctx, ctx.tensor(x, work), dim, idx, _updates_like_index(ctx, src, idx, work), "add")
    return ctx.cast(ctx.record(out, work), dt)


@lowers(aten.scatter_reduce.two)
def scatter_reduce(ctx: Ctx, x, dim, idx, src, reduce, include_self=True):
    dt = ctx.out_dtype
    x = ctx.tensor(x, dt)
    upd = _updates_like_index(ctx, src, idx, dt)
    op = ctx.op
    name = {"sum": "add", "prod": "mul", "amax": "max", "amin": "min", "mean": "add"}[reduce]
    base = x
    if not include_self:  # targets start from the reduction's identity instead of x
        ident = {"sum": 0, "mean": 0, "prod": 1, "amax": neg_inf(dt), "amin": pos_inf(dt)}[reduce]
        fill = op.Expand(ctx.const(ident, dt), ctx.shape_of(idx))
        base = _scatter(ctx, x, dim, idx, fill)
    out = _scatter(ctx, base, dim, idx, upd, name)
    if reduce != "mean":
        return out
    if include_self:
        ones_x = ctx.record(ctx.full(ctx.shape_of(x), 1, dt), dt, ctx.shape(x))
    else:
        ones_x = _scatter(ctx, ctx.record(ctx.full(ctx.shape_of(x), 1, dt), dt, ctx.shape(x)), dim, idx,
                          op.Expand(ctx.const(0, dt), ctx.shape_of(idx)))
    cnt = _scatter(ctx, ones_x, dim, idx, op.Expand(ctx.const(1, dt), ctx.shape_of(idx)), "add")
    zero = ctx.const(0, dt)
    safe = op.Where(op.Equal(cnt, zero), ctx.const(1, dt), cnt)
    if dt.is_floating_point:
        mean = op.Div(out, safe)
    else:
        from .elementwise import floor_divide_ints

        mean = floor_divide_ints(ctx, out, safe, dt)
    return op.Where(op.Equal(cnt, zero), x, mean) if not include_self else mean


@lowers(aten.slice_scatter.default)
def slice_scatter(ctx: Ctx, x, src, dim=0, start=None, end=None, step=1):
    r = ctx.rank(x)
    d = axis(dim, r)
    op = ctx.op
    dt = ctx.dtype(x)
    size = ctx.size(x, d)
    start = 0 if start is None else start
    s0 = static_int(start)
    if s0 is not None and s0 < 0:
        start = ctx.sym_binary("add", size, s0)
    n = ctx.size(src, d)
    if step == 1 and static_int(start) == 0 and static_int(n) is not None and static_int(n) == static_int(size):
        return op.Identity(ctx.tensor(src, dt))
    # positions start, start+step, ... along d, broadcast to src's shape
    last = ctx.sym_binary("add", start, ctx.sym_binary("mul", n, step))
    pos = op.Range(ctx.tensor(start, torch.int64), ctx.tensor(last, torch.int64), ctx.const(step, torch.int64))
    shape = [1] * r
    shape[d] = -1
    pos = op.Expand(op.Reshape(pos, ctx.ints(shape)), ctx.shape_of(src))
    return op.ScatterElements(x, pos, ctx.tensor(src, dt), axis=d)


@lowers(aten.select_scatter.default)
def select_scatter(ctx: Ctx, x, src, dim, index):
    r = ctx.rank(x)
    d = axis(dim, r)
    op = ctx.op
    src = op.Unsqueeze(ctx.tensor(src, ctx.dtype(x)), ctx.ints([d]))
    i = _wrap(ctx, ctx.tensor(index, torch.int64), ctx.size(x, d))
    shape = ctx.op.Concat(ctx.shape_of(x, 0, d), ctx.ints([1]), ctx.shape_of(x, d + 1), axis=0) if d + 1 < r else \
        ctx.op.Concat(ctx.shape_of(x, 0, d), ctx.ints([1]), axis=0) if d > 0 else ctx.ints([1])
    pos = op.Expand(op.Reshape(i, ctx.ints([1] * r)), shape)
    return op.ScatterElements(x, pos, op.Expand(src, shape), axis=d)


@lowers(aten.masked_fill.Scalar, aten.masked_fill.Tensor)
def masked_fill(ctx: Ctx, x, mask, value):
    dt = ctx.dtype(x)
    return ctx.op.Where(ctx.cast(mask, torch.bool), ctx.tensor(value, dt), x)


@lowers(aten.masked_scatter.default)
def masked_scatter(ctx: Ctx, x, mask, source):
    # the i-th True position (row-major) takes source's i-th element
    op = ctx.op
    shape = ctx.shape_of(x)
    m = op.Reshape(op.Expand(ctx.cast(mask, torch.bool), shape), ctx.ints([-1]))
    xf = op.Reshape(x, ctx.ints([-1]))
    pos = op.NonZero(m)  # [1, k]
    k = ctx.shape_of(ctx.record(pos, torch.int64, (1, None)), 1, 2)
    src = op.Slice(op.Reshape(ctx.tensor(source, ctx.dtype(x)), ctx.ints([-1])), ctx.ints([0]), k, ctx.ints([0]))
    out = op.ScatterND(xf, op.Transpose(pos, perm=[1, 0]), src)
    return op.Reshape(out, shape)


@lowers(aten.masked_select.default)
def masked_select(ctx: Ctx, x, mask):
    op = ctx.op
    zero_x = op.Mul(ctx.cast(mask, ctx.dtype(x)), ctx.const(0, ctx.dtype(x)))
    shape = op.Shape(op.Add(x, zero_x))
    xf = op.Reshape(op.Expand(x, shape), ctx.ints([-1]))
    mf = op.Reshape(op.Expand(ctx.cast(mask, torch.bool), shape), ctx.ints([-1]))
    return op.Compress(xf, mf, axis=0)


@lowers(aten.nonzero.default)
def nonzero(ctx: Ctx, x):
    if ctx.rank(x) == 0:
        x = ctx.op.Reshape(x, ctx.ints([1]))
        nz = ctx.op.NonZero(x)
        return ctx.op.Reshape(ctx.op.Transpose(nz, perm=[1, 0]), ctx.ints([-1, 0]))
    return ctx.op.Transpose(ctx.op.NonZero(x), perm=[1, 0])


@lowers(aten.embedding.default)
def embedding(ctx: Ctx, weight, idx, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    return ctx.op.Gather(weight, idx, axis=0)


@lowers(aten._embedding_bag.default, aten._embedding_bag_forward_only.default, aten.embedding_bag.padding_idx)
def embedding_bag(ctx: Ctx, weight, idx, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=-1):
    if ctx.used(1) or ctx.used(2) or ctx.used(3):
        raise ConversionError("only the first output of embedding_bag is supported")
    dt = ctx.dtype(weight)
    op = ctx.op
    i64 = torch.int64
    idx = op.Reshape(ctx.cast(idx, i64), ctx.ints([-1]))
    offsets = ctx.cast(offsets, i64)
    if include_last_offset:
        offsets = op.Slice(offsets, ctx.ints([0]), ctx.ints([-1]), ctx.ints([0]))
    n = op.Shape(idx)
    pos = op.Range(ctx.const(0, i64), op.Squeeze(n, ctx.ints([0])), ctx.const(1, i64))  # [n]
    # bag of each index: how many offsets are <= its position, minus one
    le = op.LessOrEqual(op.Unsqueeze(offsets, ctx.ints([0])), op.Unsqueeze(pos, ctx.ints([1])))  # [n, B]
    bag = op.Sub(op.ReduceSum(op.Cast(le, to=INT64), ctx.ints([1]), keepdims=0), ctx.const(1, i64))  # [n]
    bags = op.Range(ctx.const(0, i64), op.Squeeze(op.Shape(offsets), ctx.ints([0])), ctx.const(1, i64))  # [B]
    member = op.Equal(op.Unsqueeze(bags, ctx.ints([1])), op.Unsqueeze(bag, ctx.ints([0])))  # [B, n]
    if padding_idx is not None and padding_idx >= 0:
        member = op.And(member, op.Unsqueeze(op.Not(op.Equal(idx, ctx.const(padding_idx, i64))), ctx.ints([0])))
    rows = op.Gather(weight, idx, axis=0)  # [n, D]
    if per_sample_weights is not None:
        rows = op.Mul(rows, op.Unsqueeze(ctx.tensor(per_sample_weights, dt), ctx.ints([1])))
    if mode in (0, 1):
        m = op.Cast(member, to=onnx_type(dt))
        out = op.MatMul(m, rows)
        if mode == 1:
            cnt = op.ReduceSum(m, ctx.ints([1]), keepdims=1)
            out = op.Div(out, op.Max(cnt, ctx.const(1.0, dt)))
        return out, None, None, None
    masked = op.Where(op.Unsqueeze(member, ctx.ints([2])), op.Unsqueeze(rows, ctx.ints([0])),
                      ctx.const(neg_inf(dt), dt))
    out = op.ReduceMax(masked, ctx.ints([1]), keepdims=0)
    empty = op.Not(op.Cast(op.ReduceMax(op.Cast(member, to=INT32), ctx.ints([1]), keepdims=1), to=BOOL))
    return op.Where(empty, ctx.const(0.0, dt), out), None, None, None



@lowers(aten.one_hot.default)
def one_hot(ctx: Ctx, x, num_classes=-1):
    if num_classes < 0:
        raise ConversionError("one_hot needs num_classes (its output size cannot depend on the data)")
    eq = ctx.op.Equal(ctx.op.Unsqueeze(ctx.cast(x, torch.int64), ctx.ints([-1])),
                      ctx.const(np.arange(num_classes), torch.int64))
    return ctx.op.Cast(eq, to=INT64)
