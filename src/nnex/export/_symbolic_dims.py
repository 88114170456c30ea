"""nnex's plan traced with symbolic dimensions (``jax.export`` shape polymorphism).

to_tensorflow traces the model once for every size of its dynamic axes (a TensorFlow
input signature with ``None``), so each of those axes is a JAX symbolic dimension (``b``,
``seq``) while the plan runs. The op library computes shapes on the host, as Python ints;
here a shape that holds a symbolic dimension stays a NumPy *object* array of ints and
dimension expressions (``[b, seq, 32]``), the "symbolic host value":

* Shape/Size produce one; integer arithmetic, Concat, Gather, Slice, Squeeze, ... keep it
  symbolic (JAX's dimension expressions add, multiply and floor-divide);
* the ops that take a shape (Reshape, Expand, Range, ConstantOfShape, Slice, Tile, ...)
  build their result from it with JAX, which accepts dimension expressions as sizes;
* any other op that meets one gets it as a traced int64 array (its value at run time).

Comparisons between symbolic dimensions are used only where JAX can decide them for every
size: ``b == 1`` is not assumed False, it becomes a run-time comparison.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..backends.base import ArrayBackend
from ..backends.jax_backend import JaxBackend
from ..ops.dtypes import numpy_dtype
from ..ops.registry import OpKernel, lookup

_SENTINEL = 2**31  # Slice starts/ends beyond this mean "to the end" (INT64_MAX, INT32_MAX, ...)
_INT_KINDS = "iu"
_HOST = (np.ndarray, np.generic)


class SymbolicJaxBackend(JaxBackend):
    """The JAX backend, with kernels that accept symbolic dimensions (see module doc)."""

    def __init__(self):
        super().__init__(None)
        import jax

        # jnp has no erf: without one the op library computes Erf/Gelu as a float64 series,
        # which TFLite cannot run; jax.lax.erf is a StableHLO composite, which TensorFlow's
        # XlaCallModule does not specialize to the run's shapes when they are dynamic
        self.xp.erf = functools.partial(_erf, jax.numpy)
        self._dim_type = type(jax.export.symbolic_shape("d")[0])
        self._inconclusive = _inconclusive_error(jax)

    def asarray(self, x, *, strict: bool = False):
        # a constant moved "to the device" during a trace would be a traced value, which a
        # kernel cannot read (Pad's constant_value.item()); JAX takes NumPy operands as they
        # are, and they fold into the module as constants
        if isinstance(x, np.ndarray) and x.dtype not in self._dtypes and strict:
            raise self._unsupported(x.dtype)
        return x

    def wrap_kernel(self, kernel: OpKernel) -> OpKernel:
        # no jax.jit per node (JaxBackend's): the whole plan is traced as one function, and a
        # kernel compiled during one trace and called in the next (a SavedModel retraces)
        # brings constants the outer export does not expect; x64 is on around the trace
        return ArrayBackend.wrap_kernel(self, kernel)

    def kernel_override(self, domain: str, op_type: str, opset: int) -> OpKernel | None:
        adapted = super().kernel_override(domain, op_type, opset)
        if adapted is None:
            return None
        handler = _HANDLERS.get((domain, op_type))
        on_host = self._host_call(lookup(domain, op_type, opset).fn)
        return dataclasses.replace(adapted, fn=self._symbolic_aware(adapted, handler, on_host))

    # ------------------------------------------------------------------ values
    def is_symbolic(self, x) -> bool:
        return isinstance(x, np.ndarray) and x.dtype == object and any(
            isinstance(e, self._dim_type) for e in x.flat)

    def symbolic_or_int(self, values, shape=None) -> np.ndarray:
        """Host ints and dimension expressions as an int64 array, or an object array while
        one of them is symbolic."""
        flat = [e if isinstance(e, self._dim_type) else int(e) for e in values]
        arr = np.empty(len(flat), dtype=object)
        arr[:] = flat
        if not any(isinstance(e, self._dim_type) for e in flat):
            arr = arr.astype(np.int64)
        return arr.reshape(() if shape is None else shape)

    def materialize(self, x):
        """A symbolic host value as a traced int64 array: its value at run time."""
        if not self.is_symbolic(x):
            return x
        jnp = self._jax.numpy
        return jnp.reshape(jnp.array(list(x.flat), dtype=jnp.int64), x.shape)

    def to_host_if_concrete(self, x):
        if isinstance(x, self._array_type) and not isinstance(x, self._jax.core.Tracer):
            return np.asarray(x)
        return x

    def dims(self, v) -> list:
        """A host shape-like input (int64 or symbolic) as a list of ints and dimension expressions."""
        return [e if isinstance(e, self._dim_type) else int(e) for e in np.asarray(v).reshape(-1)]

    def decide(self, fn, *args):
        """``fn(*args)`` where JAX can decide it for every size of the symbolic dimensions,
        else None."""
        try:
            return fn(*args)
        except self._inconclusive:
            return None

    # ------------------------------------------------------------------ kernels
    def _symbolic_aware(self, adapted: OpKernel, handler, on_host):
        fn = adapted.fn
        backend = self

        def symbolic_kernel(xp, *inputs, **attrs):
            if inputs and all(x is None or (isinstance(x, _HOST) and x.dtype != object) for x in inputs):
                # constants in, constants out: under a trace a JAX result would be a traced
                # value, and a shape computed from constants (ConstantOfShape, then Mul, Equal,
                # Where, ...) must stay known before the graph runs
                return on_host(xp, *inputs, **attrs)
            if handler is not None:
                out = handler(backend, adapted, xp, *inputs, **attrs)
                if out is not NotImplemented:
                    return out
            if any(backend.is_symbolic(x) for x in inputs):
                inputs = [backend.materialize(x) for x in inputs]
            return fn(xp, *inputs, **attrs)

        symbolic_kernel.__name__ = fn.__name__
        return symbolic_kernel


# Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7) for |x| >= 0.5; Taylor's series below,
# where the former's 1 - ... loses the relative accuracy
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_TAYLOR = tuple((-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(7))


def _erf(jnp, x):
    """erf from elementary ops, in float32 (float64 keeps JAX's own)."""
    if x.dtype == jnp.float64:
        import jax

        return jax.lax.erf(x)
    w = x.astype(jnp.float32)
    a = jnp.abs(w)
    z = w * w
    series = _TAYLOR[-1]
    for c in _TAYLOR[-2::-1]:
        series = series * z + c
    series = series * w * (2.0 / math.sqrt(math.pi))
    t = 1.0 / (1.0 + _AS_P * a)
    poly = _AS_A[-1]
    for c in _AS_A[-2::-1]:
        poly = poly * t + c
    tail = jnp.sign(w) * (1.0 - poly * t * jnp.exp(-z))
    return jnp.where(a < 0.5, series, tail).astype(x.dtype)


def _inconclusive_error(jax):
    try:
        b = jax.export.symbolic_shape("b")[0]
        bool(b >= 2)
    except Exception as e:  # noqa: BLE001  (the class jax raises; it is not public)
        return type(e)
    raise AssertionError("JAX decided b >= 2 for a symbolic b")


# ---------------------------------------------------------------------------- handlers
# A handler is ``fn(backend, kernel, xp, *inputs, **attrs)`` (``kernel``: the adapted
# standard one). NotImplemented hands the node to the standard kernel, with symbolic host
# values materialized.


def _dim_like(backend, e) -> bool:
    return isinstance(e, (int, backend._dim_type))


def _any_symbolic(backend, inputs) -> bool:
    return any(backend.is_symbolic(x) for x in inputs)


def _host_inputs(backend, inputs):
    """The inputs as host values when they all can be (constants the plan holds as JAX
    arrays, initializers, join shape arithmetic), else None."""
    out = [backend.to_host_if_concrete(x) for x in inputs]
    if all(x is None or isinstance(x, (np.ndarray, np.generic)) for x in out):
        return out
    return None


def _symbolic_shape(x) -> bool:
    return any(not isinstance(d, int) for d in getattr(x, "shape", ()))


def _device(backend, x):
    """A host array as a JAX one, for a result whose size is symbolic (NumPy has none)."""
    return backend._jax.numpy.asarray(x) if isinstance(x, (np.ndarray, np.generic)) else x


def _shape(backend, kernel, xp, data, *, start=0, end=None):
    if not _symbolic_shape(data):
        return NotImplemented
    rank = len(data.shape)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = rank if end is None else min(max(end + rank if end < 0 else end, 0), rank)
    return backend.symbolic_or_int(data.shape[start:end], (max(end - start, 0),))


def _size(backend, kernel, xp, data):
    if not _symbolic_shape(data):
        return NotImplemented
    return backend.symbolic_or_int([math.prod(data.shape)])


def _elementwise(py_op, boolean: bool = False):
    """Integer arithmetic or comparisons on host shapes, element by element in Python;
    NotImplemented (a run-time computation) where JAX cannot decide a result."""

    def handler(backend, kernel, xp, *inputs, **attrs):
        if not _any_symbolic(backend, inputs):
            return NotImplemented
        inputs = _host_inputs(backend, inputs)
        if inputs is None:
            return NotImplemented
        arrays = [np.asarray(x) for x in inputs]
        if any(a.dtype != object and a.dtype.kind not in _INT_KINDS for a in arrays):
            return NotImplemented
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        cols = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
        out = []
        for row in zip(*cols):
            v = backend.decide(py_op, *(e if isinstance(e, backend._dim_type) else int(e) for e in row))
            if v is None:
                return NotImplemented
            out.append(v)
        if boolean:
            return np.asarray(out, dtype=np.bool_).reshape(shape)
        return backend.symbolic_or_int(out, shape)

    return handler


def _trunc_div(a, b):
    # ONNX's integer Div truncates; dimension expressions are >= 1, so floor division of one
    # by a positive constant is the same
    if isinstance(a, int) and isinstance(b, int):
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b > 0) else -q
    if isinstance(b, int) and b > 0:
        return a // b
    return None


def _mod(a, b):
    return a % b if isinstance(b, int) and b > 0 else None


def _max(*v):
    import jax

    out = v[0]
    for x in v[1:]:
        out = jax.core.max_dim(out, x)
    return out


def _min(*v):
    import jax

    out = v[0]
    for x in v[1:]:
        out = jax.core.min_dim(out, x)
    return out


def _equal(a, b):
    d = a - b
    if isinstance(d, int):
        return d == 0
    # JAX answers `b == 3` with False when it is not always true: ask instead whether the
    # difference is nonzero for every size (raises when it cannot tell)
    if bool(d >= 1) or bool(d <= -1):
        return False
    return None


def _structural(backend, kernel, xp, *inputs, **attrs):
    """Shape entries moved around (Concat, Gather, Squeeze, Reshape of a shape, ...): the
    standard kernel, which runs on NumPy for host values, keeps the expressions as they are."""
    if not _any_symbolic(backend, inputs):
        return NotImplemented
    inputs = _host_inputs(backend, inputs)
    if inputs is None:
        return NotImplemented
    try:
        out = kernel.fn(xp, *inputs, **attrs)
    except (TypeError, ValueError, backend._inconclusive):
        return NotImplemented  # an object array the kernel cannot take: compute at run time
    if isinstance(out, (tuple, list)):
        return type(out)(_renormalize(backend, o) for o in out)
    return _renormalize(backend, out)


def _joined(*positions):
    """A structural op whose inputs at ``positions`` are joined (Concat, Where): all of them
    object arrays, since NumPy's array API refuses to mix object and int64."""

    def handler(backend, kernel, xp, *inputs, **attrs):
        if not _any_symbolic(backend, inputs):
            return NotImplemented
        inputs = _host_inputs(backend, inputs)
        if inputs is None:
            return NotImplemented
        joined = [isinstance(x, np.ndarray) and (positions == "*" or i in positions)
                  for i, x in enumerate(inputs)]
        inputs = [x.astype(object) if j else x for x, j in zip(inputs, joined)]
        return _structural(backend, kernel, xp, *inputs, **attrs)

    return handler


def _renormalize(backend, x):
    if isinstance(x, np.ndarray) and x.dtype == object and all(_dim_like(backend, e) for e in x.flat):
        return backend.symbolic_or_int(list(x.reshape(-1)), x.shape)
    return x


def _cast(backend, kernel, xp, input, *, to, **attrs):
    from ..ir.tensor import np_dtype_of

    if backend.is_symbolic(input) and np.dtype(np_dtype_of(to)).kind in _INT_KINDS:
        return input  # the same dimensions
    return NotImplemented


def _reshape(backend, kernel, xp, data, shape=None, **attrs):
    if backend.is_symbolic(data):
        return _structural(backend, kernel, xp, data, shape, **attrs)
    if shape is None or not backend.is_symbolic(shape):
        return NotImplemented  # static target: the standard kernel resolves 0 and -1 with symbolic dims
    target = backend.dims(shape)
    if not attrs.get("allowzero", 0):
        target = [data.shape[i] if isinstance(d, int) and d == 0 else d for i, d in enumerate(target)]
    return xp.reshape(_device(backend, data), tuple(target))  # JAX infers a -1 from symbolic sizes too


def _expand(backend, kernel, xp, input, shape):
    if backend.is_symbolic(input):
        return _structural(backend, kernel, xp, input, shape)
    if not backend.is_symbolic(shape) and not _symbolic_shape(input):
        return NotImplemented
    a, b = list(input.shape), backend.dims(shape)
    a, b = [1] * (len(b) - len(a)) + a, [1] * (len(a) - len(b)) + b
    out = []
    for x, y in zip(a, b):
        # NumPy's broadcasting; a pair of unequal symbolic sizes is left to broadcast_to to check
        if isinstance(x, int) and x == 1:
            out.append(y)
        elif isinstance(y, int) and (y == 1 or not isinstance(x, int)):
            out.append(x if y == 1 else y)
        elif isinstance(x, int):
            out.append(x)
        else:
            out.append(y)
    return xp.broadcast_to(_device(backend, input), tuple(out))


def _constant_of_shape(backend, kernel, xp, input, *, value=None):
    if not backend.is_symbolic(input):
        return NotImplemented
    fill = np.zeros(1, dtype=np.float32) if value is None else np.asarray(value).reshape(-1)
    if fill.dtype not in backend._dtypes or fill.dtype.kind not in "biuf":
        return NotImplemented
    return xp.full(tuple(backend.dims(input)), fill[0].item(), dtype=fill.dtype)


def _range(backend, kernel, xp, start, limit, delta, **attrs):
    if not _any_symbolic(backend, (start, limit, delta)):
        return NotImplemented
    s, l, d = (backend.dims(v)[0] for v in (start, limit, delta))
    if not isinstance(d, int) or d == 0:
        return NotImplemented
    # the element count ceil((l - s) / d) without floats; below zero it is an empty range
    n = -((s - l) // d) if d > 0 else -((l - s) // -d)
    n = max(n, 0) if isinstance(n, int) else backend._jax.core.max_dim(n, 0)
    dtype = np.asarray(start).dtype if np.asarray(start).dtype != object else np.dtype(np.int64)
    out = xp.arange(n, dtype=dtype) * d
    return out + (s if isinstance(s, int) else backend.materialize(np.asarray([s], dtype=object))[0])


def _clamp(backend, v, lo, hi):
    core = backend._jax.core
    low = backend.decide(max, v, lo)
    v = core.max_dim(v, lo) if low is None else low
    high = backend.decide(min, v, hi)
    return core.min_dim(v, hi) if high is None else high


def _slice(backend, kernel, xp, data, starts, ends, axes=None, steps=None):
    host = (starts, ends, axes, steps)
    if backend.is_symbolic(data):
        return _structural(backend, kernel, xp, data, *host)
    if not _any_symbolic(backend, host) and not _symbolic_shape(data):
        return NotImplemented
    starts, ends = backend.dims(starts), backend.dims(ends)
    rank = len(data.shape)
    axes = list(range(len(starts))) if axes is None else [int(a) + rank if a < 0 else int(a)
                                                           for a in np.asarray(axes).reshape(-1)]
    steps = [1] * len(starts) if steps is None else [int(s) for s in np.asarray(steps).reshape(-1)]
    key = [slice(None)] * rank
    for a, s, e, st in zip(axes, starts, ends, steps):
        dim = data.shape[a]
        if st < 0:
            # only the whole axis reversed (torch.flip's export): ONNX's clamping of backward
            # slices differs from Python's
            if isinstance(s, int) and (s == -1 or s >= _SENTINEL) and isinstance(e, int) and e <= -_SENTINEL:
                key[a] = slice(None, None, st)
                continue
            return NotImplemented
        if isinstance(s, int) and s < 0:
            s = s + dim if s > -_SENTINEL else 0
        if isinstance(e, int) and e < 0:
            e = e + dim if e > -_SENTINEL else 0
        s = _clamp(backend, s, 0, dim)
        e = dim if isinstance(e, int) and e >= _SENTINEL else _clamp(backend, e, 0, dim)
        key[a] = slice(s, e, st)
    return _device(backend, data)[tuple(key)]


def _tile(backend, kernel, xp, input, repeats, *rest):
    if backend.is_symbolic(input):
        return _structural(backend, kernel, xp, input, repeats, *rest)
    if rest or not backend.is_symbolic(repeats):
        return NotImplemented
    return xp.tile(_device(backend, input), tuple(backend.dims(repeats)))


def _split(backend, kernel, xp, input, split=None, *, axis=0, _n_outputs=1, **attrs):
    if split is None or not backend.is_symbolic(split) or backend.is_symbolic(input):
        return NotImplemented
    axis = axis + input.ndim if axis < 0 else axis
    input = _device(backend, input)
    outs, start = [], 0
    for size in backend.dims(split):
        index = [slice(None)] * input.ndim
        index[axis] = slice(start, start + size)
        outs.append(input[tuple(index)])
        start = start + size
    return tuple(outs)


def _dropout(backend, kernel, xp, x, *rest, _n_outputs=1, **attrs):
    """Dropout at inference: the identity and an all-true mask (its standard kernel runs on
    NumPy, which a trace cannot). Training mode is left to the standard kernel, which fails."""
    if kernel.since >= 12:
        training_mode = rest[1] if len(rest) > 1 else None
        if training_mode is not None and (not isinstance(training_mode, np.ndarray) or bool(training_mode)):
            return NotImplemented
        mask_dtype = np.bool_
    elif kernel.since >= 7:
        mask_dtype = np.bool_ if attrs.get("_opset", 7) >= 10 else numpy_dtype(x.dtype)
    else:
        if not attrs.get("is_test", 0) and attrs.get("ratio", 0.5) != 0:
            return NotImplemented
        mask_dtype = numpy_dtype(x.dtype)
    if _n_outputs < 2:
        return x
    return x, xp.ones(x.shape, dtype=mask_dtype)


_HANDLERS = {
    ("", "Shape"): _shape,
    ("", "Size"): _size,
    ("", "Add"): _elementwise(lambda a, b: a + b),
    ("", "Sub"): _elementwise(lambda a, b: a - b),
    ("", "Mul"): _elementwise(lambda a, b: a * b),
    ("", "Div"): _elementwise(_trunc_div),
    ("", "Mod"): _elementwise(_mod),
    ("", "Neg"): _elementwise(lambda a: -a),
    ("", "Max"): _elementwise(_max),
    ("", "Min"): _elementwise(_min),
    ("", "Equal"): _elementwise(_equal, boolean=True),
    ("", "Less"): _elementwise(lambda a, b: bool(a < b), boolean=True),
    ("", "LessOrEqual"): _elementwise(lambda a, b: bool(a <= b), boolean=True),
    ("", "Greater"): _elementwise(lambda a, b: bool(a > b), boolean=True),
    ("", "GreaterOrEqual"): _elementwise(lambda a, b: bool(a >= b), boolean=True),
    ("", "Cast"): _cast,
    ("", "Reshape"): _reshape,
    ("", "Expand"): _expand,
    ("", "ConstantOfShape"): _constant_of_shape,
    ("", "Range"): _range,
    ("", "Slice"): _slice,
    ("", "Tile"): _tile,
    ("", "Split"): _split,
    ("", "Dropout"): _dropout,
}
_HANDLERS[("", "Concat")] = _joined("*")
_HANDLERS[("", "Where")] = _joined((1, 2))
for _op in ("Identity", "Gather", "Squeeze", "Unsqueeze", "Flatten", "Transpose",
            "ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin", "Abs"):
    _HANDLERS[("", _op)] = _structural
