"""Shared checks for the PyTorch converter tests.

``check(module, args, kwargs)`` converts with ``nnex.convert``, runs the full ONNX checker, and
compares onnxruntime's and nnex's outputs with the module's own outputs (eval mode, no grad)
on the example inputs and on any ``others`` inputs (other sizes, for dynamic shapes).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from torch.utils import _pytree as pytree

import nnex

RTOL, ATOL = 1e-3, 1e-4


def as_numpy(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy() if t.dtype != torch.bfloat16 else t.detach().float().numpy()
    return np.asarray(t)


def torch_outputs(module, args, kwargs) -> list[np.ndarray]:
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(*args, **(kwargs or {}))
    finally:
        module.train(was)
    return [as_numpy(x) for x in pytree.tree_leaves(out)]


def feeds(proto: onnx.ModelProto, args, kwargs) -> dict:
    """Tensor leaves of (args, kwargs), in order, fed to the model's inputs in order."""
    leaves = [x for x in pytree.tree_leaves((tuple(args), dict(kwargs or {}))) if isinstance(x, torch.Tensor)]
    names = [i.name for i in proto.graph.input]
    assert len(names) == len(leaves), f"model inputs {names} vs {len(leaves)} tensors"
    return {n: as_numpy(t) for n, t in zip(names, leaves)}


def compare(got, want, rtol, atol, where):
    assert len(got) == len(want), f"{where}: {len(got)} outputs, torch gives {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        assert g.shape == w.shape, f"{where}: output {i} has shape {g.shape}, torch {w.shape}"
        assert g.dtype == w.dtype, f"{where}: output {i} has dtype {g.dtype}, torch {w.dtype}"
        if w.dtype == bool or w.dtype.kind in "iu":
            np.testing.assert_array_equal(g, w, err_msg=f"{where}: output {i}")
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{where}: output {i}")


def check(module, args=(), kwargs=None, *, dynamic_shapes=None, opset=None, rtol=RTOL, atol=ATOL, others=(),
          runtimes=("onnxruntime", "nnex"), decompose=None) -> onnx.ModelProto:
    """Convert ``module`` and compare both runtimes with torch; returns the ModelProto."""
    if isinstance(args, torch.Tensor):
        args = (args,)
    options = {"dynamic_shapes": dynamic_shapes, "decompose": decompose}
    if opset is not None:
        options["opset"] = opset
    proto = nnex.convert(module, tuple(args), kwargs, **options)
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    sessions = {}
    if "onnxruntime" in runtimes:
        sessions["onnxruntime"] = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    if "nnex" in runtimes:
        sessions["nnex"] = nnex.InferenceSession(data)
    cases = [(tuple(args), kwargs)]
    for o in others:  # more inputs: a tensor, a tuple of args, or a dict of kwargs
        if isinstance(o, dict):
            cases.append(((), o))
        else:
            cases.append(((o,) if isinstance(o, torch.Tensor) else tuple(o), None))
    for a, kw in cases:
        want = torch_outputs(module, a, kw)
        f = feeds(proto, a, kw)
        for name, sess in sessions.items():
            compare(sess.run(None, f), want, rtol, atol, name)
    return proto


def op_types(proto: onnx.ModelProto) -> set[str]:
    out = set()

    def walk(g):
        for n in g.node:
            out.add(n.op_type)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)

    walk(proto.graph)
    return out


class Fn(torch.nn.Module):
    """A module around a function, so that small op tests need no class each."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)
