"""The ``nnex`` command line (nnex.cli) and the demo (nnex.demo)."""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

import nnex
from nnex import cli

ort = pytest.importorskip("onnxruntime")


# ----------------------------------------------------------------------------- helpers


def call(capsys, *argv):
    """(exit status, stdout, stderr) of ``nnex argv...`` run in-process."""
    code = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def assert_user_error(code, out, err, *fragments):
    assert code == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnex: error: "), err
    assert "Traceback" not in err + out
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def _save(model: onnx.ModelProto, path) -> str:
    onnx.save(model, str(path))
    return str(path)


@pytest.fixture
def cnn(tmp_path):
    from nnex.demo import build_model

    path = str(tmp_path / "cnn.onnx")
    nnex.save(build_model(), path)
    return path


@pytest.fixture
def mixed(tmp_path):
    """Inputs of several types and a symbolic dim: x float [N,4], idx int64 [K], flag bool [], s string [2]."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    table = rng.standard_normal((4, 2)).astype(np.float32)
    g = h.make_graph(
        [h.make_node("MatMul", ["x", "w"], ["y"]),
         h.make_node("Gather", ["table", "idx"], ["g"], axis=0),
         h.make_node("Not", ["flag"], ["nflag"]),
         h.make_node("Identity", ["s"], ["s_out"]),
         h.make_node("SequenceConstruct", ["y", "y"], ["seq"])],
        "mixed",
        [h.make_tensor_value_info("x", T.FLOAT, ["N", 4]), h.make_tensor_value_info("idx", T.INT64, ["K"]),
         h.make_tensor_value_info("flag", T.BOOL, []), h.make_tensor_value_info("s", T.STRING, [2])],
        [h.make_tensor_value_info("y", T.FLOAT, ["N", 3]), h.make_tensor_value_info("g", T.FLOAT, ["K", 2]),
         h.make_tensor_value_info("nflag", T.BOOL, []), h.make_tensor_value_info("s_out", T.STRING, [2]),
         h.make_tensor_sequence_value_info("seq", T.FLOAT, ["N", 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(table, "table")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 21)], ir_version=10)
    return _save(m, tmp_path / "mixed.onnx")


def _branch(name, op, out):
    return h.make_graph([h.make_node(op, ["a"], [f"{name}_t"]), h.make_node("Neg", [f"{name}_t"], [out])], name,
                        [], [h.make_tensor_value_info(out, T.FLOAT, [2, 3])])


@pytest.fixture
def rich(tmp_path):
    """Subgraphs (If, nested If), a model-local function, metadata, initializers, a custom-domain call."""
    fn = h.make_function("local", "Scale", ["x", "k"], ["y"],
                         [h.make_node("Mul", ["x", "k"], ["t"]), h.make_node("Relu", ["t"], ["y"])],
                         [h.make_opsetid("", 21)], attributes=["unused"])
    inner_if = h.make_node("If", ["cond"], ["inner"],
                           then_branch=_branch("inner_then", "Abs", "inner"),
                           else_branch=_branch("inner_else", "Exp", "inner"))
    then = h.make_graph([h.make_node("Sigmoid", ["a"], ["st"]), inner_if, h.make_node("Add", ["st", "inner"], ["o"])],
                        "then", [], [h.make_tensor_value_info("o", T.FLOAT, [2, 3])])
    els = _branch("else", "Tanh", "o2")
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    g = h.make_graph(
        [h.make_node("Add", ["x", "w"], ["a0"]),
         h.make_node("Scale", ["a0", "k"], ["a"], domain="local"),
         h.make_node("If", ["cond"], ["out"], then_branch=then, else_branch=els),
         h.make_node("Relu", ["out"], ["y"])],
        "rich",
        [h.make_tensor_value_info("x", T.FLOAT, [2, 3]), h.make_tensor_value_info("cond", T.BOOL, []),
         h.make_tensor_value_info("k", T.FLOAT, [])],
        [h.make_tensor_value_info("y", T.FLOAT, [2, 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.float32(2.0), "k")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 21), h.make_opsetid("local", 1)], ir_version=10,
                     functions=[fn], producer_name="tests", producer_version="9.9")
    h.set_model_props(m, {"author": "nnex tests", "license": "Apache-2.0"})
    return m, _save(m, tmp_path / "rich.onnx")


@pytest.fixture
def external(tmp_path):
    """A Gemm model whose weights live in an external data file."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((64, 32)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    g = h.make_graph([h.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], "ext",
                     [h.make_tensor_value_info("x", T.FLOAT, ["batch", 32])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["batch", 64])],
                     [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 21)], ir_version=10)
    d = tmp_path / "ext"
    d.mkdir()
    path = str(d / "model.onnx")
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
                    size_threshold=0)
    return path, str(d / "weights.bin"), w, b


@pytest.fixture
def unsupported(tmp_path):
    g = h.make_graph([h.make_node("Foo", ["x"], ["t"], domain="com.example", name="foo_node"),
                      h.make_node("Relu", ["t"], ["u"]),
                      h.make_node("Bar", ["u"], ["y"], domain="com.example")],
                     "unsupported", [h.make_tensor_value_info("x", T.FLOAT, [2])],
                     [h.make_tensor_value_info("y", T.FLOAT, [2])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 21), h.make_opsetid("com.example", 1)], ir_version=10)
    return _save(m, tmp_path / "unsupported.onnx")


def _proto_nodes(graph: onnx.GraphProto):
    for n in graph.node:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _proto_nodes(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sg in a.graphs:
                    yield from _proto_nodes(sg)


def _op_key(n):
    return f"{n.domain}::{n.op_type}" if n.domain else n.op_type


# ----------------------------------------------------------------------------- version / usage


def test_version(capsys):
    code, out, _ = call(capsys, "--version")
    assert code == 0
    assert out.startswith(f"nnex {nnex.__version__} ") and f"onnx {onnx.__version__}" in out


@pytest.mark.parametrize("argv", [
    [],                                    # no command
    ["frobnicate", "m.onnx"],              # unknown command
    ["run"],                               # missing model
    ["run", "m.onnx", "--repeat", "0"],    # not a positive integer
    ["run", "m.onnx", "--repeat", "abc"],
    ["run", "m.onnx", "--bogus"],          # unknown option
    ["info", "m.onnx", "extra"],
])
def test_usage_errors_exit_2(capsys, argv):
    code, _out, err = call(capsys, *argv)
    assert code == 2
    assert "usage: nnex" in err and "Traceback" not in err


def test_help_exits_0(capsys):
    code, out, _ = call(capsys, "run", "--help")
    assert code == 0 and "--output-dir" in out and "--dim" in out


# ----------------------------------------------------------------------------- run


def test_run_input_file_output_dir_matches_onnxruntime(capsys, cnn, tmp_path):
    x = np.random.default_rng(7).standard_normal((5, 3, 16, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out_dir = tmp_path / "outs"
    code, out, err = call(capsys, "run", cnn, "--input", f"image={tmp_path / 'x.npy'}", "--output-dir", out_dir,
                          "--repeat", 3)
    assert code == 0, err
    got = np.load(out_dir / "probs.npy")
    (ref,) = ort.InferenceSession(cnn, providers=["CPUExecutionProvider"]).run(None, {"image": x})
    assert got.shape == (5, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    # the printed summary is that of the saved output
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("probs:"))
    assert "shape [5, 10] float32" in line
    m = re.search(r"min (\S+)\s+max (\S+)\s+mean (\S+)", line)
    assert m, line
    np.testing.assert_allclose([float(v) for v in m.groups()], [got.min(), got.max(), got.mean()], rtol=1e-5)
    assert re.search(r"latency: [\d.]+ ms median over 3 runs", out)
    assert re.search(r"session build: [\d.]+ ms", out)
    assert "image: tensor(float) shape [5, 3, 16, 16]" in out


def test_run_random_inputs_of_each_type(capsys, mixed, tmp_path):
    out_dir = tmp_path / "o"
    code, out, err = call(capsys, "run", mixed, "--dim", "N=5", "--output-dir", out_dir, "--seed", 11)
    assert code == 0, err
    y, g, nflag, s_out = (np.load(out_dir / f"{n}.npy") for n in ("y", "g", "nflag", "s_out"))
    seq = np.load(out_dir / "seq.npz")
    assert y.shape == (5, 3) and y.dtype == np.float32      # --dim N=5
    assert g.shape == (1, 2)                                 # K: 1 by default
    assert nflag.shape == () and nflag.dtype == bool
    assert s_out.tolist() == ["a", "a"]                      # strings are "a"
    assert [seq[k].shape for k in sorted(seq.files)] == [(5, 3), (5, 3)]
    np.testing.assert_array_equal(seq["0"], y)
    # the same random inputs again, fed to onnxruntime, give the same outputs
    rng = np.random.default_rng(11)
    sess = nnex.InferenceSession(mixed)
    feeds = {a.name: cli.random_value(a.name, v.type, {"N": 5}, rng)
             for a, v in zip(sess.get_inputs(), sess.model.graph.inputs)}
    assert feeds["idx"].dtype == np.int64 and 0 <= feeds["idx"].min() and feeds["idx"].max() < 4
    ref = ort.InferenceSession(mixed, providers=["CPUExecutionProvider"]).run(["y", "g", "nflag"], feeds)
    np.testing.assert_allclose(y, ref[0], rtol=1e-6)
    np.testing.assert_array_equal(g, ref[1])
    np.testing.assert_array_equal(nflag, ref[2])
    assert "y: shape [5, 3] float32" in out
    assert "s_out: shape [2] string" in out and "first ['a', 'a']" in out
    assert "seq: sequence of 2 tensors" in out
    assert "(random)" in out


def test_run_default_symbolic_dim_is_1(capsys, cnn):
    code, out, err = call(capsys, "run", cnn)
    assert code == 0, err
    assert "image: tensor(float) shape [1, 3, 16, 16] (random)" in out
    assert "probs: shape [1, 10] float32" in out
    assert "median over 1 run" in out


@pytest.mark.parametrize("cond", [True, False])
def test_run_subgraphs_functions_and_initializer_override(capsys, rich, tmp_path, cond):
    _, path = rich
    rng = np.random.default_rng(5)
    feeds = {"x": rng.standard_normal((2, 3)).astype(np.float32), "cond": np.array(cond),
             "k": np.array(-0.5, np.float32)}  # k overrides its initializer
    args = []
    for name, arr in feeds.items():
        np.save(tmp_path / f"{name}.npy", arr)
        args += ["--input", f"{name}={tmp_path / f'{name}.npy'}"]
    code, _out, err = call(capsys, "run", path, *args, "--output-dir", tmp_path / "o")
    assert code == 0, err
    (ref,) = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)
    np.testing.assert_allclose(np.load(tmp_path / "o" / "y.npy"), ref, rtol=1e-6, atol=1e-6)


def test_run_bfloat16_through_npy(capsys, tmp_path):
    """.npy has no bfloat16: a float32 file feeds a bfloat16 input, a bfloat16 output is saved as float32."""
    g = h.make_graph([h.make_node("Identity", ["a"], ["a/out:0"]), h.make_node("Neg", ["a"], ["a_out_0"])], "g",
                     [h.make_tensor_value_info("a", T.BFLOAT16, [3])],
                     [h.make_tensor_value_info("a/out:0", T.BFLOAT16, [3]),
                      h.make_tensor_value_info("a_out_0", T.BFLOAT16, [3])])
    path = _save(h.make_model(g, opset_imports=[h.make_opsetid("", 21)], ir_version=10), tmp_path / "bf.onnx")
    np.save(tmp_path / "a.npy", np.array([1.5, -2.0, 1 / 3], np.float32))
    code, out, err = call(capsys, "run", path, "--input", f"a={tmp_path / 'a.npy'}", "-o", tmp_path / "o")
    assert code == 0, err
    first, second = np.load(tmp_path / "o" / "a_out_0.npy"), np.load(tmp_path / "o" / "a_out_0_1.npy")
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, [1.5, -2.0, 0.333984375])  # 1/3 rounded to bfloat16
    np.testing.assert_array_equal(second, -first)                  # distinct files for clashing names
    assert "saved a/out:0 ->" in out and "as float32: .npy has no bfloat16" in out


def test_run_providers_numpy(capsys, cnn):
    code, out, err = call(capsys, "run", cnn, "--providers", "numpy")
    assert code == 0, err
    assert "provider: numpy" in out


# ----------------------------------------------------------------------------- run: user errors


def test_missing_model_file(capsys, tmp_path):
    for cmd in ("run", "info", "check"):
        assert_user_error(*call(capsys, cmd, tmp_path / "nope.onnx"), "not found")


def test_not_an_onnx_model(capsys, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xfe this is not a protobuf \x00\x01")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    for path in (bad, empty):
        for cmd in ("run", "info", "check"):
            assert_user_error(*call(capsys, cmd, path), "not an ONNX model")


def test_folder_instead_of_model(capsys, tmp_path):
    assert_user_error(*call(capsys, "info", tmp_path), "folder")


@pytest.mark.parametrize("spec", ["image", "=x.npy", "image="])
def test_bad_input_spec(capsys, cnn, spec):
    assert_user_error(*call(capsys, "run", cnn, "--input", spec), "bad --input", "NAME=FILE.npy")


def test_input_file_missing_or_not_npy(capsys, cnn, tmp_path):
    assert_user_error(*call(capsys, "run", cnn, "--input", f"image={tmp_path / 'none.npy'}"), "file not found")
    junk = tmp_path / "junk.npy"
    junk.write_text("not numpy")
    assert_user_error(*call(capsys, "run", cnn, "--input", f"image={junk}"), "not a .npy file")
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_user_error(*call(capsys, "run", cnn, "--input", f"image={obj}"), "pickle")


def test_unknown_input_name(capsys, cnn, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 16, 16), np.float32))
    assert_user_error(*call(capsys, "run", cnn, "--input", f"imgae={tmp_path / 'x.npy'}"),
                      "unknown input 'imgae'", "['image']")


def test_wrong_dtype_rank_and_shape(capsys, cnn, tmp_path):
    np.save(tmp_path / "f64.npy", np.zeros((1, 3, 16, 16), np.float64))
    np.save(tmp_path / "rank3.npy", np.zeros((3, 16, 16), np.float32))
    np.save(tmp_path / "dim.npy", np.zeros((1, 3, 15, 16), np.float32))
    assert_user_error(*call(capsys, "run", cnn, "--input", f"image={tmp_path / 'f64.npy'}"),
                      "tensor(float)", "float64")
    assert_user_error(*call(capsys, "run", cnn, "--input", f"image={tmp_path / 'rank3.npy'}"), "rank 4")
    assert_user_error(*call(capsys, "run", cnn, "--input", f"image={tmp_path / 'dim.npy'}"),
                      "dimension 2 must be 16")


def test_bad_dim_spec(capsys, cnn):
    assert_user_error(*call(capsys, "run", cnn, "--dim", "N"), "bad --dim")
    assert_user_error(*call(capsys, "run", cnn, "--dim", "N=four"), "integer")
    assert_user_error(*call(capsys, "run", cnn, "--dim", "batch=4"), "no symbolic dimension", "['N']")


def test_unavailable_provider(capsys, cnn):
    assert_user_error(*call(capsys, "run", cnn, "--providers", "NoSuchExecutionProvider"), "provider")


def test_unsupported_op_in_run(capsys, unsupported):
    assert_user_error(*call(capsys, "run", unsupported), "com.example::Foo", "not implemented by nnex")


def test_debug_shows_traceback(capsys, unsupported):
    for argv in (["--debug", "run", unsupported], ["run", unsupported, "--debug"]):
        code, _out, err = call(capsys, *argv)
        assert code == 1
        assert "Traceback (most recent call last)" in err and "UnsupportedOpError" in err
        assert err.strip().splitlines()[-1].startswith("nnex: error: ")


# ----------------------------------------------------------------------------- info


def test_info_counts_match_onnx(capsys, rich):
    proto, path = rich
    code, out, err = call(capsys, "info", path, "--json")
    assert code == 0, err
    info = json.loads(out)
    nodes = list(_proto_nodes(proto.graph))
    assert info["nodes"] == len(nodes) == 13
    assert info["nodes_main_graph"] == len(proto.graph.node)
    assert info["op_counts"] == dict(collections.Counter(_op_key(n) for n in nodes))
    assert list(info["op_counts"].values()) == sorted(info["op_counts"].values(), reverse=True)
    assert info["parameters"] == sum(int(np.prod(t.dims)) for t in proto.graph.initializer) == 7
    assert info["initializers"] == len(proto.graph.initializer)
    assert info["ir_version"] == proto.ir_version
    assert info["producer_name"] == "tests" and info["producer_version"] == "9.9"
    assert info["opset_imports"] == {"ai.onnx": 21, "local": 1}
    assert [i["name"] for i in info["inputs"]] == ["x", "cond"]          # k has an initializer
    assert [i["name"] for i in info["overridable_initializers"]] == ["k"]
    assert info["inputs"][0] == {"name": "x", "type": "tensor(float)", "shape": [2, 3]}
    assert info["outputs"] == [{"name": "y", "type": "tensor(float)", "shape": [2, 3]}]
    assert info["metadata"] == {"author": "nnex tests", "license": "Apache-2.0"}
    (f,) = info["functions"]
    assert (f["domain"], f["name"], f["inputs"], f["outputs"], f["nodes"]) == ("local", "Scale", ["x", "k"], ["y"], 2)
    assert info["function_calls"] == 1
    assert info["size_on_disk_bytes"] == os.path.getsize(path)

    # the text form says the same
    code, text, _ = call(capsys, "info", path)
    assert code == 0
    assert f"nodes: 13 ({len(proto.graph.node)} in the main graph, {13 - len(proto.graph.node)} in subgraphs)" in text
    assert "  Neg:" in text and "  local::Scale:" in text
    assert "ai.onnx: 21" in text and "local: 1" in text
    assert "x: tensor(float) [2, 3]" in text and "cond: tensor(bool) []" in text
    assert "parameters: 7 in 2 initializers" in text
    assert "local::Scale(x, k) -> (y): 2 nodes" in text
    assert "author: nnex tests" in text
    assert "producer: tests 9.9" in text


def test_info_shapes_as_onnxruntime_prints_them(capsys, tmp_path):
    g = h.make_graph([h.make_node("Add", ["x", "y"], ["z"])], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, ["N", None, 3]),
                      h.make_tensor_value_info("y", T.FLOAT, None)],
                     [h.make_tensor_value_info("z", T.FLOAT, None)])
    path = _save(h.make_model(g, opset_imports=[h.make_opsetid("", 21)], ir_version=10), tmp_path / "s.onnx")
    code, out, _ = call(capsys, "info", path)
    assert code == 0
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for a in sess.get_inputs() + sess.get_outputs():
        assert f"{a.name}: {a.type} {a.shape}" in out


def test_info_external_data_without_reading_it(capsys, external, monkeypatch):
    path, data_path, w, b = external

    def no_read(*a, **k):
        raise AssertionError("info read tensor data")

    monkeypatch.setattr(nnex.ir.tensor.Tensor, "numpy", no_read)
    monkeypatch.setattr(nnex.ir.tensor, "read_external", no_read)
    code, out, err = call(capsys, "info", path, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["parameters"] == w.size + b.size
    assert info["parameter_bytes"] == 4 * (w.size + b.size)
    assert info["external_initializers"] == 2 and info["external_data_files"] == 1
    assert info["external_data_bytes"] == os.path.getsize(data_path)
    assert info["size_on_disk_bytes"] == os.path.getsize(path) + os.path.getsize(data_path)
    code, text, _ = call(capsys, "info", path)
    assert "external data" in text and "in 1 file" in text and "2 stored externally" in text


# ----------------------------------------------------------------------------- check


def test_check_ok(capsys, cnn, rich):
    for path in (cnn, rich[1]):
        code, out, err = call(capsys, "check", path)
        assert (code, out, err) == (0, "OK\n", "")


def test_check_external_data(capsys, external, tmp_path):
    path = external[0]
    code, out, err = call(capsys, "check", path)
    assert (code, out.strip()) == (0, "OK"), err
    # and run it: the external weights are used
    x = np.random.default_rng(0).standard_normal((2, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, err = call(capsys, "run", path, "--input", f"x={tmp_path / 'x.npy'}", "-o", tmp_path / "o")
    assert code == 0, err
    (ref,) = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(np.load(tmp_path / "o" / "y.npy"), ref, rtol=1e-5, atol=1e-5)


def test_check_reports_every_unsupported_op(capsys, unsupported):
    code, out, err = call(capsys, "check", unsupported)
    assert_user_error(code, out, err, "problem")
    lines = out.strip().splitlines()
    assert any("com.example::Foo" in ln and "foo_node" in ln for ln in lines), out
    assert any("com.example::Bar" in ln for ln in lines), out
    assert all(ln.startswith(("onnx checker: ", "nnex: ")) for ln in lines)


def test_check_reports_checker_errors(capsys, tmp_path):
    g = h.make_graph([h.make_node("Relu", ["x"], ["y"], foo=1)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [2])], [h.make_tensor_value_info("y", T.FLOAT, [2])])
    path = _save(h.make_model(g, opset_imports=[h.make_opsetid("", 21)], ir_version=10), tmp_path / "bad.onnx")
    code, out, err = call(capsys, "check", path)
    assert_user_error(code, out, err, "1 problem")
    (line,) = out.strip().splitlines()
    assert line.startswith("onnx checker: ") and "Unrecognized attribute: foo" in line


# ----------------------------------------------------------------------------- summaries


def test_summarize():
    s = cli.summarize(np.array([[1.0, np.nan], [3.0, -1.0]], np.float32))
    assert "shape [2, 2] float32" in s and "min -1  max 3  mean 1" in s and "nan 1" in s
    assert "min 0  max 5" in cli.summarize(np.arange(6, dtype=np.int64))
    assert "true 2/3" in cli.summarize(np.array([True, False, True]))
    assert cli.summarize(np.zeros((0, 3), np.float32)) == "shape [0, 3] float32 (empty)"
    assert cli.summarize(None).startswith("None")
    assert cli.summarize([np.zeros(2)]).startswith("sequence of 1 tensors")


# ----------------------------------------------------------------------------- the installed script


def test_installed_entry_point(cnn, tmp_path):
    exe = shutil.which("nnex", path=os.path.dirname(sys.executable)) or shutil.which("nnex")
    if exe is None:
        pytest.skip("the nnex script is not installed (pip install -e .)")
    r = subprocess.run([exe, "run", cnn, "--dim", "N=2", "-o", str(tmp_path / "o")], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert "probs: shape [2, 10] float32" in r.stdout
    assert np.load(tmp_path / "o" / "probs.npy").shape == (2, 10)
    r = subprocess.run([exe, "info", str(tmp_path / "missing.onnx")], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 1
    assert r.stderr.startswith("nnex: error: ") and "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- demo


def test_demo(capsys, tmp_path):
    from nnex import demo

    t0 = time.perf_counter()
    code = demo.main(["--out", str(tmp_path / "demo"), "--repeat", "3"])
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert code == 0
    path = tmp_path / "demo" / demo.MODEL_NAME
    assert path.is_file() and (tmp_path / "demo" / "image.npy").is_file()
    m = re.search(r"max abs difference nnex vs onnxruntime: (\S+)", out)
    assert m, out
    assert float(m.group(1)) < 1e-5
    assert "same predicted classes: yes" in out
    assert re.search(r"latency \(median of 3\): nnex [\d.]+ ms, onnxruntime [\d.]+ ms", out)
    # the model is what the demo says, and `nnex info` is shown for it
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [n.op_type for n in proto.graph.node] == ["Conv", "Relu", "MaxPool", "Conv", "Relu", "GlobalAveragePool",
                                                     "Flatten", "Gemm", "Softmax"]
    assert f"nodes: {len(proto.graph.node)} " in out
    assert f"parameters: {sum(int(np.prod(t.dims)) for t in proto.graph.initializer):,} " in out
    # independent check of the saved model and input with onnxruntime: rows are distributions
    x = np.load(tmp_path / "demo" / "image.npy")
    (p,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x})
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert elapsed < 10


# ----------------------------------------------------------------------------- optimize and bench


def test_optimize_writes_a_checked_model_with_the_same_outputs(capsys, cnn, tmp_path):
    import onnxruntime as ort

    out_path = str(tmp_path / "opt.onnx")
    code, out, err = call(capsys, "optimize", cnn, "-o", out_path)
    assert code == 0, err
    assert "wrote" in out
    onnx.checker.check_model(onnx.load(out_path), full_check=True)
    sess_in = ort.InferenceSession(cnn, providers=["CPUExecutionProvider"])
    name = sess_in.get_inputs()[0].name
    shape = [d if isinstance(d, int) else 2 for d in sess_in.get_inputs()[0].shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want = sess_in.run(None, {name: x})
    got = ort.InferenceSession(out_path, providers=["CPUExecutionProvider"]).run(None, {name: x})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_optimize_missing_file_is_a_user_error(capsys, tmp_path):
    code, out, err = call(capsys, "optimize", str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "o.onnx"))
    assert_user_error(code, out, err, "not found")


def test_bench_reports_nnex_against_onnxruntime(capsys, cnn, tmp_path):
    js = str(tmp_path / "bench.json")
    code, out, err = call(capsys, "bench", cnn, "--providers", "numpy", "-n", "3", "--json", js)
    assert code == 0, err
    assert "onnxruntime" in out and "nnex:numpy" in out
    with open(js) as f:
        result = json.load(f)
    ours = result["engines"]["nnex:numpy"]
    assert result["engines"]["onnxruntime"]["status"] == "ok"
    assert ours["status"] == "ok" and ours["runs"] == 3
    assert ours["vs_onnxruntime"]["pass"] and ours["vs_onnxruntime"]["max_abs_diff"] < 1e-5


def test_convert_a_pickled_sklearn_model_matches_predict_proba(capsys, tmp_path):
    pytest.importorskip("sklearn")
    import pickle

    import onnxruntime as ort
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    clf = LogisticRegression().fit(X, y)
    pkl, npy, out_path = tmp_path / "m.pkl", tmp_path / "x.npy", tmp_path / "m.onnx"
    pkl.write_bytes(pickle.dumps(clf))
    np.save(npy, X[:5])
    with pytest.warns(UserWarning):
        code, out, err = call(capsys, "convert", pkl, "--sample", npy, "-o", out_path)
    assert code == 0, err
    sess = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    label, proba = sess.run(None, {sess.get_inputs()[0].name: X})
    np.testing.assert_array_equal(label, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-4, atol=1e-5)
