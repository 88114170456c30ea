"""nnex.load -> nnex.save -> onnx.load gives back the original ModelProto, message for message."""

from __future__ import annotations

import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper
from onnx.backend.test.loader import load_model_tests

import nnex
from nnex.ir import Tensor

OPSET = [helper.make_opsetid("", 21)]


def roundtrip(source, tmp_path, name: str = "out.onnx") -> onnx.ModelProto:
    path = os.path.join(tmp_path, name)
    nnex.save(nnex.load(source), path)
    return onnx.load(path, load_external_data=False)


def assert_roundtrip(proto: onnx.ModelProto, tmp_path) -> onnx.ModelProto:
    """Through a file and through bytes; the result must equal ``proto`` exactly."""
    path = os.path.join(tmp_path, "in.onnx")
    onnx.save(proto, path)
    for got in (roundtrip(path, tmp_path), roundtrip(proto.SerializeToString(), tmp_path, "out2.onnx")):
        if got != proto:
            pytest.fail(f"round trip differs:\n--- original\n{proto}\n--- saved\n{got}")
    return got


# ----------------------------------------------------------------------------- the official suite
@pytest.mark.parametrize("kind", ["node", "simple", "pytorch-converted", "pytorch-operator"])
def test_official_suite_roundtrips(kind, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind=kind)
    assert len(cases) > {"node": 1000, "simple": 10, "pytorch-converted": 50, "pytorch-operator": 20}[kind]
    out = str(tmp_path / "out.onnx")
    differ, errors = [], []
    for case in cases:
        if case.model is not None:
            original, source = case.model, case.model
        else:
            source = os.path.join(case.model_dir, "model.onnx")
            original = onnx.load(source, load_external_data=False)
        try:
            nnex.save(nnex.load(source), out)
            got = onnx.load(out, load_external_data=False)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{case.name}: {type(e).__name__}: {e}")
            continue
        if got != original:
            differ.append(case.name)
    assert not errors, f"{len(errors)} of {len(cases)} failed to round-trip: {errors[:20]}"
    assert not differ, f"{len(differ)} of {len(cases)} differ after the round trip: {differ}"


# ----------------------------------------------------------------------------- model-local functions
def _function_model() -> onnx.ModelProto:
    # LeakyScale(x; alpha, beta=2.0) = LeakyRelu(x, alpha) * beta, with a default for beta
    beta_const = helper.make_node("Constant", [], ["beta"], value_float=0.0)
    beta_const.attribute[0].CopyFrom(helper.make_attribute_ref("value_float", AttributeProto.FLOAT))
    beta_const.attribute[0].ref_attr_name = "beta"
    body = [
        helper.make_node("LeakyRelu", ["x"], ["l"]),
        beta_const,
        helper.make_node("CastLike", ["beta", "x"], ["b"]),
        helper.make_node("Mul", ["l", "b"], ["y"], doc_string="scale"),
    ]
    body[0].attribute.append(helper.make_attribute_ref("alpha", AttributeProto.FLOAT))
    default_beta = helper.make_attribute("beta", 2.0)
    fn = helper.make_function("custom.fn", "LeakyScale", ["x"], ["y"], body, OPSET, attributes=["alpha"],
                              attribute_protos=[default_beta], doc_string="a model-local function")
    fn.value_info.append(helper.make_tensor_value_info("l", TensorProto.FLOAT, None))
    e = fn.metadata_props.add()
    e.key, e.value = "origin", "test"
    # a second function calling the first (functions may call each other)
    fn2 = helper.make_function("custom.fn", "Twice", ["x"], ["y"],
                               [helper.make_node("LeakyScale", ["x"], ["t"], domain="custom.fn", alpha=0.5),
                                helper.make_node("LeakyScale", ["t"], ["y"], domain="custom.fn", alpha=0.5,
                                                 beta=3.0)],
                               OPSET + [helper.make_opsetid("custom.fn", 1)])
    g = helper.make_graph(
        [helper.make_node("LeakyScale", ["x"], ["a"], domain="custom.fn", alpha=0.1),
         helper.make_node("Twice", ["a"], ["y"], domain="custom.fn")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    return helper.make_model(g, opset_imports=OPSET + [helper.make_opsetid("custom.fn", 1)], functions=[fn, fn2],
                             ir_version=10)


def test_model_local_functions(tmp_path):
    proto = _function_model()
    onnx.checker.check_model(proto, full_check=True)
    got = assert_roundtrip(proto, tmp_path)
    onnx.checker.check_model(got, full_check=True)
    m = nnex.load(proto)
    assert sorted(m.functions) == [("custom.fn", "LeakyScale", ""), ("custom.fn", "Twice", "")]
    # the function model computes what onnxruntime computes
    x = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]], np.float32)
    want = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got_y = nnex.InferenceSession(proto.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(got_y, want, rtol=1e-6)
    a = np.where(x > 0, x, 0.1 * x) * 2.0
    t = np.where(a > 0, a, 0.5 * a) * 2.0
    np.testing.assert_allclose(want, np.where(t > 0, t, 0.5 * t) * 3.0, rtol=1e-6)


def test_function_overload(tmp_path):
    fn = helper.make_function("d", "F", ["x"], ["y"], [helper.make_node("Neg", ["x"], ["y"])], OPSET)
    fn.overload = "v2"
    g = helper.make_graph([helper.make_node("F", ["x"], ["y"], domain="d", overload="v2")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    proto = helper.make_model(g, opset_imports=OPSET + [helper.make_opsetid("d", 1)], functions=[fn], ir_version=10)
    onnx.checker.check_model(proto)
    assert_roundtrip(proto, tmp_path)


# ----------------------------------------------------------------------------- metadata and doc strings
def test_metadata_and_doc_strings(tmp_path):
    w = numpy_helper.from_array(np.arange(3, dtype=np.float32), "w")
    w.doc_string = "a weight"
    node = helper.make_node("Add", ["x", "w"], ["y"], name="add", doc_string="adds")
    e = node.metadata_props.add()
    e.key, e.value = "node-key", "node-value"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3], doc_string="the input")
    e = x.metadata_props.add()
    e.key, e.value = "vi-key", "vi-value"
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3], doc_string="the output")
    g = helper.make_graph([node], "graph-name", [x], [y], [w], doc_string="the graph")
    e = g.metadata_props.add()
    e.key, e.value = "graph-key", "graph-value"
    proto = helper.make_model(g, opset_imports=OPSET, producer_name="tests", producer_version="1.2",
                              domain="org.example", model_version=7, doc_string="the model \u00e9\u4e2d")
    helper.set_model_props(proto, {"author": "me", "license": "MIT", "empty": ""})
    onnx.checker.check_model(proto, full_check=True)
    assert_roundtrip(proto, tmp_path)
    m = nnex.load(proto)
    assert m.metadata_props == {"author": "me", "license": "MIT", "empty": ""}
    assert (m.producer_name, m.producer_version, m.domain, m.model_version) == ("tests", "1.2", "org.example", 7)
    assert m.graph.initializers["w"].const.doc_string == "a weight"


def test_fields_absent_or_present_with_default_values(tmp_path):
    """proto2 presence: a field set to its default differs from an absent one, and both survive."""
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "", [helper.make_tensor_value_info("x", 1, [2])],
                          [helper.make_tensor_value_info("y", 1, [2])])
    g.ClearField("name")
    g.node[0].name = ""  # present, empty
    g.node[0].domain = ""
    p = helper.make_model(g, opset_imports=OPSET)
    p.producer_name = ""
    p.model_version = 0
    p.opset_import[0].ClearField("domain")
    assert not p.graph.HasField("name") and p.HasField("producer_name")
    assert_roundtrip(p, tmp_path)


# ----------------------------------------------------------------------------- sparse initializers
def _sparse(name, values, indices, dims):
    return helper.make_sparse_tensor(numpy_helper.from_array(np.asarray(values, np.float32), name),
                                     numpy_helper.from_array(np.asarray(indices, np.int64), name + "_idx"), dims)


def test_sparse_initializers(tmp_path):
    sp = _sparse("s", [1.5, -2.0, 4.0], [0, 5, 11], [3, 4])
    sp2 = _sparse("s2", [7.0], [[1, 2]], [2, 3])  # 2-D (COO) indices
    attr_sp = _sparse("c", [3.0, 1.0], [1, 3], [4])
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "s"], ["y"]),
         helper.make_node("Constant", [], ["c"], sparse_value=attr_sp),
         helper.make_node("Identity", ["s2"], ["z"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4]),
              helper.make_tensor_value_info("s", TensorProto.FLOAT, [3, 4])],  # an overridable sparse initializer
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4]),
         helper.make_tensor_value_info("c", TensorProto.FLOAT, [4]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])],
        sparse_initializer=[sp, sp2])
    proto = helper.make_model(g, opset_imports=OPSET)
    onnx.checker.check_model(proto)  # (shape inference does not type sparse inputs of Add)
    assert_roundtrip(proto, tmp_path)
    m = nnex.load(proto)
    # the sparse initializer's Value is the one the Add reads
    add = m.graph.nodes[0]
    assert add.inputs[1].name == "s" and add.inputs[1].uses == ((add, 1),)
    assert m.graph.inputs[1] is add.inputs[1]  # the graph input "s" and the sparse initializer are one Value


# ----------------------------------------------------------------------------- subgraphs
def _if_loop_model() -> onnx.ModelProto:
    f = TensorProto.FLOAT
    # If: the branches read the outer x, an outer initializer w and an outer node output r
    then_g = helper.make_graph([helper.make_node("Add", ["r", "w"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", f, [3])])
    else_g = helper.make_graph([helper.make_node("Sub", ["x", "w"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", f, [3])])
    # Loop: body reads the outer w and, in a nested If, the outer r (two levels out)
    inner_then = helper.make_graph([helper.make_node("Mul", ["acc", "r"], ["it"])], "inner_then", [],
                                   [helper.make_tensor_value_info("it", f, [3])])
    inner_else = helper.make_graph([helper.make_node("Identity", ["acc"], ["ie"])], "inner_else", [],
                                   [helper.make_tensor_value_info("ie", f, [3])])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["acc", "w"], ["acc2"]),
         helper.make_node("Cast", ["i"], ["i_f"], to=TensorProto.FLOAT),
         helper.make_node("Less", ["i_f", "one"], ["first"]),
         helper.make_node("If", ["first"], ["acc_out"], then_branch=inner_then, else_branch=inner_else),
         helper.make_node("Add", ["acc_out", "acc2"], ["scan_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc", f, [3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", f, [3]),
         helper.make_tensor_value_info("scan_out", f, [3])],
        [numpy_helper.from_array(np.array(1.0, np.float32), "one")])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("If", ["c"], ["y_if"], then_branch=then_g, else_branch=else_g),
        helper.make_node("Loop", ["n", "", "x"], ["y_loop", "y_scan"], body=body),
    ]
    g = helper.make_graph(nodes, "g",
                          [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                           helper.make_tensor_value_info("n", TensorProto.INT64, []),
                           helper.make_tensor_value_info("x", f, [3])],
                          [helper.make_tensor_value_info("y_if", f, [3]),
                           helper.make_tensor_value_info("y_loop", f, [3]),
                           helper.make_tensor_value_info("y_scan", f, [None, 3])],
                          [numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32), "w")])
    return helper.make_model(g, opset_imports=OPSET)


def test_if_loop_subgraphs_with_outer_scope(tmp_path):
    proto = _if_loop_model()
    onnx.checker.check_model(proto, full_check=True)
    got = assert_roundtrip(proto, tmp_path)
    # and the saved model still means the same to onnxruntime and to nnex
    feeds = {"c": np.array(True), "n": np.array(3, np.int64), "x": np.array([-1.0, 2.0, 3.0], np.float32)}
    want = ort.InferenceSession(got.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    mine = nnex.InferenceSession(got.SerializeToString()).run(None, feeds)
    for a, b in zip(mine, want):
        np.testing.assert_allclose(a, b, rtol=1e-6)


# ----------------------------------------------------------------------------- attributes of every type
def _every_attribute() -> list[onnx.AttributeProto]:
    t = numpy_helper.from_array(np.array([[1, -2], [3, 4]], np.int32), "t")
    t2 = helper.make_tensor("t2", TensorProto.STRING, [2], [b"a", "\u00e9\x00b".encode()])
    sub = helper.make_graph([helper.make_node("Identity", ["u"], ["v"])], "sub",
                            [helper.make_tensor_value_info("u", TensorProto.FLOAT, [1])],
                            [helper.make_tensor_value_info("v", TensorProto.FLOAT, [1])])
    sub2 = helper.make_graph([], "empty", [], [])
    sp = _sparse("sv", [1.0, 2.0], [0, 2], [3])
    tp = helper.make_tensor_type_proto(TensorProto.FLOAT16, ["N", 3])
    tp2 = helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.INT8, None))
    tp3 = helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.DOUBLE, [2]))
    attrs = [
        helper.make_attribute("f", 0.1),
        helper.make_attribute("f_neg_zero", -0.0),
        helper.make_attribute("f_tiny", 1e-45),
        helper.make_attribute("f_inf", float("-inf")),
        helper.make_attribute("i", -(2**63)),
        helper.make_attribute("i_zero", 0),
        helper.make_attribute("s", "h\u00e9llo"),
        helper.make_attribute("s_bytes", b"\xff\xfe\x00raw"),
        helper.make_attribute("s_empty", ""),
        helper.make_attribute("t", t),
        helper.make_attribute("g", sub),
        helper.make_attribute("sparse", sp),
        helper.make_attribute("tp", tp),
        helper.make_attribute("floats", [1.0, 2.5, -0.0, 3.4e38]),
        helper.make_attribute("ints", [2**63 - 1, 0, -1]),
        helper.make_attribute("strings", ["a", b"\x80", ""]),
        helper.make_attribute("tensors", [t, t2]),
        helper.make_attribute("graphs", [sub, sub2]),
        helper.make_attribute("sparse_tensors", [sp, _sparse("sw", [5.0], [1], [2])]),
        helper.make_attribute("type_protos", [tp, tp2, tp3]),
        helper.make_attribute("empty_ints", [], attr_type=AttributeProto.INTS),
        helper.make_attribute("empty_floats", [], attr_type=AttributeProto.FLOATS),
        helper.make_attribute("empty_graphs", [], attr_type=AttributeProto.GRAPHS),
    ]
    attrs[0].doc_string = "an attribute doc"
    return attrs


def test_attributes_of_every_type(tmp_path):
    attrs = _every_attribute()
    kinds = {a.type for a in attrs}
    assert kinds == set(AttributeProto.AttributeType.values()) - {AttributeProto.UNDEFINED}
    node = helper.make_node("Everything", ["x"], ["y"], domain="test.attrs")
    node.attribute.extend(attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    proto = helper.make_model(g, opset_imports=OPSET + [helper.make_opsetid("test.attrs", 1)])
    got = assert_roundtrip(proto, tmp_path)
    # the serialized attributes are byte for byte the same
    assert [a.SerializeToString() for a in got.graph.node[0].attribute] == [a.SerializeToString() for a in attrs]
    # and nnex's view of the values is onnx's
    m = nnex.load(proto)
    n = m.graph.nodes[0]
    for a in attrs:
        want = helper.get_attribute_value(a)
        mine = n.attributes[a.name]
        assert mine.type == a.type
        if a.type == AttributeProto.FLOAT:
            assert np.float32(mine.value).tobytes() == np.float32(want).tobytes(), a.name
        elif a.type in (AttributeProto.INT, AttributeProto.INTS, AttributeProto.FLOATS):
            assert list(np.atleast_1d(mine.value)) == list(np.atleast_1d(want)), a.name
        elif a.type == AttributeProto.STRING:
            assert mine.value.encode("utf-8", "surrogateescape") == want, a.name
        elif a.type == AttributeProto.STRINGS:
            assert [s.encode("utf-8", "surrogateescape") for s in mine.value] == want, a.name
        elif a.type == AttributeProto.TENSOR:
            np.testing.assert_array_equal(mine.value.numpy(), numpy_helper.to_array(want))
        elif a.type == AttributeProto.TENSORS:
            for x, y in zip(mine.value, want, strict=True):
                np.testing.assert_array_equal(x.numpy(), numpy_helper.to_array(y))
        elif a.type == AttributeProto.GRAPH:
            assert [nd.op_type for nd in mine.value] == [nd.op_type for nd in want.node]
        elif a.type == AttributeProto.GRAPHS:
            assert [len(x) for x in mine.value] == [len(x.node) for x in want]
        else:  # sparse tensors and type protos are kept as protos
            assert mine.value == want, a.name


def test_attribute_reference_without_value(tmp_path):
    ref = helper.make_attribute_ref("alpha", AttributeProto.FLOAT)
    assert not ref.HasField("f")
    fn = helper.make_function("d", "F", ["x"], ["y"], [helper.make_node("Elu", ["x"], ["y"])], OPSET,
                              attributes=["alpha"])
    fn.node[0].attribute.append(ref)
    g = helper.make_graph([helper.make_node("F", ["x"], ["y"], domain="d", alpha=0.5)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    proto = helper.make_model(g, opset_imports=OPSET + [helper.make_opsetid("d", 1)], functions=[fn])
    got = assert_roundtrip(proto, tmp_path)
    assert not got.functions[0].node[0].attribute[0].HasField("f")
    x = np.array([-1.0, 1.0], np.float32)
    np.testing.assert_allclose(nnex.InferenceSession(got.SerializeToString()).run(None, {"x": x})[0],
                               [0.5 * (np.exp(-1.0) - 1), 1.0], rtol=1e-6)


# ----------------------------------------------------------------------------- tensors of every element type
_DTYPES = [d for d in TensorProto.DataType.values() if d not in (TensorProto.UNDEFINED,)]


@pytest.mark.parametrize("dtype", _DTYPES, ids=[TensorProto.DataType.Name(d) for d in _DTYPES])
def test_initializer_of_every_element_type(dtype, tmp_path):
    try:
        np_dt = helper.tensor_dtype_to_np_dtype(dtype)
    except Exception:  # noqa: BLE001
        pytest.skip("no NumPy dtype")
    rng = np.random.default_rng(dtype)
    if dtype == TensorProto.STRING:
        arr = np.array([["x", "\u00e9"], ["", "long string"]], dtype=object)
    elif np.dtype(np_dt).kind == "b":
        arr = rng.integers(0, 2, (2, 3)).astype(bool)
    elif np.dtype(np_dt).kind in "iu" or dtype in (TensorProto.INT4, TensorProto.UINT4, TensorProto.INT2,
                                                     TensorProto.UINT2):
        arr = rng.integers(0, 2, (2, 3)).astype(np_dt)
    elif np.dtype(np_dt).kind == "c":
        arr = (rng.standard_normal((2, 3)) + 1j).astype(np_dt)
    else:
        arr = rng.standard_normal((2, 3)).astype(np_dt)
    # the same values stored two ways: from_array (raw_data) and make_tensor (typed fields)
    protos = [numpy_helper.from_array(arr, "a")]
    if dtype != TensorProto.STRING:
        try:
            protos.append(helper.make_tensor("b", dtype, arr.shape, arr.ravel().tolist() if np.dtype(np_dt).kind in
                                             "biufc" else arr.ravel()))
        except Exception:  # noqa: BLE001
            pass
    g = helper.make_graph([], "g", [], [helper.make_tensor_value_info(p.name, dtype, arr.shape) for p in protos],
                          protos)
    proto = helper.make_model(g, opset_imports=OPSET)
    assert_roundtrip(proto, tmp_path)
    m = nnex.load(proto)
    for p in protos:
        want = numpy_helper.to_array(p)
        got = m.graph.initializers[p.name].const.numpy()
        assert got.dtype == want.dtype and got.shape == want.shape
        if dtype == TensorProto.STRING:
            assert got.tolist() == want.tolist()
        else:
            np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
    # a Tensor made from the array writes a proto onnx reads back to the same values
    if dtype != TensorProto.STRING:
        back = numpy_helper.to_array(Tensor(arr, "c").to_proto())
        assert back.dtype == arr.dtype
        np.testing.assert_array_equal(back.view(np.uint8), arr.view(np.uint8))
    else:
        back = numpy_helper.to_array(Tensor(arr, "c").to_proto())
        assert [s.decode() if isinstance(s, bytes) else s for s in back.ravel()] == list(arr.ravel())


def test_training_info_kept(tmp_path):
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    proto = helper.make_model(g, opset_imports=OPSET)
    ti = proto.training_info.add()
    ti.algorithm.CopyFrom(helper.make_graph([helper.make_node("Neg", ["y"], ["z"])], "algo", [], []))
    assert_roundtrip(proto, tmp_path)
