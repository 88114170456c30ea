"""Run one node on constant NumPy inputs with nnex's own kernels (what constant folding computes with)."""

from __future__ import annotations

import array_api_compat.numpy as np_xp
import numpy as np
import onnx

from ..ir.node import Node
from ..ir.tensor import np_dtype_of
from ..ir.types import elem_type_of
from ..ops.registry import lookup

A = onnx.AttributeProto


class CannotEvaluate(Exception):
    """The node is not something constant folding computes (no kernel, a subgraph, a non-tensor result)."""


def _attr_value(a):
    t, v = a.type, a.value
    if t == A.TENSOR:
        return v.numpy()
    if t == A.TENSORS:
        return [x.numpy() for x in v]
    if t in (A.GRAPH, A.GRAPHS, A.SPARSE_TENSOR, A.SPARSE_TENSORS):
        raise CannotEvaluate(f"attribute {a.name!r} holds a graph or a sparse tensor")
    return v


def evaluate_node(node: Node, inputs: list, ctx) -> list[np.ndarray]:
    """The node's outputs computed from ``inputs`` (NumPy arrays, None for a missing optional input)."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    kernel = lookup(domain, node.op_type, ctx.opset(domain))
    if kernel is None:
        raise CannotEvaluate(f"no nnex kernel for {node.op_type} at opset {ctx.opset(domain)}")
    attrs = {}
    for k, a in node.attributes.items():
        if a.ref_attr_name:
            raise CannotEvaluate("attribute refers to a function's attribute")
        if k not in kernel.attributes and "**" not in kernel.attributes:
            continue
        attrs[k] = _attr_value(a)
    if "_n_outputs" in kernel.runtime_params:
        attrs["_n_outputs"] = len(node.outputs)
    if "_opset" in kernel.runtime_params:
        attrs["_opset"] = ctx.opset(domain)
    if "_output_dtypes" in kernel.runtime_params:
        attrs["_output_dtypes"] = [_dtype_or_none(ctx.type_of(v)) for v in node.outputs]
    args = list(inputs)
    while args and args[-1] is None:
        args.pop()
    result = kernel.fn(np_xp, *args, **attrs)
    if isinstance(result, tuple) or (isinstance(result, list) and len(node.outputs) > 1):
        results = list(result)
    else:
        results = [result]
    if len(results) < len(node.outputs):
        raise CannotEvaluate("the kernel returned fewer outputs than the node has")
    out = []
    for r, v in zip(results, node.outputs):
        if r is None:
            if v.uses:
                raise CannotEvaluate("an optional output that is read was not produced")
            out.append(None)
            continue
        if not isinstance(r, (np.ndarray, np.generic)):
            raise CannotEvaluate(f"output {v.name!r} is a {type(r).__name__}, not a tensor")
        out.append(np.array(r))  # a fresh, contiguous copy: never a view of an initializer or of an input
    return out


def _dtype_or_none(tp):
    et = elem_type_of(tp)
    return np_dtype_of(et) if et else None
