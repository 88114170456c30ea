"""nnex.tools.bench: one model measured on nnex and onnxruntime, outputs compared."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import onnx
from onnx import TensorProto, helper, numpy_helper

from nnex.tools.bench import bench_model, compare_outputs, format_result, random_feeds


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """Gemm + Relu + Softmax over a symbolic batch: small, but every output value depends on the weights."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b")
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Softmax", ["r"], ["y"], axis=-1)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])
    graph = helper.make_graph(nodes, "tiny", [x], [y], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = tmp_path_factory.mktemp("bench") / "tiny.onnx"
    onnx.save(model, str(path))
    return str(path)


def test_bench_model_matches_onnxruntime(tiny_model):
    lines = []
    res = bench_model(tiny_model, providers=["numpy"], batch=4, repeat=5, reference=True,
                      progress=lines.append)
    assert res["inputs"] == {"x": {"shape": [4, 16], "dtype": "float32"}}
    nnex_rec, ort_rec = res["engines"]["nnex:numpy"], res["engines"]["onnxruntime"]
    for rec in (nnex_rec, ort_rec):
        assert rec["status"] == "ok" and rec["runs"] == 5
        assert 0 < rec["median_ms"] <= rec["p90_ms"] and rec["build_s"] >= 0
    cmp = nnex_rec["vs_onnxruntime"]
    assert cmp["pass"] is True and cmp["max_abs_diff"] < 1e-6 and cmp["max_rel_diff"] < 1e-4
    assert nnex_rec["ratio_vs_onnxruntime"] == pytest.approx(nnex_rec["median_ms"] / ort_rec["median_ms"])
    assert res["engines"]["reference"]["vs_onnxruntime"]["pass"] is True
    assert any("median" in ln for ln in lines)
    assert "nnex:numpy" in format_result(res)


def test_unavailable_provider_is_reported_not_raised(tiny_model):
    res = bench_model(tiny_model, providers=["no-such-backend"], batch=1, repeat=1)
    rec = res["engines"]["nnex:no-such-backend"]
    assert rec["status"] == "skipped" and "no-such-backend" in rec["note"]
    assert res["engines"]["onnxruntime"]["runs"] == 1


def test_memory_probe_sees_a_large_allocation(tmp_path):
    """A model whose one output is 64 MB: each engine's peak RSS must grow by at least that much."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [4096, 4096])
    node = helper.make_node("ConstantOfShape", ["shape"], ["y"],
                            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))
    graph = helper.make_graph([node], "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4096, 4096])], [shape])
    path = tmp_path / "big.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    res = bench_model(str(path), providers=["numpy"], inputs={"x": np.zeros(1, np.float32)}, repeat=1,
                      memory=True)
    for name in ("nnex:numpy", "onnxruntime"):
        mem = res["engines"][name]["memory"]
        assert "error" not in mem, mem
        assert 60 <= mem["peak_mb"] < 1000, (name, mem)


def test_compare_outputs_catches_a_wrong_value():
    want = [np.linspace(0, 1, 10, dtype=np.float32)]
    got = [want[0].copy()]
    got[0][3] += 0.01
    cmp = compare_outputs(got, want)
    assert cmp["pass"] is False and cmp["max_abs_diff"] == pytest.approx(0.01, rel=1e-3)
    assert compare_outputs([want[0][:5]], want)["pass"] is False       # shape mismatch


def test_random_feeds_fill_the_batch_dimension(tiny_model):
    feeds = random_feeds(tiny_model, batch=3)
    assert feeds["x"].shape == (3, 16) and feeds["x"].dtype == np.float32
