"""Gelu (erf and tanh forms) -> Gelu-20, and the spelled-out LayerNorm -> LayerNormalization-17."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import helper

from .helpers import F, check_optimized, make_model, op_counts, rand


def _scalar(name, value):
    return (name, np.array(value, np.float32))


def _erf_gelu(arrangement: str):
    nodes = [helper.make_node("Div", ["x", "sqrt2"], ["xs"]), helper.make_node("Erf", ["xs"], ["e"]),
             helper.make_node("Add", ["one", "e"], ["phi"])]
    if arrangement == "half_x_first":      # (x * 0.5) * (1 + erf)
        nodes += [helper.make_node("Mul", ["x", "half"], ["hx"]), helper.make_node("Mul", ["hx", "phi"], ["y"])]
    elif arrangement == "x_then_half":     # (x * (1 + erf)) * 0.5
        nodes += [helper.make_node("Mul", ["x", "phi"], ["xp"]), helper.make_node("Mul", ["xp", "half"], ["y"])]
    else:                                  # x * ((1 + erf) * 0.5)
        nodes += [helper.make_node("Mul", ["phi", "half"], ["ph"]), helper.make_node("Mul", ["ph", "x"], ["y"])]
    return nodes, [_scalar("sqrt2", math.sqrt(2)), _scalar("one", 1.0), _scalar("half", 0.5)]


@pytest.mark.parametrize("arrangement", ["half_x_first", "x_then_half", "half_then_x"])
def test_erf_gelu_fuses_at_opset_20(arrangement):
    nodes, inits = _erf_gelu(arrangement)
    m = make_model(nodes, [("x", F, ["N", 8])], [("y", F, ["N", 8])], inits, opset=20)
    opt = check_optimized(m, {"x": 3 * rand(4, 8)})
    assert op_counts(opt) == {"Gelu": 1}
    assert opt.graph.node[0].attribute[0].s == b"none"


def test_tanh_gelu_fuses_with_approximate_tanh():
    nodes = [helper.make_node("Pow", ["x", "three"], ["x3"]), helper.make_node("Mul", ["c", "x3"], ["cx3"]),
             helper.make_node("Add", ["x", "cx3"], ["inner"]), helper.make_node("Mul", ["k", "inner"], ["arg"]),
             helper.make_node("Tanh", ["arg"], ["t"]), helper.make_node("Add", ["t", "one"], ["phi"]),
             helper.make_node("Mul", ["half", "x"], ["hx"]), helper.make_node("Mul", ["hx", "phi"], ["y"])]
    inits = [_scalar("three", 3.0), _scalar("c", 0.044715), _scalar("k", math.sqrt(2 / math.pi)),
             _scalar("one", 1.0), _scalar("half", 0.5)]
    m = make_model(nodes, [("x", F, [3, 8])], [("y", F, [3, 8])], inits, opset=20)
    opt = check_optimized(m, {"x": 3 * rand(3, 8)})
    assert op_counts(opt) == {"Gelu": 1}
    assert opt.graph.node[0].attribute[0].s == b"tanh"


def test_gelu_is_not_fused_below_opset_20_or_with_other_constants():
    nodes, inits = _erf_gelu("half_x_first")
    m = make_model(nodes, [("x", F, [2, 8])], [("y", F, [2, 8])], inits, opset=19)
    assert "Gelu" not in op_counts(check_optimized(m, {"x": rand(2, 8)}))
    inits = [_scalar("sqrt2", 1.5), _scalar("one", 1.0), _scalar("half", 0.5)]  # not the Gelu constant
    m = make_model(nodes, [("x", F, [2, 8])], [("y", F, [2, 8])], inits, opset=20)
    assert "Gelu" not in op_counts(check_optimized(m, {"x": rand(2, 8)}))


def _layernorm(opset: int, axes, shape, *, square="Pow", affine=True):
    def reduce(inp, out):
        if opset >= 18:
            return helper.make_node("ReduceMean", [inp, "axes"], [out])
        return helper.make_node("ReduceMean", [inp], [out], axes=axes)

    sq = (helper.make_node("Pow", ["d", "two"], ["sq"]) if square == "Pow"
          else helper.make_node("Mul", ["d", "d"], ["sq"]))
    nodes = [reduce("x", "mean"), helper.make_node("Sub", ["x", "mean"], ["d"]), sq, reduce("sq", "var"),
             helper.make_node("Add", ["var", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["std"]),
             helper.make_node("Div", ["d", "std"], ["n" if affine else "y"])]
    pos = sorted(a % len(shape) for a in axes)
    norm = [shape[i] if i in pos else 1 for i in range(pos[0], len(shape))]  # broadcasts over the reduced axes
    inits = [_scalar("two", 2.0), _scalar("eps", 1e-5), ("axes", np.array(axes, np.int64))]
    if affine:
        nodes += [helper.make_node("Mul", ["n", "gamma"], ["g"]), helper.make_node("Add", ["g", "beta"], ["y"])]
        inits += [("gamma", rand(*norm, seed=1)), ("beta", rand(*norm, seed=2))]
    if opset < 18:
        inits = [i for i in inits if i[0] != "axes"]
    return make_model(nodes, [("x", F, shape)], [("y", F, shape)], inits, opset=opset)


@pytest.mark.parametrize("opset,axes,square,affine", [
    (17, [-1], "Pow", True), (18, [2], "Mul", True), (17, [-2, -1], "Pow", True), (18, [-1], "Pow", False)])
def test_layernorm_pattern_fuses(opset, axes, square, affine):
    m = _layernorm(opset, axes, [2, 5, 8], square=square, affine=affine)
    opt = check_optimized(m, {"x": 2 * rand(2, 5, 8) + 1})
    assert op_counts(opt) == {"LayerNormalization": 1}


def test_layernorm_over_a_middle_axis_or_below_opset_17_is_left_alone():
    m = _layernorm(17, [1], [2, 5, 8])  # LayerNormalization normalizes trailing axes only
    assert "LayerNormalization" not in op_counts(check_optimized(m, {"x": rand(2, 5, 8)}))
    m = _layernorm(16, [-1], [2, 5, 8])
    assert "LayerNormalization" not in op_counts(check_optimized(m, {"x": rand(2, 5, 8)}))
