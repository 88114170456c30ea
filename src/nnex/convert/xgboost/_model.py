"""An XGBoost booster read from its JSON model (``Booster.save_raw("json")``).

How XGBoost decides (src/predictor/predict_fn.h, GetNextNode) and how it is kept:

* features are read as float32; a missing value (NaN, or the model's ``missing``)
  follows ``default_left``; otherwise a numerical split goes left when ``x < split``.
  ``x < t`` for float32 x and t is ``x <= the float32 just below t``, so the split is
  stored as that value and the ensemble compares with BRANCH_LEQ (exact);
* a categorical split goes right when int(x) is in the node's category set, left for
  any other value (negative, too large, unseen): membership of ``floor(x)`` in the set,
  the true branch being the right child;
* a multi-output tree (``multi_strategy="multi_output_tree"``) has a vector per leaf, one
  value per target;
* leaves sum in float32 per output; the intercept (``base_score``) is stored in the
  objective's output space (a probability for logistic, a mean for log links) and added
  as a margin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .. import ConversionError
from ..sklearn._forest import Tree


@dataclass
class Booster:
    n_features: int
    n_outputs: int
    objective: str
    base_score: np.ndarray  # (n_outputs,) in the objective's output space
    trees: list[Tree] = field(default_factory=list)
    linear: np.ndarray | None = None  # gblinear: (n_features + 1, n_outputs), bias row last
    categorical: set[int] = field(default_factory=set)
    feature_names: list[str] | None = None
    feature_types: list[str] | None = None
    categories: dict[int, list] = field(default_factory=dict)  # feature -> categories, in code order
    n_iterations: int = 0


def read_booster(booster, iteration_range: tuple[int, int] | None) -> Booster:
    doc = json.loads(booster.save_raw("json"))["learner"]
    param = doc["learner_model_param"]
    n_features = int(param["num_feature"])
    n_outputs = max(int(param.get("num_class", "0")), int(param.get("num_target", "1")), 1)
    base = np.asarray(_floats(param["base_score"]), dtype=np.float64)
    if base.size == 1 and n_outputs > 1:
        base = np.repeat(base, n_outputs)
    model = Booster(n_features, n_outputs, doc["objective"]["name"], base,
                    feature_names=doc.get("feature_names") or None, feature_types=doc.get("feature_types") or None)
    gb = doc["gradient_booster"]
    kind = gb["name"]
    if kind == "gblinear":
        w = np.asarray(gb["model"]["weights"], dtype=np.float64).reshape(n_features + 1, n_outputs)
        model.linear = w
        model.n_iterations = int(gb["model"].get("boosted_rounds", 0))
        if iteration_range not in (None, (0, 0)):
            raise ConversionError("XGBoost: iteration_range does not apply to a gblinear model")
        return model
    weights = None
    if kind == "dart":
        weights = np.asarray(gb["weight_drop"], dtype=np.float64)
        gb = gb["gbtree"]
    elif kind != "gbtree":
        raise ConversionError(f"XGBoost: the booster {kind!r} is not supported")
    m = gb["model"]
    indptr = m.get("iteration_indptr") or _uniform_indptr(m, n_outputs)
    model.n_iterations = len(indptr) - 1
    begin, end = (0, model.n_iterations) if iteration_range in (None, (0, 0)) else iteration_range
    if not 0 <= begin < end <= model.n_iterations:
        raise ConversionError(f"XGBoost: iteration_range {iteration_range} is outside [0, {model.n_iterations}]")
    for t in range(indptr[begin], indptr[end]):
        tree = m["trees"][t]
        w = 1.0 if weights is None else float(weights[t])
        model.trees.append(_read_tree(model, tree, int(m["tree_info"][t]), w))
    model.categories = _categories(m.get("cats"))
    return model


def _uniform_indptr(m: dict, n_outputs: int) -> list[int]:
    per = int(m["gbtree_model_param"].get("num_parallel_tree", "1")) * n_outputs
    n = len(m["trees"])
    return list(range(0, n + 1, per))


def _floats(text) -> list[float]:
    if isinstance(text, (int, float)):
        return [float(text)]
    s = str(text).strip().strip("[]")
    return [float(v) for v in s.split(",") if v.strip()]


def _read_tree(model: Booster, t: dict, target: int, weight: float) -> Tree:
    left = np.asarray(t["left_children"], np.int64)
    right = np.asarray(t["right_children"], np.int64)
    cond = np.asarray(t["split_conditions"], np.float32)
    feature = np.asarray(t["split_indices"], np.int64)
    default_left = np.asarray(t["default_left"], bool)
    leaf = left < 0
    feature = np.where(leaf, -2, feature)
    # x < t (float32) <=> x <= the next float32 below t
    split = np.where(leaf, 0.0, np.nextafter(cond, np.float32(-np.inf)).astype(np.float64))
    width = int(t["tree_param"].get("size_leaf_vector", "1") or 1)
    if width > 1:
        values = _leaf_vectors(t, leaf, right, width) * weight
        target = 0  # a multi-output tree gives every target its value
    else:
        values = np.where(leaf, cond.astype(np.float64) * weight, 0.0).reshape(-1, 1)
    tree = Tree(np.where(leaf, -1, left), np.where(leaf, -1, right), feature, split, values, default_left,
                first_target=target)
    split_type = t.get("split_type") or []
    if any(split_type):
        cats, nodes = t["categories"], t["categories_nodes"]
        seg, size = t["categories_segments"], t["categories_sizes"]
        for j, node in enumerate(nodes):
            chosen = sorted(int(c) for c in cats[seg[j]:seg[j] + size[j]])
            # members go right: the true branch is the right child; missing goes the default way
            tree.left_sets[int(node)] = (chosen, False, not bool(default_left[node]))
            model.categorical.add(int(feature[node]))
        numeric = {int(feature[i]) for i in np.flatnonzero(~leaf) if int(i) not in tree.left_sets}
        if numeric & model.categorical:
            raise ConversionError(f"XGBoost: feature(s) {sorted(numeric & model.categorical)} have both numerical "
                                  f"and categorical splits")
    return tree


def _leaf_vectors(t: dict, leaf: np.ndarray, right: np.ndarray, width: int) -> np.ndarray:
    """(n_nodes, width) leaf values of a multi-output tree (``multi_strategy="multi_output_tree"``):
    a leaf's right child is the index of its vector in ``leaf_weights``."""
    w = np.asarray(t["leaf_weights"], np.float32).astype(np.float64).reshape(-1, width)
    ids = right[leaf]
    if len(ids) and (ids.min() < 0 or ids.max() >= len(w)):
        raise ConversionError("XGBoost: a multi-output tree's leaf indexes are outside its leaf_weights")
    values = np.zeros((len(leaf), width))
    values[leaf] = w[ids]
    return values


def _categories(cats: dict | None) -> dict[int, list]:
    """The categories XGBoost recorded for DataFrame category columns (code = position)."""
    if not cats or not cats.get("enc"):
        return {}
    out = {}
    for f, enc in enumerate(cats["enc"]):
        values, offsets = enc.get("values", []), enc.get("offsets")
        if offsets:
            raw = bytes(int(v) & 0xFF for v in values)
            out[f] = [raw[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]
        elif values:
            out[f] = [v for v in values]
    return out
