"""Graph: nodes in order, inputs, outputs, initializers; edits keep producer/uses consistent."""

from __future__ import annotations

import heapq
from typing import Iterator

from .node import Node
from .tensor import Tensor
from .value import Value


class Graph:
    def __init__(self, name: str = "", *, doc_string: str = ""):
        self.name = name
        self.doc_string = doc_string
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.initializers: dict[str, Value] = {}
        self.value_info: list[Value] = []
        self.sparse_initializers: list = []  # SparseTensorProto, kept verbatim
        self.quantization_annotation: list = []  # TensorAnnotation, kept verbatim
        self.metadata_props: dict[str, str] = {}
        self._nodes: list[Node] = []
        self.present: frozenset = frozenset()  # proto fields present with default values (lossless saving)

    # nodes --------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self._nodes))

    def __len__(self) -> int:
        return len(self._nodes)

    def append(self, node: Node) -> Node:
        node.graph = self
        self._nodes.append(node)
        return node

    def insert(self, index: int, node: Node) -> Node:
        node.graph = self
        self._nodes.insert(index, node)
        return node

    def remove(self, node: Node, *, safe: bool = True) -> None:
        """Remove ``node``; with ``safe``, refuse while one of its outputs is still used."""
        if safe:
            for v in node.outputs:
                if v._uses or v in self.outputs:
                    raise ValueError(f"cannot remove {node!r}: its output {v.name!r} is still used")
        node.detach_inputs()
        for v in node.outputs:
            v.producer = None
        self._nodes.remove(node)
        node.graph = None

    def remove_nodes(self, nodes, *, safe: bool = True) -> None:
        """Remove many nodes at once (one pass over the node list, not one per node)."""
        doomed = {id(n) for n in nodes}
        if safe:
            for n in nodes:
                for v in n.outputs:
                    if v in self.outputs or any(id(u) not in doomed for u, _ in v._uses):
                        raise ValueError(f"cannot remove {n!r}: its output {v.name!r} is still used")
        for n in nodes:
            n.detach_inputs()
            for v in n.outputs:
                v.producer = None
            n.graph = None
        self._nodes = [n for n in self._nodes if id(n) not in doomed]

    # values -------------------------------------------------------------------
    def add_initializer(self, tensor: Tensor, name: str | None = None) -> Value:
        name = name or tensor.name
        tensor.name = name
        v = Value(name, const=tensor)
        self.initializers[name] = v
        return v

    def replace_all_uses(self, old: Value, new: Value) -> None:
        """Make every reader of ``old`` (subgraphs too) and the graph outputs read ``new``."""
        for node, i in list(old._uses):
            node.set_input(i, new)
        self.outputs = [new if o is old else o for o in self.outputs]

    def topological_sort(self) -> None:
        """Order nodes so that each follows the producers of its inputs (stable)."""
        order: list[Node] = []
        done: set[int] = set()
        producers = {id(n) for n in self._nodes}
        pending = list(self._nodes)
        # Kahn's algorithm; reads from inside a node's subgraphs count as the node's reads
        deps: dict[int, set[int]] = {}
        users: dict[int, list[Node]] = {}
        for n in pending:
            s = set()
            for v in _reads(n):
                p = v.producer
                if p is not None and id(p) in producers and p is not n:
                    s.add(id(p))
                    users.setdefault(id(p), []).append(n)
            deps[id(n)] = s
        ready = [n for n in pending if not deps[id(n)]]
        idx = {id(n): i for i, n in enumerate(pending)}
        heap = [(idx[id(n)], id(n), n) for n in ready]
        heapq.heapify(heap)
        while heap:
            _, _, n = heapq.heappop(heap)
            if id(n) in done:
                continue
            done.add(id(n))
            order.append(n)
            for u in users.get(id(n), ()):
                deps[id(u)].discard(id(n))
                if not deps[id(u)] and id(u) not in done:
                    heapq.heappush(heap, (idx[id(u)], id(u), u))
        if len(order) != len(pending):
            raise ValueError(f"graph {self.name!r} has a cycle")
        self._nodes = order

    def all_nodes(self) -> Iterator[Node]:
        """Every node, depth first into If/Loop/Scan subgraphs."""
        for n in self._nodes:
            yield n
            for g in n.subgraphs():
                yield from g.all_nodes()


def _reads(node: Node):
    for v in node.inputs:
        if v is not None:
            yield v
    for g in node.subgraphs():
        for sub in g.all_nodes():
            for v in sub.inputs:
                if v is not None:
                    yield v

