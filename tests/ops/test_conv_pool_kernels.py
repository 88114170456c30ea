"""The NumPy Conv, ConvTranspose and pooling kernels against onnxruntime.

Each case is a one-node (or small chain) model run by nnex and by onnxruntime on the
same random input.  The cases cover every path of the kernels: columns (im2col) in
blocks of rows and of samples, with whole phase rows per tap for narrow images, the
per-kernel-row products of 2-D stride-1 convs with few outputs, 1x1 products, depthwise
(channel multiplier, strides, dilations, pads, auto_pad, 1-D/3-D), grouped convs,
separable pooling (ceil mode, count_include_pad, dilations, windows reaching into the
padding, whole-plane windows), batches > 1, float64 and float16, and channels-last
intermediates (a depthwise result feeding the others).
onnxruntime has no float64 Conv/AveragePool: there it runs the float32 model on the same
values and nnex's float64 result must agree to float32 accuracy.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import nnex
from nnex.ops._conv_layout import is_channels_last
from nnex.ops.conv import conv_nd

ONNX_TYPE = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.float16: TensorProto.FLOAT16,
             np.int8: TensorProto.INT8, np.uint8: TensorProto.UINT8}


def _model(nodes, x_shape, dtype, inits, outputs=("Y",), opset=19):
    t = ONNX_TYPE[dtype]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("X", t, list(x_shape))],
        [helper.make_tensor_value_info(o, TensorProto.INT64 if o == "I" else t, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _ort(model):
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _compare(nodes, x, inits, dtype=np.float32, outputs=("Y",), rtol=1e-4):
    """nnex and onnxruntime on the same model; float64 against onnxruntime's float32 run."""
    x = x.astype(dtype)
    inits = {k: (v.astype(dtype) if v.dtype.kind == "f" else v) for k, v in inits.items()}
    got = nnex.InferenceSession(_model(nodes, x.shape, dtype, inits, outputs), providers=["numpy"]).run(
        None, {"X": x})
    if dtype == np.float64:
        ref_inits = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in inits.items()}
        ref_model = _model(nodes, x.shape, np.float32, ref_inits, outputs)
        ref = _ort(ref_model).run(None, {"X": x.astype(np.float32)})
        rtol = max(rtol, 1e-4)
    else:
        ref = _ort(_model(nodes, x.shape, dtype, inits, outputs)).run(None, {"X": x})
    if dtype == np.float16:
        rtol = 2e-2
    for g, r in zip(got, ref):
        assert g.shape == r.shape
        assert g.dtype == (r.dtype if dtype != np.float64 or r.dtype.kind != "f" else np.float64)
        scale = max(1.0, float(np.max(np.abs(r.astype(np.float64)), initial=0.0)))
        np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), rtol=rtol, atol=rtol * scale)


def _conv_case(x_shape, w_shape, bias=True, seed=0, **attrs):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    inits = {"W": rng.standard_normal(w_shape)}
    ins = ["X", "W"]
    if bias:
        inits["B"] = rng.standard_normal(w_shape[0])
        ins.append("B")
    return [helper.make_node("Conv", ins, ["Y"], **attrs)], x, inits


CONV_CASES = {
    # columns (im2col), one block
    "3x3_pad": ((1, 8, 9, 11), (6, 8, 3, 3), dict(pads=[1, 1, 1, 1])),
    "3x3_stride2_asym_pads": ((2, 8, 9, 11), (6, 8, 3, 3), dict(pads=[1, 0, 2, 1], strides=[2, 1])),
    "dilated": ((1, 6, 12, 13), (4, 6, 3, 2), dict(pads=[2, 1, 0, 3], dilations=[2, 3])),
    "stride3_kernel5": ((1, 5, 17, 16), (7, 5, 5, 5), dict(strides=[3, 3], pads=[2, 2, 2, 2])),
    "first_layer_7x7_s2": ((1, 3, 37, 41), (8, 3, 7, 7), dict(strides=[2, 2], pads=[3, 3, 3, 3])),
    "same_upper": ((1, 4, 7, 8), (5, 4, 3, 4), dict(auto_pad="SAME_UPPER", strides=[2, 3])),
    "same_lower": ((1, 4, 7, 8), (5, 4, 3, 4), dict(auto_pad="SAME_LOWER", strides=[2, 2])),
    "valid": ((1, 4, 7, 8), (5, 4, 3, 3), dict(auto_pad="VALID", strides=[2, 2])),
    "kernel_covers_input": ((1, 3, 4, 5), (2, 3, 4, 5), dict()),
    # columns in several blocks of rows (a large image) and of samples (small images, batch)
    "row_blocks": ((1, 64, 70, 90), (40, 64, 3, 3), dict(pads=[1, 1, 1, 1])),
    "row_blocks_strided": ((2, 48, 61, 70), (48, 48, 3, 3), dict(pads=[1, 1, 1, 1], strides=[2, 2])),
    "sample_blocks": ((13, 64, 14, 14), (40, 64, 3, 3), dict(pads=[1, 1, 1, 1])),
    "sample_blocks_long_rows": ((6, 16, 3, 40), (8, 16, 3, 3), dict(pads=[1, 1, 1, 1])),
    "sample_blocks_strided": ((5, 8, 9, 10), (6, 8, 3, 3), dict(pads=[1, 1, 1, 1], strides=[2, 2])),
    # grouped, more than one channel per group
    "groups2": ((2, 8, 10, 9), (6, 4, 3, 3), dict(group=2, pads=[1, 1, 1, 1])),
    "groups4_strided": ((1, 16, 11, 12), (8, 4, 3, 3), dict(group=4, strides=[2, 2], pads=[0, 1, 1, 0])),
    # per-kernel-row products: 2-D, stride 1, few outputs per channel, image >= 400 pixels
    "row_products": ((1, 16, 21, 23), (5, 16, 3, 3), dict(pads=[1, 1, 1, 1])),
    "row_products_batch_bias_dilated": ((3, 12, 24, 20), (4, 12, 3, 3),
                                        dict(pads=[2, 0, 1, 2], dilations=[2, 1])),
    "row_products_5x5_blocks": ((1, 32, 120, 96), (16, 32, 5, 5), dict(pads=[2, 2, 2, 2])),
    "row_products_same": ((2, 10, 20, 21), (5, 10, 2, 4), dict(auto_pad="SAME_UPPER")),
    # 1x1 products
    "pointwise": ((1, 16, 7, 9), (24, 16, 1, 1), dict()),
    "pointwise_batch_stride2": ((3, 16, 7, 9), (8, 16, 1, 1), dict(strides=[2, 2])),
    "pointwise_groups": ((2, 12, 5, 6), (8, 12 // 4, 1, 1), dict(group=4)),
    "pointwise_padded": ((1, 6, 5, 6), (4, 6, 1, 1), dict(pads=[1, 0, 1, 2])),
    # depthwise
    "depthwise": ((1, 8, 12, 13), (8, 1, 3, 3), dict(group=8, pads=[1, 1, 1, 1])),
    "depthwise_stride2": ((2, 6, 13, 12), (6, 1, 3, 3), dict(group=6, pads=[1, 1, 1, 1], strides=[2, 2])),
    "depthwise_stride_1x3_dilated": ((1, 5, 14, 17), (5, 1, 3, 4),
                                     dict(group=5, strides=[1, 3], dilations=[2, 2], pads=[2, 1, 0, 3])),
    "depthwise_multiplier2": ((1, 4, 9, 10), (8, 1, 3, 3), dict(group=4, pads=[1, 1, 1, 1])),
    "depthwise_multiplier3_strided": ((2, 3, 11, 9), (9, 1, 5, 3),
                                      dict(group=3, strides=[2, 2], pads=[2, 1, 2, 1])),
    "depthwise_same_upper": ((1, 6, 9, 10), (6, 1, 4, 4), dict(group=6, auto_pad="SAME_UPPER",
                                                               strides=[2, 2])),
    "depthwise_valid_5x5": ((1, 7, 15, 16), (7, 1, 5, 5), dict(group=7, auto_pad="VALID")),
    "depthwise_large": ((1, 40, 57, 57), (40, 1, 3, 3), dict(group=40, pads=[1, 1, 1, 1], strides=[2, 2])),
    # 1-D and 3-D
    "1d": ((2, 4, 17), (6, 4, 3), dict(pads=[1, 2], strides=[2])),
    "1d_depthwise": ((2, 4, 17), (8, 1, 3), dict(group=4, pads=[1, 1], strides=[2], dilations=[2])),
    "1d_pointwise": ((2, 4, 17), (3, 4, 1), dict()),
    "3d": ((1, 3, 5, 6, 7), (4, 3, 3, 2, 3), dict(pads=[1, 0, 1, 1, 1, 0], strides=[1, 2, 2])),
    "3d_depthwise": ((2, 4, 5, 6, 7), (4, 1, 3, 2, 3),
                     dict(group=4, pads=[1, 0, 1, 1, 1, 0], strides=[1, 2, 2])),
    "3d_pointwise": ((1, 4, 3, 4, 5), (6, 4, 1, 1, 1), dict(strides=[1, 2, 1])),
}


@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv(name):
    x_shape, w_shape, attrs = CONV_CASES[name]
    _compare(*_conv_case(x_shape, w_shape, **attrs))


@pytest.mark.parametrize("name", ["3x3_stride2_asym_pads", "row_products", "pointwise",
                                  "depthwise_multiplier2", "depthwise_stride2", "3d", "1d_depthwise"])
def test_conv_without_bias(name):
    x_shape, w_shape, attrs = CONV_CASES[name]
    _compare(*_conv_case(x_shape, w_shape, bias=False, **attrs))


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
@pytest.mark.parametrize("name", ["3x3_stride2_asym_pads", "row_products_batch_bias_dilated",
                                  "pointwise_groups", "depthwise_multiplier3_strided", "groups2",
                                  "3d_depthwise"])
def test_conv_dtypes(name, dtype):
    x_shape, w_shape, attrs = CONV_CASES[name]
    _compare(*_conv_case(x_shape, w_shape, **attrs), dtype=dtype)


def test_conv_weights_fed_at_run_time():
    """Weights that are a graph input (writeable, new every run) go through the same paths."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 16, 21, 23)).astype(np.float32)
    for w_shape, attrs in [((5, 16, 3, 3), dict(pads=[1, 1, 1, 1])), ((16, 1, 3, 3), dict(group=16)),
                           ((7, 16, 3, 3), dict(strides=[2, 2]))]:
        node = helper.make_node("Conv", ["X", "W"], ["Y"], **attrs)
        inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, x.shape),
                  helper.make_tensor_value_info("W", TensorProto.FLOAT, w_shape)]
        outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)]
        graph = helper.make_graph([node], "g", inputs, outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
        sess = nnex.InferenceSession(model, providers=["numpy"])
        for seed in (1, 2):
            w = np.random.default_rng(seed).standard_normal(w_shape).astype(np.float32)
            got = sess.run(None, {"X": x, "W": w})[0]
            ref = _ort(model).run(None, {"X": x, "W": w})[0]
            np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)


def test_channels_last_chain():
    """A depthwise result is stored channels-last; every kernel after it must read it right."""
    rng = np.random.default_rng(5)
    C = 12
    inits = {
        "Wd": rng.standard_normal((C, 1, 3, 3)), "Bd": rng.standard_normal(C),
        "Wp": rng.standard_normal((16, C, 1, 1)), "Bp": rng.standard_normal(16),
        "Wp2": rng.standard_normal((16, 16, 1, 1)),
        "Wd2": rng.standard_normal((16, 1, 3, 3)),
        "Wc": rng.standard_normal((8, 16, 3, 3)), "Bc": rng.standard_normal(8),
        "Wg": rng.standard_normal((8, 4, 3, 3)),
        "Wr": rng.standard_normal((3, C, 3, 3)),
    }
    nodes = [
        helper.make_node("Conv", ["X", "Wd", "Bd"], ["d"], group=C, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["d"], ["dr"]),
        helper.make_node("Conv", ["dr", "Wp", "Bp"], ["p"]),  # 1x1 on channels-last
        helper.make_node("Conv", ["p", "Wp2"], ["p2"], strides=[2, 2]),  # strided 1x1 on channels-last
        helper.make_node("Conv", ["p", "Wd2"], ["d2"], group=16, strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["p2", "d2"], ["s"]),
        helper.make_node("MaxPool", ["s"], ["m"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["m", "Wc", "Bc"], ["c"], pads=[1, 1, 1, 1]),  # columns from channels-last
        helper.make_node("Conv", ["s", "Wg"], ["g"], group=4, pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["g"], ["a"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        helper.make_node("Conv", ["d", "Wr"], ["r"], pads=[1, 1, 1, 1]),  # row products from channels-last
        helper.make_node("GlobalAveragePool", ["c"], ["Y"]),
        helper.make_node("GlobalMaxPool", ["m"], ["Y2"]),
    ]
    x = rng.standard_normal((2, C, 23, 22))
    _compare(nodes, x, inits, outputs=("Y", "Y2", "a", "r", "c"))


def test_depthwise_result_is_channels_last_and_owns_its_memory():
    """The layout contract the other kernels rely on, and the runtime's in-place reuse needs."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 9, 10)).astype(np.float32)
    w = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    y = conv_nd(x, w, group=8, pads=[1, 1, 1, 1])
    assert is_channels_last(y) and y.base is None and y.flags.writeable
    # a 1x1 conv keeps the layout, a conv through columns returns channels-first
    p = conv_nd(y, rng.standard_normal((4, 8, 1, 1)).astype(np.float32))
    assert is_channels_last(p) and p.base is None
    c = conv_nd(y, rng.standard_normal((4, 8, 3, 3)).astype(np.float32))
    assert c.flags.c_contiguous


def test_conv_rejects_mismatched_weights():
    x = np.zeros((1, 6, 5, 5), np.float32)
    with pytest.raises(ValueError, match="group"):
        conv_nd(x, np.zeros((4, 4, 3, 3), np.float32), group=2)
    with pytest.raises(ValueError, match="larger than the input"):
        conv_nd(x, np.zeros((4, 6, 7, 7), np.float32))
    with pytest.raises(ValueError, match="bias"):
        conv_nd(x, np.zeros((4, 6, 3, 3), np.float32), np.zeros(3, np.float32))


def test_sessions_with_different_constant_weights():
    """Derived weights are cached per constant array: sessions of the same shapes but other
    weights, alive together and freed in turn, each get their own."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 16, 21, 23)).astype(np.float32)
    for w_shape, attrs in [((16, 1, 3, 3), dict(group=16, pads=[1, 1, 1, 1])), ((5, 16, 3, 3), dict())]:
        models = []
        for seed in range(3):
            inits = {"W": np.random.default_rng(seed).standard_normal(w_shape).astype(np.float32)}
            models.append(_model([helper.make_node("Conv", ["X", "W"], ["Y"], **attrs)], x.shape, np.float32,
                                 inits))
        sessions = [nnex.InferenceSession(m, providers=["numpy"]) for m in models]
        for _ in range(2):
            for m, sess in zip(models, sessions):
                ref = _ort(m).run(None, {"X": x})[0]
                np.testing.assert_allclose(sess.run(None, {"X": x})[0], ref, rtol=1e-4, atol=1e-3)
        del sessions
        fresh = nnex.InferenceSession(models[1], providers=["numpy"])
        np.testing.assert_allclose(fresh.run(None, {"X": x})[0], _ort(models[1]).run(None, {"X": x})[0],
                                   rtol=1e-4, atol=1e-3)


# ---------------------------------------------------------------------------------------- ConvTranspose

CONV_T_CASES = {
    "basic": ((1, 4, 5, 6), (4, 3, 3, 3), dict()),
    "stride2_pads": ((2, 4, 5, 6), (4, 3, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1])),
    "stride2_output_padding": ((1, 4, 5, 6), (4, 2, 3, 3), dict(strides=[2, 2], output_padding=[1, 1])),
    "groups_dilated": ((1, 4, 5, 6), (4, 3, 3, 2), dict(group=2, dilations=[2, 1], strides=[1, 2])),
    "output_shape": ((1, 3, 4, 4), (3, 2, 3, 3), dict(strides=[2, 2], output_shape=[9, 10])),
    "same_upper": ((1, 3, 4, 5), (3, 2, 4, 4), dict(strides=[2, 2], auto_pad="SAME_UPPER")),
    "upsample_2x2": ((2, 8, 6, 7), (8, 4, 2, 2), dict(strides=[2, 2])),
    "1d": ((2, 3, 7), (3, 4, 3), dict(strides=[3], pads=[1, 0])),
}


@pytest.mark.parametrize("name", list(CONV_T_CASES))
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose(name, bias):
    x_shape, w_shape, attrs = CONV_T_CASES[name]
    rng = np.random.default_rng(1)
    inits = {"W": rng.standard_normal(w_shape)}
    ins = ["X", "W"]
    if bias:
        inits["B"] = rng.standard_normal(w_shape[1] * attrs.get("group", 1))
        ins.append("B")
    _compare([helper.make_node("ConvTranspose", ins, ["Y"], **attrs)], rng.standard_normal(x_shape), inits)


# ---------------------------------------------------------------------------------------- pooling

POOL_CASES = {
    "3x3_s2_p1": ((1, 6, 13, 12), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    "2x2_s2": ((2, 5, 8, 10), dict(kernel_shape=[2, 2], strides=[2, 2])),
    "asym_pads_dilated": ((1, 3, 11, 12), dict(kernel_shape=[3, 2], strides=[2, 1], pads=[2, 0, 1, 1],
                                               dilations=[2, 3])),
    "ceil_mode": ((1, 4, 10, 11), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "ceil_mode_pads": ((1, 4, 11, 10), dict(kernel_shape=[2, 3], strides=[2, 2], ceil_mode=1,
                                            pads=[1, 0, 1, 1])),
    "same_upper": ((1, 3, 7, 8), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    "same_lower": ((1, 3, 7, 8), dict(kernel_shape=[3, 2], strides=[2, 3], auto_pad="SAME_LOWER")),
    "valid": ((1, 3, 7, 8), dict(kernel_shape=[2, 2], strides=[2, 2], auto_pad="VALID")),
    "whole_plane": ((2, 9, 7, 7), dict(kernel_shape=[7, 7])),
    "whole_plane_stride": ((1, 4, 5, 6), dict(kernel_shape=[5, 6], strides=[2, 2])),
    "wider_than_input": ((1, 3, 5, 5), dict(kernel_shape=[6, 6], pads=[2, 2, 2, 2])),
    "1d": ((2, 4, 17), dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
    "3d": ((1, 3, 5, 6, 7), dict(kernel_shape=[3, 2, 3], strides=[1, 2, 2], pads=[1, 0, 1, 1, 1, 0])),
}


@pytest.mark.parametrize("name", list(POOL_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_max_pool(name, dtype):
    shape, attrs = POOL_CASES[name]
    x = np.random.default_rng(2).standard_normal(shape)
    _compare([helper.make_node("MaxPool", ["X"], ["Y"], **attrs)], x, {}, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.float64])
def test_max_pool_other_types(dtype):
    shape, attrs = POOL_CASES["3x3_s2_p1"]
    x = np.random.default_rng(2).integers(-100 if dtype == np.int8 else 0, 100, shape).astype(dtype)
    model = _model([helper.make_node("MaxPool", ["X"], ["Y"], **attrs)], shape, dtype, {})
    got = nnex.InferenceSession(model, providers=["numpy"]).run(None, {"X": x})[0]
    ref = _ort(model).run(None, {"X": x})[0]
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("name", ["3x3_s2_p1", "ceil_mode_pads", "asym_pads_dilated", "3d"])
def test_max_pool_indices(name):
    shape, attrs = POOL_CASES[name]
    x = np.random.default_rng(4).standard_normal(shape)
    _compare([helper.make_node("MaxPool", ["X"], ["Y", "I"], **attrs)], x, {}, outputs=("Y", "I"))


@pytest.mark.parametrize("name", [n for n in POOL_CASES if n != "asym_pads_dilated"])
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool(name, count_include_pad):
    shape, attrs = POOL_CASES[name]
    x = np.random.default_rng(3).standard_normal(shape)
    node = helper.make_node("AveragePool", ["X"], ["Y"], count_include_pad=count_include_pad, **attrs)
    _compare([node], x, {})


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_average_pool_dtypes(dtype):
    shape, attrs = POOL_CASES["ceil_mode_pads"]
    x = np.random.default_rng(3).standard_normal(shape)
    _compare([helper.make_node("AveragePool", ["X"], ["Y"], **attrs)], x, {}, dtype=dtype)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("name", ["3x3_s2_p1", "2x2_s2", "whole_plane", "1d"])
def test_lp_pool(name, p):
    shape, attrs = POOL_CASES[name]
    x = np.random.default_rng(6).standard_normal(shape)
    _compare([helper.make_node("LpPool", ["X"], ["Y"], p=p, **attrs)], x, {})


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [(2, 5, 7, 7), (1, 3, 9), (1, 4, 2, 3, 5), (3, 2, 1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_global_pools(op, shape, dtype):
    x = np.random.default_rng(7).standard_normal(shape)
    _compare([helper.make_node(op, ["X"], ["Y"])], x, {}, dtype=dtype)
