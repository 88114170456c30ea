"""What an array backend provides to the runtime, and how kernels are adapted to it.

The op library is written once against the array API, but a few things cannot live on
every array library, so a non-NumPy backend adapts each kernel when the plan is built
(``kernel_override``, called by the planner for every node):

* ``host_inputs`` (shapes, axes, pads) reach the kernel as NumPy arrays;
* "host values" stay NumPy: what Shape/Size/Constant produce, what a host-only kernel
  produces, and tensors of a dtype the library has no type for (strings, int4, ...).
  A kernel whose inputs are all host values (or that has none but host inputs, as
  ConstantOfShape) runs on NumPy, so shape arithmetic never leaves the host and jit
  tracing sees it as constants; a kernel that mixes host values with device arrays gets
  them moved to the device, unless one of them cannot be (then the node runs on NumPy);
* kernels listed in host_ops.py (NumPy by nature: strings, ai.onnx.ml, random, ...)
  run on NumPy with every input moved to the host;
* ``natives`` replace a standard kernel with the library's own (Conv via
  torch.nn.functional, ...). A native kernel returns ``NotImplemented`` for a case it
  does not cover, and the standard kernel runs instead;
* a kernel that returns ``NotImplemented`` on a backend (a dtype the library lacks) is
  run again on NumPy.

The NumPy backend adapts nothing: its kernels are the registry's, called directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import array_api_compat.numpy as np_xp
import numpy as np

from ..ops.registry import OpKernel, lookup
from .host_ops import NUMPY_KERNELS, runs_on_host

_HOST_TYPES = (np.ndarray, np.generic)


class UnsupportedDtypeError(TypeError):
    """A dtype the backend's array library has no type for."""


class ArrayBackend:
    """An array library the runtime can run ops on.

    ``xp`` is bound into every kernel at plan time (the array API namespace of the
    library). Subclasses define ``asarray``/``to_numpy``/``holds`` and fill ``natives``.
    """

    name = "base"
    device = "cpu"
    xp: Any = None

    def __init__(self):
        # (domain, op_type) -> {standard kernel's since: native fn(xp, *inputs, **attrs)}
        self.natives: dict[tuple[str, str], dict[int, Callable]] = {}

    # ------------------------------------------------------------------ arrays
    def asarray(self, x, *, strict: bool = False):
        """A host (NumPy) array as this backend's array.

        A dtype the library has no type for stays a NumPy array (a host value, which
        kernels then process on NumPy), or raises ``UnsupportedDtypeError`` with ``strict``.
        """
        return x

    def to_numpy(self, x) -> np.ndarray:
        return np.asarray(x)

    def structured(self, x, strict: bool = False):
        """A sequence (list), optional (None) or map (dict) feed: its tensors as backend arrays."""
        if isinstance(x, (list, tuple)):
            return [self.asarray(v, strict=strict) for v in x]
        return x

    def holds(self, dtype) -> bool:
        """True when arrays of NumPy ``dtype`` can live on this backend."""
        return True

    def _unsupported(self, dtype) -> UnsupportedDtypeError:
        return UnsupportedDtypeError(
            f"the {self.name} backend has no array type for dtype {np.dtype(dtype).name}")

    def run_context(self):
        """A context manager the runtime enters around one whole run (feeds, plan, fetches)."""
        return contextlib.nullcontext()

    # feeds of at most this many elements may stay NumPy arrays (see ran_on_host)
    small_on_host = 0

    def ran_on_host(self) -> bool:
        """Whether this backend's last run of a session computed nothing with its own arrays: every
        value stayed a NumPy array of at most ``small_on_host`` elements, computed by NumPy kernels.
        The session then runs feeds of such arrays on a NumPy-backend plan of the same graph
        (session.py), which computes the same values with less per-node work. A backend that
        never runs so keeps this default."""
        return False

    # ------------------------------------------------------------------ kernels
    def native(self, op_type: str, versions, fn: Callable, domain: str = "") -> None:
        """Use ``fn`` instead of the standard kernels registered under ``versions``."""
        per_version = self.natives.setdefault((domain, op_type), {})
        for v in (versions,) if isinstance(versions, int) else versions:
            per_version[v] = fn

    def kernel_override(self, domain: str, op_type: str, opset: int) -> OpKernel | None:
        """The kernel the planner binds for one node: the standard one, adapted (see module doc).

        The planner asks once per node; each node gets its own adapted kernel, whose caches
        (constants moved to the device, compiled code) are then that node's.
        """
        kernel = lookup(domain, op_type, opset)
        return None if kernel is None else self.wrap_kernel(kernel)

    def constant(self, x: np.ndarray):
        """A plan constant (initializer) as the runtime keeps it.

        NumPy on every backend: constants are host values, so shape arithmetic on them
        stays on the host (static under jit); a device kernel moves the ones it reads
        once, at its first run, and keeps its copy.
        """
        return x if isinstance(x, np.ndarray) else np.asarray(x)

    def _compiled(self, kernel: OpKernel, fn: Callable) -> Callable:
        """``fn`` (called with device arrays) as this backend runs it: compiled by a jit backend."""
        return fn

    def on_host(self, kernel: OpKernel) -> bool:
        """True when ``kernel`` always runs on NumPy on this backend."""
        key = (kernel.domain, kernel.op_type)
        return runs_on_host(*key) or (key in NUMPY_KERNELS and kernel.since not in self.natives.get(key, {}))

    def wrap_kernel(self, kernel: OpKernel) -> OpKernel:
        """``kernel`` adapted to this backend (the same kernel on NumPy)."""
        key = (kernel.domain, kernel.op_type)
        native = self.natives.get(key, {}).get(kernel.since)
        numpy_bound = key in NUMPY_KERNELS
        if self.on_host(kernel):
            fn = self._host_call(kernel.fn)
        elif native is None:
            fn = self._device_call(kernel, kernel.fn, None)
        else:
            # a case the native kernel does not cover runs the standard one (on NumPy
            # when that one is written with NumPy)
            fn = self._device_call(kernel, native, None if numpy_bound else kernel.fn)
        fn.__name__ = getattr(kernel.fn, "__name__", kernel.op_type)
        return dataclasses.replace(kernel, fn=fn)

    # The adapters below run at every call of a node: keep them lean.

    def to_host(self, x):
        """``x`` as NumPy, through sequences (lists) and optionals (None)."""
        if x is None or isinstance(x, (_HOST_TYPES, dict, str, bytes)):
            return x
        if isinstance(x, (list, tuple)):
            return type(x)(self.to_host(v) for v in x)
        if callable(x):
            return x
        return self.to_numpy(x)

    def _host_call(self, fn: Callable) -> Callable:
        to_host = self.to_host

        def host_kernel(xp, *inputs, **attrs):
            return fn(np_xp, *[to_host(x) for x in inputs], **attrs)

        return host_kernel

    def _device_call(self, kernel: OpKernel, fn: Callable, fallback: Callable | None) -> Callable:
        """``fn`` (the kernel or its native replacement) on device arrays, then ``fallback``
        where ``fn`` returns NotImplemented; the standard kernel on NumPy when the inputs are
        host values (see ``place``) or neither covers the case."""
        bxp = self.xp
        host_positions = frozenset(kernel.host_inputs)
        run_on_host = self._host_call(kernel.fn)
        fn = self._compiled(kernel, fn)
        if fallback is not None:
            fallback = self._compiled(kernel, fallback)
        holds, asarray, to_numpy = self.holds, self.asarray, self.to_numpy

        moved: dict[int, tuple] = {}  # position -> (host value, its device copy) of the last run

        def to_device(i, x):
            # a host value that is the same object every run (a Constant node's value) is
            # moved once, not at every run
            seen = moved.get(i)
            if seen is not None and seen[0] is x:
                return seen[1]
            d = asarray(np.asarray(x))
            moved[i] = (x, d)
            return d

        def place(inputs):
            """Device inputs as they are; host values moved to the device, or None when the
            node must run on NumPy (all inputs on the host, or one the device cannot hold)."""
            n_host = n_device = 0
            for i, x in enumerate(inputs):
                if i in host_positions or x is None:
                    continue
                if isinstance(x, _HOST_TYPES):
                    if not holds(x.dtype):
                        return None
                    n_host += 1
                elif not isinstance(x, (list, tuple)):
                    n_device += 1
            if not n_device:
                return None  # only host values (or none at all): the result is a host value too
            if not n_host:
                return inputs
            return [x if i in host_positions or not isinstance(x, _HOST_TYPES) else to_device(i, x)
                    for i, x in enumerate(inputs)]

        if host_positions:
            # Host inputs are usually plan constants: the same object every run, so the
            # last conversion per position is remembered (keyed by identity).
            last: dict[int, tuple] = {}

            def host_value(i, x):
                if x is None or isinstance(x, _HOST_TYPES):
                    return x
                seen = last.get(i)
                if seen is not None and seen[0] is x:
                    return seen[1]
                h = to_numpy(x)
                last[i] = (x, h)
                return h

            def device_kernel(xp, *inputs, **attrs):
                inputs = [host_value(i, x) if i in host_positions else x for i, x in enumerate(inputs)]
                placed = place(inputs)
                if placed is not None:
                    out = fn(bxp, *placed, **attrs)
                    if out is NotImplemented and fallback is not None:
                        out = fallback(bxp, *placed, **attrs)
                    if out is not NotImplemented:
                        return out
                return run_on_host(xp, *inputs, **attrs)
        else:

            def device_kernel(xp, *inputs, **attrs):
                for x in inputs:
                    if isinstance(x, _HOST_TYPES) or x is None:
                        placed = place(inputs)
                        break
                else:
                    placed = inputs if inputs else None
                if placed is not None:
                    out = fn(bxp, *placed, **attrs)
                    if out is NotImplemented and fallback is not None:
                        out = fallback(bxp, *placed, **attrs)
                    if out is not NotImplemented:
                        return out
                return run_on_host(xp, *inputs, **attrs)

        return device_kernel

    def __repr__(self) -> str:
        return f"<nnex backend {self.name}:{self.device}>"
