"""Value: an edge of the graph (a graph input, an initializer, or a node output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import onnx

from .types import describe_type, elem_type_of, shape_of

if TYPE_CHECKING:
    from .node import Node
    from .tensor import Tensor


class Value:
    """A named value. ``producer`` and ``uses`` are kept up to date by Node and Graph edits."""

    __slots__ = ("name", "type", "doc_string", "metadata_props", "producer", "_uses", "const", "present", "__weakref__")

    def __init__(self, name: str = "", type: onnx.TypeProto | None = None, *, const: "Tensor | None" = None,
                 doc_string: str = ""):
        self.name = name
        self.type = type
        self.doc_string = doc_string
        self.metadata_props: dict[str, str] = {}
        self.producer: Node | None = None
        self._uses: list[tuple[Node, int]] = []
        self.const = const
        self.present: frozenset = frozenset()  # proto fields present with default values (lossless saving)

    @property
    def uses(self) -> tuple[tuple["Node", int], ...]:
        """(node, input index) pairs that read this value, in subgraphs too."""
        return tuple(self._uses)

    @property
    def elem_type(self) -> int | None:
        return elem_type_of(self.type)

    @property
    def shape(self) -> list | None:
        """Dims as ints, symbolic names (str) or None; None when the rank is unknown."""
        return shape_of(self.type)

    def __repr__(self) -> str:
        return f"Value({self.name!r}, {describe_type(self.type)})"
