"""A structural copy of a model, so that passes never touch the caller's objects.

Graphs, nodes, values and attributes are new objects; tensors and type protos are shared,
because no pass changes them in place (a pass that needs a different constant makes a new
Tensor). Sharing tensors keeps the copy cheap for large models and leaves external data on
disk. Model-local functions are shared too: passes do not rewrite function bodies.
"""

from __future__ import annotations

from ..ir.graph import Graph
from ..ir.model import Model
from ..ir.node import Attribute, Node
from ..ir.value import Value


class _ValueMap:
    """Old Value -> new Value, with the enclosing graphs' maps as the outer scope."""

    def __init__(self, parent: _ValueMap | None = None):
        self.parent = parent
        self.map: dict[int, Value] = {}

    def get(self, v: Value) -> Value | None:
        m = self
        while m is not None:
            nv = m.map.get(id(v))
            if nv is not None:
                return nv
            m = m.parent
        return None

    def resolve(self, v: Value) -> Value:
        nv = self.get(v)
        if nv is None:
            # read but defined nowhere we copied (a sparse initializer, an undefined name): one copy,
            # kept at the outermost map so every scope shares it
            root = self
            while root.parent is not None:
                root = root.parent
            nv = root.map[id(v)] = _copy_value(v)
        return nv


def _copy_value(v: Value) -> Value:
    nv = Value(v.name, v.type, const=v.const, doc_string=v.doc_string)
    nv.metadata_props = dict(v.metadata_props)
    nv.present = v.present
    return nv


def _copy_attribute(a: Attribute, scope: _ValueMap) -> Attribute:
    value = a.value
    if isinstance(value, Graph):
        value = clone_graph(value, scope)
    elif isinstance(value, list):
        value = [clone_graph(g, scope) if isinstance(g, Graph) else g for g in value]
    na = Attribute(a.name, a.type, value, ref_attr_name=a.ref_attr_name, doc_string=a.doc_string)
    na.present = a.present
    return na


def clone_graph(g: Graph, outer: _ValueMap | None = None) -> Graph:
    scope = _ValueMap(outer)
    ng = Graph(g.name, doc_string=g.doc_string)
    for name, v in g.initializers.items():
        nv = scope.map[id(v)] = _copy_value(v)
        ng.initializers[name] = nv
    for v in g.inputs:
        nv = scope.map.get(id(v))
        if nv is None:
            nv = scope.map[id(v)] = _copy_value(v)
        ng.inputs.append(nv)
    # outputs first (a node may read a value produced later in a graph that is not sorted)
    for n in g.nodes:
        for v in n.outputs:
            scope.map[id(v)] = _copy_value(v)
    for n in g.nodes:
        nn = Node(n.op_type, [None if v is None else scope.resolve(v) for v in n.inputs],
                  [scope.map[id(v)] for v in n.outputs], domain=n.domain, name=n.name,
                  attributes=[_copy_attribute(a, scope) for a in n.attributes.values()],
                  overload=n.overload, doc_string=n.doc_string)
        nn.metadata_props = dict(n.metadata_props)
        nn.extra = list(n.extra)
        nn.present = n.present
        ng.append(nn)
    ng.outputs = [scope.resolve(v) for v in g.outputs]
    ng.value_info = [scope.resolve(v) for v in g.value_info]
    ng.sparse_initializers = list(g.sparse_initializers)
    ng.quantization_annotation = list(g.quantization_annotation)
    ng.metadata_props = dict(g.metadata_props)
    ng.present = g.present
    return ng


def clone_model(m: Model) -> Model:
    nm = Model(clone_graph(m.graph), opset_imports=dict(m.opset_imports), ir_version=m.ir_version,
               producer_name=m.producer_name, producer_version=m.producer_version, domain=m.domain,
               model_version=m.model_version, doc_string=m.doc_string)
    nm.metadata_props = dict(m.metadata_props)
    nm.present = m.present
    nm.functions = dict(m.functions)
    nm.extra = list(m.extra)
    nm.base_dir = m.base_dir
    return nm
