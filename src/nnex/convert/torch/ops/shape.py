"""Views and shape ops: view/reshape, permute, expand, squeeze, cat, split, slice, select,
flip, roll, repeat, padding, unfold, diagonal, broadcast."""

from __future__ import annotations

import numpy as np
import torch

from ... import ConversionError
from ..context import Ctx, Sym, static_int
from ..registry import lowers
from ._common import aten, axes, axis, prims

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def reshape_to(ctx: Ctx, x, sizes):
    """Reshape ``x`` to torch ``sizes`` (ints, Syms; one -1 allowed)."""
    sizes = list(sizes)
    dyn = [i for i, s in enumerate(sizes) if static_int(s) is None]
    if len(dyn) == 1 and -1 not in [static_int(s) for s in sizes]:
        sizes[dyn[0]] = -1  # the element count fixes it: no need to compute it
    static = [static_int(s) for s in sizes]
    allow = 1 if 0 in static and -1 not in static else 0
    kw = {"allowzero": 1} if allow else {}
    return ctx.op.Reshape(x, ctx.size_vec(sizes), **kw)


@lowers(aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.view_copy.default,
        aten._reshape_copy.default)
def view(ctx: Ctx, x, size):
    cur = ctx.shape(x)
    if cur is not None and len(cur) == len(size) and all(
            static_int(a) is not None and static_int(a) == static_int(b) for a, b in zip(cur, size)):
        return ctx.op.Identity(x)
    return reshape_to(ctx, x, size)


@lowers(prims.reshape.default)
def prims_reshape(ctx: Ctx, x, size):
    return reshape_to(ctx, x, size)


@lowers(aten.permute.default, aten.permute_copy.default, prims.transpose.default)
def permute(ctx: Ctx, x, dims):
    r = ctx.rank(x)
    perm = axes(dims, r) if r else []
    if perm == list(range(r)):
        return ctx.op.Identity(x)
    return ctx.op.Transpose(x, perm=perm)


@lowers(aten.transpose.int, aten.transpose_copy.int)
def transpose(ctx: Ctx, x, d0, d1):
    r = ctx.rank(x)
    if r < 2:
        return ctx.op.Identity(x)
    perm = list(range(r))
    a, b = axis(d0, r), axis(d1, r)
    perm[a], perm[b] = perm[b], perm[a]
    return ctx.op.Transpose(x, perm=perm)


@lowers(aten.t.default, aten.numpy_T.default)
def t(ctx: Ctx, x):
    r = ctx.rank(x)
    return ctx.op.Transpose(x, perm=list(range(r))[::-1]) if r >= 2 else ctx.op.Identity(x)


@lowers(aten.expand.default, aten.expand_copy.default)
def expand(ctx: Ctx, x, size, implicit=False):
    # ONNX Expand broadcasts both ways, so torch's -1 ("keep this dim") is a 1 here
    sizes = [1 if static_int(s) == -1 else s for s in size]
    if ctx.shape(x) is not None and list(map(static_int, ctx.shape(x))) == list(map(static_int, size)) \
            and None not in map(static_int, size):
        return ctx.op.Identity(x)
    return ctx.op.Expand(x, ctx.size_vec(sizes))


@lowers(aten.expand_as.default)
def expand_as(ctx: Ctx, x, other):
    return ctx.op.Expand(x, ctx.shape_of(other))


@lowers(prims.broadcast_in_dim.default)
def broadcast_in_dim(ctx: Ctx, x, shape, broadcast_dimensions):
    r = len(shape)
    missing = [i for i in range(r) if i not in broadcast_dimensions]
    if missing:
        x = ctx.op.Unsqueeze(x, ctx.ints(missing))
    return ctx.op.Expand(x, ctx.size_vec(shape))


def _squeezable(ctx: Ctx, x, dims):
    shape = ctx.shape(x)
    r = len(shape)
    if r == 0:
        return []
    out = []
    for d in axes(dims, r):
        if static_int(shape[d]) == 1:
            out.append(d)
    return out


@lowers(aten.squeeze.dim, aten.squeeze.dims, aten.squeeze.default, aten.squeeze_copy.dim,
        aten.squeeze_copy.dims, aten.squeeze_copy.default, prims.squeeze.default)
def squeeze(ctx: Ctx, x, dims=None):
    dims = _squeezable(ctx, x, dims)
    if not dims:
        return ctx.op.Identity(x)
    return ctx.op.Squeeze(x, ctx.ints(dims))


@lowers(aten.unsqueeze.default, aten.unsqueeze_copy.default)
def unsqueeze(ctx: Ctx, x, dim):
    return ctx.op.Unsqueeze(x, ctx.ints([axis(dim, ctx.rank(x) + 1)]))


@lowers(aten.cat.default, aten.concat.default, aten.concatenate.default)
def cat(ctx: Ctx, tensors, dim=0):
    dt = ctx.out_dtype
    r = len(ctx.out_shape)
    # torch skips legacy empty 1-D inputs when the others have more dims
    keep = [t for t in tensors if not (ctx.shape(t) is not None and len(ctx.shape(t)) == 1 and r > 1
                                       and static_int(ctx.shape(t)[0]) == 0)]
    keep = [ctx.tensor(t, dt) for t in keep]
    if len(keep) == 1:
        return ctx.op.Identity(keep[0])
    return ctx.op.Concat(*keep, axis=axis(dim, r))


@lowers(aten.stack.default)
def stack(ctx: Ctx, tensors, dim=0):
    dt = ctx.out_dtype
    r = len(ctx.out_shape)
    d = axis(dim, r)
    parts = [ctx.op.Unsqueeze(ctx.tensor(t, dt), ctx.ints([d])) for t in tensors]
    return parts[0] if len(parts) == 1 else ctx.op.Concat(*parts, axis=d)


@lowers(aten.split_with_sizes.default, aten.split_with_sizes_copy.default)
def split_with_sizes(ctx: Ctx, x, sizes, dim=0):
    d = axis(dim, ctx.rank(x))
    n = len(sizes)
    if n == 1:
        return [ctx.op.Identity(x)]
    outs = ctx.op.Split(x, ctx.size_vec(sizes), axis=d, _outputs=n)
    return list(outs)


@lowers(aten.split.Tensor, aten.split_copy.Tensor)
def split(ctx: Ctx, x, split_size, dim=0):
    d = axis(dim, ctx.rank(x))
    total = ctx.size(x, d)
    if not isinstance(total, int) or not isinstance(split_size, int):
        raise ConversionError("split of a dimension of symbolic size is not supported")
    sizes = [min(split_size, total - i) for i in range(0, total, split_size)] or [0]
    return split_with_sizes(ctx, x, sizes, d)


@lowers(aten.unbind.int, aten.unbind_copy.int)
def unbind(ctx: Ctx, x, dim=0):
    d = axis(dim, ctx.rank(x))
    n = ctx.size(x, d)
    if not isinstance(n, int):
        raise ConversionError("unbind along a dimension of symbolic size is not supported")
    parts = [x] if n == 1 else list(ctx.op.Split(x, ctx.ints([1] * n), axis=d, _outputs=n))
    return [ctx.op.Squeeze(p, ctx.ints([d])) for p in parts]


def _bound(ctx: Ctx, v, default):
    if v is None:
        return default
    if isinstance(v, (Sym, torch.SymInt)):
        return v
    return int(v)


@lowers(aten.slice.Tensor, aten.slice_copy.Tensor)
def slice_(ctx: Ctx, x, dim=0, start=None, end=None, step=1):
    r = ctx.rank(x)
    if r == 0:
        return ctx.op.Identity(x)
    d = axis(dim, r)
    start = _bound(ctx, start, 0)
    end = _bound(ctx, end, INT64_MAX)
    if isinstance(end, int):
        end = min(end, INT64_MAX)
    if static_int(start) == 0 and static_int(end) is not None and step == 1:
        size = static_int(ctx.shape(x)[d])
        if static_int(end) >= INT64_MAX or (size is not None and static_int(end) >= size):
            return ctx.op.Identity(x)
    return ctx.op.Slice(x, ctx.size_vec([start]), ctx.size_vec([end]), ctx.ints([d]), ctx.ints([step]))


@lowers(aten.narrow.default)
def narrow(ctx: Ctx, x, dim, start, length):
    end = ctx.sym_binary("add", ctx.sym(start) if not isinstance(start, Sym) else start, length)
    return slice_(ctx, x, dim, start, end, 1)


@lowers(aten.select.int, aten.select_copy.int)
def select(ctx: Ctx, x, dim, index):
    d = axis(dim, ctx.rank(x))
    return ctx.op.Gather(x, ctx.tensor(index, torch.int64), axis=d)


@lowers(aten.flip.default, prims.rev.default)
def flip(ctx: Ctx, x, dims):
    r = ctx.rank(x)
    ax = sorted(set(axes(dims, r)))
    if not ax or r == 0:
        return ctx.op.Identity(x)
    n = len(ax)
    return ctx.op.Slice(x, ctx.ints([-1] * n), ctx.ints([INT64_MIN] * n), ctx.ints(ax), ctx.ints([-1] * n))


@lowers(aten.roll.default)
def roll(ctx: Ctx, x, shifts, dims=()):
    shifts = list(shifts) if isinstance(shifts, (list, tuple)) else [shifts]
    dims = list(dims) if isinstance(dims, (list, tuple)) else [dims]
    if not dims:
        flat = ctx.op.Reshape(x, ctx.ints([-1]))
        ctx.record(flat, ctx.dtype(x), (int(np.prod(ctx.static_shape(x) or [0])),) if ctx.static_shape(x)
                   else (None,))
        out = _roll1(ctx, flat, shifts[0], 0)
        return ctx.op.Reshape(out, ctx.shape_of(x))
    out = x
    for s, d in zip(shifts, dims):
        out = _roll1(ctx, out, s, axis(d, ctx.rank(x)))
        ctx.record(out, ctx.dtype(x), ctx.shape(x))
    return out


def _roll1(ctx: Ctx, x, shift, d):
    n = ctx.size(x, d)
    op = ctx.op
    if isinstance(n, int) and isinstance(shift, int):
        if n == 0:
            return op.Identity(x)
        s = shift % n
        if s == 0:
            return op.Identity(x)
        tail = op.Slice(x, ctx.ints([n - s]), ctx.ints([n]), ctx.ints([d]))
        head = op.Slice(x, ctx.ints([0]), ctx.ints([n - s]), ctx.ints([d]))
        return op.Concat(tail, head, axis=d)
    nn = ctx.tensor(n, torch.int64)
    s = op.Mod(ctx.tensor(shift, torch.int64), nn)
    cut = op.Reshape(op.Sub(nn, s), ctx.ints([1]))
    tail = op.Slice(x, cut, ctx.ints([INT64_MAX]), ctx.ints([d]))
    head = op.Slice(x, ctx.ints([0]), cut, ctx.ints([d]))
    return op.Concat(tail, head, axis=d)


@lowers(aten.repeat.default)
def repeat(ctx: Ctx, x, repeats):
    r = ctx.rank(x)
    extra = len(repeats) - r
    if extra > 0:
        x = ctx.op.Unsqueeze(x, ctx.ints(range(extra)))
    return ctx.op.Tile(x, ctx.size_vec(repeats))


@lowers(aten.repeat_interleave.self_int)
def repeat_interleave(ctx: Ctx, x, repeats, dim=None, output_size=None):
    if dim is None:
        x = ctx.op.Reshape(x, ctx.ints([-1]))
        ctx.record(x, ctx.dtype(x), (None,))
        dim = 0
        r = 1
    else:
        r = ctx.rank(x)
    d = axis(dim, r)
    op = ctx.op
    shape = ctx.shape_of(x)
    u = op.Unsqueeze(x, ctx.ints([d + 1]))
    target = op.Concat(op.Slice(shape, ctx.ints([0]), ctx.ints([d + 1])), ctx.size_vec([repeats]),
                       op.Slice(shape, ctx.ints([d + 1]), ctx.ints([INT64_MAX])), axis=0)
    e = op.Expand(u, target)
    new = op.Concat(op.Slice(shape, ctx.ints([0]), ctx.ints([d])), ctx.ints([-1]),
                    op.Slice(shape, ctx.ints([d + 1]), ctx.ints([INT64_MAX])), axis=0)
    return op.Reshape(e, new)


# ---- padding ------------------------------------------------------------------------------------


def pad(ctx: Ctx, x, pads, mode: str, value=None):
    """torch-style ``pads`` (last dim first, (before, after) pairs) with ONNX Pad of ``mode``."""
    r = ctx.rank(x)
    n = len(pads) // 2
    ax = [r - 1 - i for i in range(n)]
    befores = [pads[2 * i] for i in range(n)]
    afters = [pads[2 * i + 1] for i in range(n)]
    if all(static_int(p) == 0 for p in pads):
        return ctx.op.Identity(x)
    if mode == "wrap" and ctx.opset < 19:
        return _wrap_pad(ctx, x, ax, befores, afters)
    pv = ctx.size_vec(befores + afters)
    cv = None
    if mode == "constant":
        cv = ctx.const(0 if value is None else value, ctx.dtype(x))
    return ctx.op.Pad(x, pv, cv, ctx.ints(ax), mode=mode)


def _wrap_pad(ctx: Ctx, x, ax, befores, afters):
    """Circular padding before Pad's "wrap" mode (opset 19): the tail and head sliced and concatenated."""
    op = ctx.op
    for d, lo, hi in zip(ax, befores, afters):
        lo, hi = static_int(lo), static_int(hi)
        if lo is None or hi is None or lo < 0 or hi < 0:
            raise ConversionError("circular padding by symbolic or negative amounts needs opset 19 or newer")
        parts = []
        if lo:
            parts.append(op.Slice(x, ctx.ints([-lo]), ctx.ints([INT64_MAX]), ctx.ints([d])))
        parts.append(x)
        if hi:
            parts.append(op.Slice(x, ctx.ints([0]), ctx.ints([hi]), ctx.ints([d])))
        x = op.Concat(*parts, axis=d) if len(parts) > 1 else x
    return x


@lowers(aten.constant_pad_nd.default)
def constant_pad_nd(ctx: Ctx, x, pads, value=0):
    return pad(ctx, x, pads, "constant", value)


@lowers(aten.reflection_pad1d.default, aten.reflection_pad2d.default, aten.reflection_pad3d.default)
def reflection_pad(ctx: Ctx, x, pads):
    return pad(ctx, x, pads, "reflect")


@lowers(aten.replication_pad1d.default, aten.replication_pad2d.default, aten.replication_pad3d.default)
def replication_pad(ctx: Ctx, x, pads):
    return pad(ctx, x, pads, "edge")


@lowers(aten._pad_circular.default)
def circular_pad(ctx: Ctx, x, pads):
    return pad(ctx, x, pads, "wrap")


@lowers(aten.pad.default)
def pad_any(ctx: Ctx, x, pads, mode="constant", value=None):
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return pad(ctx, x, pads, onnx_mode, value)


# ---- windows and diagonals ----------------------------------------------------------------------


@lowers(aten.unfold.default)
def unfold(ctx: Ctx, x, dim, size, step):
    r = ctx.rank(x)
    d = axis(dim, r) if r else 0
    n = ctx.size(x, d) if r else 1
    if not isinstance(n, int):
        raise ConversionError("Tensor.unfold along a dimension of symbolic size is not supported")
    windows = (n - size) // step + 1
    idx = np.arange(windows)[:, None] * step + np.arange(size)[None, :]
    if r == 0:
        return ctx.op.Reshape(x, ctx.ints([1]))
    g = ctx.op.Gather(x, ctx.const(idx, torch.int64), axis=d)  # [.., windows, size, ..]
    perm = list(range(r + 1))
    perm.pop(d + 1)
    perm.append(d + 1)
    return ctx.op.Transpose(g, perm=perm)


@lowers(aten.diagonal.default, aten.diagonal_copy.default)
def diagonal(ctx: Ctx, x, offset=0, dim1=0, dim2=1):
    r = ctx.rank(x)
    a, b = axis(dim1, r), axis(dim2, r)
    shape = ctx.static_shape(x)
    if shape is None:
        raise ConversionError("diagonal of a tensor of symbolic shape is not supported")
    n, m = shape[a], shape[b]
    rest = [i for i in range(r) if i not in (a, b)]
    xt = ctx.op.Transpose(x, perm=rest + [a, b])
    flat = ctx.op.Reshape(xt, ctx.ints([shape[i] for i in rest] + [n * m]))
    rows = np.arange(max(0, -offset), min(n, m - offset)) if offset < m else np.arange(0)
    idx = rows * m + rows + offset
    return ctx.op.Gather(flat, ctx.const(idx.astype(np.int64), torch.int64), axis=len(rest))


@lowers(aten.pixel_shuffle.default)
def pixel_shuffle(ctx: Ctx, x, r):
    if ctx.rank(x) == 4:
        return ctx.op.DepthToSpace(x, blocksize=int(r), mode="CRD")
    raise ConversionError("pixel_shuffle is supported on 4-D inputs")


@lowers(aten.pixel_unshuffle.default)
def pixel_unshuffle(ctx: Ctx, x, r):
    if ctx.rank(x) != 4:
        raise ConversionError("pixel_unshuffle is supported on 4-D inputs")
    n, c, h, w = (ctx.size(x, i) for i in range(4))
    op = ctx.op
    hr = ctx.sym_binary("floordiv", h, r)
    wr = ctx.sym_binary("floordiv", w, r)
    y = op.Reshape(x, ctx.size_vec([n, c, hr, r, wr, r]))
    y = op.Transpose(y, perm=[0, 1, 3, 5, 2, 4])
    return op.Reshape(y, ctx.size_vec([n, ctx.sym_binary("mul", c, r * r), hr, wr]))


@lowers(aten.chunk.default)
def chunk(ctx: Ctx, x, chunks, dim=0):
    d = axis(dim, ctx.rank(x))
    n = ctx.size(x, d)
    if not isinstance(n, int):
        raise ConversionError("chunk of a dimension of symbolic size is not supported")
    step = -(-n // chunks) if n else 1
    return split(ctx, x, step, d)


def _reshape_to_out(ctx: Ctx, x):
    return reshape_to(ctx, x, list(ctx.out_shape))


@lowers(aten.flatten.using_ints)
def flatten(ctx: Ctx, x, start_dim=0, end_dim=-1):
    r = ctx.rank(x)
    if r == 0:
        return ctx.op.Reshape(x, ctx.ints([1]))
    s, e = axis(start_dim, r), axis(end_dim, r)
    if s == e:
        return ctx.op.Identity(x)
    dims = list(ctx.out_shape)
    if sum(static_int(d) is None for d in dims) <= 1:
        return _reshape_to_out(ctx, x)
    op = ctx.op
    parts = [ctx.shape_of(x, 0, s)] if s > 0 else []
    parts.append(ctx.ints([-1]))
    if e + 1 < r:
        parts.append(ctx.shape_of(x, e + 1))
    return op.Reshape(x, op.Concat(*parts, axis=0) if len(parts) > 1 else parts[0])


@lowers(aten.unflatten.int)
def unflatten(ctx: Ctx, x, dim, sizes):
    r = ctx.rank(x)
    d = axis(dim, r)
    op = ctx.op
    parts = [ctx.shape_of(x, 0, d)] if d > 0 else []
    parts.append(ctx.size_vec(sizes))
    if d + 1 < r:
        parts.append(ctx.shape_of(x, d + 1))
    return op.Reshape(x, op.Concat(*parts, axis=0) if len(parts) > 1 else parts[0])


@lowers(aten.view_as.default, aten.reshape_as.default)
def view_as(ctx: Ctx, x, other):
    return ctx.op.Reshape(x, ctx.shape_of(other))


@lowers(aten.movedim.int, aten.moveaxis.int)
def movedim(ctx: Ctx, x, src, dst):
    r = ctx.rank(x)
    s, d = axis(src, r), axis(dst, r)
    perm = [i for i in range(r) if i != s]
    perm.insert(d, s)
    return ctx.op.Transpose(x, perm=perm)


@lowers(aten.swapaxes.default, aten.swapdims.default)
def swapaxes(ctx: Ctx, x, a, b):
    return transpose(ctx, x, a, b)


@lowers(aten.as_strided.default, aten.as_strided_copy.default)
def as_strided(ctx: Ctx, x, size, stride, storage_offset=None):
    # a view into x's (contiguous) storage: gather the flat elements it addresses
    sizes = [static_int(s) for s in size]
    strides = [static_int(s) for s in stride]
    off = static_int(storage_offset) if storage_offset is not None else 0
    if None in sizes or None in strides or off is None:
        raise ConversionError("as_strided with symbolic sizes or strides is not supported")
    idx = np.full(sizes, off, dtype=np.int64)
    for d, (n, st) in enumerate(zip(sizes, strides)):
        shape = [1] * len(sizes)
        shape[d] = n
        idx = idx + (np.arange(n, dtype=np.int64) * st).reshape(shape)
    flat = ctx.op.Reshape(x, ctx.ints([-1]))
    return ctx.op.Gather(flat, ctx.const(idx, torch.int64), axis=0)
