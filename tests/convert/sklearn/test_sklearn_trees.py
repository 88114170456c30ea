"""Trees and ensembles of trees, with missing values and categorical splits."""

import numpy as np
import pytest
from skl_check import check, check_both, classification, f32, fitted, regression

ens = pytest.importorskip("sklearn.ensemble")
tree = pytest.importorskip("sklearn.tree")

CLASSIFIERS = {
    "decision_tree": lambda: tree.DecisionTreeClassifier(max_depth=6, random_state=0),
    "extra_tree": lambda: tree.ExtraTreeClassifier(random_state=0),
    "random_forest": lambda: ens.RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0),
    "extra_trees": lambda: ens.ExtraTreesClassifier(n_estimators=8, max_depth=6, random_state=0),
    "gradient_boosting": lambda: ens.GradientBoostingClassifier(n_estimators=8, random_state=0),
    "gradient_boosting_zero_init": lambda: ens.GradientBoostingClassifier(n_estimators=5, init="zero", random_state=0),
    "hist_gradient_boosting": lambda: ens.HistGradientBoostingClassifier(max_iter=8, random_state=0),
    "adaboost": lambda: ens.AdaBoostClassifier(n_estimators=8, random_state=0),
    "adaboost_logistic": lambda: ens.AdaBoostClassifier(__import__("sklearn.linear_model").linear_model
                                                        .LogisticRegression(), n_estimators=3, random_state=0),
}


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_tree_classifier(name, n_classes):
    X, y = classification(classes=n_classes)
    check_both(fitted(CLASSIFIERS[name](), X, y), X)


def test_gradient_boosting_exponential_loss():
    X, y = classification(classes=2)
    check_both(fitted(ens.GradientBoostingClassifier(loss="exponential", n_estimators=5), X, y), X)


REGRESSORS = {
    "decision_tree": lambda: tree.DecisionTreeRegressor(max_depth=6),
    "random_forest": lambda: ens.RandomForestRegressor(n_estimators=8, max_depth=6, random_state=0),
    "extra_trees": lambda: ens.ExtraTreesRegressor(n_estimators=8, max_depth=6, random_state=0),
    "gradient_boosting": lambda: ens.GradientBoostingRegressor(n_estimators=8, random_state=0),
    "gradient_boosting_huber": lambda: ens.GradientBoostingRegressor(loss="huber", n_estimators=5, random_state=0),
    "hist_gradient_boosting": lambda: ens.HistGradientBoostingRegressor(max_iter=8),
    "hist_gradient_boosting_poisson": lambda: ens.HistGradientBoostingRegressor(loss="poisson", max_iter=8),
    "adaboost": lambda: ens.AdaBoostRegressor(n_estimators=8, random_state=0),
}


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_tree_regressor(name):
    X, y = regression()
    if name.endswith("poisson"):
        y = np.exp(y / np.abs(y).max())
    check_both(fitted(REGRESSORS[name](), X, y), X)


def test_multi_output_forest_regressor():
    X, y = regression(targets=2)
    check_both(fitted(ens.RandomForestRegressor(n_estimators=4, max_depth=5, random_state=0), X, y), X)
    check_both(fitted(tree.DecisionTreeRegressor(max_depth=5), X, y), X)


def test_isolation_forest():
    X, _ = regression()
    check_both(fitted(ens.IsolationForest(n_estimators=10, max_features=0.7, random_state=0), X), X)


def _categorical_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = f32(rng.normal(size=(n, 4)))
    X[:, 2] = rng.integers(0, 6, n)
    X[:, 3] = rng.integers(0, 4, n)
    y = ((X[:, 0] > 0) ^ np.isin(X[:, 2], [1, 3, 4])).astype(int) + (X[:, 3] == 2)
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.1, 2] = np.nan
    return X, y


def test_missing_values_in_trees():
    X, y = _categorical_data()
    for model in (tree.DecisionTreeClassifier(max_depth=6, random_state=0),
                  ens.RandomForestClassifier(n_estimators=5, random_state=0),
                  ens.HistGradientBoostingClassifier(max_iter=8)):
        check_both(fitted(model, X, y), X)


def test_hist_gradient_boosting_categorical():
    X, y = _categorical_data()
    Xt = X.copy()
    Xt[:10, 2] = 9  # a category unseen in training goes where missing values go
    for model in (ens.HistGradientBoostingClassifier(max_iter=10, categorical_features=[2, 3], random_state=0),
                  ens.HistGradientBoostingRegressor(max_iter=10, categorical_features=[2, 3])):
        check_both(fitted(model, X, y), Xt)


def test_hist_gradient_boosting_dataframe_categories():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    X, y = classification(n=200, f=3)
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": pd.Categorical(rng.choice(["x", "y", "z"], 200))})
    y = y + (df["c"] == "y").to_numpy()
    check(fitted(ens.HistGradientBoostingClassifier(max_iter=8, random_state=0), df, y), df)
