"""Classic-ML models converted by the peer converters (skl2onnx, onnxmltools) run in nnex
give onnxruntime's outputs.

Each case fits a small model on fixed-seed synthetic data, converts it, runs the ONNX
model in onnxruntime and in ``nnex.InferenceSession`` on the same inputs, and compares
every output: labels equal, scores and probabilities within rtol 1e-5 / atol 1e-6,
ZipMap outputs (sequences of maps) key by key.  Each case also checks the outputs
against the framework's own ``predict``/``predict_proba``/``transform``, so that a
converted model that departs from the framework shows up; where it does (a converter
limitation, onnxruntime and nnex agreeing), the test says why and checks the framework
only where the converted model can match it.

No converter emits TreeEnsemble (ai.onnx.ml 5) yet: the forests are also rewritten into
it here, to run real forests through that kernel too.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
sklearn = pytest.importorskip("sklearn")
skl2onnx = pytest.importorskip("skl2onnx")

from skl2onnx import to_onnx

import nnex

RTOL, ATOL = 1e-5, 1e-6
# the newest opsets skl2onnx 1.20 converts to (onnxruntime 1.32 runs them)
OPSET = {"": 22, "ai.onnx.ml": 3}
MLTOOLS_OPSET = 15  # the newest onnxmltools 1.16 converts to


# --------------------------------------------------------------------------- comparison


def _assert_same(expected, got, names):
    assert len(got) == len(expected), f"{len(got)} outputs for {len(expected)}"
    for name, e, g in zip(names, expected, got):
        if isinstance(e, list):  # a sequence of maps (ZipMap)
            assert isinstance(g, list) and len(g) == len(e), name
            for i, (de, dg) in enumerate(zip(e, g)):
                assert list(dg) == list(de), f"{name}[{i}]: keys {list(dg)} != {list(de)}"
                for k in de:
                    np.testing.assert_allclose(dg[k], de[k], rtol=RTOL, atol=ATOL, err_msg=f"{name}[{i}][{k!r}]")
            continue
        g = np.asarray(g)
        assert g.shape == e.shape, f"{name}: shape {g.shape} != {e.shape}"
        if e.dtype == object or e.dtype.kind in "iub":
            assert g.tolist() == e.tolist(), f"{name}: {g.tolist()[:10]} != {e.tolist()[:10]}"
        else:
            assert g.dtype == e.dtype, f"{name}: dtype {g.dtype} != {e.dtype}"
            np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL, err_msg=name)


def run_both(onx, feeds):
    """(onnxruntime's outputs, nnex's outputs) after asserting that they agree."""
    data = onx.SerializeToString()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    expected = sess.run(None, feeds)
    got = nnex.InferenceSession(data).run(None, feeds)
    _assert_same(expected, got, [o.name for o in sess.get_outputs()])
    return expected


def _labels_agree(label_out, framework_labels):
    np.testing.assert_array_equal(np.asarray(label_out).reshape(-1), np.asarray(framework_labels).reshape(-1))


def _proba_matrix(out, classes):
    """[N, C] probabilities from a tensor or a ZipMap output (a list of dicts)."""
    if isinstance(out, list):
        return np.array([[d[c] for c in classes] for d in out])
    return np.asarray(out)


def convert(model, x, options=None, target_opset=OPSET, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_onnx(model, x, options=options, target_opset=target_opset, **kw)


@pytest.fixture(autouse=True)
def _one_thread():
    """Fitting with one OpenMP/BLAS thread: the models are tiny, and spinning threads only
    slow the suite down when it runs beside other work (pytest -n 2)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        yield


@pytest.fixture(autouse=True)
def _hist_gradient_boosting_fix(monkeypatch):
    """skl2onnx 1.20 writes a Python bool into nodes_missing_value_tracks_true (an ints
    attribute) for the leaves of HistGradientBoosting trees, which the onnx helpers of
    onnx 1.23 refuse; the converter is patched to write it as an int (a converter bug,
    nothing the runtime sees)."""
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def add_node(*args, nodes_missing_value_tracks_true=0, **kw):
        return original(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kw)

    monkeypatch.setattr(tree_ensemble, "add_node", add_node)


# --------------------------------------------------------------------------- data


def _data(n=120, f=5, seed=0):
    rs = np.random.RandomState(seed)
    x = rs.randn(n, f).astype(np.float32)
    return x


def _labels(x, n_classes, kind, seed=0):
    rs = np.random.RandomState(seed + 1)
    w = rs.randn(x.shape[1], n_classes)
    y = np.argmax(x @ w + 0.3 * rs.randn(x.shape[0], n_classes), axis=1)
    if kind == "str":
        return np.array([f"cls_{c}" for c in y], dtype=object)
    return y.astype(np.int64) + 3  # labels that are not 0..C-1


def _reg_target(x, seed=0):
    rs = np.random.RandomState(seed + 2)
    return (x @ rs.randn(x.shape[1]) + np.sin(x[:, 0]) + 0.1 * rs.randn(x.shape[0])).astype(np.float64)


# --------------------------------------------------------------------------- classifiers


def _classifiers():
    from sklearn.ensemble import (
        AdaBoostClassifier,
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB, GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC, LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    return {
        "DecisionTree": lambda: DecisionTreeClassifier(max_depth=6, random_state=0),
        "RandomForest": lambda: RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0),
        "ExtraTrees": lambda: ExtraTreesClassifier(n_estimators=10, max_depth=5, random_state=0),
        "GradientBoosting": lambda: GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0),
        "HistGradientBoosting": lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0),
        "AdaBoost": lambda: AdaBoostClassifier(n_estimators=10, random_state=0),
        "LogisticRegression": lambda: LogisticRegression(max_iter=500),
        "LinearSVC": lambda: LinearSVC(),
        "SVC-linear": lambda: SVC(kernel="linear"),
        "SVC-rbf": lambda: SVC(kernel="rbf"),
        "SVC-poly": lambda: SVC(kernel="poly", degree=3),
        "SVC-rbf-proba": lambda: SVC(kernel="rbf", probability=True, random_state=0),
        "SVC-linear-proba": lambda: SVC(kernel="linear", probability=True, random_state=0),
        "SVC-poly-proba": lambda: SVC(kernel="poly", degree=2, probability=True, random_state=0),
        "KNeighbors": lambda: KNeighborsClassifier(n_neighbors=5),
        "GaussianNB": lambda: GaussianNB(),
        "BernoulliNB": lambda: BernoulliNB(),
        "MLP": lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
    }


# classifiers whose second output holds decision scores, not probabilities
_SCORES = {"LinearSVC", "SVC-linear", "SVC-rbf", "SVC-poly"}

CLASSIFIER_CASES = [
    (name, n_classes, kind, zipmap)
    for name in _classifiers()
    for n_classes in (2, 3)
    for kind in ("int", "str")
    for zipmap in (True, False)
    # LinearSVC's converter has no zipmap option; string labels once are enough
    if not (name == "LinearSVC" and not zipmap) and (zipmap or kind == "int")
]


@pytest.mark.parametrize(
    "name, n_classes, kind, zipmap",
    CLASSIFIER_CASES,
    ids=[f"{c[0]}-{c[1]}cls-{c[2]}-{'zipmap' if c[3] else 'nozipmap'}" for c in CLASSIFIER_CASES],
)
def test_sklearn_classifier(name, n_classes, kind, zipmap):
    x = _data()
    y = _labels(x, n_classes, kind)
    model = _classifiers()[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y)
    options = None if zipmap else {id(model): {"zipmap": False}}
    onx = convert(model, x[:1], options=options)
    xt = _data(40, seed=7)
    out = run_both(onx, {"X": xt})
    # the converted model agrees with the framework (else the test would assert against sklearn)
    _labels_agree(out[0], model.predict(xt))
    scores = _proba_matrix(out[1], list(model.classes_))
    if name in _SCORES:
        expected = model.decision_function(xt)
        if expected.ndim == 1:
            # two classes: skl2onnx reports SVC's decision d as [d, -d], LinearSVC's as [d]
            scores = scores[:, 0]
        np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)
    else:
        np.testing.assert_allclose(scores, model.predict_proba(xt), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["LinearSVC", "SVC-rbf", "LogisticRegression"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_sklearn_classifier_raw_scores(name, n_classes):
    """Decision functions (output_class_labels + raw scores) instead of probabilities."""
    x = _data()
    y = _labels(x, n_classes, "int")
    model = _classifiers()[name]()
    model.fit(x, y)
    options = {"raw_scores": True} if name == "LinearSVC" else {"raw_scores": True, "zipmap": False}
    onx = convert(model, x[:1], options={id(model): options})
    xt = _data(40, seed=7)
    out = run_both(onx, {"X": xt})
    _labels_agree(out[0], model.predict(xt))
    expected = model.decision_function(xt)
    # two classes: the decision d comes as [-d, d]
    scores = out[1][:, 1] if expected.ndim == 1 else out[1]
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("labels", ["int", "str"])
def test_categorical_nb(labels):
    from sklearn.naive_bayes import CategoricalNB

    rs = np.random.RandomState(3)
    x = rs.randint(0, 4, size=(100, 4)).astype(np.float32)
    y = _labels(rs.randn(100, 3).astype(np.float32), 3, labels)
    model = CategoricalNB().fit(x, y)
    onx = convert(model, x[:1])
    out = run_both(onx, {"X": x[:30]})
    _labels_agree(out[0], model.predict(x[:30]))


# --------------------------------------------------------------------------- tree ensembles as TreeEnsemble (ml 5)

_ML5_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5}


def _as_tree_ensemble_v5(onx):
    """The converted forest with its TreeEnsembleRegressor/Classifier node rewritten as one
    TreeEnsemble (ai.onnx.ml 5) node giving the raw scores (no converter emits it yet).

    A TreeEnsemble leaf scores one target, so each tree is copied once per target it
    scores; base values and the averaging of forests are folded into an Add and a Mul.
    """
    import onnx
    from onnx import helper, numpy_helper

    old = next(n for n in onx.graph.node if n.op_type.startswith("TreeEnsemble"))
    a = {at.name: helper.get_attribute_value(at) for at in old.attribute}
    prefix = "target" if old.op_type == "TreeEnsembleRegressor" else "class"
    trees, nodes_ids, modes = list(a["nodes_treeids"]), list(a["nodes_nodeids"]), [m.decode() for m in a["nodes_modes"]]
    where = {(t, n): i for i, (t, n) in enumerate(zip(trees, nodes_ids))}
    weights = {}
    for t, n, k, w in zip(a[f"{prefix}_treeids"], a[f"{prefix}_nodeids"], a[f"{prefix}_ids"], a[f"{prefix}_weights"]):
        weights.setdefault((t, k), {})[n] = w
    v5 = {k: [] for k in ["nodes_featureids", "nodes_splits", "nodes_modes", "nodes_truenodeids", "nodes_trueleafs",
                          "nodes_falsenodeids", "nodes_falseleafs", "nodes_missing_value_tracks_true", "tree_roots",
                          "leaf_targetids", "leaf_weights"]}
    missing = list(a.get("nodes_missing_value_tracks_true", [])) or [0] * len(trees)

    def copy(t, k, n):  # returns (index, is_leaf) of node n of tree t in the new arrays
        i = where[(t, n)]
        if modes[i] == "LEAF":
            v5["leaf_targetids"].append(k)
            v5["leaf_weights"].append(weights[(t, k)].get(n, 0.0))
            return len(v5["leaf_weights"]) - 1, 1
        j = len(v5["nodes_modes"])
        for key in ["nodes_featureids", "nodes_splits", "nodes_modes", "nodes_truenodeids", "nodes_trueleafs",
                    "nodes_falsenodeids", "nodes_falseleafs", "nodes_missing_value_tracks_true"]:
            v5[key].append(0)
        v5["nodes_featureids"][j] = a["nodes_featureids"][i]
        v5["nodes_splits"][j] = a["nodes_values"][i]
        v5["nodes_modes"][j] = _ML5_MODES[modes[i]]
        v5["nodes_missing_value_tracks_true"][j] = missing[i]
        v5["nodes_truenodeids"][j], v5["nodes_trueleafs"][j] = copy(t, k, a["nodes_truenodeids"][i])
        v5["nodes_falsenodeids"][j], v5["nodes_falseleafs"][j] = copy(t, k, a["nodes_falsenodeids"][i])
        return j, 0

    for t, k in sorted(weights):
        root = nodes_ids[trees.index(t)]
        j, leaf = copy(t, k, root)
        assert not leaf, "a one-leaf tree has no TreeEnsemble root"
        v5["tree_roots"].append(j)
    n_targets = int(a.get("n_targets", 0)) or len(a.get("classlabels_int64s", []) or a.get("classlabels_strings", []))
    if old.op_type == "TreeEnsembleClassifier" and n_targets == 2 and len({k for _, k in weights}) == 1:
        n_targets = 1  # binary models score one class
    attrs = dict(
        v5, n_targets=n_targets, aggregate_function=1, post_transform=0,
        nodes_modes=numpy_helper.from_array(np.array(v5["nodes_modes"], np.uint8), "modes"),
        nodes_splits=numpy_helper.from_array(np.array(v5["nodes_splits"], np.float32), "splits"),
        leaf_weights=numpy_helper.from_array(np.array(v5["leaf_weights"], np.float32), "weights"),
    )
    nodes = [helper.make_node("TreeEnsemble", [old.input[0]], ["raw"], domain="ai.onnx.ml", **attrs)]
    scale = 1.0 / len({t for t, _ in weights}) if a.get("aggregate_function", b"SUM") == b"AVERAGE" else 1.0
    base = np.zeros(n_targets, np.float32)
    base[: len(a.get("base_values", []))] = a.get("base_values", [])[:n_targets]
    inits = [numpy_helper.from_array(np.array([scale], np.float32), "scale"), numpy_helper.from_array(base, "base")]
    nodes += [helper.make_node("Mul", ["raw", "scale"], ["avg"]), helper.make_node("Add", ["avg", "base"], ["scores"])]
    graph = helper.make_graph(nodes, "v5", [onx.graph.input[0]], [helper.make_tensor_value_info("scores", 1, [None, None])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


ML5_CASES = ["DecisionTreeRegressor", "RandomForestRegressor", "GradientBoostingRegressor", "ExtraTreesClassifier",
             "RandomForestClassifier-2", "GradientBoostingClassifier-2", "GradientBoostingClassifier-3",
             "HistGradientBoostingRegressor"]


@pytest.mark.parametrize("case", ML5_CASES)
def test_tree_ensemble_v5(case):
    from sklearn import ensemble, tree

    name, _, n_classes = case.partition("-")
    cls = getattr(ensemble, name, None) or getattr(tree, name)
    x = _data()
    with_nan = name.startswith("Hist")  # the one forest here that learns where missing values go
    if with_nan:
        x[::9, 1] = np.nan
    kw = {"max_iter": 8} if name.startswith("Hist") else {"max_depth": 4}
    if name.startswith(("Random", "Extra", "Gradient")):
        kw["n_estimators"] = 8
    model = cls(random_state=0, **kw)
    is_reg = name.endswith("Regressor")
    model.fit(x, _reg_target(np.nan_to_num(x)) if is_reg else _labels(x, int(n_classes or 3), "int"))
    options = None if is_reg else {id(model): {"zipmap": False}}
    onx = _as_tree_ensemble_v5(convert(model, x[:1], options=options))
    xt = _data(40, seed=7)
    if with_nan:
        xt[::5, 1] = np.nan
    scores = run_both(onx, {"X": xt})[0]
    if is_reg:
        expected = model.predict(xt)
    elif name.startswith("Gradient"):
        expected = model.decision_function(xt)
    else:
        expected = model.predict_proba(xt)
        if scores.shape[1] == 1:  # a binary forest scores the positive class only
            expected = expected[:, 1]
    np.testing.assert_allclose(scores.reshape(expected.shape), expected, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- regressors


def _regressors():
    from sklearn.ensemble import (
        AdaBoostRegressor,
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.svm import SVR, LinearSVR
    from sklearn.tree import DecisionTreeRegressor

    return {
        "DecisionTree": lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
        "RandomForest": lambda: RandomForestRegressor(n_estimators=10, max_depth=5, random_state=0),
        "ExtraTrees": lambda: ExtraTreesRegressor(n_estimators=10, max_depth=5, random_state=0),
        "GradientBoosting": lambda: GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0),
        "HistGradientBoosting": lambda: HistGradientBoostingRegressor(max_iter=15, random_state=0),
        "AdaBoost": lambda: AdaBoostRegressor(n_estimators=10, random_state=0),
        "LinearRegression": lambda: LinearRegression(),
        "Ridge": lambda: Ridge(alpha=0.5),
        "SVR-rbf": lambda: SVR(kernel="rbf"),
        "SVR-linear": lambda: SVR(kernel="linear"),
        "SVR-poly": lambda: SVR(kernel="poly", degree=2),
        "LinearSVR": lambda: LinearSVR(max_iter=5000, random_state=0),
        "KNeighbors": lambda: KNeighborsRegressor(n_neighbors=4),
        "MLP": lambda: MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
    }


@pytest.mark.parametrize("name", list(_regressors()))
def test_sklearn_regressor(name):
    x = _data()
    model = _regressors()[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, _reg_target(x))
    onx = convert(model, x[:1])
    xt = _data(40, seed=7)
    out = run_both(onx, {"X": xt})
    np.testing.assert_allclose(out[0].reshape(-1), model.predict(xt), rtol=1e-3, atol=1e-3)


def test_multioutput_regressor_tree():
    from sklearn.ensemble import RandomForestRegressor

    x = _data()
    y = np.stack([_reg_target(x, 0), _reg_target(x, 5)], axis=1)
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(x, y)
    out = run_both(convert(model, x[:1]), {"X": _data(30, seed=7)})
    np.testing.assert_allclose(out[0], model.predict(_data(30, seed=7)), rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- double precision inputs

# (skl2onnx's double tree regressors, gradient boosting and SVR declare outputs onnxruntime
# refuses to load at these opsets, so they have no oracle here)
DOUBLE_CASES = [
    ("RandomForestClassifier", "sklearn.ensemble", {"n_estimators": 6, "max_depth": 5, "random_state": 0}),
    ("LinearRegression", "sklearn.linear_model", {}),
    ("LogisticRegression", "sklearn.linear_model", {"max_iter": 500}),
    ("SVC", "sklearn.svm", {"probability": True, "random_state": 0}),
    ("KNeighborsClassifier", "sklearn.neighbors", {"n_neighbors": 4}),
    ("GaussianNB", "sklearn.naive_bayes", {}),
    ("StandardScaler", "sklearn.preprocessing", {}),
]


@pytest.mark.parametrize("name, module, kw", DOUBLE_CASES, ids=[c[0] for c in DOUBLE_CASES])
def test_double_input(name, module, kw):
    """float64 inputs: skl2onnx then keeps thresholds and weights in double (the *_as_tensor attributes)."""
    import importlib

    cls = getattr(importlib.import_module(module), name)
    x = _data().astype(np.float64)
    xt = _data(40, seed=7).astype(np.float64)
    model = cls(**kw)
    if name.endswith("Scaler"):
        model.fit(x)
    elif name == "LinearRegression":
        model.fit(x, _reg_target(x))
    else:
        model.fit(x, _labels(x, 3, "int"))
    options = {id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None
    out = run_both(convert(model, x[:1], options=options), {"X": xt})
    if name.endswith("Scaler"):
        np.testing.assert_allclose(out[0], model.transform(xt), rtol=1e-9, atol=1e-12)
    elif hasattr(model, "predict_proba"):
        _labels_agree(out[0], model.predict(xt))
        np.testing.assert_allclose(out[1], model.predict_proba(xt), rtol=1e-3, atol=1e-4)
    else:
        np.testing.assert_allclose(out[0].reshape(-1), model.predict(xt), rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- transformers


def _transformers():
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import (
        Binarizer,
        MaxAbsScaler,
        MinMaxScaler,
        Normalizer,
        RobustScaler,
        StandardScaler,
    )

    return {
        "StandardScaler": StandardScaler,
        "MinMaxScaler": MinMaxScaler,
        "MaxAbsScaler": MaxAbsScaler,
        "RobustScaler": RobustScaler,
        "Normalizer-l1": lambda: Normalizer(norm="l1"),
        "Normalizer-l2": lambda: Normalizer(norm="l2"),
        "Normalizer-max": lambda: Normalizer(norm="max"),
        "Binarizer": lambda: Binarizer(threshold=0.2),
        "SimpleImputer-mean": lambda: SimpleImputer(strategy="mean"),
        "SimpleImputer-const": lambda: SimpleImputer(strategy="constant", fill_value=-3.0),
    }


@pytest.mark.parametrize("name", list(_transformers()))
def test_sklearn_transformer(name):
    x = _data()
    xt = _data(40, seed=7)
    if "Imputer" in name:
        x[::7, 1] = np.nan
        xt[::5, 2] = np.nan
    model = _transformers()[name]().fit(x)
    out = run_both(convert(model, x[:1]), {"X": xt})
    rows = slice(None)
    if name == "Normalizer-max":
        # skl2onnx maps sklearn's norm="max" (divide by max |x|) onto ONNX Normalizer MAX,
        # which divides by max x (spec, onnxruntime and nnex agree): the converted model
        # matches sklearn only on rows whose largest magnitude is positive
        rows = np.abs(xt).max(axis=1) == xt.max(axis=1)
        assert 0 < rows.sum() < len(rows)
    np.testing.assert_allclose(out[0][rows], model.transform(xt)[rows], rtol=1e-4, atol=1e-5)


def test_one_hot_encoder_strings():
    from sklearn.preprocessing import OneHotEncoder

    rs = np.random.RandomState(4)
    x = np.array([[rs.choice(["red", "green", "blue"]), rs.choice(["s", "m", "l", "xl"])] for _ in range(50)],
                 dtype=object)
    model = OneHotEncoder(handle_unknown="ignore").fit(x)
    xt = x[:20].copy()
    xt[3, 0] = "purple"  # unknown: all zeros
    out = run_both(convert(model, x[:1]), {"X": xt})
    np.testing.assert_allclose(out[0], model.transform(xt).toarray())


def test_one_hot_encoder_ints():
    from sklearn.preprocessing import OneHotEncoder

    rs = np.random.RandomState(4)
    x = rs.randint(0, 5, size=(50, 3)).astype(np.int64)
    model = OneHotEncoder(sparse_output=False).fit(x)
    out = run_both(convert(model, x[:1]), {"X": x[:20]})
    np.testing.assert_allclose(out[0], model.transform(x[:20]))


def test_ordinal_encoder_strings():
    from sklearn.preprocessing import OrdinalEncoder

    rs = np.random.RandomState(5)
    x = np.array([[rs.choice(["a", "b", "c"]), rs.choice(["x", "y"])] for _ in range(40)], dtype=object)
    model = OrdinalEncoder().fit(x)
    out = run_both(convert(model, x[:1]), {"X": x[:15]})
    np.testing.assert_allclose(out[0], model.transform(x[:15]))


@pytest.mark.parametrize("kind", ["str", "int"])
def test_label_encoder(kind):
    from sklearn.preprocessing import LabelEncoder

    values = ["cat", "dog", "emu", "dog", "cat"] if kind == "str" else [7, 3, 9, 3, 7]
    x = np.array(values, dtype=object if kind == "str" else np.int64)
    model = LabelEncoder().fit(x)
    out = run_both(convert(model, x[:1]), {"X": x})
    np.testing.assert_array_equal(out[0].reshape(-1), model.transform(x))


def test_dict_vectorizer():
    from skl2onnx.common.data_types import DictionaryType, FloatTensorType, StringTensorType
    from sklearn.feature_extraction import DictVectorizer

    rows = [{"a": 1.0, "b": 2.0}, {"b": 3.0, "c": -1.0}, {"a": 0.5, "d": 4.0}]
    model = DictVectorizer(sparse=False).fit(rows)
    onx = convert(model, None, initial_types=[("X", DictionaryType(StringTensorType([1]), FloatTensorType([1])))])
    for row in rows + [{"c": 2.5, "zz": 9.0}]:
        out = run_both(onx, {"X": row})
        np.testing.assert_allclose(out[0].reshape(-1), model.transform([row]).reshape(-1))


def test_feature_hasher():
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction import FeatureHasher

    model = FeatureHasher(n_features=16, input_type="string")
    x = np.array([["dog", "cat"], ["emu", "dog"], ["bird", "fish"]], dtype=object)
    model.fit(x)
    # the converter hashes with onnxruntime's com.microsoft MurmurHash3
    onx = convert(model, None, initial_types=[("X", StringTensorType([None, 2]))])
    assert any(n.op_type == "MurmurHash3" for n in onx.graph.node)
    out = run_both(onx, {"X": x})
    np.testing.assert_allclose(out[0], model.transform(x).toarray())


@pytest.mark.parametrize("vectorizer", ["count", "tfidf", "tfidf-bigram"])
def test_text_vectorizer(vectorizer):
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    corpus = np.array([
        "the quick brown fox", "jumps over the lazy dog", "the dog barks", "a quick brown dog",
        "lazy fox sleeps", "The Fox and the Dog", "Été à Noël, l'été",
    ], dtype=object)
    if vectorizer == "count":
        model = CountVectorizer()
    elif vectorizer == "tfidf":
        model = TfidfVectorizer()
    else:
        model = TfidfVectorizer(ngram_range=(1, 2), norm="l1")
    model.fit(corpus)
    # the converter's default locale (en_US.UTF-8) may not be installed, C.UTF-8 always is
    onx = convert(model, None, initial_types=[("X", StringTensorType([None, 1]))],
                  options={id(model): {"locale": "C.UTF-8"}})
    x = corpus.reshape(-1, 1)
    out = run_both(onx, {"X": x})
    # skl2onnx turns sklearn's token pattern into an ASCII one ([a-zA-Z0-9_]+): the converted
    # model (onnxruntime and nnex alike) tokenizes the accented last row differently from sklearn
    ascii_rows = [s.isascii() for s in corpus]
    assert not all(ascii_rows)
    np.testing.assert_allclose(out[0][ascii_rows], model.transform(corpus).toarray()[ascii_rows], rtol=1e-4,
                               atol=1e-5)


# --------------------------------------------------------------------------- pipelines


def test_pipeline_scaler_logistic():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = _data()
    y = _labels(x, 3, "str")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    out = run_both(convert(model, x[:1]), {"X": _data(30, seed=7)})
    _labels_agree(out[0], model.predict(_data(30, seed=7)))


def test_pipeline_imputer_forest():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    x = _data()
    x[::6, 0] = np.nan
    y = _labels(np.nan_to_num(x), 2, "int")
    model = make_pipeline(SimpleImputer(), RandomForestClassifier(n_estimators=5, random_state=0)).fit(x, y)
    xt = _data(30, seed=7)
    xt[::4, 0] = np.nan
    out = run_both(convert(model, x[:1]), {"X": xt})
    _labels_agree(out[0], model.predict(xt))


def _frame():
    pd = pytest.importorskip("pandas")
    rs = np.random.RandomState(6)
    n = 80
    df = pd.DataFrame({
        "age": rs.uniform(18, 80, n).astype(np.float32),
        "income": rs.lognormal(10, 0.5, n).astype(np.float32),
        "city": rs.choice(["paris", "lyon", "nice"], n).astype(object),
        "plan": rs.choice(["a", "b", "c", "d"], n).astype(object),
    })
    score = df["age"].to_numpy() / 40 + (df["city"] == "paris").to_numpy() - (df["plan"] == "d").to_numpy()
    return df, score


def _frame_feeds(df):
    return {c: df[c].to_numpy().reshape(-1, 1) for c in df.columns}


@pytest.mark.parametrize("head", ["logistic", "forest", "gbr"])
def test_column_transformer(head):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    df, score = _frame()
    pre = ColumnTransformer([
        ("num", StandardScaler(), ["age", "income"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
    ])
    if head == "logistic":
        est, y = LogisticRegression(max_iter=500), np.where(score > np.median(score), "yes", "no")
    elif head == "forest":
        est, y = RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0), (score > 1.2).astype(int) + (
            score > 1.8)
    else:
        est, y = GradientBoostingRegressor(n_estimators=10, random_state=0), score
    model = Pipeline([("pre", pre), ("est", est)]).fit(df, y)
    onx = convert(model, df[:1])
    test = df.iloc[:25].copy()
    test.loc[test.index[2], "city"] = "brest"  # unknown category
    out = run_both(onx, _frame_feeds(test))
    if head == "gbr":
        np.testing.assert_allclose(out[0].reshape(-1), model.predict(test), rtol=1e-4, atol=1e-4)
    else:
        _labels_agree(out[0], model.predict(test))


# --------------------------------------------------------------------------- LightGBM / XGBoost (onnxmltools)


def _mltools():
    return pytest.importorskip("onnxmltools")


def _float_input(n_features):
    from onnxmltools.convert.common.data_types import FloatTensorType

    return [("X", FloatTensorType([None, n_features]))]


def _boosting_data(missing):
    x, xt = _data(200), _data(50, seed=7)
    if missing:  # the trees learn a direction for missing values (nodes_missing_value_tracks_true)
        x[::7, 0] = np.nan
        x[3::11, 2] = np.nan
        xt[::4, 0] = np.nan
        xt[1::5, 2] = np.nan
    return x, xt


def _check_boosting(model, out, xt, regression):
    if regression:
        np.testing.assert_allclose(out[0].reshape(-1), model.predict(xt), rtol=1e-4, atol=1e-4)
    else:
        _labels_agree(out[0], model.predict(xt))
        np.testing.assert_allclose(_proba_matrix(out[1], list(model.classes_)), model.predict_proba(xt),
                                   rtol=1e-4, atol=1e-5)


BOOSTING_CASES = [
    ("binary", False, True), ("binary", True, False), ("binary-str", False, True), ("multiclass", False, True),
    ("multiclass", True, False), ("multiclass-str", False, False), ("regression", False, None),
    ("regression", True, None),
]


def _boosting_id(case):
    objective, missing, zipmap = case
    return objective + ("-nan" if missing else "") + {True: "-zipmap", False: "-nozipmap", None: ""}[zipmap]


@pytest.mark.parametrize("objective, missing, zipmap", BOOSTING_CASES, ids=[_boosting_id(c) for c in BOOSTING_CASES])
def test_lightgbm(objective, missing, zipmap):
    lgb = pytest.importorskip("lightgbm")
    mltools = _mltools()
    x, xt = _boosting_data(missing)
    params = {"n_estimators": 15, "num_leaves": 8, "min_child_samples": 5, "random_state": 0, "verbose": -1}
    if objective == "regression":
        model = lgb.LGBMRegressor(**params).fit(x, _reg_target(np.nan_to_num(x)))
    else:
        y = _labels(np.nan_to_num(x), 2 if objective.startswith("binary") else 3,
                    "str" if objective.endswith("str") else "int")
        model = lgb.LGBMClassifier(**params).fit(x, y)
    kw = {} if zipmap is None else {"zipmap": zipmap}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = mltools.convert_lightgbm(model, initial_types=_float_input(x.shape[1]), target_opset=MLTOOLS_OPSET,
                                       **kw)
    _check_boosting(model, run_both(onx, {"X": xt}), xt, objective == "regression")


@pytest.mark.parametrize("missing", [False, True], ids=["", "nan"])
@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
def test_xgboost(objective, missing):
    """convert_xgboost emits no ZipMap: the probabilities are a tensor."""
    xgb = pytest.importorskip("xgboost")
    mltools = _mltools()
    x, xt = _boosting_data(missing)
    params = {"n_estimators": 12, "max_depth": 3, "random_state": 0}
    if objective == "regression":
        model = xgb.XGBRegressor(**params).fit(x, _reg_target(np.nan_to_num(x)))
    else:
        # XGBoost takes the labels 0..C-1 only
        y = _labels(np.nan_to_num(x), 2 if objective == "binary" else 3, "int") - 3
        model = xgb.XGBClassifier(**params).fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = mltools.convert_xgboost(model, initial_types=_float_input(x.shape[1]), target_opset=MLTOOLS_OPSET)
    _check_boosting(model, run_both(onx, {"X": xt}), xt, objective == "regression")


@pytest.mark.parametrize("model_kind", ["lgbm-classifier", "xgb-classifier"])
def test_boosting_in_sklearn_pipeline(model_kind):
    """A boosting model inside an sklearn pipeline converted by skl2onnx (through the onnxmltools shapes)."""
    mltools = _mltools()
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = _data(150)
    y = _labels(x, 3, "int") - 3
    if model_kind == "lgbm-classifier":
        lgb = pytest.importorskip("lightgbm")
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        est = lgb.LGBMClassifier(n_estimators=8, num_leaves=6, min_child_samples=5, random_state=0, verbose=-1)
        update_registered_converter(lgb.LGBMClassifier, "LightGbmLGBMClassifier",
                                    calculate_linear_classifier_output_shapes, convert_lightgbm,
                                    options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    else:
        xgb = pytest.importorskip("xgboost")
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

        est = xgb.XGBClassifier(n_estimators=8, max_depth=3, random_state=0)
        update_registered_converter(xgb.XGBClassifier, "XGBoostXGBClassifier",
                                    calculate_linear_classifier_output_shapes, convert_xgboost,
                                    options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    del mltools
    model = make_pipeline(StandardScaler(), est).fit(x, y)
    onx = convert(model, x[:1], target_opset={"": 18, "ai.onnx.ml": 3})
    xt = _data(40, seed=7)
    out = run_both(onx, {"X": xt})
    _labels_agree(out[0], model.predict(xt))
