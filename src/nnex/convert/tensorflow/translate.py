"""Walk a TensorFlow graph (a frozen ConcreteFunction's graph, or a function body) and emit ONNX."""

from __future__ import annotations

import numpy as np

from ...ir import Value
from .. import ConversionError
from .context import Ctx, TensorList
from .dtypes import np_dtype
from .registry import IGNORED, PASS_THROUGH, find

# ops that call a function of the library: their bodies are checked and lowered too
CALL_ATTRS = {"PartitionedCall": ("f",), "StatefulPartitionedCall": ("f",), "While": ("cond", "body"),
              "StatelessWhile": ("cond", "body"), "If": ("then_branch", "else_branch"),
              "StatelessIf": ("then_branch", "else_branch")}


def needed_ops(outputs, stop: set) -> list:
    """The ops ``outputs`` depend on (data inputs only), producers first; ``stop`` holds the names of
    tensors that are given (graph inputs), whose producers are not needed."""
    order, seen = [], set()
    stack = [(t.op, False) for t in reversed(outputs) if t.name not in stop]
    while stack:
        op, expanded = stack.pop()
        if expanded:
            order.append(op)
            continue
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.append((op, True))
        for t in reversed(op.inputs):
            if t.name not in stop and t.op.name not in seen:
                stack.append((t.op, False))
    return order


def _function_name(op, attr: str) -> str:
    return op.get_attr(attr).name


def missing_ops(ops, functions: dict) -> list[str]:
    """'OpType (op name)' for each op here or in the functions called from here with no lowering."""
    missing: dict[str, str] = {}
    seen_fns: set[str] = set()

    def visit_types(types_and_names):
        for op_type, name, attrs in types_and_names:
            if op_type in CALL_ATTRS:
                for a in CALL_ATTRS[op_type]:
                    fname = attrs(a)
                    if fname and fname not in seen_fns:
                        seen_fns.add(fname)
                        fdef = functions.get(fname)
                        if fdef is None:
                            missing.setdefault(f"function {fname}", name)
                            continue
                        visit_types([(n.op, n.name, _node_def_attr(n)) for n in fdef.node_def])
            if op_type in PASS_THROUGH or op_type in IGNORED or op_type in ("Const", "Placeholder"):
                continue
            if find(op_type) is None:
                missing.setdefault(op_type, name)

    visit_types([(op.type, op.name, _op_attr(op)) for op in ops])
    return [f"{t} (op {n!r})" for t, n in missing.items()]


def _op_attr(op):
    def get(a):
        try:
            return op.get_attr(a).name
        except (ValueError, AttributeError):
            return None
    return get


def _node_def_attr(node_def):
    def get(a):
        if a in node_def.attr and node_def.attr[a].HasField("func"):
            return node_def.attr[a].func.name
        return None
    return get


def lower_graph(ctx: Ctx, graph_inputs, values, outputs) -> list:
    """Lower what ``outputs`` (tf.Tensors) need, with ``graph_inputs`` (placeholder tensors) bound
    to ``values``; returns the lowered outputs."""
    env: dict = {}
    for ph, v in zip(graph_inputs, values):
        env[ph.name] = v
    ops = needed_ops(outputs, set(env))
    missing = missing_ops(ops, ctx.functions)
    if missing:
        raise ConversionError("no ONNX lowering for these TensorFlow ops:\n  " + "\n  ".join(missing))
    for op in ops:
        lower_op(ctx, op, env)
    return [env[t.name] for t in outputs]


def lower_op(ctx: Ctx, op, env: dict) -> None:
    if op.type in IGNORED:
        return
    ins = []
    for t in op.inputs:
        if t.name not in env:
            raise ConversionError(f"op {op.name!r} ({op.type}) reads {t.name!r}, which was not computed")
        ins.append(env[t.name])
    if op.type in PASS_THROUGH:
        result = ins[:len(op.outputs)]
    elif op.type == "Const":
        import tensorflow as tf

        arr = tf.make_ndarray(op.get_attr("value"))
        result = [ctx.const(arr.astype(object) if arr.dtype.kind in "SU" else arr)]
    elif op.type in ("Placeholder",):
        raise ConversionError(f"placeholder {op.name!r} is not an input of the function being converted")
    elif op.type == "PlaceholderWithDefault":
        result = ins
    else:
        fn = find(op.type)
        ctx.tf_op = op
        try:
            result = fn(ctx, op, *ins)
        except ConversionError as e:
            if op.name not in str(e):
                raise ConversionError(f"{op.type} (op {op.name!r}): {e}") from e
            raise
        except Exception as e:
            raise ConversionError(f"{op.type} (op {op.name!r}): lowering failed: {type(e).__name__}: {e}") from e
    if not isinstance(result, (list, tuple)):
        result = [result]
    if len(result) < len(op.outputs):
        result = list(result) + [None] * (len(op.outputs) - len(result))
    for t, r in zip(op.outputs, result):
        if r is None:
            continue
        env[t.name] = settle(ctx, t, r)


def settle(ctx: Ctx, t, r):
    """Give a lowered output the dtype and static shape TensorFlow says it has."""
    import tensorflow as tf

    if t.dtype in (tf.variant, tf.resource) or type(r).__name__ == "Dilated":
        return r
    if isinstance(r, TensorList):
        raise ConversionError(f"internal: {t.name} lowered to a TensorList")
    if not isinstance(r, Value):
        r = ctx.const(np.asarray(r, dtype=np_dtype(t.dtype)))
    want = np_dtype(t.dtype)
    have = ctx.dtype(r)
    if have is not None and have != want:
        r = ctx.cast(r, want)
    shape = None if t.shape.rank is None else tuple(t.shape.as_list())
    known = ctx.shape(r)
    if shape is None:
        shape = known
    elif known is not None and len(known) == len(shape):
        shape = tuple(s if s is not None else k for s, k in zip(shape, known))
    ctx.record(r, want, shape)
    return r


# ---- library functions -----------------------------------------------------------------------

def function_graph(ctx: Ctx, name: str, inputs: list, shapes: list | None = None):
    """The FuncGraph of library function ``name``, its inputs shaped like ``inputs`` (or as ``shapes``
    says: tf.TensorShapes, for loop bodies whose variables change shape)."""
    import tensorflow as tf
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph

    fdef = ctx.functions.get(name)
    if fdef is None:
        raise ConversionError(f"function {name!r} is not in the graph's library")
    if shapes is not None:
        inputs = []
    shapes = list(shapes or [])
    for v in inputs:
        if isinstance(v, TensorList) or v is None:
            shapes.append(tf.TensorShape(None))
        else:
            s = ctx.shape(v)
            shapes.append(tf.TensorShape(None if s is None else list(s)))
    key = (name, tuple(str(s) for s in shapes))
    cache = ctx.root.__dict__.setdefault("_fn_graphs", {})
    if key not in cache:
        cache[key] = function_def_to_graph(fdef, input_shapes=shapes)
    return cache[key]


def call_function(ctx: Ctx, name: str, inputs: list) -> list:
    """Lower library function ``name`` inline on ``inputs``; its outputs."""
    fg = function_graph(ctx, name, inputs)
    if len(fg.inputs) != len(inputs):
        raise ConversionError(f"function {name!r} takes {len(fg.inputs)} inputs, the call gives {len(inputs)}")
    return lower_graph(ctx, fg.inputs, inputs, fg.outputs)
