"""Multi-output tree classifiers, multilabel one-vs-rest, radius neighbours: labels and
probabilities against scikit-learn's own.

Contract: every target 0/1 (multilabel) gives label (N, k) and the probability of label 1
(N, k); other multi-output targets give label (N, k) and each target's predict_proba side
by side (N, sum of n_classes)."""

import warnings

import numpy as np
import pytest
from skl_check import check, check_classifier, check_regressor, classification, convert_and_run, f32, fitted, \
    regression

pytest.importorskip("sklearn")
from sklearn import ensemble, multiclass, multioutput, tree
from sklearn import neighbors as nn
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC


def _targets(kind):
    X, y = classification(n=200, classes=3, seed=3)
    if kind == "multilabel":
        Y = np.stack([y == 0, X[:, 0] > 0, X[:, 1] > 0.2], axis=1).astype(int)
    elif kind == "integers":
        Y = np.stack([y, (X[:, 0] > 0).astype(int) + 5, (X[:, 1] > 0.3).astype(int) * 2 - 1], axis=1)
    else:
        Y = np.stack([np.array(["a", "b", "c"])[y], np.where(X[:, 0] > 0, "yes", "no")], axis=1)
    return X, Y


def _expected(model, X, Y):
    proba = model.predict_proba(X)
    if set(np.unique(Y).tolist()) <= {0, 1}:
        return np.stack([p[:, 1] for p in proba], axis=1)
    return np.hstack(proba)


TREES = {
    "decision_tree": lambda: tree.DecisionTreeClassifier(max_depth=6, random_state=0),
    "extra_tree": lambda: tree.ExtraTreeClassifier(random_state=0),
    "random_forest": lambda: ensemble.RandomForestClassifier(8, max_depth=5, random_state=0),
    "extra_trees": lambda: ensemble.ExtraTreesClassifier(6, random_state=0),
}


@pytest.mark.parametrize("kind", ["multilabel", "integers", "strings"])
@pytest.mark.parametrize("name", sorted(TREES))
def test_multi_output_trees(name, kind):
    X, Y = _targets(kind)
    model = fitted(TREES[name](), X, Y)
    for dtype in (np.float32, np.float64):
        check_classifier(model, X, dtype, scores=_expected(model, X, Y))


def test_multi_output_classifier_wrapper_with_other_targets():
    X, Y = _targets("integers")
    model = fitted(multioutput.MultiOutputClassifier(LogisticRegression()), X, Y)
    check_classifier(model, X, scores=_expected(model, X, Y))


@pytest.mark.parametrize("base", ["logistic", "linear_svc", "naive_bayes", "tree"])
def test_multilabel_one_vs_rest(base):
    X, Y = _targets("multilabel")
    Y = np.concatenate([Y, np.ones((len(Y), 1), dtype=int)], axis=1)  # a label always on: constant predictor
    est = {"logistic": LogisticRegression(), "linear_svc": LinearSVC(), "naive_bayes": GaussianNB(),
           "tree": tree.DecisionTreeClassifier(max_depth=3, random_state=0)}[base]
    model = fitted(multiclass.OneVsRestClassifier(est), X, Y)
    for dtype in (np.float32, np.float64):
        check_classifier(model, X, dtype)


def test_one_vs_rest_constant_first_label():
    # the first estimator is a constant predictor: scikit-learn then thresholds every score at 0.5
    X, Y = _targets("multilabel")
    Y = np.concatenate([np.zeros((len(Y), 1), dtype=int), Y], axis=1)
    check_classifier(fitted(multiclass.OneVsRestClassifier(LogisticRegression()), X, Y), X)


# ------------------------------------------------------------------ radius neighbours


def _radius_data():
    X, y = classification(n=200, classes=3, seed=5)
    far = np.full((3, X.shape[1]), 9.0)
    Xt = f32(np.concatenate([X, X[:20] + 0.37, far]))  # unseen rows, and rows with no neighbour
    return X, np.array([5, 7, 9])[y], Xt


RADIUS = {
    "most_frequent": dict(radius=2.0, outlier_label="most_frequent"),
    "distance": dict(radius=1.5, weights="distance", outlier_label=7),
    "label_not_a_class": dict(radius=1.5, outlier_label=-1),
    "manhattan": dict(radius=2.5, p=1, outlier_label="most_frequent"),
    "chebyshev_brute": dict(radius=1.0, metric="chebyshev", algorithm="brute", outlier_label=9),
    # scikit-learn's brute uniform path places an outlier's probability at index outlier_label
    "brute_index": dict(radius=1.0, algorithm="brute", outlier_label=1),
}


@pytest.mark.parametrize("name", sorted(RADIUS))
def test_radius_neighbors_classifier(name):
    X, y, Xt = _radius_data()
    model = fitted(nn.RadiusNeighborsClassifier(**RADIUS[name]), X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dtype in (np.float32, np.float64):
            check(model, Xt, dtype)


def test_radius_neighbors_without_outlier_label():
    # scikit-learn raises on a row without neighbours; the model gives NaN probabilities
    X, y, Xt = _radius_data()
    model = fitted(nn.RadiusNeighborsClassifier(radius=1.5), X, y)
    with pytest.raises(ValueError):
        model.predict(Xt)
    inliers = Xt[:-3]
    _, outs = convert_and_run(model, Xt)
    for rt, (label, proba) in outs.items():
        np.testing.assert_array_equal(label[:-3], model.predict(inliers), err_msg=rt)
        np.testing.assert_allclose(proba[:-3], model.predict_proba(inliers), rtol=1e-4, atol=1e-5, err_msg=rt)
        assert np.isnan(proba[-3:]).all(), rt


def test_radius_neighbors_multi_output():
    X, y, Xt = _radius_data()
    Y = np.stack([y, (X[:, 0] > 0).astype(int)], axis=1)
    model = nn.RadiusNeighborsClassifier(radius=1.5, weights="distance", outlier_label="most_frequent")
    model = fitted(model, X, Y)
    check_classifier(model, Xt, scores=np.hstack(model.predict_proba(Xt)))


@pytest.mark.parametrize("kw", [dict(radius=2.0), dict(radius=2.5, weights="distance"), dict(radius=3.0, p=1)])
def test_radius_neighbors_regressor(kw):
    X, y = regression(n=150, seed=4)
    Xt = f32(np.concatenate([X, X[:10] + 0.2, np.full((2, X.shape[1]), 50.0)]))  # the last rows: NaN
    model = fitted(nn.RadiusNeighborsRegressor(**kw), X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(model.predict(Xt)[-2:]).all()
        for dtype in (np.float32, np.float64):
            check_regressor(model, Xt, dtype)
    Y = np.stack([y, y * 0.5], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_regressor(fitted(nn.RadiusNeighborsRegressor(**kw), X, Y), Xt)
