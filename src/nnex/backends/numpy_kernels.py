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

from ..ops._fast_clip import clamp_float
from ..ops.elementwise import ERF_CLAMP, ERF_P, ERF_Q
from .numpy_lstm import lstm

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_F32 = np.dtype(np.float32)


def _float(x) -> bool:
    return type(x) is np.ndarray and x.dtype in _FLOATS


def _same_float(a, b) -> bool:
    return _float(a) and type(b) is np.ndarray and b.dtype == a.dtype


def _fits(out, *arrays) -> bool:
    """``out`` can take the broadcast result of ``arrays``."""
    if out is None:
        return True
    shape = out.shape
    if all(a.shape == shape for a in arrays):
        return True
    # broadcast by hand: np.broadcast_shapes costs 2 us, more than a small node's whole work
    nd = len(shape)
    for a in arrays:
        s = a.shape
        if len(s) > nd:
            return False
        for d, o in zip(s[::-1], shape[::-1]):
            if d != o and d != 1:
                return False
    return True


# ------------------------------------------------------------------------------------ unary
def relu(x, out=None):
    if not _float(x):
        return NotImplemented
    return clamp_float(x, 0.0, None, out=out)


def _ufunc_kernel(ufunc):
    # ``out=None`` passed on to a ufunc costs more than a small array's whole computation
    def kernel(x, out=None):
        if not _float(x):
            return NotImplemented
        return ufunc(x) if out is None else ufunc(x, out=out)

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
    lo = lo.astype(x.dtype, copy=False) if isinstance(lo, np.ndarray) else lo
    hi = hi.astype(x.dtype, copy=False) if isinstance(hi, np.ndarray) else hi
    if lo is None and hi is None:
        return x.copy(order="K") if out is None else x
    return clamp_float(x, lo, hi, out=out)


def clip_attrs(x, out=None, *, max=3.4028234663852886e38, min=-3.4028234663852886e38):
    return clip(x, min, max, out=out)


# elements per block of a long elementwise composite: its temporaries then stay in the L2 cache
# (measured on a 128x3072 Erf: 1.3 ms in blocks of 64Ki against 6.9 ms in one piece)
_BLOCK = 1 << 16


def _blocked(fn, x, out):
    """``fn(x, out)`` over blocks of a contiguous ``x``; the whole array at once otherwise."""
    if x.size <= _BLOCK or not x.flags.c_contiguous or (out is not None and not out.flags.c_contiguous):
        return fn(x, out)
    if out is None:
        out = np.empty_like(x)
    xf, of = x.reshape(-1), out.reshape(-1)
    for i in range(0, xf.size, _BLOCK):
        fn(xf[i:i + _BLOCK], of[i:i + _BLOCK])
    return out


def erf_float32(x, out=None):
    """erf of a float32 array with the op library's rational approximation."""
    if type(x) is not np.ndarray or x.dtype != _F32:
        return NotImplemented
    return _blocked(_erf_block, x, out)


def _erf_block(x, out):
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
    return _blocked(lambda xb, ob: _gelu_block(xb, ob, approximate), x, out)


def _gelu_block(x, out, approximate):
    if approximate == "tanh":
        inner = np.multiply(x, x)
        inner *= np.float32(0.044715)
        inner += np.float32(1.0)
        inner *= x
        inner *= np.float32(math.sqrt(2.0 / math.pi))
        np.tanh(inner, out=inner)
    else:
        inner = np.multiply(x, np.float32(1.0 / math.sqrt(2.0)))
        inner = _erf_block(inner, inner)
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


def layer_norm(x, scale, b=None, out=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """LayerNormalization over the last axis of a float32 input (the common case)."""
    if (type(x) is not np.ndarray or x.dtype != _F32 or x.ndim == 0 or axis not in (-1, x.ndim - 1)
            or int(stash_type) != 1 or not _same_float(x, scale) or (b is not None and not _same_float(x, b))):
        return NotImplemented
    if not _fits(out, x, scale, *(() if b is None else (b,))):
        return NotImplemented
    mean = np.mean(x, axis=-1, keepdims=True)
    d = np.subtract(x, mean, out=out)
    var = np.vecdot(d, d)[..., None]
    var /= np.float32(x.shape[-1])
    var += np.float32(epsilon)
    inv_std = np.sqrt(var, out=var)
    np.reciprocal(inv_std, out=inv_std)
    d *= inv_std
    d *= scale
    if b is not None:
        d += b
    return d, mean, inv_std


# ------------------------------------------------------------------------------------ binary
def _binary_kernel(ufunc, kinds):
    """A binary ufunc on two arrays of one dtype of ``kinds`` (integers wrap, as in ONNX)."""
    def kernel(a, b, out=None):
        if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype or a.dtype.kind not in kinds:
            return NotImplemented
        if out is None:
            return ufunc(a, b)
        if not (a.shape == b.shape or _fits(out, a, b)):
            return NotImplemented
        return ufunc(a, b, out=out)

    kernel.__name__ = ufunc.__name__
    return kernel


def power(x, y, out=None):
    """Pow of a float array by one exponent: squares and cubes as products (NumPy's float32
    power by an array exponent goes through the general powf: 8x slower)."""
    if not _float(x) or not isinstance(y, (np.ndarray, np.generic)) or y.size != 1 or y.dtype.kind not in "fiu":
        return NotImplemented
    if out is not None and out.shape != x.shape:
        return NotImplemented
    e = float(y.reshape(-1)[0])
    if e == 2.0:
        return np.multiply(x, x, out=out)
    if e == 3.0:
        sq = np.multiply(x, x)
        return np.multiply(sq, x, out=out)
    if e == 1.0:
        return np.positive(x, out=out)
    if y.dtype.kind == "f" and y.dtype.itemsize > x.dtype.itemsize:
        return NotImplemented    # the op library computes in the wider type
    return np.power(x, x.dtype.type(e), out=out)


def attention(Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, out=None, *,
              is_causal=0, kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None,
              softcap=0.0, softmax_precision=None, left_window_size=-1, right_window_size=-1, _n_outputs=None):
    """Attention-23/24 in its common form (4-D float32 Q/K/V with equal heads, no cache, one output):
    the scores buffer is biased, masked and normalized in place."""
    if (_n_outputs != 1 or past_key is not None or past_value is not None or nonpad_kv_seqlen is not None
            or softcap or left_window_size >= 0 or right_window_size >= 0
            or softmax_precision not in (None, 1)):
        return NotImplemented
    if any(type(a) is not np.ndarray or a.dtype != _F32 or a.ndim != 4 for a in (Q, K, V)):
        return NotImplemented
    if K.shape[1] != Q.shape[1] or V.shape[1] != Q.shape[1]:
        return NotImplemented
    sq, sk = Q.shape[2], K.shape[2]
    mask = attn_mask
    if mask is not None:
        if type(mask) is not np.ndarray or mask.dtype not in (_F32, np.dtype(bool)) or mask.shape[-1] != sk:
            return NotImplemented
        try:
            np.broadcast_shapes(mask.shape, Q.shape[:2] + (sq, sk))
        except ValueError:
            return NotImplemented
    if scale is None:
        scale = 1.0 / math.sqrt(Q.shape[-1])
    root = np.float32(math.sqrt(scale))
    s = np.matmul(Q * root, np.swapaxes(K * root, -1, -2))
    if s.shape[:2] != Q.shape[:2]:
        return NotImplemented
    ninf = np.float32(-np.inf)
    if mask is not None:
        if mask.dtype == bool:
            np.copyto(s, ninf, where=np.logical_not(mask))
        else:
            s += mask
    if is_causal:
        np.copyto(s, ninf, where=np.triu(np.ones((sq, sk), dtype=bool), k=1))
    # softmax over keys; a row with every key masked gives zeros (the spec), not NaN
    m = np.max(s, axis=-1, keepdims=True)
    m[m == ninf] = 0
    s -= m
    np.exp(s, out=s)
    total = np.sum(s, axis=-1, keepdims=True)
    total[total == 0] = 1
    s /= total
    return (np.matmul(s, V),)


def batch_norm(X, scale, B, input_mean, input_var, out=None, *, epsilon=1e-5, momentum=0.9, training_mode=0,
               is_test=0, spatial=1, consumed_inputs=None, _n_outputs=1, _opset=15):
    """Inference BatchNormalization of a float32 (N, C, ...) input as one multiply-add per channel."""
    if (_n_outputs != 1 or training_mode or not spatial or type(X) is not np.ndarray or X.dtype != _F32
            or X.ndim < 2 or any(type(v) is not np.ndarray or v.shape != (X.shape[1],)
                                 for v in (scale, B, input_mean, input_var))):
        return NotImplemented
    a = scale.astype(np.float64) / np.sqrt(input_var.astype(np.float64) + epsilon)
    shift = (B - input_mean * a).astype(_F32)
    per_channel = (-1,) + (1,) * (X.ndim - 2)
    y = np.multiply(X, a.astype(_F32).reshape(per_channel), out=out)
    y += shift.reshape(per_channel)
    return y


# ------------------------------------------------------------------------------------ small ops
def sum_of_two(*inputs, out=None):
    if len(inputs) != 2:
        return NotImplemented
    a, b = inputs
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype or a.dtype.kind not in "fiu":
        return NotImplemented
    return np.add(a, b)


def concat(*inputs, out=None, axis):
    for x in inputs:
        if type(x) is not np.ndarray or x.dtype != inputs[0].dtype or x.ndim != inputs[0].ndim:
            return NotImplemented
    if not inputs or not -inputs[0].ndim <= axis < inputs[0].ndim:
        return NotImplemented
    return np.concatenate(inputs, axis=axis)


# Cast's ``to`` (a TensorProto data type) -> NumPy dtype, for the types whose conversion NumPy's
# astype does exactly as ONNX says (float -> int is left to the op library: NaN and overflow)
_CAST_TARGETS = {1: np.dtype(np.float32), 10: np.dtype(np.float16), 11: np.dtype(np.float64),
                 2: np.dtype(np.uint8), 3: np.dtype(np.int8), 4: np.dtype(np.uint16), 5: np.dtype(np.int16),
                 6: np.dtype(np.int32), 7: np.dtype(np.int64), 9: np.dtype(np.bool_), 12: np.dtype(np.uint32),
                 13: np.dtype(np.uint64)}


def cast(x, out=None, *, to, saturate=1, round_mode="up"):
    target = _CAST_TARGETS.get(to)
    if target is None or type(x) is not np.ndarray:
        return NotImplemented
    src = x.dtype
    if src == target:
        return x
    if src.kind not in "biuf" or src.kind == "f" and target.kind in "iu" or src not in _CAST_SOURCES:
        return NotImplemented
    return x.astype(target)


_CAST_SOURCES = frozenset(_CAST_TARGETS.values())


# (domain, op_type) -> {standard kernel's since: fast kernel}
FAST: dict[tuple[str, str], dict[int, object]] = {}
# (domain, op_type) -> input positions whose buffer the result may take
DONORS: dict[tuple[str, str], tuple[int, ...]] = {}


def fast_kernel(kernel):
    """NumPy's own version of a registered ``kernel`` (``(*inputs, out=None, **attrs)``,
    NotImplemented for what it does not cover), or None."""
    return FAST.get((kernel.domain, kernel.op_type), {}).get(kernel.since)


def with_fallback(fast, standard):
    """``(xp, *inputs, **attrs)``: ``fast``, and the standard kernel where it declines."""
    def numpy_kernel(xp, *inputs, **attrs):
        r = fast(*inputs, **attrs)
        return standard(xp, *inputs, **attrs) if r is NotImplemented else r

    numpy_kernel.__name__ = getattr(fast, "__name__", "numpy_kernel")
    return numpy_kernel


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
_register("LayerNormalization", (17,), layer_norm)
_register("LSTM", (7, 14), lstm, donors=())
_register("Pow", (7, 12, 13, 15), power)
_register("Attention", (23, 24, 25), attention, donors=())
_register("BatchNormalization", (6, 7, 9, 14, 15), batch_norm)
_register("Reciprocal", (6, 13), reciprocal)
for _op, _uf in (("Tanh", np.tanh), ("Exp", np.exp), ("Neg", np.negative), ("Abs", np.absolute),
                 ("Sqrt", np.sqrt), ("Log", np.log)):
    _register(_op, (6, 13), _ufunc_kernel(_uf))
for _op, _uf in (("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply)):
    _register(_op, (7, 13, 14), _binary_kernel(_uf, "fiu"), donors=(0, 1))
_register("Div", (7, 13, 14), _binary_kernel(np.divide, "f"), donors=(0, 1))  # integer Div truncates
for _op, _uf in (("Less", np.less), ("Greater", np.greater), ("Equal", np.equal)):
    _register(_op, (7, 9, 11, 13, 19), _binary_kernel(_uf, "fiub"), donors=())
_register("LessOrEqual", (12, 16), _binary_kernel(np.less_equal, "fiu"), donors=())
_register("GreaterOrEqual", (12, 16), _binary_kernel(np.greater_equal, "fiu"), donors=())
_register("Sum", (6, 8, 13), sum_of_two, donors=())
_register("Concat", (4, 11, 13), concat, donors=())
_register("Cast", (6, 9, 13, 19, 21, 23, 24, 25), cast, donors=())
