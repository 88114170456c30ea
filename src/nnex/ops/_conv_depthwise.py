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

from ._conv_layout import (channels_last_view, contiguous_strides, derived_weights, empty_channels_last,
                           phase_buffer, phase_plan, tap_groups, view_of)


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


def conv_depthwise(x, w, b, pads, kernel, strides, dilations, out_shape, group):
    """Grouped convolution with one input channel per group (``group == C``)."""
    N, C = x.shape[:2]
    M = w.shape[0]
    if M != C:
        # channel multiplier: output channel c * (M / C) + m reads input channel c
        x = np.repeat(x, M // C, axis=1)
    y = empty_channels_last((N, M) + tuple(out_shape), x.dtype)
    if N == 0 or math.prod(out_shape) == 0:
        return y
    plan = _depthwise_plan(x.shape, tuple(kernel), tuple(pads), tuple(strides), tuple(dilations),
                           tuple(out_shape))
    buf = phase_buffer(x, plan.phases)
    o_last = out_shape[-1]
    rows = channels_last_view(y).reshape((N,) + tuple(out_shape[:-1]) + (o_last * M,))
    wrows = derived_weights(w, ("depthwise", tuple(kernel), tuple(strides), tuple(dilations), o_last),
                            lambda w: _weight_rows(w.reshape((M,) + tuple(kernel)), plan.groups, o_last))
    for i, (g, wrow) in enumerate(zip(plan.groups, wrows)):
        view = view_of(buf, g.offset, g.shape, g.strides)
        if i == 0:
            np.einsum(plan.spec, view, wrow, out=rows)
        else:
            rows += np.einsum(plan.spec, view, wrow)
    if b is not None:
        yc = channels_last_view(y)
        yc += b
    return y


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
