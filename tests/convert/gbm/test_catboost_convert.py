"""CatBoost -> ONNX against CatBoost's own predict / predict_proba, categorical features
(one-hot splits, CTRs over single features and combinations) included."""

import numpy as np
import pytest
from gbm_check import check_classifier, check_regressor, convert_and_run, data, frame_feeds

cb = pytest.importorskip("catboost")
pd = pytest.importorskip("pandas")

import nnex
from nnex.convert import ConversionError
from nnex.convert.catboost._model import read_model

BOTH = [np.float32, np.float64]
CATS = ["color", "shape", "size"]


def _frame(n=500, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "a": rng.normal(size=n).astype(np.float32),
        "color": rng.choice(["red", "green", "blue", "cyan", "pink", "grey"], n),
        "shape": rng.choice(["round", "square", "star"], n),
        "b": rng.normal(size=n).astype(np.float32),
        "size": rng.choice(["1", "2", "3", "4", "5", "6", "7", "8"], n),
    })
    df.loc[rng.random(n) < 0.1, "b"] = np.nan
    inter = (df["color"] == "blue") & (df["shape"] == "star") | (df["size"].isin(["2", "7"])) & (df["a"] > 0)
    y = df["a"] + 2.5 * inter + (df["shape"] == "round") + np.nan_to_num(df["b"]) * 0.5
    return df, y.to_numpy()


def _probe(df):
    """The frame plus rows with unseen category values and a missing float."""
    extra = df.iloc[:4].copy()
    extra["color"] = ["violet", "red", "blue", "??"]
    extra["b"] = [np.nan, 0.0, 1.0, np.nan]
    return pd.concat([df, extra], ignore_index=True)


def _check(name, m, df, expected_fn, classifier=False, **options):
    test = _probe(df)
    for dtype in BOTH:
        outs = convert_and_run(m, test, dtype, sample=df, feeds=frame_feeds(test, dtype), **options)
        if classifier:
            check_classifier(name, outs, m.predict(test).ravel(), m.predict_proba(test), dtype)
        else:
            check_regressor(name, outs, expected_fn(test), dtype)


def test_regressor_with_ctr_combinations():
    df, y = _frame()
    m = cb.CatBoostRegressor(iterations=60, depth=5, max_ctr_complexity=3, verbose=0, thread_count=1,
                             random_seed=0).fit(df, y, cat_features=CATS)
    ctrs = read_model(m).ctrs
    assert any(len(c.projection.cats) > 1 for c in ctrs), "the model should use combinations of features"
    assert any(c.projection.binary for c in ctrs), "the model should use float or one-hot combination elements"
    _check("cb_regressor", m, df, m.predict)


def test_binary_classifier_one_hot_and_ctrs():
    df, y = _frame()
    labels = np.where(y > 1.0, "high", "low")
    m = cb.CatBoostClassifier(iterations=40, depth=4, one_hot_max_size=3, verbose=0, thread_count=1,
                              random_seed=0).fit(df, labels, cat_features=CATS)
    model = read_model(m)
    assert any(model.splits[i].kind == "onehot" for idx, _ in model.trees for i in idx)
    _check("cb_binary", m, df, None, classifier=True)


@pytest.mark.parametrize("loss", ["MultiClass", "MultiClassOneVsAll"])
def test_multiclass(loss):
    df, y = _frame()
    labels = np.digitize(y, np.quantile(y, [0.3, 0.7]))
    m = cb.CatBoostClassifier(iterations=25, depth=4, loss_function=loss, verbose=0, thread_count=1,
                              simple_ctr=["Buckets", "Borders"], random_seed=0).fit(df, labels, cat_features=CATS)
    assert "Buckets" in {c.ctr_type for c in read_model(m).ctrs}
    _check(f"cb_{loss}", m, df, None, classifier=True)


@pytest.mark.parametrize("loss", ["Poisson", "Quantile:alpha=0.3"])
def test_regression_losses(loss):
    df, y = _frame()
    target = np.round(np.exp(y / 3)) if loss == "Poisson" else y
    m = cb.CatBoostRegressor(iterations=20, depth=3, loss_function=loss, verbose=0, thread_count=1,
                             random_seed=0).fit(df, target, cat_features=CATS)
    _check(f"cb_{loss}", m, df, m.predict)


def test_counter_and_mean_value_ctrs_and_nan_max():
    df, y = _frame()
    m = cb.CatBoostRegressor(iterations=25, depth=4, verbose=0, thread_count=1, random_seed=0,
                             simple_ctr=["Counter", "BinarizedTargetMeanValue"],
                             combinations_ctr=["Buckets"], nan_mode="Max")
    m.fit(df, y, cat_features=CATS)
    assert {"Counter", "BinarizedTargetMeanValue"} <= {c.ctr_type for c in read_model(m).ctrs}
    _check("cb_counter", m, df, m.predict)


def test_numeric_model_array_input_and_raw_score():
    X, y = data()
    m = cb.CatBoostRegressor(iterations=30, depth=4, verbose=0, thread_count=1, random_seed=0).fit(X, y)
    for dtype in BOTH:
        check_regressor("cb_numeric", convert_and_run(m, X, dtype), m.predict(X), dtype)
    multi = cb.CatBoostRegressor(iterations=10, depth=3, loss_function="MultiRMSE", verbose=0, thread_count=1)
    multi.fit(X, np.stack([y, 1 - 2 * y], axis=1))
    check_regressor("cb_multi_rmse", convert_and_run(multi, X), multi.predict(X), np.float32)
    c = cb.CatBoostClassifier(iterations=10, depth=3, verbose=0, thread_count=1).fit(X, y > 0)
    raw = c.predict(X, prediction_type="RawFormulaVal")
    check_regressor("cb_raw", convert_and_run(c, X, np.float64, raw_score=True), raw, np.float64)


def test_ranker():
    X, y = data(n=200)
    m = cb.CatBoostRanker(iterations=10, depth=3, verbose=0, thread_count=1, random_seed=0)
    m.fit(X, np.digitize(y, [-1, 0, 1]), group_id=np.repeat(np.arange(4), 50))
    check_regressor("cb_ranker", convert_and_run(m, X), m.predict(X), np.float32)


def test_sample_must_hold_the_categories():
    df, y = _frame()
    m = cb.CatBoostRegressor(iterations=5, depth=3, verbose=0, thread_count=1).fit(df, y, cat_features=CATS)
    with pytest.raises(ConversionError, match="lacks"):
        nnex.convert(m, df[:3])
    with pytest.raises(ConversionError, match="DataFrame"):
        nnex.convert(m, np.zeros((2, 5)))
    multi = cb.CatBoostRegressor(iterations=20, depth=3, loss_function="MultiRMSE", verbose=0, thread_count=1,
                                 random_seed=0)
    multi.fit(df, np.stack([y, 1 - 2 * y], axis=1), cat_features=CATS)
    with pytest.raises(ConversionError, match="several targets"):
        nnex.convert(multi, df)
    with pytest.raises(ConversionError, match="not fitted"):
        nnex.convert(cb.CatBoostRegressor(), df)


@pytest.mark.parametrize("grow_policy", ["Depthwise", "Lossguide"])
def test_non_symmetric_trees(grow_policy):
    """grow_policy Depthwise / Lossguide: ordinary binary trees over the same split bits (the
    category hashes come from a stand-in model: CatBoost exports no such model to Python)."""
    df, y = _frame(seed=5)
    m = cb.CatBoostClassifier(iterations=20, depth=4, grow_policy=grow_policy, one_hot_max_size=3, verbose=0,
                              thread_count=1, random_seed=0).fit(df, y > 1.0, cat_features=CATS)
    assert read_model(m).free_trees and not read_model(m).trees
    _check(f"cb_{grow_policy}", m, df, None, classifier=True)
    X, yx = data()
    r = cb.CatBoostRegressor(iterations=15, depth=3, grow_policy=grow_policy, loss_function="MultiRMSE", verbose=0,
                             thread_count=1, random_seed=0).fit(X, np.stack([yx, -yx], axis=1))
    for dtype in BOTH:
        check_regressor(f"cb_{grow_policy}_multi", convert_and_run(r, X, dtype), r.predict(X), dtype)


def test_trees_without_splits(tmp_path):
    """CatBoost grows depth-0 trees now and then (seen with MultiClassOneVsAll): its export has
    no splits for them. Made here by loading an export with such trees back into CatBoost,
    whose own predictions are the reference."""
    import json

    df, y = _frame(seed=6)
    labels = np.digitize(y, np.quantile(y, [0.3, 0.7]))
    m = cb.CatBoostClassifier(iterations=10, depth=3, loss_function="MultiClassOneVsAll", verbose=0, thread_count=1,
                              random_seed=0).fit(df, labels, cat_features=CATS)
    m.save_model(str(tmp_path / "m.json"), format="json", pool=cb.Pool(df, cat_features=CATS))
    with open(tmp_path / "m.json") as fh:
        doc = json.load(fh)
    for t in (0, 4):
        doc["oblivious_trees"][t] = {"leaf_values": [0.25, -0.5, 0.125], "leaf_weights": [len(df)], "splits": None}
    with open(tmp_path / "m0.json", "w") as fh:
        json.dump(doc, fh)
    m0 = cb.CatBoostClassifier()
    m0.load_model(str(tmp_path / "m0.json"), format="json")
    assert sum(not idx for idx, _ in read_model(m0).trees) == 2
    _check("cb_depth0", m0, df, None, classifier=True)
    one = {**doc, "oblivious_trees": doc["oblivious_trees"][:1]}  # nothing but a constant
    with open(tmp_path / "m1.json", "w") as fh:
        json.dump(one, fh)
    m1 = cb.CatBoostClassifier()
    m1.load_model(str(tmp_path / "m1.json"), format="json")
    _check("cb_constant", m1, df, None, classifier=True)


def test_non_ascii_category_values():
    """CatBoost's Python export writes UTF-8 bytes as \\x escapes: the hashes of such values
    must be found under the values themselves."""
    df, y = _frame(seed=7)
    df["color"] = df["color"].map({"red": "rød", "green": "grün", "blue": "青", "cyan": "cyan", "pink": "ピンク",
                                   "grey": "gris"})
    m = cb.CatBoostRegressor(iterations=20, depth=4, one_hot_max_size=8, verbose=0, thread_count=1,
                             random_seed=0).fit(df, y + (df["color"] == "青") * 3, cat_features=CATS)
    _check("cb_utf8", m, df, m.predict)


@pytest.mark.parametrize("loss", ["MultiLogloss", "MultiCrossEntropy"])
def test_multilabel(loss):
    """label (N, n_labels) 0/1 and each label's probability, as predict / predict_proba."""
    X, y = data(seed=8)
    Y = np.stack([y > 0.5, X[:, 1] > 0, X[:, 2] * X[:, 3] > 0], axis=1).astype(int)
    m = cb.CatBoostClassifier(iterations=15, depth=3, loss_function=loss, verbose=0, thread_count=1,
                              random_seed=0).fit(X, Y)
    for dtype in BOTH:
        check_classifier(f"cb_{loss}", convert_and_run(m, X, dtype), m.predict(X), m.predict_proba(X), dtype)


def test_rmse_with_uncertainty():
    """predict gives [mean, variance]; the variance is exp(2 * the second raw value)."""
    X, y = data()
    m = cb.CatBoostRegressor(iterations=15, depth=3, loss_function="RMSEWithUncertainty", verbose=0, thread_count=1,
                             random_seed=0).fit(X, y * (1 + np.abs(X[:, 3])))
    for dtype in BOTH:
        check_regressor("cb_uncertainty", convert_and_run(m, X, dtype), m.predict(X), dtype)


def test_text_and_embedding_features_are_refused():
    rng = np.random.default_rng(9)
    n = 120
    words = np.asarray(["good", "bad", "fine", "awful"])
    df = pd.DataFrame({"x": rng.normal(size=n), "txt": [" ".join(rng.choice(words, 3)) for _ in range(n)],
                       "emb": [rng.normal(size=3) for _ in range(n)]})
    y = (df["txt"].str.contains("good") ^ (df["x"] > 1)).astype(int)
    m = cb.CatBoostClassifier(iterations=3, verbose=0, thread_count=1).fit(df[["x", "txt"]], y, text_features=["txt"])
    with pytest.raises(ConversionError, match="text features are not supported"):
        nnex.convert(m, df[["x", "txt"]])
    e = cb.CatBoostClassifier(iterations=3, verbose=0, thread_count=1).fit(df[["x", "emb"]], y,
                                                                            embedding_features=["emb"])
    with pytest.raises(ConversionError, match="embedding features are not supported"):
        nnex.convert(e, df[["x", "emb"]])


def test_coverage_of_combination_ctrs():
    """A value known to the model only through a combination CTR is still missed in a sample
    that lacks it (the check tries every chain of the sample's values)."""
    from nnex.convert.catboost._model import check_coverage, read_cat_hashes

    df, y = _frame(seed=10)
    m = cb.CatBoostRegressor(iterations=30, depth=5, max_ctr_complexity=3, one_hot_max_size=1, verbose=0,
                             thread_count=1, random_seed=0).fit(df, y, cat_features=CATS)
    model = read_model(m)
    model.ctrs = [c for c in model.ctrs if len(c.projection.cats) > 1]  # as if only combinations were used
    assert model.ctrs, "the model should use combinations of categorical features"
    model.cat_hashes = read_cat_hashes(m, df, CATS)
    check_coverage(model)  # the training data covers everything
    first = CATS[min(i for c in model.ctrs for i in c.projection.cats)]
    lacking = df[df[first] != df[first].iloc[0]]  # one value of a combined feature missing
    model.cat_hashes = read_cat_hashes(m, lacking, CATS)
    with pytest.raises(ConversionError, match="lacks"):
        check_coverage(model)
