"""NumPy's own kernels for the ops that dominate inference time, able to write in place.

The op library's kernels are written once against the array API, which has no ``out=``: each
elementwise op allocates its result and a composite (Sigmoid, Gelu, Softmax) allocates one
temporary per step. Here the hot ones are written with NumPy ufuncs and ``out=``. Each takes
``out`` (None: allocate) and returns ``NotImplemented`` for a case it does not cover (a dtype,
a broadcast that does not fit ``out``), where the standard kernel runs instead.

``DONORS`` names, per op, the inputs whose buffer the result may overwrite. The planner gives
a node such a buffer when the value dies at that node (its last reader) and, at run time, only
when nothing else holds it (runtime/inplace.py checks ownership and reference counts).
"""

from __future__ import annotations

import math

import numpy as np

from ..ops.elementwise import ERF_CLAMP, ERF_P, ERF_Q

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_F32 = np.dtype(np.float32)


def _float(x) -> bool:
    return type(x) is np.ndarray and x.dtype in _FLOATS


def _same_float(a, b) -> bool:
    return _float(a) and type(b) is np.ndarray and b.dtype == a.dtype


def _fits(out, *arrays) -> bool:
    """``out`` can take the broadcast result of ``arrays``."""
    return out is None or np.broadcast_shapes(*(a.shape for a in arrays)) == out.shape


# ------------------------------------------------------------------------------------ unary
def relu(x, out=None):
    if not _float(x):
        return NotImplemented
    return np.maximum(x, 0, out=out)


def _ufunc_kernel(ufunc):
    def kernel(x, out=None):
        if not _float(x):
            return NotImplemented
        return ufunc(x, out=out)

    kernel.__name__ = ufunc.__name__
    return kernel


def reciprocal(x, out=None):
    if not _float(x):
        return NotImplemented
    with np.errstate(divide="ignore"):
        return np.reciprocal(x, out=out)


def sigmoid(x, out=None):
    if not _float(x):
        return NotImplemented
    # 1 / (1 + exp(-x)): exp overflows to inf for very negative x, and 1 / inf is the right 0
    with np.errstate(over="ignore"):
        y = np.negative(x, out=out)
        np.exp(y, out=y)
    y += 1
    return np.reciprocal(y, out=y)


def clip(x, lo=None, hi=None, out=None):
    if not _float(x):
        return NotImplemented
    y = x
    if lo is not None:
        y = np.maximum(y, lo.astype(x.dtype, copy=False) if isinstance(lo, np.ndarray) else lo, out=out)
        out = y
    if hi is not None:
        y = np.minimum(y, hi.astype(x.dtype, copy=False) if isinstance(hi, np.ndarray) else hi, out=out)
    return y.copy() if y is x else y


def clip_attrs(x, out=None, *, max=3.4028234663852886e38, min=-3.4028234663852886e38):
    return clip(x, min, max, out=out)


def erf_float32(x, out=None):
    """erf of a float32 array with the op library's rational approximation (3 temporaries)."""
    if type(x) is not np.ndarray or x.dtype != _F32:
        return NotImplemented
    xc = np.clip(x, -ERF_CLAMP, ERF_CLAMP, out=out)
    t = np.multiply(xc, xc)
    p = np.multiply(t, np.float32(ERF_P[-1]))
    for c in ERF_P[-2:0:-1]:
        p += np.float32(c)
        p *= t
    p += np.float32(ERF_P[0])
    q = np.multiply(t, np.float32(ERF_Q[-1]))
    for c in ERF_Q[-2:0:-1]:
        q += np.float32(c)
        q *= t
    q += np.float32(1.0)
    p *= xc
    y = np.divide(p, q, out=xc)
    return np.clip(y, -1.0, 1.0, out=y)


def gelu(x, out=None, *, approximate="none"):
    if type(x) is not np.ndarray or x.dtype != _F32:
        return NotImplemented
    if approximate == "tanh":
        inner = np.multiply(x, x)
        inner *= np.float32(0.044715)
        inner += np.float32(1.0)
        inner *= x
        inner *= np.float32(math.sqrt(2.0 / math.pi))
        np.tanh(inner, out=inner)
    else:
        inner = np.multiply(x, np.float32(1.0 / math.sqrt(2.0)))
        inner = erf_float32(inner, out=inner)
    inner += np.float32(1.0)
    inner *= np.float32(0.5)
    return np.multiply(x, inner, out=out)


def softmax(x, out=None, *, axis=-1):
    if not _float(x) or x.ndim == 0:
        return NotImplemented
    y = np.subtract(x, np.max(x, axis=axis, keepdims=True), out=out)
    np.exp(y, out=y)
    y /= np.sum(y, axis=axis, keepdims=True)
    return y


# ------------------------------------------------------------------------------------ binary
def _binary_kernel(ufunc):
    def kernel(a, b, out=None):
        if not _same_float(a, b) or not _fits(out, a, b):
            return NotImplemented
        return ufunc(a, b, out=out)

    kernel.__name__ = ufunc.__name__
    return kernel


# (domain, op_type) -> {standard kernel's since: fast kernel}
FAST: dict[tuple[str, str], dict[int, object]] = {}
# (domain, op_type) -> input positions whose buffer the result may take
DONORS: dict[tuple[str, str], tuple[int, ...]] = {}


def _register(op_type, versions, fn, donors=(0,)):
    FAST.setdefault(("", op_type), {}).update({v: fn for v in versions})
    DONORS[("", op_type)] = donors


_register("Relu", (6, 13, 14), relu)
_register("Sigmoid", (6, 13), sigmoid)
_register("Clip", (11, 12, 13), clip)
_register("Clip", (6,), clip_attrs)
_register("Erf", (9, 13), erf_float32)
_register("Gelu", (20,), gelu)
_register("Softmax", (13,), softmax)
_register("Reciprocal", (6, 13), reciprocal)
for _op, _uf in (("Tanh", np.tanh), ("Exp", np.exp), ("Neg", np.negative), ("Abs", np.absolute),
                 ("Sqrt", np.sqrt), ("Log", np.log)):
    _register(_op, (6, 13), _ufunc_kernel(_uf))
for _op, _uf in (("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply), ("Div", np.divide)):
    _register(_op, (7, 13, 14), _binary_kernel(_uf), donors=(0, 1))
