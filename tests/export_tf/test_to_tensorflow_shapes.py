"""nnex.to_tensorflow with dynamic dimensions: shape arithmetic stays symbolic in the traced
graph and gives onnxruntime's results at every size; what TensorFlow cannot express is
refused with an error naming it."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

tf = pytest.importorskip("tensorflow", reason="nnex.to_tensorflow needs TensorFlow")
pytest.importorskip("jax", reason="nnex.to_tensorflow traces the model with JAX")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the oracle")

from nnex.export.to_tensorflow import TensorFlowExportError, to_tensorflow  # noqa: E402

F, I64 = TensorProto.FLOAT, TensorProto.INT64
pytestmark = pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def _outputs(module, *feeds):
    out = module(*feeds)
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def _shape_arithmetic_model() -> bytes:
    """Shape -> Gather/Slice/Div/Concat -> Reshape, Range, ConstantOfShape, Slice, Expand,
    and the Where(Equal(shape, -1)) pattern of the TorchScript exporter."""
    n = helper.make_node
    nodes = [
        n("Shape", ["x"], ["shape"]),
        n("Gather", ["shape", "zero"], ["batch"], axis=0),
        n("Gather", ["shape", "two"], ["height"], axis=0),
        n("Gather", ["shape", "three"], ["width"], axis=0),
        n("Unsqueeze", ["batch", "axis0"], ["batch1"]),
        n("Concat", ["batch1", "minus_one"], ["flat_shape"], axis=0),
        n("Reshape", ["x", "flat_shape"], ["flat"]),
        n("Range", ["zero_scalar", "height", "one_scalar"], ["rows"]),
        n("Slice", ["shape", "two_vec", "four_vec"], ["hw"]),
        n("ConstantOfShape", ["hw"], ["filled"], value=_const("v", [1.5], np.float32)),
        n("Div", ["width", "two_scalar"], ["half"]),
        n("Unsqueeze", ["half", "axis0"], ["half1"]),
        n("Slice", ["x", "zero_vec", "half1", "three_vec"], ["left"]),
        n("Equal", ["shape", "minus_ones"], ["is_unknown"]),
        n("Where", ["is_unknown", "ones4", "shape"], ["target"]),
        n("Expand", ["bias", "target"], ["expanded"]),
        n("Dropout", ["x"], ["dropped"]),
        n("Mul", ["height", "width"], ["area"]),
        n("Cast", ["area"], ["area_f"], to=F),
        n("Div", ["dropped", "area_f"], ["scaled"]),
    ]
    inits = [_const("zero", 0), _const("two", 2), _const("three", 3), _const("axis0", [0]),
             _const("minus_one", [-1]), _const("zero_scalar", 0), _const("one_scalar", 1),
             _const("two_vec", [2]), _const("four_vec", [4]), _const("two_scalar", 2),
             _const("zero_vec", [0]),
             _const("three_vec", [3]), _const("minus_ones", [-1, -1, -1, -1]), _const("ones4", [1, 1, 1, 1]),
             _const("bias", np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1), np.float32)]
    x = helper.make_tensor_value_info("x", F, ["N", 3, "H", "W"])
    outs = [helper.make_tensor_value_info(name, t, None) for name, t in
            [("flat", F), ("rows", I64), ("filled", F), ("left", F), ("expanded", F), ("scaled", F)]]
    return _model(nodes, [x], outs, inits)


def test_shape_arithmetic_follows_every_size():
    model = _shape_arithmetic_model()
    module = to_tensorflow(model)
    sig = module.__call__.get_concrete_function().structured_input_signature[0][0]
    assert sig.shape.as_list() == [None, 3, None, None]
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for shape in [(2, 3, 4, 6), (1, 3, 5, 9), (3, 3, 1, 2)]:
        x = rng.standard_normal(shape).astype(np.float32)
        want = sess.run(None, {"x": x})
        got = _outputs(module, x)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_dims_shared_by_name_and_input_shapes():
    # inputs that name the same dim must agree on its size; input_shapes fixes or names dims
    n = helper.make_node
    a = helper.make_tensor_value_info("a", F, ["batch", 4])
    b = helper.make_tensor_value_info("b", F, ["batch", 4])
    outs = [helper.make_tensor_value_info("y", F, None), helper.make_tensor_value_info("s", I64, None)]
    model = _model([n("Add", ["a", "b"], ["y"]), n("Shape", ["y"], ["s"])], [a, b], outs)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    y, s = _outputs(to_tensorflow(model), x, x + 1)
    np.testing.assert_array_equal(y, 2 * x + 1)
    np.testing.assert_array_equal(s, [3, 4])
    fixed = to_tensorflow(model, input_shapes={"a": [3, 4], "b": [3, 4]})
    spec = fixed.__call__.get_concrete_function().structured_input_signature[0]
    assert [t.shape.as_list() for t in spec] == [[3, 4], [3, 4]]
    with pytest.raises(ValueError, match="not inputs of the model"):
        to_tensorflow(model, input_shapes={"c": [1, 4]})


def test_signature_names_follow_the_model():
    n = helper.make_node
    x = helper.make_tensor_value_info("input::0", F, [None, 2])
    outs = [helper.make_tensor_value_info("out/relu:0", F, None),
            helper.make_tensor_value_info("neg", F, None)]
    model = _model([n("Relu", ["input::0"], ["out/relu:0"]), n("Neg", ["input::0"], ["neg"])], [x], outs)
    module = to_tensorflow(model)
    res = module.serve(np.array([[1.0, -2.0]], np.float32))
    assert sorted(res) == ["neg", "out_relu_0"]
    np.testing.assert_array_equal(res["out_relu_0"].numpy(), [[1.0, 0.0]])
    np.testing.assert_array_equal(res["neg"].numpy(), [[-1.0, 2.0]])


def test_host_only_ops_are_named():
    n = helper.make_node
    s = helper.make_tensor_value_info("s", TensorProto.STRING, [None])
    x = helper.make_tensor_value_info("x", F, [None])
    model = _model([n("StringNormalizer", ["s"], ["t"], case_change_action="LOWER", name="lower"),
                    n("NonZero", ["x"], ["nz"], name="where_nonzero")],
                   [s, x], [helper.make_tensor_value_info("t", TensorProto.STRING, None),
                            helper.make_tensor_value_info("nz", I64, None)])
    named = r"StringNormalizer \(node 'lower'\).*NonZero \(node 'where_nonzero'\)"
    with pytest.raises(TensorFlowExportError, match=named):
        to_tensorflow(model)


def test_data_dependent_shape_names_the_node():
    # Compress keeps the rows its condition selects: the output size is known only at run time
    n = helper.make_node
    x = helper.make_tensor_value_info("x", F, [4, 2])
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [4])
    model = _model([n("Compress", ["x", "c"], ["y"], axis=0, name="pick_rows")], [x, c],
                   [helper.make_tensor_value_info("y", F, None)])
    with pytest.raises(TensorFlowExportError, match=r"node 'pick_rows' \(Compress\)"):
        to_tensorflow(model)


def test_tflite_runs_dynamic_shape_arithmetic():
    n = helper.make_node
    x = helper.make_tensor_value_info("x", F, ["N", 6])
    nodes = [n("Shape", ["x"], ["s"]), n("Gather", ["s", "zero"], ["b"], axis=0),
             n("Unsqueeze", ["b", "ax"], ["b1"]), n("Concat", ["b1", "shape_tail"], ["t"], axis=0),
             n("Reshape", ["x", "t"], ["r"]), n("Softmax", ["r"], ["y"], axis=-1)]
    model = _model(nodes, [x], [helper.make_tensor_value_info("y", F, None)],
                   [_const("zero", 0), _const("ax", [0]), _const("shape_tail", [2, 3])])
    module = to_tensorflow(model)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module)
    runner = tf.lite.Interpreter(model_content=conv.convert()).get_signature_runner()
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    for batch in (1, 4):
        xv = np.random.default_rng(batch).standard_normal((batch, 6)).astype(np.float32)
        got = runner(x=xv)["y"]
        np.testing.assert_allclose(got, sess.run(None, {"x": xv})[0], rtol=1e-5, atol=1e-6)
