"""Imports every ai.onnx.ml op module so that their registrations run."""

from . import (  # noqa: F401
    encoders,
    linear,
    preprocessing,
    svm,
    trees,
)
