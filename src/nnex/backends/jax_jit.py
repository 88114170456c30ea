"""One ``jax.jit`` per node: a kernel compiled once per (attributes, host inputs, shapes).

Run eagerly, a kernel is a string of small JAX operations, each dispatched (and compiled,
for every new shape) on its own. Compiled whole, a node is one dispatch and one
compilation. Host inputs (shapes, axes) and attributes are compile-time constants, so
the key of a compiled kernel is their value.

A key is compiled at its second call: the first runs eagerly. Some kernels cannot be
traced: they look at values (a loop count, a data-dependent shape), return host values or
``NotImplemented``. Their first traced call raises; the key is then remembered as eager
and the kernel runs as written from then on.
"""

from __future__ import annotations

import numpy as np

_HOST = (np.ndarray, np.generic)
_SCALARS = (int, float, str, bytes, bool, type(None))
_EAGER = False  # cache marker: this key runs eagerly
_SEEN = True  # cache marker: called once (eagerly); the next call compiles


def _frozen(v):
    """A hashable stand-in for an attribute or host input value; None when there is none."""
    if isinstance(v, _SCALARS):
        return v
    if isinstance(v, (list, tuple)):
        items = tuple(_frozen(x) for x in v)
        return None if any(x is None and y is not None for x, y in zip(items, v)) else items
    if isinstance(v, _HOST):
        a = np.asarray(v)
        if a.dtype == object or a.size > 4096:
            return None
        return ("nd", a.dtype.str, a.shape, a.tobytes())
    return None  # callables (subgraphs), anything else: not a constant


def jit_kernel(jax, fn, host_positions: frozenset):
    """``fn(xp, *inputs, **attrs)`` compiled per key, eager where it cannot be traced."""
    cache: dict = {}

    def jitted_kernel(xp, *inputs, **attrs):
        parts = []
        for k, v in attrs.items():
            f = _frozen(v)
            if f is None and v is not None:
                return fn(xp, *inputs, **attrs)
            parts.append((k, f))
        for i, x in enumerate(inputs):
            if i in host_positions:
                f = _frozen(x)
                if f is None and x is not None:
                    return fn(xp, *inputs, **attrs)
                parts.append(f)
            elif isinstance(x, _HOST):
                return fn(xp, *inputs, **attrs)  # (the runtime places host values before)
            else:
                parts.append(x is None)
        key = tuple(parts)
        entry = cache.get(key)
        if entry is None:
            # the first call runs eagerly: a session run once (a test, a one-off conversion)
            # pays JAX's per-primitive compilations, shared by every session, and not a
            # compilation of its own per node
            cache[key] = _SEEN
            return fn(xp, *inputs, **attrs)
        if entry is _EAGER:
            return fn(xp, *inputs, **attrs)
        if entry is _SEEN:
            entry = cache[key] = _compile(jax, fn, xp, inputs, attrs, host_positions)
        compiled, dynamic = entry
        try:
            return compiled(*[inputs[i] for i in dynamic])
        except Exception:  # noqa: BLE001  (not traceable: run as written from now on)
            cache[key] = _EAGER
            return fn(xp, *inputs, **attrs)

    jitted_kernel.__name__ = getattr(fn, "__name__", "kernel")
    return jitted_kernel


def _compile(jax, fn, xp, inputs, attrs, host_positions):
    static = {i: inputs[i] for i in host_positions if i < len(inputs)}
    dynamic = [i for i in range(len(inputs)) if i not in static]
    n = len(inputs)

    def traced(*values):
        full = [None] * n
        for i, v in static.items():
            full[i] = v
        for i, v in zip(dynamic, values):
            full[i] = v
        out = fn(xp, *full, **attrs)
        if out is NotImplemented:
            raise TypeError("kernel asked for the host")
        return out

    return jax.jit(traced), dynamic
