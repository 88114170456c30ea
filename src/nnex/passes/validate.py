"""A last check that the rewritten model is still a well-formed graph, before anyone runs it."""

from __future__ import annotations

from ..ir.graph import Graph
from .walk import has_subgraphs


class BrokenGraphError(Exception):
    """A pass left the graph inconsistent (a bug in nnex.passes; the unoptimized model is used instead)."""


def _check(graph: Graph, outer: list[set[int]], ctx, where: str) -> None:
    here = {id(v) for v in graph.inputs} | {id(v) for v in graph.initializers.values()}
    scopes = outer + [here]

    def visible(v) -> bool:
        i = id(v)
        return i in ctx.free or any(i in s for s in scopes)

    names: set[str] = set()
    for node in graph.nodes:
        if node.graph is not graph:
            raise BrokenGraphError(f"{where}: node {node.name!r} does not know its graph")
        for v in node.inputs:
            if v is not None and not visible(v):
                raise BrokenGraphError(f"{where}: node {node.name!r} ({node.op_type}) reads {v.name!r} "
                                       "before anything produces it")
        for sub in (node.subgraphs() if has_subgraphs(node) else ()):
            _check(sub, scopes, ctx, f"{where}/{node.name or node.op_type}")
        for v in node.outputs:
            if v.producer is not node:
                raise BrokenGraphError(f"{where}: output {v.name!r} of node {node.name!r} names another producer")
            if v.name:
                if v.name in names:
                    raise BrokenGraphError(f"{where}: two nodes write {v.name!r}")
                names.add(v.name)
            here.add(id(v))
    for v in graph.outputs:
        if not visible(v):
            raise BrokenGraphError(f"{where}: graph output {v.name!r} is no longer produced")


def check_model(model, ctx) -> None:
    _check(model.graph, [], ctx, model.graph.name or "main graph")


def drop_stale_value_info(graph: Graph) -> None:
    """value_info entries for values that no longer exist (folded, fused away) are dropped."""
    def alive(v) -> bool:
        return v.producer is not None and v.producer.graph is not None or v.const is not None

    graph.value_info = [v for v in graph.value_info if alive(v)]
