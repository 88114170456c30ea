"""Function calls (inlined), While loops (ONNX Loop) and conditionals (ONNX If)."""

from __future__ import annotations

import numpy as np

from ....ir.tensor import onnx_dtype_of
from ....ir.types import tensor_type
from ....ir.value import Value
from ... import ConversionError
from ..context import Ctx, TensorList, sequence_type
from ..dtypes import np_dtype
from ..registry import PASS_THROUGH, lowers
from .tensor_list import as_sequence


@lowers("PartitionedCall", "StatefulPartitionedCall")
def call(ctx, op, *args):
    from ..translate import call_function

    return call_function(ctx, op.get_attr("f").name, list(args))


def _passes_through(fg, i: int) -> bool:
    """Whether body output ``i`` is body input ``i`` unchanged (a loop invariant, or a capture)."""
    t = fg.outputs[i]
    while t.op.type in PASS_THROUGH and t.op.inputs:
        t = t.op.inputs[0]
    return t.name == fg.inputs[i].name


def _as_bool_scalar(ctx, v):
    if ctx.dtype(v) != np.dtype(bool):
        v = ctx.op.Not(ctx.op.Equal(v, ctx.scalar_const(0, v)))
    if ctx.shape(v) not in ((),):
        v = ctx.op.Reshape(v, ctx.ints([]))
    return ctx.record(v, bool, ())


@lowers("While", "StatelessWhile")
def while_loop(ctx, op, *inits):
    import tensorflow as tf

    from ..translate import function_graph, lower_graph

    n = len(inits)
    # the loop variables' shapes as TensorFlow's invariants say (the op's outputs), not the first ones
    shapes = [tf.TensorShape(None) if t.dtype == tf.variant else t.shape for t in op.outputs]
    body = function_graph(ctx, op.get_attr("body").name, [], shapes)
    cond = function_graph(ctx, op.get_attr("cond").name, [], shapes)
    carried = [i for i in range(n) if not _passes_through(body, i)]
    inits = list(inits)
    if not carried:
        return inits  # nothing changes from one iteration to the next: the loop computes nothing
    for i in carried:
        if isinstance(inits[i], TensorList):
            inits[i] = as_sequence(ctx, inits[i])

    cond_init = _as_bool_scalar(ctx, lower_graph(ctx, cond.inputs, inits, cond.outputs)[0])

    sb = ctx.b.subgraph("while_body")
    sub = Ctx(sb, ctx.opset, ctx.functions, parent=ctx)
    sb.input(ctx.b._fresh("iter"), np.int64, [])
    sb.input(ctx.b._fresh("cond_in"), np.bool_, [])
    env = list(inits)
    for i in carried:
        name = ctx.b._fresh("loop_var")
        if isinstance(inits[i], TensorList):
            v = Value(name, sequence_type(inits[i].dtype))
            sb.graph.inputs.append(v)
            env[i] = TensorList("sequence", v, inits[i].dtype)
        else:
            dt = np_dtype(op.outputs[i].dtype)
            s = op.outputs[i].shape
            dims = None if s.rank is None else s.as_list()
            v = sb.input(name, dt, dims)
            sub.record(v, dt, dims)
            env[i] = v
    outs = lower_graph(sub, body.inputs, env, body.outputs)
    after = [outs[i] if i in carried else inits[i] for i in range(n)]
    cond_out = _as_bool_scalar(sub, lower_graph(sub, cond.inputs, after, cond.outputs)[0])
    sub.output(sb, cond_out, ctx.b._fresh("cond_out"))
    for i in carried:
        o = outs[i]
        if isinstance(inits[i], TensorList):
            if not isinstance(o, TensorList):
                raise ConversionError("a loop variable that starts as a TensorList must stay one")
            o = as_sequence(sub, o)
            sub.output(sb, o.value, ctx.b._fresh("loop_out"), type_proto=sequence_type(o.dtype))
        else:
            dt = np_dtype(op.outputs[i].dtype)
            sub.output(sb, sub.cast(o, dt), ctx.b._fresh("loop_out"))

    carried_inits = [inits[i].value if isinstance(inits[i], TensorList) else inits[i] for i in carried]
    results = ctx.op.Loop(None, cond_init, *carried_inits, body=sb.graph, _outputs=len(carried))
    if not isinstance(results, tuple):
        results = (results,)
    final = list(inits)
    for k, i in enumerate(carried):
        r = results[k]
        final[i] = TensorList("sequence", r, inits[i].dtype) if isinstance(inits[i], TensorList) else r
    return final


@lowers("If", "StatelessIf")
def if_(ctx, op, cond, *args):
    from ..translate import call_function

    branches = []
    for attr_name in ("then_branch", "else_branch"):
        sb = ctx.b.subgraph(attr_name)
        sub = Ctx(sb, ctx.opset, ctx.functions, parent=ctx)
        outs = call_function(sub, op.get_attr(attr_name).name, list(args))
        for t, o in zip(op.outputs, outs):
            if isinstance(o, TensorList):
                raise ConversionError("a conditional that returns a TensorList is not supported")
            dt = np_dtype(t.dtype)
            o = sub.cast(o, dt)
            sub.output(sb, o, ctx.b._fresh(attr_name + "_out"), type_proto=tensor_type(onnx_dtype_of(dt), None))
        branches.append(sb.graph)
    if not op.outputs:
        return []
    res = ctx.op.If(_as_bool_scalar(ctx, cond), then_branch=branches[0], else_branch=branches[1],
                    _outputs=len(op.outputs))
    return list(res) if isinstance(res, tuple) else [res]

