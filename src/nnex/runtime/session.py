"""InferenceSession: onnxruntime's Python API on nnex's runtime."""

from __future__ import annotations

import enum
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnx.numpy_helper

from ..backends import get_backend
from ..backends.base import ArrayBackend
from ..ir.io import load
from ..ir.model import Model
from ..ir.tensor import np_dtype_of
from ..ir.types import shape_of, type_string
from ..ir.value import Value
from .errors import InvalidInputError, InvalidModelError
from .planner import Planner, execute


class GraphOptimizationLevel(enum.IntEnum):
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


class SessionOptions:
    """The options onnxruntime users set; nnex reads the ones that mean something here."""

    def __init__(self):
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.log_severity_level = 2
        self.optimized_model_filepath = ""
        self.enable_profiling = False
        # onnxruntime's name: on the CPU, freed activations are kept for the next run (memory_arena.py)
        self.enable_cpu_mem_arena = True


class NodeArg:
    """onnxruntime's NodeArg: name, shape (ints, strings for symbolic dims, None), type string."""

    def __init__(self, name: str, type_proto):
        self.name = name
        self.type = type_string(type_proto)
        shape = shape_of(type_proto) if type_proto is not None else None
        self.shape = [] if shape is None else shape  # onnxruntime reports an unknown rank as []

    def __repr__(self) -> str:
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


@dataclass
class ModelMetadata:
    producer_name: str = ""
    graph_name: str = ""
    domain: str = ""
    description: str = ""
    graph_description: str = ""
    version: int = 0
    custom_metadata_map: dict = field(default_factory=dict)


class _InputSpec:
    """What a feed must be: checked before anything runs."""

    __slots__ = ("name", "slot", "kind", "dtype", "shape", "optional_default", "_plain", "_rank", "_dims")

    def __init__(self, v: Value, slot: int):
        self.name = v.name
        self.slot = slot
        tp = v.type
        self.kind = tp.WhichOneof("value") if tp is not None else None
        self.dtype = None
        self.shape = None
        if self.kind == "tensor_type" and tp.tensor_type.elem_type:
            self.dtype = np_dtype_of(tp.tensor_type.elem_type)
            self.shape = shape_of(tp)
        elif self.kind == "map_type" and tp.map_type.value_type.tensor_type.elem_type:
            self.dtype = np_dtype_of(tp.map_type.value_type.tensor_type.elem_type)  # of the map's values
        self.optional_default = v.const is not None
        # the common feed, an ndarray of the declared tensor type, is checked by quick()
        self._plain = self.kind == "tensor_type" and self.dtype is not None and self.dtype != object
        self._rank = None if self.shape is None else len(self.shape)
        self._dims = () if self.shape is None else tuple(
            (i, d) for i, d in enumerate(self.shape) if isinstance(d, int))

    def quick(self, x):
        """``check(x)``, with a short path for an ndarray of the declared type and shape."""
        if self._plain and type(x) is np.ndarray and x.dtype == self.dtype:
            shape = x.shape
            if self._rank is None:
                return x
            if len(shape) == self._rank:
                for i, d in self._dims:
                    if shape[i] != d:
                        break
                else:
                    return x
        return self.check(x)

    def check(self, x):
        if self.kind == "sequence_type":
            if not isinstance(x, (list, tuple)):
                raise InvalidInputError(f"input {self.name!r}: expected a sequence (list of arrays), got "
                                        f"{type(x).__name__}")
            return list(x)
        if self.kind == "optional_type":
            return x
        if self.kind == "map_type":
            if not isinstance(x, dict):
                raise InvalidInputError(f"input {self.name!r}: expected a map (dict), got {type(x).__name__}")
            if self.dtype is None or self.dtype == object:
                return x
            try:  # Python numbers take the declared value type (the kernels read it off the values)
                return {k: self.dtype.type(v) for k, v in x.items()}
            except (TypeError, ValueError):
                raise InvalidInputError(f"input {self.name!r}: the map's values must be numbers of type "
                                        f"{_tname(self.dtype)}") from None
        if isinstance(x, onnx.TensorProto):
            x = onnx.numpy_helper.to_array(x)
        if not hasattr(x, "dtype") or not hasattr(x, "shape"):
            if isinstance(x, (list, tuple, int, float, bool, str)) and self.dtype is not None:
                x = np.asarray(x, dtype=self.dtype)
            else:
                raise InvalidInputError(f"input {self.name!r}: expected an array, got {type(x).__name__}")
        if self.dtype is not None and x.dtype != self.dtype:
            if not (self.dtype == object and getattr(x.dtype, "kind", "") in "OUS"):
                raise InvalidInputError(
                    f"input {self.name!r}: expected tensor({_tname(self.dtype)}), got an array of dtype {x.dtype}")
            x = np.asarray(x, dtype=object)
        if self.shape is not None:
            if len(x.shape) != len(self.shape):
                raise InvalidInputError(
                    f"input {self.name!r}: expected rank {len(self.shape)} with shape {_fmt_shape(self.shape)}, "
                    f"got rank {len(x.shape)} with shape {list(x.shape)}")
            for i, (want, got) in enumerate(zip(self.shape, x.shape)):
                if isinstance(want, int) and want != got:
                    raise InvalidInputError(
                        f"input {self.name!r}: dimension {i} must be {want} (shape {_fmt_shape(self.shape)}), "
                        f"got shape {list(x.shape)}")
        return x


def _tname(dtype) -> str:
    from ..ir.tensor import onnx_dtype_of
    from ..ir.types import elem_type_name

    return elem_type_name(onnx_dtype_of(dtype))


def _fmt_shape(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


class InferenceSession:
    """Runs an ONNX model: ``InferenceSession(path_or_bytes_or_proto, sess_options=None, providers=None)``."""

    def __init__(self, path_or_bytes, sess_options: SessionOptions | None = None, providers=None,
                 provider_options=None, **kwargs):
        t0 = time.perf_counter()
        self._options = sess_options or SessionOptions()
        self._backend = get_backend(providers)
        # a backend with no run context of its own (NumPy's) is not asked for one at each run
        self._plain_run = type(self._backend).run_context is ArrayBackend.run_context
        if self._options.enable_cpu_mem_arena and self._backend.device == "cpu":
            from .memory_arena import keep_freed_memory

            keep_freed_memory()
        model = load(path_or_bytes)
        if not isinstance(model, Model):
            raise InvalidModelError("expected a model")
        self._model = model
        self._model_path = os.fspath(path_or_bytes) if isinstance(path_or_bytes, (str, os.PathLike)) else None
        # the NumPy plan of the same graph for runs that compute on the host only (see run);
        # False where the backend never runs so, None until it is wanted
        self._twin = None if type(self._backend).ran_on_host is not ArrayBackend.ran_on_host else False
        self._prepare(model)
        self.build_time_s = time.perf_counter() - t0

    # ------------------------------------------------------------------ build
    def _prepare(self, model: Model) -> None:
        if not model.opset_imports:
            raise InvalidModelError("the model imports no opset (opset_import is empty)")
        level = int(self._options.graph_optimization_level)
        if level > 0:
            try:
                from ..passes import optimize_for_session
            except ImportError:
                optimize_for_session = None
            if optimize_for_session is not None:
                model = optimize_for_session(model, level)
        if self._options.optimized_model_filepath:
            from ..ir.io import save

            save(model, self._options.optimized_model_filepath)
        self._build(model)
        self._optimized = None
        if self._twin is None:
            # kept for the NumPy plan only where its constants are small: a model of large weights
            # computes on the backend's arrays anyway
            held = sum(v.const.nbytes for v in model.graph.initializers.values() if v.const is not None)
            self._optimized = model if held <= _TWIN_MAX_BYTES else None
            if self._optimized is None:
                self._twin = False

    def _build(self, model: Model) -> None:
        """The plan of the (optimized) model on this session's backend, and what runs read from it."""
        g = model.graph
        planner = Planner(self._backend, model.opset_imports, model.functions,
                          input_types=self._inferred_types(model))
        self._plan = planner.compile(g)
        init_names = set(g.initializers)
        self._inputs_all = [_InputSpec(v, s) for v, s in zip(g.inputs, self._plan.input_slots)]
        self._input_specs = {sp.name: sp for sp in self._inputs_all}
        self._required = [sp for sp in self._inputs_all if not sp.optional_default]
        self._input_args = [NodeArg(v.name, v.type) for v in g.inputs if v.name not in init_names]
        self._overridable = [NodeArg(v.name, v.type) for v in g.inputs if v.name in init_names]
        self._output_args = [NodeArg(v.name, v.type) for v in g.outputs]
        self._output_index = {v.name: i for i, v in enumerate(g.outputs)}
        self._thread_limit = _thread_limiter(self._options.intra_op_num_threads)
        if self._thread_limit is None and self._backend.name == "numpy" and _spreads_work_itself(self._plan, g):
            from .blas_threads import single_thread_blas

            self._thread_limit = single_thread_blas()

    @staticmethod
    def _inferred_types(model: Model) -> dict:
        """Value types from ONNX shape inference, used only where a function body depends on them."""
        return _LazyTypes(model)

    # ------------------------------------------------------------------ API
    def get_inputs(self) -> list[NodeArg]:
        return list(self._input_args)

    def get_overridable_initializers(self) -> list[NodeArg]:
        return list(self._overridable)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._output_args)

    def get_providers(self) -> list[str]:
        b = self._backend
        return [b.name if b.device == "cpu" else f"{b.name}:{b.device}"]

    def get_provider_options(self) -> dict:
        return {p: {} for p in self.get_providers()}

    def get_session_options(self) -> SessionOptions:
        return self._options

    def get_modelmeta(self) -> ModelMetadata:
        m = self._model
        return ModelMetadata(producer_name=m.producer_name, graph_name=m.graph.name, domain=m.domain,
                             description=m.doc_string, graph_description=m.graph.doc_string,
                             version=m.model_version, custom_metadata_map=dict(m.metadata_props))

    @property
    def model(self) -> Model:
        return self._model

    def run(self, output_names, input_feed: dict, run_options=None) -> list:
        """Outputs (all when ``output_names`` is None), as NumPy arrays, in the order asked."""
        if self._plain_run:
            return self._run(output_names, input_feed)
        backend = self._backend
        if self._twin is not False and backend.ran_on_host() and _small_host_feeds(input_feed, backend.small_on_host):
            # the last run computed nothing on the backend's arrays (a torch session on a CPU whose
            # values all stayed small NumPy arrays): such feeds run on the NumPy backend's plan of
            # the same graph, whose NumPy kernels the backend would call anyway, without its
            # per-node checks (a classic-ML pipeline: 60 us against 70)
            twin = self._twin or self._host_twin()
            return twin._run(output_names, input_feed)
        with backend.run_context():
            return self._run(output_names, input_feed)

    def _host_twin(self) -> InferenceSession:
        with _TWIN_LOCK:
            if self._twin is None:
                twin = object.__new__(InferenceSession)
                twin._options, twin._model, twin._model_path = self._options, self._model, self._model_path
                twin._backend = get_backend(["numpy"])
                twin._plain_run, twin._twin = True, False
                twin._build(self._optimized)
                twin.build_time_s = 0.0
                self._optimized = None
                self._twin = twin
        return self._twin

    def _run(self, output_names, input_feed: dict) -> list:
        plan = self._plan
        if not isinstance(input_feed, dict):
            raise InvalidInputError(f"input_feed must be a dict of name -> array, got {type(input_feed).__name__}")
        env = plan.template.copy()
        specs = self._input_specs
        for name, x in input_feed.items():
            sp = specs.get(name)
            if sp is None:
                raise InvalidInputError(f"unknown input {name!r}; the model's inputs are "
                                        f"{[a.name for a in self._input_args]}")
            env[sp.slot] = self._backend.asarray(sp.quick(x))
        if len(input_feed) < len(self._required):
            missing = [sp.name for sp in self._required if sp.name not in input_feed]
            if missing:
                raise InvalidInputError(f"missing input(s) {missing}; the model's inputs are "
                                        f"{[a.name for a in self._input_args]}")
        elif len(input_feed) != len(self._inputs_all):
            for sp in self._required:
                if sp.name not in input_feed:
                    raise InvalidInputError(f"missing input {sp.name!r}")
        if self._thread_limit is None:
            execute(plan, env)
        else:
            with self._thread_limit():
                execute(plan, env)
        if output_names is None:
            slots = plan.output_slots
        else:
            try:
                slots = [plan.output_slots[self._output_index[n]] for n in output_names]
            except KeyError as e:
                raise InvalidInputError(f"unknown output {e.args[0]!r}; the model's outputs are "
                                        f"{list(self._output_index)}") from None
        outs = [env[s] for s in slots]
        for i, x in enumerate(outs):
            if type(x) is not np.ndarray:
                outs[i] = self._to_host(x)
        return outs

    def _to_host(self, x):
        if x is None:
            return None
        if isinstance(x, list):
            return [self._to_host(v) for v in x]
        if isinstance(x, dict):
            return x
        return self._backend.to_numpy(x)


_TWIN_LOCK = threading.Lock()
# the most bytes of constants a session keeps its optimized model for, to build its NumPy plan
# (see InferenceSession.run)
_TWIN_MAX_BYTES = 64 << 20


def _small_host_feeds(feeds, limit: int) -> bool:
    """Every feed is a NumPy array of at most ``limit`` elements."""
    if type(feeds) is not dict:
        return False
    for x in feeds.values():
        if type(x) is not np.ndarray or x.size > limit:
            return False
    return True


def _spreads_work_itself(plan, graph) -> bool:
    """Whether the NumPy backend spreads this plan's work over its own threads: large
    convolutions with NNEX_CONV_THREADS above 1, or the two directions of a bidirectional LSTM
    with compiled kernels. BLAS then runs on one thread for the run (see blas_threads.py)."""
    if any(label[1] == "Conv" for label in plan.labels):
        from ..ops._conv_parallel import thread_count

        if thread_count() > 1:
            return True
    if any(node.op_type == "LSTM" and node.domain in ("", "ai.onnx") and node.attr("direction") == "bidirectional"
           for node in graph.nodes):
        from ..backends.numpy_lstm import parallel_directions_possible

        return parallel_directions_possible()
    return False


def _thread_limiter(n: int):
    """A context that caps the BLAS/OpenMP threads at ``n`` during a run (None when not asked for)."""
    if not n or n <= 0:
        return None
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        import warnings

        warnings.warn("intra_op_num_threads needs the threadpoolctl package (pip install threadpoolctl); "
                      "the setting is ignored", stacklevel=3)
        return None
    controller = ThreadpoolController()
    return lambda: controller.limit(limits=int(n))


class _LazyTypes(dict):
    """Runs ONNX shape inference the first time a type is asked for."""

    def __init__(self, model: Model):
        super().__init__()
        self._model = model
        self._done = False

    def get(self, name, default=None):
        if not self._done:
            self._done = True
            from ..ir.serde import model_to_proto

            try:
                inferred = onnx.shape_inference.infer_shapes(model_to_proto(self._model))
                for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
                    self[vi.name] = vi.type
            except Exception:  # noqa: BLE001  (types stay unknown; the op then needs a kernel)
                pass
        return super().get(name, default)
