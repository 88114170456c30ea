"""Results written into dying inputs (runtime/inplace.py) and NumPy's own hot kernels
(backends/numpy_kernels.py), checked against onnxruntime."""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import nnex

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, initializers=(), opset=20):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                          [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs], list(initializers))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 9
    onnx.checker.check_model(m)
    return m.SerializeToString()


def _session(model, level=0):
    so = nnex.SessionOptions()
    so.graph_optimization_level = level
    return nnex.InferenceSession(model, so, providers=["numpy"])


def _donating_steps(sess) -> int:
    return sum(1 for call, ins, outs, frees, env in sess._plan.steps if env and not ins)


@pytest.fixture
def writes_in_place(monkeypatch):
    """Counts the kernel calls that were given a dying input's buffer."""
    import nnex.runtime.inplace as inplace

    count = {"n": 0}
    plain = inplace.donating_call

    def counting(fast, standard_call, slots, pos, attrs):
        def spy(*args, out=None, **kw):
            count["n"] += out is not None
            return fast(*args, out=out, **kw)

        return plain(spy, standard_call, slots, pos, attrs)

    monkeypatch.setattr(inplace, "donating_call", counting)
    return count


@pytest.fixture(autouse=True)
def donate_small_arrays(monkeypatch):
    """These models are tiny: let every size donate, so that the in-place paths are exercised."""
    import nnex.runtime.inplace as inplace

    monkeypatch.setattr(inplace, "_MIN_SIZE", 0)


def test_small_donors_are_not_written_into_by_default(writes_in_place, monkeypatch):
    import nnex.runtime.inplace as inplace

    monkeypatch.setattr(inplace, "_MIN_SIZE", 1024)
    nodes = [helper.make_node("Exp", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["y"])]
    for n, written in ((31, 0), (1024, 2)):   # two runs each
        writes_in_place["n"] = 0
        m = _model(nodes, [("x", F, [n])], [("y", F, [n])])
        _check(m, {"x": np.random.default_rng(n).standard_normal(n).astype(np.float32)})
        assert writes_in_place["n"] == written


def _check(model, feeds, rtol=1e-5, atol=1e-6):
    want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)
    kept = {k: v.copy() for k, v in feeds.items()}
    sess = _session(model)
    for _ in range(2):   # a second run must not see anything the first one overwrote
        got = sess.run(None, feeds)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    for k, v in feeds.items():
        np.testing.assert_array_equal(v, kept[k], err_msg=f"feed {k} was modified")
    return sess


def test_chain_of_elementwise_ops_reuses_buffers_and_matches_onnxruntime(writes_in_place):
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["a"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Sigmoid", ["r"], ["s"]),
        helper.make_node("Mul", ["s", "x2"], ["p"]),
        helper.make_node("Erf", ["p"], ["e"]),
        helper.make_node("Tanh", ["e"], ["t"]),
        helper.make_node("Softmax", ["t"], ["y"], axis=-1),
    ]
    rng = np.random.default_rng(0)
    inits = [onnx.numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "w"),
             onnx.numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b")]
    m = _model([helper.make_node("Identity", ["x"], ["x1"]), helper.make_node("MatMul", ["x1", "w"], ["x2"])] + nodes,
               [("x", F, [4, 8])], [("y", F, [4, 16])], inits)
    feeds = {"x": rng.standard_normal((4, 8)).astype(np.float32)}
    sess = _check(m, feeds)
    assert _donating_steps(sess) == 7
    assert writes_in_place["n"] == 2 * 7   # every planned node wrote in place, in both runs


def test_value_read_later_is_not_overwritten():
    # a is read by Relu and again by the final Add: Relu must not write into it
    nodes = [helper.make_node("Exp", ["x"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Neg", ["r"], ["n"]),
             helper.make_node("Add", ["n", "a"], ["y"])]
    m = _model(nodes, [("x", F, [3, 5])], [("y", F, [3, 5])])
    _check(m, {"x": np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)})


def test_graph_outputs_and_feeds_are_never_overwritten():
    nodes = [helper.make_node("Exp", ["x"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]),       # a is also a graph output
             helper.make_node("Sigmoid", ["x"], ["s"])]    # x is the user's array
    m = _model(nodes, [("x", F, [2, 3])], [("a", F, [2, 3]), ("r", F, [2, 3]), ("s", F, [2, 3])])
    _check(m, {"x": np.random.default_rng(2).standard_normal((2, 3)).astype(np.float32)})


def test_views_are_not_written_through():
    # r is a view of a (Reshape); Relu of the view must not write into a, which Add reads later
    shape = onnx.numpy_helper.from_array(np.array([6], dtype=np.int64), "shape")
    back = onnx.numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "back")
    nodes = [helper.make_node("Exp", ["x"], ["a"]),
             helper.make_node("Reshape", ["a", "shape"], ["v"]),
             helper.make_node("Neg", ["v"], ["n"]),
             helper.make_node("Reshape", ["n", "back"], ["nb"]),
             helper.make_node("Add", ["nb", "a"], ["y"])]
    m = _model(nodes, [("x", F, [2, 3])], [("y", F, [2, 3])], [shape, back])
    _check(m, {"x": np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)})


@pytest.mark.parametrize("a_shape,b_shape", [((4, 5), (4, 5)), ((1, 5), (4, 5)), ((4, 5), (5,)), ((4, 1), (1, 5))])
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_broadcasting_binary_ops_fall_back_when_the_donor_is_too_small(op, a_shape, b_shape):
    nodes = [helper.make_node("Exp", ["x"], ["a"]), helper.make_node("Exp", ["z"], ["b"]),
             helper.make_node(op, ["a", "b"], ["y"])]
    out = np.broadcast_shapes(a_shape, b_shape)
    m = _model(nodes, [("x", F, list(a_shape)), ("z", F, list(b_shape))], [("y", F, list(out))])
    rng = np.random.default_rng(4)
    _check(m, {"x": rng.standard_normal(a_shape).astype(np.float32),
               "z": rng.standard_normal(b_shape).astype(np.float32)})


def test_same_value_on_both_inputs():
    nodes = [helper.make_node("Exp", ["x"], ["a"]), helper.make_node("Mul", ["a", "a"], ["y"])]
    m = _model(nodes, [("x", F, [3, 3])], [("y", F, [3, 3])])
    _check(m, {"x": np.random.default_rng(5).standard_normal((3, 3)).astype(np.float32)})


def test_loop_body_reading_an_outer_value_sees_it_intact():
    # the body reads the outer value "a" at every iteration; nothing may overwrite it
    body = helper.make_graph(
        [helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Add", ["r", "acc_in"], ["acc_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", F, [3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", F, [3])])
    trip = onnx.numpy_helper.from_array(np.array(4, dtype=np.int64), "trip")
    nodes = [helper.make_node("Exp", ["x"], ["a"]),
             helper.make_node("Loop", ["trip", "", "x"], ["y"], body=body)]
    m = _model(nodes, [("x", F, [3])], [("y", F, [3])], [trip])
    _check(m, {"x": np.random.default_rng(6).standard_normal(3).astype(np.float32)})


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_erf_matches_the_float64_function(dtype):
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, -0.0, 1e-30, -1e-30, np.inf, -np.inf]]).astype(dtype)
    m = _model([helper.make_node("Erf", ["x"], ["y"])], [("x", onnx.helper.np_dtype_to_tensor_dtype(x.dtype),
                                                                [x.size])],
               [("y", onnx.helper.np_dtype_to_tensor_dtype(x.dtype), [x.size])])
    got = _session(m).run(None, {"x": x})[0]
    want = np.array([math.erf(v) for v in x.astype(np.float64)])
    tol = {np.float32: 4e-7, np.float16: 1e-3, np.float64: 1e-15}[dtype]
    assert got.dtype == x.dtype
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol)
    assert np.signbit(got[x.size - 5]) and not np.signbit(got[x.size - 6])   # erf(-0) = -0
    assert np.isnan(_session(m).run(None, {"x": np.full(x.size, np.nan, dtype)})[0]).all()


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_onnxruntime(approximate):
    m = _model([helper.make_node("Gelu", ["x"], ["y"], approximate=approximate)], [("x", F, [64, 33])],
               [("y", F, [64, 33])])
    x = (np.random.default_rng(7).standard_normal((64, 33)) * 4).astype(np.float32)
    _check(m, {"x": x}, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("bounds", [(None, None), (0.0, None), (None, 6.0), (0.0, 6.0), (3.0, 1.0)])
def test_clip_matches_onnxruntime(bounds):
    lo, hi = bounds
    inits, names = [], []
    for name, v in (("lo", lo), ("hi", hi)):
        if v is None:
            names.append("")
        else:
            inits.append(onnx.numpy_helper.from_array(np.array(v, dtype=np.float32), name))
            names.append(name)
    while names and not names[-1]:
        names.pop()
    nodes = [helper.make_node("Exp", ["x"], ["a"]), helper.make_node("Clip", ["a"] + names, ["y"])]
    m = _model(nodes, [("x", F, [5, 7])], [("y", F, [5, 7])], inits)
    x = (np.random.default_rng(8).standard_normal((5, 7)) * 3).astype(np.float32)
    x[0, 0] = np.nan
    _check(m, {"x": x})


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_normalization_matches_onnxruntime(axis, with_bias):
    rng = np.random.default_rng(9)
    shape = (2, 5, 16)
    norm_shape = list(shape[axis:]) if axis > 0 else [shape[-1]]
    inits = [onnx.numpy_helper.from_array(rng.standard_normal(norm_shape).astype(np.float32), "s")]
    ins = ["a", "s"]
    if with_bias:
        inits.append(onnx.numpy_helper.from_array(rng.standard_normal(norm_shape).astype(np.float32), "b"))
        ins.append("b")
    nodes = [helper.make_node("Add", ["x", "x"], ["a"]),
             helper.make_node("LayerNormalization", ins, ["y"], axis=axis, epsilon=1e-3)]
    m = _model(nodes, [("x", F, list(shape))], [("y", F, list(shape))], inits)
    _check(m, {"x": (rng.standard_normal(shape) * 3 + 1).astype(np.float32)}, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("exponent", [2.0, 3.0, 1.0, 0.5, -1.0, 1.7])
@pytest.mark.parametrize("exp_type", [np.float32, np.int64])
def test_pow_by_one_exponent_matches_onnxruntime(exponent, exp_type):
    if exp_type is np.int64 and exponent != int(exponent):
        pytest.skip("integer exponent")
    e = onnx.numpy_helper.from_array(np.array(exponent, dtype=exp_type), "e")
    nodes = [helper.make_node("Add", ["x", "x"], ["a"]), helper.make_node("Pow", ["a", "e"], ["y"])]
    m = _model(nodes, [("x", F, [4, 6])], [("y", F, [4, 6])], [e])
    x = np.random.default_rng(10).standard_normal((4, 6)).astype(np.float32)
    x[0, :3] = [0.0, -0.0, np.inf]
    _check(m, {"x": x})


@pytest.mark.parametrize("mask", [None, "bool", "float", "bool_empty_row"])
@pytest.mark.parametrize("causal", [0, 1])
def test_attention_matches_onnxruntime(mask, causal):
    rng = np.random.default_rng(11)
    b, h, sq, sk, d = 2, 3, 5, 5, 8
    inputs = [("q", F, [b, h, sq, d]), ("k", F, [b, h, sk, d]), ("v", F, [b, h, sk, d])]
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, _, s in inputs}
    names = ["q", "k", "v"]
    if mask is not None:
        if mask.startswith("bool"):
            m = rng.random((b, 1, sq, sk)) > 0.3
            m[..., 0] = True
            if mask == "bool_empty_row":
                m[1, 0, 2, :] = False
            inputs.append(("m", TensorProto.BOOL, [b, 1, sq, sk]))
        else:
            m = np.where(rng.random((sq, sk)) > 0.3, 0.0, -1e9).astype(np.float32)
            inputs.append(("m", F, [sq, sk]))
        feeds["m"] = m
        names.append("m")
    node = helper.make_node("Attention", names, ["y"], is_causal=causal, scale=0.3)
    model = _model([node], inputs, [("y", F, [b, h, sq, d])], opset=23)
    _check(model, feeds, rtol=1e-5, atol=1e-6)
