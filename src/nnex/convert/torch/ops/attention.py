"""scaled_dot_product_attention (masks, causal, GQA) as MatMul/Softmax."""

from __future__ import annotations

import math

import torch

from ..context import Ctx
from ..registry import lowers
from ._common import aten


def attention(ctx: Ctx, q, k, v, mask=None, is_causal=False, scale=None, enable_gqa=False):
    dt = ctx.dtype(q)
    op = ctx.op
    e = ctx.size(q, -1)
    if scale is None:
        scale = 1.0 / math.sqrt(e) if isinstance(e, int) else None
    if enable_gqa:
        hq, hk = ctx.size(q, -3), ctx.size(k, -3)
        if isinstance(hq, int) and isinstance(hk, int) and hq != hk:
            rk, rv = ctx.rank(k), ctx.rank(v)
            k = ctx.record(_repeat_heads(ctx, k, hq // hk), dt, (None,) * rk)
            v = ctx.record(_repeat_heads(ctx, v, hq // hk), dt, (None,) * rv)
    kt = op.Transpose(k, perm=_swap_last(ctx.rank(k)))
    scores = op.MatMul(q, kt)
    if scale is None:
        s = op.Reciprocal(op.Sqrt(ctx.tensor(ctx.size(q, -1), dt)))
    else:
        s = ctx.const(float(scale), dt)
    scores = op.Mul(scores, s)
    ninf = ctx.const(float("-inf"), dt)
    if is_causal:
        lq, lk = ctx.size(q, -2), ctx.size(k, -2)
        i64 = torch.int64
        rows = op.Unsqueeze(op.Range(ctx.const(0, i64), ctx.tensor(lq, i64), ctx.const(1, i64)), ctx.ints([1]))
        cols = op.Unsqueeze(op.Range(ctx.const(0, i64), ctx.tensor(lk, i64), ctx.const(1, i64)), ctx.ints([0]))
        scores = op.Where(op.LessOrEqual(cols, rows), scores, ninf)
    if mask is not None:
        if ctx.dtype(mask) == torch.bool:
            scores = op.Where(mask, scores, ninf)
        else:
            scores = op.Add(scores, ctx.tensor(mask, dt))
    probs = op.Softmax(scores, axis=-1)
    if mask is not None or is_causal:
        # rows with nothing to attend to give zeros in torch, not NaN
        top = op.ReduceMax(scores, ctx.ints([-1]), keepdims=1)
        probs = op.Where(op.IsInf(top, detect_positive=0), ctx.const(0.0, dt), probs)
    return op.MatMul(probs, v)


def _swap_last(r):
    perm = list(range(r))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return perm


def _repeat_heads(ctx: Ctx, x, n):
    # [B, Hk, S, E] -> [B, Hk * n, S, E], each head repeated n times in a row
    op = ctx.op
    r = ctx.rank(x)
    u = op.Unsqueeze(x, ctx.ints([r - 2]))  # [.., Hk, 1, S, E]
    reps = [1] * (r + 1)
    reps[r - 2] = n
    t = op.Tile(u, ctx.ints(reps))
    shape = op.Shape(x)
    new = op.Concat(op.Slice(shape, ctx.ints([0]), ctx.ints([r - 3])), ctx.ints([-1]),
                    op.Slice(shape, ctx.ints([r - 2]), ctx.ints([r])), axis=0)
    return op.Reshape(t, new)


@lowers(aten.scaled_dot_product_attention.default)
def sdpa(ctx: Ctx, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    return attention(ctx, q, k, v, attn_mask, is_causal, scale, enable_gqa)


@lowers(aten._scaled_dot_product_flash_attention_for_cpu.default)
def sdpa_flash_cpu(ctx: Ctx, q, k, v, dropout_p=0.0, is_causal=False, attn_mask=None, scale=None):
    if ctx.used(1):
        from ... import ConversionError

        raise ConversionError("the logsumexp output of flash attention is not supported")
    return attention(ctx, q, k, v, attn_mask, is_causal, scale), None
