"""Helpers shared by the op families."""

from __future__ import annotations

import torch
from onnx import TensorProto
from torch._prims_common import ELEMENTWISE_TYPE_PROMOTION_KIND, elementwise_dtypes

from ....ir import Value
from ..context import Ctx, Sym
from ..dtypes import onnx_type  # noqa: F401  (re-exported for the families)

aten = torch.ops.aten
prims = torch.ops.prims
FLOAT, INT32, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL


def promote(ctx: Ctx, *xs) -> torch.dtype:
    """torch's result dtype for an elementwise op over ``xs`` (Values, Syms, numbers; None skipped)."""
    dummies = []
    for x in xs:
        if x is None:
            continue
        if isinstance(x, Value):
            s = ctx.shape(x)
            dummies.append(torch.empty(() if s is not None and len(s) == 0 else (1,), dtype=ctx.dtype(x)))
        elif isinstance(x, Sym):
            dummies.append({torch.int64: 1, torch.float64: 1.0, torch.bool: True}[x.dtype])
        else:
            dummies.append(x)
    return elementwise_dtypes(*dummies, type_promotion_kind=ELEMENTWISE_TYPE_PROMOTION_KIND.DEFAULT)[1]


def axis(dim: int, rank: int) -> int:
    return dim + rank if dim < 0 else dim


def axes(dims, rank: int) -> list[int]:
    if dims is None:
        return list(range(rank))
    if isinstance(dims, int):
        dims = [dims]
    return [axis(int(d), max(rank, 1)) for d in dims]


def unsqueeze(ctx: Ctx, x, ax) -> Value:
    return ctx.op.Unsqueeze(x, ctx.ints(ax if isinstance(ax, (list, tuple)) else [ax]))


def squeeze(ctx: Ctx, x, ax) -> Value:
    return ctx.op.Squeeze(x, ctx.ints(ax if isinstance(ax, (list, tuple)) else [ax]))


def is_float(dt: torch.dtype) -> bool:
    return dt.is_floating_point


def neg_inf(dt: torch.dtype) -> float:
    return float("-inf") if dt.is_floating_point else torch.iinfo(dt).min


def pos_inf(dt: torch.dtype) -> float:
    return float("inf") if dt.is_floating_point else torch.iinfo(dt).max


def bool_to_int(ctx: Ctx, x: Value, dt: torch.dtype) -> tuple[Value, torch.dtype]:
    """ONNX arithmetic refuses bool: compute such ops in int32 (uint8 for max/min) instead."""
    if dt == torch.bool:
        return ctx.cast(x, torch.int32), torch.int32
    return x, dt
