"""Graph edits the passes share, built on the IR's own edit methods (producer/uses stay consistent).

Fusions follow one rule: the fused node takes over the *last* node of the pattern, in its
place and with its output values (so names and types downstream do not change); the
pattern's inner nodes are left for dead-code elimination, which removes them once nothing
reads them. A rewrite that would have to rename a graph output is not made. Nodes taken out
are unlinked at once and dropped from the node list when the pass ends (``sweep``), so that
removing many nodes stays linear in the graph size.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..ir.builder import make_attribute
from ..ir.graph import Graph
from ..ir.node import Attribute, Node
from ..ir.tensor import Tensor
from ..ir.value import Value


def replace_node(graph: Graph, old: Node, op_type: str, inputs: Iterable[Value | None], *,
                 attributes: Iterable[Attribute] | dict = (), outputs: Iterable[Value] | None = None,
                 domain: str = "", name: str | None = None) -> Node:
    """A new node in ``old``'s place that writes ``old``'s output values (or ``outputs``, a subset)."""
    inputs = list(inputs)
    outs = list(old.outputs if outputs is None else outputs)
    if isinstance(attributes, dict):
        attributes = [make_attribute(k, v) for k, v in attributes.items()]
    index = graph.nodes.index(old)
    unlink(old)
    new = Node(op_type, inputs, outs, domain=domain, name=old.name if name is None else name,
               attributes=list(attributes))
    graph.insert(index, new)
    return new


def retarget_output(graph: Graph, node: Node, old: Value, new: Value) -> Node:
    """``node`` rebuilt so that it writes ``new`` where it wrote ``old`` (same place, inputs, attributes)."""
    outs = [new if o is old else o for o in node.outputs]
    index = graph.nodes.index(node)
    inputs = list(node.inputs)
    attrs = list(node.attributes.values())
    unlink(node)
    rebuilt = Node(node.op_type, inputs, outs, domain=node.domain, name=node.name, attributes=attrs,
                   overload=node.overload, doc_string=node.doc_string)
    rebuilt.metadata_props = node.metadata_props
    rebuilt.extra = node.extra
    graph.insert(index, rebuilt)
    return rebuilt


def unlink(node: Node) -> None:
    """Take ``node`` out of the graph's dataflow now; ``sweep`` drops it from the node list later.

    ``Graph.remove`` searches the node list once per node, which turns quadratic when a pass removes
    a large share of a big graph (folding thousands of constants). Unlinking does what
    ``Graph.remove`` does except the list search; the pass then sweeps the list once.
    """
    node.detach_inputs()
    for v in node.outputs:
        if v.producer is node:
            v.producer = None
    node.graph = None


def sweep(graph: Graph) -> None:
    """Drop unlinked nodes from ``graph``'s node list in one pass (Graph has no bulk removal method)."""
    if any(n.graph is not graph for n in graph._nodes):
        graph._nodes[:] = [n for n in graph._nodes if n.graph is graph]


def remove_if_unused(graph: Graph, node: Node, ctx) -> bool:
    if node.graph is not graph:
        return False
    for v in node.outputs:
        if v.uses or ctx.is_pinned(v):
            return False
    unlink(node)
    return True


def can_bypass(graph: Graph, out: Value, src: Value, ctx) -> bool:
    """Whether readers of ``out`` can read ``src`` instead (see ``bypass``)."""
    if not ctx.is_pinned(out):
        return True
    p = src.producer
    return (p is not None and p.graph is graph and not ctx.is_pinned(src)
            and all(o is not out for o in p.outputs))


def bypass(graph: Graph, node: Node, out: Value, src: Value, ctx) -> None:
    """Make everything that reads ``out`` (``node``'s output, holding the same data as ``src``) read ``src``.

    When ``out`` is a graph output its name must stay: then ``src``'s producer is rebuilt to
    write ``out`` directly and ``src``'s readers move to ``out``. Check ``can_bypass`` first.
    """
    if not ctx.is_pinned(out):
        graph.replace_all_uses(out, src)
        remove_if_unused(graph, node, ctx)
        return
    unlink(node)
    retarget_output(graph, src.producer, src, out)
    graph.replace_all_uses(src, out)


def frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only: a Constant node hands the same array to every run, which must not change it."""
    array = np.asarray(array)
    array.flags.writeable = False
    return array


def add_constant(graph: Graph, array: np.ndarray, hint: str, ctx, *, reuse: bool = False) -> Value:
    """A new initializer holding ``array`` (a Constant node where the IR version has no free initializers).

    With ``reuse``, ``hint`` is the name of a value this constant replaces, and is kept as is.
    """
    name = hint if reuse and hint and hint not in graph.initializers else ctx.new_name(hint)
    array = np.asarray(array)
    if ctx.ir_version < 4:
        # before IR 4 every initializer must also be an input of its graph, which would change the
        # graph's signature: a Constant node at the top of the graph is equivalent
        v = Value(name)
        node = Node("Constant", [], [v], name=ctx.new_name(name + "_const"),
                    attributes=[make_attribute("value", Tensor(frozen(array), name))])
        graph.insert(0, node)
        return v
    return graph.add_initializer(Tensor(array, name), name)
