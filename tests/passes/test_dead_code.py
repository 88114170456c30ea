"""Dead code: unread nodes and initializers go; graph inputs and outputs stay."""

from __future__ import annotations

from onnx import helper

from .helpers import F, check_optimized, make_model, op_counts, rand


def test_unread_branch_and_initializer_are_removed_inputs_stay():
    m = make_model(
        [helper.make_node("Relu", ["x"], ["r"]),
         helper.make_node("Sigmoid", ["r"], ["unused1"]),
         helper.make_node("Mul", ["unused1", "w"], ["unused2"]),
         helper.make_node("Neg", ["r"], ["y"])],
        [("x", F, [4]), ("never_read", F, [2])], [("y", F, [4])], [("w", rand(4)), ("orphan", rand(7))])
    opt = check_optimized(m, {"x": rand(4), "never_read": rand(2)}, level="basic")
    assert op_counts(opt) == {"Relu": 1, "Neg": 1}
    assert len(opt.graph.initializer) == 0
    assert [i.name for i in opt.graph.input] == ["x", "never_read"]


def test_value_read_only_inside_a_subgraph_is_kept():
    then_g = helper.make_graph([helper.make_node("Add", ["hidden", "x"], ["t_out"])], "then", [],
                               [helper.make_tensor_value_info("t_out", F, [3])])
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e_out"])], "else", [],
                               [helper.make_tensor_value_info("e_out", F, [3])])
    m = make_model(
        [helper.make_node("Exp", ["x"], ["hidden"]),
         helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)],
        [("x", F, [3]), ("cond", 9, [])], [("y", F, [3])])
    import numpy as np

    for c in (True, False):
        opt = check_optimized(m, {"x": rand(3), "cond": np.array(c)}, level="basic")
        assert op_counts(opt) == {"Exp": 1, "If": 1}
