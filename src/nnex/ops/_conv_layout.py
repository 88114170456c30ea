"""Memory layouts shared by the convolution and pooling kernels.

Activations are NCHW arrays, but their memory may be ordered channels-last (NHWC):
the depthwise kernel computes in that order, and a pointwise convolution or a pool
fed such an array keeps it, so a MobileNet-like chain never transposes.  NumPy's
elementwise ops follow any memory order, so the layout is invisible to other kernels.

The windowed kernels read a padded copy of their input split into stride phases
(``phase_buffer``): padded position ``q * s + r`` of an axis lands at phase ``r``,
index ``q``.  A strided window then reads every kernel tap as a unit-stride run of
one phase, which NumPy copies and multiplies at memory speed.  The geometry of that
copy depends only on shapes, so it is worked out once per shape (``lru_cache``):
at run time a kernel only allocates and copies.
"""

from __future__ import annotations

import functools
import itertools
import math
import weakref
from typing import NamedTuple

import numpy as np


def is_channels_last(x: np.ndarray) -> bool:
    """True when ``x`` (N, C, *spatial) is stored as a C-contiguous (N, *spatial, C) array."""
    if x.ndim < 3 or x.shape[1] == 1 or x.flags.c_contiguous:
        return False
    return x.transpose(_to_last(x.ndim)).flags.c_contiguous


@functools.lru_cache(maxsize=16)
def _to_last(ndim: int) -> tuple[int, ...]:
    """Axis order that moves the channel axis (1) last."""
    return (0,) + tuple(range(2, ndim)) + (1,)


def channels_last_view(y: np.ndarray) -> np.ndarray:
    """The (N, *spatial, C) view of an (N, C, *spatial) array."""
    return y.transpose(_to_last(y.ndim))


def empty_channels_last(shape, dtype) -> np.ndarray:
    """An uninitialised (N, C, *spatial) array stored channels-last that owns its memory.

    ``np.empty(...).transpose(...)`` would be a view, and the runtime reuses only
    arrays that own their memory for in-place activations.
    """
    dtype = np.dtype(dtype)
    return np.ndarray(shape, dtype=dtype, strides=_cl_strides(tuple(shape), dtype.itemsize))


@functools.lru_cache(maxsize=512)
def _cl_strides(shape, itemsize: int) -> tuple[int, ...]:
    """Byte strides that store an (N, C, *spatial) array as (N, *spatial, C)."""
    c, spatial = shape[1], shape[2:]
    elems = (c * math.prod(spatial), 1) + tuple(c * math.prod(spatial[i + 1:]) for i in range(len(spatial)))
    return tuple(e * itemsize for e in elems)


def view_of(buf: np.ndarray, offset: int, shape, strides) -> np.ndarray:
    """A strided view of a phase buffer (of the flat array under it, see ``phase_buffer``);
    ``offset`` and ``strides`` in elements.  Much cheaper than ``as_strided``."""
    if buf.base is not None:
        buf = buf.base
    size = buf.itemsize
    return np.ndarray(shape, dtype=buf.dtype, buffer=buf, offset=offset * size,
                      strides=tuple(s * size for s in strides))


def contiguous_strides(shape) -> tuple[int, ...]:
    """Element strides of a C-contiguous array of ``shape``."""
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= n
    return tuple(reversed(out))


class PhasePlan(NamedTuple):
    shape: tuple  # the buffer: (N, C, *S, *Q) or, channels-last, (N, *S, *Q, C)
    channels_last: bool
    fills: tuple  # buffer indices that hold padding
    copies: tuple  # (buffer index, source index) pairs; the source is channels-last when the buffer is


@functools.lru_cache(maxsize=512)
def phase_plan(in_shape, begins, needs, strides, channels_last: bool) -> PhasePlan:
    """How to build the padded, phase-split buffer of an (N, C, *spatial) input.

    ``begins[i]`` is the padding before axis ``i`` (negative crops), ``needs[i]`` the
    padded extent the windows read; ``Q[i] = ceil(needs[i] / strides[i])``.
    """
    n = len(begins)
    N, C = in_shape[:2]
    sp = in_shape[2:]
    qs = tuple(-(-needs[i] // strides[i]) for i in range(n))
    lead = 1 if channels_last else 2
    shape = (N,) + tuple(strides) + qs + (C,) if channels_last else (N, C) + tuple(strides) + qs
    head = (slice(None),) * lead
    fills, copies = [], []
    for phase in itertools.product(*(range(s) for s in strides)):
        dst, src = [], []
        for i in range(n):
            s, r, b = strides[i], phase[i], begins[i]
            # index q holds input position q * s + r - b
            q0 = max(0, -(-(b - r) // s))
            q1 = min(qs[i], -(-(sp[i] + b - r) // s))
            if q1 <= q0:
                dst = None
                break
            first = q0 * s + r - b
            dst.append(slice(q0, q1))
            src.append(slice(first, first + (q1 - q0 - 1) * s + 1, s))
        region = head + phase
        if dst is None:
            fills.append(region)
            continue
        for i, sl in enumerate(dst):
            before = (slice(None),) * i
            if sl.start > 0:
                fills.append(region + before + (slice(0, sl.start),))
            if sl.stop < qs[i]:
                fills.append(region + before + (slice(sl.stop, None),))
        copies.append((region + tuple(dst), head + tuple(src)))
    return PhasePlan(shape, channels_last, tuple(fills), tuple(copies))


def phase_buffer(x: np.ndarray, plan: PhasePlan, value=0, slack: int = 0) -> np.ndarray:
    """The buffer ``plan`` describes, filled from ``x`` (any memory order) and ``value``.

    It is a view of a flat array (its ``base``) with ``slack`` more elements at the end,
    so that a view of whole rows may run a little past the last row.
    """
    size = math.prod(plan.shape)
    buf = np.empty(size + slack, dtype=x.dtype)[:size].reshape(plan.shape)
    src = channels_last_view(x) if plan.channels_last else x
    for idx in plan.fills:
        buf[idx] = value
    for dst, s in plan.copies:
        buf[dst] = src[s]
    return buf


class TapGroup(NamedTuple):
    """Kernel taps that read the same phase: a regular grid of taps along every axis."""

    phase: tuple  # phase index per split axis
    taps: tuple  # per axis: slice of kernel positions
    counts: tuple  # per axis: number of taps
    starts: tuple  # per axis: first phase index read
    steps: tuple  # per axis: phase-index step between consecutive taps


@functools.lru_cache(maxsize=512)
def tap_groups(kernel, dilations, split) -> tuple[TapGroup, ...]:
    """Group kernel taps by the phase they read.  ``split[i]`` is the number of phases of
    axis ``i``: its stride, or 1 where the stride is left to the view."""
    per_axis = []
    for k, d, sp in zip(kernel, dilations, split):
        options = []
        for r in range(sp):
            # taps t with t * d = r (mod sp): evenly spaced
            ts = [t for t in range(k) if t * d % sp == r]
            if not ts:
                continue
            step = ts[1] - ts[0] if len(ts) > 1 else 1
            options.append((r, slice(ts[0], ts[-1] + 1, step), len(ts), ts[0] * d // sp, step * d // sp))
        per_axis.append(options)
    return tuple(
        TapGroup(*(tuple(c[f] for c in combo) for f in range(5))) for combo in itertools.product(*per_axis)
    )


# derived weights (reordered, tiled) of read-only weights: the runtime's constants are
# the same read-only array on every run, so their derived forms are worked out once
_DERIVED: dict = {}


def derived_weights(w: np.ndarray, key, make):
    """``make(w)``, cached per (``w``, ``key``) while ``w`` lives, when ``w`` is read-only
    (a read-only array is taken not to change; a writeable one is never cached)."""
    if w.flags.writeable:
        return make(w)
    ident = (id(w), key)
    entry = _DERIVED.get(ident)
    if entry is not None and entry[0]() is w:
        return entry[1]
    value = make(w)
    _DERIVED[ident] = (weakref.ref(w, lambda _r, ident=ident, table=_DERIVED: table.pop(ident, None)), value)
    return value
