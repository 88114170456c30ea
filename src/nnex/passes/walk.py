"""Walking a graph and the If/Loop/Scan bodies inside it."""

from __future__ import annotations

import onnx

from ..ir.graph import Graph
from ..ir.node import Node

_GRAPH_ATTRS = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)


def has_subgraphs(node: Node) -> bool:
    return any(a.type in _GRAPH_ATTRS for a in node.attributes.values())


def walk_graphs(graph: Graph):
    """``graph`` and every If/Loop/Scan body inside it, outermost first."""
    yield graph
    for n in graph.nodes:
        if n.attributes and has_subgraphs(n):
            for sub in n.subgraphs():
                yield from walk_graphs(sub)
