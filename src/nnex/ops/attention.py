"""Attention operators: Attention, RotaryEmbedding, LinearAttention, FlexAttention.

Grouped-query attention never materialises repeated K/V heads: query heads are
viewed as ``[batch, kv_heads, group, ...]`` so one broadcasting matmul serves every
query head of a KV head (query head ``h`` uses KV head ``h // group``).

Masking in Attention is additive: every constraint (boolean / float ``attn_mask``,
causal frontier, sliding window, ``nonpad_kv_seqlen`` padding) becomes a 0 / -inf
bias, and a query row whose combined bias is all -inf is defined to produce zeros
(not NaN) in both ``Y`` and the mode-3 probabilities.
"""

from __future__ import annotations

import math

import numpy as np

from .dtypes import astype, backend_dtype
from .registry import PREVIEW_DOMAIN, op

# --------------------------------------------------------------------------- helpers


def _np_dtype_of_tensor_type(elem_type: int):
    """numpy dtype of an ONNX TensorProto element type (softmax_precision values)."""
    from onnx.helper import tensor_dtype_to_np_dtype

    return tensor_dtype_to_np_dtype(int(elem_type))


def _split_heads(xp, x, num_heads):
    """[batch, seq, heads * d] -> [batch, heads, seq, d]."""
    b, s, hd = x.shape
    x = xp.reshape(x, (b, s, num_heads, hd // num_heads))
    return xp.permute_dims(x, (0, 2, 1, 3))


def _merge_heads(xp, x):
    """[batch, heads, seq, d] -> [batch, seq, heads * d]."""
    b, h, s, d = x.shape
    return xp.reshape(xp.permute_dims(x, (0, 2, 1, 3)), (b, s, h * d))


def _grouped_matmul(xp, a, b):
    """``a`` [B, Hq, M, K] times ``b`` [B, Hkv, K, N] where Hq is a multiple of Hkv."""
    bq, hq, m, k = a.shape
    hkv = b.shape[1]
    if hq == hkv:
        return xp.matmul(a, b)
    if hkv == 0 or hq % hkv:
        raise ValueError(f"q heads ({hq}) must be a multiple of kv heads ({hkv})")
    g = hq // hkv
    a5 = xp.reshape(a, (bq, hkv, g, m, k))
    out = xp.matmul(a5, b[:, :, None, :, :])
    return xp.reshape(out, (bq, hq, m, out.shape[-1]))


def _masked_softmax(xp, x):
    """Softmax over the last axis; a row that is entirely -inf gives zeros, not NaN."""
    m = xp.max(x, axis=-1, keepdims=True)
    m = xp.where(m == -math.inf, xp.zeros_like(m), m)
    e = xp.exp(x - m)
    s = xp.sum(e, axis=-1, keepdims=True)
    s = xp.where(s == 0, xp.ones_like(s), s)
    return e / s


def _neg_inf_where_not(xp, allowed, dtype):
    """Additive bias: 0 where ``allowed``, -inf elsewhere."""
    zero = xp.zeros((), dtype=dtype)
    ninf = xp.full((), -math.inf, dtype=dtype)
    return xp.where(allowed, zero, ninf)


# --------------------------------------------------------------------------- Attention


def _pad_mask(xp, mask, total):
    """Right-pad the key axis of ``attn_mask`` to ``total`` with "not allowed"."""
    short = total - mask.shape[-1]
    if short <= 0:
        return mask
    fill_shape = tuple(mask.shape[:-1]) + (short,)
    if mask.dtype == xp.bool:
        fill = xp.zeros(fill_shape, dtype=xp.bool)
    else:
        fill = xp.full(fill_shape, -math.inf, dtype=mask.dtype)
    return xp.concat([mask, fill], axis=-1)


def _query_key_offsets(xp, sq, sk, offset):
    """``(i + offset) - j`` for query ``i`` / key ``j``: [Sq, Sk], or [B, 1, Sq, Sk] per batch."""
    i = xp.reshape(xp.arange(sq, dtype=xp.int64), (sq, 1))
    j = xp.reshape(xp.arange(sk, dtype=xp.int64), (1, sk))
    if isinstance(offset, int):
        return (i + offset) - j
    off = xp.reshape(xp.astype(offset, xp.int64), (-1, 1, 1, 1))
    return (i + off) - j


def _attention_bias(xp, attn_mask, dtype, sq, sk, offset, is_causal, left, right, nonpad):
    """The combined additive bias (broadcastable to [B, H, Sq, Sk]) or None."""
    parts = []
    if attn_mask is not None:
        mask = _pad_mask(xp, attn_mask, sk)
        if mask.dtype == xp.bool:
            parts.append(_neg_inf_where_not(xp, mask, dtype))
        else:
            parts.append(xp.astype(mask, dtype, copy=False))
    if is_causal or left >= 0 or right >= 0:
        # Causal and window bounds share the query's absolute position i + offset.
        diff = _query_key_offsets(xp, sq, sk, offset)
        allowed = diff >= 0 if is_causal else None
        if left >= 0:
            allowed = (diff <= left) if allowed is None else (allowed & (diff <= left))
        if right >= 0:
            allowed = (-diff <= right) if allowed is None else (allowed & (-diff <= right))
        parts.append(_neg_inf_where_not(xp, allowed, dtype))
    if nonpad is not None:
        keys = xp.reshape(xp.arange(sk, dtype=xp.int64), (1, 1, 1, sk))
        valid = keys < xp.reshape(xp.astype(nonpad, xp.int64), (-1, 1, 1, 1))
        parts.append(_neg_inf_where_not(xp, valid, dtype))
    if not parts:
        return None
    bias = parts[0]
    for p in parts[1:]:
        bias = bias + p
    return bias


def _attention_core(xp, Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen, *,
                    is_causal, kv_num_heads, q_num_heads, qk_matmul_output_mode, scale,
                    softcap, softmax_precision, left_window_size, right_window_size, n_outputs):
    if (past_key is None) != (past_value is None):
        raise ValueError("Attention: past_key and past_value must be given together")
    if nonpad_kv_seqlen is not None and past_key is not None:
        raise ValueError("Attention: nonpad_kv_seqlen cannot be combined with past_key/past_value")
    is_3d = Q.ndim == 3
    if is_3d:
        if q_num_heads is None or kv_num_heads is None:
            raise ValueError("Attention: 3-D inputs need q_num_heads and kv_num_heads")
        Q = _split_heads(xp, Q, q_num_heads)
        K = _split_heads(xp, K, kv_num_heads)
        V = _split_heads(xp, V, kv_num_heads)
    dtype = Q.dtype

    if past_key is not None:
        K = xp.concat([past_key, K], axis=2)
        V = xp.concat([past_value, V], axis=2)
    present_key, present_value = K, V

    # Scaling Q and K by sqrt(scale) each (in the input precision) keeps Q.K^T in range.
    if scale is None:
        scale = 1.0 / math.sqrt(Q.shape[-1])
    root = xp.asarray(math.sqrt(scale), dtype=dtype)
    scores = xp.astype(_grouped_matmul(xp, Q * root, xp.matrix_transpose(K * root)), dtype, copy=False)
    raw_scores = scores
    if softcap and softcap > 0:
        cap = xp.asarray(softcap, dtype=dtype)
        scores = xp.tanh(scores / cap) * cap

    sq, sk = Q.shape[2], K.shape[2]
    if past_key is not None:
        offset = int(past_key.shape[2])
    elif nonpad_kv_seqlen is not None:
        offset = xp.asarray(nonpad_kv_seqlen) - sq
    else:
        offset = 0
    bias = _attention_bias(xp, attn_mask, dtype, sq, sk, offset, is_causal,
                           left_window_size, right_window_size, nonpad_kv_seqlen)
    biased = scores if bias is None else scores + bias

    probs_in = biased
    if softmax_precision is not None:
        probs_in = astype(xp, biased, _np_dtype_of_tensor_type(softmax_precision))
    probs = _masked_softmax(xp, probs_in)
    if bias is not None:
        # Fully-masked rows are decided on the bias, so a NaN/inf score cannot leak through.
        empty = xp.max(bias, axis=-1, keepdims=True) == -math.inf
        probs = xp.where(empty, xp.zeros((), dtype=probs.dtype), probs)
    probs = xp.astype(probs, dtype, copy=False)

    Y = xp.astype(_grouped_matmul(xp, probs, V), dtype, copy=False)
    if is_3d:
        Y = _merge_heads(xp, Y)

    qk_out = None
    if n_outputs is None or n_outputs > 3:
        qk_out = {0: raw_scores, 1: scores, 2: biased, 3: probs}[int(qk_matmul_output_mode)]
        qk_out = xp.astype(qk_out, dtype, copy=False)
        if qk_out.shape != probs.shape:
            qk_out = xp.broadcast_to(qk_out, probs.shape)
    outs = (Y, present_key, present_value, qk_out)
    return outs[: max(n_outputs, 1)] if n_outputs is not None else outs


@op("Attention", since=(23, 24, 25))
def attention(xp, Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *,
              is_causal=0, kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None,
              softcap=0.0, softmax_precision=None, left_window_size=-1, right_window_size=-1,
              _n_outputs=None):
    return _attention_core(
        xp, Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen,
        is_causal=is_causal, kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
        qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
        softmax_precision=softmax_precision, left_window_size=left_window_size,
        right_window_size=right_window_size, n_outputs=_n_outputs,
    )


# --------------------------------------------------------------------------- RotaryEmbedding


@op("RotaryEmbedding", since=23)
def rotary_embedding(xp, X, cos_cache, sin_cache, position_ids=None, *,
                     interleaved=0, num_heads=None, rotary_embedding_dim=0):
    orig_shape = X.shape
    if X.ndim == 3:
        if not num_heads:
            raise ValueError("RotaryEmbedding: 3-D input needs num_heads")
        b, s, hidden = X.shape
        x = xp.reshape(X, (b, s, num_heads, hidden // num_heads))  # [B, S, H, D]
        head_axis = 2
    else:
        x = X  # [B, H, S, D]
        head_axis = 1
    d = x.shape[-1]
    rd = rotary_embedding_dim or d
    half = rd // 2

    if position_ids is not None:
        ids = xp.astype(xp.asarray(position_ids), xp.int64)
        cos = xp.take(cos_cache, xp.reshape(ids, (-1,)), axis=0)
        sin = xp.take(sin_cache, xp.reshape(ids, (-1,)), axis=0)
        cos = xp.reshape(cos, tuple(ids.shape) + (cos_cache.shape[-1],))
        sin = xp.reshape(sin, tuple(ids.shape) + (sin_cache.shape[-1],))
    else:
        cos, sin = cos_cache, sin_cache  # already [B, S, rd/2]
    if cos.shape[-1] != half:
        raise ValueError(f"RotaryEmbedding: cache width {cos.shape[-1]} != rotary dim / 2 ({half})")
    # Insert the head axis so [B, S, rd/2] broadcasts against x.
    cos = xp.expand_dims(cos, axis=head_axis)
    sin = xp.expand_dims(sin, axis=head_axis)

    rot, rest = x[..., :rd], x[..., rd:]
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot[..., :half], rot[..., half:]
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    if interleaved:
        rotated = xp.reshape(xp.stack([real, imag], axis=-1), rot.shape)
    else:
        rotated = xp.concat([real, imag], axis=-1)
    out = xp.concat([rotated, rest], axis=-1) if rd < d else rotated
    return xp.astype(xp.reshape(out, orig_shape), X.dtype, copy=False)


# --------------------------------------------------------------------------- LinearAttention


def _accum_dtype(xp, dtype):
    """Recurrent state precision: at least float32."""
    return xp.float64 if dtype == xp.float64 else xp.float32


def _per_head(xp, x, b, t, heads, acc):
    """(B, T, H * n) -> (B, H, T, n) in the accumulation dtype."""
    n = x.shape[-1] // heads
    x = xp.reshape(xp.astype(x, acc), (b, t, heads, n))
    return xp.permute_dims(x, (0, 2, 1, 3))


def _check_linear_inputs(update_rule, decay, beta, q_num_heads, kv_num_heads):
    if update_rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ValueError(f"LinearAttention: unknown update_rule {update_rule!r}")
    if q_num_heads <= 0 or kv_num_heads <= 0 or q_num_heads % kv_num_heads:
        raise ValueError("LinearAttention: q_num_heads must be a positive multiple of kv_num_heads")
    gated = update_rule in ("gated", "gated_delta")
    delta = update_rule in ("delta", "gated_delta")
    for name, needed, given in (("decay", gated, decay), ("beta", delta, beta)):
        if needed != (given is not None):
            verb = "needs" if needed else "forbids"
            raise ValueError(f"LinearAttention: update_rule {update_rule!r} {verb} the {name} input")
    return gated, delta


@op("LinearAttention", since=27)
def linear_attention(xp, query, key, value, past_state=None, decay=None, beta=None, *,
                     chunk_size=64, kv_num_heads, q_num_heads, scale=0.0, update_rule="gated_delta"):
    gated, delta = _check_linear_inputs(update_rule, decay, beta, q_num_heads, kv_num_heads)
    out_dtype = query.dtype
    acc = _accum_dtype(xp, out_dtype)
    b, t, _ = query.shape
    dk = query.shape[-1] // q_num_heads
    dv = value.shape[-1] // kv_num_heads
    group = q_num_heads // kv_num_heads
    if gated and decay.shape[-1] not in (kv_num_heads, kv_num_heads * dk):
        raise ValueError("LinearAttention: decay width must be kv_num_heads or kv_num_heads * d_k")
    if delta and beta.shape[-1] not in (kv_num_heads, 1):
        raise ValueError("LinearAttention: beta width must be kv_num_heads or 1")

    q = _per_head(xp, query, b, t, q_num_heads, acc)
    # Query heads grouped under their KV head: [B, Hkv, G, T, dk].
    q = xp.reshape(q, (b, kv_num_heads, group, t, dk))
    k = _per_head(xp, key, b, t, kv_num_heads, acc)
    v = _per_head(xp, value, b, t, kv_num_heads, acc)
    # decay is per head (width Hkv) or per key dim (width Hkv * dk): either way [B, Hkv, T, 1|dk].
    g = _per_head(xp, decay, b, t, kv_num_heads, acc) if gated else None
    bt = _per_head(xp, beta, b, t, beta.shape[-1], acc) if delta else None

    if past_state is not None:
        state_dtype = past_state.dtype
        state = xp.astype(past_state, acc)
    else:
        state_dtype = out_dtype
        state = xp.zeros((b, kv_num_heads, dk, dv), dtype=acc)
    s = float(scale) if scale else 1.0 / math.sqrt(dk)

    outs = []
    for i in range(t):
        k_t, v_t = k[:, :, i, :], v[:, :, i, :]
        if gated:
            state = state * xp.exp(g[:, :, i, :])[..., None]
        if delta:
            # What the state currently recalls for k_t: S^T k_t, [B, Hkv, dv].
            recalled = xp.matmul(k_t[:, :, None, :], state)[:, :, 0, :]
            v_t = bt[:, :, i, :] * (v_t - recalled)
        state = state + k_t[..., :, None] * v_t[..., None, :]
        # [B, Hkv, G, dk] @ [B, Hkv, dk, dv] -> [B, Hkv, G, dv]
        outs.append(xp.matmul(q[:, :, :, i, :], state) * s)
    o = xp.stack(outs, axis=3) if t else xp.zeros((b, kv_num_heads, group, 0, dv), dtype=acc)
    # [B, Hkv, G, T, dv] -> [B, T, Hq * dv]
    o = xp.reshape(xp.permute_dims(o, (0, 3, 1, 2, 4)), (b, t, q_num_heads * dv))
    return xp.astype(o, out_dtype), xp.astype(state, state_dtype)


# --------------------------------------------------------------------------- FlexAttention


def _flex_softmax_dtype(xp, dtype, softmax_precision):
    if softmax_precision is not None:
        return backend_dtype(xp, _np_dtype_of_tensor_type(softmax_precision))
    return xp.float64 if dtype == xp.float64 else xp.float32


def _call_mod(fn, x, dtype, xp):
    out = fn(x)
    if isinstance(out, (list, tuple)):
        out = out[0]
    return xp.astype(xp.asarray(out), dtype, copy=False)


@op("FlexAttention", 1, domain=PREVIEW_DOMAIN)
def flex_attention(xp, Q, K, V, *, prob_mod=None, scale=None, score_mod=None, softmax_precision=None):
    if Q.ndim != 4 or K.ndim != 4 or V.ndim != 4:
        raise ValueError("FlexAttention: Q, K, V must be rank 4")
    dtype = Q.dtype
    if scale is None:
        scale = 1.0 / math.sqrt(Q.shape[-1])
    # Pre-scale both operands by sqrt(scale) in the input precision, as Attention does.
    root = xp.asarray(float(np.sqrt(np.float32(scale))), dtype=dtype)
    scores = _grouped_matmul(xp, Q * root, xp.matrix_transpose(K * root))
    cdtype = _flex_softmax_dtype(xp, dtype, softmax_precision)
    scores = xp.astype(scores, cdtype)
    if score_mod is not None:
        scores = _call_mod(score_mod, scores, cdtype, xp)
    m = xp.max(scores, axis=-1, keepdims=True)
    e = xp.exp(scores - m)
    probs = e / xp.sum(e, axis=-1, keepdims=True)
    if prob_mod is not None:
        probs = _call_mod(prob_mod, probs, cdtype, xp)
    out = _grouped_matmul(xp, probs, xp.astype(V, cdtype))
    return xp.astype(out, V.dtype)
