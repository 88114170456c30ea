"""torch.cond -> If, torch.while_loop -> Loop, and the export wrappers around no_grad/autocast regions."""

from __future__ import annotations

import itertools

import torch

from ....ir import Value
from ....ir.types import tensor_type
from ... import ConversionError
from ..context import Ctx, Sym
from ..dtypes import onnx_type
from ..registry import lowers

hop = torch.ops.higher_order
_ids = itertools.count()


def _pred(ctx: Ctx, pred):
    if isinstance(pred, Sym):
        return ctx.cast(pred, torch.bool)
    v = ctx.cast(pred, torch.bool)
    if ctx.shape(pred) not in (None, ()):
        v = ctx.op.Reshape(v, ctx.ints([]))
    return v


@lowers(hop.cond)
def cond(ctx: Ctx, pred, true_gm, false_gm, operands):
    from ..translate import finish_subgraph, inline, output_metas, sub_context

    operands = list(operands)
    if isinstance(pred, (bool, int)):
        return list(inline(ctx, true_gm if pred else false_gm, operands))
    metas = output_metas(true_gm)
    n = next(_ids)
    branches = []
    for gm, tag in ((true_gm, "then"), (false_gm, "else")):
        sub = sub_context(ctx, f"cond{n}_{tag}")
        outs = inline(sub, gm, operands)
        branches.append(finish_subgraph(sub, outs, output_metas(gm)))
    res = ctx.op.If(_pred(ctx, pred), then_branch=branches[0], else_branch=branches[1], _outputs=len(metas))
    res = list(res) if len(metas) > 1 else [res]
    for v, m in zip(res, metas):
        if not isinstance(m, torch.Tensor):
            raise ConversionError("torch.cond branches returning non-tensors are not supported")
    return res


def _formal(sub: Ctx, name: str, meta):
    if isinstance(meta, torch.Tensor):
        from ..translate import output_type_dims

        v = Value(name, tensor_type(onnx_type(meta.dtype), output_type_dims(sub, meta, sub.dim_names)))
        sub.record(v, meta.dtype, tuple(meta.shape))
        return v, v
    dt = torch.int64 if isinstance(meta, (int, torch.SymInt)) else (
        torch.bool if isinstance(meta, (bool, torch.SymBool)) else torch.float64)
    v = Value(name, tensor_type(onnx_type(dt), []))
    sub.record(v, dt, ())
    return v, Sym(v, dt)


@lowers(hop.while_loop)
def while_loop(ctx: Ctx, cond_gm, body_gm, carried, additional):
    from ..translate import finish_subgraph, inline, output_metas, sub_context

    carried, additional = list(carried), list(additional)
    node_args = ctx.node.args[2]
    metas = [a.meta.get("val") if hasattr(a, "meta") else a for a in node_args]
    first = inline(ctx, cond_gm, carried + additional)[0]
    n = next(_ids)
    sub = sub_context(ctx, f"loop{n}_body")
    it = Value(f"loop{n}_iter", tensor_type(onnx_type(torch.int64), []))
    cin = Value(f"loop{n}_cond", tensor_type(onnx_type(torch.bool), []))
    formal, bound = [], []
    for i, m in enumerate(metas):
        v, b = _formal(sub, f"loop{n}_v{i}", m)
        formal.append(v)
        bound.append(b)
    sub.b.graph.inputs.extend([it, cin] + formal)
    new = inline(sub, body_gm, bound + additional)
    go_on = inline(sub, cond_gm, list(new) + additional)[0]
    body = finish_subgraph(sub, [_pred(sub, go_on)] + list(new),
                           [torch.empty((), dtype=torch.bool)] + list(output_metas(body_gm)), tuple(formal))
    init = [ctx.tensor(c) if not isinstance(c, Value) else c for c in carried]
    outs = ctx.op.Loop(None, _pred(ctx, first), *init, body=body, _outputs=len(carried))
    outs = list(outs) if len(carried) > 1 else [outs]
    return [o if isinstance(m, torch.Tensor) else Sym(o, ctx.dtype(init[i]) or torch.int64)
            for i, (o, m) in enumerate(zip(outs, metas))]


@lowers(hop.wrap_with_set_grad_enabled)
def wrap_with_set_grad_enabled(ctx: Ctx, enabled, gm, *args):
    from ..translate import inline

    out = inline(ctx, gm, list(args))
    return out if isinstance(ctx.meta, (list, tuple)) else out[0]


@lowers(hop.wrap_with_autocast)
def wrap_with_autocast(ctx: Ctx, device_type, dtype, enabled, cache_enabled, gm, *args):
    from ..translate import inline

    out = inline(ctx, gm, list(args))
    return out if isinstance(ctx.meta, (list, tuple)) else out[0]
