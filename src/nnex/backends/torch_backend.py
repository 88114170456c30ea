"""PyTorch backend: ``providers=["torch"]`` (CPU) or ``["torch:cuda"]`` (``"torch:cuda:1"``, ...).

Kernels are adapted per node as base.py describes, with the call paths kept short (they
run at every node of every run):

* a node whose inputs are all tensors calls its kernel directly; host values (plan
  constants, shape arithmetic) are moved to the device once per node and remembered;
* a node that runs on the host remembers its last result when its inputs were immutable
  (read-only NumPy arrays: plan constants, results remembered this way): shape arithmetic
  (Shape -> Gather -> Concat -> Reshape) then costs one identity check per node after the
  first run, as if it had been folded for the shapes of the feeds;
* a run is one ``torch.inference_mode()`` scope (no autograd bookkeeping), with the
  session's intra-op thread count when one was asked for (``intra_op_threads``), else
  torch's own or 1, whichever ran faster lately (``_ThreadTuner``; ``adaptive_threads``);
* on a CPU, small values stay NumPy arrays (``small_on_host``): a feed of at most 1024
  elements is not made a tensor, and a node whose inputs are all NumPy arrays runs its
  NumPy kernel (the NumPy backend's, ``numpy_kernels.FAST`` included), since a torch op
  costs 1.5-3 us of dispatch, more than NumPy's whole work on a small array.
  Values leave NumPy for torch where the work grows: a node with a host input of more
  elements than that, and some input from the feeds (writeable), moves them to torch (an
  embedding looked up by fed ids, a feed times a large weight), and so does a node that
  also takes a tensor. Shape arithmetic on read-only values stays on the host as before.
  A run after one that computed nothing on torch skips inference mode (``_SmallRun``).
* each node's call is bound once with its attributes (``nnex_bind``: no functools.partial
  in between).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time

import array_api_compat.numpy as np_xp
import ml_dtypes
import numpy as np

from .base import ArrayBackend
from .host_ops import NUMPY_KERNELS
from .namespace import make_namespace
from .numpy_kernels import fast_kernel, with_fallback

_HOST_TYPES = (np.ndarray, np.generic)

# host kernels whose result is not a function of their inputs alone: never remembered
_IMPURE = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                     "Bernoulli", "Dropout"})
# results remembered by a host node are shape-like: small (memory held per node stays small)
_MEMO_MAX_ELEMENTS = 4096
# natives that read their input's shape only and take NumPy arrays too: Shape of a small feed
# gives the same read-only array while the shape stays (torch_kernels._ShapeNode), so the
# shape arithmetic after it is still remembered
_SHAPE_ONLY = frozenset({("", "Shape")})
# on a CPU, values of at most this many elements are computed on NumPy (see the module doc):
# a torch op costs ~1.5-3 us of dispatch whatever its size, a NumPy ufunc ~0.5-1 us up to
# about this size, and the conversions between them ~0.7-0.9 us each
SMALL_ON_HOST = 1024
# ops whose native kernel does the work where the NumPy one is slow at any size (NumPy-written
# strided loops, recurrences, attention): values from the feeds go to torch for them, however small
_TORCH_WORK = NUMPY_KERNELS | frozenset(("", op) for op in ("LSTM", "GRU", "RNN", "Attention"))


def _dtype_table(torch) -> dict:
    # uint16/32/64 and the float8 types exist in torch, but most ops refuse them: they stay
    # on the host, where NumPy computes with them
    pairs = {
        np.bool_: torch.bool, np.uint8: torch.uint8, np.int8: torch.int8, np.int16: torch.int16,
        np.int32: torch.int32, np.int64: torch.int64, np.float16: torch.float16,
        ml_dtypes.bfloat16: torch.bfloat16, np.float32: torch.float32, np.float64: torch.float64,
        np.complex64: torch.complex64, np.complex128: torch.complex128,
    }
    return {np.dtype(k): v for k, v in pairs.items()}


def _frozen(x) -> bool:
    """An input nobody can change: None, a NumPy scalar, or a read-only NumPy array."""
    return x is None or (type(x) is np.ndarray and not x.flags.writeable) or isinstance(x, np.generic)


def _freeze_one(x):
    if x is None or isinstance(x, np.generic):
        return x
    if type(x) is not np.ndarray or x.size > _MEMO_MAX_ELEMENTS or x.dtype == object:
        return NotImplemented
    if x.flags.writeable:
        x = x.view()
        x.flags.writeable = False
    return x


def _freeze(out):
    """``out`` as read-only arrays (what a host node may hand out at every run), or NotImplemented."""
    if type(out) is tuple:
        outs = tuple(_freeze_one(o) for o in out)
        return NotImplemented if any(o is NotImplemented for o in outs) else outs
    return _freeze_one(out)


def _numpy_kernel(kernel):
    """``kernel`` as the NumPy backend runs it, ``(xp, *inputs, **attrs)``: NumPy's own version
    where there is one, else the standard kernel."""
    fast = fast_kernel(kernel)
    return kernel.fn if fast is None else with_fallback(fast, kernel.fn)


def _from_feeds(inputs, host_positions=frozenset()) -> bool:
    """Some NumPy input (outside ``host_positions``) is writeable: it comes from the feeds
    (plan constants and remembered results are read-only)."""
    for i, x in enumerate(inputs):
        if type(x) is np.ndarray and i not in host_positions and x.flags.writeable:
            return True
    return False


def _cuda_matmul(torch, matmul):
    """CUDA has no integer GEMM (MatMulInteger, QLinearMatMul): int32 and narrower operands go
    through float64, exact for the sums of products that quantized models accumulate (below
    2**53); int64 operands through the CPU, exact for any value."""
    narrow = (torch.int8, torch.uint8, torch.int16, torch.int32)

    def cuda_matmul(a, b):
        if a.is_floating_point() or a.is_complex():
            return matmul(a, b)
        if a.dtype in narrow and b.dtype in narrow:
            y = matmul(a.to(torch.float64), b.to(torch.float64))
            return y.to(torch.int64).to(torch.promote_types(a.dtype, b.dtype))
        return matmul(a.cpu(), b.cpu()).to(a.device)

    return cuda_matmul


class _ThreadTuner:
    """Picks a run's intra-op thread count, torch's own (n) or 1, when the machine is contended.

    torch's OpenMP loops split their work statically: every parallel region waits for its
    slowest thread, so when other processes keep the cores busy each region waits for a
    descheduled worker's time slice, and a run on 2 threads can take several times as long
    as on 1 (measured: MobileNetV2 345 ms vs 71 ms at load 8 on 2 cores, where
    onnxruntime's work-stealing pool degrades gracefully). On a quiet machine n threads win.

    Contention shows in the CPU time a run on n threads gets: ``process CPU / (wall * n)``
    is about 1 when its threads have the cores (OpenMP workers spin between regions) and
    falls as they wait for them. While that share stays above ``CONTENDED``, runs use n
    threads and nothing else is tried. Below it, 1 thread is timed too (its first run,
    which builds oneDNN's kernels for one thread, is not counted), the faster count is
    used, and the other is tried again after every ``interval`` runs, an interval that
    doubles (up to 64) while the choice keeps winning clearly. The first run of a session
    prepares its kernels and is not counted. A session whose runs take under ``SHORT_S``
    (tiny models: too little work for parallel regions, and the timing costs a few
    microseconds a run) stops tuning (``idle``).
    """

    SHORT_S = 1e-3
    CONTENDED = 0.75

    __slots__ = ("runs", "ema", "seen", "share", "interval", "next_probe", "idle")

    def __init__(self):
        self.runs = 0
        self.ema: dict[int, float] = {}  # thread count -> smoothed run time (s)
        self.seen: dict[int, int] = {}  # thread count -> runs
        self.share = None  # smoothed CPU share of the runs on n threads
        self.interval = 16
        self.next_probe = 0
        self.idle = False

    @property
    def contended(self) -> bool:
        return self.share is not None and self.share < self.CONTENDED

    def choose(self, n: int) -> int:
        self.runs += 1
        if self.runs == 1 or (n not in self.ema and 1 not in self.ema):
            return n
        if self.seen.get(1, 0) < 2:
            return 1 if self.contended else n
        if n not in self.ema:
            return n
        best = 1 if self.ema[1] < self.ema[n] and self.contended else n
        if self.runs >= self.next_probe:
            return 1 if best == n and self.contended else n
        return best

    def record(self, n: int, threads: int, seconds: float, cpu_seconds: float) -> None:
        if self.runs == 1:
            return  # the first run prepares (weights reordered, shapes remembered)
        seen = self.seen[threads] = self.seen.get(threads, 0) + 1
        if threads == n and n > 1:
            share = cpu_seconds / (seconds * n)
            self.share = share if self.share is None else 0.5 * (self.share + share)
            if seen == 1 and seconds < self.SHORT_S:
                self.idle = True
        if threads == 1 and seen == 1:
            return  # the first run on one thread builds oneDNN's kernels for it
        old = self.ema.get(threads)
        self.ema[threads] = seconds if old is None else 0.5 * (old + seconds)
        if self.next_probe and self.runs < self.next_probe:
            return
        if len(self.ema) == 2 and n in self.ema:
            clear = max(self.ema[1], self.ema[n]) > 1.3 * min(self.ema[1], self.ema[n])
            self.interval = min(2 * self.interval, 64) if clear else 16
            self.next_probe = self.runs + self.interval


class _Run:
    """One run: inference mode (no autograd bookkeeping), and the run counted, so that the
    backend knows that what ``asarray`` is given meanwhile is a feed (see TorchBackend.asarray)."""

    __slots__ = ("_backend", "_guard")

    def __init__(self, backend):
        self._backend = backend

    def __enter__(self):
        self._guard = self._backend._torch._C._InferenceMode(True)
        self._guard.__enter__()
        self._backend._runs += 1
        return self

    def __exit__(self, exc_type, exc, tb):
        self._backend._runs -= 1
        self._guard.__exit__(exc_type, exc, tb)
        return False


class _RunScope(_Run):
    """One run (as _Run) on the session's thread count, or the tuner's choice (torch's global
    setting restored after the run)."""

    __slots__ = ("_threads", "_tuner", "_previous", "_n", "_start", "_cpu")

    def __init__(self, backend, threads: int = 0, tuner: _ThreadTuner | None = None):
        super().__init__(backend)
        self._threads = threads
        self._tuner = tuner

    def __enter__(self):
        super().__enter__()
        torch = self._backend._torch
        self._previous = None
        current = self._n = torch.get_num_threads()
        threads = self._threads or (self._tuner.choose(current) if self._tuner is not None else current)
        if threads != current:
            self._previous = current
            torch.set_num_threads(threads)
        self._threads = threads
        self._cpu = time.process_time()
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._tuner is not None and exc_type is None:
            wall = time.perf_counter() - self._start
            self._tuner.record(self._n, self._threads, wall, time.process_time() - self._cpu)
        if self._previous is not None:
            self._backend._torch.set_num_threads(self._previous)
        return super().__exit__(exc_type, exc, tb)


class _HostRun:
    """A run of a plan with no kernel on torch (ai.onnx.ml models): its feeds stay NumPy arrays,
    which the host kernels take as they are (no torch.from_numpy and back at every run). No
    state of its own: one instance serves every run."""

    __slots__ = ("_backend",)

    def __init__(self, backend):
        self._backend = backend

    def __enter__(self):
        self._backend._host_runs += 1
        return self

    def __exit__(self, *exc):
        self._backend._host_runs -= 1
        return False


class _SmallRun:
    """A run (counted as _Run) after one that computed nothing on torch (all its values small):
    no inference mode, whose guard costs ~1 us, a tenth of such a run. A run that does compute
    on torch marks it (``TorchBackend._touched``), and the next run is a _Run again; inference
    mode only saves torch's bookkeeping, so a run without it computes the same values. One
    instance serves every run."""

    __slots__ = ("_backend",)

    def __init__(self, backend):
        self._backend = backend

    def __enter__(self):
        self._backend._runs += 1
        return self

    def __exit__(self, *exc):
        self._backend._runs -= 1
        return False


class TorchBackend(ArrayBackend):
    name = "torch"

    def __init__(self, device: str = "cpu"):
        super().__init__()
        import array_api_compat.torch as compat
        import torch

        self._torch = torch
        self._Tensor = torch.Tensor
        self.device = device
        self._device = torch.device(device)
        if self._device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"torch:{device}: this PyTorch has no CUDA device available")
        self._on_cpu = self._device.type == "cpu"
        self._dtypes = _dtype_table(torch)
        self.xp = make_namespace(f"nnex.torch.{device}", compat, self._dtypes,
                                 None if self._on_cpu else self._device)
        if not self._on_cpu:
            self.xp.matmul = _cuda_matmul(torch, compat.matmul)
        # intra-op threads for the runs of this backend's session (0: torch's global setting, or
        # 1 where that ran faster lately, with adaptive_threads: see _ThreadTuner)
        self.intra_op_threads = 0
        # set by a kernel that ran its own threads on the host (the LSTM's two directions:
        # torch_kernels._host_lstm): the next run keeps torch on one thread, as the NumPy
        # backend keeps BLAS (lstm_tagger: 6.4 ms against 7.1); a run without such a kernel (a
        # larger batch, on torch's LSTM) has the run after it on torch's threads again
        self.host_threads_busy = False
        self.adaptive_threads = True
        self._tuner = _ThreadTuner()
        self._device_kernels = 0  # kernels adapted to run on torch (see run_context)
        self._host_runs = 0  # runs in progress of a plan without them (see _HostRun)
        self._runs = 0  # other runs in progress (see _Run)
        self._touched = [True]  # whether a tensor was computed with since the last _Run began
        self._host_run, self._small_run = _HostRun(self), _SmallRun(self)
        # on a CPU, feeds of at most this many elements stay NumPy arrays, and so do the values
        # computed from them up to that size (see the module doc); 0: every feed becomes a
        # tensor. Nodes read it when the plan is built, feeds at every run. Not on a GPU, where
        # every value of a supported dtype is a device tensor.
        self.small_on_host = SMALL_ON_HOST if self._on_cpu else 0
        self._small_dtypes = frozenset(d for d, t in self._dtypes.items() if t is not torch.bfloat16)
        from . import torch_kernels

        torch_kernels.register(self)

    # ------------------------------------------------------------------ arrays
    def holds(self, dtype) -> bool:
        return dtype in self._dtypes

    def asarray(self, x, *, strict: bool = False):
        if type(x) is np.ndarray:
            if self._host_runs:
                return x  # a feed of a run on the host only (see _HostRun)
            small = self.small_on_host
            if (self._runs and small and x.size <= small and self._on_cpu and x.dtype in self._small_dtypes
                    and x.flags.writeable):
                return x  # a small feed: NumPy computes with it (see the module doc)
        return self._device_array(x, strict)

    def _device_array(self, x, strict: bool = False):
        """``x`` as a tensor on this backend's device (a NumPy array where torch has no type for
        its dtype, or a sequence of them)."""
        torch = self._torch
        if type(x) is np.ndarray and self._on_cpu and x.flags.writeable:
            tdtype = self._dtypes.get(x.dtype)  # byte-swapped dtypes are not in the table
            if tdtype is not None and tdtype is not torch.bfloat16:
                try:
                    return torch.from_numpy(x)  # shares the memory
                except ValueError:
                    pass  # negative strides: copied below
        if isinstance(x, torch.Tensor):
            return x if x.device == self._device else x.to(self._device)
        if not isinstance(x, np.ndarray):
            if x is None or isinstance(x, (list, tuple, dict)):
                return self.structured(x, strict)
            x = np.asarray(x)
        tdtype = self._dtypes.get(x.dtype)
        if tdtype is None:
            if strict:
                raise self._unsupported(x.dtype)
            return x
        if not x.flags.writeable or any(s < 0 for s in x.strides) or not x.dtype.isnative:
            # torch shares NumPy's memory; it needs a writeable, native-endian, forward layout
            x = np.array(x, dtype=x.dtype.newbyteorder("="), order="C")
        if tdtype is torch.bfloat16:
            t = torch.from_numpy(x.view(np.int16)).view(torch.bfloat16)
        else:
            t = torch.from_numpy(x)
        return t if self._on_cpu else t.to(self._device)

    def to_numpy(self, x) -> np.ndarray:
        torch = self._torch
        if type(x) is torch.Tensor and self._on_cpu:
            try:
                return x.numpy()
            except (RuntimeError, TypeError):
                pass  # bfloat16, a tensor that requires grad, a conjugate view: below
        if isinstance(x, np.ndarray):
            return x
        if not isinstance(x, torch.Tensor):
            return np.asarray(x)
        if x.requires_grad:
            x = x.detach()
        if not self._on_cpu:
            x = x.cpu()
        if x.is_conj():
            x = x.resolve_conj()
        if x.dtype is torch.bfloat16:
            return x.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        return x.numpy()

    def run_context(self):
        busy, self.host_threads_busy = self.host_threads_busy, False
        if self.intra_op_threads or busy:
            return _RunScope(self, self.intra_op_threads or 1)
        if not self._device_kernels:
            return self._host_run  # a plan of host kernels only (ai.onnx.ml models): nothing runs on torch
        touched = self._touched
        if not touched[0]:
            return self._small_run
        touched[0] = False
        if self.adaptive_threads and not self._tuner.idle and self._torch.get_num_threads() > 1:
            return _RunScope(self, tuner=self._tuner)
        return _Run(self)

    def ran_on_host(self) -> bool:
        # a plan with no kernel on torch, or a last run (not on a set thread count, whose runs are
        # _RunScopes) that computed nothing on torch: see _touched
        return self.small_on_host > 0 and not self.intra_op_threads and (
            not self._device_kernels or not self._touched[0])

    # ------------------------------------------------------------------ kernels
    def wrap_kernel(self, kernel):
        key = (kernel.domain, kernel.op_type)
        native = self.natives.get(key, {}).get(kernel.since)
        if native is not None and getattr(native, "nnex_per_node", False):
            native = native()  # this node's own instance (its caches are this node's)
        if self.on_host(kernel):
            fn = self._host_call(kernel)
        elif native is None:
            self._device_kernels += 1
            fn = self._device_call(kernel, kernel.fn, None)
        else:
            # a case the native kernel does not cover runs the standard one (on NumPy
            # when that one is written with NumPy)
            self._device_kernels += 1
            fn = self._device_call(kernel, native, None if key in NUMPY_KERNELS else kernel.fn,
                                   shape_only=key in _SHAPE_ONLY, torch_work=key in _TORCH_WORK)
        fn.__name__ = getattr(kernel.fn, "__name__", kernel.op_type)
        return dataclasses.replace(kernel, fn=fn)

    # The adapters below run at every call of a node: keep them lean. Each is a kernel
    # ``(xp, *inputs, **attrs)`` whose ``nnex_bind(xp, attrs)`` makes the node's call
    # ``(*inputs)`` with its attributes bound, which the planner uses.

    def _host_value(self):
        """``x -> x`` as NumPy (tensors through ``.numpy()`` where that shares memory)."""
        Tensor, to_host, on_cpu = self._Tensor, self.to_host, self._on_cpu

        def host(x):
            if type(x) is Tensor and on_cpu:
                try:
                    return x.numpy()
                except (RuntimeError, TypeError):
                    pass
            if x is None or type(x) is np.ndarray:
                return x
            return to_host(x)

        return host

    def _host_call(self, kernel):
        """The kernel on NumPy, called as ``(xp, *inputs, **attrs)``; see ``_on_host``."""
        direct = self._on_host(kernel)
        memo, numpy_fn = direct.memo, _numpy_kernel(kernel)
        host = self._host_value()
        ndarray = np.ndarray

        def host_kernel(xp, *inputs, **attrs):
            return direct(xp, [x if type(x) is ndarray else host(x) for x in inputs], attrs)

        prepare = getattr(kernel.fn, "nnex_prepare", None)

        def bind(xp, attrs):
            run = None
            if prepare is not None:
                # a kernel that derives its tables from the attributes once (ops/ml/_common.per_node)
                try:
                    run = prepare(attrs)
                except Exception:  # noqa: BLE001 - bad attributes: the node reports it when it runs
                    run = None
            if run is not None:
                run_np = functools.partial(run, np_xp)

                def host_run(*inputs):
                    if len(inputs) == 1:  # most of them: a call without unpacking (see _device_call)
                        x = inputs[0]
                        return run_np(x if type(x) is ndarray else host(x))
                    return run_np(*[x if type(x) is ndarray else host(x) for x in inputs])

                return host_run

            numpy_call = functools.partial(numpy_fn, np_xp, **attrs)

            def host_node(*inputs):
                if len(inputs) == 1:
                    x = inputs[0]
                    if type(x) is ndarray and memo[1] is False:
                        return numpy_call(x)  # never remembers: no need to ask
                elif len(inputs) == 2:
                    x, y = inputs
                    if type(x) is ndarray and type(y) is ndarray and memo[1] is False:
                        return numpy_call(x, y)
                for x in inputs:
                    if type(x) is not ndarray:
                        return direct(np_xp, [x if type(x) is ndarray else host(x) for x in inputs], attrs)
                if memo[1] is False:
                    return numpy_call(*inputs)
                return direct(np_xp, inputs, attrs)

            return host_node

        host_kernel.nnex_bind = bind
        return host_kernel

    @staticmethod
    def _on_host(kernel):
        """The kernel on NumPy (as the NumPy backend runs it), called as ``(xp, host_inputs,
        attrs)``. Its last result is remembered where the inputs were immutable and the result
        is small (see the module doc); a node that had mutable inputs at its first run is
        never remembered (its inputs depend on the feeds' values), so it pays nothing for it:
        callers may read ``.memo[1] is False`` and call the kernel themselves."""
        fn = _numpy_kernel(kernel)
        if kernel.op_type in _IMPURE:

            def plain(xp, inputs, attrs):
                return fn(np_xp, *inputs, **attrs)

            plain.memo = [None, False]
            return plain

        # memo[0]: (inputs, result) of the last run whose inputs were immutable, or None;
        # memo[1]: whether the node may remember (None until its first run)
        memo = [None, None]

        def remembering(xp, inputs, attrs):
            if memo[1] is False:
                return fn(np_xp, *inputs, **attrs)
            last = memo[0]  # one read: another thread may replace it meanwhile
            if last is not None:
                seen = last[0]
                if len(seen) == len(inputs):
                    for a, b in zip(inputs, seen):
                        if a is not b:
                            break
                    else:
                        return last[1]
            out = fn(np_xp, *inputs, **attrs)
            may = memo[1]
            if may is False:
                return out
            frozen_inputs = all(_frozen(x) for x in inputs)
            if may is None:
                # subgraph attributes (bound to each run's values) rule remembering out
                may = memo[1] = frozen_inputs and not any(
                    callable(v) or (type(v) is list and v and callable(v[0])) for v in attrs.values())
            if may and frozen_inputs:
                frozen = _freeze(out)
                if frozen is not NotImplemented:
                    memo[0] = (tuple(inputs), frozen)
                    return frozen
            return out

        remembering.memo = memo
        return remembering

    def _device_call(self, kernel, fn, fallback, *, shape_only: bool = False, torch_work: bool = False):
        """``fn`` (the kernel or its native replacement) on tensors, then ``fallback`` where ``fn``
        returns NotImplemented; the kernel on NumPy when the inputs are host values (small or
        read-only ones, see the module doc) or neither covers the case. ``shape_only``: ``fn``
        reads its input's shape only, and takes NumPy arrays as well (Shape); ``torch_work``: values
        from the feeds go to torch whatever their size (see _TORCH_WORK)."""
        bxp = self.xp
        Tensor, ndarray = self._Tensor, np.ndarray
        host_positions = frozenset(kernel.host_inputs)
        run_on_host = self._host_call(kernel)
        if shape_only:

            def on_host(xp, inputs, attrs):
                return fn(bxp, *inputs, **attrs)

            memo = [None, None]
        else:
            on_host = self._on_host(kernel)
            memo = on_host.memo
        # a host node that never remembers (its inputs come from the feeds) calls these itself:
        # NumPy's own kernel (NotImplemented for what it does not cover), else the standard one
        standard = kernel.fn
        numpy_fn = fast_kernel(kernel) or functools.partial(standard, np_xp)
        dtypes, device_array, to_numpy = self._dtypes, self._device_array, self.to_numpy
        # a node whose host inputs (at the positions that take tensors) include one of more
        # elements than this, some of them from the feeds, moves them to torch (see the module doc)
        limit = self.small_on_host if self._on_cpu and self.small_on_host > 0 else sys.maxsize
        if torch_work and limit != sys.maxsize:
            limit = 0
        touched = self._touched  # set where tensors are computed with (see _SmallRun)

        moved: dict[int, tuple] = {}  # position -> (host value, its device copy) of the last run
        hosted: dict[int, tuple] = {}  # host position -> (tensor, its NumPy copy) of the last run

        def uncovered(args, attrs):
            """What ``fn`` returned NotImplemented for: ``fallback``, then the kernel on NumPy."""
            out = NotImplemented
            if fallback is not None:
                out = fallback(bxp, *args, **attrs)
            if out is NotImplemented:
                return run_on_host(bxp, *args, **attrs)
            return out

        def placed_call(inputs, attrs, to_device=False):
            """Host values moved to the device (each once: a Constant's value is the same object
            every run), host positions made host values; on NumPy when no input is a tensor
            (unless ``to_device``) or one host value has a dtype the device lacks."""
            args = list(inputs)
            n_device = 0
            to_move = []
            for i, x in enumerate(inputs):
                if x is None:
                    continue
                if i in host_positions:
                    if isinstance(x, Tensor):
                        seen = hosted.get(i)
                        if seen is None or seen[0] is not x:
                            seen = hosted[i] = (x, to_numpy(x))
                        args[i] = seen[1]
                elif isinstance(x, Tensor):
                    n_device += 1
                elif isinstance(x, _HOST_TYPES):
                    if x.dtype not in dtypes:
                        return run_on_host(bxp, *args, **attrs)
                    to_move.append(i)
            if not n_device and not (to_device and to_move):
                # only host values (or none at all): the result is a host value too
                return run_on_host(bxp, *args, **attrs)
            for i in to_move:
                x = args[i]
                seen = moved.get(i)
                if seen is None or seen[0] is not x:
                    d = device_array(np.asarray(x))
                    if _frozen(x):
                        # a copy of a value nobody can change: native kernels may prepare it once
                        # (torch_kernels._immutable)
                        d.nnex_constant = True
                    seen = moved[i] = (x, d)
                args[i] = seen[1]
            touched[0] = True
            out = fn(bxp, *args, **attrs)
            return uncovered(args, attrs) if out is NotImplemented else out

        def mixed(xp, inputs, attrs):
            """A node (without host positions) whose inputs are neither all small host arrays nor
            all tensors: host arrays, some large (to torch when some come from the feeds), or
            host arrays, tensors and missing inputs together."""
            for x in inputs:
                if type(x) is not ndarray:
                    return placed_call(inputs, attrs)
            if not _from_feeds(inputs):
                return on_host(xp, inputs, attrs)  # read-only values: shape arithmetic on the host
            return placed_call(inputs, attrs, True)

        if not host_positions:

            def bind(xp, attrs):
                numpy_call = functools.partial(numpy_fn, **attrs) if attrs else numpy_fn
                device_call = functools.partial(fn, bxp, **attrs)

                def device_node(*inputs):
                    # one and two inputs (most nodes) are written out: a call that unpacks its
                    # arguments, f(*inputs), costs ~0.2 us more than f(x, y) when f is Python
                    n = len(inputs)
                    if n == 1:
                        x = inputs[0]
                        t = type(x)
                        if t is ndarray and x.size <= limit:
                            if memo[1] is False:
                                out = numpy_call(x)
                                return standard(np_xp, x, **attrs) if out is NotImplemented else out
                            return on_host(xp, inputs, attrs)
                        if t is Tensor:
                            touched[0] = True
                            out = device_call(x)
                            return uncovered(inputs, attrs) if out is NotImplemented else out
                        return mixed(xp, inputs, attrs)
                    if n == 2:
                        x, y = inputs
                        t, u = type(x), type(y)
                        if t is ndarray and u is ndarray and x.size <= limit and y.size <= limit:
                            if memo[1] is False:
                                out = numpy_call(x, y)
                                return standard(np_xp, x, y, **attrs) if out is NotImplemented else out
                            return on_host(xp, inputs, attrs)
                        if t is Tensor and u is Tensor:
                            touched[0] = True
                            out = device_call(x, y)
                            return uncovered(inputs, attrs) if out is NotImplemented else out
                        return mixed(xp, inputs, attrs)
                    # the common cases first: small host arrays (small values, shape arithmetic),
                    # then tensors
                    for x in inputs:
                        if type(x) is not ndarray or x.size > limit:
                            break
                    else:
                        if memo[1] is False:
                            out = numpy_call(*inputs)
                            return standard(np_xp, *inputs, **attrs) if out is NotImplemented else out
                        return on_host(xp, inputs, attrs)
                    for x in inputs:
                        if type(x) is not Tensor:
                            return mixed(xp, inputs, attrs)
                    touched[0] = True
                    out = device_call(*inputs)
                    return uncovered(inputs, attrs) if out is NotImplemented else out

                return device_node

        else:

            def bind(xp, attrs):
                numpy_call = functools.partial(numpy_fn, **attrs) if attrs else numpy_fn

                def device_node(*inputs):
                    # the common cases: tensors where tensors go and host arrays at host positions,
                    # or host arrays everywhere (shape arithmetic, small values)
                    device = host = large = False
                    for i, x in enumerate(inputs):
                        if x is None:
                            continue
                        t = type(x)
                        if t is ndarray:
                            if i not in host_positions:
                                host = True
                                large = large or x.size > limit
                        elif t is Tensor and i not in host_positions:
                            device = True
                        else:
                            return placed_call(inputs, attrs)
                    if device:
                        if host:
                            return placed_call(inputs, attrs)
                        touched[0] = True
                        out = fn(bxp, *inputs, **attrs)
                        return uncovered(inputs, attrs) if out is NotImplemented else out
                    if not large or not _from_feeds(inputs, host_positions):
                        if memo[1] is False:
                            out = numpy_call(*inputs)
                            return standard(np_xp, *inputs, **attrs) if out is NotImplemented else out
                        return on_host(xp, inputs, attrs)
                    return placed_call(inputs, attrs, True)

                return device_node

        def device_kernel(xp, *inputs, **attrs):
            return bind(xp, attrs)(*inputs)

        device_kernel.nnex_bind = bind
        return device_kernel
