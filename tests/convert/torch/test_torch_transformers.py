"""Hugging Face transformers models from small configs with random weights (nothing downloaded)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from torch_check import check

D = torch.export.Dim
g = torch.Generator().manual_seed(6)


def ids(b, s, vocab=96):
    return torch.randint(0, vocab, (b, s), generator=g)


def mask(b, s, lengths):
    m = torch.ones(b, s, dtype=torch.long)
    for i, n in enumerate(lengths):
        m[i, n:] = 0
    return m


def _model(cls, config):
    torch.manual_seed(0)
    return cls(config).eval()


def test_bert_with_attention_mask():
    cfg = transformers.BertConfig(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64)
    m = _model(transformers.BertModel, cfg)
    batch, seq = D("batch", min=1, max=16), D("seq", min=2, max=32)
    proto = check(m, (), {"input_ids": ids(2, 7), "attention_mask": mask(2, 7, [5, 7])},
                  dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
                  others=[{"input_ids": ids(3, 9), "attention_mask": mask(3, 9, [9, 2, 6])}])
    assert [i.name for i in proto.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in proto.graph.output] == ["last_hidden_state", "pooler_output"]


def test_gpt2():
    cfg = transformers.GPT2Config(vocab_size=96, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    m = _model(transformers.GPT2Model, cfg)
    check(m, (ids(2, 6),), {"attention_mask": mask(2, 6, [6, 4]), "use_cache": False})


def test_vit():
    cfg = transformers.ViTConfig(image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=64)
    m = _model(transformers.ViTModel, cfg)
    check(m, (torch.randn(2, 3, 16, 16, generator=g),))


def test_t5_encoder():
    cfg = transformers.T5Config(vocab_size=96, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                                relative_attention_num_buckets=8, relative_attention_max_distance=16)
    m = _model(transformers.T5EncoderModel, cfg)
    check(m, (), {"input_ids": ids(2, 7), "attention_mask": mask(2, 7, [7, 3])})


@pytest.mark.parametrize("decompose", [None, True], ids=["as_exported", "core_aten"])
def test_llama(decompose):
    cfg = transformers.LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    m = _model(transformers.LlamaModel, cfg)
    check(m, (), {"input_ids": ids(2, 6), "attention_mask": mask(2, 6, [6, 4]), "use_cache": False},
          decompose=decompose)
