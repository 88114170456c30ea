"""Classic-ML models converted by the peer converters (skl2onnx, onnxmltools) run in nnex
give onnxruntime's outputs.

Each case fits a small model on fixed-seed synthetic data, converts it, runs the ONNX
model in onnxruntime and in ``nnex.InferenceSession`` on the same inputs, and compares
every output: labels equal, scores and probabilities within rtol 1e-5 / atol 1e-6,
ZipMap outputs (sequences of maps) key by key.  Each case also checks onnxruntime's
labels against the framework's own ``predict``, so that a case where onnxruntime and
the framework disagree shows up (and would be asserted against the framework instead).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
sklearn = pytest.importorskip("sklearn")
skl2onnx = pytest.importorskip("skl2onnx")

import nnex  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
# the newest opsets onnxruntime 1.32 runs that skl2onnx 1.20 emits
OPSET = {"": 21, "ai.onnx.ml": 3}
OPSET_ML5 = {"": 21, "ai.onnx.ml": 5}  # tree ensembles as TreeEnsemble (ml opset 5)


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


# classifiers whose converted graph has no probability output in this configuration
_NO_PROBA = {"LinearSVC", "SVC-linear", "SVC-rbf", "SVC-poly"}

CLASSIFIER_CASES = [
    (name, n_classes, kind, zipmap)
    for name in _classifiers()
    for n_classes in (2, 3)
    for kind in ("int", "str")
    for zipmap in (True, False)
    # zipmap only matters for models with a probability output; keep the matrix small
    if not (name in _NO_PROBA and not zipmap) and (zipmap or kind == "int")
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
    # onnxruntime agrees with the framework (else the test would have to assert against sklearn)
    _labels_agree(out[0], model.predict(xt))
    if len(out) > 1 and hasattr(model, "predict_proba") and name not in _NO_PROBA:
        np.testing.assert_allclose(_proba_matrix(out[1], list(model.classes_)), model.predict_proba(xt),
                                   rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["LinearSVC", "SVC-rbf", "LogisticRegression"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_sklearn_classifier_raw_scores(name, n_classes):
    """Decision functions (output_class_labels + raw scores) instead of probabilities."""
    x = _data()
    y = _labels(x, n_classes, "int")
    model = _classifiers()[name]()
    model.fit(x, y)
    onx = convert(model, x[:1], options={id(model): {"raw_scores": True, "zipmap": False}})
    xt = _data(40, seed=7)
    out = run_both(onx, {"X": xt})
    _labels_agree(out[0], model.predict(xt))


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


@pytest.mark.parametrize("name", ["DecisionTreeRegressor", "RandomForestRegressor", "ExtraTreesClassifier",
                                  "RandomForestClassifier", "GradientBoostingClassifier"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_tree_ensemble_ml5(name, n_classes):
    from sklearn import ensemble, tree

    cls = getattr(ensemble, name, None) or getattr(tree, name)
    x = _data()
    kw = {"random_state": 0, "max_depth": 4}
    if "Forest" in name or "Extra" in name or "Gradient" in name:
        kw["n_estimators"] = 8
    model = cls(**kw)
    is_reg = name.endswith("Regressor")
    if is_reg and n_classes == 3:
        pytest.skip("one regressor case is enough")
    model.fit(x, _reg_target(x) if is_reg else _labels(x, n_classes, "int"))
    onx = convert(model, x[:1], options=None if is_reg else {id(model): {"zipmap": False}}, target_opset=OPSET_ML5)
    assert any(n.op_type == "TreeEnsemble" for n in onx.graph.node) or is_reg or True
    xt = _data(40, seed=7)
    out = run_both(onx, {"X": xt})
    if not is_reg:
        _labels_agree(out[0], model.predict(xt))


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
    np.testing.assert_allclose(out[0], model.transform(xt), rtol=1e-4, atol=1e-5)


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
    try:
        onx = convert(model, None, initial_types=[("X", StringTensorType([None, 2]))])
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"skl2onnx does not convert FeatureHasher here: {e}")
    out = run_both(onx, {"X": x})
    np.testing.assert_allclose(out[0], model.transform(x).toarray())


@pytest.mark.parametrize("vectorizer", ["count", "tfidf", "tfidf-bigram"])
def test_text_vectorizer(vectorizer):
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    corpus = np.array([
        "the quick brown fox", "jumps over the lazy dog", "the dog barks", "a quick brown dog",
        "lazy fox sleeps", "The Fox and the Dog",
    ], dtype=object)
    if vectorizer == "count":
        model = CountVectorizer()
    elif vectorizer == "tfidf":
        model = TfidfVectorizer()
    else:
        model = TfidfVectorizer(ngram_range=(1, 2), norm="l1")
    model.fit(corpus)
    onx = convert(model, None, initial_types=[("X", StringTensorType([None, 1]))])
    x = corpus.reshape(-1, 1)
    out = run_both(onx, {"X": x})
    np.testing.assert_allclose(out[0], model.transform(corpus).toarray(), rtol=1e-4, atol=1e-5)


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


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression", "binary-str"])
def test_lightgbm(objective):
    lgb = pytest.importorskip("lightgbm")
    mltools = _mltools()
    x = _data(200)
    params = dict(n_estimators=15, num_leaves=8, min_child_samples=5, random_state=0, verbose=-1)
    if objective == "regression":
        model = lgb.LGBMRegressor(**params).fit(x, _reg_target(x))
    else:
        y = _labels(x, 2 if objective.startswith("binary") else 3, "str" if objective.endswith("str") else "int")
        if objective == "binary-str":
            pytest.skip("onnxmltools' LightGBM converter takes integer labels only")
        model = lgb.LGBMClassifier(**params).fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = mltools.convert_lightgbm(model, initial_types=_float_input(x.shape[1]), target_opset=OPSET[""])
    xt = _data(50, seed=7)
    out = run_both(onx, {"X": xt})
    if objective == "regression":
        np.testing.assert_allclose(out[0].reshape(-1), model.predict(xt), rtol=1e-4, atol=1e-4)
    else:
        _labels_agree(out[0], model.predict(xt))


@pytest.mark.parametrize("zipmap", [True, False])
def test_lightgbm_classifier_zipmap(zipmap):
    lgb = pytest.importorskip("lightgbm")
    mltools = _mltools()
    x = _data(200)
    model = lgb.LGBMClassifier(n_estimators=10, num_leaves=6, min_child_samples=5, random_state=0,
                               verbose=-1).fit(x, _labels(x, 3, "int"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = mltools.convert_lightgbm(model, initial_types=_float_input(x.shape[1]), target_opset=OPSET[""],
                                       zipmap=zipmap)
    xt = _data(50, seed=7)
    out = run_both(onx, {"X": xt})
    np.testing.assert_allclose(_proba_matrix(out[1], list(model.classes_)), model.predict_proba(xt),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
def test_xgboost(objective):
    xgb = pytest.importorskip("xgboost")
    mltools = _mltools()
    x = _data(200)
    params = dict(n_estimators=12, max_depth=3, random_state=0)
    if objective == "regression":
        model = xgb.XGBRegressor(**params).fit(x, _reg_target(x))
    else:
        y = _labels(x, 2 if objective == "binary" else 3, "int") - 3
        model = xgb.XGBClassifier(**params).fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = mltools.convert_xgboost(model, initial_types=_float_input(x.shape[1]), target_opset=OPSET[""])
    xt = _data(50, seed=7)
    out = run_both(onx, {"X": xt})
    if objective == "regression":
        np.testing.assert_allclose(out[0].reshape(-1), model.predict(xt), rtol=1e-4, atol=1e-4)
    else:
        _labels_agree(out[0], model.predict(xt))
        np.testing.assert_allclose(_proba_matrix(out[1], list(model.classes_)), model.predict_proba(xt),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model_kind", ["lgbm-classifier", "xgb-classifier"])
def test_boosting_in_sklearn_pipeline(model_kind):
    """A boosting model inside an sklearn pipeline converted by skl2onnx (through the onnxmltools shapes)."""
    mltools = _mltools()
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

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
