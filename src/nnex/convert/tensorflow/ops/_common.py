"""Helpers the op families share: attributes, axes, layouts."""

from __future__ import annotations

import numpy as np

from ... import ConversionError


def attr(op, name: str, default=None):
    """``op.get_attr(name)`` with strings decoded, or ``default`` when the op has no such attribute."""
    try:
        v = op.get_attr(name)
    except ValueError:
        return default
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        return [x.decode() for x in v]
    return v


def out_dtype(op, i: int = 0) -> np.dtype:
    from ..dtypes import np_dtype

    return np_dtype(op.outputs[i].dtype)


def out_shape(op, i: int = 0):
    s = op.outputs[i].shape
    return None if s.rank is None else s.as_list()


def norm_axes(axes, rank: int) -> list[int]:
    out = []
    for a in np.asarray(axes).reshape(-1).tolist():
        a = int(a)
        if not -rank <= a < max(rank, 1):
            raise ConversionError(f"axis {a} is out of range for rank {rank}")
        out.append(a + rank if a < 0 else a)
    return out


def channels_last(data_format: str) -> bool:
    return not data_format.startswith("NC")


def to_channels_first(rank: int) -> list[int]:
    """The perm that moves NHWC (N...C) to NCHW (NC...)."""
    return [0, rank - 1] + list(range(1, rank - 1))


def to_channels_last(rank: int) -> list[int]:
    return [0] + list(range(2, rank)) + [1]


def spatial(values, data_format: str, rank: int) -> list[int]:
    """The spatial entries of a per-dimension attribute (strides, dilations, ksize)."""
    values = list(values)
    if len(values) == rank - 2:
        return [int(v) for v in values]
    if channels_last(data_format):
        return [int(v) for v in values[1:rank - 1]]
    return [int(v) for v in values[2:rank]]


def same_pads(in_sizes, kernel, strides, dilations) -> list[int] | None:
    """ONNX pads (begins then ends) for TensorFlow's SAME padding; None when a size is unknown."""
    if any(s is None for s in in_sizes):
        return None
    begins, ends = [], []
    for n, k, s, d in zip(in_sizes, kernel, strides, dilations):
        eff = (k - 1) * d + 1
        out = -(-n // s)
        total = max((out - 1) * s + eff - n, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


def explicit_pads(values, data_format: str, rank: int) -> list[int]:
    """ONNX pads from TensorFlow's explicit_paddings (a flat [before, after] pair per dimension)."""
    pairs = np.asarray(values, dtype=np.int64).reshape(rank, 2)
    dims = range(1, rank - 1) if channels_last(data_format) else range(2, rank)
    return [int(pairs[d, 0]) for d in dims] + [int(pairs[d, 1]) for d in dims]
