"""The benchmark models, built locally (no downloads) into a cache folder.

Each model has a builder that writes ``<cache>/<name>.onnx`` and a feed maker that returns the inputs
for a batch size. Everything is seeded, so a rebuilt model is the same model.

    from benchmarks.models import MODELS, model_path, make_feeds
    path = model_path("resnet50")            # builds it the first time
    feeds = make_feeds("resnet50", batch=8)

Frameworks (torch, transformers, scikit-learn, skl2onnx) are imported only by the builders that need
them; a model whose framework is missing raises ``ModelUnavailable`` naming the package.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
SEED = 0
SEQ_LEN = 128          # tokens per sequence for BERT and GPT-2
LSTM_SEQ_LEN = 64
IMAGE = 224
SUPER_RES_SIZE = 224   # the tutorial's input size; the model upscales it 3x
N_FEATURES = 20        # the classic-ML models' input width
OPSET = 17


class ModelUnavailable(RuntimeError):
    """A model cannot be built here (its framework is missing)."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str                                      # cnn | transformer | rnn | classic
    description: str
    build: Callable[[Path], None]                    # writes the .onnx file at the given path
    feeds: Callable[[int, np.random.Generator], dict]
    requires: tuple[str, ...] = field(default=())    # importable modules the builder needs


# ----------------------------------------------------------------------------------------- helpers
def _require(*modules: str) -> None:
    missing = []
    for m in modules:
        try:
            __import__(m)
        except ImportError:
            missing.append(m)
    if missing:
        raise ModelUnavailable("needs " + ", ".join(missing) + " (pip install " + " ".join(missing) + ")")


def _torch_export(module, args: tuple, path: Path, input_names, output_names, dynamic_axes) -> None:
    """TorchScript-based export (dynamo=False): the classic exporter most published ONNX models came from."""
    import torch

    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, str(path), dynamo=False, opset_version=OPSET,
                          input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=dynamic_axes, do_constant_folding=True)


def _image_feeds(input_name: str, channels: int = 3, size: int = IMAGE):
    def feeds(batch: int, rng: np.random.Generator) -> dict:
        return {input_name: rng.standard_normal((batch, channels, size, size)).astype(np.float32)}
    return feeds


def _features_feeds(batch: int, rng: np.random.Generator) -> dict:
    return {"X": rng.standard_normal((batch, N_FEATURES)).astype(np.float32)}


# -------------------------------------------------- ResNet-50 / DenseNet-121 (onnx's light models)
def _light_model_path(stem: str) -> Path:
    import onnx

    p = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{stem}.onnx"
    if not p.exists():
        raise ModelUnavailable(f"{p} is not in this onnx package")
    return p


def _placeholder_weight(consumer: tuple[str, int], shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """A random tensor that keeps activations in a sane range, by the role it plays in its consumer."""
    op, idx = consumer
    if op == "Conv" and idx == 1 or op == "Gemm" and idx == 1:
        fan_in = int(np.prod(shape[1:])) if op == "Conv" else int(shape[1] if len(shape) > 1 else shape[0])
        std = np.sqrt((2.0 if op == "Conv" else 1.0) / max(fan_in, 1))
        return (rng.standard_normal(shape) * std).astype(np.float32)
    if op == "BatchNormalization":
        if idx == 1:                                  # scale < 1 damps the residual sums
            return rng.uniform(0.2, 0.6, shape).astype(np.float32)
        if idx == 4:                                  # variance must be positive
            return rng.uniform(0.5, 1.5, shape).astype(np.float32)
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)
    return (rng.standard_normal(shape) * 0.05).astype(np.float32)   # biases, Unsqueeze'd affine terms


def _realize_light_model(stem: str, out: Path) -> None:
    """onnx's light models keep only the graph: every weight is ``ConstantOfShape(shape) = 0.02``.

    The placeholders become real-sized random initializers (so memory and arithmetic match the real
    model), initializers leave the graph inputs (IR 3 -> 7), and the batch dimension becomes symbolic.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(_light_model_path(stem)))
    g = model.graph
    rng = np.random.default_rng(SEED)
    inits = {t.name: t for t in g.initializer}
    consumers: dict[str, tuple[str, int]] = {}
    for n in g.node:
        for k, name in enumerate(n.input):
            consumers.setdefault(name, (n.op_type, k))

    kept_nodes, new_inits = [], []
    for n in g.node:
        if n.op_type == "ConstantOfShape" and n.input[0] in inits:
            shape = tuple(int(d) for d in numpy_helper.to_array(inits[n.input[0]]))
            w = _placeholder_weight(consumers.get(n.output[0], ("", 0)), shape, rng)
            new_inits.append(numpy_helper.from_array(w, n.output[0]))
            continue
        if n.op_type == "Reshape" and n.input[1] in inits:
            # the classifier flattens to [1, C]: make it [-1, C] so any batch size runs
            target = numpy_helper.to_array(inits[n.input[1]]).copy()
            if target.size == 2 and target[0] == 1:
                target[0] = -1
                inits[n.input[1]].CopyFrom(numpy_helper.from_array(target.astype(np.int64), n.input[1]))
        kept_nodes.append(n)

    still_used = {i for n in kept_nodes for i in n.input}
    initializers = [t for t in g.initializer if t.name in still_used] + new_inits
    init_names = {t.name for t in initializers}
    # IR 3 listed every initializer as an input too; only the real inputs stay
    inputs = [v for v in g.input if v.name not in init_names and v.name in still_used]
    for v in list(inputs) + list(g.output):
        v.type.tensor_type.shape.dim[0].ClearField("dim_value")
        v.type.tensor_type.shape.dim[0].dim_param = "N"

    new_graph = helper.make_graph(kept_nodes, g.name or stem, inputs, list(g.output), initializers)
    new_model = helper.make_model(new_graph, opset_imports=list(model.opset_import), ir_version=7,
                                  producer_name="nnex-benchmarks")
    onnx.checker.check_model(new_model)
    onnx.save(new_model, str(out))


def _build_resnet50(out: Path) -> None:
    _realize_light_model("resnet50", out)


def _build_densenet121(out: Path) -> None:
    _realize_light_model("densenet121", out)


# ---------------------------------------------------------------- torch models (written here)
def _build_super_resolution(out: Path) -> None:
    """The super-resolution net of PyTorch's ONNX export tutorial: 4 convs and a PixelShuffle (x3)."""
    import torch
    from torch import nn

    class SuperResolutionNet(nn.Module):
        def __init__(self, upscale: int = 3):
            super().__init__()
            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 64, 5, padding=2)
            self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
            self.conv3 = nn.Conv2d(64, 32, 3, padding=1)
            self.conv4 = nn.Conv2d(32, upscale ** 2, 3, padding=1)
            self.pixel_shuffle = nn.PixelShuffle(upscale)

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            return self.pixel_shuffle(self.conv4(x))

    torch.manual_seed(SEED)
    net = SuperResolutionNet()
    x = torch.randn(1, 1, SUPER_RES_SIZE, SUPER_RES_SIZE)
    _torch_export(net, (x,), out, ["input"], ["output"], {"input": {0: "N"}, "output": {0: "N"}})


def _build_mobilenet_v2(out: Path) -> None:
    """MobileNetV2 (1.0, 224) as in the paper: inverted residual blocks, ReLU6, 1000 classes."""
    import torch
    from torch import nn

    def conv_bn(cin, cout, k, stride, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.ReLU6())
        return nn.Sequential(*layers)

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            layers = [conv_bn(cin, hidden, 1, 1)] if expand != 1 else []
            layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden),
                       conv_bn(hidden, cout, 1, 1, act=False)]
            self.block = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.block(x) if self.residual else self.block(x)

    class MobileNetV2(nn.Module):
        # (expansion, channels, repeats, first stride) from the paper's table 2
        SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                    (6, 160, 3, 2), (6, 320, 1, 1))

        def __init__(self, classes=1000):
            super().__init__()
            layers, cin = [conv_bn(3, 32, 3, 2)], 32
            for t, c, n, s in self.SETTINGS:
                for i in range(n):
                    layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                    cin = c
            layers.append(conv_bn(cin, 1280, 1, 1))
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Linear(1280, classes)

        def forward(self, x):
            x = self.features(x).mean((2, 3))
            return self.classifier(x)

    torch.manual_seed(SEED)
    net = MobileNetV2()
    with torch.no_grad():   # non-trivial BN statistics, so folding them into the convs is exercised
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, IMAGE, IMAGE)
    _torch_export(net, (x,), out, ["input"], ["logits"], {"input": {0: "N"}, "logits": {0: "N"}})


def _build_lstm_tagger(out: Path) -> None:
    """A sequence tagger: embedding, 2-layer bidirectional LSTM, linear over the tags."""
    import torch
    from torch import nn

    class Tagger(nn.Module):
        def __init__(self, vocab=10000, embed=128, hidden=256, tags=20):
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, num_layers=2, bidirectional=True, batch_first=True)
            self.out = nn.Linear(2 * hidden, tags)

        def forward(self, tokens):
            h, _ = self.lstm(self.embed(tokens))
            return self.out(h)

    torch.manual_seed(SEED)
    net = Tagger()
    tokens = torch.randint(0, 10000, (1, LSTM_SEQ_LEN))
    _torch_export(net, (tokens,), out, ["tokens"], ["scores"],
                  {"tokens": {0: "N", 1: "T"}, "scores": {0: "N", 1: "T"}})


def _lstm_feeds(batch: int, rng: np.random.Generator) -> dict:
    return {"tokens": rng.integers(0, 10000, (batch, LSTM_SEQ_LEN)).astype(np.int64)}


# ------------------------------------------------------------ transformers (random full-size weights)
def _one_output(model, arg_names: tuple[str, ...], key: str):
    """``model`` as a module taking plain tensors by position (named ``arg_names``) and returning ``key``."""
    from torch import nn

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *args):
            return getattr(self.model(**dict(zip(arg_names, args)), return_dict=True), key)

    return Wrapper()


def _build_bert_base(out: Path) -> None:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(SEED)
    model = BertModel(BertConfig(attn_implementation="eager")).eval()   # bert-base-uncased's sizes
    ids = torch.randint(0, model.config.vocab_size, (1, SEQ_LEN))
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)
    names = ("input_ids", "attention_mask", "token_type_ids")
    dyn = {n: {0: "N", 1: "S"} for n in names + ("last_hidden_state",)}
    _torch_export(_one_output(model, names, "last_hidden_state"), (ids, mask, types), out, names,
                  ["last_hidden_state"], dyn)


def _bert_feeds(batch: int, rng: np.random.Generator) -> dict:
    return {"input_ids": rng.integers(0, 30522, (batch, SEQ_LEN)).astype(np.int64),
            "attention_mask": np.ones((batch, SEQ_LEN), np.int64),
            "token_type_ids": np.zeros((batch, SEQ_LEN), np.int64)}


def _build_gpt2(out: Path) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(SEED)
    model = GPT2LMHeadModel(GPT2Config(use_cache=False, attn_implementation="eager")).eval()   # gpt2 (124M)
    ids = torch.randint(0, model.config.vocab_size, (1, SEQ_LEN))
    # the attention mask is an input, as in Hugging Face's own ONNX exports; without it transformers
    # looks for packed sequences with torch.diff, which the TorchScript exporter cannot export
    names = ("input_ids", "attention_mask")
    _torch_export(_one_output(model, names, "logits"), (ids, torch.ones_like(ids)), out, names, ["logits"],
                  {n: {0: "N", 1: "S"} for n in names + ("logits",)})


def _gpt2_feeds(batch: int, rng: np.random.Generator) -> dict:
    return {"input_ids": rng.integers(0, 50257, (batch, SEQ_LEN)).astype(np.int64),
            "attention_mask": np.ones((batch, SEQ_LEN), np.int64)}


def _build_vit_base(out: Path) -> None:
    import torch
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(SEED)
    model = ViTModel(ViTConfig(attn_implementation="eager"), add_pooling_layer=False).eval()  # ViT-B/16, 224
    x = torch.randn(1, 3, IMAGE, IMAGE)
    _torch_export(_one_output(model, ("pixel_values",), "last_hidden_state"), (x,), out, ["pixel_values"],
                  ["last_hidden_state"], {"pixel_values": {0: "N"}, "last_hidden_state": {0: "N"}})


# ---------------------------------------------------------------- classic ML (per-call overhead)
def _training_data():
    from sklearn.datasets import make_classification

    return make_classification(n_samples=2000, n_features=N_FEATURES, n_informative=10, n_classes=3,
                               random_state=SEED)


def _skl_save(estimator, out: Path) -> None:
    import onnx
    from skl2onnx import to_onnx

    X, y = _training_data()
    estimator.fit(X, y)
    # zipmap off: probabilities as a tensor, which every engine compares as an array
    proto = to_onnx(estimator, X[:1].astype(np.float32), options={"zipmap": False},
                    target_opset={"": OPSET, "ai.onnx.ml": 3})
    for v in list(proto.graph.input) + list(proto.graph.output):
        if v.type.tensor_type.shape.dim:
            v.type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.save(proto, str(out))


def _build_logreg(out: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    _skl_save(LogisticRegression(max_iter=500), out)


def _build_random_forest(out: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    _skl_save(RandomForestClassifier(n_estimators=100, max_depth=10, random_state=SEED), out)


def _build_scaler_svc(out: Path) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    _skl_save(make_pipeline(StandardScaler(), SVC(kernel="rbf", random_state=SEED)), out)


def _build_elementwise(out: Path) -> None:
    """Add, Mul, Relu on a small tensor: measures what one call costs beyond the arithmetic."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(SEED)
    b = numpy_helper.from_array(rng.standard_normal(N_FEATURES).astype(np.float32), "b")
    s = numpy_helper.from_array(rng.standard_normal(N_FEATURES).astype(np.float32), "s")
    nodes = [helper.make_node("Add", ["X", "b"], ["t0"], name="add"),
             helper.make_node("Mul", ["t0", "s"], ["t1"], name="mul"),
             helper.make_node("Relu", ["t1"], ["Y"], name="relu")]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", N_FEATURES])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", N_FEATURES])
    graph = helper.make_graph(nodes, "elementwise", [x], [y], [b, s])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


# ------------------------------------------------------------------------------------ registry
_SKL = ("sklearn", "skl2onnx")
MODELS: dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec("resnet50", "cnn", "ResNet-50 (onnx light model, opset 9, random weights)",
              _build_resnet50, _image_feeds("gpu_0/data_0")),
    ModelSpec("densenet121", "cnn", "DenseNet-121 (onnx light model, opset 9, random weights)",
              _build_densenet121, _image_feeds("data_0")),
    ModelSpec("super_resolution", "cnn", "PyTorch tutorial super-resolution net, 224x224 -> 672x672",
              _build_super_resolution, _image_feeds("input", channels=1, size=SUPER_RES_SIZE), ("torch",)),
    ModelSpec("mobilenet_v2", "cnn", "MobileNetV2 1.0/224 (torch, exported)",
              _build_mobilenet_v2, _image_feeds("input"), ("torch",)),
    ModelSpec("bert_base", "transformer", f"BERT-base, seq {SEQ_LEN} (transformers, exported)",
              _build_bert_base, _bert_feeds, ("torch", "transformers")),
    ModelSpec("gpt2", "transformer", f"GPT-2 124M with LM head, seq {SEQ_LEN} (transformers, exported)",
              _build_gpt2, _gpt2_feeds, ("torch", "transformers")),
    ModelSpec("vit_base", "transformer", "ViT-B/16 224 (transformers, exported)",
              _build_vit_base, _image_feeds("pixel_values"), ("torch", "transformers")),
    ModelSpec("lstm_tagger", "rnn", f"embedding + 2-layer BiLSTM(256) + linear, seq {LSTM_SEQ_LEN}",
              _build_lstm_tagger, _lstm_feeds, ("torch",)),
    ModelSpec("logreg", "classic", f"sklearn LogisticRegression, {N_FEATURES} features, 3 classes",
              _build_logreg, _features_feeds, _SKL),
    ModelSpec("random_forest", "classic", "sklearn RandomForest, 100 trees, depth 10",
              _build_random_forest, _features_feeds, _SKL),
    ModelSpec("scaler_svc", "classic", "sklearn StandardScaler + SVC (rbf)",
              _build_scaler_svc, _features_feeds, _SKL),
    ModelSpec("elementwise", "classic", "Add, Mul, Relu on [N, 20]",
              _build_elementwise, _features_feeds, ("onnx",)),
]}


def model_path(name: str, cache_dir: Path | str = CACHE_DIR, rebuild: bool = False) -> Path:
    """The model's .onnx file, built into ``cache_dir`` when it is not there yet."""
    if name not in MODELS:
        raise KeyError(f"unknown benchmark model {name!r} (known: {', '.join(MODELS)})")
    spec = MODELS[name]
    cache_dir = Path(cache_dir)
    path = cache_dir / f"{name}.onnx"
    if path.exists() and not rebuild:
        return path
    _require(*spec.requires)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # write beside the target and rename, so an interrupted build never leaves a half-written model
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=cache_dir)
    os.close(fd)
    try:
        spec.build(Path(tmp))
        os.chmod(tmp, 0o644)   # mkstemp makes it private; a model file is not a secret
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def make_feeds(name: str, batch: int, seed: int = SEED) -> dict:
    """The model's inputs for ``batch`` rows, the same for every engine and every run with this seed."""
    return MODELS[name].feeds(batch, np.random.default_rng(seed))
