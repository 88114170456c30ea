"""Decision trees as one ai.onnx.ml TreeEnsemble node (ml opset 5).

TreeEnsemble gives each leaf one target, so a tree whose leaves carry K values (a
classification tree's class distribution) is emitted once per target; the ensemble
always sums, and averaging is a division afterwards (its AVERAGE would divide by the
number of emitted trees, not the number of trees).

Thresholds: scikit-learn's trees compare ``float32(x) <= threshold`` with a float64
threshold. In a float model the split becomes the largest float32 not above the
threshold, which decides every float32 x the same way; in a double model the input is
rounded through float32 first and the double threshold kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from ...ir.value import Value
from ._context import Ctx

_LEQ, _MEMBER = 0, 6


@dataclass
class Tree:
    """One tree in scikit-learn's array layout (children -1 at leaves)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    values: np.ndarray  # (n_nodes, K): what each leaf adds to each target
    missing_left: np.ndarray | None = None
    # categorical splits: node -> set of values going left
    left_sets: dict = field(default_factory=dict)
    first_target: int = 0  # column j of values goes to target first_target + j


def from_sklearn(tree_, values: np.ndarray, feature_map=None) -> Tree:
    """A Tree from a fitted ``sklearn.tree._tree.Tree`` and per-node values (n_nodes, K)."""
    feature = np.asarray(tree_.feature, dtype=np.int64)
    if feature_map is not None:
        feature = np.where(feature >= 0, np.asarray(feature_map, np.int64)[np.maximum(feature, 0)], feature)
    missing = getattr(tree_, "missing_go_to_left", None)
    return Tree(np.asarray(tree_.children_left), np.asarray(tree_.children_right), feature,
                np.asarray(tree_.threshold, np.float64), np.asarray(values, np.float64).reshape(len(feature), -1),
                None if missing is None else np.asarray(missing, dtype=bool))


def float32_floor(t: np.ndarray) -> np.ndarray:
    """Largest float32 <= t, elementwise (so float32(x) <= t  <=>  x <= result)."""
    t = np.asarray(t, dtype=np.float64)
    r = t.astype(np.float32)
    above = r.astype(np.float64) > t
    r[above] = np.nextafter(r[above], np.float32(-np.inf))
    return r


def ensemble(ctx: Ctx, x: Value, trees: list[Tree], n_targets: int, *, round_to_float32: bool) -> Value:
    """(N, n_targets) sum over ``trees`` of the leaf values each sample reaches."""
    if round_to_float32 and ctx.dtype == np.float64:
        x = ctx.op.Cast(ctx.op.Cast(x, to=onnx.TensorProto.FLOAT), to=onnx.TensorProto.DOUBLE)
    a = _Attrs()
    for t in trees:
        for j in range(t.values.shape[1]):
            a.add(t, j, t.first_target + j)
    if ctx.dtype == np.float32:
        splits = float32_floor(np.asarray(a.splits))
        members = np.asarray(a.members, dtype=np.float32)
    else:
        splits = np.asarray(a.splits, dtype=np.float64)
        members = np.asarray(a.members, dtype=np.float64)
    attrs = {}
    if a._member_nodes:
        attrs["membership_values"] = members
    return ctx.ml.TreeEnsemble(
        x,
        aggregate_function=1,  # SUM
        leaf_targetids=a.leaf_target,
        leaf_weights=np.asarray(a.leaf_weight, dtype=ctx.dtype),
        n_targets=n_targets,
        nodes_falseleafs=a.false_leaf,
        nodes_falsenodeids=a.false_id,
        nodes_featureids=a.feature,
        nodes_missing_value_tracks_true=a.missing_true,
        nodes_modes=np.asarray(a.modes, dtype=np.uint8),
        nodes_splits=splits,
        nodes_trueleafs=a.true_leaf,
        nodes_truenodeids=a.true_id,
        post_transform=0,
        tree_roots=a.roots,
        **attrs,
    )


class _Attrs:
    """The flat TreeEnsemble attribute lists, filled one (tree, target) copy at a time."""

    def __init__(self):
        self.feature, self.splits, self.modes, self.missing_true = [], [], [], []
        self.true_id, self.true_leaf, self.false_id, self.false_leaf = [], [], [], []
        self.leaf_target, self.leaf_weight, self.roots, self.members = [], [], [], []
        self._member_nodes = 0

    def add(self, t: Tree, j: int, k: int) -> None:
        n = len(t.left)
        is_leaf = t.left < 0
        internal = np.flatnonzero(~is_leaf)
        leaves = np.flatnonzero(is_leaf)
        node_base, leaf_base = len(self.feature), len(self.leaf_target)
        node_pos = np.full(n, -1, np.int64)
        node_pos[internal] = node_base + np.arange(len(internal))
        leaf_pos = np.full(n, -1, np.int64)
        leaf_pos[leaves] = leaf_base + np.arange(len(leaves))
        self.leaf_target.extend([k] * len(leaves))
        self.leaf_weight.extend(t.values[leaves, j].tolist())
        if not len(internal):
            # a tree that is a single leaf: one split whose both branches reach it
            self.roots.append(node_base)
            self._node(0, 0.0, _LEQ, False, (leaf_base, 1), (leaf_base, 1))
            return
        self.roots.append(int(node_pos[0]))
        for i in internal:
            true_child, false_child = t.left[i], t.right[i]
            missing_true = bool(t.missing_left[i]) if t.missing_left is not None else False
            mode, split = _LEQ, float(t.threshold[i])
            if i in t.left_sets:
                values, true_is_left, missing_true = t.left_sets[i]
                if not true_is_left:
                    true_child, false_child = false_child, true_child
                mode, split = _MEMBER, 0.0
                if self.members or self._member_nodes:
                    self.members.append(np.nan)  # NaN separates the sets
                self._member_nodes += 1
                self.members.extend(sorted(float(v) for v in values))
            self._node(int(t.feature[i]), split, mode, missing_true,
                       self._child(true_child, is_leaf, node_pos, leaf_pos),
                       self._child(false_child, is_leaf, node_pos, leaf_pos))

    @staticmethod
    def _child(c, is_leaf, node_pos, leaf_pos):
        return (int(leaf_pos[c]), 1) if is_leaf[c] else (int(node_pos[c]), 0)

    def _node(self, feature, split, mode, missing_true, true, false):
        self.feature.append(feature)
        self.splits.append(split)
        self.modes.append(mode)
        self.missing_true.append(int(missing_true))
        self.true_id.append(true[0])
        self.true_leaf.append(true[1])
        self.false_id.append(false[0])
        self.false_leaf.append(false[1])
