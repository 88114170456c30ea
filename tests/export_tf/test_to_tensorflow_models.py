"""nnex.to_tensorflow on models exported by torch.onnx: the SavedModel reloads and runs in a
process where nnex (and JAX) cannot be imported, TFLite converts it, and both match
onnxruntime."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="nnex.to_tensorflow needs TensorFlow")
pytest.importorskip("jax", reason="nnex.to_tensorflow traces the model with JAX")
torch = pytest.importorskip("torch", reason="the models are exported with torch.onnx")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the oracle")

from nnex.export.to_tensorflow import to_tensorflow  # noqa: E402

RTOL, ATOL = 1e-3, 1e-4
pytestmark = pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
SRC = Path(__import__("nnex").__file__).resolve().parent.parent


def _export(module, args, names, dynamic_axes) -> bytes:
    module.eval()
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the TorchScript exporter: the dynamo one needs onnxscript, which the test extras lack
        torch.onnx.export(module, tuple(torch.from_numpy(a) for a in args), f, input_names=names,
                          dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)
    return f.getvalue()


def _onnxruntime(model: bytes, feeds: dict) -> list:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)


def _assert_match(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


# A process where nnex is not importable: its source folder off sys.path (the editable
# install's .pth put it there), no user site, JAX refused; the guard checks it.
_LOADER = textwrap.dedent("""
    import importlib.abc, json, os, sys
    src = sys.argv[1]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != src]

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("jax", "jaxlib"):
                raise ModuleNotFoundError(name)

    sys.meta_path.insert(0, Refuse())
    try:
        import nnex  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("nnex is importable in the loading process")
    import numpy as np
    import tensorflow as tf

    model = tf.saved_model.load(sys.argv[2])
    serve = model.signatures["serving_default"]
    spec = serve.structured_input_signature[1]
    out = {"inputs": {k: [d for d in v.shape.as_list()] for k, v in spec.items()}, "runs": []}
    with np.load(sys.argv[3]) as data:
        n = len({k.split("/")[0] for k in data.files})
        for i in range(n):
            feeds = {k.split("/")[1]: tf.constant(data[k]) for k in data.files if k.startswith(f"{i}/")}
            res = serve(**feeds)
            np.savez(os.path.join(sys.argv[4], f"out{i}.npz"), **{k: v.numpy() for k, v in res.items()})
            out["runs"].append(sorted(res))
    print(json.dumps(out))
""")


def _run_without_nnex(saved: Path, cases: list[dict], tmp_path: Path):
    """The serving signature's input shapes, and its outputs (by name) for each case."""
    flat = {f"{i}/{k}": v for i, case in enumerate(cases) for k, v in case.items()}
    np.savez(tmp_path / "feeds.npz", **flat)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env.update(PYTHONNOUSERSITE="1", TF_CPP_MIN_LOG_LEVEL="3")
    script = tmp_path / "load_saved_model.py"
    script.write_text(_LOADER)
    args = [sys.executable, str(script), str(SRC), str(saved), str(tmp_path / "feeds.npz"), str(tmp_path)]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    outs = []
    for i in range(len(cases)):
        with np.load(tmp_path / f"out{i}.npz") as data:
            outs.append({k: data[k] for k in data.files})
    return info["inputs"], outs


def _tflite(module, feeds: dict) -> list:
    conv = tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module)
    interpreter = tf.lite.Interpreter(model_content=conv.convert())
    runner = interpreter.get_signature_runner()
    res = runner(**feeds)
    return [res[k] for k in _output_keys(module)]


def _output_keys(module) -> list[str]:
    return list(module.serve.get_concrete_function().structured_outputs)


def _check_saved_model(onnx_model: bytes, module, cases: list[dict], tmp_path: Path):
    saved = tmp_path / "saved_model"
    tf.saved_model.save(module, str(saved))
    keys = _output_keys(module)
    signature, outs = _run_without_nnex(saved, cases, tmp_path)
    for case, out in zip(cases, outs):
        _assert_match([out[k] for k in keys], _onnxruntime(onnx_model, case))
    return signature


# ---------------------------------------------------------------------------- models


class SuperResolution(torch.nn.Module):
    """The super-resolution network of PyTorch's ONNX tutorial: convolutions and PixelShuffle."""

    def __init__(self, upscale: int = 3):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(32, 16, 3, padding=1)
        self.conv4 = torch.nn.Conv2d(16, upscale ** 2, 3, padding=1)
        self.shuffle = torch.nn.PixelShuffle(upscale)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        return self.shuffle(self.conv4(x))


def test_super_resolution_dynamic_shapes(tmp_path):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 16, 16)).astype(np.float32)
    model = _export(SuperResolution(), [x], ["image"], {"image": {0: "batch", 2: "height", 3: "width"}})
    module = to_tensorflow(model)
    cases = [{"image": rng.standard_normal((2, 1, 12, 20)).astype(np.float32)},
             {"image": rng.standard_normal((1, 1, 9, 7)).astype(np.float32)}]
    signature = _check_saved_model(model, module, cases, tmp_path)
    assert signature == {"image": [None, 1, None, None]}
    # TFLite keeps the dynamic dims: the interpreter resizes to the feed
    _assert_match(_tflite(module, cases[0]), _onnxruntime(model, cases[0]))


def _mobilenet_v2():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.MobileNetV2Config(depth_multiplier=0.35, image_size=32)
    torch.manual_seed(0)
    model = transformers.MobileNetV2Model(cfg).eval()
    with torch.no_grad():  # weights and batch-norm statistics that keep activations near 1
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="linear")
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)

    class Features(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, pixel_values):
            out = self.net(pixel_values=pixel_values)
            return out.last_hidden_state, out.pooler_output

    return Features()


def test_mobilenet_v2(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    model = _export(_mobilenet_v2(), [x], ["pixel_values"], {"pixel_values": {0: "batch"}})
    cases = [{"pixel_values": rng.standard_normal((3, 3, 32, 32)).astype(np.float32)},
             {"pixel_values": rng.standard_normal((1, 3, 32, 32)).astype(np.float32)}]
    want = _onnxruntime(model, cases[0])
    assert np.abs(want[1]).max() > 0.1  # a test on outputs near zero would prove little
    signature = _check_saved_model(model, to_tensorflow(model), cases, tmp_path)
    assert signature == {"pixel_values": [None, 3, 32, 32]}
    static = to_tensorflow(model, input_shapes={"pixel_values": [3, 3, 32, 32]})
    _assert_match(_tflite(static, cases[0]), want)


def _bert():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    bert = transformers.BertModel(cfg).eval()

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
            return out.last_hidden_state, out.pooler_output

    return Encoder()


def _bert_feeds(rng, batch, seq):
    mask = np.ones((batch, seq), np.int64)
    mask[0, seq // 2:] = 0
    return {"input_ids": rng.integers(0, 100, (batch, seq)).astype(np.int64), "attention_mask": mask}


def test_bert_dynamic_batch_and_sequence(tmp_path):
    rng = np.random.default_rng(2)
    example = _bert_feeds(rng, 2, 8)
    axes = {0: "batch", 1: "sequence"}
    names = ["input_ids", "attention_mask"]
    model = _export(_bert(), [example[n] for n in names], names, {n: axes for n in names})
    # the position table has 64 rows: slicing it by the sequence length needs to know it fits
    module = to_tensorflow(model, dim_constraints=["sequence <= 64"])
    cases = [_bert_feeds(rng, 3, 11), _bert_feeds(rng, 1, 5)]
    signature = _check_saved_model(model, module, cases, tmp_path)
    assert signature == {"input_ids": [None, None], "attention_mask": [None, None]}
    # TFLite's StableHLO conversion needs static shapes for BERT's gathers
    static = to_tensorflow(model, input_shapes={"input_ids": [3, 11], "attention_mask": [3, 11]})
    _assert_match(_tflite(static, cases[0]), _onnxruntime(model, cases[0]))
