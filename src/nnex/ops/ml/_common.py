"""Helpers shared by the ai.onnx.ml kernels: score post-transforms, label handling.

Everything here is host-side NumPy: the classic ML operators work on small 2-D
batches with string labels and per-model constants, which no accelerator helps with.
"""

from __future__ import annotations

import functools
import math
import operator
import threading
from collections import OrderedDict

import array_api_compat.numpy as _NUMPY_XP
import numpy as np

# TreeEnsemble (ai.onnx.ml 5) encodes the transform as an int, the older ops as a name
POST_TRANSFORMS = ("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT")


def transform_name(post_transform) -> str:
    """The post_transform as a name, whether it came as a string or as an enum int."""
    if isinstance(post_transform, str):
        if post_transform not in POST_TRANSFORMS:
            raise ValueError(f"unknown post_transform {post_transform!r}")
        return post_transform
    return POST_TRANSFORMS[int(post_transform)]


def logistic(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive argument only, so no overflow warning for large |x|
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# a row of at most this many scores is softmaxed with Python floats: five NumPy calls on a
# handful of values cost 5.5 us, the Python loop 2.3
_SMALL_ROW = 16


def softmax(x: np.ndarray) -> np.ndarray:
    if x.ndim == 2 and x.shape[0] == 1 and 0 < x.shape[1] <= _SMALL_ROW:
        row = x[0].tolist()
        top = max(row)
        if top != math.inf and top == top:  # no inf / NaN: those keep NumPy's semantics
            e = [math.exp(v - top) for v in row]
            total = math.fsum(e)
            return np.array([[v / total for v in e]], dtype=x.dtype)
    # the ufuncs' own reductions: np.max / np.sum add microseconds of Python per call
    e = x - np.maximum.reduce(x, axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=-1, keepdims=True)
    return e


def softmax_zero(x: np.ndarray) -> np.ndarray:
    """Softmax in which exact zeros (|v| <= 1e-7) stay zero and take no share."""
    nonzero = np.abs(x) > 1e-7
    e = np.where(nonzero, np.exp(x - np.maximum.reduce(x, axis=-1, keepdims=True)), 0.0)
    total = np.sum(e, axis=-1, keepdims=True)
    return e / np.where(total == 0, 1.0, total)


def erfinv(y: np.ndarray) -> np.ndarray:
    """Inverse error function (M. Giles' approximation, single-precision accurate)."""
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
    central = w - 2.5
    p1 = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        p1 = c + p1 * central
    tail = np.sqrt(np.maximum(w, 0.0)) - 3.0
    p2 = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        p2 = c + p2 * tail
    out = np.where(w < 5.0, p1, p2) * y
    # the ends map to infinities; outside [-1, 1] there is no inverse
    out = np.where(np.abs(y) == 1.0, np.copysign(np.inf, y), out)
    return np.where(np.abs(y) > 1.0, np.nan, out)


def probit(p: np.ndarray) -> np.ndarray:
    """Quantile function of the standard normal distribution."""
    return np.sqrt(2.0) * erfinv(2.0 * np.asarray(p, dtype=np.float64) - 1.0)


def post_transform_scores(scores: np.ndarray, post_transform) -> np.ndarray:
    """Apply an ML post_transform to [N, C] scores (row-wise for the softmaxes)."""
    name = transform_name(post_transform)
    if name == "NONE":
        return scores
    if name == "LOGISTIC":
        return logistic(scores)
    if name == "SOFTMAX":
        return softmax(scores)
    if name == "SOFTMAX_ZERO":
        return softmax_zero(scores)
    return probit(scores)


def as_2d(x) -> np.ndarray:
    """[N, F] view of an input batch: a vector is one sample, higher ranks flatten the features."""
    a = np.asarray(x)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a.reshape(a.shape[0], -1)


def as_float(x) -> np.ndarray:
    """Inputs of the ML ops are float, double, int32 or int64; compute in float64 unless float."""
    a = np.asarray(x)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def label_array(labels, idx: np.ndarray) -> np.ndarray:
    """Labels picked by ``idx`` as an int64 or string (object) array (``labels``: a list, or
    an array already made by this function's rules)."""
    if isinstance(labels, np.ndarray):
        return labels[idx]
    lab = np.asarray(labels, dtype=object if labels and isinstance(labels[0], str) else np.int64)
    return lab[idx]


def class_labels(classlabels_ints=None, classlabels_strings=None):
    """The class labels of a classifier: (list, is_strings)."""
    if classlabels_strings:
        return list(classlabels_strings), True
    if classlabels_ints is not None and len(classlabels_ints):
        return [int(v) for v in classlabels_ints], False
    return [], False


# --------------------------------------------------------------------------- per-node plans

_PLANS: OrderedDict = OrderedDict()
_PLANS_MAX = 64
_PLANS_LOCK = threading.Lock()


def per_node(builder):
    """Kernel decorator: ``builder(**attributes)`` runs once per node and returns the node's
    ``run(xp, *inputs)``; each call of the node then runs only that.

    What a kernel derives from its attributes (flat trees, support vectors, label tables,
    the branch of the op that applies) is worth computing once: the ML ops mostly run
    on a row or a few, where per-call Python work is the cost.  The runtime binds a
    node's attributes once, at plan time, and passes the very same objects on every run,
    so plans are found by the attributes' names and identities; an entry holds the
    attribute objects, so no identity can be reused by another object while it lives.
    The plan last used by the kernel is checked first (identity tests, no hashing).
    The registry reads the kernel's signature from ``builder`` (its keyword-only
    parameters are the attributes, with their defaults).
    """
    kind = f"{builder.__module__}.{builder.__qualname__}"
    last = [((), (), None)]  # (attribute names, attribute values, run) of the latest call

    @functools.wraps(builder)
    def kernel(xp, *inputs, **attributes):
        names, values, run = last[0]
        current = tuple(attributes.values())
        if (len(current) != len(values) or not all(map(operator.is_, current, values))
                or names != tuple(attributes)):
            run = _plan_of(kind, builder, attributes)
            last[0] = (tuple(attributes), current, run)
        return run(xp, *inputs)

    def prepare(attributes: dict):
        """The node's ``run(xp, *inputs)`` for its (plan-time) attributes, for a runtime that
        binds it once instead of calling ``kernel`` with the attributes every time."""
        return _plan_of(kind, builder, attributes)

    kernel.nnex_prepare = prepare
    return kernel


def _plan_of(kind: str, builder, attributes: dict):
    key = (kind, *attributes, *map(id, attributes.values()))
    with _PLANS_LOCK:
        entry = _PLANS.get(key)
        if entry is not None:
            _PLANS.move_to_end(key)  # least recently used plans go first
            return entry[0]
    # the entry holds the attribute objects: their identities stay theirs while it lives
    entry = (builder(**attributes), tuple(attributes.values()))
    with _PLANS_LOCK:
        _PLANS[key] = entry
        while len(_PLANS) > _PLANS_MAX:
            _PLANS.popitem(last=False)
    return entry[0]


def to_xp(xp, a):
    """A host result as an array of the session's backend (NumPy's own arrays need nothing)."""
    return a if xp is _NUMPY_XP or xp is np else xp.asarray(a)
