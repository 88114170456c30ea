"""TensorLists (what ``tf.TensorArray`` becomes in TF2 graphs), as in Keras's recurrent loops.

A list made from a tensor stays that tensor (reading an item is a Gather); a list that is
reserved and then written item by item in a loop becomes an ONNX sequence that each write
appends to. Writes are therefore expected in index order (0, 1, 2, ...), as ``tf.while_loop``
bodies and Keras's RNNs make them.
"""

from __future__ import annotations

import numpy as np

from ....ir.tensor import onnx_dtype_of
from ... import ConversionError
from ..context import TensorList
from ..dtypes import np_dtype
from ..registry import lowers


def _elem_dtype(op):
    return np_dtype(op.get_attr("element_dtype"))


@lowers("TensorListReserve", "EmptyTensorList")
def reserve(ctx, op, element_shape, n):
    dt = _elem_dtype(op)
    return TensorList("sequence", ctx.op.SequenceEmpty(dtype=onnx_dtype_of(dt)), dt)


@lowers("TensorListFromTensor")
def from_tensor(ctx, op, tensor, element_shape):
    return TensorList("tensor", tensor, ctx.dtype(tensor))


def as_sequence(ctx, lst: TensorList) -> TensorList:
    if lst.kind == "sequence":
        return lst
    return TensorList("sequence", ctx.op.SplitToSequence(lst.value, axis=0, keepdims=0), lst.dtype)


@lowers("TensorListGetItem")
def get_item(ctx, op, lst, index, element_shape):
    _check(lst)
    if lst.kind == "tensor":
        return ctx.op.Gather(lst.value, index, axis=0)
    return ctx.op.SequenceAt(lst.value, index)


@lowers("TensorListSetItem")
def set_item(ctx, op, lst, index, item):
    _check(lst)
    if lst.kind == "tensor":
        idx = ctx.reshape(ctx.cast(index, np.int64), [1, 1])
        return TensorList("tensor", ctx.op.ScatterND(lst.value, idx, ctx.unsqueeze(item, [0])), lst.dtype)
    return TensorList("sequence", ctx.op.SequenceInsert(lst.value, item), lst.dtype)


@lowers("TensorListPushBack")
def push_back(ctx, op, lst, item):
    lst = as_sequence(ctx, _check(lst))
    return TensorList("sequence", ctx.op.SequenceInsert(lst.value, item), lst.dtype)


@lowers("TensorListStack")
def stack(ctx, op, lst, element_shape):
    _check(lst)
    if lst.kind == "tensor":
        return lst.value
    return ctx.op.ConcatFromSequence(lst.value, axis=0, new_axis=1)


@lowers("TensorListLength")
def length(ctx, op, lst):
    _check(lst)
    if lst.kind == "tensor":
        n = ctx.op.Gather(ctx.shape_of(lst.value), ctx.const(np.asarray(0, np.int64)), axis=0)
    else:
        n = ctx.op.SequenceLength(lst.value)
    return ctx.cast(ctx.record(n, np.int64, ()), np.int32)


def _check(lst):
    if not isinstance(lst, TensorList):
        raise ConversionError(f"expected a TensorList, got {lst!r}")
    return lst

