"""Keras recurrent layers (TensorFlow while loops over TensorLists): nnex and onnxruntime vs Keras."""

from __future__ import annotations

import numpy as np
import pytest
from tf_check import check, rand

keras = pytest.importorskip("keras")
L = keras.layers


def _model(*layers, shape, masking=False):
    inp = keras.Input(shape)
    x = L.Masking(0.0)(inp) if masking else inp
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_recurrent(kind, return_sequences):
    keras.utils.set_random_seed(0)
    model = _model(getattr(L, kind)(4, return_sequences=return_sequences), shape=(6, 3))
    proto = check(model, rand(2, 6, 3), others=[rand(3, 6, 3, seed=1)])
    assert any(n.op_type == "Loop" for n in proto.graph.node)


def test_bidirectional_stacked_with_state():
    keras.utils.set_random_seed(0)
    inp = keras.Input((5, 3))
    seqs = L.Bidirectional(L.LSTM(4, return_sequences=True))(inp)
    out, h = L.GRU(3, return_state=True, go_backwards=True)(seqs)
    model = keras.Model(inp, [out, h])
    check(model, rand(2, 5, 3))


def test_masking():
    keras.utils.set_random_seed(0)
    model = _model(L.LSTM(3, return_sequences=True), L.SimpleRNN(2), shape=(6, 2), masking=True)
    x = rand(3, 6, 2)
    x[0, 4:] = 0.0  # padded steps, skipped by the mask
    x[2, 2:] = 0.0
    check(model, x)


def test_embedding_lstm_classifier():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((7,), dtype="int32"), L.Embedding(20, 5, mask_zero=True),
                              L.LSTM(4), L.Dense(2, activation="softmax")])
    ids = np.random.default_rng(0).integers(1, 20, (3, 7)).astype(np.int32)
    ids[1, 5:] = 0
    check(model, ids)


def test_dynamic_sequence_length():
    keras.utils.set_random_seed(0)
    model = _model(L.GRU(3, return_sequences=True), L.LSTM(2), shape=(None, 3))
    proto = check(model, rand(2, 6, 3), others=[rand(3, 4, 3, seed=1), rand(1, 9, 3, seed=2)])
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_param and not dims[1].HasField("dim_value")
