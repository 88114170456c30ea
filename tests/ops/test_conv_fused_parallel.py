"""The Conv paths added for MobileNet-like networks, against onnxruntime.

* depthwise convolutions split into blocks of rows on several threads (_conv_parallel),
  random shapes, strides, pads, dilations, channel multipliers and batches;
* a Clip / Relu fused into a Conv (``conv_nd(..., activation=...)``, the kernel side of the
  plan-level fusion) on every Conv path, against the same Conv + Clip model in onnxruntime;
* which Clip / Relu nodes ``fused_activation`` accepts.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from _kernel_choice import kernels  # noqa: F401 - a fixture
from onnx import TensorProto, helper, numpy_helper

import nnex
from nnex.ir.io import load
from nnex.ops import _conv_parallel
from nnex.ops._conv_activation import fused_activation
from nnex.ops._conv_layout import empty_channels_last
from nnex.ops.conv import conv_nd

F32 = TensorProto.FLOAT


def _model(nodes, x_shape, inits, outputs=("Y",), inputs=(), opset=19):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("X", F32, list(x_shape))] + list(inputs),
        [helper.make_tensor_value_info(o, F32, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _ort(model, feeds):
    return onnxruntime.InferenceSession(model.SerializeToString(),
                                        providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.fixture
def threads(monkeypatch, kernels):
    """Two threads, and blocks small enough that the test shapes are split (the NumPy
    kernels' threads; the compiled depthwise kernel is tested alongside, see conftest)."""
    monkeypatch.setattr(_conv_parallel, "_threads", 2)
    monkeypatch.setattr(_conv_parallel, "MIN_BLOCK_WORK", 64)


def _depthwise_case(rng):
    C = int(rng.integers(1, 7))
    mult = int(rng.choice([1, 1, 2]))
    kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
    sh, sw = (int(s) for s in rng.integers(1, 4, size=2))
    dh, dw = (int(d) for d in rng.integers(1, 3, size=2))
    pads = [int(p) for p in rng.integers(0, 3, size=4)]
    H = int(rng.integers((kh - 1) * dh + 1, 20))
    W = int(rng.integers((kw - 1) * dw + 1, 20))
    N = int(rng.integers(1, 4))
    attrs = dict(group=C, kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw], pads=pads)
    return (N, C, H, W), (C * mult, 1, kh, kw), attrs


@pytest.mark.parametrize("seed", range(12))
def test_depthwise_blocks_on_threads(threads, seed):
    rng = np.random.default_rng(seed)
    x_shape, w_shape, attrs = _depthwise_case(rng)
    dtype = np.float64 if seed % 3 == 0 else np.float32
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    w.flags.writeable = b.flags.writeable = False  # constants: the derived rows are cached
    if seed % 2:  # a channels-last input, as a previous depthwise or 1x1 conv leaves it
        xl = empty_channels_last(x.shape, x.dtype)
        xl[...] = x
        x = xl
    got = conv_nd(x, w, b, **attrs)
    node = helper.make_node("Conv", ["X", "W", "B"], ["Y"], **attrs)
    ref = _ort(_model([node], x_shape, {"W": w.astype(np.float32), "B": b.astype(np.float32)}),
               {"X": np.ascontiguousarray(x, dtype=np.float32)})[0]
    assert got.dtype == dtype
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("x_shape, w_shape, attrs", [
    ((2, 4, 9, 6, 7), (4, 1, 3, 2, 3), dict(group=4, pads=[1, 0, 1, 2, 1, 0], strides=[2, 1, 2])),
    ((1, 3, 8, 5, 6), (6, 1, 2, 3, 3), dict(group=3, pads=[0, 1, 1, 1, 1, 1], dilations=[3, 1, 1])),
    ((2, 5, 31), (5, 1, 4), dict(group=5, pads=[2, 1], strides=[2])),
    ((1, 2, 2, 6), (2, 1, 1, 3), dict(group=2, pads=[8, 1, 0, 1])),  # a block of padding only
])
def test_depthwise_blocks_on_threads_nd(threads, x_shape, w_shape, attrs):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    got = conv_nd(x, w, b, **attrs)
    node = helper.make_node("Conv", ["X", "W", "B"], ["Y"], **attrs)
    ref = _ort(_model([node], x_shape, {"W": w, "B": b}), {"X": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_depthwise_session_on_threads(threads):
    """The threaded kernel in a session, MobileNet's block: 1x1, depthwise, Clip, 1x1."""
    rng = np.random.default_rng(3)
    C = 24
    inits = {"We": rng.standard_normal((C, 8, 1, 1)).astype(np.float32),
             "Wd": rng.standard_normal((C, 1, 3, 3)).astype(np.float32),
             "Bd": rng.standard_normal(C).astype(np.float32),
             "Wp": rng.standard_normal((8, C, 1, 1)).astype(np.float32),
             "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    nodes = [helper.make_node("Conv", ["X", "We"], ["e"]),
             helper.make_node("Clip", ["e", "lo", "hi"], ["ec"]),
             helper.make_node("Conv", ["ec", "Wd", "Bd"], ["d"], group=C, pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Clip", ["d", "lo", "hi"], ["dc"]),
             helper.make_node("Conv", ["dc", "Wp"], ["Y"])]
    x = rng.standard_normal((2, 8, 17, 16)).astype(np.float32)
    model = _model(nodes, x.shape, inits)
    got = nnex.InferenceSession(model.SerializeToString(), providers=["numpy"]).run(None, {"X": x})[0]
    np.testing.assert_allclose(got, _ort(model, {"X": x})[0], rtol=1e-4, atol=1e-4)


FUSED_CASES = {
    "depthwise": ((1, 6, 11, 12), (6, 1, 3, 3), dict(group=6, pads=[1, 1, 1, 1])),
    "depthwise_stride2_batch": ((2, 5, 12, 13), (5, 1, 3, 3),
                                dict(group=5, pads=[1, 1, 1, 1], strides=[2, 2])),
    "pointwise": ((1, 7, 9, 10), (12, 7, 1, 1), dict()),
    "pointwise_batch": ((3, 7, 5, 6), (4, 7, 1, 1), dict()),
    "pointwise_channels_last": ((2, 7, 9, 10), (12, 7, 1, 1), dict()),
    "pointwise_groups": ((1, 8, 5, 6), (12, 2, 1, 1), dict(group=4)),
    "columns": ((1, 4, 9, 11), (6, 4, 3, 3), dict(pads=[1, 1, 1, 1], strides=[2, 2])),
    "row_products": ((1, 16, 21, 23), (5, 16, 3, 3), dict(pads=[1, 1, 1, 1])),
}


@pytest.mark.parametrize("bounds", [(0.0, 6.0), (0.0, None), (None, 0.5), (-1.0, 1.0)])
@pytest.mark.parametrize("name", list(FUSED_CASES))
@pytest.mark.parametrize("parallel", [False, True])
def test_fused_activation(name, bounds, parallel, monkeypatch, kernels):
    if parallel:
        monkeypatch.setattr(_conv_parallel, "_threads", 2)
        monkeypatch.setattr(_conv_parallel, "MIN_BLOCK_WORK", 64)
    else:
        monkeypatch.setattr(_conv_parallel, "_threads", 1)
    x_shape, w_shape, attrs = FUSED_CASES[name]
    rng = np.random.default_rng(len(name))
    x = (3 * rng.standard_normal(x_shape)).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    xin = x
    if name.endswith("channels_last"):
        xin = empty_channels_last(x.shape, x.dtype)
        xin[...] = x
    got = conv_nd(xin, w, b, activation=bounds, **attrs)
    inits = {"W": w, "B": b}
    clip_in = ["y"]
    for i, v in enumerate(bounds):
        if v is None:
            clip_in.append("")
        else:
            inits[f"c{i}"] = np.array(v, np.float32)
            clip_in.append(f"c{i}")
    nodes = [helper.make_node("Conv", ["X", "W", "B"], ["y"], **attrs),
             helper.make_node("Clip", clip_in, ["Y"])]
    ref = _ort(_model(nodes, x_shape, inits), {"X": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- which readers fuse


def _graph(reader, extra_outputs=(), opset=19, extra_nodes=(), clip_inputs=()):
    inits = {"W": np.ones((2, 2, 1, 1), np.float32), "lo": np.array(0, np.float32),
             "hi": np.array(6, np.float32), "lo64": np.array(0, np.float64)}
    nodes = [helper.make_node("Conv", ["X", "W"], ["y"]), reader] + list(extra_nodes)
    outs = ["Y"] + list(extra_outputs)
    model = _model(nodes, (1, 2, 3, 3), inits, outputs=outs, opset=opset, inputs=clip_inputs)
    g = load(model.SerializeToString()).graph
    node = {n.op_type: n for n in g.nodes}

    class Reader:  # a graph node seen with its opsets, as the planner's nodes are
        op_type, domain, inputs, outputs, attributes = (reader.op_type, "", node[reader.op_type].inputs,
                                                        node[reader.op_type].outputs,
                                                        node[reader.op_type].attributes)
        opsets = {"": opset}
        source = node[reader.op_type]

    return node["Conv"], Reader, g.outputs


def test_fused_activation_accepts_clip_and_relu():
    assert fused_activation(*_graph(helper.make_node("Clip", ["y", "lo", "hi"], ["Y"]))) == (0.0, 6.0)
    assert fused_activation(*_graph(helper.make_node("Clip", ["y", "", "hi"], ["Y"]))) == (None, 6.0)
    assert fused_activation(*_graph(helper.make_node("Relu", ["y"], ["Y"]))) == (0.0, None)
    big = float(np.finfo(np.float32).max)
    clip6 = helper.make_node("Clip", ["y"], ["Y"], min=0.0)
    assert fused_activation(*_graph(clip6, opset=6)) == (0.0, big)


def test_fused_activation_refuses():
    clip = helper.make_node("Clip", ["y", "lo", "hi"], ["Y"])
    # the Conv's output is a graph output, or read by another node too
    assert fused_activation(*_graph(clip, extra_outputs=("y",))) is None
    assert fused_activation(*_graph(clip, extra_outputs=("Z",),
                                    extra_nodes=[helper.make_node("Neg", ["y"], ["Z"])])) is None
    # bounds fed at run time, no bounds at all, min > max, another op
    fed = [helper.make_tensor_value_info("m", F32, [])]
    assert fused_activation(*_graph(helper.make_node("Clip", ["y", "m"], ["Y"]), clip_inputs=fed)) is None
    assert fused_activation(*_graph(helper.make_node("Clip", ["y"], ["Y"]))) is None
    assert fused_activation(*_graph(helper.make_node("Clip", ["y", "hi", "lo"], ["Y"]))) is None
    assert fused_activation(*_graph(helper.make_node("Sigmoid", ["y"], ["Y"]))) is None


@pytest.mark.parametrize("bounds", [(0.0, 6.0), (0.0, None), (None, 0.5), (-1.0, None)])
@pytest.mark.parametrize("name", ["depthwise", "pointwise_batch", "columns"])
@pytest.mark.parametrize("onednn", [False, True])
def test_fused_activation_torch(name, bounds, onednn):
    """The torch Conv kernel with a fused activation: oneDNN's post-op, or a clamp after."""
    torch = pytest.importorskip("torch")
    from nnex.backends import get_backend
    from nnex.backends.torch_kernels import _ConvNode, _Kernels

    backend = get_backend(["torch"])
    node = _ConvNode(_Kernels(torch, torch.nn.functional, backend))
    x_shape, w_shape, attrs = FUSED_CASES[name]
    rng = np.random.default_rng(len(name))
    x = (3 * rng.standard_normal(x_shape)).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    tw, tb = torch.from_numpy(w), torch.from_numpy(b)
    if onednn:  # constants of a plan (torch_backend.py marks them) take the oneDNN path in a run
        if node.mkldnn is None:
            pytest.skip("torch without oneDNN")
        tw.nnex_constant = tb.nnex_constant = True
    # a second run (the remembered oneDNN call), then another batch size (the general path)
    x2 = rng.standard_normal(x_shape).astype(np.float32)
    x3 = rng.standard_normal((x_shape[0] + 1,) + x_shape[1:]).astype(np.float32)
    for xi in (x, x2, x3):
        with torch.inference_mode():
            got = node(None, torch.from_numpy(xi), tw, tb, _activation=bounds, **attrs)
            got = got.contiguous().numpy()
        ref = np.clip(conv_nd(xi, w, b, **attrs), *bounds)
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_threads_in_a_forked_child(threads):
    """A child forked after the pool started gets a pool of its own (the parent's threads
    do not exist in it: handing them a block would wait forever)."""
    import multiprocessing

    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 4, 12, 12)).astype(np.float32)
    w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    want = conv_nd(x, w, group=4, pads=[1, 1, 1, 1])  # starts the pool here
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_depthwise_in_child, (x, w)).get(timeout=60)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def _depthwise_in_child(x, w):
    _conv_parallel._threads = 2
    _conv_parallel.MIN_BLOCK_WORK = 64
    return np.ascontiguousarray(conv_nd(x, w, group=4, pads=[1, 1, 1, 1]))


@pytest.mark.parametrize("rows, cols, bias_shape", [(1, 9, (1, 1)), (4, 1, (1, 1)), (6, 7, (6, 1)),
                                                    (6, 7, (1, 7)), (5, 4, (1, 1)), (3000, 16, (1, 16))])
def test_product_bias_and_clamp_forms(rows, cols, bias_shape, kernels):
    """The bias/clamp epilogue of a conv's product (compiled or NumPy) on every bias form the
    1x1 kernels pass, against NumPy's broadcasting add and clip."""
    rng = np.random.default_rng(rows + cols)
    a = rng.standard_normal((rows, 5)).astype(np.float32)
    b = rng.standard_normal((5, cols)).astype(np.float32)
    bias = rng.standard_normal(bias_shape).astype(np.float32)
    out = np.empty((rows, cols), np.float32)
    _conv_parallel.product_rows(a, b, out, bias, (0.0, 1.0))
    np.testing.assert_allclose(out, np.clip(a @ b + bias, 0.0, 1.0), rtol=1e-6, atol=1e-6)
    y = a @ b
    _conv_parallel.bias_and_clamp(y, bias, (None, 0.5))
    np.testing.assert_allclose(y, np.minimum(a @ b + bias, 0.5), rtol=1e-6, atol=1e-6)
