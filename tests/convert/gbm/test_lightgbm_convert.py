"""LightGBM -> ONNX against LightGBM's own predict / predict_proba."""

import numpy as np
import pytest
from gbm_check import check_classifier, check_regressor, convert_and_run, data, f32, frame_feeds

lgb = pytest.importorskip("lightgbm")

import nnex
from nnex.convert import ConversionError

BOTH = [np.float32, np.float64]


def _mixed(n=400, seed=0):
    """Numeric features with NaNs and zeros, and a categorical feature (column 4)."""
    rng = np.random.default_rng(seed)
    X = f32(rng.normal(size=(n, 5)))
    X[:, 4] = rng.integers(0, 8, n)
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.2, 1] = 0.0
    y = 2 * np.nan_to_num(X[:, 0]) - X[:, 1] + np.isin(X[:, 4], [2, 5]) * 1.5 + np.sin(X[:, 2])
    return X, y


def _probe(X):
    """X plus rows LightGBM treats specially: NaN everywhere, tiny values read as 0, and
    categories that are negative, fractional, unseen or huge."""
    extra = np.array([[np.nan] * 5, [1e-36, -1e-36, 0.0, 1e-36, 2.0], [0.5, 0.0, 1.0, -0.5, -3.0],
                      [0.1, 0.2, 0.3, 0.4, 2.7], [0.1, 0.2, 0.3, 0.4, 99.0], [0.1, 0.2, 0.3, 0.4, 3e9],
                      [0.1, 0.2, 0.3, 0.4, np.nan], [0.1, np.nan, 0.3, 0.4, 5.0]])
    return np.vstack([X, f32(extra)])


REGRESSION = {
    "l2": {},
    "l1": {"objective": "regression_l1"},
    "huber": {"objective": "huber"},
    "fair": {"objective": "fair"},
    "quantile": {"objective": "quantile", "alpha": 0.3},
    "mape": {"objective": "mape"},
    "sqrt": {"reg_sqrt": True},
    "poisson": {"objective": "poisson"},
    "gamma": {"objective": "gamma"},
    "tweedie": {"objective": "tweedie", "tweedie_variance_power": 1.3},
}


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regressor_objectives(name):
    X, y = _mixed()
    if name in ("poisson", "gamma", "tweedie"):
        y = np.exp(y / 4)
    m = lgb.LGBMRegressor(n_estimators=15, num_leaves=8, verbose=-1, n_jobs=1, **REGRESSION[name])
    m.fit(X, y, categorical_feature=[4])
    Xp = _probe(X)
    for dtype in BOTH:
        check_regressor(f"lgb_{name}", convert_and_run(m, Xp, dtype), m.predict(Xp), dtype)


@pytest.mark.parametrize("missing", ["nan", "zero_as_missing", "no_missing"])
def test_missing_values(missing):
    X, y = _mixed()
    params = {"zero_as_missing": {"zero_as_missing": True}, "no_missing": {"use_missing": False}}.get(missing, {})
    m = lgb.LGBMRegressor(n_estimators=20, num_leaves=8, verbose=-1, n_jobs=1, **params).fit(X, y)
    Xp = _probe(X)
    for dtype in BOTH:
        check_regressor(f"lgb_{missing}", convert_and_run(m, Xp, dtype), m.predict(Xp), dtype)


def test_linear_tree_regressor():
    # leaf outputs are linear models of the features: exact, NaN rows falling back to the leaf value
    X, y = _mixed()
    y = y + 3 * np.nan_to_num(X[:, 2]) * (X[:, 3] > 0)
    m = lgb.LGBMRegressor(n_estimators=15, num_leaves=6, linear_tree=True, verbose=-1, n_jobs=1)
    m.fit(X, y, categorical_feature=[4])
    infinite = np.array([[np.inf, 0.5, 0.5, 0.5, 1.0], [0.5, -np.inf, 0.5, 0.5, 1.0], [0.5, 0.5, np.inf, -np.inf, 1.0]])
    Xp = np.vstack([_probe(X), infinite])
    for dtype in BOTH:
        check_regressor("lgb_linear_tree", convert_and_run(m, Xp, dtype), m.predict(Xp), dtype)


def test_linear_tree_multiclass():
    X, y = _mixed()
    yc = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    m = lgb.LGBMClassifier(n_estimators=8, num_leaves=6, linear_tree=True, verbose=-1, n_jobs=1).fit(X, yc)
    for dtype in BOTH:
        outs = convert_and_run(m, X, dtype)
        check_classifier("lgb_linear_tree_multiclass", outs, m.predict(X), m.predict_proba(X), dtype)


@pytest.mark.parametrize("objective", ["binary", "multiclass", "multiclassova"])
def test_classifier(objective):
    X, y = _mixed()
    if objective == "binary":
        labels = np.where(y > 0.5, "yes", "no")
    else:
        labels = np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75])) * 10
    m = lgb.LGBMClassifier(n_estimators=12, num_leaves=8, objective=objective, verbose=-1, n_jobs=1)
    m.fit(X, labels, categorical_feature=[4])
    Xp = _probe(X)
    for dtype in BOTH:
        check_classifier(f"lgb_{objective}", convert_and_run(m, Xp, dtype), m.predict(Xp), m.predict_proba(Xp), dtype)


@pytest.mark.parametrize("objective", ["cross_entropy", "cross_entropy_lambda"])
def test_cross_entropy(objective):
    X, y = data()
    target = 1 / (1 + np.exp(-y))
    m = lgb.LGBMRegressor(n_estimators=10, num_leaves=8, objective=objective, verbose=-1, n_jobs=1).fit(X, target)
    for dtype in BOTH:
        check_regressor(f"lgb_{objective}", convert_and_run(m, X, dtype), m.predict(X), dtype)


def test_random_forest_mode_averages():
    X, y = data()
    m = lgb.LGBMRegressor(boosting_type="rf", n_estimators=6, num_leaves=8, subsample=0.7, subsample_freq=1,
                          verbose=-1, n_jobs=1).fit(X, y)
    for dtype in BOTH:
        check_regressor("lgb_rf", convert_and_run(m, X, dtype), m.predict(X), dtype)


def test_best_iteration_and_iteration_options():
    X, y = data(n=400)
    m = lgb.LGBMRegressor(n_estimators=200, learning_rate=0.3, num_leaves=16, verbose=-1, n_jobs=1)
    m.fit(X[:300], y[:300], eval_set=[(X[300:], y[300:])], callbacks=[lgb.early_stopping(3, verbose=False)])
    assert 0 < m.best_iteration_ < 200
    check_regressor("lgb_best_iteration", convert_and_run(m, X), m.predict(X), np.float32)
    outs = convert_and_run(m, X, np.float64, num_iteration=5, start_iteration=2)
    check_regressor("lgb_iterations", outs, m.predict(X, num_iteration=5, start_iteration=2), np.float64)


def test_raw_booster_and_raw_score():
    X, y = data()
    bst = lgb.train({"objective": "multiclass", "num_class": 3, "num_leaves": 8, "verbose": -1, "num_threads": 1},
                    lgb.Dataset(X, np.digitize(y, [-1, 1])), num_boost_round=6)
    proba = bst.predict(X)
    for dtype in BOTH:
        check_classifier("lgb_booster", convert_and_run(bst, X, dtype), proba.argmax(axis=1), proba, dtype)
        check_regressor("lgb_raw_score", convert_and_run(bst, X, dtype, raw_score=True), bst.predict(X, raw_score=True),
                        dtype)
    reg = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 5)
    check_regressor("lgb_booster_regression", convert_and_run(reg, X), reg.predict(X), np.float32)


def test_ranker():
    X, y = data(n=200)
    rel = np.digitize(y, [-1, 0, 1])
    m = lgb.LGBMRanker(n_estimators=8, num_leaves=8, verbose=-1, n_jobs=1).fit(X, rel, group=[50] * 4)
    for dtype in BOTH:
        check_regressor("lgb_ranker", convert_and_run(m, X, dtype), m.predict(X), dtype)


def test_pandas_categories():
    pd = pytest.importorskip("pandas")
    X, y = _mixed(n=300)
    colors = np.array(["red", "green", "blue", "grey"])
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "color": pd.Categorical(colors[X[:, 4].astype(int) % 4]),
                       "size": pd.Categorical((X[:, 4].astype(int) // 4) * 10)})
    target = y + (df["color"] == "blue") * 2
    m = lgb.LGBMRegressor(n_estimators=10, num_leaves=8, min_child_samples=5, verbose=-1, n_jobs=1).fit(df, target)
    test = df.copy()
    test["color"] = pd.Categorical(list(df["color"][:-1].astype(str)) + ["purple"])  # one unseen category
    for dtype in BOTH:
        outs = convert_and_run(m, test, dtype, sample=df[:5], feeds=frame_feeds(test, dtype))
        check_regressor("lgb_pandas", outs, m.predict(test), dtype)


def test_errors():
    X, y = data(n=50)
    with pytest.raises(ConversionError, match="not fitted"):
        nnex.convert(lgb.LGBMRegressor(), X[:5])
    m = lgb.LGBMRegressor(n_estimators=2, verbose=-1).fit(X, y)
    with pytest.raises(ConversionError, match="unknown option"):
        nnex.convert(m, X[:5], bogus=1)
    with pytest.raises(ConversionError, match="features"):
        nnex.convert(m, X[:5, :3])


def test_zipmap():
    X, y = data(n=100)
    m = lgb.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1, n_jobs=1).fit(X, np.where(y > 0, "b", "a"))
    outs = convert_and_run(m, X, zipmap=True)
    proba = m.predict_proba(X)
    for rt, (label, maps) in outs.items():
        np.testing.assert_array_equal(label, m.predict(X), err_msg=rt)
        got = np.array([[row["a"], row["b"]] for row in maps])
        np.testing.assert_allclose(got, proba, rtol=1e-4, atol=1e-5, err_msg=rt)
