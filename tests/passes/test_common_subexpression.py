"""Common subexpressions: equal nodes on equal inputs (and equal small constants) are computed once."""

from __future__ import annotations

import numpy as np
from onnx import helper

from .helpers import F, check_optimized, make_model, op_counts, rand


def test_duplicate_nodes_and_constants_merge():
    m = make_model(
        [helper.make_node("Mul", ["x", "two_a"], ["m1"]),
         helper.make_node("Mul", ["x", "two_b"], ["m2"]),  # same value, another initializer
         helper.make_node("Sigmoid", ["m1"], ["s1"]),
         helper.make_node("Sigmoid", ["m2"], ["s2"]),
         helper.make_node("Softmax", ["s1"], ["p1"], axis=1),
         helper.make_node("Softmax", ["s2"], ["p2"], axis=0),  # another attribute: not the same
         helper.make_node("Add", ["p1", "p2"], ["y"])],
        [("x", F, [2, 3])], [("y", F, [2, 3])],
        [("two_a", np.array(2.0, np.float32)), ("two_b", np.array(2.0, np.float32))])
    opt = check_optimized(m, {"x": rand(2, 3)}, level="basic")
    assert op_counts(opt) == {"Mul": 1, "Sigmoid": 1, "Softmax": 2, "Add": 1}
    assert len(opt.graph.initializer) == 1


def test_duplicates_that_are_both_graph_outputs_stay():
    m = make_model([helper.make_node("Relu", ["x"], ["y1"]), helper.make_node("Relu", ["x"], ["y2"])],
                   [("x", F, [3])], [("y1", F, [3]), ("y2", F, [3])])
    opt = check_optimized(m, {"x": rand(3)}, level="basic")
    assert op_counts(opt) == {"Relu": 2}
