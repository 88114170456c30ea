"""GraphBuilder models are valid ONNX (onnx's full checker) and compute what onnxruntime computes."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto

import nnex
from nnex.ir import GraphBuilder

ML = "ai.onnx.ml"


def check_and_compare(proto: onnx.ModelProto, feeds: dict, *, rtol=1e-5, atol=1e-6) -> list:
    """Full check, then nnex.InferenceSession must give onnxruntime's outputs (names, dtypes, shapes, values)."""
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    ref = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    want = ref.run(None, feeds)
    sess = nnex.InferenceSession(data)
    got = sess.run(None, feeds)
    assert [o.name for o in sess.get_outputs()] == [o.name for o in ref.get_outputs()]
    assert [i.name for i in sess.get_inputs()] == [i.name for i in ref.get_inputs()]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        if w.dtype.kind in "fc":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, w)
    return want


def test_mlp():
    rng = np.random.default_rng(0)
    w1, b1 = rng.standard_normal((8, 4)).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    w2, b2 = rng.standard_normal((3, 8)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    b = GraphBuilder(opset=21)
    x = b.input("x", np.float32, ["N", 4])
    h = b.op.Relu(b.op.Gemm(x, b.const(w1, "w1"), b.const(b1, "b1"), transB=1))
    logits = b.op.Gemm(h, b.const(w2, "w2"), b.const(b2, "b2"), transB=1, alpha=1.0)
    probs = b.op.Softmax(logits, axis=-1)
    b.output(probs, "probs")
    b.output(b.op.ArgMax(logits, axis=1, keepdims=0), "label")
    proto = b.to_proto()
    # outputs were typed by shape inference
    types = {o.name: (o.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim])
             for o in proto.graph.output}
    assert types == {"probs": (TensorProto.FLOAT, ["N", 3]), "label": (TensorProto.INT64, ["N"])}
    xv = rng.standard_normal((5, 4)).astype(np.float32)
    probs_v, label_v = check_and_compare(proto, {"x": xv})
    # and what onnxruntime computes is the MLP
    lg = np.maximum(xv @ w1.T + b1, 0) @ w2.T + b2
    e = np.exp(lg - lg.max(1, keepdims=True))
    np.testing.assert_allclose(probs_v, e / e.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_array_equal(label_v, lg.argmax(1))
    # the Model runs directly too, without going through a proto
    got = nnex.InferenceSession(b.build()).run(["probs"], {"x": xv})[0]
    np.testing.assert_allclose(got, probs_v, rtol=1e-5, atol=1e-6)


def test_multi_output_ops():
    b = GraphBuilder(opset=21)
    x = b.input("x", np.float32, [2, 6])
    p0, p1, p2 = b.op.Split(x, np.array([1, 2, 3], np.int64), axis=1, _outputs=3)
    values, indices = b.op.TopK(x, np.array([2], np.int64), axis=-1, largest=1, _outputs=2)
    b.output(p0, "part0")
    b.output(p2, "part2")  # p1 left unused
    b.output(values, "top_values")
    b.output(indices, "top_indices")
    b.output(b.op.Add(p1, p1), "twice_part1")
    proto = b.to_proto()
    split = next(n for n in proto.graph.node if n.op_type == "Split")
    assert len(split.output) == 3 and all(split.output)
    xv = np.array([[3.0, 1.0, 4.0, 1.0, 5.0, 9.0], [2.0, 6.0, 5.0, 3.0, 5.0, 8.0]], np.float32)
    part0, part2, tv, ti, twice = check_and_compare(proto, {"x": xv})
    np.testing.assert_array_equal(part0, xv[:, :1])
    np.testing.assert_array_equal(part2, xv[:, 3:])
    np.testing.assert_array_equal(twice, 2 * xv[:, 1:3])
    np.testing.assert_array_equal(ti, np.argsort(-xv, axis=1, kind="stable")[:, :2])
    np.testing.assert_array_equal(tv, -np.sort(-xv, axis=1)[:, :2])


def test_optional_inputs_constants_and_attribute_types():
    b = GraphBuilder(opset=21)
    x = b.input("x", np.float32, [3, 4])
    c = b.op.Clip(x, None, np.float32(0.5))  # missing optional min
    shape = b.op.Shape(c)
    filled = b.op.ConstantOfShape(shape, value=np.array([1.5], np.float32))  # tensor attribute
    scaled = b.op.Mul(filled, np.float32(2.0))
    pad = b.op.Pad(c, np.array([0, 1, 0, 1], np.int64), np.float32(-1.0), mode="constant")  # string attribute
    b.output(scaled, "scaled")
    b.output(pad, "padded")
    b.output(x, "x_again")  # an input as an output: goes through Identity
    proto = b.to_proto()
    clip = next(n for n in proto.graph.node if n.op_type == "Clip")
    assert list(clip.input)[0] == "x" and clip.input[1] == "" and clip.input[2]
    assert [n.op_type for n in proto.graph.node].count("Identity") == 1
    xv = np.arange(12, dtype=np.float32).reshape(3, 4) / 10 - 0.3
    s, p, xa = check_and_compare(proto, {"x": xv})
    np.testing.assert_array_equal(s, np.full((3, 4), 3.0, np.float32))
    np.testing.assert_array_equal(p, np.pad(np.minimum(xv, 0.5), ((0, 0), (1, 1)), constant_values=-1.0))
    np.testing.assert_array_equal(xa, xv)


def test_ml_domain():
    b = GraphBuilder(opset={"": 21, ML: 3})
    x = b.input("x", np.float32, ["N", 3])
    s = b.op(ML).Scaler(x, offset=[0.5, -1.0, 2.0], scale=[2.0, 0.5, 1.0])
    n = b.op(ML).Normalizer(s, norm="L2")
    r = b.op(ML).LinearRegressor(n, coefficients=[1.0, -2.0, 0.5, 0.0, 3.0, 1.0], intercepts=[0.1, -0.2], targets=2)
    b.output(r, "regression", np.float32, ["N", 2])  # onnx infers no type for LinearRegressor
    words = b.input("words", np.str_, ["M"])
    ids = b.op(ML).LabelEncoder(words, keys_strings=["cat", "dog", "bird"], values_int64s=[7, 8, 9],
                                default_int64=-1)
    b.output(ids, "ids")
    # a domain not declared gets opset 1
    bin_ = b.op.Binarizer(x, threshold=0.25, _domain=ML)
    b.output(bin_, "binary")
    proto = b.to_proto()
    assert {o.domain: o.version for o in proto.opset_import} == {"": 21, ML: 3}
    xv = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.25], [0.0, 4.0, -2.0]], np.float32)
    wv = np.array(["dog", "fish", "cat", "bird"], dtype=object)
    reg, idv, binv = check_and_compare(proto, {"x": xv, "words": wv})
    np.testing.assert_array_equal(idv, [8, -1, 7, 9])
    np.testing.assert_array_equal(binv, (xv > 0.25).astype(np.float32))
    sv = (xv - [0.5, -1.0, 2.0]) * [2.0, 0.5, 1.0]
    nv = sv / np.linalg.norm(sv, axis=1, keepdims=True)
    np.testing.assert_allclose(reg, nv @ np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]]).T + [0.1, -0.2], rtol=1e-5)


def test_undeclared_domain_gets_opset_one():
    b = GraphBuilder(opset=21)
    x = b.input("x", np.float32, [4])
    b.output(b.op(ML).Binarizer(x, threshold=0.0), "y")
    proto = b.to_proto()
    assert {o.domain: o.version for o in proto.opset_import} == {"": 21, ML: 1}
    xv = np.array([-1.0, 0.0, 0.5, 2.0], np.float32)
    (y,) = check_and_compare(proto, {"x": xv})
    np.testing.assert_array_equal(y, [0.0, 0.0, 1.0, 1.0])


def test_control_flow_subgraph_built_with_a_builder():
    outer = GraphBuilder(opset=21)
    c = outer.input("c", np.bool_, [])
    x = outer.input("x", np.float32, [3])
    r = outer.op.Relu(x)
    then_b = GraphBuilder(opset=21, name="then")
    then_b.output(then_b.op.Mul(r, np.float32(3.0)), "t")  # reads r from the outer graph
    else_b = GraphBuilder(opset=21, name="else")
    else_b.output(else_b.op.Neg(x), "e")
    y = outer.op.If(c, then_branch=then_b.graph, else_branch=else_b.graph)
    outer.output(y, "y", np.float32, [3])
    assert (then_b.graph.nodes[0], 0) in r.uses
    proto = outer.to_proto()
    xv = np.array([-1.0, 0.5, 2.0], np.float32)
    for cv, want in ((True, 3 * np.maximum(xv, 0)), (False, -xv)):
        (got,) = check_and_compare(proto, {"c": np.array(cv), "x": xv})
        np.testing.assert_allclose(got, want)


def test_unsupported_attribute_value_is_refused():
    b = GraphBuilder(opset=21)
    x = b.input("x", np.float32, [2])
    with pytest.raises(TypeError):
        b.op.Relu(x, bogus={"a": 1})
    with pytest.raises(ValueError):
        b.op.Relu(x, empty=[])
