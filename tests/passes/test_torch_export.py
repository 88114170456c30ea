"""A small BERT exported by torch.onnx: the real Gelu / LayerNorm / shape-chain patterns are rewritten."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest

from .helpers import check_optimized, op_counts, ort_run

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


class _ManualLayerNorm(torch.nn.Module):
    """LayerNorm written out, as many models do (torch exports nn.LayerNorm as one op from opset 17)."""

    def __init__(self, ln):
        super().__init__()
        self.weight, self.bias, self.eps = ln.weight, ln.bias, ln.eps

    def forward(self, x):
        d = x - x.mean(-1, keepdim=True)
        return d / torch.sqrt(d.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight + self.bias


class _Bert(torch.nn.Module):
    def __init__(self, hidden_act: str):
        super().__init__()
        torch.manual_seed(0)
        cfg = transformers.BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=128, vocab_size=100, max_position_embeddings=64,
                                      hidden_act=hidden_act)
        self.bert = transformers.BertModel(cfg).eval()
        for module in list(self.bert.modules()):
            for name, child in list(module.named_children()):
                if isinstance(child, torch.nn.LayerNorm):
                    setattr(module, name, _ManualLayerNorm(child))

    def forward(self, ids, mask):
        out = self.bert(input_ids=ids, attention_mask=mask)
        return out.last_hidden_state, out.pooler_output


def _export(hidden_act: str, opset: int, dynamic: bool) -> onnx.ModelProto:
    ids = torch.randint(0, 100, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    f = io.BytesIO()
    axes = {"ids": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"}} if dynamic else None
    torch.onnx.export(_Bert(hidden_act).eval(), (ids, mask), f, input_names=["ids", "mask"],
                      output_names=["hidden", "pooled"], dynamic_axes=axes, opset_version=opset, dynamo=False)
    return onnx.load_from_string(f.getvalue())


def _feeds(batch: int, seq: int) -> dict:
    rng = np.random.default_rng(0)
    mask = np.ones((batch, seq), np.int64)
    mask[0, seq // 2:] = 0  # padding exercises the attention mask arithmetic
    return {"ids": rng.integers(0, 100, (batch, seq)).astype(np.int64), "mask": mask}


def test_bert_opset17_layernorm_fuses_and_gelu_waits_for_opset_20():
    model = _export("gelu", 17, dynamic=True)
    opt = check_optimized(model, _feeds(3, 10), atol=1e-5)
    counts = op_counts(opt)
    assert counts["LayerNormalization"] == 5  # embeddings + 2 per layer
    assert "ReduceMean" not in counts and "Gelu" not in counts and "Identity" not in counts
    assert sum(counts.values()) < 0.5 * len(model.graph.node)


def test_bert_opset20_tanh_gelu_fuses_and_static_shape_chains_fold():
    model = _export("gelu_new", 20, dynamic=False)
    opt = check_optimized(model, _feeds(2, 16), atol=1e-5)
    counts = op_counts(opt)
    assert counts["Gelu"] == 2 and counts["LayerNormalization"] == 5
    assert "Shape" not in counts and "Tanh" in counts  # the pooler's Tanh is not a Gelu
    assert all(n.attribute[0].s == b"tanh" for n in opt.graph.node if n.op_type == "Gelu")


def test_cnn_exported_without_folding_gets_batchnorm_folded_into_conv():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 10)).eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # statistics that are not the identity
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 2)
    f = io.BytesIO()
    torch.onnx.export(net, torch.randn(2, 3, 8, 8), f, opset_version=17, dynamo=False, do_constant_folding=False,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}})
    model = onnx.load_from_string(f.getvalue())
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)
    opt = check_optimized(model, {"x": x}, atol=1e-5)
    assert op_counts(opt) == {"Conv": 2, "Relu": 2, "Flatten": 1, "Gemm": 1}
    np.testing.assert_allclose(ort_run(opt, {"x": x})[0], net(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
