"""Plans run as one generated function (runtime/straight_line.py): same results as onnxruntime
and as the step loop, errors still name their node, replaced steps are honoured."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import nnex
import nnex.runtime.straight_line as straight_line

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def _loop_model() -> bytes:
    """Split (two outputs), a Loop (a subgraph reading an outer value), Concat, TopK (two outputs)."""
    body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "a"], ["acc_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", F, [2, 3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", F, [2, 3])])
    nodes = [
        helper.make_node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2),
        helper.make_node("Loop", ["n", "", "b"], ["looped"], body=body),
        helper.make_node("Concat", ["looped", "a"], ["c"], axis=1),
        helper.make_node("TopK", ["c", "k"], ["values", "indices"], axis=1),
        helper.make_node("Relu", ["values"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", F, [2, 6])],
        [helper.make_tensor_value_info("y", F, [2, 4]), helper.make_tensor_value_info("indices", I64, [2, 4])],
        [onnx.numpy_helper.from_array(np.array(3, dtype=np.int64), "n"),
         onnx.numpy_helper.from_array(np.array([4], dtype=np.int64), "k")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    onnx.checker.check_model(m, full_check=True)
    return m.SerializeToString()


@pytest.mark.parametrize("compiled", [True, False])
def test_multi_output_and_subgraph_nodes_match_onnxruntime(compiled, monkeypatch):
    if not compiled:
        monkeypatch.setattr(straight_line, "MAX_STEPS", 0)   # the step loop
    model = _loop_model()
    x = np.random.default_rng(0).standard_normal((2, 6)).astype(np.float32)
    want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    sess = nnex.InferenceSession(model)
    for _ in range(2):
        got = sess.run(None, {"x": x})
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
        np.testing.assert_array_equal(got[1], want[1])
    assert (sess._plan.compiled is not None) == compiled


def test_an_error_names_its_node():
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu_0"),
             helper.make_node("Reshape", ["r", "shape"], ["y"], name="reshape_1")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [2, 3]),
                                       helper.make_tensor_value_info("shape", I64, [2])],
                          [helper.make_tensor_value_info("y", F, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    sess = nnex.InferenceSession(m.SerializeToString())
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x, "shape": np.array([3, 2])})[0], np.ones((3, 2)))
    with pytest.raises(nnex.NodeRunError, match=r"node 'reshape_1' \(Reshape\)"):
        sess.run(None, {"x": x, "shape": np.array([4, 2])})


def test_replaced_steps_are_the_ones_run():
    # tools wrap a plan's steps after the session is built (timing, tracing): the new list runs
    model = _loop_model()
    x = np.random.default_rng(1).standard_normal((2, 6)).astype(np.float32)
    sess = nnex.InferenceSession(model)
    first = sess.run(None, {"x": x})
    calls = []
    plan = sess._plan

    def wrapped(call, label):
        def spy(*args):
            calls.append(label)
            return call(*args)
        return spy

    plan.steps = [(wrapped(call, lab[1]),) + tuple(rest) for (call, *rest), lab in zip(plan.steps, plan.labels)]
    again = sess.run(None, {"x": x})
    assert calls == [lab[1] for lab in plan.labels]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float16])
def test_fast_kernels_called_first_and_declining_to_the_full_kernel(dtype):
    """The generated code calls a node's fast NumPy kernel itself and the node's full kernel only
    where the fast one declines (Neg and Abs of int32 or float16, Div of integers: the standard
    kernels'); small and large donors alike (inplace.py). Against onnxruntime."""
    onnx_type = {np.float32: F, np.int32: TensorProto.INT32, np.float16: TensorProto.FLOAT16}[dtype]
    nodes = [helper.make_node("Neg", ["x"], ["n"]), helper.make_node("Abs", ["n"], ["a"]),
             helper.make_node("Add", ["a", "x"], ["s"]), helper.make_node("Div", ["s", "d"], ["q"]),
             helper.make_node("Neg", ["q"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx_type, None),
                                       helper.make_tensor_value_info("d", onnx_type, None)],
                          [helper.make_tensor_value_info("y", onnx_type, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    sess = nnex.InferenceSession(model)
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    for shape in [(1, 3), (40, 50)]:  # below and above the smallest donor worth writing into
        feeds = {"x": (rng.standard_normal(shape) * 9).astype(dtype),
                 "d": (rng.integers(1, 5, shape)).astype(dtype)}
        for _ in range(2):
            np.testing.assert_allclose(sess.run(None, feeds)[0], ref.run(None, feeds)[0], rtol=1e-3)
    assert sess._plan.compiled is not None
    assert any(getattr(step[0], "nnex_first", None) is not None for step in sess._plan.steps)
