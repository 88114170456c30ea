"""Value types from ONNX shape inference, computed once before the passes run.

Passes rewrite a graph without changing what any surviving value holds, so the types
inferred up front stay true for the whole run. Large initializers are handed to shape
inference as typed graph inputs rather than as data: their values never matter for
inference, and this keeps the cost independent of the model's weight size (external data
stays on disk). Small integer initializers keep their data so that shapes computed from
constants propagate (``data_prop``).
"""

from __future__ import annotations

import logging

import onnx
from onnx import helper

from ..ir.graph import Graph
from ..ir.model import Model
from ..ir.serde import model_to_proto
from .walk import has_subgraphs

log = logging.getLogger("nnex.passes")

_KEEP_DATA_ELEMENTS = 1024  # integer initializers up to this size keep their values for data propagation
_KEEP_ANY_ELEMENTS = 16


def _keeps_data(t) -> bool:
    if t.size <= _KEEP_ANY_ELEMENTS:
        return True
    return t.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and t.size <= _KEEP_DATA_ELEMENTS


def _skeleton_proto(model: Model) -> onnx.ModelProto:
    """The model as a proto whose large initializers are typed inputs (the IR is left as it was)."""
    g = model.graph
    saved_inits, saved_inputs = g.initializers, g.inputs
    input_ids = {id(v) for v in g.inputs}
    moved = []
    kept = {}
    for name, v in saved_inits.items():
        if id(v) in input_ids or _keeps_data(v.const):
            kept[name] = v
        else:
            moved.append((v, v.type))
    try:
        g.initializers = kept
        g.inputs = list(saved_inputs)
        for v, _ in moved:
            v.type = helper.make_tensor_type_proto(v.const.data_type, list(v.const.dims))
            g.inputs.append(v)
        return model_to_proto(model)
    finally:
        g.initializers, g.inputs = saved_inits, saved_inputs
        for v, t in moved:
            v.type = t


def _collect(graph: Graph, gp: onnx.GraphProto, out: dict) -> None:
    types = {}
    for vi in list(gp.value_info) + list(gp.output):
        if vi.HasField("type"):
            types[vi.name] = vi.type
    for i, node in enumerate(graph.nodes):
        for v in node.outputs:
            t = types.get(v.name) if v.name else None
            if t is not None:
                out[id(v)] = (v, t)  # the Value is kept alive so that its id is never reused
        if node.attributes and has_subgraphs(node):
            by_name = {a.name: a for a in gp.node[i].attribute}
            for a in node.attributes.values():
                pa = by_name.get(a.name)
                if pa is None:
                    continue
                if isinstance(a.value, Graph):
                    _collect(a.value, pa.g, out)
                elif isinstance(a.value, list):
                    for sub, sp in zip((x for x in a.value if isinstance(x, Graph)), pa.graphs):
                        _collect(sub, sp, out)


def infer_types(model: Model) -> dict[int, tuple]:
    """id(Value) -> (Value, TypeProto) for node outputs that shape inference could type (may be empty)."""
    try:
        proto = _skeleton_proto(model)
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False, data_prop=True)
    except Exception as e:  # noqa: BLE001  (passes then only use the types the model declares)
        log.debug("shape inference failed, passes run without inferred types: %s", e)
        return {}
    out: dict[int, tuple] = {}
    _collect(model.graph, inferred.graph, out)
    return out
