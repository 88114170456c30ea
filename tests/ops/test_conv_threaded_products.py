"""Convolutions whose matrix products are split over nnex's threads (_conv_parallel.matmul),
with BLAS on one thread during the run (runtime/blas_threads.py), against onnxruntime."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import nnex
from nnex.ops import _conv_parallel

F32 = TensorProto.FLOAT


@pytest.fixture
def threads(monkeypatch):
    """Two threads, and blocks small enough that the test shapes are split."""
    monkeypatch.setattr(_conv_parallel, "_threads", 2)
    monkeypatch.setattr(_conv_parallel, "MIN_BLOCK_WORK", 64)


def _conv_model(x_shape, w, b, **attrs):
    nodes = [helper.make_node("Conv", ["X", "W"] + (["B"] if b is not None else []), ["Y"], **attrs)]
    inits = [numpy_helper.from_array(w, "W")] + ([numpy_helper.from_array(b, "B")] if b is not None else [])
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", F32, list(x_shape))],
                          [helper.make_tensor_value_info("Y", F32, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


# (x shape, w shape, attributes): the 1x1 path (strided too), columns (im2col), per-tap products
CASES = [
    ((1, 16, 9, 9), (24, 16, 1, 1), {}),
    ((2, 16, 9, 9), (24, 16, 1, 1), dict(strides=[2, 2])),
    ((1, 8, 12, 10), (12, 8, 3, 3), dict(pads=[1, 1, 1, 1], strides=[2, 2])),
    ((2, 6, 11, 7), (5, 6, 3, 2), dict(pads=[0, 1, 2, 0], dilations=[2, 1])),
    ((1, 32, 24, 24), (8, 32, 3, 3), dict(pads=[1, 1, 1, 1])),
    ((3, 4, 7, 9), (6, 4, 5, 5), dict(pads=[2, 2, 2, 2])),
]


@pytest.mark.parametrize("x_shape, w_shape, attrs", CASES, ids=[str(c[1]) + str(c[2]) for c in CASES])
def test_split_products_match_onnxruntime(threads, x_shape, w_shape, attrs):
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    model = _conv_model(x_shape, w, b, **attrs)
    want = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"X": x})[0]
    got = nnex.InferenceSession(model).run(None, {"X": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_blas_runs_on_one_thread_during_a_run_and_gets_its_count_back(threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    controller = threadpoolctl.ThreadpoolController()
    blas = [c for c in controller.lib_controllers if c.user_api == "blas"]
    if not blas:
        pytest.skip("no BLAS library seen by threadpoolctl")
    before = blas[0].get_num_threads()
    blas[0].set_num_threads(2)
    try:
        rng = np.random.default_rng(0)
        w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
        sess = nnex.InferenceSession(_conv_model((1, 3, 8, 8), w, None, pads=[1, 1, 1, 1]))
        seen = []
        plan = sess._plan
        call = plan.steps[0][0]

        def spy(*args):
            seen.append(blas[0].get_num_threads())
            return call(*args)

        plan.steps = [(spy,) + tuple(plan.steps[0][1:])] + list(plan.steps[1:])
        sess.run(None, {"X": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)})
        assert seen == [1]
        assert blas[0].get_num_threads() == 2
        # overlapping runs (two sessions, two threads): the count comes back once the last ends
        from nnex.runtime.blas_threads import single_thread_blas

        scope = single_thread_blas()
        with scope():
            with scope():
                assert blas[0].get_num_threads() == 1
            assert blas[0].get_num_threads() == 1
        assert blas[0].get_num_threads() == 2
    finally:
        blas[0].set_num_threads(before)
