"""The torch backend's adaptation (direct calls, remembered shape arithmetic, run scope, small
values on NumPy) and its native kernels, against onnxruntime; every session runs more than once,
with other shapes where the op allows, so that what a node remembers from a run is checked at the
next. Models are checked as they run by default (small feeds computed on NumPy) and with every
feed a tensor (``small_on_host=0``: the native kernels, whatever the size)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

import nnex

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def _vi(name, shape, elem=TP.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def _torch_session(model, small_on_host=None, twin=True):
    """A session on torch; ``small_on_host=0``: every feed a tensor, so that the native kernels
    run even on small values (see torch_backend.SMALL_ON_HOST); ``twin=False``: runs of small
    feeds stay on the torch backend's plan (its host paths) instead of going to the session's
    NumPy plan after a run that computed nothing on torch (session.py)."""
    from nnex.backends import torch_backend

    saved = torch_backend.SMALL_ON_HOST
    if small_on_host is not None:
        torch_backend.SMALL_ON_HOST = small_on_host
    try:
        sess = nnex.InferenceSession(model, providers=["torch"])
    finally:
        torch_backend.SMALL_ON_HOST = saved
    if not twin:
        sess._twin = False
    return sess


def _check(model, feeds_per_run, rtol=1e-4, atol=1e-5):
    """nnex on torch against onnxruntime, one session for every run: as it comes (small values
    on NumPy), the same with every run on the torch backend's plan, and with every feed a tensor
    (the native kernels); the second session is returned."""
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    sessions = [_torch_session(model), _torch_session(model, twin=False), _torch_session(model, small_on_host=0)]
    for feeds in feeds_per_run:
        expected = ref.run(None, feeds)
        for sess in sessions:
            got = sess.run(None, feeds)
            for g, e in zip(got, expected):
                assert g.dtype == e.dtype and g.shape == e.shape, (g.dtype, g.shape, e.dtype, e.shape)
                np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return sessions[1]


_rng = np.random.default_rng(0)


def _f(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


# op type, node inputs (x is fed, the others are constants), attributes, constants, opset
_CASES = {
    "batchnorm": ("BatchNormalization", ["x", "s", "b", "m", "v"], {"epsilon": 1e-3},
                  [("s", _f(4)), ("b", _f(4)), ("m", _f(4)), ("v", np.abs(_f(4)) + 0.5)], 15),
    "clip_both": ("Clip", ["x", "lo", "hi"], {}, [("lo", np.float32(-0.5)), ("hi", np.float32(0.7))], 13),
    "clip_min_only": ("Clip", ["x", "lo"], {}, [("lo", np.float32(0.1))], 13),
    "clip_crossed": ("Clip", ["x", "lo", "hi"], {}, [("lo", np.float32(0.5)), ("hi", np.float32(-0.5))], 13),
    "clip_6": ("Clip", ["x"], {"min": -0.2, "max": 0.3}, [], 6),
    "pow_cube": ("Pow", ["x", "e"], {}, [("e", np.float32(3.0))], 15),
    "pow_half_double_exponent": ("Pow", ["x", "e"], {}, [("e", np.array([0.1], np.float64))], 15),
    "pow_int_exponent": ("Pow", ["x", "e"], {}, [("e", np.array(2, np.int64))], 15),
    "pow_tensor_exponent": ("Pow", ["x", "e"], {}, [("e", np.arange(5, dtype=np.float32) / 2)], 15),
    "div": ("Div", ["x", "d"], {}, [("d", _f(5) + 3)], 14),
    "erf": ("Erf", ["x"], {}, [], 13),
    "sum3": ("Sum", ["x", "a", "b"], {}, [("a", _f(5)), ("b", _f(1, 5))], 13),
    "max3": ("Max", ["x", "a", "b"], {}, [("a", _f(5)), ("b", _f(1, 5))], 13),
    "min2": ("Min", ["x", "a"], {}, [("a", _f(5))], 13),
    "softmax_11": ("Softmax", ["x"], {"axis": 1}, [], 11),
    "log_softmax_11": ("LogSoftmax", ["x"], {"axis": -2}, [], 11),
    "reshape_zero_minus1": ("Reshape", ["x", "s"], {}, [("s", np.array([0, -1], np.int64))], 14),
    "flatten_2": ("Flatten", ["x"], {"axis": 2}, [], 13),
    "transpose_default": ("Transpose", ["x"], {}, [], 13),
    "unsqueeze_neg": ("Unsqueeze", ["x", "a"], {}, [("a", np.array([-1, 1], np.int64))], 13),
    "concat_neg": ("Concat", ["x", "x"], {"axis": -1}, [], 13),
    "split_sizes": ("Split", ["x", "s"], {"axis": -1}, [("s", np.array([2, 3], np.int64))], 13),
    "gather_neg_idx": ("Gather", ["x", "i"], {"axis": 2},
                       [("i", np.array([[-1, 0], [2, -5]], np.int64))], 13),
    "gather_scalar_idx": ("Gather", ["x", "i"], {"axis": 1}, [("i", np.array(-1, np.int64))], 13),
}


@pytest.mark.parametrize("case", list(_CASES))
def test_native_op_matches_onnxruntime(case):
    op_type, names, attrs, inits, opset = _CASES[case]
    n_out = 2 if op_type == "Split" else 1
    outs = [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op_type, names, outs, **attrs)
    model = _model([node], [_vi("x", ["N", 4, 5])], [_vi(o, None) for o in outs], inits, opset)
    _check(model, [{"x": _f(2, 4, 5)}, {"x": _f(2, 4, 5)}, {"x": _f(3, 4, 5)}])


def test_squeeze_and_global_pools():
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["a"]),
             helper.make_node("GlobalMaxPool", ["x"], ["m"]),
             helper.make_node("Squeeze", ["a", "axes"], ["y"])]
    model = _model(nodes, [_vi("x", ["N", 3, 6, 5])], [_vi("y", None), _vi("m", None)],
                   [("axes", np.array([-1, 2], np.int64))])
    _check(model, [{"x": _f(2, 3, 6, 5)}, {"x": _f(1, 3, 6, 5)}])


@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_gemm_and_matmul_with_wide_constant_weights(trans_b, alpha):
    # 8 -> 24: wide enough for the weight to be reordered once for oneDNN
    w = _f(24, 8) if trans_b else _f(8, 24)
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["h"], transB=trans_b, alpha=alpha),
             helper.make_node("Reshape", ["h", "shape"], ["h3"]),
             helper.make_node("MatMul", ["h3", "w2"], ["y"])]
    inits = [("w", w), ("c", _f(24)), ("shape", np.array([-1, 2, 24], np.int64)), ("w2", _f(24, 40))]
    model = _model(nodes, [_vi("x", ["N", 8])], [_vi("y", None), _vi("h", None)], inits)
    _check(model, [{"x": _f(4, 8)}, {"x": _f(4, 8)}, {"x": _f(6, 8)}], rtol=1e-4, atol=1e-4)


def test_conv_network_in_channels_last_layout():
    """Conv (reordered weights, channels-last), BatchNorm, pooling, Concat, Clip, Add, then
    Flatten and Gemm: values, not layouts, come out; a new input size at the third run."""
    c = 4
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Clip", ["c1", "lo", "hi"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Conv", ["p1", "wd"], ["c2"], pads=[1, 1, 1, 1], group=c),  # depthwise
        helper.make_node("Conv", ["p1", "w3"], ["c3"], pads=[0, 1, 1, 0]),  # uneven pads
        helper.make_node("Concat", ["c2", "c3"], ["cat"], axis=1),
        helper.make_node("BatchNormalization", ["cat", "s", "b", "m", "v"], ["bn"]),
        helper.make_node("Add", ["bn", "cat"], ["sum"]),
        helper.make_node("AveragePool", ["sum"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["ap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "wg"], ["y"], transB=1),
    ]
    inits = [("w1", _f(c, 3, 3, 3)), ("b1", _f(c)), ("lo", np.float32(0)), ("hi", np.float32(6)),
             ("wd", _f(c, 1, 3, 3)), ("w3", _f(c, c, 2, 2)), ("s", _f(2 * c)), ("b", _f(2 * c)),
             ("m", _f(2 * c)), ("v", np.abs(_f(2 * c)) + 0.5), ("wg", _f(5, 2 * c * 4 * 4))]
    model = _model(nodes, [_vi("x", ["N", 3, 16, 16])], [_vi("y", None), _vi("c3", None)], inits, 13)
    _check(model, [{"x": _f(1, 3, 16, 16)}, {"x": _f(1, 3, 16, 16)}, {"x": _f(2, 3, 16, 16)}], atol=1e-4)


def _shape_arithmetic_model():
    # y = reshape(x, [N, -1]) where N comes from Shape -> Gather -> Unsqueeze -> Concat
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    inits = [("zero", np.array(0, np.int64)), ("axes", np.array([0], np.int64)),
             ("minus1", np.array([-1], np.int64))]
    return _model(nodes, [_vi("x", ["N", 3, "W"])], [_vi("y", None), _vi("target", None, TP.INT64)], inits)


def test_shape_arithmetic_is_remembered_until_the_shapes_change():
    sess = _check(_shape_arithmetic_model(), [{"x": _f(2, 3, 4)}, {"x": _f(5, 3, 1)}, {"x": _f(2, 3, 4)}])
    # the same shapes again: the host nodes hand out what they remembered (read-only)
    _, t1 = sess.run(None, {"x": _f(2, 3, 4)})
    _, t2 = sess.run(None, {"x": _f(2, 3, 4)})
    assert t1 is t2 and not t1.flags.writeable and t1.tolist() == [2, -1]
    _, t3 = sess.run(None, {"x": _f(7, 3, 4)})
    assert t3.tolist() == [7, -1]


def test_host_values_from_the_feeds_are_not_remembered():
    # int64 arithmetic on a fed (writeable) host value: computed at every run
    nodes = [helper.make_node("Add", ["k", "one"], ["y"])]
    model = _model(nodes, [_vi("k", [2], TP.UINT64)], [_vi("y", None, TP.UINT64)],
                   [("one", np.array([1, 1], np.uint64))])
    sess = nnex.InferenceSession(model, providers=["torch"])
    k = np.array([1, 2], np.uint64)
    assert sess.run(None, {"k": k})[0].tolist() == [2, 3]
    k[:] = [10, 20]
    assert sess.run(None, {"k": k})[0].tolist() == [11, 21]


def test_random_ops_draw_at_every_run():
    model = _model([helper.make_node("RandomNormal", [], ["y"], shape=[8])], [], [_vi("y", None)])
    sess = nnex.InferenceSession(model, providers=["torch"])
    assert not np.array_equal(sess.run(None, {})[0], sess.run(None, {})[0])


def test_runs_from_several_threads_agree_with_onnxruntime():
    model = _shape_arithmetic_model()
    sess = nnex.InferenceSession(model, providers=["torch"])
    errors = []

    def work(n):
        try:
            for _ in range(50):
                x = _f(n, 3, 2)
                y, target = sess.run(None, {"x": x})
                np.testing.assert_array_equal(y, x.reshape(n, -1))
                assert target.tolist() == [n, -1]
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def _relu_recording(monkeypatch):
    """A Relu model, and what torch's state was each time its kernel ran."""
    from nnex.backends import torch_kernels

    seen = []
    standard = torch_kernels._Kernels.relu

    def relu(self, xp, x):
        seen.append((torch.is_inference_mode_enabled(), torch.get_num_threads()))
        return standard(self, xp, x)

    monkeypatch.setattr(torch_kernels._Kernels, "relu", relu)
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["N"])], [_vi("y", None)])
    return model, seen


_LARGE = 4096  # elements: a feed torch computes with (above torch_backend.SMALL_ON_HOST)


def test_a_run_is_one_inference_mode_scope(monkeypatch):
    model, seen = _relu_recording(monkeypatch)
    before = torch.get_num_threads()
    nnex.InferenceSession(model, providers=["torch"]).run(None, {"x": _f(_LARGE)})
    assert seen == [(True, before)]  # nothing asked: torch's own thread count
    assert not torch.is_inference_mode_enabled()


@pytest.mark.parametrize("how", ["session_options", "backend"])
def test_intra_op_threads_hold_for_the_run_only(monkeypatch, how):
    pytest.importorskip("threadpoolctl")
    model, seen = _relu_recording(monkeypatch)
    before = torch.get_num_threads()
    opts = nnex.SessionOptions()
    if how == "session_options":
        opts.intra_op_num_threads = 1  # the runtime's limiter reaches torch's OpenMP pool
    sess = nnex.InferenceSession(model, opts, providers=["torch"])
    if how == "backend":
        sess._backend.intra_op_threads = 1
    sess.run(None, {"x": _f(_LARGE)})
    assert seen == [(True, 1)]
    assert torch.get_num_threads() == before


def test_feeds_and_constants_are_left_as_they_were():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "c"], ["y"])]
    c = _f(4)
    model = _model(nodes, [_vi("x", [4])], [_vi("y", None)], [("c", c)])
    sess = nnex.InferenceSession(model, providers=["torch"])
    x = _f(4)
    x0 = x.copy()
    y = sess.run(None, {"x": x})[0]
    y += 100  # the caller owns the output
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], np.maximum(x0, 0) + c, rtol=1e-6)


def test_to_torch_keeps_gradients_through_native_kernels():
    # the reordered-weight and remembered paths are for constants only: parameters train
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c", "lo", "hi"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("MatMul", ["f", "m"], ["y"])]
    inits = [("w", _f(2, 3, 3, 3)), ("lo", np.float32(0)), ("hi", np.float32(6)), ("m", _f(2 * 5 * 5, 60))]
    module = nnex.to_torch(_model(nodes, [_vi("x", [1, 3, 5, 5])], [_vi("y", None)], inits, 13))
    x = torch.from_numpy(_f(1, 3, 5, 5))
    module(x).sum().backward()
    grads = {name: p.grad for name, p in module.named_parameters()}
    assert grads["w"] is not None and float(grads["w"].abs().sum()) > 0
    assert grads["m"] is not None and float(grads["m"].abs().sum()) > 0


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_with_constant_weights_over_runs(direction):
    # oneDNN's LSTM layers on weights prepared at the first run, used again at the next ones
    dirs = 2 if direction == "bidirectional" else 1
    H, I = 6, 4
    inits = [("w", _f(dirs, 4 * H, I) * 0.5), ("r", _f(dirs, 4 * H, H) * 0.5), ("b", _f(dirs, 8 * H) * 0.5)]
    node = helper.make_node("LSTM", ["x", "w", "r", "b"], ["y", "yh", "yc"], hidden_size=H,
                            direction=direction)
    outputs = [_vi("y", None), _vi("yh", None), _vi("yc", None)]
    model = _model([node], [_vi("x", ["T", "N", I])], outputs, inits, 14)
    _check(model, [{"x": _f(5, 2, I)}, {"x": _f(5, 2, I)}, {"x": _f(3, 1, I)}])


def _tune(faster, cpu_share, runs=200, n=2):
    """The counts a tuner picks over ``runs`` runs where ``faster`` threads take 1 s, the
    other count 3 s, and a run on n threads gets ``cpu_share`` of n cores."""
    from nnex.backends.torch_backend import _ThreadTuner

    tuner = _ThreadTuner()
    chosen = []
    for _ in range(runs):
        threads = tuner.choose(n)
        chosen.append(threads)
        seconds = 1.0 if threads == faster else 3.0
        tuner.record(n, threads, seconds, seconds * threads * (cpu_share if threads == n else 1.0))
    return chosen


def test_thread_tuner_keeps_torchs_count_on_a_quiet_machine():
    assert set(_tune(faster=1, cpu_share=0.98)) == {2}


@pytest.mark.parametrize("faster", [1, 2])
def test_thread_tuner_settles_on_the_faster_count_when_contended(faster):
    chosen = _tune(faster, cpu_share=0.4)
    assert chosen[:4] == [2, 2, 1, 1]  # torch's own count, then one thread (its first run not counted)
    later = chosen[10:]
    assert later.count(faster) > 0.9 * len(later)
    if faster == 1:
        assert later.count(2) > 0  # torch's count is tried again now and then


def test_thread_tuner_leaves_short_runs_alone():
    from nnex.backends.torch_backend import _ThreadTuner

    tuner = _ThreadTuner()
    for _ in range(2):
        tuner.record(2, tuner.choose(2), 20e-6, 10e-6)
    assert tuner.idle


def test_a_model_of_host_ops_only_keeps_its_feeds_on_the_host(monkeypatch):
    # a LinearClassifier: the ai.onnx.ml domain runs on NumPy on every backend
    rng = np.random.default_rng(1)
    coef = rng.standard_normal((2, 5)).astype(np.float32)
    node = helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                            coefficients=coef.reshape(-1).tolist(), intercepts=[0.1, -0.2],
                            classlabels_ints=[0, 1],
                            post_transform="SOFTMAX")
    graph = helper.make_graph([node], "g", [_vi("X", ["N", 5])],
                              [_vi("label", None, TP.INT64), _vi("scores", None)])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    converted = []
    from_numpy = torch.from_numpy
    monkeypatch.setattr(torch, "from_numpy", lambda a: converted.append(a) or from_numpy(a))
    _check(model.SerializeToString(), [{"X": _f(4, 5)}, {"X": _f(3, 5)}])
    assert converted == []  # no round trip through torch


# ---------------------------------------------------------------------- small values on NumPy


def _conversions(monkeypatch):
    """The sizes of the NumPy arrays made tensors (torch.from_numpy) from now on."""
    sizes = []
    from_numpy = torch.from_numpy
    monkeypatch.setattr(torch, "from_numpy", lambda a: sizes.append(a.size) or from_numpy(a))
    return sizes


def _small_ops_model():
    """Small ops of several dtypes on small feeds: float32, int32, float64, float16, bool."""
    nodes = [
        helper.make_node("Add", ["x", "c"], ["a"]),
        helper.make_node("Mul", ["a", "c"], ["m"]),
        helper.make_node("Relu", ["m"], ["y"]),
        helper.make_node("Add", ["k", "ki"], ["ks"]),
        helper.make_node("Cast", ["ks"], ["yk"], to=TP.INT64),
        helper.make_node("Less", ["x", "c"], ["yb"]),
        helper.make_node("Where", ["yb", "x", "c"], ["yw"]),
        helper.make_node("Cast", ["x"], ["xh"], to=TP.FLOAT16),
        helper.make_node("Add", ["xh", "h"], ["yh"]),
        helper.make_node("Sigmoid", ["d"], ["yd"]),
        helper.make_node("ReduceSum", ["y", "axes"], ["ys"], keepdims=0),
        helper.make_node("Softmax", ["x"], ["ysm"], axis=-1),
        helper.make_node("Div", ["k", "two"], ["ydiv"]),
    ]
    inits = [("c", _f(5)), ("ki", np.arange(5, dtype=np.int32)), ("axes", np.array([1], np.int64)),
             ("two", np.array(2, np.int32))]
    inputs = [_vi("x", ["N", 5]), _vi("k", ["N", 5], TP.INT32), _vi("h", ["N", 5], TP.FLOAT16),
              _vi("d", ["N", 5], TP.DOUBLE)]
    outs = [_vi("y", None), _vi("yk", None, TP.INT64), _vi("yb", None, TP.BOOL), _vi("yw", None),
            _vi("yh", None, TP.FLOAT16), _vi("yd", None, TP.DOUBLE), _vi("ys", None), _vi("ysm", None),
            _vi("ydiv", None, TP.INT32)]
    return _model(nodes, inputs, outs, inits)


def _small_feeds(n):
    return {"x": _f(n, 5), "k": _rng.integers(-9, 9, (n, 5)).astype(np.int32),
            "h": _f(n, 5).astype(np.float16), "d": _rng.standard_normal((n, 5))}


def test_small_feeds_are_computed_on_numpy_with_their_dtypes(monkeypatch):
    converted = _conversions(monkeypatch)
    model = _small_ops_model()
    _check(model, [_small_feeds(2), _small_feeds(2), _small_feeds(3)], rtol=1e-3, atol=1e-3)
    converted.clear()
    sess = _torch_session(model)
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    feeds = _small_feeds(4)
    for g, e in zip(sess.run(None, feeds), ref.run(None, feeds)):
        assert type(g) is np.ndarray and g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-3, atol=1e-3)
    assert converted == []  # nothing went through torch


def test_large_feeds_are_computed_on_torch(monkeypatch):
    model = _small_ops_model()
    feeds = _small_feeds(_LARGE // 5)
    _check(model, [feeds, _small_feeds(_LARGE // 5)], rtol=1e-3, atol=1e-3)
    sess = _torch_session(model)
    converted = _conversions(monkeypatch)
    sess.run(None, feeds)
    # every feed (constants are moved where they meet them)
    assert converted.count(feeds["x"].size) == len(feeds)


def test_small_feeds_meet_large_constants_on_torch(monkeypatch):
    # a feed times a large weight, an embedding looked up by fed ids: the work is the constant's
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["y"]),
             helper.make_node("Gather", ["emb", "ids"], ["e"], axis=0),
             helper.make_node("ReduceMean", ["e"], ["ye"], axes=[1], keepdims=0)]
    inits = [("w", _f(20, 100)), ("b", _f(100)), ("emb", _f(50, 40))]
    model = _model(nodes, [_vi("x", ["N", 20]), _vi("ids", ["N", 3], TP.INT64)],
                   [_vi("y", None), _vi("ye", None)], inits)
    converted = _conversions(monkeypatch)
    ids = np.array([[1, 49, 7]], np.int64)
    sess = _check(model, [{"x": _f(1, 20), "ids": ids}, {"x": _f(1, 20), "ids": ids - 1}])
    assert {20 * 100, 50 * 40} <= set(converted)  # the constants went to torch
    converted.clear()
    sess.run(None, {"x": _f(1, 20), "ids": ids})
    assert sorted(converted) == [3, 20]  # then the feeds only, each run: the constants were moved once


def test_small_and_large_values_meet_on_torch():
    # a small feed broadcast against a large one, and a small feed expanded into a large value
    nodes = [helper.make_node("Add", ["big", "row"], ["s"]),
             helper.make_node("Expand", ["row", "shape"], ["wide"]),
             helper.make_node("Mul", ["wide", "row"], ["m"]),
             helper.make_node("Sub", ["s", "m"], ["y"]),
             helper.make_node("Tanh", ["row"], ["t"]),
             helper.make_node("Reshape", ["wide", "flat"], ["w1"])]  # a large value at a host-input op
    inits = [("shape", np.array([16, 256], np.int64)), ("flat", np.array([-1], np.int64))]
    model = _model(nodes, [_vi("big", [16, 256]), _vi("row", [256])],
                   [_vi("y", None), _vi("t", None), _vi("w1", None)], inits)
    _check(model, [{"big": _f(16, 256), "row": _f(256)}, {"big": _f(16, 256), "row": _f(256)}])


def test_read_only_small_feeds_are_read_at_every_run():
    # a read-only view of memory the caller changes between runs: not taken for a constant
    nodes = [helper.make_node("Add", ["x", "c"], ["y"]), helper.make_node("Shape", ["x"], ["s"])]
    c = _f(5)
    model = _model(nodes, [_vi("x", [5])], [_vi("y", None), _vi("s", None, TP.INT64)], [("c", c)])
    sess = _torch_session(model)
    base = _f(5)
    x = base.view()
    x.flags.writeable = False
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], base + c, rtol=1e-6)
    base[:] = 3.0
    y, s = sess.run(None, {"x": x})
    np.testing.assert_allclose(y, base + c, rtol=1e-6)
    assert s.tolist() == [5]


def test_inference_mode_is_left_out_only_after_a_run_of_small_values(monkeypatch):
    model, seen = _relu_recording(monkeypatch)
    sess = nnex.InferenceSession(model, providers=["torch"])
    for n in (_LARGE, 8, 8, _LARGE, _LARGE, 8):
        x = _f(n)
        np.testing.assert_array_equal(sess.run(None, {"x": x})[0], np.maximum(x, 0))
        assert not torch.is_inference_mode_enabled()
    # the native kernel runs for the large feeds only; the first large run after a run that
    # computed nothing on torch is outside inference mode, the next one inside again
    assert [mode for mode, _ in seen] == [True, False, True]


def test_runs_that_stay_on_the_host_go_to_the_numpy_plan(monkeypatch):
    # after a run that computed nothing on torch, small feeds run on the session's NumPy plan
    # of the same graph; a large feed goes back to the torch backend's plan
    from nnex.runtime.session import InferenceSession

    model, seen = _relu_recording(monkeypatch)
    sess = nnex.InferenceSession(model, providers=["torch"])
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    ran = []
    standard_run = InferenceSession._run

    def recording_run(self, *args):
        ran.append(self._backend.name)
        return standard_run(self, *args)

    monkeypatch.setattr(InferenceSession, "_run", recording_run)
    for n in (8, 8, 8, _LARGE, 8, 8, _LARGE, 8):
        x = _f(n)
        np.testing.assert_array_equal(sess.run(None, {"x": x})[0], ref.run(None, {"x": x})[0])
    assert ran == ["torch", "numpy", "numpy", "torch", "torch", "numpy", "torch", "torch"]
    assert len(seen) == 2  # the native Relu: the large feeds only
    assert sess._twin._plan is not sess._plan
    # a backend set to a thread count of its own keeps its runs
    pinned = nnex.InferenceSession(model, providers=["torch"])
    pinned._backend.intra_op_threads = 1
    ran.clear()
    for _ in range(3):
        pinned.run(None, {"x": _f(8)})
    assert ran == ["torch"] * 3


def test_a_model_of_large_constants_keeps_its_runs_on_torch(monkeypatch):
    # the session keeps its optimized model (for the NumPy plan) only while its constants are
    # small; past the limit every run goes through the torch plan
    from nnex.runtime import session as session_module

    monkeypatch.setattr(session_module, "_TWIN_MAX_BYTES", 10)
    nodes = [helper.make_node("Add", ["x", "c"], ["y"])]
    model = _model(nodes, [_vi("x", [4])], [_vi("y", None)], [("c", _f(4))])
    sess = nnex.InferenceSession(model, providers=["torch"])
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    for _ in range(3):
        x = _f(4)
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], ref.run(None, {"x": x})[0], rtol=1e-6)
    assert sess._twin is False and sess._optimized is None


def test_the_numpy_plan_of_a_classic_ml_pipeline_gives_onnxruntimes_outputs():
    sklearn = pytest.importorskip("sklearn")
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn import pipeline, preprocessing, svm

    rs = np.random.RandomState(0)
    x = rs.randn(120, 6).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    model = pipeline.make_pipeline(preprocessing.StandardScaler(), svm.SVC()).fit(x, y)
    data = skl2onnx.to_onnx(model, x[:1], options={"zipmap": False}).SerializeToString()
    ref = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    sess = nnex.InferenceSession(data, providers=["torch"])
    for n in (1, 1, 3, 1, 120):
        expected = ref.run(None, {"X": x[:n]})
        got = sess.run(None, {"X": x[:n]})
        assert got[0].tolist() == expected[0].tolist()
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-4, atol=1e-5)
    assert sess._twin


def _native_node_cases():
    """Node-suite cases for the native kernels (every case of an op that has one), and the first
    case of every other operator set: run with every feed a tensor, since the suite's own
    run (test_node_suite.py) computes its small values on NumPy."""
    from .node_suite import node_cases

    from nnex.backends.torch_backend import TorchBackend

    natives = {op for domain, op in TorchBackend("cpu").natives if domain == ""}
    seen, chosen = set(), []
    for name, case in node_cases().items():
        if "_expanded" in name:
            continue
        ops = frozenset(n.op_type for n in case.model.graph.node)
        if ops & natives or ops not in seen:
            seen.add(ops)
            chosen.append(name)
    return chosen


@pytest.mark.parametrize("name", _native_node_cases())
def test_node_case_on_tensors(name, monkeypatch):
    from nnex.backends import torch_backend

    from . import exclusions_torch
    from .node_suite import excluded_reason, node_cases, run_case

    reason = excluded_reason(name, exclusions_torch.EXCLUDED)
    if reason:
        pytest.skip(reason)
    monkeypatch.setattr(torch_backend, "SMALL_ON_HOST", 0)
    run_case(node_cases()[name], "torch")
