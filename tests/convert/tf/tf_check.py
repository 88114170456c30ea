"""Shared checks for the TensorFlow and Keras converter tests.

``check(obj, sample)`` converts with ``nnex.convert``, runs the full ONNX checker, and compares
onnxruntime's and nnex's outputs with TensorFlow's own (a Keras model called with
``training=False``, a tf.function called on the sample) on the sample and on ``others``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import onnx
import pytest

tf = pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")

import nnex

RTOL, ATOL = 1e-3, 1e-4


def _call(obj, sample):
    if _is_keras(obj):
        out = obj(sample if not isinstance(sample, tuple) else list(sample), training=False)
    elif isinstance(sample, dict):
        out = obj(**{k: tf.constant(v) for k, v in sample.items()})
    elif isinstance(sample, (tuple, list)):
        out = obj(*[tf.constant(x) for x in sample])
    else:
        out = obj(tf.constant(sample))
    return [np.asarray(t) for t in tf.nest.flatten(out)]


def _is_keras(obj) -> bool:
    return type(obj).__module__.split(".")[0] in ("keras", "tf_keras") or any(
        c.__module__.split(".")[0] == "keras" for c in type(obj).__mro__)


def feeds(proto: onnx.ModelProto, sample) -> dict:
    if isinstance(sample, dict):
        arrays = list(sample.values())
    elif isinstance(sample, (tuple, list)):
        arrays = list(sample)
    else:
        arrays = [sample]
    names = [i.name for i in proto.graph.input]
    assert len(names) == len(arrays), f"model inputs {names} vs {len(arrays)} arrays"
    return {n: np.asarray(a) for n, a in zip(names, arrays)}


def compare(got, want, rtol, atol, where):
    assert len(got) == len(want), f"{where}: {len(got)} outputs, TensorFlow gives {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        assert g.shape == w.shape, f"{where}: output {i} has shape {g.shape}, TensorFlow {w.shape}"
        assert g.dtype == w.dtype, f"{where}: output {i} has dtype {g.dtype}, TensorFlow {w.dtype}"
        if w.dtype == bool or w.dtype.kind in "iu":
            np.testing.assert_array_equal(g, w, err_msg=f"{where}: output {i}")
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{where}: output {i}")


def check(obj, sample, *, others=(), rtol=RTOL, atol=ATOL, runtimes=("onnxruntime", "nnex"),
          relative_atol=False, **options) -> onnx.ModelProto:
    """Convert ``obj`` and compare both runtimes with TensorFlow; returns the ModelProto.

    ``relative_atol``: ``atol`` is a fraction of the largest output value (deep networks whose
    float32 rounding differences grow with their activations)."""
    proto = nnex.convert(obj, sample, **options)
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    sessions = {}
    if "onnxruntime" in runtimes:
        sessions["onnxruntime"] = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    if "nnex" in runtimes:
        sessions["nnex"] = nnex.InferenceSession(data)
    for case in (sample, *others):
        want = _call(obj, case)
        tol = atol * max(float(np.abs(w).max()) for w in want) if relative_atol else atol
        for name, sess in sessions.items():
            got = sess.run(None, feeds(proto, case))
            compare(got, want, rtol, tol, name)
    return proto


def op_count(proto: onnx.ModelProto, op_type: str) -> int:
    return sum(n.op_type == op_type for n in proto.graph.node)


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
