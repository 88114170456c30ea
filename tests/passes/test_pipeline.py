"""optimize(): levels, safety (a failing pass never breaks a model), subgraphs, the session hook, the file tool."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest
from onnx import helper

import nnex
from nnex.ir import load, model_to_proto
from nnex.passes import optimize, optimize_for_session
from nnex.passes.identity_elimination import IdentityElimination
from nnex.passes.matmul_add_gemm import MatMulAddGemm
from nnex.tools.optimize import optimize_file

from .helpers import F, assert_close, check_optimized, make_model, nnex_run, op_counts, ort_run, rand


def _mlp():
    return make_model(
        [helper.make_node("Identity", ["x"], ["xi"]),
         helper.make_node("MatMul", ["xi", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        [("x", F, ["N", 4])], [("y", F, ["N", 3])], [("w", rand(4, 3)), ("b", rand(3, seed=1))])


@pytest.mark.parametrize("level,expected", [
    (0, {"Identity": 1, "MatMul": 1, "Add": 1}), ("none", {"Identity": 1, "MatMul": 1, "Add": 1}),
    (1, {"MatMul": 1, "Add": 1}), ("basic", {"MatMul": 1, "Add": 1}),
    (2, {"Gemm": 1}), ("extended", {"Gemm": 1}), (99, {"Gemm": 1}), ("all", {"Gemm": 1})])
def test_levels(level, expected):
    assert op_counts(check_optimized(_mlp(), {"x": rand(5, 4)}, level=level)) == expected


def test_unknown_level_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown optimization level 'fast'"):
        optimize(_mlp(), "fast")


def test_an_ir_model_given_in_is_not_changed():
    model = load(_mlp())
    before = model_to_proto(model).SerializeToString()
    optimized = optimize(model)
    assert optimized is not model
    assert model_to_proto(model).SerializeToString() == before
    assert len(model.graph) == 3 and len(optimized.graph) == 1


def test_a_node_whose_match_raises_is_left_alone(monkeypatch):
    def broken(self, node, graph, ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(MatMulAddGemm, "match", broken)
    opt = check_optimized(_mlp(), {"x": rand(5, 4)})
    assert op_counts(opt) == {"MatMul": 1, "Add": 1}  # identity elimination still ran


def test_a_rewrite_that_fails_midway_falls_back_to_the_unoptimized_model(monkeypatch, caplog):
    original = IdentityElimination.match

    def half_done(self, node, graph, ctx):
        apply = original(self, node, graph, ctx)
        if apply is None:
            return None

        def crash():
            graph.remove(node, safe=False)  # leaves readers of the output dangling
            raise RuntimeError("rewrite crashed")
        return crash

    monkeypatch.setattr(IdentityElimination, "match", half_done)
    m = _mlp()
    feeds = {"x": rand(5, 4)}
    with caplog.at_level(logging.WARNING, logger="nnex.passes"):
        opt = model_to_proto(optimize(m))
    assert "graph optimization skipped" in caplog.text
    assert op_counts(opt) == op_counts(m)
    assert_close(nnex_run(opt, feeds), ort_run(m, feeds))
    with pytest.raises(RuntimeError, match="rewrite crashed"):
        optimize(m, strict=True)
    # the session still runs the model (unoptimized) and gives the right answer
    assert_close(nnex.InferenceSession(m).run(None, feeds), ort_run(m, feeds))


def test_subgraphs_are_optimized_and_outer_scope_reads_survive():
    then_g = helper.make_graph(
        [helper.make_node("Add", ["k", "k"], ["kk"]),                # constant inside the branch: folded
         helper.make_node("Identity", ["outer"], ["oi"]),            # identity on an outer-scope value
         helper.make_node("Mul", ["oi", "kk"], ["t_out"])], "then", [],
        [helper.make_tensor_value_info("t_out", F, [3])],
        [onnx.numpy_helper.from_array(np.array([1, 2, 3], np.float32), "k")])
    else_g = helper.make_graph([helper.make_node("Neg", ["outer"], ["e_out"])], "else", [],
                               [helper.make_tensor_value_info("e_out", F, [3])])
    m = make_model(
        [helper.make_node("Exp", ["x"], ["outer"]),
         helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)],
        [("x", F, [3]), ("cond", 9, [])], [("y", F, [3])])
    for c in (True, False):
        opt = check_optimized(m, {"x": rand(3), "cond": np.array(c)})
    then_opt = next(a.g for a in opt.graph.node[1].attribute if a.name == "then_branch")
    assert [n.op_type for n in then_opt.node] == ["Mul"]
    assert then_opt.node[0].input[0] == "outer"


def test_session_runs_the_optimized_graph_and_keeps_the_original():
    m = _mlp()
    sess = nnex.InferenceSession(m)
    assert len(sess.model.graph) == 3  # the session's model is the one given
    assert_close(sess.run(None, {"x": rand(5, 4)}), ort_run(m, {"x": rand(5, 4)}))
    assert [n.op_type for n in optimize_for_session(load(m), 2).graph.nodes] == ["Gemm"]
    same = load(m)
    assert optimize_for_session(same, 0) is same


def test_optimize_file_writes_a_checked_equivalent_model(tmp_path):
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    m = _mlp()
    onnx.save(m, src)
    report = optimize_file(src, dst, level="extended")
    assert report["nodes_before"] == 3 and report["nodes_after"] == 1
    assert report["ops_after"] == {"Gemm": 1} and report["rewrites"]["matmul_add_gemm"] == 1
    out = onnx.load(dst)
    onnx.checker.check_model(out, full_check=True)
    feeds = {"x": rand(5, 4)}
    assert_close(ort_run(out, feeds, optimized=False), ort_run(m, feeds))


def test_optimize_file_keeps_external_data_external(tmp_path):
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    m = make_model([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
                   [("x", F, [2, 64])], [("y", F, [2, 64])], [("w", rand(64, 64)), ("b", rand(64, seed=1))])
    onnx.save(m, src, save_as_external_data=True, location="in.onnx.data", size_threshold=1024)
    optimize_file(src, dst)
    assert (tmp_path / "out.onnx.data").exists()
    feeds = {"x": rand(2, 64)}
    assert_close(ort_run(onnx.load(str(dst)), feeds, optimized=False), ort_run(onnx.load(str(src)), feeds))


def test_models_with_gradient_ops_are_left_as_they_are():
    # Gradient reads the graph between its xs and y by name: fusing or dropping nodes would change it
    g = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["xi"]), helper.make_node("MatMul", ["xi", "w"], ["h"]),
         helper.make_node("Add", ["h", "b"], ["loss_vec"]), helper.make_node("ReduceSum", ["loss_vec"], ["loss"]),
         helper.make_node("Gradient", ["w", "b"], ["dw", "db"], domain="ai.onnx.preview.training",
                          xs=["w", "b"], y="loss")],
        "g", [helper.make_tensor_value_info(n, F, s) for n, s in (("x", [2, 3]), ("w", [3, 2]), ("b", [2]))],
        [helper.make_tensor_value_info("loss", F, [1]), helper.make_tensor_value_info("dw", F, [3, 2]),
         helper.make_tensor_value_info("db", F, [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12),
                                            helper.make_opsetid("ai.onnx.preview.training", 1)])
    assert model_to_proto(optimize(m, strict=True)).graph == m.graph
