"""Constant folding: constant subgraphs computed at build time, shape chains resolved, blow-ups left alone."""

from __future__ import annotations

import numpy as np
from onnx import helper

from .helpers import I64, F, check_optimized, make_model, op_counts, rand


def test_constant_subexpression_is_folded_into_an_initializer():
    a, b = rand(4, seed=1), rand(4, seed=2)
    m = make_model(
        [helper.make_node("Mul", ["a", "b"], ["ab"]),
         helper.make_node("Exp", ["ab"], ["e"]),
         helper.make_node("Add", ["x", "e"], ["y"])],
        [("x", F, [3, 4])], [("y", F, [3, 4])], [("a", a), ("b", b)])
    opt = check_optimized(m, {"x": rand(3, 4)}, level="basic")
    assert op_counts(opt) == {"Add": 1}
    assert [i.name for i in opt.graph.initializer] == ["e"]  # the folded value keeps its name


def test_shape_gather_concat_reshape_chain_with_static_shapes_folds():
    m = make_model(
        [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Gather", ["s", "i0"], ["d0"], axis=0),
         helper.make_node("Unsqueeze", ["d0", "ax"], ["d0u"]),
         helper.make_node("Concat", ["d0u", "minus1"], ["target"], axis=0),
         helper.make_node("Reshape", ["x", "target"], ["y"])],
        [("x", F, [2, 3, 4])], [("y", F, [2, 12])],
        [("i0", np.array(0, np.int64)), ("ax", np.array([0], np.int64)), ("minus1", np.array([-1], np.int64))])
    opt = check_optimized(m, {"x": rand(2, 3, 4)}, level="basic")
    assert op_counts(opt) == {"Reshape": 1}


def test_shape_dims_that_are_static_fold_under_a_symbolic_batch():
    # x: [N, 3, 4] -> Gather(Shape(x), 1) is 3 even though N is unknown; Gather(.., 0) must stay
    m = make_model(
        [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Gather", ["s", "i1"], ["d1"], axis=0),
         helper.make_node("Gather", ["s", "i0"], ["d0"], axis=0),
         helper.make_node("Slice", ["s", "st", "en"], ["tail"]),
         helper.make_node("Cast", ["d1"], ["d1f"], to=F),
         helper.make_node("Mul", ["x", "d1f"], ["y"]),
         helper.make_node("Identity", ["d0"], ["n"]),
         helper.make_node("Identity", ["tail"], ["t"])],
        [("x", F, ["N", 3, 4])], [("y", F, ["N", 3, 4]), ("n", I64, []), ("t", I64, [2])],
        [("i1", np.array(1, np.int64)), ("i0", np.array(0, np.int64)),
         ("st", np.array([1], np.int64)), ("en", np.array([3], np.int64))])
    opt = check_optimized(m, {"x": rand(5, 3, 4)}, level="basic")
    counts = op_counts(opt)
    assert counts["Shape"] == 1 and counts["Gather"] == 1  # only the batch dim is still read at run time
    assert "Cast" not in counts and "Slice" not in counts


def test_graph_output_computed_from_constants_keeps_its_name():
    m = make_model(
        [helper.make_node("Add", ["a", "a"], ["twice"]),
         helper.make_node("Relu", ["x"], ["y"])],
        [("x", F, [2])], [("y", F, [2]), ("twice", F, [3])], [("a", np.array([1, -2, 3], np.float32))])
    opt = check_optimized(m, {"x": rand(2)}, level="basic")
    assert [o.name for o in opt.graph.output] == ["y", "twice"]
    assert op_counts(opt) == {"Relu": 1, "Constant": 1}


def test_large_constant_of_shape_is_not_materialized_but_a_small_one_is():
    big = np.array([256, 512], np.int64)
    small = np.array([2, 3], np.int64)
    value = helper.make_tensor("v", F, [1], [0.5])
    m = make_model(
        [helper.make_node("ConstantOfShape", ["big"], ["zb"], value=value),
         helper.make_node("ConstantOfShape", ["small"], ["zs"], value=value),
         helper.make_node("ReduceSum", ["zb"], ["sb"], keepdims=0),
         helper.make_node("Add", ["x", "zs"], ["y1"]),
         helper.make_node("Add", ["y1", "sb"], ["y"])],
        [("x", F, [2, 3])], [("y", F, [2, 3])], [("big", big), ("small", small)])
    opt = check_optimized(m, {"x": rand(2, 3)}, level="basic")
    counts = op_counts(opt)
    assert counts["ConstantOfShape"] == 1  # the 131072-element one stays a node
    assert all(i.name != "zb" for i in opt.graph.initializer)


def test_random_ops_are_never_folded():
    m = make_model(
        [helper.make_node("RandomNormal", [], ["r"], shape=[2, 3], seed=1.0),
         helper.make_node("Mul", ["r", "zero"], ["rz"]),
         helper.make_node("Add", ["x", "rz"], ["y"]),
         helper.make_node("Add", ["c", "c"], ["cc"]),
         helper.make_node("Add", ["y", "cc"], ["z"])],
        [("x", F, [2, 3])], [("z", F, [2, 3])], [("zero", np.zeros((2, 3), np.float32)), ("c", rand(3))])
    opt = check_optimized(m, {"x": rand(2, 3)}, level="basic")
    assert op_counts(opt)["RandomNormal"] == 1 and op_counts(opt)["Mul"] == 1


def test_ir3_model_folds_into_constant_nodes_not_initializers():
    # before IR 4 every initializer must be a graph input too: new constants are Constant nodes
    m = make_model(
        [helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", F, [3], [1, 2, 3])),
         helper.make_node("Neg", ["c"], ["nc"]),
         helper.make_node("Add", ["x", "nc"], ["y"])],
        [("x", F, [3])], [("y", F, [3])], opset=8, ir_version=3)
    opt = check_optimized(m, {"x": rand(3)}, level="basic")
    assert op_counts(opt) == {"Constant": 1, "Add": 1}
    assert len(opt.graph.initializer) == 0 and [i.name for i in opt.graph.input] == ["x"]


def test_initializer_that_is_also_an_input_is_not_a_constant():
    # an initializer listed as a graph input can be fed: folding it would ignore the feed
    m = make_model([helper.make_node("Exp", ["w"], ["ew"]), helper.make_node("Mul", ["x", "ew"], ["y"])],
                   [("x", F, [3]), ("w", F, [3])], [("y", F, [3])], [("w", rand(3, seed=3))])
    opt = check_optimized(m, {"x": rand(3), "w": rand(3, seed=4)}, level="basic")
    assert op_counts(opt) == {"Exp": 1, "Mul": 1}


def test_castlike_of_a_constant_folds_from_the_target_type():
    m = make_model([helper.make_node("CastLike", ["half", "x"], ["h"]), helper.make_node("Mul", ["x", "h"], ["y"])],
                   [("x", TensorProto_DOUBLE, [3])], [("y", TensorProto_DOUBLE, [3])],
                   [("half", np.array(0.5, np.float32))], opset=19)
    opt = check_optimized(m, {"x": np.arange(3.0)}, level="basic")
    assert op_counts(opt) == {"Mul": 1}


TensorProto_DOUBLE = 11
