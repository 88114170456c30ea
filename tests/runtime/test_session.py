"""InferenceSession: the onnxruntime API, checked against onnxruntime itself."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import nnex


def _mlp(opset: int = 17) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [4, 8], rng.standard_normal((4, 8)).astype(np.float32).ravel())
    b1 = helper.make_tensor("b1", TensorProto.FLOAT, [8], rng.standard_normal(8).astype(np.float32))
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [8, 3], rng.standard_normal((8, 3)).astype(np.float32).ravel())
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="mm1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="add1"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu1"),
        helper.make_node("MatMul", ["h2", "w2"], ["logits"], name="mm2"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
        helper.make_node("ArgMax", ["logits"], ["label"], name="argmax", axis=-1, keepdims=0),
    ]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                          [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3]),
                           helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])],
                          [w1, b1, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="unit-test",
                          doc_string="a tiny mlp")
    m.model_version = 3
    helper.set_model_props(m, {"author": "nnex"})
    return m


@pytest.fixture(scope="module")
def mlp():
    return _mlp()


@pytest.fixture(scope="module")
def sessions(mlp):
    data = mlp.SerializeToString()
    return nnex.InferenceSession(data), ort.InferenceSession(data, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("batch", [1, 5])
def test_outputs_match_onnxruntime(sessions, batch):
    ours, theirs = sessions
    x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
    got = ours.run(None, {"x": x})
    want = theirs.run(None, {"x": x})
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[1], want[1])
    assert got[1].dtype == want[1].dtype


def test_output_names_select_and_order(sessions):
    ours, theirs = sessions
    x = np.ones((2, 4), np.float32)
    got = ours.run(["label", "probs"], {"x": x})
    want = theirs.run(["label", "probs"], {"x": x})
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5)


def test_node_args_match_onnxruntime(sessions):
    ours, theirs = sessions
    for a, b in zip(ours.get_inputs() + ours.get_outputs(), theirs.get_inputs() + theirs.get_outputs()):
        assert (a.name, a.type, a.shape) == (b.name, b.type, b.shape)


def test_modelmeta_matches_onnxruntime(sessions):
    ours, theirs = sessions
    a, b = ours.get_modelmeta(), theirs.get_modelmeta()
    for field in ("producer_name", "graph_name", "domain", "description", "version", "custom_metadata_map"):
        assert getattr(a, field) == getattr(b, field), field


def test_providers_and_options(mlp):
    opts = nnex.SessionOptions()
    opts.graph_optimization_level = nnex.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    s = nnex.InferenceSession(mlp.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    assert s.get_providers() == ["numpy"]
    assert s.get_session_options().intra_op_num_threads == 1
    with pytest.raises(ValueError, match="no usable provider"):
        nnex.InferenceSession(mlp.SerializeToString(), providers=["NoSuchExecutionProvider"])


def test_loads_path_bytes_and_proto(tmp_path, mlp):
    p = tmp_path / "m.onnx"
    onnx.save(mlp, p)
    x = np.ones((1, 4), np.float32)
    outs = [nnex.InferenceSession(src).run(None, {"x": x})[0] for src in (str(p), p, mlp.SerializeToString(), mlp)]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


@pytest.mark.parametrize("feed, pattern", [
    ({}, r"missing input.*'x'"),
    ({"x": np.ones((1, 4), np.float32), "y": np.ones(1)}, r"unknown input 'y'"),
    ({"x": np.ones((1, 4), np.float64)}, r"input 'x': expected tensor\(float\), got .*float64"),
    ({"x": np.ones((4,), np.float32)}, r"input 'x': expected rank 2"),
    ({"x": np.ones((1, 5), np.float32)}, r"input 'x': dimension 1 must be 4"),
])
def test_bad_feeds_are_refused_like_onnxruntime(sessions, feed, pattern):
    ours, theirs = sessions
    with pytest.raises(nnex.InvalidInputError, match=pattern):
        ours.run(None, feed)
    with pytest.raises(Exception):  # onnxruntime refuses the same feeds
        theirs.run(None, feed)


def test_unknown_output_name(sessions):
    with pytest.raises(nnex.InvalidInputError, match="unknown output 'nope'"):
        sessions[0].run(["nope"], {"x": np.ones((1, 4), np.float32)})


def test_error_inside_a_node_names_it():
    g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape_7")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None]),
                           helper.make_tensor_value_info("s", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    s = nnex.InferenceSession(m.SerializeToString())
    np.testing.assert_array_equal(s.run(None, {"x": np.arange(6, dtype=np.float32), "s": np.array([2, 3])})[0],
                                  np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(nnex.NodeRunError, match=r"node 'reshape_7' \(Reshape\)"):
        s.run(None, {"x": np.arange(5, dtype=np.float32), "s": np.array([2, 3])})


def test_unsupported_op_is_named_at_build():
    g = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"], name="n1", domain="com.example")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    with pytest.raises(nnex.UnsupportedOpError, match=r"node 'n1'.*com.example::NoSuchOp"):
        nnex.InferenceSession(m.SerializeToString())


def test_outputs_do_not_alias_constants():
    c = helper.make_tensor("c", TensorProto.FLOAT, [3], [1, 2, 3])
    g = helper.make_graph([helper.make_node("Identity", ["c"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])], [c])
    s = nnex.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    y = s.run(None, {})[0]
    if y.flags.writeable:
        y[0] = 100.0
    np.testing.assert_array_equal(s.run(None, {})[0], [1, 2, 3])


def test_model_local_function_is_expanded():
    fn = helper.make_function("local", "Scale2", ["a"], ["b"],
                              [helper.make_node("Constant", [], ["two"], value_float=2.0),
                               helper.make_node("Mul", ["a", "two"], ["b"])],
                              [helper.make_opsetid("", 17)])
    g = helper.make_graph([helper.make_node("Scale2", ["x"], ["y"], domain="local")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    m = helper.make_model(g, functions=[fn], opset_imports=[helper.make_opsetid("", 17),
                                                            helper.make_opsetid("local", 1)])
    x = np.array([1, 2, 3], np.float32)
    got = nnex.InferenceSession(m).run(None, {"x": x})[0]
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)


def test_if_reads_outer_scope_values():
    then_g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    g = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)], "g",
                          [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                           helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    ours = nnex.InferenceSession(m)
    theirs = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.array([1.5, -2.0], np.float32)
    for c in (True, False):
        feed = {"c": np.array(c), "x": x}
        np.testing.assert_array_equal(ours.run(None, feed)[0], theirs.run(None, feed)[0])
