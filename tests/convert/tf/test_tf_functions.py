"""tf.functions, ConcreteFunctions and SavedModels: nnex and onnxruntime vs TensorFlow, op family by op family."""

from __future__ import annotations

import numpy as np
import pytest
from tf_check import check, op_count, rand

tf = pytest.importorskip("tensorflow")

import nnex
from nnex.convert import ConversionError


def _fn(f):
    return tf.function(f, autograph=True)


ELEMENTWISE = {
    "arith": lambda x, y: [x + y, x - y, x * y, x / (tf.abs(y) + 1), tf.maximum(x, y), tf.minimum(x, y),
                           tf.math.squared_difference(x, y), tf.pow(tf.abs(x) + 0.5, y), tf.math.atan2(x, y)],
    "unary": lambda x, y: [tf.exp(x), tf.math.log1p(tf.abs(x)), tf.math.rsqrt(tf.abs(x) + 1), tf.square(x),
                           tf.sign(x), tf.floor(x), tf.round(x * 2), tf.math.erfc(x), tf.math.expm1(x),
                           tf.nn.softplus(x), tf.nn.elu(x), tf.nn.selu(x), tf.nn.relu6(x * 4),
                           tf.nn.leaky_relu(x, 0.3), tf.math.reciprocal(y + 5), tf.sin(x), tf.tanh(x)],
    "floor_div_mod": lambda x, y: [tf.math.floordiv(x, y + 3.5), tf.math.floormod(x, y + 3.5),
                                   tf.truncatediv(tf.cast(x * 10, tf.int32), 3),
                                   tf.math.floordiv(tf.cast(x * 10, tf.int32), 3),
                                   tf.math.floormod(tf.cast(x * 10, tf.int32), -3),
                                   tf.math.divide_no_nan(x, tf.where(y > 0, y, 0.0))],
    "compare_select": lambda x, y: [tf.where(x > y, x, y), tf.cast(tf.equal(tf.round(x), tf.round(y)), tf.int32),
                                    tf.logical_and(x > 0, y < 0), tf.logical_not(x >= y), x != y,
                                    tf.math.is_finite(x / y), tf.clip_by_value(x, -0.5, 0.5)],
    "softmax_family": lambda x, y: [tf.nn.softmax(x), tf.nn.log_softmax(y), tf.nn.sigmoid(x) * tf.nn.relu(y)],
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise(name):
    check(_fn(ELEMENTWISE[name]), (rand(3, 4), rand(3, 4, seed=1)), others=[(rand(2, 4, seed=2), rand(2, 4, seed=3))])


SHAPES = {
    "reshape_transpose_concat": lambda x: [tf.transpose(tf.reshape(x, [-1, 2, 6]), [0, 2, 1]),
                                           tf.concat([x, x * 2], axis=-1), tf.stack([x, x + 1], axis=1)],
    "unstack_split": lambda x: [*tf.unstack(x, axis=1)[:2], *tf.split(x, 3, axis=1), *tf.split(x, [2, -1, 4], 1)],
    "strided_slice": lambda x: [x[:, 1:8:2], x[:, ::-1], x[..., 3], x[:, tf.newaxis, 2:5], x[-1], x[:, -3:],
                                x[1:, ..., ::3]],
    "slice_gather": lambda x: [tf.slice(x, [0, 2], [-1, 5]), tf.gather(x, [3, 1, 1], axis=1),
                               tf.gather_nd(x, [[0, 1], [1, 11]]), tf.reverse(x, [1])],
    "pad_tile_broadcast": lambda x: [tf.pad(x, [[0, 1], [2, 3]]), tf.pad(x, [[1, 1], [2, 2]], mode="REFLECT"),
                                     tf.tile(x, [2, 1]), tf.broadcast_to(x[:, :1], tf.shape(x)),
                                     tf.pad(x, [[0, 0], [1, 0]], constant_values=7.0)],
    "shapes_dynamic": lambda x: [tf.reshape(x, [tf.shape(x)[0] * 3, -1]), tf.cast(tf.shape(x), tf.float32),
                                 tf.fill([tf.shape(x)[0], 2], 3.0), tf.zeros_like(x) + tf.ones_like(x),
                                 tf.expand_dims(x, -1), tf.squeeze(x[:, None, :4], axis=1),
                                 tf.range(tf.shape(x)[1]) * 2, tf.cast(tf.size(x), tf.float32)],
    "reductions": lambda x: [tf.reduce_mean(x, 1), tf.reduce_sum(x, [0, 1], keepdims=True), tf.reduce_max(x, -1),
                             tf.reduce_min(x, 0), tf.reduce_prod(x[:, :3], 1), tf.argmax(x, 1), tf.argmin(x, 0),
                             tf.reduce_any(x > 1, 1), tf.reduce_all(x > -1, 0), tf.norm(x, axis=1),
                             tf.math.cumsum(x, axis=1, exclusive=True, reverse=True)],
    "matmul_einsum": lambda x: [tf.matmul(x, x, transpose_b=True), tf.matmul(x, x, transpose_a=True),
                                tf.einsum("ij,kj->ik", x, x), tf.einsum("bi,bi->b", x, x),
                                tf.linalg.matmul(tf.reshape(x, [-1, 3, 4]), tf.reshape(x, [-1, 4, 3]))],
    "one_hot_topk": lambda x: [tf.one_hot(tf.argmax(x, 1), 12, on_value=2.0, off_value=-1.0),
                               *tf.math.top_k(x, 3)],
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shapes_and_indexing(name):
    check(_fn(SHAPES[name]), rand(2, 12), others=[rand(4, 12, seed=1)])


def test_conv_pool_nchw_free_functions():
    w = rand(3, 3, 2, 4)
    dw = rand(3, 3, 4, 1, seed=2)

    @tf.function
    def f(x):
        y = tf.nn.conv2d(x, w, strides=2, padding="SAME")
        y = tf.nn.depthwise_conv2d(y, dw, [1, 1, 1, 1], "VALID")
        y = tf.nn.max_pool2d(y, 2, 1, "SAME") + tf.nn.avg_pool2d(y, 2, 1, "SAME")
        z = tf.nn.conv2d(x, w, strides=1, padding=[[0, 0], [1, 2], [0, 1], [0, 0]])
        return y, tf.nn.relu(z), tf.nn.depth_to_space(tf.concat([y, y], -1), 2)

    check(f, rand(2, 9, 9, 2))


def test_fused_batch_norm_and_resize():
    scale, offset = rand(3) + 2, rand(3, seed=1)
    mean, var = rand(3, seed=2), np.abs(rand(3, seed=3)) + 0.5

    @tf.function
    def f(x):
        y, *_ = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, mean, var, epsilon=1e-3, is_training=False)
        return (y, tf.image.resize(x, [7, 5], "bilinear"), tf.image.resize(x, [8, 10], "nearest"),
                tf.compat.v1.image.resize_bilinear(x, [6, 6], align_corners=True))

    check(f, rand(2, 4, 5, 3))


def test_while_loop_and_cond():
    @tf.function
    def f(x, n):
        def body(i, acc):
            return i + 1, acc * 0.5 + tf.reduce_sum(x) * tf.cast(i, tf.float32)

        _, acc = tf.while_loop(lambda i, acc: i < n, body, [tf.constant(0), tf.zeros([])])
        y = tf.cond(acc > 0, lambda: x * acc, lambda: x - acc)
        return y, acc

    proto = check(f, (rand(3), np.asarray(4, np.int32)), dynamic_batch=False,
                  others=[(rand(3, seed=1), np.asarray(0, np.int32)), (-np.abs(rand(3, seed=2)), np.asarray(7, np.int32))])
    assert {"Loop", "If"} <= {n.op_type for n in proto.graph.node}


def test_tensor_array_loop():
    @tf.function
    def f(x):
        steps = tf.shape(x)[0]
        ta = tf.TensorArray(tf.float32, size=steps)
        h = tf.zeros_like(x[0])
        for t in tf.range(steps):
            h = tf.tanh(h + x[t])
            ta = ta.write(t, h)
        return ta.stack()

    check(f, rand(5, 3), others=[rand(2, 3, seed=1)])


def test_concrete_function_signature_and_names():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="features")])
    def f(features):
        return {"double": features * 2, "sum": tf.reduce_sum(features, 1)}

    proto = nnex.convert(f.get_concrete_function())
    assert [i.name for i in proto.graph.input] == ["features"]
    assert [o.name for o in proto.graph.output] == ["double", "sum"]
    x = rand(4, 3)
    got = nnex.InferenceSession(proto.SerializeToString()).run(None, {"features": x})
    np.testing.assert_allclose(got[0], x * 2, rtol=1e-6)
    np.testing.assert_allclose(got[1], x.sum(1), rtol=1e-5)


def test_saved_model(tmp_path):
    class Scale(tf.Module):
        def __init__(self):
            self.w = tf.Variable(rand(3, 2))

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def __call__(self, x):
            return tf.nn.relu(tf.matmul(x, self.w))

    module = Scale()
    tf.saved_model.save(module, str(tmp_path), signatures=module.__call__)
    x = rand(4, 3)
    want = module(x).numpy()
    for obj in (str(tmp_path), tf.saved_model.load(str(tmp_path))):
        proto = nnex.convert.tensorflow.convert(obj) if isinstance(obj, str) else nnex.convert(obj)
        got = nnex.InferenceSession(proto.SerializeToString()).run(None, {proto.graph.input[0].name: x})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dilated_conv_is_one_conv():
    w = rand(3, 3, 2, 3)

    @tf.function
    def f(x):
        return tf.nn.conv2d(x, w, strides=1, padding="SAME", dilations=2)

    proto = check(f, rand(2, 11, 9, 2))
    assert op_count(proto, "Conv") == 1 and op_count(proto, "Reshape") == 0


def test_unsupported_op_is_named():
    @tf.function
    def f(x):
        return tf.linalg.svd(x, compute_uv=False)

    with pytest.raises(ConversionError, match="Svd"):
        nnex.convert(f, rand(3, 3))


def test_verify_option(capsys):
    @tf.function
    def f(x):
        return tf.nn.relu(x) * 3.0

    proto = nnex.convert(f, rand(2, 3), verify=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert "nnex.verification" in meta and "largest" in capsys.readouterr().out


def test_module_with_tf_function_call():
    class Affine(tf.Module):
        def __init__(self):
            self.w = tf.Variable(rand(4, 2))
            self.b = tf.Variable(rand(2, seed=1))

        @tf.function
        def __call__(self, x):
            return tf.matmul(x, self.w) + self.b

    check(Affine(), rand(3, 4), others=[rand(1, 4, seed=2)])
