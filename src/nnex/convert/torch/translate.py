"""Walk an exported (core ATen) FX graph and emit ONNX through the GraphBuilder."""

from __future__ import annotations

import torch
import torch.fx

from ...ir import Graph, GraphBuilder, Model, Value
from .. import ConversionError
from .context import Ctx, Sym
from .dtypes import onnx_type, to_numpy
from .registry import bind, find, op_name

# ops that only check things at run time in PyTorch, and lower to nothing
_NO_OPS = {
    "aten::_assert_tensor_metadata", "aten::_assert_scalar", "aten::_assert_async", "aten::_functional_assert_async",
    "aten::sym_constrain_range", "aten::sym_constrain_range_for_size", "aten::_functional_sym_constrain_range",
    "aten::_functional_sym_constrain_range_for_size", "aten::_print", "aten::_check_is_size",
}


def source_line(node: torch.fx.Node) -> str:
    """The user's line that produced ``node`` (last frame of its stack trace), or ''."""
    st = node.meta.get("stack_trace") or ""
    lines = [ln.rstrip() for ln in st.strip().splitlines()]
    for i in range(len(lines) - 1, -1, -1):
        # generated code (dynamo's "<eval_with_key>") is not where the user can look
        if lines[i].strip().startswith("File ") and not lines[i].strip().startswith('File "<'):
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f"{lines[i].strip()}: {code}" if code else lines[i].strip()
    return ""


def _describe(node: torch.fx.Node) -> str:
    where = source_line(node)
    return f"{op_name(node.target)} (node {node.name!r}" + (f", from {where})" if where else ")")


def is_no_op(target) -> bool:
    return isinstance(target, torch._ops.OpOverload) and target._schema.name in _NO_OPS


def check_supported(gm: torch.fx.GraphModule) -> None:
    """Raise one ConversionError listing every op in ``gm`` (and its subgraphs) without a lowering."""
    missing: list[str] = []

    def walk(g: torch.fx.GraphModule):
        for n in g.graph.nodes:
            if n.op == "call_function" and not is_no_op(n.target) and find(n.target) is None:
                missing.append(_describe(n))
            elif n.op == "get_attr":
                sub = getattr(g, n.target, None)
                if isinstance(sub, torch.fx.GraphModule):
                    walk(sub)
            elif n.op in ("call_module", "call_method"):
                missing.append(f"{n.op} {n.target} (node {n.name!r})")

    walk(gm)
    if missing:
        lines = "\n  ".join(dict.fromkeys(missing))
        raise ConversionError(f"no ONNX lowering for these PyTorch ops:\n  {lines}")


def _map_arg(env: dict, a):
    if isinstance(a, torch.fx.Node):
        return env[a]
    if isinstance(a, (list, tuple)):
        items = [_map_arg(env, x) for x in a]
        return type(a)(*items) if hasattr(a, "_fields") else type(a)(items)
    if isinstance(a, dict):
        return {k: _map_arg(env, v) for k, v in a.items()}
    return a


def _lower_call(ctx: Ctx, node: torch.fx.Node, env: dict):
    if is_no_op(node.target):
        return None
    fn = find(node.target)
    args = _map_arg(env, tuple(node.args))
    kwargs = _map_arg(env, dict(node.kwargs))
    bound = bind(node.target, args, kwargs)
    ctx.node = node
    try:
        out = fn(ctx, *bound)
    except ConversionError as e:
        msg = str(e)
        if node.name not in msg:
            raise ConversionError(f"{_describe(node)}: {msg}") from e
        raise
    except Exception as e:
        raise ConversionError(f"{_describe(node)}: lowering failed: {type(e).__name__}: {e}") from e
    return _settle(ctx, node, out, node.meta.get("val"))


def _settle(ctx: Ctx, node, out, meta):
    """Give the lowered outputs torch's dtype and shape (casting if a lowering computed another dtype)."""
    if isinstance(meta, (tuple, list)):
        if not isinstance(out, (tuple, list)):
            raise ConversionError(f"internal: lowering of {op_name(node.target)} returned one value for "
                                  f"{len(meta)} outputs")
        res = [_settle(ctx, node, o, m) for o, m in zip(out, meta)]
        return type(out)(res) if isinstance(out, tuple) else res
    if isinstance(meta, torch.Tensor):
        if isinstance(out, Sym):
            out = out.value
        if not isinstance(out, Value):
            if out is None:
                return None
            out = ctx.const(out, meta.dtype)
        have = ctx.dtype(out)
        if have is not None and have != meta.dtype:
            out = ctx.op.Cast(out, to=onnx_type(meta.dtype))
        ctx.record(out, meta.dtype, tuple(meta.shape))
        for i, d in enumerate(meta.shape):
            if isinstance(d, torch.SymInt) and d.node.maybe_as_int() is None:
                _record_symbol(ctx, d.node.expr, out, i)
        return out
    if isinstance(meta, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        if isinstance(out, Value):
            dt = torch.int64 if isinstance(meta, torch.SymInt) else (
                torch.float64 if isinstance(meta, torch.SymFloat) else torch.bool)
            out = Sym(ctx.cast(out, dt), dt)
        if isinstance(out, Sym):
            e = meta.node.expr
            if e not in ctx._syms:
                ctx._syms[e] = out
        return out
    return out


def _record_symbol(ctx: Ctx, expr, v: Value, dim: int) -> None:
    """Remember where a symbol can be read: dim ``dim`` of ``v`` is ``expr``, linear in one symbol."""
    free = expr.free_symbols
    if len(free) != 1:
        return
    sym = next(iter(free))
    if sym in ctx.symbols:
        return
    a, b = expr.coeff(sym, 1), expr.subs(sym, 0)
    if expr.is_Symbol or (a.is_Integer and b.is_Integer and int(a) != 0 and expr == a * sym + b):
        ctx.symbols[sym] = (v, dim) if expr.is_Symbol else (v, dim, int(a), int(b))


def dim_param(expr, dim_names: dict) -> str | None:
    """The ONNX dim_param of a symbolic size: its name, or its formula over named dims."""
    if expr in dim_names:
        return dim_names[expr]
    free = expr.free_symbols
    if free and all(s in dim_names for s in free):
        import sympy

        return str(expr.subs({s: sympy.Symbol(dim_names[s]) for s in free})).replace(" ", "")
    return None


def output_type_dims(ctx: Ctx, meta: torch.Tensor, dim_names: dict) -> list:
    dims = []
    for d in meta.shape:
        if isinstance(d, torch.SymInt):
            n = d.node.maybe_as_int()
            if n is not None:
                dims.append(int(n))
            else:
                dims.append(dim_param(d.node.expr, dim_names))
        else:
            dims.append(int(d))
    return dims


def lower_graph(ctx: Ctx, gm: torch.fx.GraphModule, env: dict) -> list:
    """Lower the call_function nodes of ``gm`` (placeholders already in ``env``); return its outputs."""
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "get_attr":
            obj = getattr(gm, node.target)
            if isinstance(obj, torch.Tensor):
                env[node] = ctx.record(ctx.b.const(to_numpy(obj), node.target.replace("/", ".")), obj.dtype,
                                       tuple(obj.shape))
            else:
                env[node] = obj
        elif node.op == "call_function":
            env[node] = _lower_call(ctx, node, env)
        elif node.op == "output":
            return [_map_arg(env, a) for a in _output_args(node)]
        else:
            raise ConversionError(f"unsupported FX node kind {node.op} ({node.name})")
    return []


def sub_context(ctx: Ctx, name: str) -> Ctx:
    """A context writing into a new ONNX graph (an If branch or a Loop body) nested in ctx's."""
    sb = GraphBuilder(ctx.opset, name=name)
    sb._ids = ctx.b._ids  # one counter: names must be unique across a graph and its subgraphs
    sub = Ctx(sb, ctx.opset, parent=ctx)
    sub.dim_names = ctx.dim_names
    return sub


def inline(ctx: Ctx, gm: torch.fx.GraphModule, inputs: list) -> list:
    """Lower ``gm`` into ctx's graph with its placeholders bound to ``inputs``; its outputs."""
    env: dict = {}
    phs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(phs) != len(inputs):
        raise ConversionError(f"internal: a subgraph takes {len(phs)} inputs, got {len(inputs)}")
    for ph, v in zip(phs, inputs):
        env[ph] = v
        m = ph.meta.get("val")
        if isinstance(v, Value) and isinstance(m, torch.Tensor) and ctx.dtype(v) is None:
            ctx.record(v, m.dtype, tuple(m.shape))
    outer = ctx.node
    try:
        return lower_graph(ctx, gm, env)
    finally:
        ctx.node = outer


def _output_args(node: torch.fx.Node) -> list:
    a = node.args[0]
    return list(a) if isinstance(a, (list, tuple)) else [a]


def output_metas(gm: torch.fx.GraphModule) -> list:
    out_node = next(n for n in gm.graph.nodes if n.op == "output")
    return [a.meta.get("val") if isinstance(a, torch.fx.Node) else a for a in _output_args(out_node)]


def finish_subgraph(sub: Ctx, outs: list, metas: list, formal: tuple = ()) -> Graph:
    """Declare ``outs`` as the outputs of sub's graph, typed from torch's metadata."""
    sb = sub.b
    produced = {id(o) for n in sb.graph for o in n.outputs}
    for o, m in zip(outs, metas):
        if isinstance(m, torch.Tensor):
            v = sub.tensor(o, m.dtype)
            if id(v) not in produced or any(v is f for f in formal):
                v = sub.op.Identity(v)
            sb.output(v, dtype=onnx_type(m.dtype), shape=output_type_dims(sub, m, sub.dim_names))
        else:
            dt = torch.bool if isinstance(m, (bool, torch.SymBool)) else (
                torch.int64 if isinstance(m, (int, torch.SymInt)) else torch.float64)
            v = sub.op.Identity(sub.tensor(o, dt))
            sb.output(v, dtype=onnx_type(dt), shape=[])
    return sb.graph


def lower_program(ep, *, opset: int, dim_names: dict, output_names: list[str], graph_name: str = "main") -> Model:
    """Build the ONNX model of a decomposed ExportedProgram."""
    gm = ep.graph_module
    check_supported(gm)
    b = GraphBuilder(opset, name=graph_name)
    ctx = Ctx(b, opset)
    ctx.dim_names = dim_names
    sig = ep.graph_signature
    weights = {**sig.inputs_to_parameters, **sig.inputs_to_buffers, **sig.inputs_to_lifted_tensor_constants}
    if getattr(sig, "inputs_to_lifted_custom_objs", None):
        raise ConversionError("modules holding TorchScript objects (lifted custom objects) cannot be converted")
    env: dict = {}
    for node in gm.graph.nodes:
        if node.op != "placeholder":
            continue
        meta = node.meta.get("val")
        if node.name in weights:
            target = weights[node.name]
            t = ep.state_dict.get(target)
            if t is None:
                t = ep.constants.get(target)
            if t is None:
                raise ConversionError(f"the weight {target!r} is missing from the exported program")
            if node.users:
                v = b.const(to_numpy(t), target)
                env[node] = ctx.record(v, t.dtype, tuple(t.shape))
        elif isinstance(meta, torch.Tensor):
            v = b.input(node.name, onnx_type(meta.dtype), output_type_dims(ctx, meta, dim_names))
            env[node] = ctx.record(v, meta.dtype, tuple(meta.shape))
            for i, d in enumerate(meta.shape):
                if isinstance(d, torch.SymInt) and d.node.maybe_as_int() is None:
                    _record_symbol(ctx, d.node.expr, v, i)
        elif isinstance(meta, (torch.SymInt, torch.SymFloat, torch.SymBool)):
            dt = torch.int64 if isinstance(meta, torch.SymInt) else (
                torch.float64 if isinstance(meta, torch.SymFloat) else torch.bool)
            v = b.input(node.name, onnx_type(dt), [])
            s = Sym(ctx.record(v, dt, ()), dt)
            env[node] = s
            ctx._syms[meta.node.expr] = s
        else:
            env[node] = meta  # a Python constant the program was specialized on
    outs = lower_graph(ctx, gm, env)
    out_node = next(n for n in gm.graph.nodes if n.op == "output")
    specs = [s for s in sig.output_specs]
    user = [i for i, s in enumerate(specs) if s.kind == torch.export.graph_signature.OutputKind.USER_OUTPUT]
    if len(user) != len(output_names):
        raise ConversionError(f"internal: {len(user)} outputs but {len(output_names)} names")
    for i, name in zip(user, output_names):
        o = outs[i]
        a = out_node.args[0][i]
        m = a.meta.get("val") if isinstance(a, torch.fx.Node) else a
        if isinstance(m, torch.Tensor):
            v = ctx.tensor(o, m.dtype)
            b.output(v, name, dtype=onnx_type(m.dtype), shape=output_type_dims(ctx, m, dim_names))
        elif o is None:
            raise ConversionError(f"output {name!r} is None")
        else:
            v = ctx.tensor(o)
            dt = ctx.dtype(v) or torch.float32
            b.output(v, name, dtype=onnx_type(dt), shape=[])
    for name, v in list(b.graph.initializers.items()):
        if not v.uses and not any(v is o for o in b.graph.outputs):
            del b.graph.initializers[name]
    _unique_names(b.graph)
    return b.build(infer_types=False)


def _unique_names(graph: Graph) -> None:
    """Make every value name unique across the graph and its subgraphs: a weight or a generated
    name may equal an input's name (``forward(self, weight)``); inputs keep theirs, then outputs."""
    taken: set[str] = set()

    def claim(v: Value, suffix: str = "") -> None:
        name = v.name
        if name in taken:
            base, k = name + suffix, 1
            name = base
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            v.name = name
        taken.add(name)

    for v in graph.inputs:
        claim(v)
    for v in graph.outputs:
        claim(v, "_out")
    outputs = {id(v) for v in graph.outputs}
    inits = list(graph.initializers.values())
    graph.initializers.clear()
    for v in inits:
        if id(v) not in outputs:
            claim(v, "_param")
        graph.initializers[v.name] = v

    def walk(g: Graph):
        for n in g:
            for v in n.outputs:
                if id(v) not in outputs:
                    claim(v)
            for sub in n.subgraphs():
                for v in list(sub.inputs) + list(sub.initializers.values()):
                    claim(v)
                if sub.initializers:
                    vals = list(sub.initializers.values())
                    sub.initializers.clear()
                    sub.initializers.update({v.name: v for v in vals})
                walk(sub)

    walk(graph)


__all__ = ["finish_subgraph", "inline", "lower_program", "output_metas", "source_line", "sub_context"]
