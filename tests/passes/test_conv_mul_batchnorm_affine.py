"""Conv -> Mul(per-channel) -> Conv with scaled weights; BatchNormalization -> Mul/Add -> one BatchNormalization."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from .helpers import F, check_optimized, make_model, op_counts, rand


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("scale_shape", [(1, 4, 1, 1), (4, 1, 1), (1,), ()])
def test_conv_mul_add_relu_becomes_conv_relu(with_bias, scale_shape):
    inits = [("w", rand(4, 3, 3, 3, seed=1)), ("s", rand(*scale_shape, seed=2) if scale_shape else
                                                 np.float32(1.7)), ("t", rand(1, 4, 1, 1, seed=3))]
    if with_bias:
        inits.append(("b", rand(4, seed=4)))
    m = make_model(
        [helper.make_node("Conv", ["x", "w", "b"] if with_bias else ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Mul", ["s", "c"], ["m"]),
         helper.make_node("Add", ["m", "t"], ["a"]),
         helper.make_node("Relu", ["a"], ["y"])],
        [("x", F, [2, 3, 5, 5])], [("y", F, [2, 4, 5, 5])], inits)
    opt = check_optimized(m, {"x": rand(2, 3, 5, 5)})
    assert op_counts(opt) == {"Conv": 1, "Relu": 1}


def test_conv_mul_by_a_per_pixel_constant_stays():
    m = make_model(
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Mul", ["c", "p"], ["y"])],
        [("x", F, [1, 3, 4, 4])], [("y", F, [1, 4, 4, 4])], [("w", rand(4, 3, 1, 1)), ("p", rand(1, 1, 4, 4, seed=2))])
    assert op_counts(check_optimized(m, {"x": rand(1, 3, 4, 4)})) == {"Conv": 1, "Mul": 1}


def test_conv_read_twice_keeps_its_mul():
    m = make_model(
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Mul", ["c", "s"], ["m"]),
         helper.make_node("Add", ["m", "c"], ["y"])],
        [("x", F, [1, 3, 4, 4])], [("y", F, [1, 4, 4, 4])], [("w", rand(4, 3, 1, 1)), ("s", rand(1, 4, 1, 1, seed=2))])
    assert op_counts(check_optimized(m, {"x": rand(1, 3, 4, 4)}))["Mul"] == 1


def _bn(c, seed):
    rng = np.random.default_rng(seed)
    return [("scale", rng.uniform(0.5, 2, c).astype(np.float32)), ("bias", rng.standard_normal(c).astype(np.float32)),
            ("mean", rng.standard_normal(c).astype(np.float32)), ("var", rng.uniform(0.5, 2, c).astype(np.float32))]


@pytest.mark.parametrize("opset", [9, 15])
def test_batchnorm_mul_add_becomes_one_batchnorm(opset):
    m = make_model(
        [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["bn"], epsilon=1e-3),
         helper.make_node("Mul", ["bn", "s"], ["m"]),
         helper.make_node("Add", ["t", "m"], ["a"]),
         helper.make_node("Relu", ["a"], ["y"])],
        [("x", F, [2, 4, 3, 3])], [("y", F, [2, 4, 3, 3])],
        _bn(4, 1) + [("s", rand(4, 1, 1, seed=2)), ("t", rand(1, 4, 1, 1, seed=3))], opset=opset)
    opt = check_optimized(m, {"x": rand(2, 4, 3, 3)})
    assert op_counts(opt) == {"BatchNormalization": 1, "Relu": 1}


def test_batchnorm_in_training_mode_keeps_its_mul():
    m = make_model(
        [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["bn", "rm", "rv"], training_mode=1),
         helper.make_node("Mul", ["bn", "s"], ["y"])],
        [("x", F, [2, 4, 3, 3])], [("y", F, [2, 4, 3, 3])], _bn(4, 1) + [("s", rand(1, 4, 1, 1, seed=2))], opset=15)
    opt = check_optimized(m, {"x": rand(2, 4, 3, 3)})
    assert op_counts(opt) == {"BatchNormalization": 1, "Mul": 1}
