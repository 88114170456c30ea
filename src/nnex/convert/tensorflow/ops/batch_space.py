"""SpaceToBatchND / BatchToSpaceND, and the dilated convolutions TensorFlow builds from them.

On CPU, TensorFlow runs a dilated convolution as SpaceToBatchND -> Conv2D (VALID) ->
BatchToSpaceND. That triple becomes one ONNX Conv with dilations (the paddings and crops
folded into its pads); a SpaceToBatchND or BatchToSpaceND elsewhere becomes Pad, Reshape and
Transpose.
"""

from __future__ import annotations

import numpy as np

from ... import ConversionError
from ..registry import lowers
from ._common import attr


class Dilated:
    """A SpaceToBatchND whose only reader is a VALID convolution feeding a BatchToSpaceND: the
    convolution lowers the triple as one dilated Conv (``done`` holds its result)."""

    __slots__ = ("block", "crops", "done", "paddings", "x")

    def __init__(self, x, block, paddings, crops):
        self.x, self.block, self.paddings, self.crops = x, block, paddings, crops
        self.done = None


_CONVS = ("Conv2D", "DepthwiseConv2dNative")


def _dilated_pattern(ctx, op):
    """(block, paddings, crops) when ``op`` (a SpaceToBatchND) starts a dilated convolution."""
    readers = op.outputs[0].consumers()
    if len(readers) != 1 or readers[0].type not in _CONVS or readers[0].inputs[0] is not op.outputs[0]:
        return None
    conv = readers[0]
    if attr(conv, "padding") != "VALID" or attr(conv, "data_format", "NHWC") != "NHWC":
        return None
    if any(int(d) != 1 for d in attr(conv, "dilations", [1, 1, 1, 1])) or \
            any(int(s) != 1 for s in attr(conv, "strides", [1, 1, 1, 1])):
        return None
    after = conv.outputs[0].consumers()
    if len(after) != 1 or after[0].type != "BatchToSpaceND":
        return None
    b2s = after[0]
    from tensorflow.python.framework import tensor_util

    values = [tensor_util.constant_value(t) for t in (op.inputs[1], op.inputs[2], b2s.inputs[1], b2s.inputs[2])]
    if any(v is None for v in values):
        return None
    block, paddings, block2, crops = values
    if block.shape != (2,) or not np.array_equal(block, block2):
        return None
    return block.astype(int).tolist(), paddings.astype(int), crops.astype(int)


@lowers("SpaceToBatchND")
def space_to_batch(ctx, op, x, block, paddings):
    pattern = _dilated_pattern(ctx, op)
    if pattern is not None:
        return Dilated(x, *pattern)
    b = ctx.const_value(block, "the block shape").astype(int).tolist()
    p = ctx.const_value(paddings, "the paddings").astype(int)
    shape = ctx.shape(x)
    m = len(b)
    if shape is None or any(d is None for d in shape[1:]):
        raise ConversionError("SpaceToBatchND needs static sizes (but the batch)")
    rank = len(shape)
    pads = [0] + list(p[:, 0]) + [0] * (rank - m - 1) + [0] + list(p[:, 1]) + [0] * (rank - m - 1)
    y = ctx.op.Pad(x, ctx.ints(pads)) if any(pads) else x
    sizes = [shape[1 + i] + p[i, 0] + p[i, 1] for i in range(m)]
    rest = list(shape[1 + m:])
    split = [-1]
    for s, k in zip(sizes, b):
        split += [s // k, k]
    y = ctx.reshape(y, split + rest)
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
    y = ctx.op.Transpose(y, perm=perm)
    return ctx.reshape(y, [-1] + [s // k for s, k in zip(sizes, b)] + rest)


@lowers("BatchToSpaceND")
def batch_to_space(ctx, op, x, block, crops):
    if isinstance(x, Dilated):
        return x.done
    b = ctx.const_value(block, "the block shape").astype(int).tolist()
    c = ctx.const_value(crops, "the crops").astype(int)
    shape = ctx.shape(x)
    m = len(b)
    if shape is None or any(d is None for d in shape[1:]):
        raise ConversionError("BatchToSpaceND needs static sizes (but the batch)")
    dims = list(shape[1:1 + m])
    rest = list(shape[1 + m:])
    y = ctx.reshape(x, b + [-1] + dims + rest)
    perm = [m]
    for i in range(m):
        perm += [m + 1 + i, i]
    perm += list(range(2 * m + 1, 2 * m + 1 + len(rest)))
    y = ctx.op.Transpose(y, perm=perm)
    y = ctx.reshape(y, [-1] + [d * k for d, k in zip(dims, b)] + rest)
    if c.any():
        ends = [d * k - int(c[i, 1]) for i, (d, k) in enumerate(zip(dims, b))]
        y = ctx.op.Slice(y, ctx.ints(c[:, 0].tolist()), ctx.ints(ends), ctx.ints(list(range(1, 1 + m))))
    return y
