"""Keras 3 layers and model kinds: nnex and onnxruntime vs Keras (TensorFlow backend)."""

from __future__ import annotations

import numpy as np
import pytest
from tf_check import check, op_count, rand

keras = pytest.importorskip("keras")
L = keras.layers


def seq(*layers, shape):
    return keras.Sequential([keras.Input(shape), *layers])


CASES = {
    "dense": (lambda: seq(L.Dense(5, activation="relu"), L.Dense(3), shape=(4,)), (3, 4)),
    "dense_3d": (lambda: seq(L.Dense(6, activation="gelu"), shape=(5, 4)), (2, 5, 4)),
    "conv1d": (lambda: seq(L.Conv1D(4, 3, padding="same", activation="relu"), L.Conv1D(3, 2, strides=2), shape=(9, 3)),
               (2, 9, 3)),
    "conv2d_same_strided": (lambda: seq(L.Conv2D(4, 3, strides=2, padding="same"), L.ReLU(), shape=(9, 7, 3)),
                            (2, 9, 7, 3)),
    "conv2d_dilated_valid": (lambda: seq(L.Conv2D(5, 3, dilation_rate=2, use_bias=False), shape=(10, 10, 2)),
                             (2, 10, 10, 2)),
    "conv2d_groups": (lambda: seq(L.Conv2D(6, 3, groups=2, padding="same"), shape=(8, 8, 4)), (2, 8, 8, 4)),
    "conv3d": (lambda: seq(L.Conv3D(3, 2, padding="same"), L.MaxPooling3D(2), shape=(4, 6, 6, 2)),
               (1, 4, 6, 6, 2)),
    "depthwise": (lambda: seq(L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), shape=(7, 7, 3)),
                  (2, 7, 7, 3)),
    "separable": (lambda: seq(L.SeparableConv2D(5, 3, strides=2), shape=(9, 9, 3)), (2, 9, 9, 3)),
    "conv2d_transpose_same": (lambda: seq(L.Conv2DTranspose(4, 3, strides=2, padding="same"), shape=(5, 5, 3)),
                              (2, 5, 5, 3)),
    "conv2d_transpose_valid": (lambda: seq(L.Conv2DTranspose(2, (3, 2), strides=(2, 3)), shape=(4, 5, 3)),
                               (2, 4, 5, 3)),
    "batchnorm": (lambda: _trained_bn(), (3, 5, 5, 4)),
    "layernorm": (lambda: seq(L.LayerNormalization(), L.Dense(3), shape=(6, 4)), (2, 6, 4)),
    "groupnorm": (lambda: seq(L.GroupNormalization(groups=2), shape=(4, 4, 6)), (2, 4, 4, 6)),
    "unitnorm_rms": (lambda: seq(L.UnitNormalization(), L.RMSNormalization(), shape=(5,)), (3, 5)),
    "pooling": (lambda: seq(L.MaxPooling2D(2), L.AveragePooling2D(2, strides=1, padding="same"),
                            L.GlobalAveragePooling2D(), shape=(8, 8, 3)), (2, 8, 8, 3)),
    "pooling_1d_global_max": (lambda: seq(L.AveragePooling1D(2), L.GlobalMaxPooling1D(), shape=(8, 3)), (2, 8, 3)),
    "reshaping": (lambda: seq(L.Reshape((4, 6)), L.Permute((2, 1)), L.Flatten(), L.RepeatVector(2),
                              L.Cropping1D((0, 1)), shape=(24,)), (2, 24)),
    "padding_cropping_upsampling": (lambda: seq(L.ZeroPadding2D(((1, 0), (2, 1))), L.Cropping2D(((0, 1), (1, 1))),
                                                L.UpSampling2D(2), shape=(4, 5, 2)), (2, 4, 5, 2)),
    "upsampling_bilinear": (lambda: seq(L.UpSampling2D(2, interpolation="bilinear"), shape=(4, 5, 2)),
                            (2, 4, 5, 2)),
    "activations": (lambda: seq(*[L.Activation(a) for a in ("elu", "selu", "softplus", "softsign", "swish",
                                                            "hard_sigmoid", "tanh", "sigmoid", "silu", "mish",
                                                            "leaky_relu", "relu6", "log_softmax")],
                                L.PReLU(), L.LeakyReLU(0.1), L.ELU(), L.Softmax(), shape=(6,)), (3, 6)),
    "time_distributed_einsum_dense": (lambda: seq(L.TimeDistributed(L.Dense(3)),
                                                  L.EinsumDense("abc,cd->abd", (None, 4), bias_axes="d"),
                                                  shape=(4, 5)), (2, 4, 5)),
    "conv1d_3d_transpose": (lambda: seq(L.Reshape((2, 2, 2, 2)), L.Conv3DTranspose(2, 2, strides=2),
                                        L.Reshape((32, 4)), L.Conv1DTranspose(3, 3, strides=2, padding="same"),
                                        shape=(16,)), (2, 16)),
    "pooling_3d_padding_1d_3d": (lambda: seq(L.ZeroPadding3D(1), L.UpSampling3D(2), L.Cropping3D(1),
                                             L.AveragePooling3D(2), L.GlobalMaxPooling3D(), shape=(2, 2, 2, 1)),
                                 (2, 2, 2, 2, 1)),
    "padding_upsampling_1d": (lambda: seq(L.ZeroPadding1D(2), L.UpSampling1D(2), L.Cropping1D(1), shape=(4, 2)),
                              (2, 4, 2)),
    "inference_noops": (lambda: seq(L.Dropout(0.5), L.GaussianNoise(0.1), L.SpatialDropout1D(0.2),
                                    L.AlphaDropout(0.1), L.Identity(), shape=(4, 3)), (2, 4, 3)),
    "conv_lstm": (lambda: seq(L.ConvLSTM1D(2, 3, padding="same"), shape=(3, 5, 2)), (2, 3, 5, 2)),
    "lambda": (lambda: seq(L.Lambda(lambda x: keras.ops.cumsum(x, axis=1) * keras.ops.sqrt(keras.ops.abs(x))),
                           shape=(5,)), (2, 5)),
    "resizing_center_crop_augment": (lambda: seq(L.Resizing(6, 8), L.CenterCrop(4, 4), L.RandomFlip(),
                                                 L.RandomRotation(0.1), L.GlobalMaxPooling2D(keepdims=True),
                                                 shape=(5, 5, 3)), (2, 5, 5, 3)),
    "discretization_category_encoding": (lambda: seq(L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5]),
                                                     L.CategoryEncoding(4, output_mode="one_hot"), shape=(1,)),
                                         (3, 1)),
    "rescaling_normalization": (lambda: seq(L.Rescaling(1 / 255.0, offset=-0.5),
                                            L.Normalization(mean=[0.1, 0.2], variance=[1.5, 2.0]), shape=(3, 2)),
                                (2, 3, 2)),
}


def _trained_bn():
    m = seq(L.BatchNormalization(), L.Conv2D(3, 1), L.BatchNormalization(axis=1), shape=(5, 5, 4))
    # non-trivial moving statistics, so that inference-mode normalization is really tested
    for layer in m.layers:
        if isinstance(layer, L.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(np.linspace(-1, 1, n).astype(np.float32))
            layer.moving_variance.assign(np.linspace(0.5, 2, n).astype(np.float32))
            layer.gamma.assign(np.linspace(0.8, 1.2, n).astype(np.float32))
            layer.beta.assign(np.linspace(-0.2, 0.2, n).astype(np.float32))
    return m


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer(name):
    make, shape = CASES[name]
    keras.utils.set_random_seed(0)
    model = make()
    x = rand(*shape)
    if name == "rescaling_normalization":
        x = np.abs(x) * 100
    check(model, x, others=[rand(1, *shape[1:], seed=1)])


def test_embedding_and_merge_layers():
    keras.utils.set_random_seed(0)
    ids = keras.Input((5,), dtype="int32", name="ids")
    feats = keras.Input((5, 4), name="feats")
    e = L.Embedding(11, 4)(ids)
    parts = [L.Add()([e, feats]), L.Subtract()([e, feats]), L.Multiply()([e, feats]), L.Average()([e, feats]),
             L.Maximum()([e, feats]), L.Minimum()([e, feats])]
    cat = L.Concatenate(axis=-1)(parts)
    dot = L.Dot(axes=(2, 2))([e, feats])
    out = L.Dense(3)(cat)
    model = keras.Model([ids, feats], [out, dot])
    sample = [np.random.default_rng(0).integers(0, 11, (2, 5)).astype(np.int32), rand(2, 5, 4)]
    proto = check(model, sample)
    assert [i.name for i in proto.graph.input] == ["ids", "feats"]


def test_functional_model_with_branches_and_names():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3), name="image")
    a = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    b = L.Conv2D(4, 1)(inp)
    x = L.Add()([a, b])
    x = L.BatchNormalization()(x)
    x = L.Concatenate()([x, L.MaxPooling2D(1)(a)])
    logits = L.Dense(5, name="logits")(L.GlobalAveragePooling2D()(x))
    probs = L.Softmax(name="probs")(logits)
    model = keras.Model(inp, {"logits": logits, "probs": probs})
    proto = check(model, rand(2, 8, 8, 3))
    assert proto.graph.input[0].name == "image"
    # the NHWC <-> NCHW transposes around the convolutions cancel: only the input's is left
    assert op_count(proto, "Transpose") == 1


def test_subclassed_model():
    class Block(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = L.Conv2D(3, 3, padding="same")
            self.bn = L.BatchNormalization()
            self.head = L.Dense(2)

        def call(self, x, training=False):
            y = keras.ops.relu(self.bn(self.conv(x), training=training)) + x
            y = keras.ops.mean(y, axis=(1, 2))
            return self.head(y) * 2.0

    keras.utils.set_random_seed(0)
    model = Block()
    x = rand(2, 6, 6, 3)
    model(x)
    check(model, x, others=[rand(5, 6, 6, 3, seed=3)])


def test_attention_layers():
    keras.utils.set_random_seed(0)
    q, v = keras.Input((4, 6)), keras.Input((5, 6))
    model = keras.Model([q, v], [L.Attention()([q, v]), L.AdditiveAttention()([q, v])])
    check(model, [rand(2, 4, 6), rand(2, 5, 6, seed=1)])


def test_multi_head_attention():
    keras.utils.set_random_seed(0)
    q = keras.Input((5, 8))
    kv = keras.Input((7, 8))
    y = L.MultiHeadAttention(num_heads=2, key_dim=4)(q, kv)
    y = L.LayerNormalization()(y + q)
    model = keras.Model([q, kv], y)
    check(model, [rand(2, 5, 8), rand(2, 7, 8, seed=1)])


def test_static_batch():
    keras.utils.set_random_seed(0)
    model = seq(L.Dense(3), shape=(4,))
    proto = check(model, rand(2, 4), dynamic_batch=False)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
