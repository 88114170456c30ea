"""Meta-estimators and composition: one-vs-rest/one, voting, stacking, bagging,
calibration, multi-output, chains, pipelines, unions, column transformers, searches."""

import numpy as np
import pytest
from skl_check import check, check_both, check_classifier, classification, fitted, regression

pytest.importorskip("sklearn")
from sklearn import calibration, compose, multiclass, multioutput, pipeline
from sklearn import ensemble as ens
from sklearn import preprocessing as pp
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

CLASSIFIERS = {
    "ovr_logistic": lambda: multiclass.OneVsRestClassifier(LogisticRegression()),
    "ovr_linear_svc": lambda: multiclass.OneVsRestClassifier(LinearSVC()),
    "ovr_naive_bayes": lambda: multiclass.OneVsRestClassifier(GaussianNB()),
    "ovo_logistic": lambda: multiclass.OneVsOneClassifier(LogisticRegression()),
    "ovo_naive_bayes": lambda: multiclass.OneVsOneClassifier(GaussianNB()),
    "voting_soft": lambda: ens.VotingClassifier(
        [("lr", LogisticRegression()), ("nb", GaussianNB()), ("dt", DecisionTreeClassifier(max_depth=3))],
        voting="soft", weights=[1, 2, 1]),
    "stacking": lambda: ens.StackingClassifier(
        [("lr", LogisticRegression()), ("svc", LinearSVC()), ("dt", DecisionTreeClassifier(max_depth=3))],
        final_estimator=LogisticRegression(), passthrough=True, cv=3),
    "bagging_trees": lambda: ens.BaggingClassifier(DecisionTreeClassifier(max_depth=4), n_estimators=5,
                                                   max_features=0.7, random_state=0),
    "bagging_votes": lambda: ens.BaggingClassifier(LinearSVC(), n_estimators=4, random_state=0),
    "calibrated_sigmoid": lambda: calibration.CalibratedClassifierCV(LinearSVC(), cv=3),
    "calibrated_isotonic": lambda: calibration.CalibratedClassifierCV(GaussianNB(), method="isotonic", cv=3),
    "grid_search": lambda: GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2),
    "pipeline": lambda: pipeline.make_pipeline(pp.StandardScaler(), pp.PolynomialFeatures(2),
                                               LogisticRegression(max_iter=300)),
}


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_meta_classifier(name, n_classes):
    X, y = classification(n=150, classes=n_classes)
    check_both(fitted(CLASSIFIERS[name](), X, y), X)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_hard_voting(n_classes):
    X, y = classification(n=150, classes=n_classes)
    model = fitted(ens.VotingClassifier([("lr", LogisticRegression()), ("nb", GaussianNB()),
                                         ("dt", DecisionTreeClassifier(max_depth=3))], voting="hard"), X, y)
    # no predict_proba: the second output holds the vote counts
    votes = sum(np.eye(n_classes)[e.predict(X)] for e in model.estimators_)
    check_classifier(model, X, scores=votes)


REGRESSORS = {
    "voting": lambda: ens.VotingRegressor([("a", Ridge()), ("b", DecisionTreeRegressor(max_depth=3))], weights=[2, 1]),
    "stacking": lambda: ens.StackingRegressor([("a", Ridge()), ("b", DecisionTreeRegressor(max_depth=3))],
                                              final_estimator=Ridge(), cv=3),
    "bagging": lambda: ens.BaggingRegressor(Ridge(), n_estimators=3, max_features=0.6, random_state=0),
    "transformed_target_scaler": lambda: compose.TransformedTargetRegressor(Ridge(), transformer=pp.StandardScaler()),
    "transformed_target_func": lambda: compose.TransformedTargetRegressor(Ridge(), func=np.log1p,
                                                                          inverse_func=np.expm1),
    "randomized_search": lambda: RandomizedSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, n_iter=2, cv=2,
                                                    random_state=0),
}


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_meta_regressor(name):
    X, y = regression(n=120)
    check_both(fitted(REGRESSORS[name](), X, np.abs(y) if "transformed" in name else y), X)


def test_multi_output_regressors():
    X, y = regression(n=120)
    Y = np.stack([y, y * 0.5 + X[:, 0]], axis=1)
    for model in (multioutput.MultiOutputRegressor(Ridge()), multioutput.RegressorChain(Ridge(), order=[1, 0])):
        check_both(fitted(model, X, Y), X)


def test_multilabel_classifiers():
    X, y = classification(n=150, classes=3)
    Y = np.stack([y == 0, y == 1, X[:, 0] > 0], axis=1).astype(int)
    for model in (multioutput.ClassifierChain(LogisticRegression(), order=[2, 0, 1]),
                  multioutput.MultiOutputClassifier(LogisticRegression())):
        model = fitted(model, X, Y)
        proba = model.predict_proba(X)
        proba = np.stack([p[:, 1] for p in proba], axis=1) if isinstance(proba, list) else proba
        for dtype in (np.float32, np.float64):
            check_classifier(model, X, dtype, scores=proba)


def test_feature_union():
    X, _ = classification(n=150)
    union = pipeline.FeatureUnion([("s", pp.StandardScaler()), ("p", pp.PolynomialFeatures(2))],
                                  transformer_weights={"p": 0.5})
    check_both(fitted(union, X), X)


def test_column_transformer_on_arrays():
    X, y = classification(n=150)
    ct = compose.ColumnTransformer([("s", pp.StandardScaler(), [0, 1]), ("b", pp.Binarizer(), slice(2, 4))],
                                   remainder=pp.MinMaxScaler())
    check_both(fitted(pipeline.make_pipeline(ct, LogisticRegression()), X, y), X)


def _frame(n=200, seed=0):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    X, y = classification(n=n, f=4)
    df = pd.DataFrame({"num1": X[:, 0], "num2": X[:, 1], "city": rng.choice(["paris", "rome", "oslo"], n),
                       "size": rng.choice(["s", "m", "l"], n), "num3": X[:, 2]})
    df.loc[::9, "num2"] = np.nan
    return df, y + (df["city"] == "rome").to_numpy()


def test_column_transformer_on_a_dataframe():
    df, y = _frame()
    ct = compose.ColumnTransformer([
        ("num", pipeline.make_pipeline(SimpleImputer(), pp.StandardScaler()), ["num1", "num2"]),
        ("cat", pp.OneHotEncoder(handle_unknown="ignore"), ["city", "size"]),
        ("ord", pp.OrdinalEncoder(), ["size"]),
    ], remainder="passthrough")
    model = fitted(pipeline.make_pipeline(ct, LogisticRegression(max_iter=500)), df, y)
    check_both(model, df)
    check(fitted(ct, df), df)


def test_column_transformer_text_column():
    pd = pytest.importorskip("pandas")
    from sklearn.feature_extraction.text import TfidfVectorizer

    df = pd.DataFrame({"text": ["a red fox", "the blue dog", "red dogs, blue foxes", "a dog"] * 10,
                       "x": np.arange(40, dtype=np.float32)})
    y = np.arange(40) % 2
    ct = compose.ColumnTransformer([("t", TfidfVectorizer(), "text"), ("x", pp.StandardScaler(), ["x"])])
    check_both(fitted(pipeline.make_pipeline(ct, LogisticRegression()), df, y), df, locale="C.UTF-8")


def test_variants_sharing_a_converter():
    """Estimators converted by the code of a sibling tested above, once each."""
    from sklearn import cluster, decomposition, tree
    from sklearn import feature_selection as fs
    from sklearn import linear_model as lm
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    X, y = classification(n=120)
    Xr, yr = regression(n=120)
    Yr = np.stack([yr, -yr], axis=1)
    cases = [
        (lm.LassoCV(cv=3), Xr, yr), (lm.ElasticNetCV(cv=3), Xr, yr), (lm.LarsCV(cv=3), Xr, yr),
        (lm.LassoLarsIC(), Xr, yr), (lm.OrthogonalMatchingPursuitCV(cv=3), Xr, yr),
        (lm.MultiTaskElasticNet(alpha=0.1), Xr, Yr), (tree.ExtraTreeRegressor(random_state=0), Xr, yr),
        (HalvingGridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2, random_state=0), X, y),
        (fs.RFECV(LogisticRegression(), cv=2), X, y), (fs.SelectFpr(alpha=0.01), X, y),
        (fs.GenericUnivariateSelect(mode="k_best", param=2), X, y),
        (fs.SequentialFeatureSelector(LogisticRegression(), n_features_to_select=2, cv=2), X, y),
        (decomposition.MiniBatchSparsePCA(2, random_state=0, max_iter=5), X, None),
        (pp.LabelBinarizer(), y, None),
    ]
    for model, data, target in cases:
        check(fitted(model, data, target), data)
    km = fitted(cluster.MiniBatchKMeans(3, random_state=0, n_init=2), X)
    from skl_check import convert_and_run

    _, outs = convert_and_run(km, X)
    for label, dist in outs.values():
        np.testing.assert_array_equal(label, km.predict(X))
        np.testing.assert_allclose(dist, km.transform(X), rtol=1e-4, atol=1e-5)
