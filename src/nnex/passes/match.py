"""Small helpers for recognising patterns (fusions read better with them)."""

from __future__ import annotations

import numpy as np

from ..ir.node import Node
from ..ir.value import Value


def only_reader(v: Value | None, ctx) -> Node | None:
    """The one node that reads ``v``, when exactly one does (and ``v`` is not a graph output)."""
    if v is None or ctx.is_pinned(v):
        return None
    uses = v.uses
    if len(uses) != 1:
        return None
    return uses[0][0]


def readers(v: Value) -> list[Node]:
    return [n for n, _ in v.uses]


def produced_by(v: Value | None, op_types, graph, ctx) -> Node | None:
    """``v``'s producer when it is a standard op of one of ``op_types`` in ``graph``."""
    if v is None:
        return None
    p = v.producer
    if p is None or p.graph is not graph or not ctx.is_standard(p):
        return None
    if isinstance(op_types, str):
        op_types = (op_types,)
    return p if p.op_type in op_types else None


def fed_by(node: Node, op_types, graph, ctx, accept=None):
    """``(producer, value)`` for the first input of ``node`` made by a standard op of ``op_types``
    that ``node`` alone reads (and that ``accept(producer)``, when given, takes); else
    ``(None, None)``."""
    for v in node.inputs:
        p = produced_by(v, op_types, graph, ctx)
        if p is not None and only_reader(v, ctx) is node and (accept is None or accept(p)):
            return p, v
    return None, None


def other_input(node: Node, v: Value) -> Value | None:
    """For a two-input node, the input that is not ``v`` (None when ``v`` is both or neither)."""
    a, b = node.inputs[0], node.inputs[1]
    if a is v and b is not v:
        return b
    if b is v and a is not v:
        return a
    return None


def const_close(v: Value | None, target: float, ctx, rtol: float = 1e-5) -> bool:
    """Whether ``v`` is a constant whose every element is ``target`` (to ``rtol``)."""
    c = ctx.const(v)
    if c is None or c.size == 0 or c.dtype.kind not in "fiu":
        return False
    return bool(np.allclose(c.astype(np.float64), target, rtol=rtol, atol=0))


