"""The lowering table: TensorFlow op type -> function that emits ONNX.

A lowering is ``fn(ctx, op, *inputs)``: ``op`` is the ``tf.Operation`` (its attributes through
``op.get_attr``, its outputs' dtypes and static shapes through ``op.outputs``), ``inputs`` are
what its inputs lowered to (``Value``, or ``TensorList`` for variant tensors). It returns one
Value for a single-output op, or a list with one entry per output (None where it is never read).
"""

from __future__ import annotations

from collections.abc import Callable

LOWERINGS: dict[str, Callable] = {}
# ops whose outputs are their inputs (TensorFlow bookkeeping, gradient and debugging markers)
PASS_THROUGH = frozenset({"Identity", "IdentityN", "StopGradient", "PreventGradient", "Snapshot", "EnsureShape",
                          "CheckNumerics", "CheckNumericsV2", "DebugIdentity", "DebugIdentityV2", "Print",
                          "PrintV2"})
# ops with no data outputs that matter to inference
IGNORED = frozenset({"NoOp", "Assert"})


def lowers(*op_types: str):
    def deco(fn):
        for t in op_types:
            LOWERINGS[t] = fn
        return fn

    return deco


def find(op_type: str) -> Callable | None:
    _load()
    return LOWERINGS.get(op_type)


def lowered_ops() -> list[str]:
    """TensorFlow op types the converter lowers."""
    _load()
    return sorted(set(LOWERINGS) | PASS_THROUGH)


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import ops  # noqa: F401  (importing the families fills the table)
