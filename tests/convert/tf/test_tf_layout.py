"""The transpose-sinking pass on hand-built graphs: same outputs as before (onnxruntime), fewer transposes.

Needs no TensorFlow: the pass works on any nnex model.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

ort = pytest.importorskip("onnxruntime")

from nnex.convert.tensorflow.layout import TransposeSinking
from nnex.ir import GraphBuilder, model_to_proto
from nnex.passes.context import PassContext
from nnex.passes.dead_code import DeadCodeElimination
from nnex.passes.manager import PassManager

NHWC, NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def _run(proto, feeds):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _sink(build):
    b = GraphBuilder(21)
    build(b)
    before = b.to_proto()
    model = b.build()
    PassManager([TransposeSinking(), DeadCodeElimination()]).run(model, PassContext(model))
    after = model_to_proto(model)
    onnx.checker.check_model(after, full_check=True)
    return before, after


def _count(proto, op="Transpose"):
    return sum(n.op_type == op for n in proto.graph.node)


def _compare(before, after, feeds):
    for got, want in zip(_run(after, feeds), _run(before, feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_chain_between_convolutions_cancels():
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((4, 3, 3, 3), np.float32), rng.standard_normal((2, 4, 1, 1), np.float32)

    def build(b):
        x = b.input("x", np.float32, ["N", 6, 6, 3])
        y = b.op.Transpose(b.op.Conv(b.op.Transpose(x, perm=NCHW), w1, pads=[1, 1, 1, 1]), perm=NHWC)
        y = b.op.Relu(b.op.Add(b.op.Mul(y, rng.standard_normal(4).astype(np.float32)), np.float32(0.5)))
        y = b.op.Pad(y, np.array([0, 1, 0, 0, 0, 0, 2, 0], np.int64))
        skip = b.op.Sigmoid(y)
        y = b.op.Concat(y, skip, axis=3)
        z = b.op.Transpose(b.op.Conv(b.op.Transpose(b.op.Slice(y, np.array([0], np.int64), np.array([4], np.int64),
                                                                np.array([3], np.int64)), perm=NCHW), w2),
                           perm=NHWC)
        b.output(b.op.ReduceMean(z, np.array([1, 2], np.int64), keepdims=0), "pooled")
        b.output(b.op.Softmax(y, axis=-1), "probs")

    before, after = _sink(build)
    assert _count(before) == 4
    # the input's transpose stays, and "probs" is wanted in NHWC
    assert _count(after) == 2
    _compare(before, after, {"x": rng.standard_normal((2, 6, 6, 3), np.float32)})


def test_keepdims_squeeze_split_and_mixed_inputs():
    rng = np.random.default_rng(1)

    def build(b):
        x = b.input("x", np.float32, [2, 3, 4, 5])
        other = b.input("other", np.float32, [2, 4, 5, 3])
        t = b.op.Transpose(x, perm=NHWC)
        s = b.op.Mul(t, b.op.Transpose(b.op.Exp(x), perm=NHWC))
        s = b.op.Add(s, other)  # a plain input joins the transposed ones: it is transposed instead
        a, c = b.op.Split(s, np.array([1, 2], np.int64), axis=3, _outputs=2)
        b.output(b.op.ReduceMax(a, np.array([1], np.int64), keepdims=1), "kept")
        b.output(b.op.Squeeze(b.op.ReduceSum(c, np.array([2], np.int64), keepdims=1), np.array([2], np.int64)), "sq")
        b.output(b.op.ArgMax(c, axis=3, keepdims=0), "arg")

    before, after = _sink(build)
    _compare(before, after, {"x": rng.standard_normal((2, 3, 4, 5), np.float32),
                             "other": rng.standard_normal((2, 4, 5, 3), np.float32)})


def test_transposes_of_transposes_compose():
    def build(b):
        x = b.input("x", np.float32, [2, 3, 4, 5])
        y = b.op.Transpose(b.op.Transpose(x, perm=NHWC), perm=NCHW)
        b.output(b.op.Relu(y), "y")
        b.output(b.op.Transpose(b.op.Transpose(x, perm=[1, 0, 2, 3]), perm=[0, 2, 1, 3]), "z")

    before, after = _sink(build)
    assert _count(after) == 1
    _compare(before, after, {"x": np.random.default_rng(2).standard_normal((2, 3, 4, 5)).astype(np.float32)})
