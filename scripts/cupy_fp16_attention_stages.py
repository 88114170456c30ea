"""Where the cupy backend and NumPy part on test_attention_4d_fp16: each stage of the Attention op
(scaled Q and K, scores, softmax, output) computed with both array libraries (needs a GPU).

    PYTHONPATH=src python scripts/cupy_fp16_attention_stages.py
"""

from __future__ import annotations

import math

import array_api_compat
import cupy as cp
import numpy as np
from onnx.backend.test.loader import load_model_tests

from nnex.ops import attention as A

STAGES = ("q*root", "k*root", "scores", "softmax", "Y")


def stages(xp, to_device, to_host, Q, K, V) -> list[np.ndarray]:
    q, k, v = (to_device(t) for t in (Q, K, V))
    root = xp.asarray(math.sqrt(1.0 / math.sqrt(Q.shape[-1])), dtype=q.dtype)
    qs, ks = q * root, k * root
    s = xp.astype(A._grouped_matmul(xp, qs, xp.matrix_transpose(ks)), q.dtype)
    p = xp.astype(A._masked_softmax(xp, s), q.dtype)
    y = A._grouped_matmul(xp, p, v)
    return [to_host(t).astype(np.float32) for t in (qs, ks, s, p, y)]


def main() -> None:
    case = next(t for t in load_model_tests(kind="node") if t.name == "test_attention_4d_fp16")
    inputs, outputs = case.data_sets[0]
    Q, K, V = (np.asarray(t) for t in inputs[:3])
    want = np.asarray(outputs[0]).astype(np.float32)
    on_host = stages(array_api_compat.array_namespace(np.zeros(1)), np.asarray, np.asarray, Q, K, V)
    on_gpu = stages(array_api_compat.array_namespace(cp.zeros(1)), cp.asarray, cp.asnumpy, Q, K, V)
    for name, a, b in zip(STAGES, on_host, on_gpu):
        print(f"{name:8s} max |numpy - cupy| = {float(np.abs(a - b).max()):.3g}")
    print(f"Y against the expected output: numpy {float(np.abs(on_host[-1] - want).max()):.3g}, "
          f"cupy {float(np.abs(on_gpu[-1] - want).max()):.3g}")


if __name__ == "__main__":
    main()
