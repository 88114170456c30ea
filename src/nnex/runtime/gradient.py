"""ai.onnx.preview.training Gradient: reverse-mode differentiation of the forward graph.

The Gradient node names values of its own graph (``xs``, ``zs``, ``y``); it computes dy/dx for
each x, holding the ``zs`` constant. The planner hands it the forward nodes between xs and y;
this module re-runs them with the registered kernels, keeping intermediates, then applies each
op's vector-Jacobian product in reverse order. The ops covered are the differentiable core
that training graphs use; others raise a clear error naming the op.
"""

from __future__ import annotations

import numpy as np

from ..ops.registry import lookup
from .errors import NnexError


def _unbroadcast(g: np.ndarray, shape) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched to reach it from ``shape``."""
    shape = tuple(shape)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, d in enumerate(shape):
        if d == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def _vjp(op_type: str, ins: list, out: np.ndarray, g: np.ndarray, attrs: dict) -> list:
    """Gradients of the node's inputs given the gradient ``g`` of its (single) output."""
    if op_type == "Add":
        return [_unbroadcast(g, ins[0].shape), _unbroadcast(g, ins[1].shape)]
    if op_type == "Sub":
        return [_unbroadcast(g, ins[0].shape), _unbroadcast(-g, ins[1].shape)]
    if op_type == "Mul":
        return [_unbroadcast(g * ins[1], ins[0].shape), _unbroadcast(g * ins[0], ins[1].shape)]
    if op_type == "Div":
        a, b = ins
        return [_unbroadcast(g / b, a.shape), _unbroadcast(-g * a / (b * b), b.shape)]
    if op_type == "Neg":
        return [-g]
    if op_type == "Identity":
        return [g]
    if op_type == "Relu":
        return [g * (ins[0] > 0)]
    if op_type == "Sigmoid":
        return [g * out * (1 - out)]
    if op_type == "Tanh":
        return [g * (1 - out * out)]
    if op_type == "Exp":
        return [g * out]
    if op_type == "Log":
        return [g / ins[0]]
    if op_type == "Sqrt":
        return [g / (2 * out)]
    if op_type == "MatMul":
        a, b = ins
        a2 = a if a.ndim > 1 else a[None, :]
        b2 = b if b.ndim > 1 else b[:, None]
        g2 = g.reshape(a2.shape[:-1] + b2.shape[-1:]) if a.ndim == 1 or b.ndim == 1 else g
        ga = g2 @ np.swapaxes(b2, -1, -2)
        gb = np.swapaxes(a2, -1, -2) @ g2
        return [_unbroadcast(ga, a2.shape).reshape(a.shape), _unbroadcast(gb, b2.shape).reshape(b.shape)]
    if op_type in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
        return [g.reshape(ins[0].shape)] + [None] * (len(ins) - 1)
    if op_type == "Transpose":
        perm = attrs.get("perm") or list(range(ins[0].ndim))[::-1]
        return [np.transpose(g, np.argsort(perm))]
    if op_type in ("ReduceSum", "ReduceMean"):
        x = ins[0]
        axes = attrs.get("axes")
        if axes is None and len(ins) > 1 and ins[1] is not None:
            axes = [int(a) for a in np.asarray(ins[1]).ravel()]
        axes = list(range(x.ndim)) if not axes else [a % x.ndim for a in axes]
        if not attrs.get("keepdims", 1):
            for a in sorted(axes):
                g = np.expand_dims(g, a)
        gx = np.broadcast_to(g, x.shape).astype(x.dtype)
        if op_type == "ReduceMean":
            gx = gx / np.prod([x.shape[a] for a in axes])
        return [gx] + [None] * (len(ins) - 1)
    raise NnexError(f"Gradient: no derivative rule for {op_type}")


def make_gradient_kernel(forward_nodes: list, x_names: list[str], y_name: str, opsets: dict, xp):
    """A kernel ``fn(*xs_and_zs_values, env_lookup)`` computing dy/dx for each x."""
    compiled = []
    for n in forward_nodes:
        k = lookup(n.domain, n.op_type, opsets.get(n.domain, 1))
        if k is None:
            raise NnexError(f"Gradient: no kernel for forward op {n.op_type}")
        attrs = {a: (v.value.numpy() if hasattr(v.value, "numpy") else v.value)
                 for a, v in n.attributes.items() if a in k.attributes}
        compiled.append((n, k, attrs))

    def run(values: dict) -> list:
        env = dict(values)
        for n, k, attrs in compiled:
            ins = [env.get(v.name) if v is not None else None for v in n.inputs]
            r = k.fn(xp, *ins, **attrs)
            outs = r if isinstance(r, tuple) else (r,)
            for v, o in zip(n.outputs, outs):
                env[v.name] = o
        grads: dict[str, np.ndarray] = {y_name: np.ones_like(env[y_name])}
        for n, k, attrs in reversed(compiled):
            out_name = n.outputs[0].name
            g = grads.get(out_name)
            if g is None:
                continue
            ins = [env.get(v.name) if v is not None else None for v in n.inputs]
            for v, gi in zip(n.inputs, _vjp(n.op_type, ins, env[out_name], g, attrs)):
                if v is None or gi is None:
                    continue
                grads[v.name] = grads[v.name] + gi if v.name in grads else gi
        return [np.asarray(grads.get(x, np.zeros_like(env[x])), dtype=env[x].dtype) for x in x_names]

    return run


def forward_slice(graph_nodes, x_names: set[str], y_name: str) -> list:
    """The nodes y depends on, in graph order (everything upstream; constants are just re-run)."""
    producer = {}
    for n in graph_nodes:
        for v in n.outputs:
            producer[v.name] = n
    needed, stack = set(), [y_name]
    while stack:
        name = stack.pop()
        n = producer.get(name)
        if n is None or id(n) in needed or name in x_names:
            continue
        needed.add(id(n))
        stack.extend(v.name for v in n.inputs if v is not None)
    return [n for n in graph_nodes if id(n) in needed]
