"""nnex: the ONNX system in Python.

    import nnex
    sess = nnex.InferenceSession("model.onnx")          # onnxruntime's API, on NumPy by default
    outputs = sess.run(None, {"x": x})
    model = nnex.load("model.onnx"); nnex.save(model, "copy.onnx")
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import backend
from .ir import Model, load, save
from .ir.external_data import ExternalDataError
from .runtime import (
    GraphOptimizationLevel,
    InferenceSession,
    InvalidInputError,
    InvalidModelError,
    NnexError,
    NodeRunError,
    SessionOptions,
    UnsupportedOpError,
)
from . import convert  # a callable module: nnex.convert(obj, ...) and nnex.convert.sklearn
from .convert import ConversionError
from .export import to_jax, to_tensorflow, to_torch


def get_available_providers() -> list[str]:
    from .backends import available_backends

    return available_backends()


__all__ = [
    "ConversionError", "ExternalDataError", "convert", "GraphOptimizationLevel", "InferenceSession", "InvalidInputError",
    "InvalidModelError", "Model", "NnexError", "NodeRunError", "SessionOptions", "UnsupportedOpError", "backend",
    "get_available_providers", "load", "save", "to_jax", "to_tensorflow", "to_torch",
]
