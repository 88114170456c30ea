"""Native kernels (torch.nn.functional, jax.lax) against onnxruntime on random geometries.

The standard NumPy kernels are made to fail during these runs, so a case the native
kernel silently handed back to them would fail here instead of passing unnoticed.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import nnex
import nnex.ops.conv
import nnex.ops.indexing
import nnex.ops.pool

ort = pytest.importorskip("onnxruntime")


def _session_model(op_type, inputs, n_out=1, opset=19, **attrs):
    names = [f"i{k}" for k in range(len(inputs))]
    outs = [f"o{k}" for k in range(n_out)]
    node = helper.make_node(op_type, names, outs, **attrs)
    vis = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
           for n, a in zip(names, inputs)]
    ovis = [helper.make_empty_tensor_value_info(o) for o in outs]
    graph = helper.make_graph([node], "g", vis, ovis)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model.SerializeToString(), dict(zip(names, inputs))


@pytest.fixture
def no_numpy_kernels(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the standard NumPy kernel ran: the native kernel did not cover this case")

    monkeypatch.setattr(nnex.ops.conv, "conv_nd", refuse)
    monkeypatch.setattr(nnex.ops.conv, "conv_transpose_nd", refuse)
    monkeypatch.setattr(nnex.ops.pool, "_sum_pool", refuse)
    monkeypatch.setattr(nnex.ops.pool, "_padded_for_windows", refuse)
    monkeypatch.setattr(nnex.ops.indexing, "_scatter_into", refuse)


def _compare(provider, model, feeds, rtol=1e-4, atol=1e-5):
    expected = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = nnex.InferenceSession(model, providers=[provider]).run(None, feeds)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape, (g.shape, e.shape)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def _geometry(rng, nsp):
    kernel = [int(rng.integers(1, 4)) for _ in range(nsp)]
    strides = [int(rng.integers(1, 3)) for _ in range(nsp)]
    dilations = [int(rng.integers(1, 3)) for _ in range(nsp)]
    pads = [int(rng.integers(0, k)) for k in kernel] + [int(rng.integers(0, k)) for k in kernel]
    return kernel, strides, dilations, pads


_PROVIDERS = ["torch", "jax"]


@pytest.mark.parametrize("provider", _PROVIDERS)
@pytest.mark.parametrize("seed", range(8))
def test_conv(provider, seed, no_numpy_kernels):
    pytest.importorskip(provider)
    rng = np.random.default_rng(seed)
    nsp = 1 + seed % 3
    kernel, strides, dilations, pads = _geometry(rng, nsp)
    group = int(rng.choice([1, 2]))
    x = rng.standard_normal((2, 2 * group, *[int(rng.integers(5, 8)) for _ in range(nsp)])).astype(np.float32)
    w = rng.standard_normal((3 * group, 2, *kernel)).astype(np.float32)
    b = rng.standard_normal(3 * group).astype(np.float32)
    attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dilations, "group": group}
    if seed % 4 == 3:
        attrs["auto_pad"] = "SAME_UPPER" if seed % 8 == 3 else "SAME_LOWER"
        attrs.pop("dilations")
    else:
        attrs["pads"] = pads
    _compare(provider, *_session_model("Conv", [x, w, b], **attrs))


@pytest.mark.parametrize("provider", _PROVIDERS)
@pytest.mark.parametrize("seed", range(8))
def test_conv_transpose(provider, seed, no_numpy_kernels):
    pytest.importorskip(provider)
    rng = np.random.default_rng(100 + seed)
    nsp = 1 + seed % 2
    kernel, strides, dilations, pads = _geometry(rng, nsp)
    group = int(rng.choice([1, 2]))
    in_shape = [int(rng.integers(3, 6)) for _ in range(nsp)]
    x = rng.standard_normal((2, 2 * group, *in_shape)).astype(np.float32)
    w = rng.standard_normal((2 * group, 3, *kernel)).astype(np.float32)
    b = rng.standard_normal(3 * group).astype(np.float32)
    attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dilations, "group": group}
    if seed % 3 == 0:
        attrs["pads"] = pads
        attrs["output_padding"] = [int(rng.integers(0, s)) for s in strides]
    elif seed % 3 == 1:
        full = [(i - 1) * s + (k - 1) * d + 1 for i, s, k, d in zip(in_shape, strides, kernel, dilations)]
        # onnxruntime takes an output_shape beyond the full result only within a stride
        attrs["output_shape"] = [f + (int(rng.integers(0, 2)) if s > 1 else 0) for f, s in zip(full, strides)]
    else:
        # onnxruntime clamps SAME's padding at 0 where the spec zero-extends (kernel extent
        # below the stride): compare where both agree
        attrs["auto_pad"] = "SAME_UPPER"
        attrs["dilations"] = [1] * nsp
        kernel = [max(k, s) for k, s in zip(kernel, strides)]
        attrs["kernel_shape"] = kernel
        w = rng.standard_normal((2 * group, 3, *kernel)).astype(np.float32)
    _compare(provider, *_session_model("ConvTranspose", [x, w, b], **attrs))


@pytest.mark.parametrize("provider", _PROVIDERS)
@pytest.mark.parametrize("seed", range(8))
def test_max_pool(provider, seed, no_numpy_kernels):
    pytest.importorskip(provider)
    rng = np.random.default_rng(200 + seed)
    nsp = 1 + seed % 3
    kernel, strides, dilations, pads = _geometry(rng, nsp)
    kernel = [k + 1 for k in kernel]
    x = rng.standard_normal((2, 3, *[int(rng.integers(6, 9)) for _ in range(nsp)])).astype(np.float32)
    attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dilations, "pads": pads, "ceil_mode": seed % 2}
    # the indices output (row-major) on torch; jax hands it to the standard kernel
    n_out = 2 if provider == "torch" and seed % 3 else 1
    _compare(provider, *_session_model("MaxPool", [x], n_out=n_out, **attrs))


@pytest.mark.parametrize("provider", _PROVIDERS)
@pytest.mark.parametrize("seed", range(8))
def test_average_pool(provider, seed, no_numpy_kernels):
    pytest.importorskip(provider)
    rng = np.random.default_rng(300 + seed)
    nsp = 1 + seed % 3
    kernel, strides, _, pads = _geometry(rng, nsp)
    kernel = [k + 1 for k in kernel]
    x = rng.standard_normal((2, 3, *[int(rng.integers(6, 9)) for _ in range(nsp)])).astype(np.float32)
    attrs = {"kernel_shape": kernel, "strides": strides, "pads": pads, "ceil_mode": seed % 2,
                 "count_include_pad": (seed // 2) % 2}
    _compare(provider, *_session_model("AveragePool", [x], **attrs))


@pytest.mark.parametrize("provider", _PROVIDERS)
@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_elements(provider, reduction, no_numpy_kernels):
    pytest.importorskip(provider)
    rng = np.random.default_rng(400)
    data = rng.standard_normal((4, 5, 3)).astype(np.float32)
    axis = 1
    # a permutation per row when nothing reduces (duplicates would make the result order-dependent)
    if reduction == "none":
        idx = np.stack([rng.permutation(5)[:4] for _ in range(4 * 3)]).reshape(4, 3, 4).transpose(0, 2, 1)
    else:
        idx = rng.integers(-5, 5, (4, 4, 3))
    updates = rng.standard_normal(idx.shape).astype(np.float32)
    _compare(provider, *_session_model("ScatterElements", [data, idx.astype(np.int64), updates], opset=18,
                                       axis=axis, reduction=reduction))


@pytest.mark.parametrize("provider", _PROVIDERS)
@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_nd(provider, reduction, no_numpy_kernels):
    pytest.importorskip(provider)
    rng = np.random.default_rng(500)
    data = rng.standard_normal((4, 5, 3)).astype(np.float32)
    if reduction == "none":
        flat = rng.permutation(20)[:6]
        idx = np.stack([flat // 5, flat % 5 - 5 * (flat % 2)], axis=-1).reshape(2, 3, 2)
    else:
        idx = np.stack([rng.integers(0, 4, (2, 3)), rng.integers(-5, 5, (2, 3))], axis=-1)
    updates = rng.standard_normal((2, 3, 3)).astype(np.float32)
    _compare(provider, *_session_model("ScatterND", [data, idx.astype(np.int64), updates], opset=18,
                                       reduction=reduction))


@pytest.fixture
def no_numpy_recurrence(monkeypatch):
    import nnex.ops.rnn

    def refuse(*args, **kwargs):
        raise AssertionError("the standard recurrent kernel ran: the native kernel did not cover this case")

    monkeypatch.setattr(nnex.ops.rnn, "_run_directions", refuse)


@pytest.mark.parametrize("op_type", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("layout", [0, 1])
def test_torch_recurrent(op_type, direction, layout, no_numpy_recurrence):
    pytest.importorskip("torch")
    rng = np.random.default_rng(600)
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op_type]
    dirs = 2 if direction == "bidirectional" else 1
    T, N, I, H = 5, 3, 4, 6
    x = rng.standard_normal((N, T, I) if layout else (T, N, I)).astype(np.float32)
    w = rng.standard_normal((dirs, gates * H, I)).astype(np.float32) * 0.5
    r = rng.standard_normal((dirs, gates * H, H)).astype(np.float32) * 0.5
    b = rng.standard_normal((dirs, 2 * gates * H)).astype(np.float32) * 0.5
    state_shape = (N, dirs, H) if layout else (dirs, N, H)
    inputs = [x, w, r, b, np.full(N, T, np.int32), rng.standard_normal(state_shape).astype(np.float32)]
    if op_type == "LSTM":
        inputs.append(rng.standard_normal(state_shape).astype(np.float32))
    attrs = {"hidden_size": H, "direction": direction, "layout": layout}
    if op_type == "GRU":
        attrs["linear_before_reset"] = 1  # the PyTorch form, the one torch's kernel computes
    n_out = 3 if op_type == "LSTM" else 2
    model, feeds = _session_model(op_type, inputs, n_out=n_out, opset=14, **attrs)
    got = nnex.InferenceSession(model, providers=["torch"]).run(None, feeds)
    # onnxruntime has no batch-major layout: its oracle runs the time-major equivalent
    tm = [np.swapaxes(a, 0, 1) if layout and k in (0, 5, 6) else a for k, a in enumerate(inputs)]
    attrs["layout"] = 0
    ref_model, ref_feeds = _session_model(op_type, tm, n_out=n_out, opset=14, **attrs)
    expected = ort.InferenceSession(ref_model, providers=["CPUExecutionProvider"]).run(None, ref_feeds)
    if layout:
        expected = [np.transpose(expected[0], (2, 0, 1, 3))] + [np.swapaxes(e, 0, 1) for e in expected[1:]]
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape, (g.shape, e.shape)
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
