"""Convolution as matrix products (im2col), for every Conv that is not depthwise.

* A 1x1 kernel without padding is one matrix product on the input itself: W @ X for
  a channels-first input, X^T @ W^T (one product over the whole batch, result
  channels-last) for a channels-last one.
* Any other kernel goes through columns: the padded input is built once (split into
  stride phases, so that every kernel tap reads unit-stride rows), then the output
  is produced a block of output rows at a time: the block's columns are copied (one
  copy per phase) into a small buffer that stays in cache, and one product writes
  the block's outputs in place.  Whole-image columns would be tens of MB for a large
  image, written to and read back from memory once each.  Images too small to fill
  a block share one product across samples.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from ._conv_layout import (channels_last_view, contiguous_strides, derived_weights, empty_channels_last,
                           is_channels_last, phase_buffer, phase_plan, tap_groups, view_of)
from ._conv_parallel import bias_and_clamp, clamp, matmul, product_rows

# bytes of one block of columns: large enough for an efficient product, small
# enough to stay in the cache between the copy and the product
_BLOCK_BYTES = 3 << 20


def conv_pointwise(x, w, b, strides, group, activation=None):
    """1x1 convolution without padding. ``x`` (N, C, *spatial), any memory order.

    The bias (and ``activation``, see _conv_parallel.clamp) follow the product block by
    block, on several threads when the output is large."""
    N, C = x.shape[:2]
    M = w.shape[0]
    picks = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)
    sub = x[picks] if any(s != 1 for s in strides) else x
    out_shape = sub.shape[2:]
    if group == 1 and is_channels_last(x):
        xt = channels_last_view(sub)  # (N, *out, C)
        xt = xt.reshape(-1, C)  # a view unless strided
        y = empty_channels_last((N, M) + out_shape, x.dtype)
        yt = channels_last_view(y).reshape(-1, M)
        product_rows(xt, w.reshape(M, C).T, yt, None if b is None else b.reshape(1, M), activation)
        return y
    L = math.prod(out_shape)
    y = np.empty((N, M) + out_shape, dtype=x.dtype)
    if group == 1 and N == 1:
        product_rows(w.reshape(M, C), sub.reshape(C, L), y.reshape(M, L),
                     None if b is None else b.reshape(M, 1), activation)
        return y
    if group == 1:
        matmul(w.reshape(M, C), sub.reshape(N, C, L), y.reshape(N, M, L))
    else:
        xs = sub.reshape(N, group, C // group, L)
        np.matmul(w.reshape(group, M // group, C // group), xs, out=y.reshape(N, group, M // group, L))
    if N == 1:
        bias_and_clamp(y.reshape(M, L), None if b is None else b.reshape(M, 1), activation)
    else:
        if b is not None:
            flat = y.reshape(N, M, L)
            flat += b.reshape(M, 1)
        if activation is not None:
            clamp(y, activation)
    return y


class _Im2colPlan(NamedTuple):
    phase_args: tuple  # (pads before, padded extents, strides) of the phase buffer
    q0: int  # buffer elements per step of the first output axis
    copies: tuple  # per phase group: (cols index, source offset, source shape, source strides)
    rows: int  # output rows (first output axis) per block
    per: int  # samples per block (1, or > 1 when rows covers the whole image)
    row: int  # columns per output row: outputs, or in wide mode the phase width
    wide: int  # 0, or the phase width: columns cover whole phase rows (see below)


# Wide columns (2-D, narrow images): a tap's input for a block of rows is then one
# contiguous run of the phase buffer, copied at memory speed, instead of one short
# run per output row.  The product also computes the columns past the output width
# (at most (k - 1) * d / s per row), which are dropped when the block is stored: that
# pays when the product per column is small next to the copy (few output channels).
_WIDE_MAX_WIDTH = 32


def _use_wide(nsp, out_last, q_last, m) -> bool:
    return nsp == 2 and out_last <= _WIDE_MAX_WIDTH and m * (q_last - out_last) <= 8 * out_last + 16


@functools.lru_cache(maxsize=512)
def _im2col_plan(in_shape, kernel, pads, strides, dilations, out_shape, itemsize, m) -> _Im2colPlan:
    nsp = len(kernel)
    N, C = in_shape[:2]
    K = math.prod(kernel)
    needs = tuple((out_shape[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(nsp))
    phase_args = (tuple(pads[:nsp]), needs, tuple(strides))
    phases = phase_plan((1,) + tuple(in_shape[1:]), *phase_args, False)
    bstr = contiguous_strides(phases.shape)  # (N, C, *S, *Q)
    s_str, q_str = bstr[2:2 + nsp], bstr[2 + nsp:]
    q_last = phases.shape[-1]
    wide = q_last if _use_wide(nsp, out_shape[-1], q_last, m) else 0
    row = wide or math.prod(out_shape[1:])
    L = out_shape[0] * row
    col_bytes = C * K * itemsize
    if N > 1 and 2 * L * col_bytes <= _BLOCK_BYTES:
        per, rows = max(1, min(N, _BLOCK_BYTES // (L * col_bytes))), out_shape[0]
    else:
        per, rows = 1, max(1, min(out_shape[0], _BLOCK_BYTES // max(1, row * col_bytes)))
    copies = []
    for g in tap_groups(tuple(kernel), tuple(dilations), tuple(strides)):
        offset = sum(p * s for p, s in zip(g.phase, s_str)) + sum(a * q for a, q in zip(g.starts, q_str))
        # source (C, *taps, nb, rows, *out_rest), or wide (C, *taps, nb, rows * width)
        tail = (1,) if wide else tuple(q_str)
        strides_ = (bstr[1],) + tuple(st * q for st, q in zip(g.steps, q_str)) + (bstr[0],) + tail
        copies.append(((slice(None),) + g.taps, offset, g.counts, strides_))
    return _Im2colPlan(phase_args, q_str[0], tuple(copies), rows, per, row, wide)


def conv_im2col(x, w, b, pads, kernel, strides, dilations, out_shape, group):
    """Grouped N-D convolution through blocks of columns; result channels-first."""
    N, C = x.shape[:2]
    M = w.shape[0]
    Cg, Mg = C // group, M // group
    K = math.prod(kernel)
    L = math.prod(out_shape)
    y = np.empty((N, M) + tuple(out_shape), dtype=x.dtype)
    if N == 0 or L == 0:
        return y
    plan = _im2col_plan(x.shape, tuple(kernel), tuple(pads), tuple(strides), tuple(dilations),
                        tuple(out_shape), x.dtype.itemsize, M)
    wg = w.reshape(group, Mg, Cg * K)
    bias = None if b is None else b.reshape(group, Mg, 1)
    yg = y.reshape(N, group, Mg, L)
    out_rest = tuple(out_shape[1:])
    wide = plan.wide
    store = np.empty(C * K * plan.per * plan.rows * plan.row, dtype=x.dtype)  # one block's columns
    if wide or plan.per > 1:
        prods = np.empty(M * plan.per * plan.rows * plan.row, dtype=x.dtype)  # one block's product
    for n0 in range(0, N, plan.per):
        nb = min(plan.per, N - n0)
        # the padded input of this block's samples only: a batch's would leave the cache
        phases = phase_plan((nb,) + x.shape[1:], *plan.phase_args, False)
        buf = phase_buffer(x[n0:n0 + nb], phases, slack=wide)
        for r0 in range(0, out_shape[0], plan.rows):
            rows = min(plan.rows, out_shape[0] - r0)
            lc = nb * rows * plan.row
            tail = (rows * wide,) if wide else (rows,) + out_rest
            cols = store[:C * K * lc].reshape((C,) + tuple(kernel) + (nb,) + tail)
            for idx, offset, counts, st in plan.copies:
                cols[idx] = view_of(buf, offset + r0 * plan.q0, (C,) + counts + (nb,) + tail, st)
            cmat = cols.reshape(group, Cg * K, lc)
            if nb == 1 and not wide:
                out = yg[n0, :, :, r0 * plan.row:(r0 + rows) * plan.row]
                matmul(wg, cmat, out)
                if bias is not None:
                    out += bias
                continue
            prod = prods[:M * lc].reshape(group, Mg, lc)
            matmul(wg, cmat, prod)
            if wide:
                src = prod.reshape(M, nb, rows, wide)[..., :out_shape[-1]].transpose(1, 0, 2, 3)
                dst = y[n0:n0 + nb, :, r0:r0 + rows]
            else:
                src = prod.reshape(M, nb, L).transpose(1, 0, 2)
                dst = yg[n0:n0 + nb].reshape(nb, M, L)
            if bias is None:
                np.copyto(dst, src)
            else:
                np.add(src, b.reshape(M, 1, 1) if wide else b.reshape(M, 1), out=dst)
    return y


def use_tap_products(x_shape, w_shape, strides, group) -> bool:
    """Whether ``conv_tap_products`` beats columns: a 2-D stride-1 conv with few outputs
    per input channel, where copying the columns (C per tap) costs more than adding
    the per-tap products (M per tap)."""
    return (len(x_shape) == 4 and group == 1 and tuple(strides) == (1, 1)
            and 2 * w_shape[0] <= x_shape[1] and w_shape[2] * w_shape[3] > 1
            and x_shape[2] * x_shape[3] >= 400)  # below, the padding columns and extra calls cost more


def conv_tap_products(x, w, b, pads, kernel, dilations, out_shape):
    """2-D stride-1 convolution as one product per kernel row, no columns.

    The padded input is stored with its rows flattened, so the input a kernel tap
    reads for a block of output rows is one 2-D slice (rows of the wide padded width).
    The product of the taps of kernel row ``kh`` (stacked: KW * M x C) with that slice
    gives every tap's contribution at once; each is added into the output, shifted
    by its column offset, the padding columns dropped.
    """
    N, C = x.shape[:2]
    M = w.shape[0]
    KH, KW = kernel
    dh, dw = dilations
    Ho, Wo = out_shape
    y = np.empty((N, M, Ho, Wo), dtype=x.dtype)
    if N == 0 or Ho * Wo == 0:
        return y
    needs = ((Ho - 1) + (KH - 1) * dh + 1, (Wo - 1) + (KW - 1) * dw + 1)
    plan = phase_plan((1,) + x.shape[1:], tuple(pads[:2]), needs, (1, 1), False)
    Hp, Wp = plan.shape[-2:]
    wrows = derived_weights(w, "tap-rows", _stack_tap_rows)  # (KH, KW * M, C)
    bias = None if b is None else b.reshape(M, 1, 1)
    # rows per block: the products of one kernel row, KW * M wide rows each, stay in cache
    rows = max(1, min(Ho, _BLOCK_BYTES // max(1, KW * M * Wp * x.dtype.itemsize)))
    span = (KW - 1) * dw  # a product also covers the columns the last tap shifts in
    store = np.empty(KW * M * (rows * Wp + span), dtype=x.dtype)  # one product, reused
    for n in range(N):
        flat = phase_buffer(x[n:n + 1], plan).reshape(C, Hp * Wp)  # this sample, padded, rows flattened
        for r0 in range(0, Ho, rows):
            r1 = min(Ho, r0 + rows)
            yb = y[n, :, r0:r1]
            width = (r1 - r0) * Wp
            for kh in range(KH):
                start = (r0 + kh * dh) * Wp
                stop = min(Hp * Wp, start + width + span)
                prod = store[:KW * M * (stop - start)].reshape(KW * M, stop - start)
                matmul(wrows[kh], flat[:, start:stop], prod)
                for kw in range(KW):
                    part = prod[kw * M:(kw + 1) * M, kw * dw: kw * dw + width]
                    part = _rows_of(part, M, r1 - r0, Wp, Wo)
                    if kh == 0 and kw == 0:
                        if bias is None:
                            np.copyto(yb, part)
                        else:
                            np.add(part, bias, out=yb)
                    else:
                        yb += part
    return y


def _stack_tap_rows(w: np.ndarray) -> np.ndarray:
    M, C, KH, KW = w.shape
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(KH, KW * M, C)


def _rows_of(part: np.ndarray, M: int, R: int, Wp: int, Wo: int) -> np.ndarray:
    """(M, R * Wp - ...) wide product columns -> (M, R, Wo) view of the output pixels."""
    st = part.strides
    return np.lib.stride_tricks.as_strided(part, shape=(M, R, Wo), strides=(st[0], Wp * st[1], st[1]),
                                           writeable=False)
