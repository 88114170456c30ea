"""What a pass is: a rewrite of one graph that reports how many changes it made."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..ir.graph import Graph
from ..ir.node import Node
from .edit import sweep

log = logging.getLogger("nnex.passes")


class GraphPass:
    """A rewrite of one graph (the manager runs it on the main graph and on every subgraph)."""

    name = "pass"

    def run(self, graph: Graph, ctx) -> int:
        """Rewrite ``graph`` in place; return the number of changes (0 when there was nothing to do)."""
        raise NotImplementedError


class NodePass(GraphPass):
    """A pass that looks at each node once.

    ``match`` inspects a node and returns a function that makes the rewrite, or None. An
    exception inside ``match`` leaves that node alone (the rewrite never started). The
    returned function must only edit: it is not caught here, and an exception from it makes
    the whole optimization fall back to the unoptimized model.
    """

    op_types: frozenset | None = None  # standard ops this pass starts from (None: every node)

    def match(self, node: Node, graph: Graph, ctx) -> Callable[[], object] | None:
        raise NotImplementedError

    def run(self, graph: Graph, ctx) -> int:
        count = 0
        ops = self.op_types
        for node in graph:  # a snapshot: rewrites may add and remove nodes
            if node.graph is not graph:
                continue
            if ops is not None and (node.op_type not in ops or not ctx.is_standard(node)):
                continue
            try:
                apply = self.match(node, graph, ctx)
            except Exception as e:  # noqa: BLE001  (an unexpected node shape: leave it as it is)
                log.debug("%s: node %r left alone: %s: %s", self.name, node.name, type(e).__name__, e)
                continue
            if apply is None:
                continue
            apply()
            count += 1
        if count:
            sweep(graph)  # rewrites unlink the nodes they replace; the node list is compacted once
        return count
