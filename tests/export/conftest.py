"""Models exported by torch.onnx (the peer exporter) for the to_torch / to_jax tests."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="to_torch/to_jax tests export their models with PyTorch")


def _export(module, args, dynamic_batch: bool = True, opset: int = 17) -> bytes:
    module.eval()
    f = io.BytesIO()
    names = [f"input_{i}" for i in range(len(args))]
    dyn = {n: {0: "batch"} for n in names} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tuple(args), f, input_names=names, output_names=["output"], dynamic_axes=dyn,
                          opset_version=opset, dynamo=False)
    return f.getvalue()


class SuperResolution(torch.nn.Module):
    """The PyTorch-to-ONNX tutorial's super-resolution network (smaller)."""

    def __init__(self, upscale: int = 2):
        super().__init__()
        self.relu = torch.nn.ReLU()
        self.conv1 = torch.nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(16, 16, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(16, 8, 3, padding=1)
        self.conv4 = torch.nn.Conv2d(8, upscale ** 2, 3, padding=1)
        self.shuffle = torch.nn.PixelShuffle(upscale)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.shuffle(self.conv4(x))


class LSTMTagger(torch.nn.Module):
    def __init__(self, vocab: int = 50, emb: int = 16, hidden: int = 24, tags: int = 5):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, emb)
        self.lstm = torch.nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(2 * hidden, tags)

    def forward(self, tokens):
        h, _ = self.lstm(self.emb(tokens))
        return torch.log_softmax(self.out(h), dim=-1)


class MobileNetBlockNet(torch.nn.Module):
    """A small MobileNetV2: inverted residual blocks with depthwise convs, BN and ReLU6."""

    def __init__(self, classes: int = 10):
        super().__init__()

        def block(cin, cout, stride, expand):
            mid = cin * expand
            return torch.nn.Sequential(
                torch.nn.Conv2d(cin, mid, 1, bias=False), torch.nn.BatchNorm2d(mid), torch.nn.ReLU6(),
                torch.nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), torch.nn.BatchNorm2d(mid),
                torch.nn.ReLU6(), torch.nn.Conv2d(mid, cout, 1, bias=False), torch.nn.BatchNorm2d(cout))

        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, 2, 1, bias=False), torch.nn.BatchNorm2d(16),
                                        torch.nn.ReLU6())
        self.b1 = block(16, 16, 1, 4)
        self.b2 = block(16, 24, 2, 4)
        self.head = torch.nn.Linear(24, classes)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.b1(x)
        x = self.b2(x)
        return self.head(x.mean(dim=(2, 3)))


def _bert():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    model = transformers.BertModel(cfg).eval()

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = model

        def forward(self, ids, mask):
            return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state

    return Wrapper()


@pytest.fixture(scope="session")
def peer_models():
    """name -> (onnx bytes, example inputs as numpy arrays)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    out = {}
    sr = SuperResolution()
    x = rng.standard_normal((2, 1, 24, 24)).astype(np.float32)
    out["super_resolution"] = (_export(sr, [torch.from_numpy(x)]), [x])
    mb = MobileNetBlockNet()
    with torch.no_grad():  # non-trivial BN statistics
        for m in mb.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    out["mobilenet_v2"] = (_export(mb, [torch.from_numpy(x)]), [x])
    tagger = LSTMTagger()
    tokens = rng.integers(0, 50, (2, 7)).astype(np.int64)
    out["lstm_tagger"] = (_export(tagger, [torch.from_numpy(tokens)]), [tokens])
    bert = _bert()
    ids = rng.integers(0, 100, (2, 9)).astype(np.int64)
    mask = np.ones((2, 9), np.int64)
    mask[1, 6:] = 0
    out["bert"] = (_export(bert, [torch.from_numpy(ids), torch.from_numpy(mask)], opset=17), [ids, mask])
    return out
