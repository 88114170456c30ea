"""nnex.to_jax: fn(params, *inputs) matches onnxruntime under jax.jit, and jax.grad flows to the parameters."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

import jax.numpy as jnp  # noqa: E402

import nnex  # noqa: E402


@pytest.mark.parametrize("name", ["super_resolution", "mobilenet_v2", "lstm_tagger", "bert"])
def test_jit_matches_onnxruntime(peer_models, name):
    data, inputs = peer_models[name]
    fn, params = nnex.to_jax(data)
    got = jax.jit(fn)(params, *inputs)
    s = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    want = s.run(None, {i.name: x for i, x in zip(s.get_inputs(), inputs)})
    got = got if isinstance(got, tuple) else (got,)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-3, atol=1e-4)


def test_grad_matches_finite_differences(peer_models):
    data, inputs = peer_models["super_resolution"]
    fn, params = nnex.to_jax(data)
    x = inputs[0][:1]

    def loss(p):
        return jnp.sum(fn(p, x) ** 2)

    grads = jax.grad(loss)(params)
    name = next(n for n in params if n.endswith("conv4.bias"))
    eps = 1e-2
    p_plus = dict(params)
    p_minus = dict(params)
    p_plus[name] = params[name].at[0].add(eps)
    p_minus[name] = params[name].at[0].add(-eps)
    numeric = (float(loss(p_plus)) - float(loss(p_minus))) / (2 * eps)
    np.testing.assert_allclose(float(grads[name][0]), numeric, rtol=2e-2)


def test_int64_semantics_without_global_x64(peer_models):
    data, inputs = peer_models["lstm_tagger"]
    before = jax.config.jax_enable_x64
    fn, params = nnex.to_jax(data)
    fn(params, *inputs)
    assert jax.config.jax_enable_x64 == before
