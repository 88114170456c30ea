"""Results written into a dying input's buffer (NumPy backend).

An elementwise node whose input is read for the last time can put its result in that input's
memory instead of a new array: no allocation, and one stream of memory traffic less. The
planner picks such nodes (the input's slot is freed at the node, it is not a graph input, not
a constant, not read by a subgraph); at run time the buffer is taken only when the node is
its sole owner: a NumPy array that owns its data (``base is None``, so no view of another
array), is writeable, and is referenced by nothing but the executor (a view of it, a value
kept by the caller or by another slot all hold a reference). Otherwise the node allocates as
usual.
"""

from __future__ import annotations

import sys

import numpy as np

_refcount = sys.getrefcount
# smallest donor worth writing into (ufunc calls with out= cost ~0.7 us more)
_MIN_SIZE = 1024


def donating_call(fast, standard_call, slots: tuple, pos: int, attrs: dict):
    """A step ``call(env)`` that reads its inputs from ``env`` itself, so that it can drop the
    executor's reference to the donor before deciding whether it may overwrite it."""
    donor = slots[pos]
    # the fast kernel without ``out`` first, where the backend's call has one (numpy_backend.py):
    # a small node then costs one Python call less
    first = getattr(standard_call, "nnex_first", None)

    if len(slots) == 1:
        def call(env):
            a = env[donor]
            env[donor] = None
            # two references: ``a`` and getrefcount's argument; below _MIN_SIZE elements ``out=``
            # costs more than the allocation it saves
            if (type(a) is np.ndarray and a.size >= _MIN_SIZE and a.base is None and a.flags.writeable
                    and _refcount(a) == 2):
                r = fast(a, out=a, **attrs)
                if r is not NotImplemented:
                    return r
            elif first is not None:
                r = first(a)
                if r is not NotImplemented:
                    return r
            return standard_call(a)

        return call

    def call(env):
        args = [env[s] for s in slots]
        a = args[pos]
        env[donor] = None
        args[pos] = None
        if (type(a) is np.ndarray and a.size >= _MIN_SIZE and a.base is None and a.flags.writeable
                and _refcount(a) == 2):
            args[pos] = a
            r = fast(*args, out=a, **attrs)
            if r is not NotImplemented:
                return r
        else:
            args[pos] = a
            if first is not None:
                r = first(*args)
                if r is not NotImplemented:
                    return r
        return standard_call(*args)

    return call


def plan_donations(plan, inplace_steps: dict) -> None:
    """Rewrite the steps of ``plan`` listed in ``inplace_steps`` (step index -> (fast, donors, attrs))
    whose donor input dies there. Runs after the frees are planned."""
    protected = set(plan.input_slots) | set(plan.output_slots) | {s for s, _ in plan.consts}
    protected |= {s for s, _ in plan.outer}
    for i, (fast, donors, attrs) in inplace_steps.items():
        call, ins, outs, frees, needs_env = plan.steps[i]
        if needs_env or len(outs) != 1:
            continue
        for pos in donors:
            if pos >= len(ins):
                continue
            s = ins[pos]
            if s in frees and s not in protected and ins.count(s) == 1:
                plan.steps[i] = [donating_call(fast, call, tuple(ins), pos, attrs), (), outs, frees, True]
                break
