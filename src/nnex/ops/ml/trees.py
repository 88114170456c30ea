"""ai.onnx.ml tree ensembles: TreeEnsemble (ml opset 5), TreeEnsembleRegressor and
TreeEnsembleClassifier (ml opsets 1 and 3).

All three are lowered to one flat form, ``_Forest``: arrays of internal nodes (feature,
split, mode, children, NaN direction) with the leaves numbered after the internal
nodes, and a dense [n_leaves, n_targets] table of leaf weights.  Evaluation walks every
(sample, tree) pair down one level per step with NumPy fancy indexing, so Python only
loops over depth and trees, never over samples.
"""

from __future__ import annotations

import numpy as np

from ..registry import ML_DOMAIN, op
from ._common import as_2d, class_labels, label_array, logistic, post_transform_scores, probit

# node modes, numbered as TreeEnsemble (ml opset 5) numbers them
LEQ, LT, GTE, GT, EQ, NEQ, MEMBER = range(7)
_MODE_NAMES = {"BRANCH_LEQ": LEQ, "BRANCH_LT": LT, "BRANCH_GTE": GTE, "BRANCH_GT": GT,
               "BRANCH_EQ": EQ, "BRANCH_NEQ": NEQ, "BRANCH_MEMBER": MEMBER}
_AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")


class _Forest:
    """Flat trees: internal nodes 0..n-1, leaf k is node n + k."""

    def __init__(self, feature, split, mode, true_id, false_id, missing_true, roots, members=None):
        self.feature = np.asarray(feature, dtype=np.int64)
        self.split = split
        self.mode = np.asarray(mode, dtype=np.int64)
        self.child = np.stack([np.asarray(false_id, np.int64), np.asarray(true_id, np.int64)])
        self.missing_true = np.asarray(missing_true, dtype=bool)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.members = members or {}  # internal node -> array of member values
        self.n_internal = len(self.feature)

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """[N, T] leaf number reached by each sample in each tree."""
        n = x.shape[0]
        cur = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        at_node = cur < self.n_internal
        while at_node.any():
            node = np.where(at_node, cur, 0)
            xv = x[np.broadcast_to(rows, node.shape), self.feature[node]] if self.n_internal else None
            go_true = self._test(node, xv)
            cur = np.where(at_node, self.child[go_true.astype(np.int64), node], cur)
            at_node = cur < self.n_internal
        return cur - self.n_internal

    def _test(self, node: np.ndarray, xv: np.ndarray) -> np.ndarray:
        th = self.split[node]
        mode = self.mode[node]
        with np.errstate(invalid="ignore"):
            cond = np.select(
                [mode == LEQ, mode == LT, mode == GTE, mode == GT, mode == EQ, mode == NEQ],
                [xv <= th, xv < th, xv >= th, xv > th, xv == th, xv != th],
                default=False,
            )
        for m, values in self.members.items():
            at = node == m
            if at.any():
                cond[at] = np.isin(xv[at], values)
        # NaN compares false everywhere (true for NEQ); nodes_missing_value_tracks_true overrides
        return cond | (np.isnan(xv) & self.missing_true[node])


def _aggregate(forest: _Forest, x: np.ndarray, values: np.ndarray, has: np.ndarray, how: str):
    """[N, n_targets] aggregated leaf weights and whether any tree contributed."""
    leaves = forest.leaves(x)
    n, n_targets = x.shape[0], values.shape[1]
    contributed = np.zeros((n, n_targets), dtype=bool)
    if how in ("SUM", "AVERAGE"):
        out = np.zeros((n, n_targets))
        for t in range(leaves.shape[1]):
            out += values[leaves[:, t]]
            contributed |= has[leaves[:, t]]
        if how == "AVERAGE":
            out /= max(leaves.shape[1], 1)
        return out, contributed
    pick = np.minimum if how == "MIN" else np.maximum
    out = np.full((n, n_targets), np.inf if how == "MIN" else -np.inf)
    for t in range(leaves.shape[1]):
        h = has[leaves[:, t]]
        out = np.where(h, pick(out, values[leaves[:, t]]), out)
        contributed |= h
    return np.where(contributed, out, 0.0), contributed


def _leaf_table(n_leaves: int, n_targets: int, leaf, target, weight):
    """Dense leaf weights [n_leaves, n_targets] (summed where a leaf repeats a target)."""
    values = np.zeros((n_leaves, n_targets))
    has = np.zeros((n_leaves, n_targets), dtype=bool)
    leaf = np.asarray(leaf, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    np.add.at(values, (leaf, target), np.asarray(weight, dtype=np.float64))
    has[leaf, target] = True
    return values, has


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
def tree_ensemble(
    xp,
    x,
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
    a = np.asarray(x)
    m = as_2d(a)
    modes = np.asarray(nodes_modes, dtype=np.int64).reshape(-1)
    n_nodes = len(modes)
    # leaves come after the internal nodes in the flat numbering
    true_id = np.asarray(nodes_truenodeids, np.int64) + n_nodes * np.asarray(nodes_trueleafs, np.int64)
    false_id = np.asarray(nodes_falsenodeids, np.int64) + n_nodes * np.asarray(nodes_falseleafs, np.int64)
    split = np.asarray(nodes_splits).reshape(-1).astype(m.dtype)
    missing = nodes_missing_value_tracks_true if nodes_missing_value_tracks_true else [0] * n_nodes
    forest = _Forest(nodes_featureids, split, modes, true_id, false_id, missing, tree_roots,
                     _member_sets(modes, membership_values))
    targets = np.asarray(leaf_targetids, dtype=np.int64)
    n_out = int(n_targets) if n_targets is not None else int(targets.max()) + 1
    values, has = _leaf_table(len(targets), n_out, np.arange(len(targets)), targets,
                              np.asarray(leaf_weights).reshape(-1))
    scores, _ = _aggregate(forest, m, values, has, _AGGREGATES[int(aggregate_function)])
    return xp.asarray(post_transform_scores(scores, post_transform).astype(a.dtype))


# --------------------------------------------------------------------------- the ml opset 1/3 ensembles


def _tensor_or_list(as_tensor, as_list, dtype):
    """An attribute given either as a (double) tensor or as a float list."""
    if as_tensor is not None:
        return np.asarray(as_tensor).reshape(-1)
    return np.asarray(as_list if as_list is not None else [], dtype=dtype)


def _classic_forest(nodes_treeids, nodes_nodeids, nodes_featureids, nodes_modes, split,
                    nodes_truenodeids, nodes_falsenodeids, missing_true, leaf_treeids, leaf_nodeids):
    """A _Forest from (tree id, node id) addressed nodes, and the leaf number of each weight entry."""
    tree = np.asarray(nodes_treeids, np.int64)
    nid = np.asarray(nodes_nodeids, np.int64)
    modes = [str(s) for s in nodes_modes]
    is_leaf = np.array([s == "LEAF" for s in modes], dtype=bool)
    # address nodes by a combined (tree, node) key: internal nodes first, then leaves
    order = np.concatenate([np.flatnonzero(~is_leaf), np.flatnonzero(is_leaf)])
    width = int(nid.max()) + 1 if len(nid) else 1
    keys = tree[order] * width + nid[order]
    sort = np.argsort(keys, kind="stable")

    def flat(tree_ids, node_ids):
        k = np.asarray(tree_ids, np.int64) * width + np.asarray(node_ids, np.int64)
        pos = sort[np.clip(np.searchsorted(keys[sort], k), 0, len(keys) - 1)]
        if len(k) and not np.array_equal(keys[pos], k):
            raise ValueError("tree ensemble: a node id refers to no node")
        return pos

    internal = order[: int((~is_leaf).sum())]
    child_t = flat(tree[internal], np.asarray(nodes_truenodeids, np.int64)[internal])
    child_f = flat(tree[internal], np.asarray(nodes_falsenodeids, np.int64)[internal])
    # a tree's root is its one node that no node points to
    referenced = np.zeros(len(order), dtype=bool)
    referenced[child_t] = referenced[child_f] = True
    unref = np.flatnonzero(~referenced)
    roots = unref[np.argsort(tree[order][unref], kind="stable")]
    mode = np.array([_MODE_NAMES.get(s, LEQ) for s in modes], dtype=np.int64)[internal]
    missing = np.asarray(missing_true if missing_true else [0] * len(tree), dtype=bool)[internal]
    forest = _Forest(np.asarray(nodes_featureids, np.int64)[internal], split[internal], mode,
                     child_t, child_f, missing, roots)
    leaf_of_entry = flat(leaf_treeids, leaf_nodeids) - len(internal)
    return forest, leaf_of_entry, int(is_leaf.sum())


@op("TreeEnsembleRegressor", since=(1, 3), domain=ML_DOMAIN)
def tree_ensemble_regressor(
    xp,
    x,
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
    split = _tensor_or_list(nodes_values_as_tensor, nodes_values, np.float32)
    # float thresholds are compared in float (the input is rounded to float first)
    m = as_2d(x).astype(split.dtype if split.dtype == np.float64 else np.float32)
    forest, leaf_of, n_leaves = _classic_forest(
        nodes_treeids, nodes_nodeids, nodes_featureids, nodes_modes, split, nodes_truenodeids,
        nodes_falsenodeids, nodes_missing_value_tracks_true, target_treeids, target_nodeids)
    ids = np.asarray(target_ids, np.int64)
    n_out = int(n_targets) if n_targets is not None else int(ids.max()) + 1
    weights = _tensor_or_list(target_weights_as_tensor, target_weights, np.float32)
    values, has = _leaf_table(n_leaves, n_out, leaf_of, ids, weights)
    scores, contributed = _aggregate(forest, m, values, has, aggregate_function)
    base = _tensor_or_list(base_values_as_tensor, base_values, np.float32)
    if base.size:
        # a target no reached leaf has a weight for stays 0, without its base value (as
        # onnxruntime does; converters give every leaf every target, so this is rare)
        scores = np.where(contributed, scores + base.astype(np.float64), 0.0)
    return xp.asarray(post_transform_scores(scores, post_transform).astype(np.float32))


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
        return np.concatenate([1.0 - s, s], axis=1)
    return np.concatenate([-s, s], axis=1)


def _binary_classifier(scores, base, ids, weights, labels, post_transform):
    """Labels and scores of a two-class ensemble, following onnxruntime's conventions.

    * only class 0 has leaf weights (what converters emit for binary boosting and
      forests): that single score s (plus base_values[0]) decides the positive class,
      s > 0.5 when all weights are positive (a probability), s > 0 otherwise;
    * only class 1 has weights: scores [0, s1], same thresholds on s1;
    * both classes have weights: an ordinary two-class model (argmax).
    """
    positive_weights = bool(np.all(weights >= 0))
    threshold = 0.5 if positive_weights else 0.0
    if not (ids == 1).any():
        s = scores[:, :1] + (base[0] if base.size else 0.0)
        z = _binary_tree_scores(s, positive_weights, post_transform)
        return label_array(labels, (s[:, 0] > threshold).astype(np.int64)), z
    if base.size:
        scores = scores + (base if base.size == 2 else np.array([base[0], 0.0]))
    if not (ids == 0).any():
        scores = np.concatenate([np.zeros_like(scores[:, :1]), scores[:, 1:2]], axis=1)
        winner = (scores[:, 1] > threshold).astype(np.int64)
    else:
        winner = np.argmax(scores[:, :2], axis=1)
    return label_array(labels, winner), post_transform_scores(scores[:, :2], post_transform)


@op("TreeEnsembleClassifier", since=(1, 3), domain=ML_DOMAIN)
def tree_ensemble_classifier(
    xp,
    x,
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
    labels, _ = class_labels(classlabels_int64s, classlabels_strings)
    split = _tensor_or_list(nodes_values_as_tensor, nodes_values, np.float32)
    m = as_2d(x).astype(split.dtype if split.dtype == np.float64 else np.float32)
    forest, leaf_of, n_leaves = _classic_forest(
        nodes_treeids, nodes_nodeids, nodes_featureids, nodes_modes, split, nodes_truenodeids,
        nodes_falsenodeids, nodes_missing_value_tracks_true, class_treeids, class_nodeids)
    ids = np.asarray(class_ids, np.int64)
    weights = _tensor_or_list(class_weights_as_tensor, class_weights, np.float32)
    n_classes = len(labels)
    values, has = _leaf_table(n_leaves, max(n_classes, int(ids.max()) + 1 if ids.size else 1), leaf_of, ids, weights)
    scores, _ = _aggregate(forest, m, values, has, "SUM")
    base = _tensor_or_list(base_values_as_tensor, base_values, np.float32).astype(np.float64)
    if n_classes == 2:
        y, z = _binary_classifier(scores, base, ids, weights, labels, post_transform)
    else:
        if base.size:
            scores = scores + base
        y = label_array(labels, np.argmax(scores[:, :n_classes], axis=1))
        z = post_transform_scores(scores[:, :n_classes], post_transform)
    return (y if y.dtype == object else xp.asarray(y)), xp.asarray(z.astype(np.float32))
