"""Control flow: If, Loop, Scan. Subgraph attributes arrive as callables ``body(*inputs) -> list``."""

from __future__ import annotations

import math

import numpy as np

from .registry import op


def _as_bool(xp, c) -> bool:
    """The first element of a condition (host or device array) as a Python bool; empty -> False."""
    if isinstance(c, (np.ndarray, np.generic, bool)):
        return bool(np.asarray(c).reshape(-1)[0]) if np.asarray(c).size else False
    return bool(xp.reshape(c, (-1,))[0]) if math.prod(c.shape) else False


def _as_int(xp, v) -> int | None:
    """The first element of a host or device array as a Python int; None when empty."""
    if isinstance(v, (np.ndarray, np.generic, int)):
        a = np.asarray(v).reshape(-1)
        return int(a[0]) if a.size else None
    return int(xp.reshape(v, (-1,))[0]) if math.prod(v.shape) else None


@op("If", (1, 11, 13, 16, 19, 21, 23, 24, 25))
def if_(xp, cond, *, then_branch, else_branch):
    branch = then_branch if _as_bool(xp, cond) else else_branch
    return tuple(branch())


def _stack(xp, items: list, dtype, axis: int = 0):
    if not items:
        return np.zeros((0,), dtype=dtype or np.float32)
    if isinstance(items[0], list):  # a sequence-valued scan output
        return items
    if all(isinstance(x, (np.ndarray, np.generic)) for x in items):
        return np.stack(items, axis=axis)  # host values stay on the host
    return xp.stack([xp.asarray(x) for x in items], axis=axis)


@op("Loop", (1, 11, 13, 16, 19, 21, 23, 24, 25))
def loop(xp, M=None, cond=None, *v_initial, body, _n_outputs, _output_dtypes):
    max_trip = None if M is None else _as_int(xp, M)
    keep_going = True if cond is None or math.prod(cond.shape) == 0 else _as_bool(xp, cond)
    n_state = len(v_initial)
    state = list(v_initial)
    n_scan = _n_outputs - n_state
    scans: list[list] = [[] for _ in range(n_scan)]
    i = 0
    while keep_going and (max_trip is None or i < max_trip):
        outs = body(np.array(i, dtype=np.int64), np.array(keep_going), *state)
        keep_going = _as_bool(xp, outs[0])
        state = list(outs[1:1 + n_state])
        for k in range(n_scan):
            scans[k].append(outs[1 + n_state + k])
        i += 1
    scan_outs = [_stack(xp, s, _output_dtypes[n_state + k]) for k, s in enumerate(scans)]
    return tuple(state + scan_outs)


def _scan_core(xp, states, scans, body, n_out_total, in_axes, in_dirs, out_axes, out_dirs, dtypes):
    n_state = len(states)
    n_scan_out = n_out_total - n_state
    seq_len = scans[0].shape[in_axes[0]] if scans else 0
    collected: list[list] = [[] for _ in range(n_scan_out)]
    state = list(states)
    for t in range(seq_len):
        slices = []
        for x, ax, d in zip(scans, in_axes, in_dirs):
            idx = seq_len - 1 - t if d else t
            slices.append(x[(slice(None),) * ax + (idx,)])
        outs = body(*state, *slices)
        state = list(outs[:n_state])
        for k in range(n_scan_out):
            collected[k].append(outs[n_state + k])
    results = []
    for k, items in enumerate(collected):
        if out_dirs[k]:
            items = items[::-1]
        if not items:
            results.append(np.zeros((0,), dtype=dtypes[n_state + k] or np.float32))
            continue
        ax = out_axes[k]
        rank = np.ndim(items[0]) + 1
        results.append(_stack(xp, items, None, axis=ax + rank if ax < 0 else ax))
    return state + results


@op("Scan", (9, 11, 16, 19, 21, 23, 24, 25))
def scan(xp, *inputs, body, num_scan_inputs, scan_input_axes=None, scan_input_directions=None,
         scan_output_axes=None, scan_output_directions=None, _n_outputs, _output_dtypes):
    n_state = len(inputs) - num_scan_inputs
    states, scans = inputs[:n_state], inputs[n_state:]
    in_axes = [a + np.ndim(x) if a < 0 else a for a, x in
               zip(scan_input_axes or [0] * num_scan_inputs, scans)]
    in_dirs = scan_input_directions or [0] * num_scan_inputs
    n_scan_out = _n_outputs - n_state
    out_axes = scan_output_axes or [0] * n_scan_out
    out_dirs = scan_output_directions or [0] * n_scan_out
    return tuple(_scan_core(xp, states, scans, body, _n_outputs, in_axes, in_dirs, out_axes, out_dirs,
                            _output_dtypes))


@op("Scan", 8)
def scan8(xp, sequence_lens, *inputs, body, num_scan_inputs, directions=None, _n_outputs, _output_dtypes):
    """Scan-8: a leading batch axis on every input; sequence_lens per batch entry."""
    n_state = len(inputs) - num_scan_inputs
    batch = inputs[0].shape[0]
    dirs = directions or [0] * num_scan_inputs
    per_batch = []
    for b in range(batch):
        states = [x[b] for x in inputs[:n_state]]
        scans = [x[b] for x in inputs[n_state:]]
        if sequence_lens is not None and math.prod(sequence_lens.shape):
            n = int(sequence_lens[b])
            scans = [s[:n] for s in scans]
        n_scan_out = _n_outputs - n_state
        per_batch.append(_scan_core(xp, states, scans, body, _n_outputs, [0] * num_scan_inputs, dirs,
                                    [0] * n_scan_out, [0] * n_scan_out, _output_dtypes))
    return tuple(_stack(xp, [r[k] for r in per_batch], None) for k in range(_n_outputs))
