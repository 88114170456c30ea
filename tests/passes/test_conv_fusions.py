"""Conv + BatchNormalization -> Conv, and Conv + Add(per-channel constant) -> Conv bias (Relu stays)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from .helpers import F, check_optimized, make_model, op_counts, rand


def _bn_params(c: int, seed: int):
    rng = np.random.default_rng(seed)
    return [("scale", rng.uniform(0.5, 2, c).astype(np.float32)), ("bias", rng.standard_normal(c).astype(np.float32)),
            ("mean", rng.standard_normal(c).astype(np.float32)), ("var", rng.uniform(0.5, 2, c).astype(np.float32))]


@pytest.mark.parametrize("with_bias,group", [(True, 1), (False, 1), (True, 2)])
def test_conv_batchnorm_folds_into_one_conv(with_bias, group):
    w = rand(4, 4 // group, 3, 3, seed=1)
    inits = [("w", w)] + ([("b", rand(4, seed=2))] if with_bias else []) + _bn_params(4, 3)
    conv_in = ["x", "w", "b"] if with_bias else ["x", "w"]
    m = make_model(
        [helper.make_node("Conv", conv_in, ["c"], pads=[1, 1, 1, 1], group=group),
         helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"], epsilon=1e-3)],
        [("x", F, [1, 4, 5, 5])], [("y", F, [1, 4, 5, 5])], inits, opset=15)
    opt = check_optimized(m, {"x": rand(1, 4, 5, 5)})
    assert op_counts(opt) == {"Conv": 1}


def test_batchnorm_stays_when_the_conv_output_is_read_twice():
    m = make_model(
        [helper.make_node("Conv", ["x", "w"], ["c"]),
         helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"]),
         helper.make_node("Add", ["bn", "c"], ["y"])],
        [("x", F, [1, 2, 4, 4])], [("y", F, [1, 3, 4, 4])], [("w", rand(3, 2, 1, 1))] + _bn_params(3, 4), opset=15)
    opt = check_optimized(m, {"x": rand(1, 2, 4, 4)})
    assert op_counts(opt)["BatchNormalization"] == 1


def test_conv_add_per_channel_constant_becomes_the_bias_and_relu_stays():
    m = make_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"]),
         helper.make_node("Add", ["c", "per_channel"], ["a"]),
         helper.make_node("Relu", ["a"], ["y"])],
        [("x", F, [2, 3, 4, 4])], [("y", F, [2, 5, 4, 4])],
        [("w", rand(5, 3, 1, 1)), ("b", rand(5, seed=1)), ("per_channel", rand(1, 5, 1, 1, seed=2))])
    opt = check_optimized(m, {"x": rand(2, 3, 4, 4)})
    assert op_counts(opt) == {"Conv": 1, "Relu": 1}


def test_conv_add_of_a_per_pixel_constant_is_not_a_bias():
    m = make_model(
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Add", ["c", "per_pixel"], ["y"])],
        [("x", F, [1, 3, 4, 4])], [("y", F, [1, 5, 4, 4])],
        [("w", rand(5, 3, 1, 1)), ("per_pixel", rand(1, 1, 4, 4, seed=2))])
    opt = check_optimized(m, {"x": rand(1, 3, 4, 4)})
    assert op_counts(opt) == {"Conv": 1, "Add": 1}
