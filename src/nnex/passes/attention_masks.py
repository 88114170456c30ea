"""What the attention fusion must know about masks: shapes, bounds, rows that keep no key.

Attention-23 and the spelled-out Softmax agree on every row that keeps at least one key. They
differ on a row with none: Softmax of an all -inf row is NaN, Attention gives a zero row (the
spec's erratum). onnxruntime goes further and also zeroes a row whose largest bias is the lowest
finite float (finfo.min, what transformers fills masks with), where the spec and Softmax give a
uniform row. The helpers here prove such rows impossible, or say how to keep them exact.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper

_T = onnx.TensorProto
FLOAT_TYPES = (_T.FLOAT, _T.FLOAT16, _T.DOUBLE)
_INT_TYPES = {_T.INT8: np.int8, _T.INT16: np.int16, _T.INT32: np.int32, _T.INT64: np.int64,
              _T.UINT8: np.uint8, _T.UINT16: np.uint16, _T.UINT32: np.uint32, _T.UINT64: np.uint64}
MASKING_FILL = -1e4  # a select fill at most this negative masks its score (exp underflows to 0)
_PASS_THROUGH = ("Identity", "Expand", "Reshape", "Unsqueeze", "Squeeze", "Transpose", "Slice", "Gather",
                 "Tile", "Flatten")  # ops whose output holds only values of their first input
_DEPTH = 24


def np_dtype(elem_type):
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


# --------------------------------------------------------------------------- dims


def _known(d) -> bool:
    return isinstance(d, int) or (isinstance(d, str) and d != "")


def same_dim(a, b) -> bool:
    """Provably the same dim: equal ints or the same symbolic name."""
    return _known(a) and a == b


def dims_agree(a, b) -> bool:
    """Not provably different, and no static 1 broadcasting against another dim.

    Dims that shape inference could not determine are taken not to broadcast: a broadcast dim is
    a static 1 in what exporters write, and a static 1 against any other dim refuses the fusion.
    """
    if same_dim(a, b):
        return True
    if isinstance(a, int) and isinstance(b, int):
        return False
    return a != 1 and b != 1


def mask_fits(shape, target) -> bool:
    """A mask of ``shape`` (rank 1 to len(target)) added to (or selected against) scores of shape
    ``target`` leaves their shape as it is.

    Unlike Q, K and V, a mask dim that shape inference could not determine is taken to fit (static
    batch-1 exports often lose the mask's dims): a mask that would enlarge the scores is refused
    by Attention (onnxruntime checks it), a loud error rather than a different result.
    """
    if shape is None or not 1 <= len(shape) <= len(target):
        return False
    return all(d == 1 or same_dim(d, t) or not (isinstance(d, int) and isinstance(t, int))
               for d, t in zip(reversed(shape), reversed(target)))


def broadcast_dims(a, b):
    """The broadcast of two shapes, dims that are not provably known as None."""
    n = max(len(a), len(b))
    a, b = [1] * (n - len(a)) + list(a), [1] * (n - len(b)) + list(b)
    return [y if x == 1 else x if (y == 1 or same_dim(x, y)) else None for x, y in zip(a, b)]


# --------------------------------------------------------------------------- bounds of a float mask


def _dtype_range(elem_type):
    if elem_type == _T.BOOL:
        return 0.0, 1.0
    if elem_type in _INT_TYPES:
        info = np.iinfo(_INT_TYPES[elem_type])
        return float(info.min), float(info.max)
    return None


def _rounded_into(bounds, elem_type):
    """Bounds after rounding into ``elem_type``: past its largest finite value is infinity."""
    lo, hi = bounds
    if math.isnan(lo) or math.isnan(hi):
        return None
    top = float(np.finfo(np_dtype(elem_type)).max)
    return (-math.inf if lo < -top else lo), (math.inf if hi > top else hi)


def bounds(v, graph, ctx, depth: int = 0):
    """(lo, hi) that every element of ``v`` lies in (NaN excluded), or None when nothing is known."""
    if v is None or depth > _DEPTH:
        return None
    c = ctx.const(v)
    if c is not None:
        if c.size == 0 or c.dtype.kind not in "fiub":
            return None
        c = c.astype(np.float64)
        return None if np.isnan(c).any() else (float(c.min()), float(c.max()))
    et = ctx.elem_type(v)
    p = v.producer
    if p is None or p.graph is not graph or not ctx.is_standard(p):
        return _dtype_range(et)
    op, ins = p.op_type, p.inputs

    def sub(i):
        return bounds(ins[i], graph, ctx, depth + 1) if i < len(ins) and ins[i] is not None else None

    r = None
    if op in _PASS_THROUGH or op == "Cast":
        r = sub(0)
    elif op in ("Where", "Concat"):
        parts = [sub(i) for i in range(1 if op == "Where" else 0, len(ins))]
        if parts and None not in parts:
            r = min(b[0] for b in parts), max(b[1] for b in parts)
    elif op in ("Add", "Sub", "Mul") and len(ins) == 2:
        a, b = sub(0), sub(1)
        if a is not None and b is not None:
            if op == "Add":
                r = a[0] + b[0], a[1] + b[1]
            elif op == "Sub":
                r = a[0] - b[1], a[1] - b[0]
            else:
                products = [x * y for x in a for y in b]
                r = None if any(math.isnan(x) for x in products) else (min(products), max(products))
    elif op == "Neg":
        a = sub(0)
        r = None if a is None else (-a[1], -a[0])
    if et in FLOAT_TYPES:
        return None if r is None else _rounded_into(r, et)
    if et in _INT_TYPES or et == _T.BOOL:
        return r if r is not None else _dtype_range(et)
    return None


def plan_float_mask(mask, graph, ctx, *, alone: bool):
    """How an additive float mask can enter Attention: (rows_safe, lift), or None to refuse.

    ``rows_safe``: no row of the bias can be all -inf (``alone``: the mask is the whole bias, so a
    row needs one entry above -inf; else the mask must never be -inf). ``lift`` moves the lowest
    float one step up, which changes no result (lowest + any realistic score rounds back to it)
    but keeps onnxruntime from zeroing the row: None (not needed), "max" (the mask holds no -inf),
    "where" (it may), or the lifted constant itself.
    """
    dtype = np_dtype(ctx.elem_type(mask))
    lowest = np.finfo(dtype).min
    c = ctx.const(mask)
    if c is not None:
        c = np.asarray(c).reshape((1,) if c.ndim == 0 else c.shape)
        row_max = np.max(c, axis=-1) if c.shape[-1] else np.full(c.shape[:-1], -np.inf)
        rows_safe = bool(np.all(row_max > -np.inf) if alone else np.all(c > -np.inf))
        if not np.any(row_max == lowest):
            return rows_safe, None
        if dtype == np.float16:
            return None  # -65504 does not absorb the scores: lifting it would change results
        return rows_safe, np.where(c == lowest, np.nextafter(lowest, dtype.type(0)), c).astype(dtype)
    b = bounds(mask, graph, ctx)
    if b is not None and b[0] > lowest:
        return True, None
    if dtype == np.float16:
        return None
    if b is not None and b[0] > -math.inf:
        return True, "max"
    return False, "where"


# --------------------------------------------------------------------------- boolean masks


def _const_keep(v, keep: bool, ctx):
    """A constant condition as a boolean array of the positions it keeps, else None."""
    c = ctx.const(v)
    if c is None or c.ndim == 0:
        return None
    c = c.astype(bool)
    return c if keep else ~c


def _slice_of_rows(p, ctx) -> str | None:
    """For a Slice node: "rows" when it leaves the last axis whole, "head" when it keeps the last
    axis from its first element on (step 1), None when neither can be shown."""
    ins = p.inputs
    rank = ctx.rank(ins[0])
    starts = ctx.const(ins[1]) if len(ins) > 1 else None
    has_axes = len(ins) > 3 and ins[3] is not None
    axes = ctx.const(ins[3]) if has_axes else None
    steps = ctx.const(ins[4]) if len(ins) > 4 and ins[4] is not None else None
    if rank is None or (has_axes and axes is None):
        return None
    if axes is None:
        if starts is None:
            return None
        axes = np.arange(starts.size)
    axes = [int(a) % rank for a in np.asarray(axes).reshape(-1)]
    if rank - 1 not in axes:
        return "rows"
    i = axes.index(rank - 1)
    if starts is None or int(starts.reshape(-1)[i]) != 0:
        return None
    if steps is not None and int(steps.reshape(-1)[i]) != 1:
        return None
    return "head"


def keeps_a_key(v, keep: bool, graph, ctx, *, first: bool = False, depth: int = 0) -> bool:
    """Every row (last axis) of the boolean ``v`` keeps a key (``first``: keeps its first key),
    "keeps" meaning equal to ``keep``. Constants are read; a Slice of rows, or of keys from the
    first on, of a constant whose rows keep their first key (a causal buffer) keeps one too."""
    if v is None or depth > _DEPTH:
        return False
    arr = _const_keep(v, keep, ctx)
    if arr is not None:
        if arr.shape[-1] == 0:
            return False
        return bool(np.all(arr[..., 0])) if first else bool(np.all(np.any(arr, axis=-1)))
    p = v.producer
    if p is None or p.graph is not graph or not ctx.is_standard(p):
        return False
    op, ins = p.op_type, p.inputs

    def sub(u, k=keep, f=first):
        return keeps_a_key(u, k, graph, ctx, first=f, depth=depth + 1)

    if op in ("Identity", "Expand") or (op == "Cast" and ctx.elem_type(ins[0]) == _T.BOOL):
        return sub(ins[0])
    if op == "Not":
        return sub(ins[0], not keep)
    if (op == "Or" and keep) or (op == "And" and not keep):  # keeps what either input keeps
        return sub(ins[0]) or sub(ins[1])
    if op == "Slice":
        kind = _slice_of_rows(p, ctx)
        if kind == "rows":
            return sub(ins[0])
        if kind == "head":
            return sub(ins[0], keep, True)
    return False


# --------------------------------------------------------------------------- the causal triangle


def _unit_square(shape, sq, skv) -> int | None:
    """S when ``shape`` is [1, ..., 1, S, S] and S can be the query and key length, else None."""
    if len(shape) < 2 or any(d != 1 for d in shape[:-2]) or shape[-1] != shape[-2]:
        return None
    s = shape[-1]
    return s if dims_agree(sq, s) and dims_agree(skv, s) else None


def causal_keep(arr: np.ndarray, sq, skv) -> bool:
    """``arr`` (True where kept) is exactly the lower triangle of a square [S, S] (unit leading dims)."""
    s = _unit_square(arr.shape, sq, skv)
    return s is not None and bool(np.array_equal(arr.reshape(s, s), np.tri(s, dtype=bool)))


def causal_float(c: np.ndarray, sq, skv) -> bool:
    """A float constant that is 0 on and below the diagonal and masking (<= MASKING_FILL) above it."""
    s = _unit_square(c.shape, sq, skv)
    if s is None:
        return False
    c2, lower = c.reshape(s, s), np.tri(s, dtype=bool)
    return bool(np.all(c2[lower] == 0)) and bool(np.all(c2[~lower] <= MASKING_FILL))
