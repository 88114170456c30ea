"""nnex.to_tensorflow: an ONNX model as a ``tf.Module`` that TensorFlow saves, serves and
converts to TFLite without nnex.

nnex's plan runs on JAX (the ops of to_jax) and ``jax2tf`` lowers it to one StableHLO
module inside TensorFlow's ``XlaCallModule`` op, so a SavedModel holds TensorFlow ops only:
TensorFlow loads and runs it without nnex or JAX installed, and ``tf.lite.TFLiteConverter``
turns the StableHLO into TFLite's builtin ops. The model's dynamic axes stay dynamic: each
is a JAX symbolic dimension while the plan is traced (see ``_symbolic_dims``) and ``None``
in the input signature.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np

from ..backends.host_ops import runs_on_host
from ..ir.tensor import np_dtype_of
from ..runtime.errors import NnexError
from ._common import execute, is_trainable, load_model, plan_for


class TensorFlowExportError(NnexError, ValueError):
    """A model, or a part of one, that cannot become a TensorFlow graph; the message names it."""


def to_tensorflow(model, *, input_shapes=None, dim_constraints=(), platforms=("cpu",)):
    """A ``tf.Module`` computing the model: ``module(*inputs)`` gives a tensor (one output)
    or a tuple, and ``tf.saved_model.save(module, path)`` writes a SavedModel whose
    ``serving_default`` signature takes and returns tensors under the model's names.

    ``model`` is a path, bytes, ``onnx.ModelProto`` or ``nnex.Model``.

    ``input_shapes`` (a dict by input name, or a list in input order) replaces the declared
    shapes: an int fixes a dim, a str names a dynamic one (inputs that share a name share the
    size), None makes it dynamic and unnamed. The declared shape is the default: its symbolic
    dims (``"batch"``) are dynamic, ``None`` in the signature.

    ``dim_constraints`` tells what the dynamic sizes satisfy, in JAX's syntax
    (``["seq <= 512"]``); a model that slices a fixed table with a dynamic size needs it.

    ``platforms`` the module runs on: ``("cpu",)``, or also ``"cuda"``/``"tpu"``.

    Float initializers become (non-trainable) ``tf.Variable``s, so the SavedModel keeps the
    weights in its variables rather than in the graph. The module is for inference: to
    fine-tune, use ``nnex.to_torch`` or ``nnex.to_jax``.
    """
    import jax
    import tensorflow as tf
    from jax.experimental import jax2tf

    m = load_model(model)
    _refuse_host_only_ops(m)
    plan, backend = _traceable_plan(m)

    inputs = [v for v in m.graph.inputs if v.name not in m.graph.initializers]
    input_names = [v.name for v in inputs]
    output_names = [v.name for v in m.graph.outputs]
    shapes = _input_shapes(inputs, input_shapes)
    specs, poly = _signature(tf, inputs, shapes)

    variables = {}
    for name, value in m.graph.initializers.items():
        if name not in plan.const_slots:
            continue
        arr = np.asarray(value.const.numpy())
        if backend.holds(arr.dtype) and is_trainable(arr) and arr.dtype != np.dtype("bfloat16"):
            variables[name] = arr
    var_names = list(variables)
    n_inputs = len(inputs)

    def converted(*args):
        # a new plan, and a new function, for every trace (TensorFlow traces again when it
        # saves): the plan's kernels remember values between runs, which are tracers of the
        # previous trace here, and a second trace of the same function hits JAX's cache,
        # whose constants lower differently and break jax2tf ("Too many leaves for PyTreeDef")
        fresh, fresh_backend = _traceable_plan(m)
        var_slots = [fresh.const_slots[n] for n in var_names]
        # the other initializers as host constants: shape arithmetic with them stays on the
        # host (a Reshape needs its target before the graph runs) and the rest folds into
        # the module
        template = [fresh_backend.to_host_if_concrete(v) for v in fresh.template]

        def run_plan(weights, *feeds):
            env = template.copy()
            for slot, w in zip(var_slots, weights):
                env[slot] = w
            for slot, x in zip(fresh.input_slots, feeds):
                env[slot] = x
            execute(fresh, env)
            return tuple(_as_jax(jax, fresh_backend, env[s]) for s in fresh.output_slots)

        return jax2tf.convert(
            run_plan,
            polymorphic_shapes=[None, *poly],
            polymorphic_constraints=tuple(dim_constraints),
            native_serialization_platforms=tuple(platforms),
            # jax2tf would convert the gradient when TensorFlow asks for it, outside
            # _tensorflow_stablehlo and without dim_constraints: the module is for inference
            with_gradient=False,
        )(*args)

    class OnnxModule(tf.Module):
        """An ONNX graph as one TensorFlow function (nnex's plan lowered to StableHLO)."""

        def __init__(self):
            super().__init__(name=_identifier(m.graph.name or "onnx_model"))
            self.input_names = input_names
            self.output_names = output_names
            # a list keeps the initializers' order (a dict would be sorted when tracked)
            self.weights = [tf.Variable(variables[n], trainable=False, name=_identifier(n))
                            for n in var_names]
            self.weight_names = var_names

        @tf.function(input_signature=specs, autograph=False)
        def __call__(self, *feeds):
            if len(feeds) != n_inputs:
                raise TypeError(f"takes {n_inputs} inputs {input_names}, got {len(feeds)}")
            with jax.enable_x64(True), _tensorflow_stablehlo():
                try:
                    outs = converted(list(self.weights), *feeds)
                except NnexError as e:
                    raise _explain(e, shapes) from e
            return outs[0] if len(outs) == 1 else tuple(outs)

        @tf.function(input_signature=specs, autograph=False)
        def serve(self, *feeds):
            outs = self.__call__(*feeds)
            outs = outs if isinstance(outs, tuple) else (outs,)
            return dict(zip(_unique_identifiers(output_names), outs))

    module = OnnxModule()
    # the signature tf.saved_model.save writes by default: outputs named as in the model
    module._default_save_signature = module.serve
    module.serve.get_concrete_function()  # traced now, so what cannot be expressed is said now
    return module


def _traceable_plan(m):
    from ._symbolic_dims import SymbolicJaxBackend

    backend = SymbolicJaxBackend()
    return plan_for(m, backend), backend


# ---------------------------------------------------------------------------- signature


def _input_shapes(inputs, given) -> list:
    """Per input: a list of ints, dim names (str) and None, from ``given`` or the model."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        given = list(given)
        if len(given) != len(inputs):
            raise ValueError(f"input_shapes has {len(given)} entries, the model {len(inputs)} inputs")
        given = {v.name: s for v, s in zip(inputs, given)}
    unknown = set(given) - {v.name for v in inputs}
    if unknown:
        raise ValueError(f"input_shapes names {sorted(unknown)}, which are not inputs of the model "
                         f"({[v.name for v in inputs]})")
    shapes = []
    for v in inputs:
        shape = given.get(v.name, v.shape)
        if shape is None:
            raise TensorFlowExportError(
                f"input {v.name!r} has no declared rank: give its shape in input_shapes")
        shapes.append([d if d is None or isinstance(d, str) else int(d) for d in shape])
    return shapes


def _signature(tf, inputs, shapes):
    """TensorSpecs (dynamic dims None) and JAX's polymorphic shape of each input."""
    symbols: dict[str, str] = {}
    specs, poly = [], []
    names = _unique_identifiers([v.name for v in inputs])
    for k, (v, shape) in enumerate(zip(inputs, shapes)):
        if v.elem_type is None:
            raise TensorFlowExportError(
                f"input {v.name!r} is not a tensor: TensorFlow signatures take tensors")
        dtype = np_dtype_of(v.elem_type)
        try:
            tf_dtype = tf.as_dtype(dtype)
        except TypeError:
            raise TensorFlowExportError(
                f"input {v.name!r} has type {dtype}, which TensorFlow has no type for") from None
        dims = []
        for i, d in enumerate(shape):
            if isinstance(d, int):
                dims.append(str(d))
                continue
            key = d if isinstance(d, str) and d else f"\0{k}.{i}"  # an unnamed dim is its own size
            if key not in symbols:
                base = _identifier(d) if isinstance(d, str) and d else f"{names[k]}_{i}"
                symbol = base if re.match(r"[A-Za-z]", base) else "d_" + base
                while symbol in symbols.values():
                    symbol += "_"
                symbols[key] = symbol
            dims.append(symbols[key])
        static = [d if isinstance(d, int) else None for d in shape]
        specs.append(tf.TensorSpec(static, tf_dtype, name=names[k]))
        poly.append("(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")")
    return specs, poly


_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]")


def _identifier(name: str) -> str:
    """A name TensorFlow accepts for an op, a signature key or a variable."""
    return _NOT_IDENT.sub("_", name) or "_"


def _unique_identifiers(names) -> list[str]:
    out, seen = [], set()
    for n in names:
        ident = _identifier(n)
        if not re.match(r"[A-Za-z]", ident):
            ident = "t_" + ident
        while ident in seen:
            ident += "_"
        seen.add(ident)
        out.append(ident)
    return out


# ---------------------------------------------------------------------------- StableHLO version


@contextlib.contextmanager
def _tensorflow_stablehlo():
    """JAX serializes StableHLO for readers up to 4 weeks older than itself; the TensorFlow
    at hand may be older still (jax 0.10 writes 1.15, TensorFlow 2.21 reads up to 1.13.7),
    and then neither TensorFlow nor TFLite can read an op whose encoding changed between
    (erf, asin, top_k, ... fail as 'vhlo.composite_v2'). While converting, serialize for
    TensorFlow's version when it is the older one."""
    try:
        from jax._src.export import _export
        from tensorflow.compiler.mlir.stablehlo import stablehlo as tf_stablehlo

        tf_version = tf_stablehlo.get_current_version()
        hlo = _export.hlo
        choose = hlo.get_version_from_compatibility_requirement
    except (ImportError, AttributeError):  # another layout of either library: serialize as JAX does
        yield
        return

    def target(requirement):
        version = choose(requirement)
        return tf_version if _version_key(tf_version) < _version_key(version) else version

    _export.hlo = _Override(hlo, get_version_from_compatibility_requirement=target)
    try:
        yield
    finally:
        _export.hlo = hlo


def _version_key(v: str) -> tuple:
    return tuple(int(p) for p in re.findall(r"\d+", v))


class _Override:
    """A module with some attributes replaced."""

    def __init__(self, module, **replaced):
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(self._module, name)


# ---------------------------------------------------------------------------- errors


def _refuse_host_only_ops(model) -> None:
    """Ops nnex computes on NumPy whatever the backend (strings, ai.onnx.ml, random draws,
    sequences, data-dependent shapes) have no place in a traced graph: name them all at once."""
    found = []
    graphs = [model.graph] + [f.body for f in model.functions.values()]
    for g in graphs:
        for node in g.all_nodes():
            domain = "" if node.domain == "ai.onnx" else node.domain
            if runs_on_host(domain, node.op_type):
                label = f"{domain + '::' if domain else ''}{node.op_type}"
                found.append(f"{label} (node {node.name!r})" if node.name else label)
    if found:
        listed = ", ".join(found[:12]) + (f" and {len(found) - 12} more" if len(found) > 12 else "")
        raise TensorFlowExportError(
            f"cannot express in TensorFlow: {listed}. nnex computes these ops on NumPy on every backend "
            "(strings, ai.onnx.ml, random draws, sequences, or an output shape that depends on the values), "
            "so they cannot be traced into a TensorFlow graph")


def _explain(e: NnexError, shapes) -> TensorFlowExportError:
    """The trace's error, with what it means for a TensorFlow graph."""
    cause = e.__cause__ or e
    kind = type(cause).__name__
    where = str(e).split(": ", 1)[0] if str(e).startswith("while running") else "the model"
    if kind == "InconclusiveDimensionOperation" or re.search(r"\b(min|max)\(", str(cause)):
        hint = ("a dynamic dimension is used where its size must be known or compared: fix it with "
                "input_shapes, or state what it satisfies with dim_constraints (e.g. ['seq <= 512'])")
    elif kind in ("TracerArrayConversionError", "ConcretizationTypeError", "TracerBoolConversionError",
                  "TracerIntegerConversionError"):
        hint = ("the op needs values known before the model runs (a data-dependent shape or branch, or a "
                "kernel that computes on NumPy), which a TensorFlow graph cannot express")
    else:
        hint = "TensorFlow cannot express it as traced"
    return TensorFlowExportError(f"cannot express {where.removeprefix('while running ')} in TensorFlow: "
                                 f"{hint}. Cause: {kind}: {cause}")


def _as_jax(jax, backend, x):
    """A graph output as a JAX value (a host constant or a symbolic shape is one too)."""
    if isinstance(x, (list, dict)) or x is None:
        raise TensorFlowExportError("a graph output is a sequence, map or optional: TensorFlow signatures "
                                    "return tensors")
    x = backend.materialize(x)
    return jax.numpy.asarray(x) if isinstance(x, (np.ndarray, np.generic)) else x
