"""A LightGBM booster's trees, read from ``Booster.dump_model()``, in the array layout
of the scikit-learn converter's ``_forest.Tree``.

How LightGBM decides (include/LightGBM/tree.h, NumericalDecision / CategoricalDecision)
and how each rule is kept:

* numerical split ``x <= threshold``; a NaN is replaced by 0 unless the node's missing
  type is NaN, so with missing type None a NaN goes where 0 goes (decided here, per node);
* missing type Zero sends 0 (|x| <= 1e-35f, which LightGBM reads as 0) and NaN the
  default way: those features get 0 replaced by NaN before the trees, and NaN follows
  ``default_left``;
* categorical split: left when int(x) (C truncation) is in the node's set; NaN and
  negative values go right. The features of such splits are truncated before the trees
  (``_common.truncated_categories``) so membership is an exact float comparison;
* linear trees (``linear_tree=True``): a leaf's output is ``leaf_const + sum(coeff * x)``
  over its features, or its constant ``leaf_value`` when one of them is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import ConversionError
from ..sklearn._forest import Tree

# LightGBM's kZeroThreshold (a float): |x| at most this is zero
ZERO_THRESHOLD = float(np.float32(1e-35))


@dataclass
class LinearLeaves:
    """The leaves of all linear trees, one row each, and the trees' leaf-index trees."""

    index_trees: list[Tree] = field(default_factory=list)  # leaf values: the leaf's row
    tree_target: list[int] = field(default_factory=list)
    const: list[float] = field(default_factory=list)
    fallback: list[float] = field(default_factory=list)  # leaf_value, used when a feature is NaN
    coeff: list[dict[int, float]] = field(default_factory=list)


@dataclass
class Booster:
    """What the ONNX graph needs from a dumped LightGBM model."""

    n_features: int
    n_targets: int  # trees per iteration (classes for multiclass)
    objective: str
    objective_params: dict[str, str]
    trees: list[Tree]  # constant-leaf trees
    linear: LinearLeaves
    n_iterations: int
    average_output: bool
    categorical: set[int] = field(default_factory=set)  # features of categorical splits
    zero_missing: set[int] = field(default_factory=set)  # features whose 0 is missing
    nan_missing: set[int] = field(default_factory=set)
    feature_names: list[str] = field(default_factory=list)
    pandas_categorical: list | None = None


def parse_objective(text: str) -> tuple[str, dict[str, str]]:
    """"binary sigmoid:1" -> ("binary", {"sigmoid": "1"}); a bare word is a flag ("sqrt")."""
    parts = (text or "").split()
    if not parts:
        return "custom", {}
    params = {}
    for p in parts[1:]:
        k, _, v = p.partition(":")
        params[k] = v
    return parts[0], params


def read_booster(booster, num_iteration: int | None, start_iteration: int) -> Booster:
    dump = booster.dump_model(num_iteration=num_iteration, start_iteration=start_iteration)
    k = int(dump["num_tree_per_iteration"])
    objective, params = parse_objective(dump.get("objective", ""))
    model = Booster(
        n_features=int(dump["max_feature_idx"]) + 1, n_targets=k, objective=objective, objective_params=params,
        trees=[], linear=LinearLeaves(), n_iterations=len(dump["tree_info"]) // k if k else 0,
        average_output=bool(dump.get("average_output", False)), feature_names=list(dump.get("feature_names", [])),
        pandas_categorical=dump.get("pandas_categorical"))
    for info in dump["tree_info"]:
        _read_tree(model, info["tree_structure"], int(info["tree_index"]) % k)
    both = model.zero_missing & model.nan_missing
    if both:
        raise ConversionError(f"LightGBM: feature(s) {sorted(both)} treat both 0 and NaN as missing in different "
                              f"trees; this mix cannot be converted")
    return model


def _is_linear(structure) -> bool:
    stack = [structure]
    while stack:
        node = stack.pop()
        if "leaf_const" in node:
            return True
        if "left_child" in node:
            stack += [node["left_child"], node["right_child"]]
    return False


def _read_tree(model: Booster, structure: dict, target: int) -> None:
    nodes = []  # depth-first, parents before children
    left, right = [], []

    def visit(node) -> int:
        i = len(nodes)
        nodes.append(node)
        left.append(-1)
        right.append(-1)
        if "split_index" in node:
            left[i] = visit(node["left_child"])
            right[i] = visit(node["right_child"])
        return i

    visit(structure)
    n = len(nodes)
    feature = np.full(n, -2, np.int64)
    threshold = np.zeros(n)
    missing_left = np.zeros(n, dtype=bool)
    left_sets = {}
    for i, node in enumerate(nodes):
        if left[i] < 0:
            continue
        f = int(node["split_feature"])
        feature[i] = f
        if node["decision_type"] == "==":
            cats = sorted({int(c) for c in str(node["threshold"]).split("||") if c != ""})
            left_sets[i] = (cats, True, False)  # NaN and negatives go right: not members
            model.categorical.add(f)
            continue
        if node["decision_type"] != "<=":
            raise ConversionError(f"LightGBM: decision type {node['decision_type']!r} is not supported")
        t = float(node["threshold"])
        threshold[i] = t
        kind = node.get("missing_type", "None")
        if kind == "NaN":
            model.nan_missing.add(f)
            missing_left[i] = bool(node["default_left"])
        elif kind == "Zero":
            model.zero_missing.add(f)
            missing_left[i] = bool(node["default_left"])
        elif kind == "None":
            missing_left[i] = 0.0 <= t  # NaN is read as 0
        else:
            raise ConversionError(f"LightGBM: missing type {kind!r} is not supported")
    numeric = {int(feature[i]) for i in range(n) if left[i] >= 0 and i not in left_sets}
    mixed = numeric & model.categorical
    if mixed:
        raise ConversionError(f"LightGBM: feature(s) {sorted(mixed)} have both numerical and categorical splits")
    leaves = [i for i in range(n) if left[i] < 0]
    if _is_linear(structure):
        lin = model.linear
        values = np.zeros((n, 1))
        for i in leaves:
            node = nodes[i]
            values[i, 0] = len(lin.const)
            lin.const.append(float(node.get("leaf_const", node["leaf_value"])))
            lin.fallback.append(float(node["leaf_value"]))
            lin.coeff.append({int(f): float(c) for f, c in zip(node.get("leaf_features", []),
                                                                 node.get("leaf_coeff", []))})
        lin.index_trees.append(Tree(np.asarray(left), np.asarray(right), feature, threshold, values, missing_left,
                                    left_sets, first_target=len(lin.tree_target)))
        lin.tree_target.append(target)
        return
    values = np.zeros((n, 1))
    for i in leaves:
        values[i, 0] = float(nodes[i]["leaf_value"])
    model.trees.append(Tree(np.asarray(left), np.asarray(right), feature, threshold, values, missing_left,
                            left_sets, first_target=target))
