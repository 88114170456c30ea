"""MatMul + Add -> Gemm for 2-D operands only."""

from __future__ import annotations

from onnx import helper

from .helpers import F, check_optimized, make_model, op_counts, rand


def test_2d_matmul_add_becomes_gemm():
    m = make_model(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["bias", "h"], ["y"])],
        [("x", F, ["N", 4])], [("y", F, ["N", 3])], [("w", rand(4, 3)), ("bias", rand(3, seed=1))])
    opt = check_optimized(m, {"x": rand(5, 4)})
    assert op_counts(opt) == {"Gemm": 1}


def test_3d_matmul_and_a_broadcasting_add_are_left_alone():
    m = make_model(
        [helper.make_node("MatMul", ["x3", "w"], ["h3"]), helper.make_node("Add", ["h3", "bias"], ["y3"]),
         helper.make_node("MatMul", ["x2", "w"], ["h2"]), helper.make_node("Add", ["h2", "grow"], ["y2"])],
        [("x3", F, [2, 5, 4]), ("x2", F, [1, 4])], [("y3", F, [2, 5, 3]), ("y2", F, [6, 3])],
        [("w", rand(4, 3)), ("bias", rand(3, seed=1)), ("grow", rand(6, 3, seed=2))])
    opt = check_optimized(m, {"x3": rand(2, 5, 4), "x2": rand(1, 4)})
    assert op_counts(opt) == {"MatMul": 2, "Add": 2}


def test_basic_level_does_not_fuse():
    m = make_model(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "bias"], ["y"])],
        [("x", F, [2, 4])], [("y", F, [2, 3])], [("w", rand(4, 3)), ("bias", rand(3, seed=1))])
    assert op_counts(check_optimized(m, {"x": rand(2, 4)}, level="basic")) == {"MatMul": 1, "Add": 1}
