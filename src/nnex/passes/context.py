"""What every pass needs to know about the model it rewrites: types, constants, fixed values, names."""

from __future__ import annotations

import weakref
from collections import Counter

import numpy as np
import onnx
from onnx import helper

from ..ir.model import Model
from ..ir.node import Node
from ..ir.types import elem_type_of, shape_of
from ..ir.value import Value
from .shape_info import infer_types
from .walk import has_subgraphs, walk_graphs  # noqa: F401  (re-exported for the passes)

_STANDARD_DOMAINS = ("", "ai.onnx")
# ops that refer to other values by name and read the graph's structure (Gradient differentiates
# the nodes between its xs and y): no pass may rename, fuse or drop anything in such a model
_NAME_READING_DOMAINS = ("ai.onnx.preview.training",)


class NameGen:
    """Fresh value and node names that clash with nothing in the model."""

    def __init__(self, model: Model):
        used: set[str] = set()
        for g in walk_graphs(model.graph):
            used.update(g.initializers)
            used.update(v.name for v in g.inputs)
            used.update(v.name for v in g.value_info)
            for n in g.nodes:
                used.add(n.name)
                used.update(v.name for v in n.outputs)
                used.update(v.name for v in n.inputs if v is not None)
        self.used = used
        self.counter = 0

    def __call__(self, hint: str) -> str:
        hint = hint or "v"
        name = hint
        while name in self.used:
            self.counter += 1
            name = f"{hint}__{self.counter}"
        self.used.add(name)
        return name


class PassContext:
    """Shared state for one optimization run over one model (a private copy)."""

    def __init__(self, model: Model, *, fold_size_limit: int = 1 << 12, infer: bool = True):
        self.model = model
        self.fold_size_limit = fold_size_limit  # folded results up to this many elements are always fine
        self.stats: Counter = Counter()
        self.pinned: set[int] = set()  # graph inputs/outputs at any level: their identity and name stay
        self.inputs: set[int] = set()  # graph inputs at any level: never constants, even with an initializer
        self.free: set[int] = set()  # values read but defined nowhere (sparse initializers, outer names)
        self._const_nodes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Constant node -> value
        self._scan()
        self._types: dict[int, tuple] = infer_types(model) if infer and not self.reads_names else {}
        self.new_name = NameGen(model)  # after inference, which names the values that had no name

    def _scan(self) -> None:
        defined: set[int] = set()
        reads: list[Value] = []
        self.reads_names = False
        graphs = list(walk_graphs(self.model.graph))
        self.nested = len(graphs) > 1  # passes never add subgraphs: one graph stays one graph
        for g in graphs:
            for v in g.inputs:
                self.inputs.add(id(v))
                self.pinned.add(id(v))
                defined.add(id(v))
                reads.append(v)
            for v in g.outputs:
                self.pinned.add(id(v))
                reads.append(v)
            defined.update(id(v) for v in g.initializers.values())
            for n in g.nodes:
                if n.domain in _NAME_READING_DOMAINS:
                    self.reads_names = True
                defined.update(id(v) for v in n.outputs)
                reads.extend(v for v in n.inputs if v is not None)
        self.free = {id(v) for v in reads if id(v) not in defined}
        self._alive = reads  # holds every value the id sets name, so that no id is reused during the run

    # ------------------------------------------------------------------ model facts
    def opset(self, domain: str = "") -> int:
        return self.model.opset(domain) or 0

    @property
    def ir_version(self) -> int:
        return self.model.ir_version

    def is_standard(self, node: Node) -> bool:
        """An ai.onnx op that no model-local function of the same name overrides."""
        return node.domain in _STANDARD_DOMAINS and ("", node.op_type, "") not in self.model.functions

    def is_pinned(self, v: Value) -> bool:
        return id(v) in self.pinned

    # ------------------------------------------------------------------ types
    def type_of(self, v: Value | None) -> onnx.TypeProto | None:
        if v is None:
            return None
        if v.const is not None and id(v) not in self.inputs:
            t = v.const
            return helper.make_tensor_type_proto(t.data_type, list(t.dims))
        return v.type or self._inferred(v)

    def elem_type(self, v: Value | None) -> int | None:
        if v is not None and v.const is not None:
            return v.const.data_type
        return elem_type_of(self.type_of(v))

    def shape(self, v: Value | None) -> list | None:
        """Dims (int, or str/None when unknown), None when the rank is unknown."""
        if v is None:
            return None
        if v.const is not None and id(v) not in self.inputs:
            return list(v.const.dims)
        t = v.type
        s = shape_of(t) if t is not None else None
        if s is None or not all(isinstance(d, int) for d in s):
            inferred = shape_of(self._inferred(v))
            if inferred is not None and (s is None or _more_known(inferred, s)):
                s = inferred
        return s

    def static_shape(self, v: Value | None) -> tuple[int, ...] | None:
        s = self.shape(v)
        if s is None or not all(isinstance(d, int) and d >= 0 for d in s):
            return None
        return tuple(s)

    def rank(self, v: Value | None) -> int | None:
        s = self.shape(v)
        return None if s is None else len(s)

    def _inferred(self, v: Value) -> onnx.TypeProto | None:
        e = self._types.get(id(v))
        return e[1] if e is not None and e[0] is v else None

    # ------------------------------------------------------------------ constants
    def const(self, v: Value | None) -> np.ndarray | None:
        """The value of ``v`` when it is a constant (an initializer nobody can feed, or a Constant node)."""
        if v is None:
            return None
        if v.const is not None:
            return None if id(v) in self.inputs else v.const.numpy()
        p = v.producer
        if p is not None and p.op_type == "Constant" and self.is_standard(p):
            if p not in self._const_nodes:
                self._const_nodes[p] = _constant_node_value(p, self)
            return self._const_nodes[p]
        return None

    def is_const(self, v: Value | None) -> bool:
        if v is None:
            return False
        if v.const is not None:
            return id(v) not in self.inputs
        p = v.producer
        return p is not None and p.op_type == "Constant" and self.const(v) is not None

    def scalar(self, v: Value | None) -> float | None:
        """The value of a one-element constant, else None."""
        c = self.const(v)
        if c is None or c.size != 1 or c.dtype.kind not in "fiub":
            return None
        return float(c.reshape(-1)[0])



def _more_known(a: list, b: list) -> bool:
    return len(a) == len(b) and sum(isinstance(d, int) for d in a) > sum(isinstance(d, int) for d in b)


def _constant_node_value(node: Node, ctx: PassContext) -> np.ndarray | None:
    from .evaluate import evaluate_node

    if "sparse_value" in node.attributes:
        return None
    try:
        out = evaluate_node(node, [], ctx)
    except Exception:  # noqa: BLE001  (an odd Constant stays a node)
        return None
    return out[0] if out else None
