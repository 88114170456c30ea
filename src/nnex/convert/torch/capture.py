"""Capture a module with torch.export and bring it down to core ATen, keeping the higher-level
ops that ONNX expresses better than their decompositions (attention, RNNs, interpolation, ...)."""

from __future__ import annotations

import contextlib
import inspect

import torch
from torch.utils import _pytree as pytree

from .. import ConversionError

aten = torch.ops.aten

# kept whole: each maps onto one ONNX op (or a short pattern) instead of dozens of index ops
KEEP = [
    aten.scaled_dot_product_attention.default,
    aten.lstm.input, aten.gru.input, aten.rnn_tanh.input, aten.rnn_relu.input,
    aten.upsample_nearest1d.vec, aten.upsample_nearest2d.vec, aten.upsample_nearest3d.vec,
    aten._upsample_nearest_exact1d.vec, aten._upsample_nearest_exact2d.vec, aten._upsample_nearest_exact3d.vec,
    aten.upsample_linear1d.vec, aten.upsample_bilinear2d.vec, aten.upsample_trilinear3d.vec,
    aten.upsample_bicubic2d.vec,
    aten.einsum.default, aten.matmul.default, aten.linear.default,
    aten.instance_norm.default, aten.group_norm.default, aten.layer_norm.default,
    aten.tril.default, aten.triu.default, aten.roll.default,
    aten.pixel_shuffle.default, aten.pixel_unshuffle.default,
    aten.silu.default, aten.hardswish.default, aten.hardsigmoid.default, aten.mish.default,
    aten.softplus.default, aten.elu.default, aten.prelu.default, aten.celu.default, aten.selu.default,
    aten.log_sigmoid_forward.default, aten.logsumexp.default, aten.cumprod.default,
    aten.grid_sampler_2d.default, aten.im2col.default, aten.col2im.default,
    aten.repeat_interleave.self_int, aten.one_hot.default, aten.rms_norm.default, aten.pad.default,
    aten.linalg_vector_norm.default, aten.std.correction, aten.var_mean.correction,
]


def decomposition_table():
    """torch's core-ATen decompositions, less the ops in KEEP."""
    table = torch.export.default_decompositions()
    for op in KEEP:
        table.pop(op, None)
    return table


@contextlib.contextmanager
def eval_mode(module):
    """Put ``module`` in eval mode for the capture (dropout off, batch norm on running stats),
    and give it back as it was."""
    if not isinstance(module, torch.nn.Module):
        yield
        return
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, t in modes:
            m.train(t)


def lowerable_as_is(ep) -> bool:
    """Whether every op of the exported program has a lowering and none mutates its inputs:
    then decomposing to core ATen (costly, and it loses structure) is not needed."""
    from .registry import find
    from .translate import is_no_op

    def ok(gm) -> bool:
        for n in gm.graph.nodes:
            if n.op == "call_function":
                t = n.target
                if isinstance(t, torch._ops.OpOverload) and t._schema.is_mutable:
                    return False
                if not is_no_op(t) and find(t) is None:
                    return False
            elif n.op == "get_attr":
                sub = getattr(gm, n.target, None)
                if isinstance(sub, torch.fx.GraphModule) and not ok(sub):
                    return False
            elif n.op in ("call_module", "call_method"):
                return False
        return True

    return ok(ep.graph_module)


def capture(module, args, kwargs, dynamic_shapes, decompose=None):
    """The ExportedProgram of ``module(*args, **kwargs)``, decomposed to core ATen unless every
    op it holds can be lowered as it is (``decompose``: None for that choice, True/False to force)."""
    if isinstance(module, torch.export.ExportedProgram):
        ep = module
    else:
        if not isinstance(module, torch.nn.Module):
            raise ConversionError(f"expected a torch.nn.Module or torch.export.ExportedProgram, got "
                                  f"{type(module).__qualname__}")
        if isinstance(module, torch.jit.ScriptModule):
            raise ConversionError("TorchScript modules cannot be converted; pass the Python nn.Module")
        with eval_mode(module):
            try:
                ep = torch.export.export(module, tuple(args), kwargs or None, dynamic_shapes=dynamic_shapes)
            except Exception as e:
                raise ConversionError(f"torch.export could not capture {type(module).__name__}: "
                                      f"{type(e).__name__}: {e}") from e
    if decompose is False or (decompose is None and lowerable_as_is(ep)):
        return ep
    try:
        return ep.run_decompositions(decomposition_table())
    except Exception as e:
        raise ConversionError(f"decomposing to core ATen failed: {type(e).__name__}: {e}") from e


# ---- names ----------------------------------------------------------------------------------

def _key_name(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def output_names(ep) -> list[str]:
    """One name per flattened output: dict keys / attribute names of the module's outputs,
    ``output`` for a single tensor, ``output_<i>`` for tuple items."""
    spec = ep.call_spec.out_spec
    n = spec.num_leaves
    try:
        tree = pytree.tree_unflatten(list(range(n)), spec)
        paths = [p for p, _ in pytree.tree_flatten_with_path(tree)[0]]
    except Exception:  # noqa: BLE001  (an output class that cannot be rebuilt from leaves)
        return ["output"] if n == 1 else [f"output_{i}" for i in range(n)]
    names = []
    for p in paths:
        if not p:
            names.append("output")
            continue
        parts = [_key_name(k) for k in p]
        if isinstance(p[0], pytree.SequenceKey):
            parts = ["output"] + parts
        names.append("_".join(parts))
    seen: dict[str, int] = {}
    out = []
    for nm in names:
        if nm in seen:
            seen[nm] += 1
            nm = f"{nm}_{seen[nm]}"
        else:
            seen[nm] = 0
        out.append(nm)
    return out


def _leaf_specs(value, spec) -> list:
    """The dynamic-shape spec of each leaf of ``value`` (pytree order), None where none is given."""
    leaves = pytree.tree_leaves(value)
    if isinstance(value, torch.Tensor) or not leaves:
        return [spec] if isinstance(value, torch.Tensor) else [None] * len(leaves)
    if spec is None:
        return [None] * len(leaves)
    if isinstance(value, (list, tuple)) and isinstance(spec, (list, tuple)) and len(spec) == len(value):
        return [s for v, sp in zip(value, spec) for s in _leaf_specs(v, sp)]
    if isinstance(value, dict) and isinstance(spec, dict):
        return [s for k, v in value.items() for s in _leaf_specs(v, spec.get(k))]
    return [None] * len(leaves)


def dim_names(ep, module, args, kwargs, dynamic_shapes) -> dict:
    """sympy symbol of each dynamic input dim -> its ONNX dim_param: the Dim's name where the
    user gave one, else ``<input>_dim<i>``."""
    ph = [n for n in ep.graph_module.graph.nodes if n.op == "placeholder"]
    user = [n for n in ph if n.name in set(ep.graph_signature.user_inputs)]
    named: dict = {}
    if dynamic_shapes is not None and isinstance(module, torch.nn.Module):
        try:
            named = _named_dims(user, module, args, kwargs or {}, dynamic_shapes)
        except Exception:  # noqa: BLE001  (names are a nicety; fall back to generated ones)
            named = {}
    out: dict = {}
    taken = set()
    for n in user:
        m = n.meta.get("val")
        if not isinstance(m, torch.Tensor):
            continue
        for i, d in enumerate(m.shape):
            if isinstance(d, torch.SymInt) and d.node.maybe_as_int() is None and len(d.node.expr.free_symbols) == 1:
                e = next(iter(d.node.expr.free_symbols))
                if e in out:
                    continue
                nm = named.get(e) or f"{n.name}_dim{i}"
                while nm in taken:
                    nm += "_"
                taken.add(nm)
                out[e] = nm
    return out


def _named_dims(user, module, args, kwargs, dynamic_shapes) -> dict:
    sig = inspect.signature(module.forward)
    bound = sig.bind(*args, **kwargs)
    params = list(sig.parameters)
    if isinstance(dynamic_shapes, dict):
        spec_of = dict(dynamic_shapes)
    else:
        spec_of = dict(zip(bound.arguments.keys(), dynamic_shapes))
    # export flattens (args, kwargs): positional arguments first, then keywords as given
    order: list[tuple[str, object]] = []
    for i, a in enumerate(args):
        name = params[i] if i < len(params) else None
        p = sig.parameters.get(name) if name else None
        if p is not None and p.kind == inspect.Parameter.VAR_POSITIONAL:
            rest = spec_of.get(name)
            for j, a2 in enumerate(args[i:]):
                order.append((None, a2, rest[j] if isinstance(rest, (list, tuple)) and j < len(rest) else None))
            break
        order.append((name, a, spec_of.get(name)))
    for k, v in kwargs.items():
        order.append((k, v, spec_of.get(k)))
    specs = [s for _, v, sp in order for s in _leaf_specs(v, sp)]
    named = {}
    for n, sp in zip(user, specs):
        m = n.meta.get("val")
        if not isinstance(m, torch.Tensor) or sp is None:
            continue
        items = sp.items() if isinstance(sp, dict) else enumerate(sp)
        for i, dim in items:
            root = getattr(dim, "root", dim)  # a derived dim (2 * half) names its root
            nm = getattr(root, "__name__", None)
            if nm and i < len(m.shape) and isinstance(m.shape[i], torch.SymInt):
                free = m.shape[i].node.expr.free_symbols
                if len(free) == 1:
                    named.setdefault(next(iter(free)), nm)
    return named


def flat_inputs(ep, args, kwargs) -> list:
    """The leaves of (args, kwargs) in the order of the program's user inputs."""
    return pytree.tree_leaves((tuple(args), dict(kwargs or {})))
