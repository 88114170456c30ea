"""Operator registry: kernels keyed by (domain, op_type, since_version).

A kernel is a plain function ``fn(xp, *inputs, **attributes)``:

* ``xp`` is the array namespace of the backend the session runs on (array API
  standard, through ``array-api-compat``); the runtime binds it once, at plan time.
* positional parameters are the ONNX inputs in order; a missing optional input is ``None``.
  Variadic inputs (Concat, Sum, ...) are taken as ``*inputs``.
* keyword-only parameters are the ONNX attributes, with the spec's defaults.  An
  attribute that has no default in the spec is given without a default.
* a few keyword-only parameters with a leading underscore are filled by the runtime
  when the kernel declares them: ``_n_outputs`` (how many outputs the node has),
  ``_opset`` (the model's opset of this domain), ``_output_dtypes`` (numpy dtypes of
  declared outputs, None where unknown), ``_run_subgraph`` is never passed:
  subgraph attributes arrive as callables ``body(*inputs) -> list``.
* it returns one array, or a tuple/list with one entry per node output (``None`` for an
  optional output it does not produce).

Registrations exist only where the spec changed what the op computes; the runtime picks
the newest registration whose ``since`` is <= the model's opset for that domain.
"""

from __future__ import annotations

import bisect
import inspect
from dataclasses import dataclass, field
from typing import Callable, Iterable

ONNX_DOMAIN = ""
ML_DOMAIN = "ai.onnx.ml"
TRAINING_DOMAIN = "ai.onnx.preview.training"
PREVIEW_DOMAIN = "ai.onnx.preview"

_RUNTIME_PARAMS = ("_n_outputs", "_opset", "_output_dtypes")


@dataclass(frozen=True)
class OpKernel:
    """One registration: the function and what the runtime must know to call it."""

    domain: str
    op_type: str
    since: int
    fn: Callable
    host_inputs: tuple[int, ...] = ()
    attributes: frozenset = field(default_factory=frozenset)
    runtime_params: frozenset = field(default_factory=frozenset)
    variadic: bool = False

    @property
    def qualname(self) -> str:
        dom = self.domain or "ai.onnx"
        return f"{dom}::{self.op_type}-{self.since}"


_REGISTRY: dict[tuple[str, str], list[OpKernel]] = {}


def _normalize_domain(domain: str) -> str:
    return "" if domain in ("", "ai.onnx") else domain


def op(
    op_type: str,
    since: int | Iterable[int] = 1,
    *,
    domain: str = ONNX_DOMAIN,
    host_inputs: Iterable[int] = (),
) -> Callable[[Callable], Callable]:
    """Register ``fn`` as the kernel of ``op_type`` from opset ``since`` on.

    ``since`` may be several versions when one function covers them all (it is
    registered under each).  ``host_inputs`` lists input positions that must be
    host (NumPy) values: shapes, axes, pads, repeats.
    """
    versions = [since] if isinstance(since, int) else list(since)
    domain = _normalize_domain(domain)

    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        attrs = set()
        runtime = set()
        variadic = False
        for p in sig.parameters.values():
            if p.kind is p.KEYWORD_ONLY:
                (runtime if p.name in _RUNTIME_PARAMS else attrs).add(p.name)
            elif p.kind is p.VAR_POSITIONAL:
                variadic = True
            elif p.kind is p.VAR_KEYWORD:
                attrs.add("**")
        for v in versions:
            kernel = OpKernel(
                domain, op_type, v, fn, tuple(host_inputs), frozenset(attrs), frozenset(runtime), variadic
            )
            lst = _REGISTRY.setdefault((domain, op_type), [])
            lst[:] = [k for k in lst if k.since != v]
            bisect.insort(lst, kernel, key=lambda k: k.since)
        return fn

    return deco


def lookup(domain: str, op_type: str, opset: int) -> OpKernel | None:
    """The newest kernel for ``op_type`` whose since_version <= ``opset``."""
    _load_all()
    lst = _REGISTRY.get((_normalize_domain(domain), op_type))
    if not lst:
        return None
    best = None
    for k in lst:
        if k.since <= opset:
            best = k
        else:
            break
    return best


def registered() -> dict[tuple[str, str], list[OpKernel]]:
    """All registrations (loads every op family first)."""
    _load_all()
    return _REGISTRY


_loaded = False


def _load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import _families  # noqa: F401  (imports every op family module)
