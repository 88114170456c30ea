"""Dead code: nodes whose outputs nobody reads, and initializers nobody reads."""

from __future__ import annotations

from ..ir.graph import Graph
from .base import GraphPass
from .edit import sweep, unlink
from .walk import has_subgraphs


def _detach_subgraphs(graph: Graph) -> None:
    """Drop the reads of every node inside ``graph`` (its outer-scope reads would otherwise stay counted)."""
    for n in graph.nodes:
        if has_subgraphs(n):
            for sub in n.subgraphs():
                _detach_subgraphs(sub)
        n.detach_inputs()


class DeadCodeElimination(GraphPass):
    name = "dead_code"

    def run(self, graph: Graph, ctx) -> int:
        removed = 0
        # consumers come after producers: one backward sweep finds whole dead chains, because a
        # dead node's reads are dropped before its producers are looked at
        for node in reversed(graph.nodes):
            if any(v.uses or ctx.is_pinned(v) for v in node.outputs):
                continue
            if has_subgraphs(node):
                for sub in node.subgraphs():
                    _detach_subgraphs(sub)
            unlink(node)
            removed += 1
        sweep(graph)
        for name, v in list(graph.initializers.items()):
            if not v.uses and not ctx.is_pinned(v):
                del graph.initializers[name]
                removed += 1
        return removed
