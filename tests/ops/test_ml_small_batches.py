"""The ai.onnx.ml kernels on small batches, where they take their own paths (trees.py's
small-batch walk, the per-node plans of _common.per_node), checked against onnxruntime.

Tree ensembles are walked two ways by the NumPy kernels: a few rows at once, all (tree,
sample) pairs to the deepest level, and large batches in chunks that drop finished pairs;
with numba installed, a third way is the compiled walk (nnex/_jit.py).  All must reach
the same leaves and sum them in the same order, so besides agreeing with onnxruntime
their outputs must be bit for bit equal; batches of 1, 7 and 1000 rows are run every
way (the size threshold is patched).  Forests come from sklearn through skl2onnx and
from a generator of random trees (every branch mode, missing-value directions, double
thresholds, BRANCH_MEMBER nodes of TreeEnsemble 5).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from _kernel_choice import kernels, numpy_kernels  # noqa: E402, F401 - fixtures
from _random_forests import MODES, class_weights, random_forest, v5_member_forest  # noqa: E402
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper  # noqa: E402

import nnex  # noqa: E402
from nnex import _jit  # noqa: E402
from nnex.ops.ml import trees  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

BATCHES = (1, 7, 1000)


def _model(nodes, inputs, outputs, ml=3):
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", ml)])
    model.ir_version = 8
    return model.SerializeToString()


def _run_all_ways(data, x, monkeypatch, rtol=1e-5, atol=1e-6, exact=False):
    """onnxruntime's outputs, and nnex's by the small-batch walk and by the chunked walk
    (``exact``: the scores are onnxruntime's bit for bit, up to 50 rows, where it sums
    the trees in order on one thread)."""
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    got = {}
    monkeypatch.setitem(_jit._loaded, "enabled", False)
    for name, limit in (("small", 1 << 30), ("chunked", 0)):
        monkeypatch.setattr(trees, "_SMALL_WALK", limit)
        got[name] = nnex.InferenceSession(data).run(None, {"x": x})
    if _jit._numba() is not None:
        # the compiled walk (and sum): the same leaves, summed in the same order
        monkeypatch.setitem(_jit._loaded, "enabled", True)
        compiled = nnex.InferenceSession(data).run(None, {"x": x})
        for a, c in zip(got["small"], compiled):
            assert a.dtype == c.dtype and a.shape == c.shape
            assert a.tobytes() == c.tobytes(), "the compiled walk differs from the NumPy one"
    # above 50 rows onnxruntime sums the trees on several threads, in another order: where two
    # classes tie (up to the last bits), its label may be the other one
    scores = [e for e in expected if e.dtype.kind == "f" and e.ndim == 2 and e.shape[1] > 1]
    clear = np.ones(len(x), dtype=bool)
    if scores and len(x) > 50:
        top2 = np.sort(scores[0], axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 1e-5
    for e, small, chunked in zip(expected, got["small"], got["chunked"]):
        assert small.dtype == chunked.dtype and small.shape == chunked.shape
        assert small.tobytes() == chunked.tobytes(), "the two walks differ"
        if e.dtype.kind in "iuO":
            assert small[clear].tolist() == e[clear].tolist()
        else:
            assert small.dtype == e.dtype
            if exact and len(x) <= 50:
                np.testing.assert_array_equal(small, e)
            np.testing.assert_allclose(small, e, rtol=rtol, atol=atol)
    return got["small"]


# --------------------------------------------------------------------------- random forests, hand-built


def _inputs(rs, n, n_features, nan):
    # values on the thresholds' grid, so that ties (x == threshold) are frequent
    x = rs.randn(n, n_features).round(1).astype(np.float32)
    if nan:
        x[rs.rand(n, n_features) < 0.1] = np.nan
    return x


FORESTS = [
    # (modes, missing directions, NaN inputs, depth, trees)
    (MODES, True, True, 4, 7),
    (MODES, False, True, 9, 3),
    (["BRANCH_LEQ"], False, False, 6, 12),
    (["BRANCH_LEQ"], True, True, 6, 12),
    (["BRANCH_LT"], False, True, 5, 4),
    (["BRANCH_GTE"], True, True, 5, 4),
    (["BRANCH_GT"], False, False, 5, 4),
    (["BRANCH_EQ"], False, False, 3, 4),
    (["BRANCH_NEQ"], True, True, 3, 4),
    (["BRANCH_LEQ"], False, False, 1, 1),
]


@pytest.mark.parametrize("modes, missing, nan, depth, n_trees", FORESTS,
                         ids=[f"{'mixed' if len(f[0]) > 1 else f[0][0]}-missing{int(f[1])}-nan{int(f[2])}-d{f[3]}"
                              for f in FORESTS])
@pytest.mark.parametrize("double", [False, True], ids=["float", "double"])
def test_hand_built_regressor(monkeypatch, modes, missing, nan, depth, n_trees, double):
    rs = np.random.RandomState(depth * 31 + n_trees + len(modes))
    a, leaves = random_forest(rs, n_trees, 4, depth, modes, missing)
    targets = dict(target_treeids=[], target_nodeids=[], target_ids=[], target_weights=[])
    for t, n in leaves:
        for k in range(2):
            if rs.rand() < 0.8:  # a leaf may leave a target out
                targets["target_treeids"].append(t)
                targets["target_nodeids"].append(n)
                targets["target_ids"].append(k)
                targets["target_weights"].append(round(float(rs.randn()), 2))
    attrs = dict(a, **targets, n_targets=2, aggregate_function="SUM", base_values=[0.5, -0.25])
    x = _inputs(rs, max(BATCHES), 4, nan)
    if double:
        attrs["nodes_values_as_tensor"] = helper.make_tensor("v", TP.DOUBLE, [len(a["nodes_values"])],
                                                             attrs.pop("nodes_values"))
        x = x.astype(np.float64) + 0.04  # a double input: the thresholds compare in double
    node = helper.make_node("TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", **attrs)
    data = _model([node], [helper.make_tensor_value_info("x", TP.DOUBLE if double else TP.FLOAT, [None, 4])],
                  [helper.make_tensor_value_info("y", TP.FLOAT, [None, 2])])
    for n in BATCHES:
        _run_all_ways(data, x[:n], monkeypatch, exact=True)


@pytest.mark.parametrize("agg", ["AVERAGE", "MIN", "MAX"])
def test_hand_built_regressor_aggregates(monkeypatch, agg):
    rs = np.random.RandomState(7)
    a, leaves = random_forest(rs, 6, 3, 5, MODES, True)
    attrs = dict(a, target_treeids=[t for t, _ in leaves], target_nodeids=[n for _, n in leaves],
                 target_ids=[0] * len(leaves), target_weights=rs.randn(len(leaves)).round(3).tolist(),
                 n_targets=1, aggregate_function=agg)
    node = helper.make_node("TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", **attrs)
    data = _model([node], [helper.make_tensor_value_info("x", TP.FLOAT, [None, 3])],
                  [helper.make_tensor_value_info("y", TP.FLOAT, [None, 1])])
    x = _inputs(rs, max(BATCHES), 3, True)
    for n in BATCHES:
        _run_all_ways(data, x[:n], monkeypatch, exact=True)


@pytest.mark.parametrize("n_classes, class_ids", [(3, [0, 1, 2]), (2, [0]), (4, [0, 1, 2, 3])])
@pytest.mark.parametrize("pt", ["NONE", "SOFTMAX", "LOGISTIC"])
def test_hand_built_classifier(monkeypatch, n_classes, class_ids, pt):
    rs = np.random.RandomState(n_classes * 5 + len(pt))
    a, leaves = random_forest(rs, 9, 4, 7, ["BRANCH_LEQ"], False)
    c = class_weights(rs, leaves, class_ids)
    attrs = dict(a, **c, classlabels_int64s=list(range(5, 5 + n_classes)), post_transform=pt)
    node = helper.make_node("TreeEnsembleClassifier", ["x"], ["label", "scores"], domain="ai.onnx.ml", **attrs)
    data = _model([node], [helper.make_tensor_value_info("x", TP.FLOAT, [None, 4])],
                  [helper.make_tensor_value_info("label", TP.INT64, [None]),
                   helper.make_tensor_value_info("scores", TP.FLOAT, [None, n_classes])])
    x = _inputs(rs, max(BATCHES), 4, False)
    for n in BATCHES:
        _run_all_ways(data, x[:n], monkeypatch, rtol=1e-4, atol=1e-5, exact=pt == "NONE")


def _v5_member_model(agg):
    attrs = v5_member_forest(agg, 0)
    node = helper.make_node("TreeEnsemble", ["x"], ["y"], domain="ai.onnx.ml", **attrs)
    return _model([node], [helper.make_tensor_value_info("x", TP.FLOAT, [None, 2])],
                  [helper.make_tensor_value_info("y", TP.FLOAT, [None, 2])], ml=5)


@pytest.mark.parametrize("agg", [0, 1, 2, 3])
def test_tree_ensemble_v5_member_nodes(monkeypatch, agg):
    """BRANCH_MEMBER (a value in a set) next to other modes, NaN inputs, missing directions."""
    rs = np.random.RandomState(agg)
    x = rs.randint(0, 13, (max(BATCHES), 2)).astype(np.float32)
    x[rs.rand(*x.shape) < 0.1] = np.nan
    x[:6] = [[1.2, 0.5], [3.4, -1.0], [np.nan, 2.0], [12, 7], [7, 3], [8.0, np.nan]]
    for n in BATCHES:
        _run_all_ways(_v5_member_model(agg), x[:n], monkeypatch, exact=True)


# --------------------------------------------------------------------------- forests from sklearn


def _convert(model, x):
    skl2onnx = pytest.importorskip("skl2onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = skl2onnx.to_onnx(model, x[:1], options={id(model): {"zipmap": False}} if hasattr(model, "classes_")
                               else None, target_opset={"": 17, "ai.onnx.ml": 3})
    onx.graph.input[0].name = "x"  # a uniform input name for _run_all_ways
    for node in onx.graph.node:
        node.input[:] = ["x" if i == "X" else i for i in node.input]
    return onx.SerializeToString()


SKLEARN = [
    ("RandomForestClassifier", dict(n_estimators=30, max_depth=10), "3 classes"),
    ("RandomForestClassifier", dict(n_estimators=7, max_depth=3), "2 classes"),
    ("RandomForestClassifier", dict(n_estimators=4), "3 classes"),  # fully grown, uneven depths
    ("ExtraTreesClassifier", dict(n_estimators=20, max_depth=8), "3 classes"),
    ("GradientBoostingClassifier", dict(n_estimators=15, max_depth=3), "2 classes"),
    ("GradientBoostingClassifier", dict(n_estimators=10, max_depth=4), "3 classes"),
    ("RandomForestRegressor", dict(n_estimators=25, max_depth=8), "regression"),
    ("GradientBoostingRegressor", dict(n_estimators=30, max_depth=4), "regression"),
    ("DecisionTreeRegressor", dict(max_depth=15), "regression"),
]


@pytest.mark.parametrize("name, kw, task", SKLEARN, ids=[f"{s[0]}-{i}" for i, s in enumerate(SKLEARN)])
def test_sklearn_forests(monkeypatch, name, kw, task):
    pytest.importorskip("sklearn")
    from sklearn import ensemble, tree

    rs = np.random.RandomState(0)
    x = rs.randn(1000, 6).astype(np.float32)
    if task == "regression":
        y = x[:, 0] * 2 + np.sin(x[:, 1]) + x[:, 2] * x[:, 3]
    elif task == "2 classes":
        y = (x[:, 0] * x[:, 4] > 0).astype(int)
    else:
        y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int) + (x[:, 3] > 0.5)
    cls = getattr(ensemble, name, None) or getattr(tree, name)
    model = cls(random_state=0, **kw).fit(x, y)
    data = _convert(model, x)
    for n in BATCHES:
        _run_all_ways(data, x[:n], monkeypatch, rtol=1e-4, atol=1e-5, exact=not name.startswith("Gradient"))


def test_sklearn_forest_with_missing_values(monkeypatch):
    """HistGradientBoosting learns where missing values go (nodes_missing_value_tracks_true)."""
    pytest.importorskip("sklearn")
    from skl2onnx.common import tree_ensemble
    from sklearn.ensemble import HistGradientBoostingRegressor

    # skl2onnx 1.20 writes a bool into an ints attribute for these leaves (see test_peer_converted_models.py)
    original = tree_ensemble.add_node

    def add_node(*args, nodes_missing_value_tracks_true=0, **kw):
        return original(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kw)

    monkeypatch.setattr(tree_ensemble, "add_node", add_node)
    rs = np.random.RandomState(1)
    x = rs.randn(1000, 5).astype(np.float32)
    x[rs.rand(*x.shape) < 0.1] = np.nan
    y = np.nan_to_num(x[:, 0]) * 2 + np.isnan(x[:, 1]) - np.nan_to_num(x[:, 2])
    data = _convert(HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(x, y), x)
    for n in BATCHES:
        _run_all_ways(data, x[:n], monkeypatch, rtol=1e-4, atol=1e-5, exact=True)


# --------------------------------------------------------------------------- per-node plans


def test_nodes_of_one_op_keep_their_own_plans():
    """Two regressors and two linear classifiers in one model, run alternately with other
    models of the same ops: each node computes with its own attributes every time."""
    rs = np.random.RandomState(3)
    nodes, outs = [], []
    for i in range(2):
        a, leaves = random_forest(rs, 3, 3, 4, ["BRANCH_LEQ"], False)
        nodes.append(helper.make_node(
            "TreeEnsembleRegressor", ["x"], [f"t{i}"], domain="ai.onnx.ml", **a, n_targets=1,
            target_treeids=[t for t, _ in leaves], target_nodeids=[n for _, n in leaves], target_ids=[0] * len(leaves),
            target_weights=rs.randn(len(leaves)).round(2).tolist()))
        nodes.append(helper.make_node(
            "LinearClassifier", ["x"], [f"l{i}", f"p{i}"], domain="ai.onnx.ml", coefficients=rs.randn(9).tolist(),
            intercepts=rs.randn(3).tolist(), classlabels_ints=[1, 2, 3], post_transform="SOFTMAX"))
        outs += [helper.make_tensor_value_info(f"t{i}", TP.FLOAT, [None, 1]),
                 helper.make_tensor_value_info(f"l{i}", TP.INT64, [None]),
                 helper.make_tensor_value_info(f"p{i}", TP.FLOAT, [None, 3])]
    data = _model(nodes, [helper.make_tensor_value_info("x", TP.FLOAT, [None, 3])], outs)
    first = nnex.InferenceSession(data)
    second = nnex.InferenceSession(_model(nodes[2:], [helper.make_tensor_value_info("x", TP.FLOAT, [None, 3])],
                                          outs[3:]))
    reference = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for n in (1, 4, 1, 9):
        x = rs.randn(n, 3).astype(np.float32)
        expected = reference.run(None, {"x": x})
        for _ in range(2):
            got = first.run(None, {"x": x})
            assert [g.tolist() for g in got[3:]] == [g.tolist() for g in second.run(None, {"x": x})]
            for e, g in zip(expected, got):
                np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- SVMs, linear models, preprocessing


def _pipeline_case(kind):
    from sklearn import linear_model, pipeline, preprocessing, svm

    if kind == "svc":
        return pipeline.make_pipeline(preprocessing.StandardScaler(), svm.SVC(kernel="rbf"))
    if kind == "svc-proba":
        return pipeline.make_pipeline(preprocessing.StandardScaler(), svm.SVC(kernel="rbf", probability=True,
                                                                             random_state=0))
    if kind == "svc-poly":
        return svm.SVC(kernel="poly", degree=3)
    if kind == "svr":
        return pipeline.make_pipeline(preprocessing.MinMaxScaler(), svm.SVR(kernel="rbf"))
    if kind == "logreg":
        return pipeline.make_pipeline(preprocessing.Normalizer(norm="l1"), linear_model.LogisticRegression(max_iter=300))
    return linear_model.LinearRegression()


@pytest.mark.parametrize("kind", ["svc", "svc-proba", "svc-poly", "svr", "logreg", "linreg"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_sklearn_small_batches(kind, n_classes, kernels):
    pytest.importorskip("sklearn")
    if n_classes == 4 and kind in ("svr", "linreg"):
        pytest.skip("a regressor")
    rs = np.random.RandomState(n_classes)
    x = (rs.randn(200, 8) * 3 + 1).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(int) + (n_classes == 4) * 2 * (x[:, 2] > 1)
    model = _pipeline_case(kind).fit(x, y if kind not in ("svr", "linreg") else x[:, 0] - 0.5 * x[:, 3])
    data = _convert(model, x)
    sess = nnex.InferenceSession(data)
    reference = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for n in (1, 8, 1, 200):
        expected = reference.run(None, {"x": x[:n]})
        got = sess.run(None, {"x": x[:n]})
        for e, g in zip(expected, got):
            if e.dtype.kind in "iu":
                assert g.tolist() == e.tolist()
            else:
                np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def _one_op(op, inputs, attrs, out_type):
    names = [f"i{k}" for k in range(len(inputs))]
    node = helper.make_node(op, names, ["y"], domain="ai.onnx.ml", **attrs)
    types = {np.dtype(np.float32): TP.FLOAT, np.dtype(np.float64): TP.DOUBLE, np.dtype(np.int64): TP.INT64}
    data = _model([node], [helper.make_tensor_value_info(n, types[v.dtype], v.shape) for n, v in zip(names, inputs)],
                  [helper.make_tensor_value_info("y", out_type, None)], ml=1)
    feeds = dict(zip(names, inputs))
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    got = nnex.InferenceSession(data).run(None, feeds)[0]
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def _two_outputs(op, x, attrs, label_type=TP.INT64):
    node = helper.make_node(op, ["x"], ["label", "scores"], domain="ai.onnx.ml", **attrs)
    return _model([node], [helper.make_tensor_value_info("x", TP.FLOAT, [None, x.shape[1]])],
                  [helper.make_tensor_value_info("label", label_type, None),
                   helper.make_tensor_value_info("scores", TP.FLOAT, None)], ml=1)


def _same_both_ways(data, x, monkeypatch):
    """The NumPy kernels' outputs and the compiled ones' (when numba is installed) agree, NaN
    and infinity rows included (onnxruntime is not the oracle for those: its argmax differs)."""
    monkeypatch.setitem(_jit._loaded, "enabled", False)
    plain = nnex.InferenceSession(data).run(None, {"x": x})
    if _jit._numba() is None:
        return
    monkeypatch.setitem(_jit._loaded, "enabled", True)
    compiled = nnex.InferenceSession(data).run(None, {"x": x})
    for a, c in zip(plain, compiled):
        assert a.dtype == c.dtype and a.shape == c.shape
        if a.dtype.kind in "iuO":
            assert a.tolist() == c.tolist()
        else:
            np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-6)


_SPECIAL_ROWS = np.array([[np.nan, 0, 1], [np.inf, 0, 0], [-np.inf, 1, 2], [0, 0, 0], [1e30, -1e30, 3],
                          [np.nan, np.nan, np.nan]], np.float32)


@pytest.mark.parametrize("pt", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"])
@pytest.mark.parametrize("labels", [dict(classlabels_ints=[7, 3, 9, 1]), {}])
def test_linear_classifier_compiled(pt, labels, kernels, monkeypatch):
    rs = np.random.RandomState(5)
    attrs = dict(coefficients=rs.randn(12).round(2).tolist(), intercepts=rs.randn(4).round(2).tolist(),
                 post_transform=pt, **labels)
    # ties between classes: two equal weight rows
    attrs["coefficients"][3:6] = attrs["coefficients"][:3]
    attrs["intercepts"][1] = attrs["intercepts"][0]
    data = _two_outputs("LinearClassifier", _SPECIAL_ROWS, attrs)
    if labels:  # onnxruntime refuses a model of several classes without labels
        reference = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        sess = nnex.InferenceSession(data)
        for n in (1, 5, 300):
            x = (rs.randn(n, 3) * 4).astype(np.float32)
            expected = reference.run(None, {"x": x})
            got = sess.run(None, {"x": x})
            assert got[0].tolist() == expected[0].tolist()
            np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)
    _same_both_ways(data, _SPECIAL_ROWS, monkeypatch)


@pytest.mark.parametrize("n_classes, pt", [(2, "NONE"), (3, "NONE"), (4, "SOFTMAX"), (3, "LOGISTIC")])
@pytest.mark.parametrize("strings", [False, True])
def test_svm_classifier_compiled_vote(n_classes, pt, strings, kernels, monkeypatch):
    rs = np.random.RandomState(n_classes)
    vpc = [3] * n_classes
    n_sv, n_pairs = sum(vpc), n_classes * (n_classes - 1) // 2
    attrs = dict(kernel_type="RBF", kernel_params=[0.3, 0.0, 3.0], vectors_per_class=vpc,
                 support_vectors=rs.randn(n_sv * 3).round(2).tolist(),
                 coefficients=rs.randn((n_classes - 1) * n_sv).round(2).tolist(),
                 rho=rs.randn(n_pairs).round(2).tolist(), post_transform=pt)
    if strings:
        attrs["classlabels_strings"] = [f"c{i}" for i in range(n_classes)]
    else:
        attrs["classlabels_ints"] = list(range(10, 10 + n_classes))
    data = _two_outputs("SVMClassifier", _SPECIAL_ROWS, attrs, TP.STRING if strings else TP.INT64)
    reference = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    sess = nnex.InferenceSession(data)
    for n in (1, 6, 200):
        x = rs.randn(n, 3).astype(np.float32)
        expected = reference.run(None, {"x": x})
        got = sess.run(None, {"x": x})
        assert got[0].tolist() == expected[0].tolist()
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-4, atol=1e-5)
    _same_both_ways(data, _SPECIAL_ROWS, monkeypatch)


@pytest.mark.parametrize("shape, idx", [((1, 3), [2]), ((1, 50), list(range(49, -1, -2)) * 2), ((4, 6), [0, 5, 5]),
                                         ((7,), [6, 0])])
def test_array_feature_extractor(shape, idx):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    _one_op("ArrayFeatureExtractor", [x, np.array(idx, np.int64)], {}, TP.FLOAT)


@pytest.mark.parametrize("idx", [[3], [-1], [0, 1] * 20 + [7]])
def test_array_feature_extractor_refuses_bad_indices(idx):
    from nnex.ops.registry import lookup

    kernel = lookup("ai.onnx.ml", "ArrayFeatureExtractor", 1).fn
    with pytest.raises(IndexError, match="index out of range"):
        kernel(None, np.zeros((2, 3), np.float32), np.array(idx, np.int64))


@pytest.mark.parametrize("x, offset, scale", [
    (np.array([[1.5, -2.0, 3.0]], np.float32), [1.0, 2.0, 3.0], [2.0, 0.5, -1.0]),
    (np.array([[1.5, -2.0, 3.0], [0, 1, 2]], np.float64), [1.0], [3.0]),
    (np.array([[4, 5]], np.int64), [0.5, 1.0], [2.0, 3.0]),
    (np.array([4.0, 5.0], np.float32), [0.5], [-2.0]),
])
def test_scaler(x, offset, scale):
    _one_op("Scaler", [x], dict(offset=offset, scale=scale), TP.FLOAT)


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
def test_normalizer_zero_rows(norm):
    x = np.array([[0.0, 0.0, 0.0], [1.0, -3.0, 2.0], [-1.0, -2.0, 0.0]], np.float32)
    for rows in (x[:1], x[1:2], x):
        _one_op("Normalizer", [rows], dict(norm=norm), TP.FLOAT)


@pytest.mark.parametrize("op", ["TreeEnsembleRegressor", "LinearClassifier", "SVMClassifier", "Scaler"])
def test_prepared_run(op):
    """``kernel.nnex_prepare(attributes)`` is the run a runtime may bind once per node: it
    gives onnxruntime's outputs, as the kernel called with the attributes does."""
    import array_api_compat.numpy as xp

    from nnex.ops.registry import lookup

    rs = np.random.RandomState(8)
    x = rs.randn(5, 3).astype(np.float32)
    if op == "TreeEnsembleRegressor":
        a, leaves = random_forest(rs, 4, 3, 5, MODES, True)
        attrs = dict(a, target_treeids=[t for t, _ in leaves], target_nodeids=[n for _, n in leaves],
                     target_ids=[0] * len(leaves), target_weights=rs.randn(len(leaves)).round(2).tolist(), n_targets=1)
        outs = [TP.FLOAT]
    elif op == "LinearClassifier":
        attrs = dict(coefficients=rs.randn(9).tolist(), intercepts=rs.randn(3).tolist(), classlabels_ints=[4, 5, 6],
                     post_transform="SOFTMAX")
        outs = [TP.INT64, TP.FLOAT]
    elif op == "SVMClassifier":
        attrs = dict(kernel_type="RBF", kernel_params=[0.5, 0.0, 3.0], vectors_per_class=[2, 3, 2],
                     support_vectors=rs.randn(21).tolist(), coefficients=rs.randn(14).tolist(),
                     rho=rs.randn(3).tolist(), classlabels_ints=[0, 1, 2])
        outs = [TP.INT64, TP.FLOAT]
    else:
        attrs = dict(offset=[0.5, -1.0, 2.0], scale=[2.0, 0.25, 1.0])
        outs = [TP.FLOAT]
    node = helper.make_node(op, ["x"], [f"y{i}" for i in range(len(outs))], domain="ai.onnx.ml", **attrs)
    data = _model([node], [helper.make_tensor_value_info("x", TP.FLOAT, [None, 3])],
                  [helper.make_tensor_value_info(f"y{i}", t, None) for i, t in enumerate(outs)])
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    kernel = lookup("ai.onnx.ml", op, 3 if op.startswith("Tree") else 1).fn
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs = {k: v.decode() if isinstance(v, bytes) else
             [s.decode() for s in v] if isinstance(v, list) and v and isinstance(v[0], bytes) else v
             for k, v in attrs.items()}  # as the runtime decodes them
    run = kernel.nnex_prepare(attrs)
    for got in (run(xp, x), kernel(xp, x, **attrs), run(xp, x[:1])):
        got = got if isinstance(got, tuple) else (got,)
        for e, g in zip(expected, got):
            np.testing.assert_allclose(g, e[:len(g)], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("budget", [0, 1, 1 << 20], ids=["levels only", "one block", "all blocks"])
def test_one_row_walk_by_blocks_of_three_levels(monkeypatch, budget, numpy_kernels):
    """trees.py's one-row walk takes three levels at a time while its tables fit the budget
    (in units of 128-entry tables per tree here), then goes on level by level."""
    pytest.importorskip("sklearn")
    from sklearn.ensemble import RandomForestClassifier

    rs = np.random.RandomState(3)
    x = rs.randn(400, 6).round(1).astype(np.float32)   # ties with the thresholds are frequent
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int) + (x[:, 3] > 0.5)
    model = RandomForestClassifier(n_estimators=12, max_depth=11, random_state=0).fit(x, y)
    data = _convert(model, x)
    monkeypatch.setattr(trees, "_BLOCK_ENTRIES", budget * 128 * 12)
    sess = nnex.InferenceSession(data)
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for row in x[:60]:
        got = sess.run(None, {"x": row[None]})
        want = expected.run(None, {"x": row[None]})
        assert got[0].tolist() == want[0].tolist()
        np.testing.assert_array_equal(got[1], want[1])
