"""Node and Attribute."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import onnx

from .value import Value

if TYPE_CHECKING:
    from .graph import Graph

AttrType = onnx.AttributeProto.AttributeType


class Attribute:
    """An attribute: ``value`` is int, float, str, Tensor, Graph, TypeProto, sparse tensor proto, or a list of those.

    ``ref_attr_name`` is set inside function bodies for attributes that refer to the
    calling node's attribute.
    """

    __slots__ = ("name", "type", "value", "ref_attr_name", "doc_string", "present")

    def __init__(self, name: str, type: int, value: Any = None, *, ref_attr_name: str = "", doc_string: str = ""):
        self.name = name
        self.type = type
        self.value = value
        self.ref_attr_name = ref_attr_name
        self.doc_string = doc_string
        self.present: frozenset = frozenset()

    def __repr__(self) -> str:
        if self.ref_attr_name:
            return f"Attribute({self.name}=@{self.ref_attr_name})"
        return f"Attribute({self.name}={self.value!r})"


class Node:
    """An operator application. Editing inputs/outputs keeps the values' producer/uses right."""

    __slots__ = ("op_type", "domain", "name", "overload", "_inputs", "_outputs", "attributes", "doc_string",
                 "metadata_props", "extra", "graph", "present", "__weakref__")

    def __init__(self, op_type: str, inputs: Iterable[Value | None] = (), outputs: Iterable[Value] | int = 1, *,
                 domain: str = "", name: str = "", attributes: Iterable[Attribute] = (), overload: str = "",
                 doc_string: str = ""):
        self.op_type = op_type
        self.domain = domain
        self.name = name
        self.overload = overload
        self.doc_string = doc_string
        self.metadata_props: dict[str, str] = {}
        self.extra: list = []  # NodeProto fields nnex does not model (device_configurations), kept verbatim
        self.graph: Graph | None = None
        self.present: frozenset = frozenset()  # proto fields present with default values (lossless saving)
        self.attributes: dict[str, Attribute] = {a.name: a for a in attributes}
        self._inputs: list[Value | None] = []
        self._outputs: list[Value] = []
        for v in inputs:
            self.append_input(v)
        if isinstance(outputs, int):
            outputs = [Value() for _ in range(outputs)]
        for v in outputs:
            self._add_output(v)

    # inputs -------------------------------------------------------------------
    @property
    def inputs(self) -> tuple[Value | None, ...]:
        return tuple(self._inputs)

    def append_input(self, value: Value | None) -> None:
        self._inputs.append(value)
        if value is not None:
            value._uses.append((self, len(self._inputs) - 1))

    def set_input(self, index: int, value: Value | None) -> None:
        old = self._inputs[index]
        if old is not None:
            old._uses.remove((self, index))
        self._inputs[index] = value
        if value is not None:
            value._uses.append((self, index))

    def detach_inputs(self) -> None:
        """Drop every input (before removing the node from its graph)."""
        for i, v in enumerate(self._inputs):
            if v is not None:
                v._uses.remove((self, i))
        self._inputs.clear()

    # outputs ------------------------------------------------------------------
    @property
    def outputs(self) -> tuple[Value, ...]:
        return tuple(self._outputs)

    def _add_output(self, value: Value) -> None:
        if value.producer is not None and value.producer is not self:
            raise ValueError(f"value {value.name!r} is already produced by node {value.producer.name!r}")
        value.producer = self
        self._outputs.append(value)

    # attributes ---------------------------------------------------------------
    def attr(self, name: str, default: Any = None) -> Any:
        a = self.attributes.get(name)
        return default if a is None else a.value

    def subgraphs(self) -> list["Graph"]:
        from .graph import Graph

        out = []
        for a in self.attributes.values():
            if isinstance(a.value, Graph):
                out.append(a.value)
            elif isinstance(a.value, list):
                out.extend(g for g in a.value if isinstance(g, Graph))
        return out

    def __repr__(self) -> str:
        ins = ", ".join(v.name if v is not None else "" for v in self._inputs)
        outs = ", ".join(v.name for v in self._outputs)
        return f"Node({self.name!r}: {self.op_type}({ins}) -> {outs})"
