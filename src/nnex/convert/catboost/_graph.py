"""A CatBoost model as an ONNX graph: binary features, then oblivious trees.

Every comparison is made in float32, as CatBoost makes it (features and borders are
float32). Each categorical input (strings) becomes its CatBoost hash through a
LabelEncoder over the known values; a CTR's projection hash is chained in int64 with
CatBoost's CalcHash (wrap-around multiplication, as the unsigned 64-bit original), and a
second LabelEncoder maps it to the index of its row in a table of precomputed split bits.
The leaf index of every oblivious tree is one MatMul of the bits with powers of two;
non-symmetric trees (Depthwise, Lossguide) are one TreeEnsemble over the same bits.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx

from ...ir.value import Value
from ..sklearn._context import Ctx
from ..sklearn._forest import Tree, ensemble
from ._model import MAGIC, UNKNOWN_HASH, Model, Split, ctr_table, signed32, signed64

_I64 = onnx.TensorProto.INT64
_F32 = onnx.TensorProto.FLOAT


class _Features:
    """The model's inputs as float32 columns and int64 categorical hashes."""

    def __init__(self, ctx: Ctx, model: Model, floats: Value, cats: list[Value]):
        self.ctx, self.model = ctx, model
        self.floats = floats  # (N, n_float) float32, in float feature order
        self.cats = cats  # per cat feature: (N, 1) int64 hash
        self._float_cols: dict[int, Value] = {}

    def float_col(self, i: int) -> Value:
        if i not in self._float_cols:
            self._float_cols[i] = self.ctx.col(self.floats, i)
        return self._float_cols[i]

    def bit(self, s: Split) -> Value:
        """(N, 1) bool of a float or one-hot split."""
        op = self.ctx.op
        if s.kind == "float":
            x = self.float_col(s.feature)
            above = op.Greater(x, self.ctx.b.const(np.asarray(s.border, np.float32)))
            if self.model.float_features[s.feature].get("nan_value_treatment") in ("AsTrue", "Max"):
                above = op.Or(above, op.IsNaN(x))
            return above
        return op.Equal(self.cats[s.feature], self.ctx.b.const(np.asarray(s.value, np.int64)))


def raw_scores(ctx: Ctx, model: Model, floats: Value, cats: list[Value]) -> Value:
    """(N, dim) ``scale * sum(leaf values) + bias`` in the context's float type."""
    feats = _Features(ctx, model, floats, cats)
    # a tree without splits (depth 0: CatBoost grows them, e.g. for MultiClassOneVsAll) is a constant
    trees = [(idx, values) for idx, values in model.trees if idx]
    constant = sum((values[0] for idx, values in model.trees if not idx), np.zeros(model.dim))
    free = [t for t in model.free_trees if len(t.left) > 1]
    constant = constant + sum((t.values[0] for t in model.free_trees if len(t.left) == 1), np.zeros(model.dim))
    used = sorted({i for idx, _ in trees for i in idx} | {int(f) for t in free for f in t.feature if f >= 0})
    if not used:
        rows = ctx.op.Shape(floats if floats is not None else cats[0], start=0, end=1)
        value = model.scale * constant + model.bias
        return ctx.op.Expand(ctx.const(value.reshape(1, -1)), ctx.op.Concat(rows, ctx.i64([model.dim]), axis=0))
    bits = _bits(ctx, feats, model, used)  # (N, len(used)) 0/1 in float32
    pos = {s: j for j, s in enumerate(used)}
    parts = []
    if trees:
        parts.append(_oblivious(ctx, model, bits, pos, trees))
    if free:
        parts.append(_free_trees(ctx, model, bits, pos, free))
    s = parts[0] if len(parts) == 1 else ctx.op.Add(*parts)
    if np.any(constant):
        s = ctx.op.Add(s, ctx.const(constant.reshape(1, -1)))
    if model.scale != 1.0:
        s = ctx.op.Mul(s, ctx.scalar(model.scale))
    return ctx.op.Add(s, ctx.const(model.bias.reshape(1, -1)))


def _free_trees(ctx: Ctx, model: Model, bits: Value, pos: dict[int, int], free: list[Tree]) -> Value:
    """(N, dim) sum of the non-symmetric trees: one TreeEnsemble over the split bits, a
    node going right (the false branch of ``bit <= 0.5``) when its bit is 1."""
    remapped = [replace(t, feature=np.asarray([pos[int(f)] if f >= 0 else f for f in t.feature], np.int64))
                for t in free]
    x = bits if ctx.dtype == np.float32 else ctx.op.Cast(bits, to=ctx.elem)
    return ensemble(ctx, x, remapped, model.dim, round_to_float32=False)


def _oblivious(ctx: Ctx, model: Model, bits: Value, pos: dict[int, int], trees: list) -> Value:
    """(N, dim) sum of the oblivious trees' leaf values."""
    powers = np.zeros((len(pos), len(trees)), np.float32)
    offsets, leaves = [], []
    start = 0
    for t, (idx, values) in enumerate(trees):
        for d, s in enumerate(idx):
            powers[pos[s], t] += float(1 << d)
        offsets.append(start)
        leaves.append(values)
        start += len(values)
    leaf = ctx.op.MatMul(bits, ctx.b.const(powers))  # exact: integers below 2**24
    leaf = ctx.op.Add(ctx.op.Cast(leaf, to=_I64), ctx.i64(np.asarray(offsets).reshape(1, -1)))
    table = np.concatenate(leaves, axis=0)  # (total leaves, dim)
    picked = ctx.op.Gather(ctx.const(table), leaf, axis=0)  # (N, T, dim)
    return ctx.reduce("ReduceSum", picked, axis=1, keepdims=0)


def _bits(ctx: Ctx, feats: _Features, model: Model, used: list[int]) -> Value:
    cols: list[Value | None] = [None] * len(used)
    by_ctr: dict[int, list[tuple[int, float]]] = {}
    for j, s in enumerate(used):
        split = model.splits[s]
        if split.kind == "ctr":
            by_ctr.setdefault(split.ctr, []).append((j, split.border))
        else:
            cols[j] = ctx.op.Cast(feats.bit(split), to=_F32)
    for c, wanted in by_ctr.items():
        table = _ctr_bits(ctx, feats, model, c, [b for _, b in wanted])  # (N, len(wanted))
        for k, (j, _) in enumerate(wanted):
            cols[j] = ctx.col(table, k)
    return cols[0] if len(cols) == 1 else ctx.op.Concat(*cols, axis=1)


def _projection_hash(ctx: Ctx, feats: _Features, model: Model, c: int) -> Value:
    """(N, 1) int64: CalcHash chained over the projection's categorical hashes, then its bits."""
    op = ctx.op
    magic = ctx.b.const(np.asarray(signed64(MAGIC), np.int64))
    p = model.ctrs[c].projection
    h = None
    parts = [feats.cats[i] for i in p.cats] + [op.Cast(feats.bit(s), to=_I64) for s in p.binary]
    for v in parts:
        inner = op.Mul(v, magic) if h is None else op.Add(h, op.Mul(v, magic))
        h = op.Mul(inner, magic)
    return h


def _ctr_bits(ctx: Ctx, feats: _Features, model: Model, c: int, borders: list[float]) -> Value:
    """(N, len(borders)) float32 0/1: the CTR above each border."""
    keys, values, unseen = ctr_table(model, model.ctrs[c])
    b = np.asarray(borders, np.float32)
    rows = np.concatenate([values.reshape(-1, 1) > b.reshape(1, -1),
                           (np.float32(unseen) > b).reshape(1, -1)], axis=0).astype(np.float32)
    h = _projection_hash(ctx, feats, model, c)
    if keys:
        row = ctx.ml.LabelEncoder(h, keys_tensor=np.asarray([signed64(k) for k in keys], np.int64),
                                  values_tensor=np.arange(len(keys), dtype=np.int64),
                                  default_tensor=np.asarray([len(keys)], np.int64))
    else:
        row = ctx.op.Mul(h, ctx.i64(0))
    picked = ctx.op.Gather(ctx.b.const(rows), ctx.flat(row), axis=0)  # (N, len(borders))
    return picked


def cat_hash_input(ctx: Ctx, x: Value, hashes: dict[str, int]) -> Value:
    """(N, 1) strings -> (N, 1) int64 CatBoost hashes (unknown values: CatBoost's sentinel)."""
    keys = sorted(hashes)
    if not keys:
        return ctx.op.Expand(ctx.i64([[UNKNOWN_HASH]]), ctx.op.Shape(x))
    return ctx.ml.LabelEncoder(x, keys_tensor=np.asarray(keys, dtype=object),
                               values_tensor=np.asarray([signed32(hashes[k]) for k in keys], np.int64),
                               default_tensor=np.asarray([UNKNOWN_HASH], np.int64))
