"""ai.onnx.ml linear operators."""

from __future__ import annotations

from ..registry import ML_DOMAIN, op
