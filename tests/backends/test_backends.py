"""Backend selection, array conversion, host values and JAX's 64-bit mode."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper

import nnex
from nnex.backends import UnsupportedDtypeError, available_backends, get_backend


def _model(nodes, inputs, outputs, opset=21, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


# --------------------------------------------------------------------------- selection


def test_default_and_onnxruntime_names_select_numpy():
    assert get_backend(None).name == "numpy"
    assert get_backend(["CPUExecutionProvider"]).name == "numpy"
    assert "numpy" in available_backends()


def test_unknown_provider_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match=r"'tpu': unknown provider \(known: numpy, torch"):
        get_backend(["tpu"])


def test_first_usable_provider_wins():
    # CUDA first, CPU as the fallback: the onnxruntime idiom
    b = get_backend(["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert b.name in ("torch", "numpy")
    if b.name == "numpy":
        pytest.importorskip("torch")
        with pytest.raises(ValueError, match="torch:cuda"):
            get_backend(["torch:cuda"])


# --------------------------------------------------------------------------- arrays

_DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64,
           np.float16, np.float32, np.float64, np.complex64, np.complex128, ml_dtypes.bfloat16,
           ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.int4, ml_dtypes.uint4,
           ml_dtypes.float4_e2m1fn]


def _sample(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.array([[True, False, True]])
    if dtype.kind == "c":
        return np.array([[1 + 2j, -3.5j, 0]], dtype=dtype)
    return np.array([[0, 1, 3]], dtype=np.float32).astype(dtype)


@pytest.mark.parametrize("provider", ["torch", "jax"])
@pytest.mark.parametrize("dtype", _DTYPES, ids=lambda d: np.dtype(d).name)
def test_arrays_round_trip_with_their_dtype(provider, dtype):
    pytest.importorskip(provider)
    backend = get_backend([provider])
    x = _sample(dtype)
    y = backend.asarray(x)
    back = backend.to_numpy(y)
    assert back.dtype == x.dtype and back.shape == x.shape
    assert np.array_equal(back.astype(np.float64) if x.dtype.kind not in "bc" else back,
                          x.astype(np.float64) if x.dtype.kind not in "bc" else x)
    if backend.holds(x.dtype):
        assert not isinstance(y, np.ndarray)
    else:
        # a type the library lacks stays a host array; asked strictly, it is an error naming it
        assert isinstance(y, np.ndarray)
        with pytest.raises(UnsupportedDtypeError, match=np.dtype(dtype).name):
            backend.asarray(x, strict=True)


@pytest.mark.parametrize("provider", ["torch", "jax"])
def test_sequences_and_optionals_are_fed(provider):
    pytest.importorskip(provider)
    backend = get_backend([provider])
    seq = backend.asarray([np.ones(2, np.float32), np.zeros(3, np.int64)])
    assert [backend.to_numpy(v).tolist() for v in seq] == [[1.0, 1.0], [0, 0, 0]]
    assert backend.asarray(None) is None


# --------------------------------------------------------------------------- host values


@pytest.mark.parametrize("provider", ["torch", "jax"])
def test_shape_arithmetic_and_strings_mix_with_device_arrays(provider):
    pytest.importorskip(provider)
    # Shape -> Gather -> Concat -> Reshape stays on the host; strings are host-only;
    # the number of strings (a host value) meets the device tensor in Add
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Concat", ["n", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["r"]),
        helper.make_node("StringNormalizer", ["words"], ["upper"], case_change_action="UPPER"),
        helper.make_node("Size", ["upper"], ["count"]),
        helper.make_node("Cast", ["count"], ["countf"], to=TP.FLOAT),
        helper.make_node("Add", ["r", "countf"], ["y"]),
    ]
    inits = [helper.make_tensor("zero", TP.INT64, [1], [0]), helper.make_tensor("minus1", TP.INT64, [1], [-1])]
    m = _model(nodes, [_vi("x", TP.FLOAT, [2, 3, 4]), _vi("words", TP.STRING, [3])],
               [_vi("y", TP.FLOAT, None), _vi("upper", TP.STRING, None)], inits=inits)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    words = np.array(["a", "bc", "d"], dtype=object)
    y, upper = nnex.InferenceSession(m, providers=[provider]).run(None, {"x": x, "words": words})
    np.testing.assert_array_equal(y, x.reshape(2, 12) + 3)
    assert upper.tolist() == ["A", "BC", "D"]


def test_jax_int64_keeps_its_range_without_touching_the_global_config():
    jax = pytest.importorskip("jax")
    before = jax.config.jax_enable_x64
    m = _model([helper.make_node("Add", ["a", "b"], ["c"]), helper.make_node("Mul", ["d", "d"], ["e"])],
               [_vi("a", TP.INT64, [2]), _vi("b", TP.INT64, [2]), _vi("d", TP.DOUBLE, [1])],
               [_vi("c", TP.INT64, [2]), _vi("e", TP.DOUBLE, [1])])
    a = np.array([2**40, -(2**50)], dtype=np.int64)
    b = np.array([3, 2**33], dtype=np.int64)
    d = np.array([1 + 2**-40], dtype=np.float64)
    c, e = nnex.InferenceSession(m, providers=["jax"]).run(None, {"a": a, "b": b, "d": d})
    assert c.dtype == np.int64 and c.tolist() == (a + b).tolist()
    assert e.dtype == np.float64 and e[0] == d[0] * d[0]
    assert jax.config.jax_enable_x64 == before


def test_jax_compiles_nodes_from_their_second_run_and_keeps_untraceable_ones_eager(monkeypatch):
    pytest.importorskip("jax")
    ort = pytest.importorskip("onnxruntime")
    from nnex.backends import jax_jit

    compiled = []
    original = jax_jit._compile

    def counting(jax, fn, *args):
        compiled.append(getattr(fn, "__name__", "?"))
        return original(jax, fn, *args)

    monkeypatch.setattr(jax_jit, "_compile", counting)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Softmax", ["c"], ["s"], axis=1),
        # training_mode is looked at as a Python bool: not traceable, stays eager
        helper.make_node("Dropout", ["s", "ratio", "training"], ["d"]),
        helper.make_node("ReduceSum", ["d", "axes"], ["y"], keepdims=0),
    ]
    inits = [helper.make_tensor("w", TP.FLOAT, w.shape, w.reshape(-1)),
             helper.make_tensor("ratio", TP.FLOAT, [], [0.5]),
             helper.make_tensor("training", TP.BOOL, [], [False]),
             helper.make_tensor("axes", TP.INT64, [1], [1])]
    m = _model(nodes, [_vi("x", TP.FLOAT, [2, 3, 6, 6])], [_vi("y", TP.FLOAT, None)], inits=inits)
    options = nnex.SessionOptions()
    options.graph_optimization_level = nnex.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the Dropout
    sess = nnex.InferenceSession(m, options, providers=["jax"])
    ref = ort.InferenceSession(m, providers=["CPUExecutionProvider"])
    for run in range(3):
        x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], ref.run(None, {"x": x})[0], rtol=1e-5, atol=1e-5)
        # every node compiled at the second run (Dropout's trace fails: it runs eagerly), then reused
        assert len(compiled) == (0 if run == 0 else 4)
