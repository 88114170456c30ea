"""Linear models: classifiers (binary and multiclass), regressors, GLMs."""

import numpy as np
import pytest
from skl_check import check_both, classification, fitted, regression

lm = pytest.importorskip("sklearn.linear_model")
svm = pytest.importorskip("sklearn.svm")
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CLASSIFIERS = {
    "logistic": lambda: lm.LogisticRegression(max_iter=500),
    "logistic_liblinear": lambda: lm.LogisticRegression(solver="liblinear"),
    "logistic_cv": lambda: lm.LogisticRegressionCV(cv=2, Cs=2),
    # SGD coefficients are large on raw data; scaled inputs keep float rounding small
    "sgd_log": lambda: make_pipeline(StandardScaler(), lm.SGDClassifier(loss="log_loss", random_state=0)),
    "sgd_huber": lambda: make_pipeline(StandardScaler(), lm.SGDClassifier(loss="modified_huber", random_state=0)),
    "sgd_hinge": lambda: lm.SGDClassifier(random_state=0),
    "perceptron": lambda: lm.Perceptron(random_state=0),
    "passive_aggressive": lambda: lm.PassiveAggressiveClassifier(random_state=0),
    "ridge_classifier": lambda: lm.RidgeClassifier(),
    "ridge_classifier_cv": lambda: lm.RidgeClassifierCV(),
    "linear_svc": lambda: svm.LinearSVC(),
}


# liblinear fits two classes only
CASES = [(name, k) for name in sorted(CLASSIFIERS) for k in (2, 3) if not (name == "logistic_liblinear" and k > 2)]


@pytest.mark.parametrize(("name", "n_classes"), CASES)
def test_linear_classifier(name, n_classes):
    X, y = classification(classes=n_classes)
    check_both(fitted(CLASSIFIERS[name](), X, y), X)


REGRESSORS = {
    "linear": lm.LinearRegression, "ridge": lm.Ridge, "lasso": lambda: lm.Lasso(alpha=0.1),
    "elastic_net": lambda: lm.ElasticNet(alpha=0.1), "lars": lm.Lars, "lasso_lars": lambda: lm.LassoLars(alpha=0.1),
    "omp": lm.OrthogonalMatchingPursuit, "bayesian_ridge": lm.BayesianRidge, "ard": lm.ARDRegression,
    "huber": lm.HuberRegressor, "quantile": lambda: lm.QuantileRegressor(alpha=0.0),
    "theil_sen": lambda: lm.TheilSenRegressor(random_state=0, max_subpopulation=200),
    "sgd": lambda: lm.SGDRegressor(random_state=0),
    "passive_aggressive": lambda: lm.PassiveAggressiveRegressor(random_state=0), "linear_svr": svm.LinearSVR,
    "ransac": lambda: lm.RANSACRegressor(random_state=0),
}


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_linear_regressor(name):
    X, y = regression()
    check_both(fitted(REGRESSORS[name](), X, y), X)


def test_multi_target_regressors():
    X, y = regression(targets=3)
    for model in (lm.LinearRegression(), lm.Ridge(), lm.MultiTaskLasso(alpha=0.1)):
        check_both(fitted(model, X, y), X)
    # a (N, 1) target predicts (N, 1)
    check_both(fitted(lm.LinearRegression(), X, y[:, :1]), X)


@pytest.mark.parametrize("model", [
    pytest.param(lambda: lm.PoissonRegressor(), id="poisson"),
    pytest.param(lambda: lm.GammaRegressor(), id="gamma"),
    pytest.param(lambda: lm.TweedieRegressor(power=1.5), id="tweedie_log"),
    pytest.param(lambda: lm.TweedieRegressor(power=0), id="tweedie_identity"),
])
def test_glm(model):
    X, y = regression()
    y = np.exp(y / np.abs(y).max())  # positive targets
    check_both(fitted(model(), X, y), X)
