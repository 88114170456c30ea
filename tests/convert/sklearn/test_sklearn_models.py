"""Neighbours, naive Bayes, discriminant analysis, neural networks, clustering, dummies,
isotonic and kernel ridge regression."""

import numpy as np
import pytest
from skl_check import check_both, check_classifier, classification, convert_and_run, fitted, regression

pytest.importorskip("sklearn")
from sklearn import cluster, dummy, isotonic, kernel_ridge
from sklearn import discriminant_analysis as da
from sklearn import naive_bayes as nb
from sklearn import neighbors as nn
from sklearn import neural_network as mlp
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CLASSIFIERS = {
    "knn": lambda: nn.KNeighborsClassifier(5),
    "knn_distance": lambda: nn.KNeighborsClassifier(4, weights="distance"),
    "knn_manhattan": lambda: nn.KNeighborsClassifier(3, p=1),
    "knn_chebyshev": lambda: nn.KNeighborsClassifier(3, metric="chebyshev", weights="distance"),
    "nearest_centroid": lambda: nn.NearestCentroid(),
    "gaussian_nb": nb.GaussianNB,
    "bernoulli_nb": lambda: nb.BernoulliNB(binarize=0.1),
    "lda": da.LinearDiscriminantAnalysis,
    "lda_eigen": lambda: da.LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto"),
    "qda": da.QuadraticDiscriminantAnalysis,
    "mlp_relu": lambda: mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
    "mlp_tanh": lambda: mlp.MLPClassifier(hidden_layer_sizes=(6, 5), activation="tanh", max_iter=300, random_state=0),
    "mlp_logistic": lambda: mlp.MLPClassifier(hidden_layer_sizes=(5,), activation="logistic", max_iter=300,
                                              random_state=0),
    "dummy_prior": dummy.DummyClassifier,
    "dummy_most_frequent": lambda: dummy.DummyClassifier(strategy="most_frequent"),
    "dummy_constant": lambda: dummy.DummyClassifier(strategy="constant", constant=1),
}


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier(name, n_classes):
    X, y = classification(n=150, classes=n_classes)
    check_both(fitted(CLASSIFIERS[name](), X, y), X)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_count_naive_bayes(n_classes):
    X, y = classification(n=150, classes=n_classes)
    counts = np.floor(np.abs(X) * 2)
    for model in (nb.MultinomialNB(), nb.ComplementNB()):
        check_both(fitted(model, counts, y), counts)
    codes = np.clip(counts, 0, 3)
    check_both(fitted(nb.CategoricalNB(), codes, y), codes)


def test_nearest_centroid_manhattan():
    # no predict_proba nor decision_function: the scores are the negated distances
    X, y = classification(n=150)
    model = fitted(nn.NearestCentroid(metric="manhattan"), X, y)
    expected = -np.abs(X[:, None, :] - model.centroids_[None]).sum(axis=2)
    check_classifier(model, X, scores=expected)


REGRESSORS = {
    "knn": lambda: nn.KNeighborsRegressor(),
    "knn_distance": lambda: nn.KNeighborsRegressor(weights="distance"),
    "mlp": lambda: mlp.MLPRegressor(hidden_layer_sizes=(10,), max_iter=200, random_state=0),
    "kernel_ridge_rbf": lambda: make_pipeline(StandardScaler(), kernel_ridge.KernelRidge(kernel="rbf", gamma=0.1)),
    "kernel_ridge_poly": lambda: kernel_ridge.KernelRidge(kernel="poly", degree=2),
    "kernel_ridge_laplacian": lambda: kernel_ridge.KernelRidge(kernel="laplacian", gamma=0.05),
    "dummy_mean": dummy.DummyRegressor,
    "dummy_quantile": lambda: dummy.DummyRegressor(strategy="quantile", quantile=0.3),
}


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressor(name):
    X, y = regression(n=120)
    check_both(fitted(REGRESSORS[name](), X, y), X)


def test_multi_target_neighbors():
    X, y = regression(n=120, targets=2)
    check_both(fitted(nn.KNeighborsRegressor(weights="distance"), X, y), X)


@pytest.mark.parametrize("out_of_bounds", ["clip", "nan"])
def test_isotonic(out_of_bounds):
    X, y = regression(n=120, f=1)
    model = fitted(isotonic.IsotonicRegression(out_of_bounds=out_of_bounds), X[:, 0], y)
    Xt = np.concatenate([X[:, 0], [X.min() - 1, X.max() + 1]])
    check_both(model, Xt)


def test_lda_transform():
    X, y = classification(n=150, classes=3)
    check_both(fitted(da.LinearDiscriminantAnalysis(), X, y), X, method="transform")


def test_kmeans():
    X, _ = regression(n=120)
    model = fitted(cluster.KMeans(4, n_init=2, random_state=0), X)
    for dtype in (np.float32, np.float64):
        _, outs = convert_and_run(model, X, dtype)
        for label, dist in outs.values():
            np.testing.assert_array_equal(label, model.predict(X))
            np.testing.assert_allclose(dist, model.transform(X), rtol=1e-4, atol=1e-5)
