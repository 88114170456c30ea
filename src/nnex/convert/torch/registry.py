"""The lowering table: ATen op (or Python callable seen in FX graphs) -> function that emits ONNX.

A lowering is ``fn(ctx, *args)``: ``args`` are the op's arguments bound to its schema in order
(defaults filled, keyword-only ones last), with FX nodes replaced by what they lowered to
(an ONNX ``Value`` for a tensor, a ``Sym`` for a symbolic scalar, plain Python values
otherwise). It returns a Value, a Sym, a Python value, or a tuple/list of them for ops with
several outputs (``None`` for an output it does not compute).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

LOWERINGS: dict[object, Callable] = {}


def lowers(*targets):
    """Register the decorated function for each target: an OpOverload, or an OpOverloadPacket
    (every overload not registered on its own), or a Python callable (operator.add, ...)."""

    def deco(fn):
        for t in targets:
            LOWERINGS[t] = fn
        return fn

    return deco


def find(target) -> Callable | None:
    _load()
    fn = LOWERINGS.get(target)
    if fn is None and isinstance(target, torch._ops.OpOverload):
        fn = LOWERINGS.get(target.overloadpacket)
    return fn


def op_name(target) -> str:
    """How an FX target is named in messages: ``aten::add.Tensor``, ``operator.mul``, ..."""
    if isinstance(target, torch._ops.OpOverload):
        return f"{target._schema.name}.{target._overloadname}"
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"higher_order.{target.__name__}"
    mod = getattr(target, "__module__", None) or ""
    mod = {"_operator": "operator"}.get(mod, mod)
    return f"{mod}.{getattr(target, '__name__', repr(target))}".lstrip(".")


def bind(target, args: tuple, kwargs: dict) -> list:
    """``args``/``kwargs`` as one list in the op schema's order, defaults filled in."""
    if not isinstance(target, torch._ops.OpOverload):
        if kwargs:
            return list(args) + list(kwargs.values())
        return list(args)
    out = []
    for i, a in enumerate(target._schema.arguments):
        if i < len(args) and not a.kwarg_only:
            out.append(args[i])
        elif a.name in kwargs:
            out.append(kwargs[a.name])
        elif a.has_default_value():
            out.append(a.default_value)
        else:
            out.append(None)
    return out


def lowered_ops() -> list[str]:
    """Names of everything the table lowers (ATen overloads and packets, Python callables)."""
    _load()
    names = []
    for t in LOWERINGS:
        if isinstance(t, torch._ops.OpOverloadPacket):
            names.append(f"{t._qualified_op_name}.*")
        else:
            names.append(op_name(t))
    return sorted(set(names))


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import ops  # noqa: F401  (importing the families fills the table)
