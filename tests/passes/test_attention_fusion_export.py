"""Attention fusion on what torch.onnx (TorchScript exporter, opset 23) writes for
scaled_dot_product_attention, nn.MultiheadAttention and transformers' BERT / GPT-2 / ViT.

Oracles: onnxruntime on the exported model (check_optimized), and torch itself.
"""

from __future__ import annotations

import io
import math

import numpy as np
import onnx
import pytest
from onnx import helper

import nnex

from .helpers import check_optimized, op_counts

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
RTOL = 1e-5


def _export(module, args, names, dynamic=None) -> onnx.ModelProto:
    f = io.BytesIO()
    torch.onnx.export(module.eval(), args, f, input_names=names, dynamic_axes=dynamic, opset_version=23,
                      dynamo=False)
    return onnx.load_from_string(f.getvalue())


def _nnex(model, feeds):
    opts = nnex.SessionOptions()
    opts.graph_optimization_level = 0
    return nnex.InferenceSession(model, opts).run(None, feeds)


def _attention(model):
    (node,) = [n for n in model.graph.node if n.op_type == "Attention"]
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}, list(node.input)


class _SDPA(torch.nn.Module):
    def __init__(self, is_causal=False, scale=None):
        super().__init__()
        self.is_causal, self.scale = is_causal, scale

    def forward(self, q, k, v, mask=None):
        sdpa = torch.nn.functional.scaled_dot_product_attention
        return sdpa(q, k, v, attn_mask=mask, is_causal=self.is_causal, scale=self.scale)


@pytest.mark.parametrize("case", ["plain", "causal", "scale", "bool_mask", "float_mask"])
def test_scaled_dot_product_attention(case):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 8, 16, generator=g) for _ in range(3))
    args, names = (q, k, v), ["q", "k", "v"]
    module = _SDPA(is_causal=case == "causal", scale=0.3 if case == "scale" else None)
    if case == "bool_mask":
        mask = torch.rand(8, 8, generator=g) > 0.3
        mask[3] = False  # a row with no key: torch's export turns its NaN into 0, as Attention does
        args, names = args + (mask,), names + ["mask"]
    elif case == "float_mask":
        args, names = args + (torch.randn(2, 1, 8, 8, generator=g),), names + ["mask"]
    model = _export(module, args, names)
    feeds = {n: a.numpy() for n, a in zip(names, args)}
    opt = check_optimized(model, feeds, rtol=RTOL)
    counts = op_counts(opt)
    assert counts["Attention"] == 1 and "Softmax" not in counts and "MatMul" not in counts
    attrs, inputs = _attention(opt)
    assert attrs.get("is_causal", 0) == (case == "causal")
    assert len(inputs) == (4 if case.endswith("mask") else 3)
    assert attrs["scale"] == pytest.approx(0.3 if case == "scale" else 1 / math.sqrt(16), rel=1e-6)
    if case == "float_mask":  # a float mask input may hold a row of -inf: the NaN guard stays
        assert counts["ReduceMax"] == 1
    with torch.no_grad():
        want = module(*args).numpy()
    np.testing.assert_allclose(_nnex(opt, feeds)[0], want, rtol=1e-4, atol=1e-5)


class _MHA(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.mha = torch.nn.MultiheadAttention(16, 4, batch_first=True)

    def forward(self, x, pad):
        return self.mha(x, x, x, key_padding_mask=pad, need_weights=False)[0]


def test_multihead_attention_with_key_padding_mask():
    x = torch.randn(2, 8, 16)
    pad = torch.zeros(2, 8, dtype=torch.bool)
    pad[0, 5:] = True
    module = _MHA().eval()
    model = _export(module, (x, pad), ["x", "pad"])
    feeds = {"x": x.numpy(), "pad": pad.numpy()}
    opt = check_optimized(model, feeds, rtol=RTOL)
    assert op_counts(opt)["Attention"] == 1 and "Softmax" not in op_counts(opt)
    with torch.no_grad():
        np.testing.assert_allclose(_nnex(opt, feeds)[0], module(x, pad).numpy(), rtol=1e-4, atol=1e-5)


transformers = pytest.importorskip("transformers")


class _Text(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids, mask):
        return self.model(input_ids=ids, attention_mask=mask).last_hidden_state


def _text_model(kind: str, impl: str):
    torch.manual_seed(0)
    if kind == "bert":
        cfg = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=64, vocab_size=100, max_position_embeddings=64,
                                      attn_implementation=impl)
        return _Text(transformers.BertModel(cfg).eval())
    cfg = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=100, n_positions=64,
                                  bos_token_id=0, eos_token_id=0, attn_implementation=impl)
    return _Text(transformers.GPT2Model(cfg).eval())


def _text_feeds(batch: int, seq: int) -> dict:
    rng = np.random.default_rng(0)
    mask = np.ones((batch, seq), np.int64)
    mask[0, seq // 2:] = 0  # right padding
    mask[1, :seq // 3] = 0  # left padding: GPT-2's first queries keep no key (rows of finfo.min)
    mask[2:] = 0  # a sequence that is all padding: every row of finfo.min
    return {"ids": rng.integers(0, 100, (batch, seq)).astype(np.int64), "mask": mask}


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_transformers_text_models(kind, impl, dynamic):
    module = _text_model(kind, impl)
    feeds = _text_feeds(2, 8)
    axes = {"ids": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"}} if dynamic else None
    args = (torch.from_numpy(feeds["ids"]), torch.from_numpy(feeds["mask"]))
    model = _export(module, args, ["ids", "mask"], axes)
    if dynamic:
        feeds = _text_feeds(3, 11)
    opt = check_optimized(model, feeds, rtol=RTOL, atol=1e-5)
    counts = op_counts(opt)
    assert counts["Attention"] == 2 and "Softmax" not in counts
    assert "ReduceMax" not in counts  # the masks are built from finite values (finfo.min): no guard
    with torch.no_grad():
        want = module(torch.from_numpy(feeds["ids"]), torch.from_numpy(feeds["mask"])).numpy()
    np.testing.assert_allclose(_nnex(opt, feeds)[0], want, rtol=1e-4, atol=1e-5)


class _Vision(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).last_hidden_state


def test_transformers_vit():
    torch.manual_seed(0)
    cfg = transformers.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                 intermediate_size=64, image_size=16, patch_size=4)
    module = _Vision(transformers.ViTModel(cfg).eval())
    x = torch.randn(2, 3, 16, 16)
    opt = check_optimized(_export(module, (x,), ["x"]), {"x": x.numpy()}, rtol=RTOL, atol=1e-5)
    assert op_counts(opt)["Attention"] == 2 and "Softmax" not in op_counts(opt)
    with torch.no_grad():
        np.testing.assert_allclose(_nnex(opt, {"x": x.numpy()})[0], module(x).numpy(), rtol=1e-4, atol=1e-5)
