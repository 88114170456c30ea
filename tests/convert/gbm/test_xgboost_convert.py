"""XGBoost -> ONNX against XGBoost's own predict / predict_proba.

XGBoost computes in float32, so the double models are compared at float32 precision too.
"""

import json

import numpy as np
import pytest
from gbm_check import check_classifier, check_regressor, convert_and_run, data, f32, frame_feeds

xgb = pytest.importorskip("xgboost")

import nnex
from nnex.convert import ConversionError

BOTH = [np.float32, np.float64]
TOL = {"rtol": 1e-4, "atol": 1e-5}


def _with_nans(n=300, seed=0):
    X, y = data(n=n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    X[rng.random(n) < 0.15, 1] = np.nan
    return X, y


def _probe(X):
    """X plus rows with every feature missing and values sitting exactly on split points."""
    return np.vstack([X, np.full((1, X.shape[1]), np.nan), f32(np.round(X[:20], 1))])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier(n_classes):
    X, y = _with_nans()
    labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
    m = xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(X, labels)
    Xp = _probe(X)
    for dtype in BOTH:
        check_classifier(f"xgb_{n_classes}", convert_and_run(m, Xp, dtype), m.predict(Xp), m.predict_proba(Xp),
                         dtype, **TOL)


REGRESSION = {
    "squarederror": {},
    "absoluteerror": {"objective": "reg:absoluteerror"},
    "pseudohuber": {"objective": "reg:pseudohubererror"},
    "logistic": {"objective": "reg:logistic"},
    "poisson": {"objective": "count:poisson"},
    "gamma": {"objective": "reg:gamma"},
    "tweedie": {"objective": "reg:tweedie"},
    "quantiles": {"objective": "reg:quantileerror", "quantile_alpha": np.array([0.2, 0.8])},
    "missing_value": {"missing": -999.0},
    "dart": {"booster": "dart", "rate_drop": 0.3},
    "gblinear": {"booster": "gblinear"},
    "base_score": {"base_score": 3.0},
}


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regressor(name):
    X, y = _with_nans()
    if name in ("poisson", "gamma", "tweedie"):
        y = np.exp(y / 3)
    if name == "logistic":
        y = 1 / (1 + np.exp(-y))
    if name == "missing_value":
        X = np.where(np.isnan(X), -999.0, X)
    m = xgb.XGBRegressor(n_estimators=8, max_depth=3, n_jobs=1, **REGRESSION[name]).fit(X, y)
    Xp = X if name == "missing_value" else _probe(X)
    for dtype in BOTH:
        check_regressor(f"xgb_{name}", convert_and_run(m, Xp, dtype), m.predict(Xp), dtype, **TOL)


def test_random_forest_classifier_and_ranker():
    X, y = _with_nans()
    rf = xgb.XGBRFClassifier(n_estimators=4, max_depth=4, n_jobs=1).fit(X, y > 0)
    check_classifier("xgb_rf", convert_and_run(rf, X), rf.predict(X), rf.predict_proba(X), np.float32, **TOL)
    ranker = xgb.XGBRanker(n_estimators=6, max_depth=3, n_jobs=1).fit(X, np.digitize(y, [-1, 0, 1]),
                                                                       qid=np.repeat(np.arange(6), 50))
    check_regressor("xgb_ranker", convert_and_run(ranker, X), ranker.predict(X), np.float32, **TOL)


def test_best_iteration_and_booster():
    X, y = data(n=400)
    m = xgb.XGBRegressor(n_estimators=300, learning_rate=0.5, max_depth=4, early_stopping_rounds=3, n_jobs=1)
    m.fit(X[:300], y[:300], eval_set=[(X[300:], y[300:])], verbose=False)
    assert m.best_iteration < 299
    check_regressor("xgb_best_iteration", convert_and_run(m, X), m.predict(X), np.float32, **TOL)
    bst = m.get_booster()
    dm = xgb.DMatrix(X)
    check_regressor("xgb_booster", convert_and_run(bst, X, iteration_range=(1, 4)),
                    bst.predict(dm, iteration_range=(1, 4)), np.float32, **TOL)
    multi = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "nthread": 1},
                      xgb.DMatrix(X, np.digitize(y, [-1, 1])), 5)
    proba = multi.predict(dm)
    check_classifier("xgb_booster_multi", convert_and_run(multi, X), proba.argmax(axis=1), proba, np.float32, **TOL)
    check_regressor("xgb_booster_margin", convert_and_run(multi, X, np.float64, raw_score=True),
                    multi.predict(dm, output_margin=True), np.float64, **TOL)


def test_categorical_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _with_nans(n=400)
    rng = np.random.default_rng(3)
    city = np.array(["paris", "tokyo", "lima", "oslo", "cairo"])[rng.integers(0, 5, 400)]
    df = pd.DataFrame({"first feature": X[:, 0], "x 1": X[:, 1], "city": pd.Categorical(city),
                       "n": pd.Categorical(rng.integers(0, 4, 400) * 5)})
    target = y + (df["city"] == "lima") * 2 - (df["n"] == 10)
    m = xgb.XGBRegressor(n_estimators=8, max_depth=4, enable_categorical=True, tree_method="hist",
                         max_cat_to_onehot=1, n_jobs=1).fit(df, target)
    test = df.copy()
    test["city"] = pd.Categorical(list(city[:-2]) + [np.nan, "paris"])
    for dtype in BOTH:
        outs = convert_and_run(m, test, dtype, sample=df[:5], feeds=frame_feeds(test, dtype))
        check_regressor("xgb_pandas", outs, m.predict(test), dtype, **TOL)


def test_categorical_codes_in_an_array():
    X, y = _with_nans(n=400)
    X[:, 3] = np.random.default_rng(1).integers(0, 7, 400)
    target = y + np.isin(X[:, 3], [1, 4]) * 2
    dm = xgb.DMatrix(X, target, feature_types=["q", "q", "q", "c", "q"], enable_categorical=True)
    bst = xgb.train({"max_depth": 4, "max_cat_to_onehot": 1, "nthread": 1}, dm, 8)
    probe = np.vstack([X, f32([[0.1, 0.2, 0.3, v, 0.5] for v in (-1.0, -0.5, 2.5, 6.9, 40.0, np.nan)])])
    expected = bst.predict(xgb.DMatrix(probe, feature_types=["q", "q", "q", "c", "q"], enable_categorical=True))
    for dtype in BOTH:
        check_regressor("xgb_cat_codes", convert_and_run(bst, probe, dtype), expected, dtype, **TOL)


def test_multi_target_regression():
    X, y = data()
    Y = np.stack([y, -2 * y + 1], axis=1)
    m = xgb.XGBRegressor(n_estimators=5, max_depth=3, n_jobs=1).fit(X, Y)
    check_regressor("xgb_multi_target", convert_and_run(m, X), m.predict(X), np.float32, **TOL)



@pytest.mark.parametrize("dtype", BOTH)
def test_multi_output_trees(dtype):
    """multi_strategy="multi_output_tree": one tree for every target, a vector in each leaf."""
    X, y = _with_nans()
    Y = np.stack([y, -2 * y + 1, np.sin(y)], axis=1)
    Xp = _probe(X)
    m = xgb.XGBRegressor(n_estimators=6, max_depth=4, tree_method="hist", multi_strategy="multi_output_tree",
                         n_jobs=1).fit(X, Y)
    check_regressor("xgb_multi_output_tree", convert_and_run(m, Xp, dtype), m.predict(Xp), dtype, **TOL)
    labels = np.digitize(y, [-1, 0, 1])
    c = xgb.XGBClassifier(n_estimators=6, max_depth=3, tree_method="hist", multi_strategy="multi_output_tree",
                          n_jobs=1).fit(X, labels)
    check_classifier("xgb_multi_output_tree_cls", convert_and_run(c, Xp, dtype), c.predict(Xp), c.predict_proba(Xp),
                     dtype, **TOL)


@pytest.mark.parametrize("dtype", BOTH)
def test_gblinear_intercepts(dtype):
    """gblinear adds the first intercept to every output, whatever the others are (a multi-class
    model fits one intercept a class, a multi-target one a target)."""
    X, y = data(seed=4)
    Xp = _probe(X)
    c = xgb.XGBClassifier(n_estimators=10, booster="gblinear", n_jobs=1).fit(X, np.digitize(y, [-1, 1]))
    base = np.asarray(json.loads(c.get_booster().save_config())["learner"]["learner_model_param"]["base_score"]
                      .strip("[]").split(","), dtype=float)
    assert len(set(base)) > 1, "the classes should have different intercepts"
    check_classifier("xgb_gblinear_multiclass", convert_and_run(c, Xp, dtype), c.predict(Xp), c.predict_proba(Xp),
                     dtype, **TOL)
    r = xgb.XGBRegressor(n_estimators=10, booster="gblinear", n_jobs=1).fit(X, np.stack([y + 5, -y], axis=1))
    check_regressor("xgb_gblinear_multi_target", convert_and_run(r, Xp, dtype), r.predict(Xp), dtype, **TOL)


def test_errors():
    X, y = data(n=50)
    with pytest.raises(ConversionError, match="not fitted"):
        nnex.convert(xgb.XGBRegressor(), X[:5])
    m = xgb.XGBRegressor(n_estimators=2).fit(X, y)
    with pytest.raises(ConversionError, match="unknown option"):
        nnex.convert(m, X[:5], bogus=1)
