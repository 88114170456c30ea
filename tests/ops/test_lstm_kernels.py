"""LSTM on the NumPy and torch backends against onnxruntime.

One-node models over random sizes: each direction (forward, reverse, bidirectional), batch 1
and larger, layout 0 and 1, with and without bias, initial states and ``sequence_lens`` (full
length, which the NumPy kernel runs, and shorter, which it hands to the op library), weights as
constants (prepared once and remembered) and as graph inputs (prepared at every call), every
output. Bidirectional cases large enough for the NumPy kernel to run the directions on two
threads are run that way and one after the other. Each case runs with the NumPy recurrence and
with the compiled one (numba, float32).
"""

from __future__ import annotations

import copy

import numpy as np
import onnxruntime
import pytest
from _kernel_choice import kernels  # noqa: F401 - a fixture
from onnx import TensorProto, helper, numpy_helper

import nnex
from nnex.backends import numpy_lstm
from nnex.runtime import blas_threads

FLOAT = TensorProto.FLOAT


def _case(rng, T, N, I, H, direction, *, bias=True, states=False, lens=None, layout=0,
          weights_as_inputs=False):
    """(model, feeds) of one LSTM node; ``lens``: None, "full" or "short"."""
    D = 2 if direction == "bidirectional" else 1
    vals = {
        "W": (rng.standard_normal((D, 4 * H, I)) * 0.3).astype(np.float32),
        "R": (rng.standard_normal((D, 4 * H, H)) * 0.3).astype(np.float32),
    }
    if bias:
        vals["B"] = (rng.standard_normal((D, 8 * H)) * 0.3).astype(np.float32)
    x_shape = (N, T, I) if layout else (T, N, I)
    feeds = {"X": rng.standard_normal(x_shape).astype(np.float32)}
    inputs = ["X", "W", "R", "B" if bias else ""]
    graph_inputs = [helper.make_tensor_value_info("X", FLOAT, list(x_shape))]
    if lens is not None:
        seq = np.full(N, T, dtype=np.int32) if lens == "full" else rng.integers(1, T + 1, N).astype(np.int32)
        feeds["L"] = seq
        graph_inputs.append(helper.make_tensor_value_info("L", TensorProto.INT32, [N]))
    inputs.append("L" if lens is not None else "")
    if states:
        s_shape = (N, D, H) if layout else (D, N, H)
        for name in ("H0", "C0"):
            feeds[name] = rng.standard_normal(s_shape).astype(np.float32)
            graph_inputs.append(helper.make_tensor_value_info(name, FLOAT, list(s_shape)))
        inputs += ["H0", "C0"]
    inits = []
    for name, v in vals.items():
        if weights_as_inputs:
            feeds[name] = v
            graph_inputs.append(helper.make_tensor_value_info(name, FLOAT, list(v.shape)))
        else:
            inits.append(numpy_helper.from_array(v, name))
    while inputs[-1] == "":
        inputs.pop()
    node = helper.make_node("LSTM", inputs, ["Y", "Y_h", "Y_c"], hidden_size=H, direction=direction,
                            layout=layout)
    outs = [helper.make_tensor_value_info(o, FLOAT, None) for o in ("Y", "Y_h", "Y_c")]
    graph = helper.make_graph([node], "lstm", graph_inputs, outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), feeds


def _reference(model, feeds):
    """onnxruntime's outputs; it has no layout=1 LSTM, so such a node runs there as layout 0 on
    transposed inputs, its outputs transposed back."""
    model = copy.deepcopy(model)
    node = model.graph.node[0]
    layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
    if layout:
        for a in node.attribute:
            if a.name == "layout":
                a.i = 0
        for vi in model.graph.input:
            if vi.name in ("X", "H0", "C0"):
                dims = vi.type.tensor_type.shape.dim
                dims[0].dim_value, dims[1].dim_value = dims[1].dim_value, dims[0].dim_value
        feeds = {k: (v.transpose(1, 0, 2) if k in ("X", "H0", "C0") else v) for k, v in feeds.items()}
    sess = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    Y, Y_h, Y_c = sess.run(None, feeds)
    if layout:
        Y, Y_h, Y_c = Y.transpose(2, 0, 1, 3), Y_h.transpose(1, 0, 2), Y_c.transpose(1, 0, 2)
    return [Y, Y_h, Y_c]


def _check(model, feeds, provider, runs=2):
    want = _reference(model, feeds)
    sess = nnex.InferenceSession(model, providers=[provider])
    for _ in range(runs):  # the second run reuses what the first prepared
        got = sess.run(None, feeds)
        for g, w in zip(got, want):
            g = np.asarray(g)
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    return sess


CASES = [
    # T, N, I, H, direction, options
    (1, 1, 3, 4, "forward", {}),
    (7, 1, 5, 6, "forward", {}),
    (6, 3, 4, 5, "reverse", {}),
    (9, 2, 8, 7, "bidirectional", {}),
    (5, 4, 3, 6, "bidirectional", {"bias": False}),
    (6, 3, 5, 4, "bidirectional", {"states": True}),
    (6, 2, 5, 4, "reverse", {"states": True, "layout": 1}),
    (7, 3, 4, 5, "bidirectional", {"states": True, "layout": 1}),
    (8, 3, 4, 5, "bidirectional", {"lens": "full"}),
    (8, 3, 4, 5, "bidirectional", {"lens": "short"}),
    (8, 3, 4, 5, "forward", {"lens": "short", "states": True}),
    (6, 2, 4, 5, "bidirectional", {"weights_as_inputs": True}),
    (5, 2, 4, 5, "forward", {"weights_as_inputs": True, "states": True, "layout": 1}),
    (12, 1, 16, 128, "bidirectional", {}),   # two threads in the NumPy kernel
    (10, 3, 9, 130, "bidirectional", {"states": True, "layout": 1}),
]


@pytest.mark.parametrize("provider", ["numpy", "torch"])
@pytest.mark.parametrize("T,N,I,H,direction,opts", CASES)
def test_lstm_against_onnxruntime(provider, T, N, I, H, direction, opts, kernels):  # noqa: F811
    if provider == "torch":
        pytest.importorskip("torch")
    rng = np.random.default_rng(T * 1000 + N * 100 + H)
    model, feeds = _case(rng, T, N, I, H, direction, **opts)
    _check(model, feeds, provider)


@pytest.mark.parametrize("threads", [False, True])
def test_numpy_directions_serial_and_parallel(monkeypatch, threads, kernels):  # noqa: F811
    """The same bidirectional node with its directions one after the other and side by side."""
    monkeypatch.setattr(numpy_lstm, "_parallel_directions", lambda weights, steps: threads)
    calls = []
    real = numpy_lstm._run_both
    monkeypatch.setattr(numpy_lstm, "_run_both", lambda a, b: calls.append(1) or real(a, b))
    rng = np.random.default_rng(7)
    model, feeds = _case(rng, 9, 2, 6, 8, "bidirectional", states=True)
    _check(model, feeds, "numpy")
    assert bool(calls) == threads


def test_numpy_kernel_covers_the_plain_cases(kernels):  # noqa: F811
    """The NumPy kernel itself (not the op library's fallback) gives onnxruntime's results."""
    rng = np.random.default_rng(3)
    for direction in ("forward", "reverse", "bidirectional"):
        for layout in (0, 1):
            model, feeds = _case(rng, 6, 2, 5, 7, direction, states=True, weights_as_inputs=True,
                                 layout=layout)
            want = _reference(model, feeds)
            got = numpy_lstm.lstm(feeds["X"], feeds["W"], feeds["R"], feeds["B"], None, feeds["H0"],
                                  feeds["C0"], direction=direction, hidden_size=7, layout=layout)
            assert got is not NotImplemented
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_numpy_kernel_prepares_constant_weights_once():
    """Read-only weights are prepared once; a writeable array that changes is never stale."""
    rng = np.random.default_rng(5)
    model, feeds = _case(rng, 5, 1, 4, 6, "forward", weights_as_inputs=True)
    want = _reference(model, feeds)[0]
    W, R, B = (feeds[k].copy() for k in ("W", "R", "B"))
    for a in (W, R, B):
        a.flags.writeable = False
    first = numpy_lstm.lstm(feeds["X"], W, R, B, hidden_size=6)[0]
    assert numpy_lstm._prepared(W, R, B, 6) is numpy_lstm._prepared(W, R, B, 6)
    np.testing.assert_allclose(numpy_lstm.lstm(feeds["X"], W, R, B, hidden_size=6)[0], first)
    np.testing.assert_allclose(first, want, rtol=1e-4, atol=1e-5)
    key = (id(W), id(R), id(B))
    assert key in numpy_lstm._PREPARED
    del W, R, B  # the entry goes with its arrays
    assert key not in numpy_lstm._PREPARED
    # the same writeable array, changed in place between calls
    Wm = feeds["W"].copy()
    numpy_lstm.lstm(feeds["X"], Wm, feeds["R"], feeds["B"], hidden_size=6)
    Wm *= 0.5
    feeds2 = dict(feeds, W=Wm)
    np.testing.assert_allclose(numpy_lstm.lstm(feeds["X"], Wm, feeds["R"], feeds["B"], hidden_size=6)[0],
                               _reference(model, feeds2)[0], rtol=1e-4, atol=1e-5)


def _run_in_child(model, feeds, queue):
    got = nnex.InferenceSession(model, providers=["numpy"]).run(None, feeds)
    queue.put([np.asarray(g) for g in got])


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_numpy_two_threads_after_fork():
    """A process forked after the worker thread started gets a worker of its own (no hang)."""
    import multiprocessing

    rng = np.random.default_rng(11)
    model, feeds = _case(rng, 6, 1, 8, 128, "bidirectional")
    _check(model, feeds, "numpy", runs=1)  # the parent's worker exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_run_in_child, args=(model, feeds, queue), daemon=True)
    child.start()
    try:
        got = queue.get(timeout=30)
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
    for g, w in zip(got, _reference(model, feeds)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("intra_op", [0, 1])
def test_numpy_one_thread_when_asked(monkeypatch, intra_op, kernels):  # noqa: F811
    """A session limited to one thread runs the directions one after the other."""
    pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(numpy_lstm, "_cpus", lambda: 2)
    calls = []
    real = numpy_lstm._run_both
    monkeypatch.setattr(numpy_lstm, "_run_both", lambda a, b: calls.append(1) or real(a, b))
    rng = np.random.default_rng(13)
    model, feeds = _case(rng, 5, 1, 8, 128, "bidirectional")
    options = nnex.SessionOptions()
    options.intra_op_num_threads = intra_op
    got = nnex.InferenceSession(model, options, providers=["numpy"]).run(None, feeds)
    for g, w in zip(got, _reference(model, feeds)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    if intra_op == 1:
        assert not calls
    elif blas_threads.wanted_threads() not in (None, 1):  # BLAS not limited to 1 by the environment
        assert calls


def test_compiled_recurrence_saturated_gates(kernels):  # noqa: F811
    """Large weights drive the gates far into tanh's and the sigmoid's flat ends (|z| > 9, where the
    compiled tanh is clamped) and through zero, where its sign must follow the input's."""
    rng = np.random.default_rng(17)
    model, feeds = _case(rng, 9, 2, 6, 16, "bidirectional", states=True)
    for init in model.graph.initializer:
        scaled = numpy_helper.to_array(init) * 20
        init.CopyFrom(numpy_helper.from_array(scaled.astype(np.float32), init.name))
    feeds["X"] = feeds["X"] * 3
    feeds["X"][0, 0, :] = 0  # gates of exactly zero input on the first step
    _check(model, feeds, "numpy")


def test_float64_lstm(kernels):  # noqa: F811
    """float64 keeps the NumPy recurrence (the compiled tanh is exact to float32 only) and its
    precision: compared with the float32 node of onnxruntime on the same values, and with the
    float64 node run on the op library's generic kernel."""
    rng = np.random.default_rng(19)
    model, feeds = _case(rng, 7, 2, 5, 6, "bidirectional", states=True, weights_as_inputs=True)
    want = _reference(model, feeds)
    f64 = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in feeds.items()}
    args = [f64["X"], f64["W"], f64["R"], f64["B"], None, f64["H0"], f64["C0"]]
    got = numpy_lstm.lstm(*args, direction="bidirectional", hidden_size=6)
    assert got is not NotImplemented and all(g.dtype == np.float64 for g in got)
    import array_api_compat.numpy as xp

    from nnex.ops.rnn import lstm as generic

    exact = generic(xp, *args, direction="bidirectional", hidden_size=6)
    for g, w, e in zip(got, want, exact):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-13)


def test_session_runs_blas_on_one_thread_around_parallel_directions(monkeypatch):
    """With the directions on two threads, BLAS runs on one thread during the session's runs
    (OpenBLAS's idle workers would spin on the core the second direction needs), and gets its
    thread count back after each run."""
    pytest.importorskip("threadpoolctl")
    pytest.importorskip("numba")
    from threadpoolctl import threadpool_info, threadpool_limits

    if numpy_lstm._cpus() < 2:
        pytest.skip("needs two CPUs")

    def numpy_blas_threads():  # other BLAS libraries (scipy's) may load during the run
        return max(lib["num_threads"] for lib in threadpool_info()
                   if lib["user_api"] == "blas" and "numpy" in lib["filepath"])

    seen = []
    real = numpy_lstm._run_both

    def spy(a, b):
        seen.append(numpy_blas_threads())
        return real(a, b)

    monkeypatch.setattr(numpy_lstm, "_run_both", spy)
    rng = np.random.default_rng(23)
    model, feeds = _case(rng, 6, 1, 8, 128, "bidirectional")
    # two BLAS threads asked for, whatever an earlier test of this process set (the sklearn
    # tests hold BLAS to one thread for their whole session)
    with threadpool_limits(limits=2, user_api="blas"):
        before = numpy_blas_threads()
        if before < 2:
            pytest.skip("this BLAS cannot be given two threads")
        _check(model, feeds, "numpy", runs=2)
        assert seen == [1, 1]
        assert numpy_blas_threads() == before


@pytest.mark.parametrize("N", [1, 3])
def test_torch_backend_runs_batch_one_on_the_compiled_recurrence(monkeypatch, N):
    """At batch 1 the torch backend hands a float32 LSTM to the compiled recurrence (on the
    tensors' memory); larger batches stay with torch's own LSTM. Both give onnxruntime's outputs."""
    pytest.importorskip("torch")
    pytest.importorskip("numba")
    calls = []
    real = numpy_lstm.lstm
    monkeypatch.setattr(numpy_lstm, "lstm", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(29)
    # more than 1024 input values: the torch backend keeps smaller feeds on NumPy's kernels
    model, feeds = _case(rng, 7, N, 160, 32, "bidirectional", states=True)
    _check(model, feeds, "torch", runs=2)
    assert len(calls) == (2 if N == 1 else 0)


def test_torch_backend_keeps_one_thread_while_the_directions_run_on_two(monkeypatch):
    """A bidirectional LSTM on the compiled recurrence runs its directions on two threads: once
    one has, the torch backend's runs keep torch on one thread (its spinning OpenMP workers would
    take the second direction's core), and torch's count is restored after each run."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("numba")
    from threadpoolctl import threadpool_limits

    seen = []
    real = numpy_lstm._run_both

    def spy(a, b):
        seen.append(torch.get_num_threads())
        return real(a, b)

    monkeypatch.setattr(numpy_lstm, "_run_both", spy)
    before = torch.get_num_threads()
    with threadpool_limits(limits=2, user_api="blas"):
        if before < 2 or not numpy_lstm.parallel_directions_possible():
            pytest.skip("two threads cannot be had here")
        rng = np.random.default_rng(31)
        model, feeds = _case(rng, 6, 1, 8, 128, "bidirectional")
        model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "N"  # any batch
        sess = _check(model, feeds, "torch", runs=3)
        assert seen == [before, 1, 1]
        assert torch.get_num_threads() == before
        # a larger batch runs torch's own LSTM: the run after it has torch's threads again
        wide = {k: np.repeat(v, 3, axis=1) if k == "X" else v for k, v in feeds.items()}
        from nnex.backends import torch_kernels

        threads = []
        real_recurrent = torch_kernels._Kernels._recurrent

        def recurrent(self, *a, **k):
            threads.append(torch.get_num_threads())
            return real_recurrent(self, *a, **k)

        monkeypatch.setattr(torch_kernels._Kernels, "_recurrent", recurrent)
        sess.run(None, wide)
        sess.run(None, wide)
        assert threads == [1, before]
