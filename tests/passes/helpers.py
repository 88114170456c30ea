"""Shared checks for the pass tests: the oracle is onnxruntime running the ORIGINAL model."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import nnex
from nnex.ir import model_to_proto
from nnex.passes import optimize

RTOL = 1e-4


def ort_run(model: onnx.ModelProto, feeds: dict, *, optimized: bool = True) -> list:
    opts = ort.SessionOptions()
    if not optimized:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def nnex_run(model: onnx.ModelProto, feeds: dict, *, level: int = 0) -> list:
    opts = nnex.SessionOptions()
    opts.graph_optimization_level = level
    return nnex.InferenceSession(model, opts).run(None, feeds)


def op_counts(model: onnx.ModelProto) -> Counter:
    return Counter(n.op_type for n in model.graph.node)


def assert_close(got: list, want: list, rtol: float = RTOL, atol: float = 1e-6) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


def check_optimized(model: onnx.ModelProto, feeds: dict, level="extended", *, rtol: float = RTOL,
                    atol: float = 1e-6) -> onnx.ModelProto:
    """Optimize ``model`` and check everything an optimized model must satisfy; return it as a proto.

    - the caller's model is not changed;
    - onnx.checker (full_check) accepts the result;
    - graph inputs and outputs keep their names and types;
    - onnxruntime (its own optimizations off, so that it runs our graph as written) and nnex
      (optimizations off, and on) both reproduce onnxruntime's outputs for the original model.
    """
    onnx.checker.check_model(model, full_check=True)
    before = model.SerializeToString()
    want = ort_run(model, feeds)
    optimized = model_to_proto(optimize(model, level, strict=True))
    assert model.SerializeToString() == before, "optimize() changed the caller's model"
    onnx.checker.check_model(optimized, full_check=True)
    assert [(i.name, i.type) for i in optimized.graph.input] == [(i.name, i.type) for i in model.graph.input]
    assert [(o.name, o.type) for o in optimized.graph.output] == [(o.name, o.type) for o in model.graph.output]
    assert_close(ort_run(optimized, feeds, optimized=False), want, rtol, atol)
    assert_close(nnex_run(optimized, feeds, level=0), want, rtol, atol)
    assert_close(nnex_run(model, feeds, level=99), want, rtol, atol)
    return optimized


def make_model(nodes, inputs, outputs, initializers=(), opset: int = 17, ir_version: int | None = None
               ) -> onnx.ModelProto:
    """A model from helper-made nodes; inputs/outputs as (name, elem_type, shape) triples."""
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        [numpy_helper.from_array(np.asarray(a), name) for name, a in initializers])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if ir_version is not None:
        m.ir_version = ir_version
    return m


F = TensorProto.FLOAT
I64 = TensorProto.INT64


def rand(*shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
