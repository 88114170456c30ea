"""Gradient (ai.onnx.preview.training) against central finite differences of the same graph run forward."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

import nnex


def _model(with_gradient: bool) -> onnx.ModelProto:
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Add", ["h", "b"], ["h2"]),
        helper.make_node("Sigmoid", ["h2"], ["s"]),
        helper.make_node("Mul", ["s", "s"], ["sq"]),
        helper.make_node("ReduceSum", ["sq"], ["loss"], keepdims=0),
    ]
    outputs = [helper.make_tensor_value_info("loss", TensorProto.DOUBLE, [])]
    if with_gradient:
        nodes.append(helper.make_node("Gradient", ["w", "b"], ["dw", "db"], domain="ai.onnx.preview.training",
                                      xs=["w", "b"], y="loss"))
        outputs += [helper.make_tensor_value_info("dw", TensorProto.DOUBLE, [3, 2]),
                    helper.make_tensor_value_info("db", TensorProto.DOUBLE, [2])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [4, 3]),
                                       helper.make_tensor_value_info("w", TensorProto.DOUBLE, [3, 2]),
                                       helper.make_tensor_value_info("b", TensorProto.DOUBLE, [2])], outputs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 12),
                                               helper.make_opsetid("ai.onnx.preview.training", 1)])


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    feed = {"x": rng.standard_normal((4, 3)), "w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    _, dw, db = nnex.InferenceSession(_model(True)).run(None, feed)
    fwd = nnex.InferenceSession(_model(False))
    eps = 1e-6
    for name, grad in (("w", dw), ("b", db)):
        num = np.zeros_like(feed[name])
        for idx in np.ndindex(num.shape):
            plus, minus = dict(feed), dict(feed)
            plus[name] = feed[name].copy()
            minus[name] = feed[name].copy()
            plus[name][idx] += eps
            minus[name][idx] -= eps
            num[idx] = (fwd.run(None, plus)[0] - fwd.run(None, minus)[0]) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)
