"""Scaled-dot-product attention spelled out in elementary ops becomes one Attention-23 node:

    S = MatMul(Q, Transpose(K))  [* or / a scalar]     (or Q and K each carrying a scalar factor)
    S = Where(keep, S, fill)                           optional: a boolean select (GPT-2's causal mask)
    S = S + mask                                       optional: an additive mask, either operand order
    P = Softmax(S, axis=-1)  [Dropout / Identity]  [Where(IsNaN(P), 0, P)]
    Y = MatMul(P, V)

with Q, K, V of rank 4 ([batch, heads, seq, head_size]); K may also arrive already transposed.
Only where the model imports opset >= 23, and only where Q, K and V agree on batch and heads
(MatMul broadcasts them, Attention does not). A constant mask that is exactly the causal
triangle becomes ``is_causal=1``; any other mask is kept as ``attn_mask``.

Rows that keep no key are where Attention and Softmax differ (see attention_masks). The fusion
is made as is when no such row can occur, or when the model already turns their NaN into 0
(torch's export of a boolean mask); otherwise a guard puts the NaN back in those rows. A select
with a finite fill (-1e4, finfo.min) becomes a -inf bias: exact on every row that keeps a key,
as long as the fill is at most MASKING_FILL and the kept scores are more than ~100 above it (exp
of the difference underflows to 0 both ways); a row that keeps no key would be uniform there,
which Attention cannot give, so the fill must provably never take a whole row. A float mask that
may hold rows of finfo.min (transformers' padding) gets that value lifted one step, because
onnxruntime's Attention zeroes such rows where Softmax and the spec give uniform ones.

onnxruntime requires ``attn_mask`` to have the last two dims [q_seq, kv_seq]: a mask that
broadcasts over them is expanded first. Nodes that depend on a mask alone (its expansion to a
static shape, the lifted lowest float, the guard's row test) are made once per mask and shared
by every attention that reads it.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from ..ir.builder import make_attribute
from ..ir.node import Node
from ..ir.value import Value
from .attention_masks import (FLOAT_TYPES, MASKING_FILL, broadcast_dims, causal_float, causal_keep,
                              dims_agree, keeps_a_key, mask_fits, np_dtype, plan_float_mask, same_dim)
from .base import NodePass
from .edit import add_constant, unlink
from .identity_elimination import _dropout_is_identity
from .match import only_reader, produced_by

_BOOL = onnx.TensorProto.BOOL
_EMITTED = ("Attention", "Transpose", "Expand", "Shape", "Concat", "Not", "Where", "ReduceMax", "Greater",
            "Max", "Equal")


def _sole(v, ctx) -> bool:
    """``v`` is read by one node only (the next node of the pattern), so the fusion removes its producer."""
    return only_reader(v, ctx) is not None


def _scalar_factor(v, ctx) -> float | None:
    """The value of a one-element floating constant that keeps its operand's rank (<= 4), else None."""
    c = ctx.const(v)
    if c is None or c.size != 1 or c.ndim > 4 or c.dtype.kind != "f":
        return None
    k = float(c.reshape(-1)[0])
    return k if math.isfinite(k) and k != 0 else None


def _peel_scale(v, graph, ctx, *, sole: bool):
    """(x, factor) with ``v`` = x * factor through Mul / Div by scalar constants (factor 1.0 when none)."""
    factor = 1.0
    for _ in range(4):
        p = produced_by(v, ("Mul", "Div"), graph, ctx)
        if p is None or (sole and not _sole(v, ctx)):
            break
        a, b = p.inputs[0], p.inputs[1]
        if p.op_type == "Div":
            k = _scalar_factor(b, ctx)
            k, x = (None, None) if k is None else (1.0 / k, a)
        else:
            k, x = _scalar_factor(b, ctx), a
            if k is None:
                k, x = _scalar_factor(a, ctx), b
        if k is None:
            break
        factor *= k
        v = x
    return v, factor


def _scalar_const(v, ctx) -> float | None:
    c = ctx.const(v)
    if c is None or c.size != 1 or c.ndim > 4 or c.dtype.kind != "f":
        return None
    return float(c.reshape(-1)[0])


def _select(v, graph, ctx):
    """(condition, kept-when, fill, scores) for Where(c, scores, fill) or Where(c, fill, scores)."""
    w = produced_by(v, "Where", graph, ctx)
    if w is None or not _sole(v, ctx) or ctx.elem_type(w.inputs[0]) != _BOOL:
        return None
    c, a, b = w.inputs
    for scores, fill_v, keep in ((a, b, True), (b, a, False)):
        fill = _scalar_const(fill_v, ctx)
        if fill is not None and fill <= MASKING_FILL:
            return c, keep, fill, scores
    return None


def _score_chain(v, graph, ctx):
    """(QK MatMul, factor, select) when ``v`` is [Where-select of] [scaled] MatMul(Q, Kt), else None."""
    sel = _select(v, graph, ctx)
    if sel is not None:
        v = sel[3]
    v, factor = _peel_scale(v, graph, ctx, sole=True)
    qk = produced_by(v, "MatMul", graph, ctx)
    if qk is None or not _sole(v, ctx) or ctx.rank(v) != 4:
        return None
    return qk, factor, sel


def _masked_where(v, graph, ctx):
    """(condition, kept-when) when ``v`` is Where(c, 0, -inf) or Where(c, -inf, 0) (torch's bool mask)."""
    w = produced_by(v, "Where", graph, ctx)
    if w is None or ctx.elem_type(w.inputs[0]) != _BOOL:
        return None
    a, b = _scalar_const(w.inputs[1], ctx), _scalar_const(w.inputs[2], ctx)
    if a == 0 and b == -math.inf:
        return w.inputs[0], True
    if a == -math.inf and b == 0:
        return w.inputs[0], False
    return None


def _skip_identities(p, ctx):
    """``p`` past a chain of Identity / inference Dropout nodes (None when a Dropout is random)."""
    for _ in range(4):
        r = only_reader(p, ctx)
        if r is None or r.op_type not in ("Identity", "Dropout") or not ctx.is_standard(r):
            break
        if r.op_type == "Dropout" and not _dropout_is_identity(r, ctx):
            return None
        p = r.outputs[0]
    return p


def _nan_to_zero(p, ctx):
    """The output of Where(IsNaN(p), 0, p) when that is all that reads ``p``, else None."""
    readers = {id(n): n for n, _ in p.uses}
    if len(readers) != 2 or ctx.is_pinned(p):
        return None
    isnan = next((n for n in readers.values() if n.op_type == "IsNaN" and ctx.is_standard(n)), None)
    where = next((n for n in readers.values() if n.op_type == "Where" and ctx.is_standard(n)), None)
    if isnan is None or where is None or only_reader(isnan.outputs[0], ctx) is not where:
        return None
    if where.inputs[0] is not isnan.outputs[0] or where.inputs[2] is not p:
        return None
    return where.outputs[0] if _scalar_const(where.inputs[1], ctx) == 0 else None


def _probabilities_reader(sm, ctx):
    """(final MatMul, whether a NaN-to-zero guard sits between) for the Softmax ``sm``."""
    p = _skip_identities(sm.outputs[0], ctx)
    guarded = _nan_to_zero(p, ctx) if p is not None else None
    if guarded is not None:
        p = _skip_identities(guarded, ctx)
    mm = only_reader(p, ctx) if p is not None else None
    if mm is None or mm.op_type != "MatMul" or not ctx.is_standard(mm) or mm.inputs[0] is not p:
        return None, False
    return mm, guarded is not None


class _Match:
    """What the rewrite needs, gathered by ``AttentionFusion.match``."""

    def __init__(self):
        self.q = self.k_src = self.v = None
        self.k_perm = None
        self.scale = 1.0
        self.elem_type = None
        self.scores = None  # [B, H, Sq, Skv] as far as known
        self.keep = None  # (bool value, kept-when) from a select or a Where(c, 0, -inf) mask
        self.fill = None  # the select's fill (-inf for a converted Where mask)
        self.mask = None  # additive float mask
        self.lift = None  # how the mask's lowest float is lifted (attention_masks.plan_float_mask)
        self.is_causal = False
        self.nan_guarded = False  # the model already turns NaN probabilities into 0
        self.guard = False  # we put NaN back in rows with no key


class AttentionFusion(NodePass):
    name = "attention_fusion"
    op_types = frozenset({"Softmax"})

    def __init__(self):
        self._shared: dict = {}  # (graph, what, input ids) -> (inputs, value): nodes made once per mask

    def match(self, sm, graph, ctx):
        if ctx.opset("") < 23 or any(("", op, "") in ctx.model.functions for op in _EMITTED):
            return None
        x = sm.inputs[0]
        if ctx.rank(x) != 4 or sm.attr("axis", -1) not in (-1, 3) or not _sole(x, ctx):
            return None
        last, nan_guarded = _probabilities_reader(sm, ctx)
        if last is None:
            return None
        chain, mask = _score_chain(x, graph, ctx), None
        add = produced_by(x, "Add", graph, ctx)
        if chain is None and add is not None and add.inputs[0] is not add.inputs[1]:
            for s, other in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
                chain = _score_chain(s, graph, ctx)
                if chain is not None:
                    mask = other
                    break
        if chain is None:
            return None
        qk, factor, sel = chain
        m = _Match()
        m.nan_guarded = nan_guarded
        if not self._operands(m, qk, last, factor, graph, ctx) or not self._masks(m, sel, mask, graph, ctx):
            return None
        return lambda: self._rewrite(m, last, graph, ctx)

    # ----------------------------------------------------------------- Q, K, V and the scale
    def _operands(self, m, qk, last, factor, graph, ctx) -> bool:
        q, fq = _peel_scale(qk.inputs[0], graph, ctx, sole=False)
        kt, fk = _peel_scale(qk.inputs[1], graph, ctx, sole=False)
        t = produced_by(kt, "Transpose", graph, ctx)
        if t is not None:
            perm = list(t.attr("perm") or [3, 2, 1, 0])
            k_src, fk2 = _peel_scale(t.inputs[0], graph, ctx, sole=False)
            k_perm = [perm[0], perm[1], perm[3], perm[2]] if len(perm) == 4 else None
        else:
            k_src, fk2, k_perm = kt, 1.0, [0, 1, 3, 2]
        v = last.inputs[1]
        scale = factor * fq * fk * fk2
        if not (scale > 0 and math.isfinite(scale)):
            return False  # Attention scales Q and K by sqrt(scale)
        if k_perm is None or any(ctx.rank(a) != 4 for a in (q, k_src, v)):
            return False
        et = ctx.elem_type(q)
        if et not in FLOAT_TYPES or ctx.elem_type(k_src) != et or ctx.elem_type(v) != et:
            return False
        qs, vs = ctx.shape(q), ctx.shape(v)
        ks = [ctx.shape(k_src)[i] for i in k_perm]
        same = ((qs[0], ks[0], vs[0]), (qs[1], ks[1], vs[1]), (ks[2], vs[2]), (qs[3], ks[3]))  # B, H, Skv, D
        if not all(dims_agree(a, b) for dims in same for i, a in enumerate(dims) for b in dims[i + 1:]):
            return False  # MatMul would broadcast batch or heads; Attention does not
        m.q, m.k_src, m.k_perm, m.v = q, k_src, k_perm, v
        m.scale, m.elem_type = scale, et
        m.scores = [qs[0], qs[1], qs[2], ks[2]]
        return True

    # ----------------------------------------------------------------- masks
    def _masks(self, m, sel, mask, graph, ctx) -> bool:
        sq, skv = m.scores[2], m.scores[3]
        if mask is not None:
            if ctx.elem_type(mask) != m.elem_type or not mask_fits(ctx.shape(mask), m.scores):
                return False
            if sel is None:
                as_bool = _masked_where(mask, graph, ctx)
                c = ctx.const(mask)
                if as_bool is not None:  # adding 0 / -inf is masking with the condition itself
                    sel, mask = (as_bool[0], as_bool[1], -math.inf, None), None
                elif c is not None and causal_float(c, sq, skv):
                    m.is_causal, mask = True, None
        rows_keep = True
        if sel is not None:
            c, keep, fill, _ = sel
            if not mask_fits(ctx.shape(c), m.scores):
                return False
            c_arr = ctx.const(c)
            if c_arr is not None and causal_keep(c_arr.astype(bool) == keep, sq, skv):
                m.is_causal = True
            else:
                m.keep = (c, keep)
                rows_keep = keeps_a_key(c, keep, graph, ctx)
            m.fill = fill
            if not rows_keep and fill != -math.inf:
                return False  # a row that keeps no key is uniform there, and Attention cannot give that
        rows_mask = True
        if mask is not None:
            plan = plan_float_mask(mask, graph, ctx, alone=m.keep is None and not m.is_causal)
            if plan is None:
                return False
            rows_mask, m.lift = plan
            m.mask = mask
        if rows_keep and rows_mask:
            return True
        if m.fill is not None and m.fill != -math.inf:
            return False  # the spelled-out row is finite there: neither 0 nor NaN
        if m.nan_guarded:
            return True
        if m.is_causal:
            return False  # a guard would need the causal part too
        m.guard = True
        return True

    # ----------------------------------------------------------------- the rewrite
    def _constant(self, graph, ctx, name: str, array: np.ndarray) -> Value:
        key = (id(graph), "const", name, array.dtype.str, array.tobytes())
        hit = self._shared.get(key)
        if hit is None or hit[1] is not graph.initializers.get(hit[1].name):
            hit = (graph, add_constant(graph, array, f"attention_{name}", ctx))
            self._shared[key] = hit
        return hit[1]

    def _shared_node(self, graph, ctx, op: str, inputs: list, hint: str, **attrs) -> Value:
        """A node that depends only on ``inputs`` (values defined before the pattern), made once and
        placed right after the last of their producers, so that every attention reading it can."""
        key = (id(graph), op, tuple(id(v) for v in inputs), tuple(sorted(attrs.items())))
        hit = self._shared.get(key)
        if hit is not None:
            out = hit[1]
            if out.producer is not None and out.producer.graph is graph:
                return out
        out = Value(ctx.new_name(hint))
        node = Node(op, inputs, [out], name=ctx.new_name(hint),
                    attributes=[make_attribute(k, a) for k, a in attrs.items()])
        nodes = graph.nodes
        where = {id(n): i for i, n in enumerate(nodes)}
        after = [where[id(v.producer)] for v in inputs if v.producer is not None and id(v.producer) in where]
        graph.insert(max(after) + 1 if after else 0, node)
        self._shared[key] = (inputs, out)  # keeps the inputs alive: their ids stay theirs
        return out

    def _attn_mask(self, m, graph, ctx):
        """The attn_mask value (None without one) and the guard's row test (None without a guard)."""
        dtype = np_dtype(m.elem_type)
        mask = m.mask
        if isinstance(m.lift, np.ndarray):
            mask = self._constant(graph, ctx, "mask_lifted", m.lift)
        elif m.lift is not None:
            lowest = np.finfo(dtype).min
            up = np.array(np.nextafter(lowest, dtype.type(0)), dtype)
            up = self._constant(graph, ctx, "lowest_lifted", up)
            if m.lift == "max":
                mask = self._shared_node(graph, ctx, "Max", [mask, up], "attention_mask_lifted")
            else:
                low = self._constant(graph, ctx, "lowest", np.array(lowest, dtype))
                at_lowest = self._shared_node(graph, ctx, "Equal", [mask, low], "attention_mask_at_lowest")
                mask = self._shared_node(graph, ctx, "Where", [at_lowest, up, mask], "attention_mask_lifted")
        if m.keep is not None:
            c, keep = m.keep
            if mask is not None:  # one float mask: the additive one where kept, -inf elsewhere
                neg_inf = self._constant(graph, ctx, "neg_inf", np.array(-np.inf, dtype))
                branches = [mask, neg_inf] if keep else [neg_inf, mask]
                mask = self._shared_node(graph, ctx, "Where", [c, *branches], "attention_mask")
            else:
                mask = c if keep else self._shared_node(graph, ctx, "Not", [c], "attention_keep")
        row_ok = None
        if m.guard:  # on the mask as given: a row of one broadcast key reduces just as well
            axes = self._constant(graph, ctx, "last_axis", np.array([-1], np.int64))
            row_ok = self._shared_node(graph, ctx, "ReduceMax", [mask, axes], "attention_row_max", keepdims=1)
            if m.mask is not None:  # a float mask: the row keeps a key where its largest bias is above -inf
                neg_inf = self._constant(graph, ctx, "neg_inf", np.array(-np.inf, dtype))
                row_ok = self._shared_node(graph, ctx, "Greater", [row_ok, neg_inf], "attention_row_ok")
        return mask, row_ok

    def _mask_shape(self, m, ctx):
        if m.keep is not None and m.mask is not None:
            ms, cs = ctx.shape(m.mask), ctx.shape(m.keep[0])
            return broadcast_dims(ms, cs) if ms is not None and cs is not None else None
        return ctx.shape(m.keep[0] if m.keep is not None else m.mask)

    def _rewrite(self, m, last, graph, ctx) -> None:
        hint = (last.name or "attention").replace("/", "_")
        sq, skv = m.scores[2], m.scores[3]
        attn_mask, row_ok = self._attn_mask(m, graph, ctx)
        expand = False
        if attn_mask is not None:
            ms = self._mask_shape(m, ctx)
            expand = ms is None or len(ms) < 2 or not same_dim(ms[-2], sq) or not same_dim(ms[-1], skv)
        if expand and isinstance(sq, int) and isinstance(skv, int):
            target = self._constant(graph, ctx, "mask_shape", np.array([sq, skv], np.int64))
            attn_mask = self._shared_node(graph, ctx, "Expand", [attn_mask, target], "attention_mask_full")
            expand = False
        nan = self._constant(graph, ctx, "nan", np.array(np.nan, np_dtype(m.elem_type))) if row_ok is not None else None

        new: list[Node] = []

        def emit(op, inputs, name, **attrs) -> Value:
            out = Value(ctx.new_name(f"{hint}_{name}"))
            new.append(Node(op, inputs, [out], name=ctx.new_name(f"{hint}_{name}"),
                            attributes=[make_attribute(k, a) for k, a in attrs.items()]))
            return out

        k = m.k_src if m.k_perm == [0, 1, 2, 3] else emit("Transpose", [m.k_src], "key", perm=m.k_perm)
        if expand:  # lengths known only at run time
            q_len = emit("Shape", [m.q], "q_len", start=2, end=3)
            kv_len = emit("Shape", [m.v], "kv_len", start=2, end=3)
            target = emit("Concat", [q_len, kv_len], "mask_shape", axis=0)
            attn_mask = emit("Expand", [attn_mask, target], "mask")
        y = last.outputs[0]
        inputs = [m.q, k, m.v] + ([attn_mask] if attn_mask is not None else [])
        attrs = [make_attribute("scale", float(np.float32(m.scale)))]
        if m.is_causal:
            attrs.append(make_attribute("is_causal", 1))
        index = graph.nodes.index(last)
        unlink(last)
        out = y if row_ok is None else Value(ctx.new_name(f"{hint}_unguarded"))
        new.append(Node("Attention", inputs, [out], name=last.name, attributes=attrs))
        if row_ok is not None:  # Softmax gives NaN in a row with no key, Attention gives 0
            new.append(Node("Where", [row_ok, out, nan], [y], name=ctx.new_name(f"{hint}_nan_rows")))
        for i, n in enumerate(new):
            graph.insert(index + i, n)
