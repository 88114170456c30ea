"""Reduction operators: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax/ArgMin.

Two generations of the Reduce* ops exist: the old ones take ``axes`` as an attribute
(missing or empty means "all axes"); the new ones (ReduceSum from 13, the others from 18)
take ``axes`` as an optional host input and add ``noop_with_empty_axes``, with which an
empty axes list reduces over *no* axis (each op then degenerates to its element-wise
part, e.g. ReduceSumSquare -> square).

Reducing over an empty set of elements yields the identity of the reduction: 0 for sums,
1 for products, -inf / the lowest value for max, +inf / the highest value for min, and
-inf for the log-sums.
"""

from __future__ import annotations

import numpy as np

from .dtypes import numpy_dtype
from .registry import op

# ----------------------------------------------------------------------------- axes


def _norm_axes(axes, ndim: int) -> tuple[int, ...]:
    """Non-negative, sorted, de-duplicated axes (a 0-d input has none to reduce)."""
    if ndim == 0:
        return ()
    return tuple(sorted({int(a) % ndim for a in axes}))


def _axes_from_attr(axes, ndim: int) -> tuple[int, ...]:
    # Attribute form: missing or empty list means every axis.
    if not axes:
        return tuple(range(ndim))
    return _norm_axes(axes, ndim)


def _axes_from_input(axes, ndim: int, noop_with_empty_axes: int) -> tuple[int, ...]:
    # Input form: an empty/missing input means every axis unless noop_with_empty_axes.
    lst = [] if axes is None else np.asarray(axes).reshape(-1).tolist()
    if not lst:
        return () if noop_with_empty_axes else tuple(range(ndim))
    return _norm_axes(lst, ndim)


def _out_shape(shape, axes, keepdims) -> tuple[int, ...]:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _is_empty_set(shape, axes) -> bool:
    """True when at least one reduced axis has length 0 (each reduction sees no element)."""
    return any(shape[a] == 0 for a in axes)


def _as_array(xp, y, dtype):
    """numpy reductions return scalars for 0-d results: make them arrays of the right dtype."""
    y = xp.asarray(y)
    return y if y.dtype == dtype else xp.astype(y, dtype)


def _float_work(xp, x):
    """Integer data goes through float64 for log/sqrt/mean; floats stay in their own dtype."""
    if xp.isdtype(x.dtype, ("integral", "bool")):
        return xp.astype(x, xp.float64)
    return x


# ----------------------------------------------------------------------------- kernels
# Each computes the reduction of ``x`` over the normalised ``axes`` tuple.


def _sum(xp, x, axes, keepdims):
    return xp.sum(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


def _sum_square(xp, x, axes, keepdims):
    return xp.sum(x * x, axis=axes, keepdims=keepdims, dtype=x.dtype)


def _l1(xp, x, axes, keepdims):
    return xp.sum(xp.abs(x), axis=axes, keepdims=keepdims, dtype=x.dtype)


def _l2(xp, x, axes, keepdims):
    w = _float_work(xp, x)
    return xp.sqrt(xp.sum(w * w, axis=axes, keepdims=keepdims, dtype=w.dtype))


def _mean(xp, x, axes, keepdims):
    w = _float_work(xp, x)
    return xp.mean(w, axis=axes, keepdims=keepdims)


def _prod(xp, x, axes, keepdims):
    return xp.prod(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


def _log_sum(xp, x, axes, keepdims):
    w = _float_work(xp, x)
    return xp.log(xp.sum(w, axis=axes, keepdims=keepdims, dtype=w.dtype))


def _log_sum_exp(xp, x, axes, keepdims):
    w = _float_work(xp, x)
    if not axes:
        return w
    # Shift by the max for stability; a slice that is all -inf (or infinite) is not shifted.
    m = xp.max(w, axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    s = xp.sum(xp.exp(w - m), axis=axes, keepdims=True, dtype=w.dtype)
    y = xp.log(s) + m
    if not keepdims:
        y = xp.reshape(y, _out_shape(w.shape, axes, False))
    return y


def _max(xp, x, axes, keepdims):
    if x.dtype == xp.bool:
        return xp.any(x, axis=axes, keepdims=keepdims)
    return xp.max(x, axis=axes, keepdims=keepdims)


def _min(xp, x, axes, keepdims):
    if x.dtype == xp.bool:
        return xp.all(x, axis=axes, keepdims=keepdims)
    return xp.min(x, axis=axes, keepdims=keepdims)


def _lowest(dtype):
    dt = numpy_dtype(dtype)
    if dt.kind == "b":
        return False
    if dt.kind in "iu":
        return np.iinfo(dt).min
    return -np.inf


def _highest(dtype):
    dt = numpy_dtype(dtype)
    if dt.kind == "b":
        return True
    if dt.kind in "iu":
        return np.iinfo(dt).max
    return np.inf


# Identity of each reduction over an empty set, as a function of the data dtype.
_EMPTY = {
    "sum": lambda dt: 0,
    "sum_square": lambda dt: 0,
    "l1": lambda dt: 0,
    "l2": lambda dt: 0,
    "mean": lambda dt: np.nan,
    "prod": lambda dt: 1,
    "log_sum": lambda dt: -np.inf,
    "log_sum_exp": lambda dt: -np.inf,
    "max": _lowest,
    "min": _highest,
}

_KERNELS = {
    "sum": _sum,
    "sum_square": _sum_square,
    "l1": _l1,
    "l2": _l2,
    "mean": _mean,
    "prod": _prod,
    "log_sum": _log_sum,
    "log_sum_exp": _log_sum_exp,
    "max": _max,
    "min": _min,
}


def _reduce(xp, name, data, axes, keepdims):
    keepdims = bool(keepdims)
    if _is_empty_set(data.shape, axes):
        return xp.full(_out_shape(data.shape, axes, keepdims), _EMPTY[name](data.dtype), dtype=data.dtype)
    return _as_array(xp, _KERNELS[name](xp, data, axes, keepdims), data.dtype)


# ----------------------------------------------------------------------------- registration


def _register(op_type: str, name: str, attr_since, input_since):
    """Register the attribute-axes form under ``attr_since`` and the input-axes form under ``input_since``."""

    def reduce_attr_axes(xp, data, *, axes=None, keepdims=1):
        return _reduce(xp, name, data, _axes_from_attr(axes, data.ndim), keepdims)

    def reduce_input_axes(xp, data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        return _reduce(xp, name, data, _axes_from_input(axes, data.ndim, noop_with_empty_axes), keepdims)

    reduce_attr_axes.__name__ = f"{name}_attr_axes"
    reduce_input_axes.__name__ = f"{name}_input_axes"
    op(op_type, since=attr_since)(reduce_attr_axes)
    op(op_type, since=input_since, host_inputs=(1,))(reduce_input_axes)


# Version 11 allowed negative axes; 12 and 20 widened ReduceMax/Min to int8/uint8 and bool.
_register("ReduceSum", "sum", (1, 11), (13,))
_register("ReduceSumSquare", "sum_square", (1, 11), (18,))
_register("ReduceL1", "l1", (1, 11), (18,))
_register("ReduceL2", "l2", (1, 11), (18,))
_register("ReduceMean", "mean", (1, 11), (18,))
_register("ReduceProd", "prod", (1, 11), (18,))
_register("ReduceLogSum", "log_sum", (1, 11), (18,))
_register("ReduceLogSumExp", "log_sum_exp", (1, 11), (18,))
_register("ReduceMax", "max", (1, 11, 12), (18, 20))
_register("ReduceMin", "min", (1, 11, 12), (18, 20))


# ----------------------------------------------------------------------------- ArgMax / ArgMin


def _arg_reduce(xp, fn, data, axis, keepdims, select_last_index):
    axis = int(axis) % data.ndim if data.ndim else 0
    if not select_last_index:
        idx = fn(data, axis=axis, keepdims=bool(keepdims))
    else:
        # The last extremum is the first one in the reversed data, counted from the end.
        n = data.shape[axis]
        idx = (n - 1) - fn(xp.flip(data, axis=axis), axis=axis, keepdims=bool(keepdims))
    return xp.astype(xp.asarray(idx), xp.int64)


@op("ArgMax", since=(1, 11, 12))
def argmax(xp, data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_reduce(xp, xp.argmax, data, axis, keepdims, select_last_index)


@op("ArgMin", since=(1, 11, 12))
def argmin(xp, data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_reduce(xp, xp.argmin, data, axis, keepdims, select_last_index)
