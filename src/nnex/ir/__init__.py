"""The in-memory model: Model, Graph, Node, Value, Tensor, Attribute, Function, and their serde."""

from .builder import GraphBuilder
from .external_data import ExternalDataError
from .graph import Graph
from .io import load, save, to_proto
from .model import Function, Model
from .node import Attribute, Node
from .serde import graph_from_proto, graph_to_proto, model_from_proto, model_to_proto
from .tensor import Tensor
from .value import Value

__all__ = [
    "Attribute", "ExternalDataError", "Function", "Graph", "GraphBuilder", "Model", "Node", "Tensor", "Value",
    "graph_from_proto", "graph_to_proto", "load", "model_from_proto", "model_to_proto", "save", "to_proto",
]
