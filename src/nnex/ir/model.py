"""Model and Function."""

from __future__ import annotations

from .graph import Graph


class Function:
    """A model-local function: a graph body with formal inputs, outputs and attributes."""

    def __init__(self, domain: str, name: str, body: Graph, *, attributes: list[str] | None = None,
                 attribute_defaults: dict | None = None, opset_imports: dict[str, int] | None = None,
                 overload: str = "", doc_string: str = ""):
        self.domain = domain
        self.name = name
        self.overload = overload
        self.body = body
        self.attributes = list(attributes or [])
        self.attribute_defaults = dict(attribute_defaults or {})  # name -> Attribute
        self.opset_imports = dict(opset_imports or {})
        self.doc_string = doc_string
        self.metadata_props: dict[str, str] = {}
        self.present: frozenset = frozenset()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.domain, self.name, self.overload)

    @property
    def inputs(self):
        return self.body.inputs

    @property
    def outputs(self):
        return self.body.outputs

    def __repr__(self) -> str:
        return f"Function({self.domain}::{self.name}, {len(self.body)} nodes)"


class Model:
    """An ONNX model: the main graph, opset imports, functions, metadata."""

    def __init__(self, graph: Graph, *, opset_imports: dict[str, int] | None = None, ir_version: int = 10,
                 producer_name: str = "nnex", producer_version: str = "", domain: str = "", model_version: int = 0,
                 doc_string: str = ""):
        self.graph = graph
        self.opset_imports = dict(opset_imports) if opset_imports is not None else {"": 21}
        self.ir_version = ir_version
        self.producer_name = producer_name
        self.producer_version = producer_version
        self.domain = domain
        self.model_version = model_version
        self.doc_string = doc_string
        self.metadata_props: dict[str, str] = {}
        self.present: frozenset = frozenset()  # proto fields present with default values (lossless saving)
        self.functions: dict[tuple[str, str, str], Function] = {}
        self.extra: list = []  # ModelProto fields nnex does not model (training_info, configuration), verbatim
        self.base_dir: str | None = None  # the folder external data is read from

    def opset(self, domain: str = "") -> int | None:
        if domain == "ai.onnx":
            domain = ""
        return self.opset_imports.get(domain)

    def __repr__(self) -> str:
        return (f"Model(graph={self.graph.name!r}, opsets={self.opset_imports}, nodes={len(self.graph)}, "
                f"inputs={[v.name for v in self.graph.inputs]}, outputs={[v.name for v in self.graph.outputs]})")
