"""The ai.onnx.ml domain (classic machine learning operators)."""
