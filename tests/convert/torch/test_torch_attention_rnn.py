"""Attention (masks, causal, GQA, nn.MultiheadAttention, transformer layers) and LSTM/GRU/RNN."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = nn.functional

from torch_check import Fn, check, op_types

g = torch.Generator().manual_seed(5)
D = torch.export.Dim


def randn(*s):
    return torch.randn(*s, generator=g)


Q, K, V = randn(2, 3, 4, 8), randn(2, 3, 6, 8), randn(2, 3, 6, 8)
BOOL_MASK = torch.rand(4, 6, generator=g) > 0.3
BOOL_MASK[1] = False  # a row with nothing to attend to: zeros in torch
FLOAT_MASK = randn(2, 1, 4, 6)

SDPA = {
    "plain": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
    "bool_mask": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=BOOL_MASK),
    "float_mask": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=FLOAT_MASK),
    "causal": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    "scale": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3),
    "gqa": lambda q, k, v: F.scaled_dot_product_attention(q.repeat(1, 2, 1, 1), k, v, enable_gqa=True),
}


@pytest.mark.parametrize("name", list(SDPA))
def test_sdpa(name):
    check(Fn(SDPA[name]), (Q, K, V))


@pytest.mark.parametrize("name", ["bool_mask", "causal"])
def test_sdpa_core_aten(name):
    check(Fn(SDPA[name]), (Q, K, V), decompose=True)


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_masks(need_weights):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=True, kdim=12, vdim=10).eval()

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, q, k, v, pad, causal):
            out, w = self.mha(q, k, v, key_padding_mask=pad, attn_mask=causal, need_weights=need_weights)
            return (out, w) if need_weights else out

    pad = torch.tensor([[False] * 5 + [True], [False] * 6])
    causal = torch.triu(torch.ones(4, 6, dtype=torch.bool), 3)
    check(M(), (randn(2, 4, 16), randn(2, 6, 12), randn(2, 6, 10), pad, causal))


def test_transformer_encoder_dynamic_seq():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True, norm_first=True)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = enc

        def forward(self, x, pad):
            return self.enc(x, src_key_padding_mask=pad)

    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[0, 3:] = True
    seq = D("seq", min=2, max=64)
    pad2 = torch.zeros(2, 7, dtype=torch.bool)
    pad2[1, 6:] = True
    check(M(), (randn(2, 5, 16), pad), dynamic_shapes={"x": {1: seq}, "pad": {1: seq}}, others=[(randn(2, 7, 16), pad2)])


class Recurrent(nn.Module):
    def __init__(self, kind, **kw):
        super().__init__()
        torch.manual_seed(0)
        self.rnn = getattr(nn, kind)(4, 5, **kw)
        self.kind = kind

    def forward(self, x, h0=None):
        out, h = self.rnn(x, h0)
        return (out, *h) if self.kind == "LSTM" else (out, h)


RNNS = {
    "lstm": ("LSTM", {}, (7, 2, 4)),
    "lstm_bi_2layer_batch_first": ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}, (2, 7, 4)),
    "lstm_no_bias": ("LSTM", {"bias": False}, (7, 2, 4)),
    "gru": ("GRU", {}, (6, 3, 4)),
    "gru_bi_3layer": ("GRU", {"num_layers": 3, "bidirectional": True}, (6, 3, 4)),
    "rnn_tanh": ("RNN", {"num_layers": 2}, (5, 2, 4)),
    "rnn_relu_bi_batch_first": ("RNN", {"nonlinearity": "relu", "bidirectional": True, "batch_first": True},
                                (2, 5, 4)),
}


@pytest.mark.parametrize("name", list(RNNS))
def test_rnn(name):
    kind, kw, shape = RNNS[name]
    proto = check(Recurrent(kind, **kw), (randn(*shape),))
    assert {"LSTM": "LSTM", "GRU": "GRU", "RNN": "RNN"}[kind] in op_types(proto)


def test_lstm_initial_state_and_dynamic_batch():
    m = Recurrent("LSTM", num_layers=2, bidirectional=True)
    h0 = (randn(4, 3, 5), randn(4, 3, 5))
    b = D("batch", min=2, max=100)
    h1 = (randn(4, 5, 5), randn(4, 5, 5))
    check(m, (randn(6, 3, 4), h0), dynamic_shapes={"x": {1: b}, "h0": ({1: b}, {1: b})},
          others=[(randn(6, 5, 4), h1)])


def test_gru_initial_state_unbatched():
    m = Recurrent("GRU", num_layers=2)
    check(m, (randn(6, 4), randn(2, 5)))
