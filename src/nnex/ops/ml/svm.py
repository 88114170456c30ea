"""ai.onnx.ml svm operators."""

from __future__ import annotations

from ..registry import ML_DOMAIN, op
