"""Identity elimination: Identity, inference Dropout, same-type Cast, same-shape Reshape, identity Transpose."""

from __future__ import annotations

import numpy as np
from onnx import helper

from .helpers import F, check_optimized, make_model, op_counts, rand


def test_pass_through_nodes_disappear():
    m = make_model(
        [helper.make_node("Identity", ["x"], ["a"]),
         helper.make_node("Dropout", ["a"], ["b"]),
         helper.make_node("Cast", ["b"], ["c"], to=F),
         helper.make_node("Reshape", ["c", "same"], ["d"]),
         helper.make_node("Transpose", ["d"], ["e"], perm=[0, 1]),
         helper.make_node("Relu", ["e"], ["y"])],
        [("x", F, [2, 3])], [("y", F, [2, 3])], [("same", np.array([2, -1], np.int64))], opset=13)
    opt = check_optimized(m, {"x": rand(2, 3)}, level="basic")
    assert op_counts(opt) == {"Relu": 1}


def test_identity_writing_a_graph_output_keeps_the_output_name():
    # y = Identity(r): r's producer is made to write y directly, so the output name stays "y"
    m = make_model(
        [helper.make_node("Relu", ["x"], ["r"]),
         helper.make_node("Neg", ["r"], ["also_reads_r"]),
         helper.make_node("Identity", ["r"], ["y"])],
        [("x", F, [3])], [("y", F, [3]), ("also_reads_r", F, [3])])
    opt = check_optimized(m, {"x": rand(3)}, level="basic")
    assert op_counts(opt) == {"Relu": 1, "Neg": 1}
    assert [o.name for o in opt.graph.output] == ["y", "also_reads_r"]


def test_identity_from_input_to_output_stays():
    m = make_model([helper.make_node("Identity", ["x"], ["y"])], [("x", F, [3])], [("y", F, [3])])
    opt = check_optimized(m, {"x": rand(3)}, level="basic")
    assert op_counts(opt) == {"Identity": 1}


def test_training_dropout_cast_to_another_type_and_real_reshape_stay():
    m = make_model(
        [helper.make_node("Dropout", ["x", "ratio", "training"], ["a"]),
         helper.make_node("Cast", ["a"], ["b"], to=11),
         helper.make_node("Reshape", ["b", "flat"], ["y"])],
        [("x", F, [2, 3])], [("y", 11, [6])],
        [("ratio", np.array(0.0, np.float32)), ("training", np.array(True)), ("flat", np.array([-1], np.int64))],
        opset=13)
    opt = check_optimized(m, {"x": rand(2, 3)}, level="basic")
    assert op_counts(opt) == {"Dropout": 1, "Cast": 1, "Reshape": 1}
