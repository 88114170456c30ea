"""ONNX -> framework: to_torch (an nn.Module), to_jax (a pure function and its parameters), to_tensorflow."""

from .to_jax import to_jax
from .to_tensorflow import to_tensorflow
from .to_torch import to_torch

__all__ = ["to_jax", "to_tensorflow", "to_torch"]
