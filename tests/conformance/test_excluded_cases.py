"""Suite cases excluded from the value comparison, checked here the way their semantics allow."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.backend.test.loader import load_model_tests

import nnex

warnings.filterwarnings("ignore", category=RuntimeWarning)


def _case(name: str):
    for t in load_model_tests(kind="node"):
        if t.name == name:
            return t
    raise LookupError(name)


def test_loop16_seq_none_matches_expected():
    t = _case("test_loop16_seq_none")
    inputs, expected = t.data_sets[0]
    got = nnex.backend.prepare(t.model).run(inputs)
    assert len(got) == 1 and isinstance(got[0], list)
    assert len(got[0]) == len(expected[0])
    for g, e in zip(got[0], expected[0]):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e)


@pytest.mark.parametrize("case", ["test_bernoulli", "test_bernoulli_double", "test_bernoulli_seed",
                                  "test_bernoulli_expanded", "test_bernoulli_double_expanded"])
def test_bernoulli_cases_shape_dtype_support(case):
    t = _case(case)
    inputs, expected = t.data_sets[0]
    got = nnex.backend.prepare(t.model).run(inputs)[0]
    assert got.shape == expected[0].shape and got.dtype == expected[0].dtype
    assert set(np.unique(got)).issubset({0, 1})


@pytest.mark.parametrize("opset", [15, 22])
def test_bernoulli_statistics(opset):
    node = helper.make_node("Bernoulli", ["p"], ["y"], dtype=onnx.TensorProto.FLOAT)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("p", onnx.TensorProto.FLOAT, [4, 20000])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [4, 20000])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    p = np.repeat(np.array([[0.0], [0.1], [0.5], [0.9]], np.float32), 20000, axis=1)
    y = nnex.InferenceSession(model.SerializeToString()).run(None, {"p": p})[0]
    means = y.mean(axis=1)
    # 20000 draws: the standard error is at most 0.0036, so 0.02 is over 5 sigma
    np.testing.assert_allclose(means, [0.0, 0.1, 0.5, 0.9], atol=0.02)
    assert means[0] == 0.0


def test_squeezenet_logits_match_onnxruntime():
    """The light squeezenet of the suite, up to its Softmax: its logits (all near 9.48e9, equal
    but for rounding) against onnxruntime's, on the suite's own input."""
    import os

    import onnxruntime
    from onnx.backend.test.runner import Runner

    path = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", "light_squeezenet.onnx")
    model = onnx.load(path)
    inits = {i.name for i in model.graph.initializer}
    x = next(i for i in model.graph.input if i.name not in inits)
    feed = {x.name: Runner.generate_dummy_data(x, seed=0, name="squeezenet", random=False)}
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
    model.graph.output.append(helper.make_tensor_value_info(softmax.input[0], onnx.TensorProto.FLOAT, None))
    data = model.SerializeToString()
    want = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feed)[1]
    got = nnex.InferenceSession(data).run(None, feed)[1]
    np.testing.assert_allclose(got, want, rtol=1e-5)
