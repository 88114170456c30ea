"""Sequence and optional operators.

A sequence is a Python list of arrays; an empty optional is ``None``.  A kernel whose
single output is a sequence returns the list itself.  Optional/OptionalGetElement may
carry either a tensor or a sequence, so they return a one-entry tuple, which says
"one output" without ambiguity whatever the value is.  Kernels never mutate an input
list: a sequence is a value, and the caller may still hold the old one.
"""

from __future__ import annotations

import numpy as np

from .registry import op


def _index(position, length: int, *, allow_end: bool) -> int:
    """A non-negative index from an ONNX position (negative counts from the back)."""
    p = int(np.asarray(position).reshape(()))
    hi = length if allow_end else length - 1
    if not -length <= p <= hi:
        raise IndexError(f"sequence position {p} out of range for length {length}")
    return p + length if p < 0 else p


def _axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} out of range for rank {rank}")
    return axis % rank


@op("SequenceConstruct", since=11)
def sequence_construct(xp, *inputs):
    return list(inputs)


@op("SequenceEmpty", since=11)
def sequence_empty(xp, *, dtype=1):
    return []


@op("SequenceInsert", since=11)
def sequence_insert(xp, seq, tensor, position=None):
    out = list(seq)
    if position is None:
        out.append(tensor)
    else:
        out.insert(_index(position, len(out), allow_end=True), tensor)
    return out


@op("SequenceAt", since=11)
def sequence_at(xp, seq, position):
    return seq[_index(position, len(seq), allow_end=False)]


@op("SequenceErase", since=11)
def sequence_erase(xp, seq, position=None):
    out = list(seq)
    i = len(out) - 1 if position is None else _index(position, len(out), allow_end=False)
    del out[i]
    return out


@op("SequenceLength", since=11)
def sequence_length(xp, seq):
    return xp.asarray(np.asarray(len(seq), dtype=np.int64))


@op("SplitToSequence", since=(11, 24), host_inputs=(1,))
def split_to_sequence(xp, x, split=None, *, axis=0, keepdims=1):
    ax = _axis(axis, x.ndim)
    dim = int(x.shape[ax])
    if split is None:
        sizes, squeeze = [1] * dim, not keepdims
    else:
        s = np.asarray(split).astype(np.int64)
        if s.ndim == 0:
            # chunks of `split`, the last one possibly shorter
            step = int(s)
            sizes = [min(step, dim - b) for b in range(0, dim, step)]
        else:
            sizes = [int(v) for v in s]
            if sum(sizes) != dim:
                raise ValueError(f"SplitToSequence: split {sizes} does not sum to {dim}")
        squeeze = False  # keepdims only applies when split is not given
    out, begin = [], 0
    for n in sizes:
        idx = tuple([slice(None)] * ax + [slice(begin, begin + n)])
        part = x[idx]
        out.append(xp.squeeze(part, axis=ax) if squeeze else part)
        begin += n
    return out


@op("ConcatFromSequence", since=11)
def concat_from_sequence(xp, seq, *, axis, new_axis=0):
    if not seq:
        raise ValueError("ConcatFromSequence of an empty sequence")
    rank = seq[0].ndim
    if new_axis:
        return xp.stack(list(seq), axis=_axis(axis, rank + 1))
    return xp.concat(list(seq), axis=_axis(axis, rank))


@op("SequenceMap", since=17)
def sequence_map(xp, input_sequence, *additional_inputs, body, _n_outputs=1):
    n = len(input_sequence)
    for a in additional_inputs:
        if isinstance(a, list) and len(a) != n:
            raise ValueError(f"SequenceMap: sequence inputs of lengths {n} and {len(a)}")
    outs: list[list] = [[] for _ in range(_n_outputs)]
    for i in range(n):
        # sequences are iterated over, tensors are passed whole to every iteration
        args = [input_sequence[i]] + [a[i] if isinstance(a, list) else a for a in additional_inputs]
        for acc, y in zip(outs, body(*args)):
            acc.append(y)
    return outs[0] if _n_outputs == 1 else tuple(outs)


@op("Optional", since=(15, 28))
def optional(xp, input=None, *, type=None):
    if input is None and type is None:
        raise ValueError("Optional: an empty optional needs the type attribute")
    return (input,)


@op("OptionalGetElement", since=(15, 18, 28))
def optional_get_element(xp, input):
    if input is None:
        raise ValueError("OptionalGetElement of an empty optional")
    return (input,)


@op("OptionalHasElement", since=(15, 18, 28))
def optional_has_element(xp, input=None):
    return xp.asarray(np.asarray(input is not None))
