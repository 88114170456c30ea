"""nnex benchmarks: models built locally, measured against onnxruntime and onnx.reference (run.py)."""
