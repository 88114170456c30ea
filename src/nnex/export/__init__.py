"""ONNX -> framework: to_torch (an nn.Module) and to_jax (a pure function and its parameters)."""

from .to_jax import to_jax
from .to_torch import to_torch

__all__ = ["to_jax", "to_torch"]
