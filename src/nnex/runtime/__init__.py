"""The runtime: InferenceSession, the planner and the executor."""

from .errors import InvalidInputError, InvalidModelError, NnexError, NodeRunError, UnsupportedOpError
from .session import GraphOptimizationLevel, InferenceSession, ModelMetadata, NodeArg, SessionOptions

__all__ = [
    "GraphOptimizationLevel", "InferenceSession", "InvalidInputError", "InvalidModelError", "ModelMetadata",
    "NnexError", "NodeArg", "NodeRunError", "SessionOptions", "UnsupportedOpError",
]
