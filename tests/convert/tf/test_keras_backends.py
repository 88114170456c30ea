"""Keras models on the JAX backend: rebuilt on TensorFlow in a child process, compared with JAX's outputs.

The Keras backend is chosen once per process, so the model is built and run in a fresh
interpreter with KERAS_BACKEND=jax; it checks the converted model against Keras-on-JAX itself.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("jax")
pytest.importorskip("keras")
pytest.importorskip("onnxruntime")

_SCRIPT = r"""
import numpy as np, keras, onnx, onnxruntime as ort
import nnex
assert keras.backend.backend() == "jax"
L = keras.layers
keras.utils.set_random_seed(0)
inp = keras.Input((6, 6, 3), name="pixels")
x = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
x = L.BatchNormalization()(x)
x = L.GlobalAveragePooling2D()(x)
model = keras.Model(inp, L.Dense(2)(x))
sample = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32)
proto = nnex.convert(model, sample)
onnx.checker.check_model(proto, full_check=True)
assert proto.graph.input[0].name == "pixels"
want = keras.ops.convert_to_numpy(model(sample, training=False))
for sess in (ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]),
             nnex.InferenceSession(proto.SerializeToString())):
    got = sess.run(None, {"pixels": sample})[0]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
print("ok")
"""


def test_jax_backend_model_is_rebuilt_on_tensorflow():
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    run = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("ok")
