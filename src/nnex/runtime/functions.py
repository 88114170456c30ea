"""Generic expansion of function ops: model-local functions and ops the spec defines by a body."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import onnx

from ..ir.model import Function
from ..ir.node import Attribute
from ..ir.serde import function_from_proto
from ..ir.value import Value


@dataclass
class PlanNode:
    """A node as the planner sees it: a graph node, or one inlined from a function body."""

    op_type: str
    domain: str
    inputs: list
    outputs: list
    attributes: dict
    opsets: dict
    name: str
    source: object = None  # the IR node it came from (for error messages and output types)
    scope: list = field(default_factory=list)  # names of the function calls it was inlined from


_ids = itertools.count()


def _schema_function(op_type: str, domain: str, opset: int, node: PlanNode, input_types) -> Function | None:
    """The spec's function body for this op at this opset, if it has one."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:  # noqa: BLE001  (no such op)
        return None
    fp = None
    if schema.has_function:
        try:
            fp = schema.get_function_with_opset_version(opset)
        except Exception:  # noqa: BLE001
            fp = None
        if fp is None:
            fp = schema.function_body
    elif schema.has_context_dependent_function and input_types is not None:
        np_ = _node_proto(node)
        try:
            raw = schema.get_context_dependent_function_with_opset_version(
                opset, np_.SerializeToString(), [t.SerializeToString() for t in input_types])
        except Exception:  # noqa: BLE001
            return None
        fp = onnx.FunctionProto()
        fp.ParseFromString(raw)
    if fp is None or isinstance(fp, bytes):
        if isinstance(fp, bytes):
            p = onnx.FunctionProto()
            p.ParseFromString(fp)
            fp = p
        else:
            return None
    if not fp.node:
        return None
    f = function_from_proto(fp)
    if not f.opset_imports:
        f.opset_imports = {domain: opset}
    return f


def _node_proto(node: PlanNode) -> onnx.NodeProto:
    from ..ir.serde import _Namer, attribute_to_proto

    p = onnx.NodeProto()
    p.op_type = node.op_type
    p.domain = node.domain
    p.input.extend(v.name if v is not None else "" for v in node.inputs)
    p.output.extend(v.name if v is not None else "" for v in node.outputs)
    namer = _Namer()
    p.attribute.extend(attribute_to_proto(a, namer) for a in node.attributes.values())
    return p


def find_function(node: PlanNode, model_functions: dict, input_types=None) -> Function | None:
    f = model_functions.get((node.domain, node.op_type, ""))
    if f is not None:
        return f
    opset = node.opsets.get(node.domain)
    if opset is None:
        return None
    return _schema_function(node.op_type, node.domain, opset, node, input_types)


def _resolve_attr(a: Attribute, caller: dict, defaults: dict) -> Attribute | None:
    if not a.ref_attr_name:
        return a
    src = caller.get(a.ref_attr_name) or defaults.get(a.ref_attr_name)
    if src is None:
        return None
    return Attribute(a.name, src.type, src.value)


def inline(node: PlanNode, f: Function) -> list[PlanNode]:
    """The function body's nodes, wired to the caller's inputs and outputs."""
    mapping: dict[int, Value | None] = {}
    for formal, actual in zip(f.body.inputs, node.inputs):
        mapping[id(formal)] = actual
    for formal in f.body.inputs[len(node.inputs):]:
        mapping[id(formal)] = None
    for formal, actual in zip(f.body.outputs, node.outputs):
        mapping[id(formal)] = actual
    prefix = node.name or f.name
    opsets = dict(node.opsets)
    opsets.update(f.opset_imports)
    out = []
    for inner in f.body.nodes:
        ins = []
        for v in inner.inputs:
            if v is None:
                ins.append(None)
            else:
                ins.append(mapping.get(id(v), v))
        outs = []
        for v in inner.outputs:
            if id(v) not in mapping:
                mapping[id(v)] = Value(f"{prefix}/{v.name}#{next(_ids)}") if v.name else None
            outs.append(mapping[id(v)])
        attrs = {}
        for k, a in inner.attributes.items():
            r = _resolve_attr(a, node.attributes, f.attribute_defaults)
            if r is not None:
                attrs[k] = r
        out.append(PlanNode(inner.op_type, inner.domain, ins, outs, attrs, opsets,
                            f"{prefix}/{inner.name or inner.op_type}", node.source, node.scope + [node.name]))
    return out
