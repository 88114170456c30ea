"""Transposes that cancel, merge, or fold into Gemm's transA/transB."""

from __future__ import annotations

from onnx import helper

from .helpers import F, check_optimized, make_model, op_counts, rand


def test_inverse_transposes_cancel():
    m = make_model(
        [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
         helper.make_node("Transpose", ["t"], ["u"], perm=[0, 3, 1, 2]),
         helper.make_node("Relu", ["u"], ["y"])],
        [("x", F, [1, 2, 3, 4])], [("y", F, [1, 2, 3, 4])])
    assert op_counts(check_optimized(m, {"x": rand(1, 2, 3, 4)}, level="basic")) == {"Relu": 1}


def test_two_transposes_merge_into_one():
    m = make_model(
        [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]),
         helper.make_node("Transpose", ["t"], ["y"], perm=[0, 2, 1])],
        [("x", F, [2, 3, 4])], [("y", F, [3, 4, 2])])
    assert op_counts(check_optimized(m, {"x": rand(2, 3, 4)}, level="basic")) == {"Transpose": 1}


def test_transpose_feeding_gemm_becomes_a_flag():
    m = make_model(
        [helper.make_node("Transpose", ["a"], ["at"], perm=[1, 0]),
         helper.make_node("Gemm", ["at", "w"], ["y"], transB=1, alpha=0.5)],
        [("a", F, [4, 2])], [("y", F, [2, 3])], [("w", rand(3, 4))])
    assert op_counts(check_optimized(m, {"a": rand(4, 2)}, level="basic")) == {"Gemm": 1}
