"""ai.onnx.ml tree ensembles: TreeEnsemble (ml opset 5), TreeEnsembleRegressor and
TreeEnsembleClassifier (ml opsets 1 and 3).

All three are lowered to one flat form, ``_Forest``: internal nodes and leaves, each
leaf its own child on both sides, so that every (sample, tree) pair can take exactly
``depth`` steps.  Evaluation walks all the pairs of a chunk of samples down one level
per step with ``np.take``; Python loops over levels and chunks, never over samples or
trees.  Chunks keep the index arrays in cache, and pairs that reached their leaf are
dropped from the walk once they are the majority.  A few rows (the usual request to a
served model) are walked in one go without that bookkeeping: there the cost is the
number of NumPy calls per level, six, not the work they do.  Each ensemble node is
built once (``_common.per_node``): forest, leaf table, label table and the branch of
the op that applies.

Scores are summed in the type of the thresholds (float32 unless the ``*_as_tensor``
attributes are double), tree after tree in the order the trees are listed: that is
how onnxruntime sums them for batches of up to 50 rows, so the scores (and the labels
at exact ties, e.g. a forest split 50/50) come out bit for bit the same.  Larger
batches are split by onnxruntime across its threads, which only moves the last bit.
"""

from __future__ import annotations

import numpy as np

from ... import _jit
from ..registry import ML_DOMAIN, op
from ._common import (
    as_2d,
    class_labels,
    label_array,
    logistic,
    per_node,
    post_transform_scores,
    probit,
    to_xp,
    transform_name,
)

# node modes, numbered as TreeEnsemble (ml opset 5) numbers them
LEQ, LT, GTE, GT, EQ, NEQ, MEMBER = range(7)
_MODE_NAMES = {"BRANCH_LEQ": LEQ, "BRANCH_LT": LT, "BRANCH_GTE": GTE, "BRANCH_GT": GT,
               "BRANCH_EQ": EQ, "BRANCH_NEQ": NEQ, "BRANCH_MEMBER": MEMBER}
_COMPARE = {LEQ: np.less_equal, LT: np.less, GTE: np.greater_equal, GT: np.greater, EQ: np.equal,
            NEQ: np.not_equal}
_AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")

# (sample, tree) pairs walked together: small enough for their index arrays to stay in cache
_CHUNK = 1 << 16
# how often (in levels) the walk checks whether finished pairs are worth dropping
_COMPACT_EVERY = 3
# leaf weights gathered at once when summing the trees (values, not bytes)
_ACCUMULATE_BLOCK = 1 << 18
# batches with at most this many (sample, tree) pairs take the small-batch walk
_SMALL_WALK = 4096
# inputs the compiled walk takes (numba has no float16 comparisons)
_JIT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# table entries (8 bytes each) of the one-row walk by blocks of three levels, all blocks together
_BLOCK_ENTRIES = 1 << 20


class _Forest:
    """Flat trees, numbered for the walk.

    Of the n internal nodes and L leaves, internal node i is numbered 2 * i and leaf k
    -2 * (L - k): ``child[node + went_true]`` is the next node's number, the per-node
    tables (feature, threshold, mode, missing direction) hold each entry twice, and a
    leaf's negative number indexes the tables from their end, where the leaves' entries
    are (a leaf is its own child).  So a step neither doubles a number nor tells leaves
    apart, and a table of leaf weights with each row twice (``per_leaf``) is indexed by
    the final numbers as they are.
    """

    def __init__(self, feature, split, mode, true_id, false_id, missing_true, roots, n_leaves, members=None):
        # in: internal nodes 0..n-1, leaf k is node n + k
        n = len(feature)
        total = n + int(n_leaves)
        roots = np.asarray(roots, dtype=np.intp).reshape(-1)
        split = np.asarray(split)
        self.split_dtype = split.dtype
        feat = np.zeros(total, dtype=np.intp)
        feat[:n] = np.asarray(feature, dtype=np.intp)
        if n and feat[:n].min() < 0:
            raise ValueError("tree ensemble: a node reads a negative feature id")
        self.max_feature = int(feat.max()) if total else -1
        child = np.empty((total, 2), dtype=np.intp)
        child[:n, 0] = np.asarray(false_id, dtype=np.intp)
        child[:n, 1] = np.asarray(true_id, dtype=np.intp)
        if n and (child[:n].min() < 0 or child[:n].max() >= total):
            raise ValueError("tree ensemble: a node's child refers to no node")
        if roots.size and (roots.min() < 0 or roots.max() >= total):
            raise ValueError("tree ensemble: a tree root refers to no node")
        child[n:] = np.arange(n, total)[:, None]
        self.depth = self._depth(roots, child.reshape(-1), n)
        self.n_trees = len(roots)
        number = 2 * np.arange(total, dtype=np.intp)
        number[n:] -= 2 * total
        self.roots = number[roots]
        self.child = number[child].reshape(-1)
        self.feature = np.repeat(feat, 2)
        thresholds = np.zeros(total, dtype=split.dtype)
        thresholds[:n] = split
        self.split = np.repeat(thresholds, 2)
        mode = np.asarray(mode, dtype=np.int64).reshape(-1)
        present = np.unique(mode).tolist()
        self.modes = present
        self.same_mode = present[0] if len(present) == 1 and present[0] != MEMBER else None
        self.mode = None
        if self.same_mode is None:
            modes = np.full(total, LEQ, dtype=np.int64)
            modes[:n] = mode
            self.mode = np.repeat(modes, 2)
        # internal node (by its number) -> array of member values
        self.members = {2 * node: values for node, values in (members or {}).items()}
        missing = np.zeros(total, dtype=bool)
        missing[:n] = np.asarray(missing_true, dtype=bool).reshape(-1)[:n]
        self.any_missing = bool(missing.any())
        self.missing_true = np.repeat(missing, 2) if self.any_missing else None
        # the compiled walk's tables (_numba_trees.walk), None where it does not apply (member sets)
        self.jit_args = None
        if MEMBER not in present:
            self.jit_args = (self.roots, self.feature, self.split, self.child,
                             self.mode if self.mode is not None else np.zeros(0, dtype=np.int64),
                             -1 if self.same_mode is None else int(self.same_mode),
                             self.missing_true if self.any_missing else np.zeros(0, dtype=bool), int(self.depth))
        self._starts: dict = {}  # batch size -> (first nodes, row offsets) of the small-batch walk
        self._blocks = None  # the one-row walk three levels a step (_Blocks); False: not applicable

    @staticmethod
    def _depth(roots, child, n_internal) -> int:
        """Levels of the deepest tree (a cycle in the child links is an error)."""
        frontier = np.unique(roots)
        depth = 0
        while True:
            frontier = frontier[frontier < n_internal]
            if not frontier.size:
                return depth
            depth += 1
            if depth > n_internal:
                raise ValueError("tree ensemble: the child links form a cycle")
            frontier = np.unique(child[(2 * frontier[:, None] + np.arange(2)).reshape(-1)])

    @staticmethod
    def per_leaf(table: np.ndarray) -> np.ndarray:
        """A [L, ...] table of leaf rows made indexable by the leaves' numbers."""
        return np.repeat(table, 2, axis=0)

    def _check_features(self, n_features: int) -> None:
        if self.max_feature >= n_features:
            raise ValueError(f"tree ensemble: a node reads feature {self.max_feature} of inputs with "
                             f"{n_features} features")

    def ends(self, x: np.ndarray) -> np.ndarray:
        """[T, N] number of the leaf reached by each sample in each tree."""
        n, n_features = x.shape
        if self.max_feature >= n_features:
            self._check_features(n_features)
        if self.jit_args is not None and x.dtype in _JIT_DTYPES:
            jit = _jit.kernels("nnex.ops.ml._numba_trees")
            if jit is not None:
                out = np.empty((self.n_trees, n), dtype=np.intp)
                jit.walk(x, *self.jit_args, out)
                return out
        if n * self.n_trees <= _SMALL_WALK:
            return self._small_walk(x.reshape(-1), n, n_features).reshape(self.n_trees, n)
        out = np.empty(n * self.n_trees, dtype=np.intp)
        if out.size:
            xf = np.ascontiguousarray(x).reshape(-1)
            rows = max(1, _CHUNK // self.n_trees)
            for start in range(0, n, rows):
                stop = min(n, start + rows)
                out[start * self.n_trees: stop * self.n_trees] = self._walk(xf, start, stop, n_features)
        return out.reshape(n, self.n_trees).T

    def _small_walk(self, xf: np.ndarray, n: int, n_features: int) -> np.ndarray:
        """The walk of a few rows: all (tree, sample) pairs in one go (tree-major, as the sums
        over trees want them), to the deepest level, nothing dropped on the way: as few
        NumPy calls per level as the node modes allow, which is the cost at this size."""
        if n == 1:
            if self._blocks is None:
                self._blocks = _Blocks.build(self) or False
            if self._blocks:
                return self._blocks.walk(self, xf)
        start = self._starts.get(n)
        if start is None:
            node = np.repeat(self.roots, n)
            rows = np.arange(0, n * n_features, n_features, dtype=np.intp)
            base = None if n == 1 else np.tile(rows, self.n_trees)
            # the first level reads the roots, known in advance: where and against what
            at = self.feature.take(node) if base is None else base + self.feature.take(node)
            start = (node, base, at, self.split.take(node))
            if len(self._starts) < 16:
                self._starts[n] = start
        node, base, first_at, first_split = start
        feature, split, child = self.feature, self.split, self.child
        if self.same_mode is not None and not self.any_missing:
            compare = _COMPARE[self.same_mode]
            if self.depth:
                node = child.take(node + compare(xf.take(first_at), first_split))
            if base is None:
                for _ in range(1, self.depth):
                    node = child.take(node + compare(xf.take(feature.take(node)), split.take(node)))
            else:
                for _ in range(1, self.depth):
                    node = child.take(node + compare(xf.take(base + feature.take(node)), split.take(node)))
        else:
            for _ in range(self.depth):
                at = feature.take(node) if base is None else base + feature.take(node)
                node = child.take(node + self._go_true(node, xf.take(at)))
        return node

    def _walk(self, xf, start, stop, n_features) -> np.ndarray:
        """Final node of the pairs of rows start..stop (row-major), dropping finished pairs on the way."""
        n_trees = self.n_trees
        node = np.tile(self.roots, stop - start)
        base = np.repeat(np.arange(start * n_features, stop * n_features, n_features, dtype=np.intp), n_trees)
        result = None  # once pairs are dropped: the final node of every pair of the chunk
        where = None   # ... and the position in the chunk of each pair still walking
        for level in range(self.depth):
            xv = xf.take(base + self.feature.take(node))
            node = self.child.take(node + self._go_true(node, xv))
            if level % _COMPACT_EVERY == _COMPACT_EVERY - 1 and level + 1 < self.depth:
                walking = node >= 0  # leaves have negative numbers
                k = int(np.count_nonzero(walking))
                if 2 * k < node.size:
                    if result is None:
                        result, where = node.copy(), np.arange(node.size, dtype=np.intp)
                    else:
                        result[where] = node
                    where, node, base = where[walking], node[walking], base[walking]
                    if not k:
                        break
        if result is None:
            return node
        result[where] = node
        return result

    def _go_true(self, node: np.ndarray, xv: np.ndarray) -> np.ndarray:
        th = self.split.take(node)
        if self.same_mode is not None:
            cond = _COMPARE[self.same_mode](xv, th)
        else:
            mode = self.mode.take(node)
            cond = np.zeros(node.shape, dtype=bool)
            for m in self.modes:
                if m == MEMBER:
                    continue
                at = mode == m
                cond[at] = _COMPARE[m](xv[at], th[at])
            for m, values in self.members.items():
                at = node == m
                if at.any():
                    cond[at] = np.isin(xv[at], values)
        if self.any_missing:
            # NaN compares false (true for NEQ); nodes_missing_value_tracks_true sends it left
            cond |= np.isnan(xv) & self.missing_true.take(node)
        return cond


class _Blocks:
    """The walk of one row three levels at a time.

    From a node, the next three levels depend on the comparisons of at most 7 nodes, the
    node and the first two levels under it (heap order: position p's children are 2p + 1,
    false, and 2p + 2, true): they are made at once, packed into a 7-bit number, and a
    table of 128 entries per node says where the three levels end. Tables are made for the
    nodes where a block starts (the roots, then wherever a block can end), a block after
    the other while the tables stay within ``_BLOCK_ENTRIES``; the rest of the depth is
    walked level by level. One block costs 7 NumPy calls where three levels cost 18 (the
    cost of a one-row walk is the number of calls, not the work they do)."""

    def __init__(self, blocks, tail_levels):
        self.blocks = blocks  # [(feature [R, 8], threshold [R, 8], next [R * 128])]; next: rows, last: nodes
        self.tail_levels = tail_levels
        self.first_at = blocks[0][0].reshape(-1)
        self.first_split = blocks[0][1].reshape(-1)
        self.first_base = np.arange(blocks[0][0].shape[0], dtype=np.intp) * 128

    @staticmethod
    def build(forest: _Forest):
        if forest.same_mode is None or forest.any_missing or forest.depth < 3 or not forest.n_trees:
            return None
        child, feature, split = forest.child, forest.feature, forest.split
        roots = forest.roots
        blocks, entries = [], 0
        pattern = np.arange(128, dtype=np.intp)[None, :]
        while len(blocks) < forest.depth // 3 and entries + 128 * len(roots) <= _BLOCK_ENTRIES:
            # an eighth column repeats the first: a row of outcomes is then one 8-byte word
            heap = np.empty((len(roots), 8), dtype=np.intp)
            heap[:, 0] = roots
            for p in range(3):
                heap[:, 2 * p + 1] = child.take(heap[:, p])
                heap[:, 2 * p + 2] = child.take(heap[:, p] + 1)
            heap[:, 7] = roots
            # every 7-bit pattern of outcomes, followed down three levels
            pos = np.zeros((len(roots), 128), dtype=np.intp)
            for _ in range(2):
                went = (pattern >> pos) & 1
                pos = 2 * pos + 1 + went
            went = (pattern >> pos) & 1
            ends = child.take(np.take_along_axis(heap, pos, axis=1) + went)
            entries += ends.size
            roots, rows = np.unique(ends, return_inverse=True)
            blocks.append((feature.take(heap), split.take(heap), rows.reshape(-1)))
        if not blocks:
            return None
        # the last block's table gives nodes (the tail walk goes on from them), not rows
        f, t, rows = blocks[-1]
        blocks[-1] = (f, t, roots.take(rows))
        return _Blocks(blocks, forest.depth - 3 * len(blocks))

    def walk(self, forest: _Forest, xf: np.ndarray) -> np.ndarray:
        compare = _COMPARE[forest.same_mode]
        blocks = self.blocks
        row = blocks[0][2].take(self.first_base + _pattern(compare(xf.take(self.first_at), self.first_split)))
        for feat, split, nxt in blocks[1:]:
            bits = _pattern(compare(xf.take(feat.take(row, axis=0)), split.take(row, axis=0)))
            row = nxt.take(row * 128 + bits)
        node = row
        child, feature, split = forest.child, forest.feature, forest.split
        for _ in range(self.tail_levels):
            node = child.take(node + compare(xf.take(feature.take(node)), split.take(node)))
        return node


# Bytes b0..b7 (each 0 or 1) of a little-endian word v: the top byte of v * _GATHER is
# b0 + 2 b1 + ... + 64 b6 (b_k lands on bit 56 + k; every other product either overflows
# or falls on a bit below 56 of its own, so no carry reaches the top byte; b7 is ignored)
_GATHER = np.uint64(sum(1 << (56 - 7 * k) for k in range(7)))
_SHIFT = np.uint64(56)


def _pattern(outcomes: np.ndarray) -> np.ndarray:
    """[R] 7-bit numbers of R rows of 8 boolean outcomes (the 8th ignored)."""
    word = outcomes.view(np.uint64).reshape(-1)
    return np.right_shift(word * _GATHER, _SHIFT).view(np.int64)


def _comparable(x, split_dtype) -> np.ndarray:
    """[N, F] input as the comparisons see it: an integer input is converted to the threshold type."""
    if type(x) is np.ndarray and x.ndim == 2 and x.dtype.kind == "f":
        return x
    m = as_2d(x)
    return m if m.dtype.kind == "f" else m.astype(split_dtype)


class _Scores:
    """A forest's aggregated leaf weights: ``scores(x)`` -> ([N, n_targets] scores in the weights'
    type, whether any tree contributed: [N, n_targets] bools, or None when every one did).

    ``has`` [n_leaves, n_targets] tells which leaf scores which target (None: all of them).
    SUM and AVERAGE add the trees one after the other, in tree order (a running sum,
    never numpy's pairwise summation), a block of trees at a time.
    """

    def __init__(self, forest: _Forest, values: np.ndarray, has, how: str):
        self.forest = forest
        self.values = forest.per_leaf(values)
        self.has = None if has is None else forest.per_leaf(has)
        self.how = how
        self.n_targets = values.shape[1]
        self.zero = values.dtype.type(0)
        # the sum of one block, with nothing else to do: the common case, kept short
        self.plain_sum = has is None and how == "SUM" and forest.n_trees > 0
        if how in ("MIN", "MAX"):
            # a leaf that does not score a target takes no part in its MIN / MAX
            self.pick, self.void = (np.min, np.inf) if how == "MIN" else (np.max, -np.inf)
            self.table = self.values if has is None else np.where(self.has, self.values, self.void)

    def __call__(self, x: np.ndarray):
        ends = self.forest.ends(x)  # [T, N]
        n_trees, n = ends.shape
        values, n_targets = self.values, self.n_targets
        trees_per_block = max(1, _ACCUMULATE_BLOCK // max(n * n_targets, 1))
        if self.has is None and n_trees and self.how in ("SUM", "AVERAGE") and values.dtype in _JIT_DTYPES:
            jit = _jit.kernels("nnex.ops.ml._numba_trees")
            if jit is not None:
                out = np.empty((n, n_targets), dtype=values.dtype)
                jit.leaf_sums(ends, values, out)
                if self.how == "AVERAGE":
                    out /= values.dtype.type(n_trees)
                return out, None
        if self.plain_sum and n_trees <= trees_per_block:
            # the running sum, then + 0 as the sum started from 0 would end (-0.0 -> 0.0)
            out = np.add.accumulate(values.take(ends, axis=0), axis=0)[-1]
            out += self.zero
            return out, None
        if self.has is None:
            contributed = None if n_trees else np.zeros((n, n_targets), dtype=bool)
        else:
            contributed = np.zeros((n, n_targets), dtype=bool)
            for t in range(0, n_trees, trees_per_block):
                contributed |= self.has[ends[t:t + trees_per_block]].any(axis=0)
        if self.how in ("SUM", "AVERAGE"):
            if not n_trees:
                out = np.zeros((n, n_targets), dtype=values.dtype)
            elif n_trees <= trees_per_block:
                out = np.add.accumulate(values.take(ends, axis=0), axis=0)[-1]
                out += self.zero
            else:
                out = np.zeros((1, n, n_targets), dtype=values.dtype)
                for t in range(0, n_trees, trees_per_block):
                    block = values[ends[t:t + trees_per_block]]  # [trees, N, targets]
                    out = np.add.accumulate(np.concatenate([out, block]), axis=0)[-1:]
                out = out[0]
            if self.how == "AVERAGE":
                out /= values.dtype.type(max(n_trees, 1))
            return out, contributed
        out = np.full((n, n_targets), self.void, dtype=values.dtype)
        for t in range(0, n_trees, trees_per_block):
            out = self.pick(np.concatenate([out[None], self.table[ends[t:t + trees_per_block]]]), axis=0)
        if contributed is not None:
            out = np.where(contributed, out, 0)
        return out.astype(values.dtype, copy=False), contributed


def _leaf_table(n_leaves: int, n_targets: int, leaf, target, weight, dtype):
    """Dense leaf weights [n_leaves, n_targets] (summed where a leaf repeats a target), and
    which leaf scores which target (None when every leaf scores every target)."""
    values = np.zeros((n_leaves, n_targets), dtype=dtype)
    has = np.zeros((n_leaves, n_targets), dtype=bool)
    leaf = np.asarray(leaf, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    if target.size and (target.min() < 0 or target.max() >= n_targets):
        raise ValueError(f"tree ensemble: a target/class id is outside [0, {n_targets})")
    np.add.at(values, (leaf, target), np.asarray(weight).astype(dtype))
    has[leaf, target] = True
    return values, (None if has.all() else has)


def _with_base(scores, contributed, base):
    """Scores plus base values (one per target); a target no tree scored stays 0, as in onnxruntime."""
    if base.size == scores.shape[1]:
        scores = scores + base
    return scores if contributed is None else np.where(contributed, scores, scores.dtype.type(0))


# --------------------------------------------------------------------------- TreeEnsemble (5)


def _member_sets(modes: np.ndarray, membership_values) -> dict:
    """Set of each BRANCH_MEMBER node, from the NaN-delimited membership_values."""
    nodes = np.flatnonzero(modes == MEMBER)
    if not len(nodes):
        return {}
    vals = np.asarray(membership_values, dtype=np.float64).reshape(-1)
    cuts = np.flatnonzero(np.isnan(vals))
    groups = np.split(vals, cuts)
    groups = [g[~np.isnan(g)] for g in groups][: len(nodes)]
    return dict(zip(nodes.tolist(), groups))


@op("TreeEnsemble", since=5, domain=ML_DOMAIN)
@per_node
def tree_ensemble(
    *,
    leaf_targetids,
    leaf_weights,
    nodes_falseleafs,
    nodes_falsenodeids,
    nodes_featureids,
    nodes_modes,
    nodes_splits,
    nodes_trueleafs,
    nodes_truenodeids,
    tree_roots,
    aggregate_function=1,
    membership_values=None,
    n_targets=None,
    nodes_hitrates=None,
    nodes_missing_value_tracks_true=None,
    post_transform=0,
):
    forest, values, has = _prepare_v5(
        leaf_targetids=leaf_targetids, leaf_weights=leaf_weights, nodes_falseleafs=nodes_falseleafs,
        nodes_falsenodeids=nodes_falsenodeids, nodes_featureids=nodes_featureids, nodes_modes=nodes_modes,
        nodes_splits=nodes_splits, nodes_trueleafs=nodes_trueleafs, nodes_truenodeids=nodes_truenodeids,
        tree_roots=tree_roots, membership_values=membership_values, n_targets=n_targets,
        nodes_missing_value_tracks_true=nodes_missing_value_tracks_true)
    scores_of = _Scores(forest, values, has, _AGGREGATES[int(aggregate_function)])
    transform = transform_name(post_transform)

    def run(xp, x):
        a = np.asarray(x)
        scores, contributed = scores_of(_comparable(a, forest.split_dtype))
        if contributed is not None:
            scores = np.where(contributed, scores, scores.dtype.type(0))
        return to_xp(xp, post_transform_scores(scores, transform).astype(a.dtype, copy=False))

    return run


def _prepare_v5(*, leaf_targetids, leaf_weights, nodes_falseleafs, nodes_falsenodeids, nodes_featureids, nodes_modes,
                nodes_splits, nodes_trueleafs, nodes_truenodeids, tree_roots, membership_values, n_targets,
                nodes_missing_value_tracks_true, **_):
    split = np.asarray(nodes_splits).reshape(-1)
    modes = np.asarray(nodes_modes, dtype=np.int64).reshape(-1)
    n_nodes = len(modes)
    targets = np.asarray(leaf_targetids, dtype=np.int64).reshape(-1)
    # leaves come after the internal nodes in the flat numbering
    true_id = np.asarray(nodes_truenodeids, np.int64) + n_nodes * np.asarray(nodes_trueleafs, np.int64)
    false_id = np.asarray(nodes_falsenodeids, np.int64) + n_nodes * np.asarray(nodes_falseleafs, np.int64)
    missing = nodes_missing_value_tracks_true if nodes_missing_value_tracks_true else [0] * n_nodes
    forest = _Forest(nodes_featureids, split, modes, true_id, false_id, missing, tree_roots, len(targets),
                     _member_sets(modes, membership_values))
    n_out = int(n_targets) if n_targets is not None else int(targets.max()) + 1
    weights = np.asarray(leaf_weights).reshape(-1)
    acc = weights.dtype if weights.dtype.kind == "f" else np.dtype(np.float32)
    values, has = _leaf_table(len(targets), n_out, np.arange(len(targets)), targets, weights, acc)
    return forest, values, has


# --------------------------------------------------------------------------- the ml opset 1/3 ensembles


def _tensor_or_list(as_tensor, as_list, dtype):
    """An attribute given either as a (double) tensor or as a float list."""
    if as_tensor is not None:
        return np.asarray(as_tensor).reshape(-1)
    return np.asarray(as_list if as_list is not None else [], dtype=dtype)


def _classic_forest(nodes_treeids, nodes_nodeids, nodes_featureids, nodes_modes, split,
                    nodes_truenodeids, nodes_falsenodeids, missing_true, leaf_treeids, leaf_nodeids):
    """A _Forest from (tree id, node id) addressed nodes, and the leaf number of each weight entry.

    Trees are taken in the order they are listed and a tree's root is its first listed
    node, as onnxruntime reads them (the order is the order in which scores are summed).
    """
    tree = np.asarray(nodes_treeids, np.int64)
    nid = np.asarray(nodes_nodeids, np.int64)
    modes = [str(s) for s in nodes_modes]
    if not (len(tree) == len(nid) == len(modes) == len(split)):
        raise ValueError("tree ensemble: the nodes_* attributes differ in length")
    is_leaf = np.array([s == "LEAF" for s in modes], dtype=bool)
    # address nodes by a combined (tree, node) key: internal nodes first, then leaves
    order = np.concatenate([np.flatnonzero(~is_leaf), np.flatnonzero(is_leaf)])
    width = int(nid.max()) + 1 if len(nid) else 1
    keys = tree[order] * width + nid[order]
    sort = np.argsort(keys, kind="stable")
    sorted_keys = keys[sort]
    if len(keys) > 1 and (np.diff(sorted_keys) == 0).any():
        raise ValueError("tree ensemble: a (tree id, node id) pair appears twice")

    def flat(tree_ids, node_ids):
        k = np.asarray(tree_ids, np.int64) * width + np.asarray(node_ids, np.int64)
        pos = sort[np.clip(np.searchsorted(sorted_keys, k), 0, max(len(keys) - 1, 0))]
        if len(k) and not np.array_equal(keys[pos], k):
            raise ValueError("tree ensemble: a node id refers to no node")
        return pos

    n_internal = int((~is_leaf).sum())
    internal = order[:n_internal]
    child_t = flat(tree[internal], np.asarray(nodes_truenodeids, np.int64)[internal])
    child_f = flat(tree[internal], np.asarray(nodes_falsenodeids, np.int64)[internal])
    first = np.flatnonzero(np.r_[True, tree[1:] != tree[:-1]]) if len(tree) else np.zeros(0, np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    roots = rank[first]
    mode = np.array([_MODE_NAMES.get(s, LEQ) for s in modes], dtype=np.int64)[internal]
    missing = np.zeros(len(tree), dtype=bool)
    if missing_true:
        mt = np.asarray(missing_true, dtype=bool).reshape(-1)[: len(tree)]
        missing[: len(mt)] = mt
    forest = _Forest(np.asarray(nodes_featureids, np.int64)[internal], split[internal], mode,
                     child_t, child_f, missing[internal], roots, int(is_leaf.sum()))
    leaf_of_entry = flat(leaf_treeids, leaf_nodeids) - n_internal
    if leaf_of_entry.size and leaf_of_entry.min() < 0:
        raise ValueError("tree ensemble: a weight is attached to a node that is not a leaf")
    return forest, leaf_of_entry, int(is_leaf.sum())


def _threshold_type(nodes_values_as_tensor) -> np.dtype:
    """The type thresholds and scores are computed in: double only with double tensor attributes."""
    if nodes_values_as_tensor is not None and np.asarray(nodes_values_as_tensor).dtype == np.float64:
        return np.dtype(np.float64)
    return np.dtype(np.float32)


@op("TreeEnsembleRegressor", since=(1, 3), domain=ML_DOMAIN)
@per_node
def tree_ensemble_regressor(
    *,
    aggregate_function="SUM",
    base_values=None,
    base_values_as_tensor=None,
    n_targets=None,
    nodes_falsenodeids=None,
    nodes_featureids=None,
    nodes_hitrates=None,
    nodes_hitrates_as_tensor=None,
    nodes_missing_value_tracks_true=None,
    nodes_modes=None,
    nodes_nodeids=None,
    nodes_treeids=None,
    nodes_truenodeids=None,
    nodes_values=None,
    nodes_values_as_tensor=None,
    post_transform="NONE",
    target_ids=None,
    target_nodeids=None,
    target_treeids=None,
    target_weights=None,
    target_weights_as_tensor=None,
):
    forest, values, has, base = _prepare_regressor(
        base_values=base_values, base_values_as_tensor=base_values_as_tensor, n_targets=n_targets,
        nodes_falsenodeids=nodes_falsenodeids, nodes_featureids=nodes_featureids,
        nodes_missing_value_tracks_true=nodes_missing_value_tracks_true, nodes_modes=nodes_modes,
        nodes_nodeids=nodes_nodeids, nodes_treeids=nodes_treeids, nodes_truenodeids=nodes_truenodeids,
        nodes_values=nodes_values, nodes_values_as_tensor=nodes_values_as_tensor, target_ids=target_ids,
        target_nodeids=target_nodeids, target_treeids=target_treeids, target_weights=target_weights,
        target_weights_as_tensor=target_weights_as_tensor)
    base = base.astype(values.dtype)
    scores_of = _Scores(forest, values, has, aggregate_function)
    transform = transform_name(post_transform)

    def run(xp, x):
        scores, contributed = scores_of(_comparable(x, forest.split_dtype))
        scores = _with_base(scores, contributed, base)
        return to_xp(xp, post_transform_scores(scores, transform).astype(np.float32, copy=False))

    return run


def _prepare_regressor(*, base_values, base_values_as_tensor, n_targets, nodes_falsenodeids, nodes_featureids,
                       nodes_missing_value_tracks_true, nodes_modes, nodes_nodeids, nodes_treeids, nodes_truenodeids,
                       nodes_values, nodes_values_as_tensor, target_ids, target_nodeids, target_treeids, target_weights,
                       target_weights_as_tensor, **_):
    acc = _threshold_type(nodes_values_as_tensor)
    split = _tensor_or_list(nodes_values_as_tensor, nodes_values, np.float32).astype(acc)
    forest, leaf_of, n_leaves = _classic_forest(
        nodes_treeids, nodes_nodeids, nodes_featureids, nodes_modes, split, nodes_truenodeids,
        nodes_falsenodeids, nodes_missing_value_tracks_true, target_treeids, target_nodeids)
    ids = np.asarray(target_ids, np.int64)
    n_out = int(n_targets) if n_targets is not None else int(ids.max()) + 1
    weights = _tensor_or_list(target_weights_as_tensor, target_weights, np.float32)
    values, has = _leaf_table(n_leaves, n_out, leaf_of, ids, weights, acc)
    base = _tensor_or_list(base_values_as_tensor, base_values, np.float32)
    return forest, values, has, base


def _binary_tree_scores(s: np.ndarray, positive_weights: bool, post_transform: str) -> np.ndarray:
    """Two score columns from a single class score ``s`` [N, 1] (onnxruntime's binary layout).

    Only the logistic and probit transforms apply here; the softmaxes of a one-score
    model are skipped, as onnxruntime skips them.
    """
    if post_transform == "LOGISTIC":
        return np.concatenate([logistic(-s), logistic(s)], axis=1)
    if positive_weights:
        # the score reads as the probability of the positive class
        s = probit(s) if post_transform == "PROBIT" else s
        one = s.dtype.type(1) if s.dtype.kind == "f" else 1.0
        return np.concatenate([one - s, s], axis=1)
    return np.concatenate([-s, s], axis=1)


def _binary_classifier(scores, base, scored, positive_weights, labels, post_transform):
    """Labels and scores of a two-class ensemble, following onnxruntime's conventions.

    ``scored`` tells which of the two classes have leaf weights.

    * only class 0 has leaf weights (what converters emit for binary boosting and
      forests): that single score s (plus base_values[0]) decides the positive class,
      s > 0.5 when all weights are positive (a probability), s > 0 otherwise;
    * only class 1 has weights: scores [0, s1], same thresholds on s1;
    * both classes have weights: an ordinary two-class model (argmax).  onnxruntime
      returns the raw 0/1 decision of class 1's sign as the label here, not a class
      label; no converter emits this layout, and the spec's reading is kept.
    """
    threshold = scores.dtype.type(0.5 if positive_weights else 0.0)
    if not scored[1]:
        s = scores[:, :1] + (base[0] if base.size else scores.dtype.type(0))
        z = _binary_tree_scores(s, positive_weights, post_transform)
        return label_array(labels, (s[:, 0] > threshold).astype(np.int64)), z
    if base.size:
        scores = scores + (base if base.size == 2 else np.array([base[0], 0], dtype=scores.dtype))
    if not scored[0]:
        scores = np.concatenate([np.zeros_like(scores[:, :1]), scores[:, 1:2]], axis=1)
        winner = (scores[:, 1] > threshold).astype(np.int64)
    else:
        winner = np.argmax(scores[:, :2], axis=1)
    return label_array(labels, winner), post_transform_scores(scores[:, :2], post_transform)


@op("TreeEnsembleClassifier", since=(1, 3), domain=ML_DOMAIN)
@per_node
def tree_ensemble_classifier(
    *,
    base_values=None,
    base_values_as_tensor=None,
    class_ids=None,
    class_nodeids=None,
    class_treeids=None,
    class_weights=None,
    class_weights_as_tensor=None,
    classlabels_int64s=None,
    classlabels_strings=None,
    nodes_falsenodeids=None,
    nodes_featureids=None,
    nodes_hitrates=None,
    nodes_hitrates_as_tensor=None,
    nodes_missing_value_tracks_true=None,
    nodes_modes=None,
    nodes_nodeids=None,
    nodes_treeids=None,
    nodes_truenodeids=None,
    nodes_values=None,
    nodes_values_as_tensor=None,
    post_transform="NONE",
):
    forest, values, has, base, scored, positive_weights, labels = _prepare_classifier(
        base_values=base_values, base_values_as_tensor=base_values_as_tensor, class_ids=class_ids,
        class_nodeids=class_nodeids, class_treeids=class_treeids, class_weights=class_weights,
        class_weights_as_tensor=class_weights_as_tensor, classlabels_int64s=classlabels_int64s,
        classlabels_strings=classlabels_strings, nodes_falsenodeids=nodes_falsenodeids,
        nodes_featureids=nodes_featureids, nodes_missing_value_tracks_true=nodes_missing_value_tracks_true,
        nodes_modes=nodes_modes, nodes_nodeids=nodes_nodeids, nodes_treeids=nodes_treeids,
        nodes_truenodeids=nodes_truenodeids, nodes_values=nodes_values, nodes_values_as_tensor=nodes_values_as_tensor)
    transform = transform_name(post_transform)
    n_classes = len(labels)
    strings = labels.dtype == object
    if n_classes == 2:
        def scores_and_labels(scores, contributed):
            return _binary_classifier(scores, base, scored, positive_weights, labels, transform)
    else:
        width = values.shape[1]
        # a base value gives its class a score even where no tree scored it
        base_row = np.resize(base, n_classes) * (np.arange(n_classes) < base.size) if base.size else None
        based = np.arange(n_classes) < base.size

        def scores_and_labels(scores, contributed):
            if width != n_classes:
                scores = scores[:, :n_classes]
                contributed = None if contributed is None else contributed[:, :n_classes]
            if base_row is not None:
                scores = scores + base_row
                if contributed is not None:
                    contributed = contributed | based
            if contributed is None:
                # every class has a score: the label is the best one
                return labels.take(scores.argmax(axis=1)), (
                    scores if transform == "NONE" else post_transform_scores(scores, transform))
            # the label is the best class among those that have a score
            y = labels.take(np.where(contributed, scores, -np.inf).argmax(axis=1))
            return y, post_transform_scores(np.where(contributed, scores, scores.dtype.type(0)), transform)

    scores_of = _Scores(forest, values, has, "SUM")

    def run(xp, x):
        scores, contributed = scores_of(_comparable(x, forest.split_dtype))
        y, z = scores_and_labels(scores, contributed)
        return (y if strings else to_xp(xp, y)), to_xp(xp, z.astype(np.float32, copy=False))

    return run


def _prepare_classifier(*, base_values, base_values_as_tensor, class_ids, class_nodeids, class_treeids, class_weights,
                        class_weights_as_tensor, classlabels_int64s, classlabels_strings, nodes_falsenodeids,
                        nodes_featureids, nodes_missing_value_tracks_true, nodes_modes, nodes_nodeids, nodes_treeids,
                        nodes_truenodeids, nodes_values, nodes_values_as_tensor, **_):
    labels, _ = class_labels(classlabels_int64s, classlabels_strings)
    acc = _threshold_type(nodes_values_as_tensor)
    split = _tensor_or_list(nodes_values_as_tensor, nodes_values, np.float32).astype(acc)
    forest, leaf_of, n_leaves = _classic_forest(
        nodes_treeids, nodes_nodeids, nodes_featureids, nodes_modes, split, nodes_truenodeids,
        nodes_falsenodeids, nodes_missing_value_tracks_true, class_treeids, class_nodeids)
    ids = np.asarray(class_ids, np.int64)
    weights = _tensor_or_list(class_weights_as_tensor, class_weights, np.float32)
    width = max(len(labels), int(ids.max()) + 1 if ids.size else 1)
    values, has = _leaf_table(n_leaves, width, leaf_of, ids, weights, acc)
    base = _tensor_or_list(base_values_as_tensor, base_values, np.float32).astype(acc)
    scored = (bool((ids == 0).any()), bool((ids == 1).any()))
    labels = np.asarray(labels, dtype=object if labels and isinstance(labels[0], str) else np.int64)
    return forest, values, has, base, scored, bool(np.all(weights >= 0)), labels
