"""A plan's steps as one generated Python function: no interpreter loop between kernels.

``execute`` walking ``plan.steps`` pays, per node, a tuple unpack, a list of arguments,
length and type tests and a loop over the values to drop: about 0.7 us, which is as much
as a small node's kernel (a classic-ML graph of 34 nodes on one row spends a fifth of its
time there). The function made here does the same work written out step by step: each
kernel a local name, its input slots and output slots literal indices into ``env``, the
values that die at a step set to None right after it (so that runtime/inplace.py still
sees a dying value's last reference go), and the index of the running step kept for
error messages.

Only integers from the plan go into the generated source: no name, no attribute and no
string of the model reaches it.
"""

from __future__ import annotations

from collections.abc import Callable

# plans with more steps than this run through the loop: their kernels dominate, and the
# source of a huge graph would take long to compile
MAX_STEPS = 4000


def compile_steps(steps) -> Callable | None:
    """``run(env)`` doing ``steps`` in order (None for a plan too long to be worth it).
    An exception leaves ``run`` as it was raised, with the index of the failing step recorded
    on it (``mark_step``, read back by ``failed_step``)."""
    if len(steps) > MAX_STEPS:
        return None
    lines = ["def run(env):", "    i = 0", "    try:"]
    kernels = {}
    for i, (call, ins, outs, frees, needs_env) in enumerate(steps):
        k = f"k{i}"
        kernels[k] = call
        args = ", ".join(["env"] * bool(needs_env) + [f"env[{int(s)}]" for s in ins])
        lines.append(f"        i = {i}")
        first = None if needs_env else getattr(call, "nnex_first", None)
        if first is None:
            lines.append(f"        r = {k}({args})")
        else:
            # a kernel that may decline (NotImplemented), with ``call`` the node's full kernel
            kernels[f"f{i}"] = first
            lines.append(f"        r = f{i}({args})")
            lines.append("        if r is NotImplemented:")
            lines.append(f"            r = {k}({args})")
        if len(outs) == 1:
            lines.append(f"        env[{int(outs[0])}] = r[0] if type(r) is tuple else r")
        elif outs:
            # as execute's zip: a kernel may return more values than the node has outputs
            lines.append(f"        r = tuple(r)[:{len(outs)}]")
            targets = ", ".join(f"env[{int(s)}]" for s in outs)
            lines.append(f"        ({targets},) = r + (None,) * ({len(outs)} - len(r))")
        lines.append("        r = None")
        for s in frees:
            lines.append(f"        env[{int(s)}] = None")
    lines += ["    except Exception as e:", "        mark_step(e, i)", "        raise"]
    namespace = {"mark_step": mark_step, "NotImplemented": NotImplemented, **kernels}
    exec(compile("\n".join(lines), "<nnex plan>", "exec"), namespace)  # noqa: S102 - integers only
    return namespace["run"]


def mark_step(error: BaseException, index: int) -> None:
    """Record on ``error`` the index of the step that raised it (where it takes attributes)."""
    try:
        error.nnex_step = index
    except AttributeError:
        pass


def failed_step(error: BaseException) -> int:
    """The index of the step that raised ``error`` in a compiled plan (-1: not known)."""
    return getattr(error, "nnex_step", -1)
