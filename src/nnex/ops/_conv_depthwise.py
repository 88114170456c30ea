"""Depthwise convolution (one input channel per group), computed channels-last.

A depthwise conv has no reduction over channels, so there is nothing for a matrix
product to do: it is a weighted sum of kernel taps.  Stored channels-last, one output
row of every channel is a single contiguous run (``Wo * C`` values), and so is the
input run each tap reads once the last axis is split into stride phases.  One
``einsum`` per phase then sums the taps over those runs, the weights tiled along the
row: NumPy's contiguous sum-of-products loop, no temporary per tap.  The result stays
channels-last (an NCHW array with NHWC memory, see _conv_layout).
"""

from __future__ import annotations

import functools
import math
import string
from typing import NamedTuple

import numpy as np

from .. import _jit
from ._conv_layout import (
    channels_last_view,
    contiguous_strides,
    derived_weights,
    empty_channels_last,
    phase_buffer,
    phase_plan,
    tap_groups,
    view_of,
)
from ._conv_parallel import clamp, parts_for, run_blocks


class _Group(NamedTuple):
    taps: tuple  # kernel slices of the taps summed by this einsum
    offset: int  # buffer element of the first tap, first sample, first output
    shape: tuple  # (*tap counts, N, *out_outer, run)
    strides: tuple  # element strides of that view


class _DepthwisePlan(NamedTuple):
    phases: object
    groups: tuple
    spec: str


@functools.lru_cache(maxsize=512)
def _depthwise_plan(in_shape, kernel, pads, strides, dilations, out_shape) -> _DepthwisePlan:
    nsp = len(kernel)
    N, M = in_shape[:2]
    needs = tuple((out_shape[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(nsp))
    # only the last axis is split into phases: the outer axes' strides are view strides
    split = (1,) * (nsp - 1) + (strides[-1],)
    phases = phase_plan(in_shape, tuple(pads[:nsp]), needs, split, True)
    bstr = contiguous_strides(phases.shape)  # (N, *split, *Q, M)
    s_str, q_str = bstr[1:1 + nsp], bstr[1 + nsp:1 + 2 * nsp]
    run = out_shape[-1] * M
    groups = []
    for g in tap_groups(tuple(kernel), tuple(dilations), split):
        offset = sum(p * s for p, s in zip(g.phase, s_str)) + sum(a * q for a, q in zip(g.starts, q_str))
        shape = g.counts + (N,) + tuple(out_shape[:-1]) + (run,)
        st = (tuple(k * q for k, q in zip(g.steps, q_str)) + (bstr[0],)
              + tuple(q_str[i] * strides[i] for i in range(nsp - 1)) + (1,))
        groups.append(_Group(g.taps, offset, shape, st))
    letters = iter(string.ascii_letters)
    k = "".join(next(letters) for _ in range(nsp))
    o = "".join(next(letters) for _ in range(nsp - 1))
    n, r = next(letters), next(letters)
    return _DepthwisePlan(phases, tuple(groups), f"{k}{n}{o}{r},{k}{r}->{n}{o}{r}")


def conv_depthwise(x, w, b, pads, kernel, strides, dilations, out_shape, group, activation=None):
    """Grouped convolution with one input channel per group (``group == C``).

    ``activation`` (``None`` or ``(lo, hi)``, see ``clamp``) clamps the result block by
    block, while the block is in cache (a Conv followed by Clip or Relu, see ``conv_nd``).
    With threads enabled (_conv_parallel), a large output is split into blocks of rows
    computed side by side, each from its own padded copy of the input rows it reads: a
    block is the same convolution of a slice of the input, with its own padding.
    """
    N, C = x.shape[:2]
    M = w.shape[0]
    if M != C:
        # channel multiplier: output channel c * (M / C) + m reads input channel c
        x = np.repeat(x, M // C, axis=1)
    y = empty_channels_last((N, M) + tuple(out_shape), x.dtype)
    if N == 0 or math.prod(out_shape) == 0:
        return y
    kernel, pads, strides, dilations = tuple(kernel), tuple(pads), tuple(strides), tuple(dilations)
    nsp = len(out_shape)
    if nsp <= 2 and min(pads) >= 0 and x.dtype in _JIT_DTYPES:
        jit = _jit.kernels("nnex.ops._numba_depthwise")
        if jit is not None:
            _compiled(jit, x, w, b, pads, kernel, strides, dilations, y, activation)
            return y
    o_last = out_shape[-1]
    rows = channels_last_view(y).reshape((N,) + tuple(out_shape[:-1]) + (o_last * M,))
    plan = _depthwise_plan(x.shape, kernel, pads, strides, dilations, tuple(out_shape))
    wrows = derived_weights(w, ("depthwise", kernel, strides, dilations, o_last),
                            lambda w: _weight_rows(w.reshape((M,) + kernel), plan.groups, o_last))
    brow = None if b is None else derived_weights(b, ("depthwise-bias", o_last), lambda b: np.tile(b, o_last))
    parts = 1 if nsp == 1 or min(pads) < 0 else parts_for(y.size * math.prod(kernel) // N, out_shape[0])
    if parts == 1:
        _depthwise_block(x, plan, wrows, brow, activation, rows)
        return y
    bounds = [out_shape[0] * i // parts for i in range(parts + 1)]
    blocks = []
    for n in range(N):
        for r0, r1 in zip(bounds[:-1], bounds[1:]):
            # the input rows this block reads, and the padding rows around them
            first = r0 * strides[0] - pads[0]
            stop = (r1 - 1) * strides[0] + (kernel[0] - 1) * dilations[0] + 1 - pads[0]
            i0, i1 = max(0, first), min(x.shape[2], stop)
            if i1 <= i0:  # only padding: the whole image in one block
                _depthwise_block(x, plan, wrows, brow, activation, rows)
                return y
            xb = x[n:n + 1, :, i0:i1]
            bpads = (i0 - first,) + pads[1:nsp] + (stop - i1,) + pads[nsp + 1:]
            bplan = _depthwise_plan(xb.shape, kernel, bpads, strides, dilations,
                                    (r1 - r0,) + tuple(out_shape[1:]))
            blocks.append((xb, bplan, wrows, brow, activation, rows[n:n + 1, r0:r1]))
    run_blocks(_depthwise_block, blocks)
    return y


_JIT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _compiled(jit, x, w, b, pads, kernel, strides, dilations, y, activation) -> None:
    """The compiled kernel (_numba_depthwise) into ``y``; a 1-D convolution as a 2-D one of height 1."""
    M = w.shape[0]
    if len(kernel) == 1:
        x, y = x[:, :, None], y[:, :, None]
        kernel, strides, dilations = (1,) + kernel, (1,) + strides, (1,) + dilations
        pads = (0, pads[0], 0, pads[1])
    xl = np.ascontiguousarray(channels_last_view(x))
    wk = derived_weights(w, ("depthwise-hwc", kernel),
                         lambda w: np.ascontiguousarray(w.reshape((M,) + kernel).transpose(1, 2, 0)))
    bias = b if b is not None else derived_weights(w, ("depthwise-zero-bias",), lambda w: np.zeros(M, w.dtype))
    lo, hi = (None, None) if activation is None else activation
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    yl = channels_last_view(y)
    jit.depthwise2d(xl, wk, np.ascontiguousarray(bias), pads[0], pads[1], strides[0], strides[1],
                    dilations[0], dilations[1], x.dtype.type(lo), x.dtype.type(hi), yl)


def _depthwise_block(x, plan, wrows, brow, activation, out) -> None:
    """The depthwise convolution ``plan`` of ``x`` into ``out`` (its output rows, channels-last)."""
    buf = phase_buffer(x, plan.phases)
    for i, (g, wrow) in enumerate(zip(plan.groups, wrows)):
        view = view_of(buf, g.offset, g.shape, g.strides)
        if i == 0:
            np.einsum(plan.spec, view, wrow, out=out)
        else:
            out += np.einsum(plan.spec, view, wrow)
    if brow is not None:
        out += brow
    if activation is not None:
        clamp(out, activation)


def _weight_rows(wk: np.ndarray, groups, o_last: int) -> tuple:
    """Per tap group: the (M, *kernel) weights of its taps as (*taps, o_last * M), each
    tap's weights tiled along an output row."""
    out = []
    M = wk.shape[0]
    for g in groups:
        wsel = wk[(slice(None),) + g.taps]
        taps = wsel.shape[1:]
        tiled = np.empty((math.prod(taps), o_last, M), dtype=wk.dtype)
        tiled[...] = wsel.reshape(M, -1).T[:, None, :]
        out.append(tiled.reshape(taps + (o_last * M,)))
    return tuple(out)
