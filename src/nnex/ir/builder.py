"""GraphBuilder: author models in code (converters and tests use it).

    b = GraphBuilder(opset=21)
    x = b.input("x", np.float32, ["N", 4])
    w = b.const(np.ones((3, 4), np.float32), "w")
    y = b.op.Gemm(x, w, transB=1)
    z = b.op.Relu(y)
    b.output(z, "z")
    model = b.build()            # nnex.ir.Model; b.to_proto() for an onnx.ModelProto

``b.op.<OpType>(*inputs, _outputs=k, _domain=..., _name=..., **attributes)``; inputs
may be Values, None (a missing optional input) or arrays/numbers (made constants).
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx

from .graph import Graph
from .model import Model
from .node import Attribute, Node
from .tensor import Tensor, onnx_dtype_of
from .types import tensor_type
from .value import Value

A = onnx.AttributeProto


def make_attribute(name: str, value) -> Attribute:
    """An Attribute whose type is inferred from the Python value."""
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool):
        return Attribute(name, A.INT, int(value))
    if isinstance(value, (int, np.integer)):
        return Attribute(name, A.INT, int(value))
    if isinstance(value, (float, np.floating)):
        return Attribute(name, A.FLOAT, float(value))
    if isinstance(value, (str, bytes)):
        return Attribute(name, A.STRING, value.decode() if isinstance(value, bytes) else value)
    if isinstance(value, Tensor):
        return Attribute(name, A.TENSOR, value)
    if isinstance(value, np.ndarray):
        return Attribute(name, A.TENSOR, Tensor(value, name))
    if isinstance(value, Graph):
        return Attribute(name, A.GRAPH, value)
    if isinstance(value, onnx.TypeProto):
        return Attribute(name, A.TYPE_PROTO, value)
    if isinstance(value, (list, tuple)):
        vals = list(value)
        if not vals:
            raise ValueError(f"attribute {name!r}: cannot infer the type of an empty list; pass an Attribute")
        if all(isinstance(v, (bool, int, np.integer)) for v in vals):
            return Attribute(name, A.INTS, [int(v) for v in vals])
        if all(isinstance(v, (int, float, np.integer, np.floating)) for v in vals):
            return Attribute(name, A.FLOATS, [float(v) for v in vals])
        if all(isinstance(v, str) for v in vals):
            return Attribute(name, A.STRINGS, vals)
        if all(isinstance(v, (Tensor, np.ndarray)) for v in vals):
            return Attribute(name, A.TENSORS, [v if isinstance(v, Tensor) else Tensor(v) for v in vals])
        if all(isinstance(v, Graph) for v in vals):
            return Attribute(name, A.GRAPHS, vals)
    raise TypeError(f"attribute {name!r}: unsupported value of type {type(value).__name__}")


class _OpNamespace:
    def __init__(self, builder: "GraphBuilder", domain: str = ""):
        self._b = builder
        self._domain = domain

    def __call__(self, domain: str) -> "_OpNamespace":
        return _OpNamespace(self._b, domain)

    def __getattr__(self, op_type: str):
        if op_type.startswith("__"):
            raise AttributeError(op_type)

        def make(*inputs, _outputs: int = 1, _domain: str | None = None, _name: str = "", **attrs):
            return self._b.add_node(op_type, inputs, attrs, n_outputs=_outputs,
                                    domain=self._domain if _domain is None else _domain, name=_name)

        return make


class GraphBuilder:
    def __init__(self, opset: int | dict[str, int] = 21, name: str = "main", *, graph: Graph | None = None,
                 prefix: str = ""):
        self.graph = graph or Graph(name)
        self.opsets = {"": opset} if isinstance(opset, int) else dict(opset)
        self.op = _OpNamespace(self)
        self.prefix = prefix
        self._ids = itertools.count()

    def subgraph(self, name: str) -> "GraphBuilder":
        """A builder for an If/Loop/Scan body: shares this builder's opsets and name counter, so that
        names stay unique across the model, and may read this graph's values (outer scope)."""
        sub = GraphBuilder(self.opsets, name, prefix=self.prefix)
        sub.opsets = self.opsets
        sub._ids = self._ids
        return sub

    def _fresh(self, hint: str) -> str:
        return f"{self.prefix}{hint}_{next(self._ids)}"

    def input(self, name: str, dtype, shape=None) -> Value:
        elem = dtype if isinstance(dtype, int) else onnx_dtype_of(np.dtype(dtype))
        v = Value(name, tensor_type(elem, shape))
        self.graph.inputs.append(v)
        return v

    def const(self, array, name: str | None = None) -> Value:
        arr = np.asarray(array)
        return self.graph.add_initializer(Tensor(arr), name or self._fresh("const"))

    def _as_value(self, x) -> Value | None:
        if x is None or isinstance(x, Value):
            return x
        return self.const(x)

    def add_node(self, op_type: str, inputs, attrs: dict, *, n_outputs: int = 1, domain: str = "",
                 name: str = ""):
        if domain and domain not in self.opsets:
            self.opsets[domain] = 1
        inputs = list(inputs)
        while inputs and inputs[-1] is None:
            inputs.pop()  # a trailing missing input is simply absent (some runtimes mishandle "")
        outs = [Value(self._fresh(op_type.lower())) for _ in range(n_outputs)]
        node = Node(op_type, [self._as_value(x) for x in inputs], outs, domain=domain,
                    name=name or self._fresh(op_type),
                    attributes=[make_attribute(k, v) for k, v in attrs.items() if v is not None])
        self.graph.append(node)
        return outs[0] if n_outputs == 1 else tuple(outs)

    def output(self, value: Value, name: str | None = None, dtype=None, shape=None, *,
               type_proto: onnx.TypeProto | None = None) -> Value:
        """Declare ``value`` a graph output (renamed to ``name``); ``dtype``/``shape`` or a full
        ``type_proto`` (sequences, maps: ``onnx.helper.make_sequence_type_proto(...)``) give its type."""
        if name and value.name != name:
            if value.producer is None and value.const is None and value not in self.graph.inputs:
                value.name = name
            elif value.producer is not None and not any(value is o for o in self.graph.outputs):
                value.name = name
            else:
                value = self.op.Identity(value)
                value.name = name
        if type_proto is not None:
            value.type = type_proto
        elif dtype is not None:
            elem = dtype if isinstance(dtype, int) else onnx_dtype_of(np.dtype(dtype))
            value.type = tensor_type(elem, shape)
        self.graph.outputs.append(value)
        return value

    def build(self, *, ir_version: int = 10, producer_name: str = "nnex", infer_types: bool = True) -> Model:
        model = Model(self.graph, opset_imports=self.opsets, ir_version=ir_version, producer_name=producer_name)
        if infer_types:
            _fill_output_types(model)
        return model

    def to_proto(self, **kw) -> onnx.ModelProto:
        from .serde import model_to_proto

        return model_to_proto(self.build(**kw))


def _fill_output_types(model: Model) -> None:
    """Give graph outputs without a type the one ONNX shape inference finds."""
    missing = [v for v in model.graph.outputs if v.type is None]
    if not missing:
        return
    from .serde import model_to_proto

    try:
        inferred = onnx.shape_inference.infer_shapes(model_to_proto(model))
    except Exception:  # noqa: BLE001  (inference is a convenience here)
        return
    types = {vi.name: vi.type for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for v in missing:
        if v.name in types and types[v.name].WhichOneof("value"):
            t = onnx.TypeProto()
            t.CopyFrom(types[v.name])
            v.type = t
