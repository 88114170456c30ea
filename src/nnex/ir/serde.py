"""Conversion between the IR and onnx protos, lossless for every field ONNX defines."""

from __future__ import annotations

import onnx

from .graph import Graph
from .model import Function, Model
from .node import Attribute, Node
from .tensor import Tensor
from .value import Value

A = onnx.AttributeProto


class _Scope:
    """Name -> Value for one graph, falling back to the enclosing graphs (outer-scope reads)."""

    def __init__(self, parent: "_Scope | None" = None):
        self.parent = parent
        self.names: dict[str, Value] = {}

    def get(self, name: str) -> Value | None:
        s = self
        while s is not None:
            v = s.names.get(name)
            if v is not None:
                return v
            s = s.parent
        return None

    def resolve(self, name: str) -> Value:
        v = self.get(name)
        if v is None:
            # a name nobody defines: keep it (the checker reports it) at the outermost scope
            root = self
            while root.parent is not None:
                root = root.parent
            v = root.names[name] = Value(name)
        return v


def _present(proto, fields) -> frozenset:
    """Fields set explicitly to their default value (proto2 keeps that presence)."""
    out = set()
    for f in fields:
        try:
            if proto.HasField(f) and not getattr(proto, f):
                out.add(f)
        except ValueError:
            pass
    return frozenset(out)


def _restore_present(proto, obj) -> None:
    for f in obj.present:
        if not f.startswith("opset-"):
            setattr(proto, f, getattr(proto, f))  # assigning the default marks the field present


_NODE_FIELDS = ("name", "op_type", "domain", "overload", "doc_string")
_GRAPH_FIELDS = ("name", "doc_string")
_MODEL_FIELDS = ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string")
_VI_FIELDS = ("name", "doc_string")
_ATTR_FIELDS = ("name", "ref_attr_name", "doc_string", "type", "f", "i", "s")
_FUNC_FIELDS = ("name", "domain", "overload", "doc_string")


def _opsets_from(entries) -> tuple[dict[str, int], frozenset]:
    absent = frozenset(f"opset-no-domain:{o.domain}" for o in entries if not o.HasField("domain"))
    return {o.domain: o.version for o in entries}, absent


def _opsets_to(target, opsets: dict[str, int], present: frozenset) -> None:
    for d, ver in opsets.items():
        if f"opset-no-domain:{d}" in present:
            target.add(version=ver)
        else:
            target.add(domain=d, version=ver)


def _props(entries) -> dict[str, str]:
    return {e.key: e.value for e in entries}


def _set_props(target, props: dict[str, str]) -> None:
    for k, v in props.items():
        e = target.add()
        e.key = k
        e.value = v


# ----------------------------------------------------------------------------- from proto
def _copy_type(vi: onnx.ValueInfoProto) -> onnx.TypeProto | None:
    if not vi.HasField("type"):
        return None
    t = onnx.TypeProto()
    t.CopyFrom(vi.type)
    return t


_SINGULAR = {A.FLOAT: "f", A.INT: "i", A.STRING: "s", A.TENSOR: "t", A.GRAPH: "g", A.SPARSE_TENSOR: "sparse_tensor",
             A.TYPE_PROTO: "tp"}


def attribute_from_proto(a: onnx.AttributeProto, scope: _Scope | None, base_dir: str | None) -> Attribute:
    t = a.type
    if t == A.FLOAT:
        v = a.f
    elif t == A.INT:
        v = a.i
    elif t == A.STRING:
        v = a.s.decode("utf-8", "surrogateescape")
    elif t == A.TENSOR:
        v = Tensor.from_proto(a.t, base_dir)
    elif t == A.GRAPH:
        v = graph_from_proto(a.g, scope, base_dir)
    elif t == A.SPARSE_TENSOR:
        v = a.sparse_tensor
    elif t == A.TYPE_PROTO:
        v = a.tp
    elif t == A.FLOATS:
        v = list(a.floats)
    elif t == A.INTS:
        v = list(a.ints)
    elif t == A.STRINGS:
        v = [s.decode("utf-8", "surrogateescape") for s in a.strings]
    elif t == A.TENSORS:
        v = [Tensor.from_proto(x, base_dir) for x in a.tensors]
    elif t == A.GRAPHS:
        v = [graph_from_proto(g, scope, base_dir) for g in a.graphs]
    elif t == A.SPARSE_TENSORS:
        v = list(a.sparse_tensors)
    elif t == A.TYPE_PROTOS:
        v = list(a.type_protos)
    else:
        v = None
    if a.ref_attr_name and t in _SINGULAR and not a.HasField(_SINGULAR[t]):
        v = None  # a reference to the caller's attribute carries no value of its own
    attr = Attribute(a.name, t, v, ref_attr_name=a.ref_attr_name, doc_string=a.doc_string)
    attr.present = _present(a, _ATTR_FIELDS)
    return attr


def _nodes_from_protos(graph: Graph, protos, scope: _Scope, base_dir: str | None) -> None:
    made = []
    for np_ in protos:
        outs = []
        for name in np_.output:
            if not name:
                outs.append(Value(""))
                continue
            v = Value(name)
            scope.names[name] = v
            outs.append(v)
        node = Node(np_.op_type, (), outs, domain=np_.domain, name=np_.name, overload=np_.overload,
                    doc_string=np_.doc_string)
        node.metadata_props = _props(np_.metadata_props)
        node.present = _present(np_, _NODE_FIELDS)
        node.extra = list(np_.device_configurations) if hasattr(np_, "device_configurations") else []
        graph.append(node)
        made.append((node, np_))
    for node, np_ in made:
        for name in np_.input:
            node.append_input(scope.resolve(name) if name else None)
        for a in np_.attribute:
            node.attributes[a.name] = attribute_from_proto(a, scope, base_dir)


def _apply_value_info(v: Value, vi: onnx.ValueInfoProto) -> None:
    if v.type is None:
        v.type = _copy_type(vi)
    if vi.doc_string:
        v.doc_string = vi.doc_string
    if len(vi.metadata_props):
        v.metadata_props = _props(vi.metadata_props)
    v.present = _present(vi, _VI_FIELDS)


def graph_from_proto(gp: onnx.GraphProto, outer: _Scope | None = None, base_dir: str | None = None) -> Graph:
    scope = _Scope(outer)
    g = Graph(gp.name, doc_string=gp.doc_string)
    for init in gp.initializer:
        v = Value(init.name, const=Tensor.from_proto(init, base_dir))
        scope.names[init.name] = v
        g.initializers[init.name] = v
    sparse: dict[str, Value] = {}
    for sp in gp.sparse_initializer:
        # sparse initializers are read by name like any value; keep the proto for saving
        name = sp.values.name
        v = sparse[name] = Value(name, const=None)
        scope.names[name] = v
    g.sparse_initializers = list(gp.sparse_initializer)
    for vi in gp.input:
        # an input that is also an initializer (dense or sparse) is the same Value as that initializer
        v = g.initializers.get(vi.name) or sparse.get(vi.name)
        if v is None:
            v = Value(vi.name)
            scope.names[vi.name] = v
        _apply_value_info(v, vi)
        g.inputs.append(v)
    _nodes_from_protos(g, gp.node, scope, base_dir)
    for vi in gp.output:
        v = scope.resolve(vi.name)
        _apply_value_info(v, vi)
        g.outputs.append(v)
    for vi in gp.value_info:
        v = scope.resolve(vi.name)
        _apply_value_info(v, vi)
        g.value_info.append(v)
    g.quantization_annotation = list(gp.quantization_annotation)
    g.metadata_props = _props(gp.metadata_props)
    g.present = _present(gp, _GRAPH_FIELDS)
    return g


def function_from_proto(fp: onnx.FunctionProto, base_dir: str | None = None) -> Function:
    scope = _Scope()
    body = Graph(fp.name, doc_string="")
    for name in fp.input:
        v = Value(name)
        scope.names[name] = v
        body.inputs.append(v)
    _nodes_from_protos(body, fp.node, scope, base_dir)
    body.outputs = [scope.resolve(n) for n in fp.output]
    for vi in fp.value_info:
        v = scope.resolve(vi.name)
        _apply_value_info(v, vi)
        body.value_info.append(v)
    defaults = {a.name: attribute_from_proto(a, None, base_dir) for a in fp.attribute_proto}
    opsets, absent = _opsets_from(fp.opset_import)
    f = Function(fp.domain, fp.name, body, attributes=list(fp.attribute), attribute_defaults=defaults,
                 opset_imports=opsets, overload=fp.overload, doc_string=fp.doc_string)
    f.metadata_props = _props(fp.metadata_props)
    f.present = _present(fp, _FUNC_FIELDS) | absent
    return f


_MODEL_EXTRA_FIELDS = ("training_info", "configuration")


def model_from_proto(mp: onnx.ModelProto, base_dir: str | None = None) -> Model:
    opsets, absent = _opsets_from(mp.opset_import)
    m = Model(graph_from_proto(mp.graph, None, base_dir), opset_imports=opsets, ir_version=mp.ir_version,
              producer_name=mp.producer_name, producer_version=mp.producer_version, domain=mp.domain,
              model_version=mp.model_version, doc_string=mp.doc_string)
    m.metadata_props = _props(mp.metadata_props)
    for fp in mp.functions:
        f = function_from_proto(fp, base_dir)
        m.functions[f.key] = f
    for field in _MODEL_EXTRA_FIELDS:
        if hasattr(mp, field):
            for item in getattr(mp, field):
                m.extra.append((field, item))
    m.base_dir = base_dir
    m.present = _present(mp, _MODEL_FIELDS) | absent
    return m


# ----------------------------------------------------------------------------- to proto
class _Namer:
    """Gives unnamed values unique names when saving (builder-made graphs leave names empty)."""

    def __init__(self):
        self.used: set[str] = set()
        self.counter = 0

    def name(self, v: Value, hint: str = "v") -> str:
        if not v.name:
            while True:
                self.counter += 1
                cand = f"{hint}_{self.counter}"
                if cand not in self.used:
                    break
            v.name = cand
        self.used.add(v.name)
        return v.name


def attribute_to_proto(a: Attribute, namer: _Namer) -> onnx.AttributeProto:
    p = onnx.AttributeProto()
    p.name = a.name
    if a.type:
        p.type = a.type
    if a.ref_attr_name:
        p.ref_attr_name = a.ref_attr_name
    if a.doc_string:
        p.doc_string = a.doc_string
    v, t = a.value, a.type
    _restore_present(p, a)
    if a.ref_attr_name and v is None:
        return p
    if t == A.FLOAT:
        p.f = v
    elif t == A.INT:
        p.i = v
    elif t == A.STRING:
        p.s = v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v
    elif t == A.TENSOR:
        p.t.CopyFrom(v.to_proto())
    elif t == A.GRAPH:
        p.g.CopyFrom(graph_to_proto(v, namer))
    elif t == A.SPARSE_TENSOR:
        p.sparse_tensor.CopyFrom(v)
    elif t == A.TYPE_PROTO:
        p.tp.CopyFrom(v)
    elif t == A.FLOATS:
        p.floats.extend(v)
    elif t == A.INTS:
        p.ints.extend(v)
    elif t == A.STRINGS:
        p.strings.extend(s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s for s in v)
    elif t == A.TENSORS:
        p.tensors.extend(x.to_proto() for x in v)
    elif t == A.GRAPHS:
        p.graphs.extend(graph_to_proto(g, namer) for g in v)
    elif t == A.SPARSE_TENSORS:
        p.sparse_tensors.extend(v)
    elif t == A.TYPE_PROTOS:
        p.type_protos.extend(v)
    return p


def _value_info(v: Value) -> onnx.ValueInfoProto:
    vi = onnx.ValueInfoProto()
    vi.name = v.name
    if v.type is not None:
        vi.type.CopyFrom(v.type)
    if v.doc_string:
        vi.doc_string = v.doc_string
    _set_props(vi.metadata_props, v.metadata_props)
    _restore_present(vi, v)
    return vi


def _node_to_proto(n: Node, namer: _Namer) -> onnx.NodeProto:
    p = onnx.NodeProto()
    p.op_type = n.op_type
    if n.domain:
        p.domain = n.domain
    if n.name:
        p.name = n.name
    if n.overload:
        p.overload = n.overload
    if n.doc_string:
        p.doc_string = n.doc_string
    p.input.extend(namer.name(v) if v is not None else "" for v in n.inputs)
    p.output.extend(namer.name(v, n.op_type.lower()) if v.name or v.uses else "" for v in n.outputs)
    p.attribute.extend(attribute_to_proto(a, namer) for a in n.attributes.values())
    _set_props(p.metadata_props, n.metadata_props)
    if n.extra:
        p.device_configurations.extend(n.extra)
    _restore_present(p, n)
    return p


def graph_to_proto(g: Graph, namer: _Namer | None = None) -> onnx.GraphProto:
    namer = namer or _Namer()
    p = onnx.GraphProto()
    if g.name:
        p.name = g.name
    if g.doc_string:
        p.doc_string = g.doc_string
    for name, v in g.initializers.items():
        t = v.const.to_proto()
        if t.name != v.name:
            t2 = onnx.TensorProto()
            t2.CopyFrom(t)
            t2.name = v.name
            t = t2
        p.initializer.append(t)
        namer.used.add(v.name)
    p.sparse_initializer.extend(g.sparse_initializers)
    for v in g.inputs:
        namer.name(v, "input")
    p.node.extend(_node_to_proto(n, namer) for n in g._nodes)
    p.input.extend(_value_info(v) for v in g.inputs)
    p.output.extend(_value_info(v) for v in (namer.name(o, "output") and o for o in g.outputs))
    p.value_info.extend(_value_info(v) for v in g.value_info)
    p.quantization_annotation.extend(g.quantization_annotation)
    _set_props(p.metadata_props, g.metadata_props)
    _restore_present(p, g)
    return p


def function_to_proto(f: Function) -> onnx.FunctionProto:
    namer = _Namer()
    p = onnx.FunctionProto()
    if f.name:
        p.name = f.name
    if f.domain:
        p.domain = f.domain
    if f.overload:
        p.overload = f.overload
    if f.doc_string:
        p.doc_string = f.doc_string
    p.input.extend(namer.name(v, "input") for v in f.body.inputs)
    p.node.extend(_node_to_proto(n, namer) for n in f.body._nodes)
    p.output.extend(namer.name(v, "output") for v in f.body.outputs)
    p.attribute.extend(f.attributes)
    p.attribute_proto.extend(attribute_to_proto(a, namer) for a in f.attribute_defaults.values())
    _opsets_to(p.opset_import, f.opset_imports, f.present)
    p.value_info.extend(_value_info(v) for v in f.body.value_info)
    _set_props(p.metadata_props, f.metadata_props)
    _restore_present(p, f)
    return p


def model_to_proto(m: Model) -> onnx.ModelProto:
    p = onnx.ModelProto()
    if m.ir_version:
        p.ir_version = m.ir_version
    _opsets_to(p.opset_import, m.opset_imports, m.present)
    if m.producer_name:
        p.producer_name = m.producer_name
    if m.producer_version:
        p.producer_version = m.producer_version
    if m.domain:
        p.domain = m.domain
    if m.model_version:
        p.model_version = m.model_version
    if m.doc_string:
        p.doc_string = m.doc_string
    p.graph.CopyFrom(graph_to_proto(m.graph))
    _set_props(p.metadata_props, m.metadata_props)
    p.functions.extend(function_to_proto(f) for f in m.functions.values())
    for field, item in m.extra:
        getattr(p, field).append(item)
    _restore_present(p, m)
    return p
