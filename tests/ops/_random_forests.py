"""Random tree ensembles in the TreeEnsembleRegressor/Classifier encoding, for the ML kernel tests."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto as TP
from onnx import helper

MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


def random_forest(rs, n_trees, n_features, depth, modes, missing, leaf_rate=0.25):
    """TreeEnsembleRegressor/Classifier node attributes of random trees, and their leaves."""
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
                         "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true"]}
    leaves = []
    for t in range(n_trees):
        counter = [0]

        def build(d):
            nid = counter[0]
            counter[0] += 1
            i = len(a["nodes_nodeids"])
            for v in a.values():
                v.append(0)
            a["nodes_treeids"][i], a["nodes_nodeids"][i] = t, nid
            a["nodes_values"][i] = 0.0
            if d == depth or (d > 0 and rs.rand() < leaf_rate):
                a["nodes_modes"][i] = "LEAF"
                leaves.append((t, nid))
                return nid
            a["nodes_modes"][i] = modes[rs.randint(len(modes))]
            a["nodes_featureids"][i] = int(rs.randint(n_features))
            a["nodes_values"][i] = round(float(rs.randn()), 1)
            a["nodes_missing_value_tracks_true"][i] = int(rs.randint(2)) if missing else 0
            a["nodes_truenodeids"][i] = build(d + 1)
            a["nodes_falsenodeids"][i] = build(d + 1)
            return nid

        build(0)
    return a, leaves


def v5_member_forest(agg, post_transform) -> dict:
    """TreeEnsemble (ml opset 5) attributes of two small trees over 2 features: a BRANCH_MEMBER
    node (NaN among its values) beside LEQ / GTE / LT nodes, missing-value directions both ways."""
    return dict(
        n_targets=2, aggregate_function=agg, post_transform=post_transform, tree_roots=[0, 3],
        nodes_modes=helper.make_tensor("m", TP.UINT8, (4,), [0, 6, 3, 1]),
        nodes_featureids=[0, 0, 1, 1],
        nodes_splits=helper.make_tensor("s", TP.FLOAT, (4,), [11.0, 0.0, 1.0, 0.0]),
        nodes_truenodeids=[1, 0, 2, 3], nodes_trueleafs=[0, 1, 1, 1],
        nodes_falsenodeids=[2, 1, 2, 4], nodes_falseleafs=[1, 1, 1, 1],
        nodes_missing_value_tracks_true=[1, 0, 0, 1],
        membership_values=helper.make_tensor("mv", TP.FLOAT, (4,), [1.2, 7.0, 8.0, np.nan]),
        leaf_targetids=[0, 1, 0, 1, 0], leaf_weights=helper.make_tensor("w", TP.FLOAT, (5,), [1, 10, 100, -3, 0.5]))


def class_weights(rs, leaves, class_ids, signed=False) -> dict:
    """TreeEnsembleClassifier class_* attributes: every leaf scores every class of ``class_ids``
    with a random weight (in [0, 1), or normal when ``signed``), rounded to 2 places."""
    c = dict(class_treeids=[], class_nodeids=[], class_ids=[], class_weights=[])
    for t, n in leaves:
        for k in class_ids:
            c["class_treeids"].append(t)
            c["class_nodeids"].append(n)
            c["class_ids"].append(k)
            c["class_weights"].append(round(float(rs.randn() if signed else rs.rand()), 2))
    return c
