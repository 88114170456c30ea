"""nnex.to_torch on models exported by torch.onnx: outputs match onnxruntime, parameters train, torch.compile agrees."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

import nnex  # noqa: E402

MODELS = ["super_resolution", "mobilenet_v2", "lstm_tagger", "bert"]


def _ort(data: bytes, inputs):
    s = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return s.run(None, {i.name: x for i, x in zip(s.get_inputs(), inputs)})


@pytest.mark.parametrize("name", MODELS)
def test_matches_onnxruntime(peer_models, name):
    data, inputs = peer_models[name]
    module = nnex.to_torch(data)
    with torch.no_grad():
        got = module(*[torch.from_numpy(x) for x in inputs])
    got = got if isinstance(got, tuple) else (got,)
    for g, w in zip(got, _ort(data, inputs)):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-3, atol=1e-4)


def test_parameters_have_readable_names(peer_models):
    module = nnex.to_torch(peer_models["super_resolution"][0])
    names = set(dict(module.named_parameters()))
    assert {"conv1.weight", "conv1.bias", "conv4.weight"} <= names
    assert all(p.requires_grad for p in module.parameters())


@pytest.mark.parametrize("name", ["super_resolution", "mobilenet_v2", "lstm_tagger"])
def test_sgd_steps_lower_a_loss(peer_models, name):
    data, inputs = peer_models[name]
    module = nnex.to_torch(data)
    xs = [torch.from_numpy(x) for x in inputs]
    with torch.no_grad():
        target = module(*xs) * 0.5 + 0.1  # a reachable target near the current output
    opt = torch.optim.SGD(module.parameters(), lr=0.05)
    losses = []
    for _ in range(4):
        loss = torch.nn.functional.mse_loss(module(*xs), target)
        opt.zero_grad()
        loss.backward()
        assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in module.parameters())
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def test_gradients_match_the_original_torch_module():
    from conftest import SuperResolution, _export  # noqa: PLC0415

    torch.manual_seed(1)
    ref = SuperResolution()
    x = torch.randn(1, 1, 12, 12)
    module = nnex.to_torch(_export(ref, [x]))
    ref(x).square().sum().backward()
    module(x).square().sum().backward()
    ours = dict(module.named_parameters())
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(ours[name].grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["super_resolution", "mobilenet_v2", "lstm_tagger", "bert"])
def test_torch_compile_matches_eager(peer_models, name):
    # Constant nodes and shape arithmetic (MobileNetV2, the LSTM, BERT) are host work: the
    # module runs its plan outside the traced graph
    data, inputs = peer_models[name]
    module = nnex.to_torch(data)
    xs = [torch.from_numpy(x) for x in inputs]
    compiled = torch.compile(module)
    with torch.no_grad():
        np.testing.assert_allclose(compiled(*xs).numpy(), module(*xs).numpy(), rtol=1e-5, atol=1e-6)


def test_state_dict_round_trips(peer_models):
    data, inputs = peer_models["mobilenet_v2"]
    a, b = nnex.to_torch(data), nnex.to_torch(data)
    with torch.no_grad():
        for p in a.parameters():
            p.mul_(0.9)
    b.load_state_dict(a.state_dict())
    xs = [torch.from_numpy(x) for x in inputs]
    with torch.no_grad():
        np.testing.assert_array_equal(a(*xs).numpy(), b(*xs).numpy())
