"""External data: unsafe locations are refused without opening anything outside the model's folder
(the classes of onnx CVE-2022-25882, CVE-2024-27318, CVE-2026-27489/34446/34447), and safe external
data is read lazily and gives the values onnx and onnxruntime see."""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

import nnex

W = np.arange(12, dtype=np.float32).reshape(3, 4) / 7.0
SECRET = W.tobytes()  # the file outside the folder holds exactly the bytes a naive loader would accept


# ----------------------------------------------------------------------------- recording file opens
class _OpenRecorder:
    """Every path opened (builtins.open, io.open, os.open, ...) and every file mmap'ed, via the audit hook.

    An audit hook cannot be removed, so one is installed per process and records only while active.
    """

    active: list | None = None
    installed = False

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            sys.addaudithook(cls._hook)
            cls.installed = True

    @classmethod
    def _hook(cls, event: str, args) -> None:
        rec = cls.active
        if rec is None:
            return
        if event == "open":
            path = args[0]
        elif event == "mmap.__new__":
            path = args[0]  # a file descriptor (-1 for anonymous maps)
            if path == -1:
                return
        else:
            return
        if isinstance(path, int):
            try:
                path = os.readlink(f"/proc/self/fd/{path}")
            except OSError:
                path = f"<fd {path}>"
        rec.append((event, os.fsdecode(path)))


@pytest.fixture
def opened():
    """Yields a list that receives (event, path) for every file opened or mapped while the test runs."""
    _OpenRecorder.install()
    rec: list = []
    _OpenRecorder.active = rec
    try:
        yield rec
    finally:
        _OpenRecorder.active = None


def _inside(path: str, folder) -> bool:
    real = os.path.realpath(path)
    base = os.path.realpath(folder)
    return os.path.commonpath([real, base]) == base


def assert_nothing_opened_outside(rec, folder) -> None:
    outside = [(ev, p) for ev, p in rec if not _inside(p, folder)]
    assert not outside, f"files opened outside the model folder {folder}: {outside}"


# ----------------------------------------------------------------------------- model making
def external_tensor(name: str, arr: np.ndarray, location: str, offset=None, length=None) -> TensorProto:
    t = numpy_helper.from_array(arr, name)
    set_external_data(t, location, offset=offset, length=length)
    t.data_location = TensorProto.EXTERNAL
    t.ClearField("raw_data")
    return t


def model_with_initializer(init: TensorProto) -> onnx.ModelProto:
    g = helper.make_graph(
        [helper.make_node("Add", ["x", init.name], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(init.dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(init.dims))],
        [init],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.fixture
def layout(tmp_path):
    """tmp_path/secret.bin (outside) and tmp_path/model/ (the model's folder)."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(SECRET)
    folder = tmp_path / "model"
    folder.mkdir()
    # warm up: one full load + read of a safe external model, so lazy imports don't show up as opens
    (folder / "warm.bin").write_bytes(SECRET)
    warm = folder / "warm.onnx"
    onnx.save(model_with_initializer(external_tensor("w", W, "warm.bin")), warm)
    nnex.load(warm).graph.initializers["w"].const.numpy()
    return tmp_path, folder, secret


def _write(folder, location: str, name: str = "weights_T") -> str:
    path = os.path.join(folder, "model.onnx")
    onnx.save(model_with_initializer(external_tensor(name, W, location)), path)
    return path


def _refused(path, folder, rec, tensor: str = "weights_T") -> None:
    rec.clear()
    with pytest.raises(nnex.ExternalDataError) as ei:
        m = nnex.load(path)
        for v in m.graph.initializers.values():
            v.const.numpy()
    assert tensor in str(ei.value), f"message does not name the tensor: {ei.value}"
    assert_nothing_opened_outside(rec, folder)
    # the recorder does see opens: the model file itself was opened
    assert any(os.path.realpath(p) == os.path.realpath(path) for _, p in rec), rec


# ----------------------------------------------------------------------------- the refusals
def test_absolute_location(layout, opened):
    _, folder, secret = layout
    path = _write(folder, str(secret))
    _refused(path, folder, opened)
    assert not any(os.path.realpath(p) == str(secret.resolve()) for _, p in opened)


def test_parent_location(layout, opened):
    _, folder, _ = layout
    _refused(_write(folder, "../secret.bin"), folder, opened)


def test_location_leaving_through_subfolder(layout, opened):
    _, folder, _ = layout
    (folder / "a").mkdir()
    _refused(_write(folder, "a/../../secret.bin"), folder, opened)


def test_symlinked_file(layout, opened):
    _, folder, secret = layout
    os.symlink(secret, folder / "w.bin")
    assert (folder / "w.bin").read_bytes() == SECRET  # a naive loader would get the secret's bytes
    _refused(_write(folder, "w.bin"), folder, opened)


def test_file_under_symlinked_folder(layout, opened):
    tmp, folder, _ = layout
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(SECRET)
    os.symlink(outside, folder / "sub", target_is_directory=True)
    _refused(_write(folder, "sub/w.bin"), folder, opened)


def test_hard_link_to_outside_file(layout, opened):
    _, folder, secret = layout
    os.link(secret, folder / "w.bin")
    assert os.stat(folder / "w.bin").st_ino == os.stat(secret).st_ino
    _refused(_write(folder, "w.bin"), folder, opened)


@pytest.mark.parametrize("location", ["..\\secret.bin", "sub\\..\\..\\secret.bin", "C:/secret.bin", "C:secret.bin",
                                      "\\\\server\\share\\secret.bin"])
def test_windows_style_locations(layout, opened, location):
    _, folder, _ = layout
    # make the literal POSIX reading of the location exist inside the folder, so that only the
    # Windows reading (which leaves the folder or is absolute) can be the reason for refusing
    literal = folder / location
    literal.parent.mkdir(parents=True, exist_ok=True)
    literal.write_bytes(SECRET)
    _refused(_write(folder, location), folder, opened)


def test_offset_and_length_past_end(layout, opened):
    _, folder, _ = layout
    (folder / "w.bin").write_bytes(SECRET)  # 48 bytes
    path = os.path.join(folder, "model.onnx")
    onnx.save(model_with_initializer(external_tensor("weights_T", W, "w.bin", offset=16, length=48)), path)
    _refused(path, folder, opened)


def test_length_past_end_of_short_file(layout, opened):
    _, folder, _ = layout
    (folder / "w.bin").write_bytes(SECRET[:20])  # shorter than the tensor
    _refused(_write(folder, "w.bin"), folder, opened)


def test_model_from_bytes_with_external_data(layout, opened, monkeypatch):
    _, folder, _ = layout
    (folder / "w.bin").write_bytes(SECRET)
    data = model_with_initializer(external_tensor("weights_T", W, "w.bin")).SerializeToString()
    monkeypatch.chdir(folder)  # a loader resolving against the working folder would find w.bin
    opened.clear()
    with pytest.raises(nnex.ExternalDataError, match="weights_T"):
        nnex.load(data)
    assert opened == []


def test_external_tensor_in_subgraph_is_checked_at_load(layout, opened):
    _, folder, _ = layout
    inner = external_tensor("inner_T", W, "../secret.bin")
    branch = helper.make_graph([helper.make_node("Add", ["x", "inner_T"], ["t"])], "then",
                               [], [helper.make_tensor_value_info("t", TensorProto.FLOAT, [3, 4])], [inner])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else",
                              [], [helper.make_tensor_value_info("e", TensorProto.FLOAT, [3, 4])])
    g = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=other)], "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])])
    path = os.path.join(folder, "model.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    opened.clear()
    with pytest.raises(nnex.ExternalDataError, match="inner_T"):
        nnex.load(path)  # at load, not only when the branch is first run
    assert_nothing_opened_outside(opened, folder)


def test_external_tensor_in_constant_attribute(layout, opened):
    _, folder, _ = layout
    value = external_tensor("const_T", W, "../secret.bin")
    g = helper.make_graph([helper.make_node("Constant", [], ["y"], value=value)], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])])
    path = os.path.join(folder, "model.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    opened.clear()
    with pytest.raises(nnex.ExternalDataError, match="const_T"):
        nnex.load(path)
    assert_nothing_opened_outside(opened, folder)


def test_onnx_itself_refuses_parent_location(layout):
    """Sanity check of the fixture: the model really is one onnx considers unsafe."""
    _, folder, _ = layout
    path = _write(folder, "../secret.bin")
    with pytest.raises(Exception):
        onnx.load(path)


# ----------------------------------------------------------------------------- the safe path
def _mlp_proto():
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((16, 64)).astype(np.float32)
    b1 = rng.standard_normal(64).astype(np.float32)
    w2 = rng.standard_normal((64, 8)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["y"])]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])],
                          [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"))])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), {"w1": w1, "b1": b1, "w2": w2}


def test_save_external_writes_data_file_onnx_reads(tmp_path):
    proto, arrays = _mlp_proto()
    path = tmp_path / "mlp.onnx"
    nnex.save(nnex.load(proto), path, external_data=True)
    data = tmp_path / "mlp.onnx.data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.onnx", "mlp.onnx.data"]
    raw = onnx.load(str(path), load_external_data=False)
    locations = {t.name: {e.key: e.value for e in t.external_data}.get("location") for t in raw.graph.initializer
                 if t.data_location == TensorProto.EXTERNAL}
    assert locations == {"w1": "mlp.onnx.data", "w2": "mlp.onnx.data"}  # b1 (256 bytes) is under the threshold
    assert os.path.getsize(data) >= arrays["w1"].nbytes + arrays["w2"].nbytes
    full = onnx.load(str(path))
    got = {t.name: numpy_helper.to_array(t) for t in full.graph.initializer}
    assert set(got) == set(arrays)
    for k, a in arrays.items():
        np.testing.assert_array_equal(got[k], a)
    onnx.checker.check_model(str(path), full_check=True)


def test_external_model_loads_lazily_and_runs_like_onnxruntime(tmp_path, opened):
    proto, arrays = _mlp_proto()
    path = str(tmp_path / "mlp.onnx")
    nnex.save(proto, path, external_data=True)
    data_path = os.path.realpath(path + ".data")
    opened.clear()
    m = nnex.load(path)
    assert not any(os.path.realpath(p) == data_path for _, p in opened), "data file read at load"
    w1 = m.graph.initializers["w1"].const
    assert w1.is_external and w1._array is None
    assert m.graph.initializers["w2"].const._array is None
    np.testing.assert_array_equal(w1.numpy(), arrays["w1"])
    assert w1._array is not None
    assert any(os.path.realpath(p) == data_path for _, p in opened)  # read only now, by mmap
    assert_nothing_opened_outside(opened, tmp_path)
    np.testing.assert_array_equal(m.graph.initializers["w2"].const.numpy(), arrays["w2"])

    x = np.random.default_rng(1).standard_normal((5, 16)).astype(np.float32)
    want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = nnex.InferenceSession(path).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(want, np.maximum(x @ arrays["w1"] + arrays["b1"], 0) @ arrays["w2"], rtol=1e-4,
                               atol=1e-4)


def test_resave_over_own_data_file(tmp_path):
    """Saving a lazily loaded model onto its own path replaces the data file it is mapped from."""
    proto, arrays = _mlp_proto()
    path = str(tmp_path / "mlp.onnx")
    nnex.save(proto, path, external_data=True)
    m = nnex.load(path)
    m.graph.initializers["w1"].const.numpy()  # mapped now
    nnex.save(m, path, external_data=True)
    full = onnx.load(path)
    for t in full.graph.initializer:
        np.testing.assert_array_equal(numpy_helper.to_array(t), arrays[t.name])


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE,
                                   TensorProto.INT64, TensorProto.INT8, TensorProto.UINT16, TensorProto.BOOL,
                                   TensorProto.INT4, TensorProto.UINT4, TensorProto.FLOAT8E4M3FN,
                                   TensorProto.COMPLEX64])
def test_external_values_of_every_layout(tmp_path, dtype):
    """Tensors that onnx itself writes as external data (one file, several offsets) read back identically."""
    rng = np.random.default_rng(dtype)
    np_dt = helper.tensor_dtype_to_np_dtype(dtype)
    shape = (3, 5, 7)
    if dtype in (TensorProto.INT4,):
        vals = rng.integers(-8, 8, shape)
    elif dtype in (TensorProto.UINT4,):
        vals = rng.integers(0, 16, shape)
    elif dtype == TensorProto.BOOL:
        vals = rng.integers(0, 2, shape).astype(bool)
    elif dtype == TensorProto.COMPLEX64:
        vals = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    elif np.issubdtype(np.dtype(np_dt), np.integer):
        vals = rng.integers(0, 100, shape)
    else:
        vals = rng.standard_normal(shape)
    arr = np.asarray(vals).astype(np_dt)
    t1 = numpy_helper.from_array(arr, "a")
    t2 = numpy_helper.from_array(arr[::-1].copy(), "b")
    g = helper.make_graph([helper.make_node("Identity", ["a"], ["ya"]), helper.make_node("Identity", ["b"], ["yb"])],
                          "g", [], [helper.make_tensor_value_info("ya", dtype, shape),
                                    helper.make_tensor_value_info("yb", dtype, shape)], [t1, t2])
    path = str(tmp_path / "m.onnx")
    onnx.save_model(helper.make_model(g), path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="w.bin", size_threshold=0)
    raw = onnx.load(path, load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in raw.graph.initializer)
    want = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    m = nnex.load(path)
    for name in ("a", "b"):
        t = m.graph.initializers[name].const
        assert t._array is None
        got = t.numpy()
        assert got.dtype == want[name].dtype and got.shape == want[name].shape
        np.testing.assert_array_equal(got.view(np.uint8), want[name].view(np.uint8))
