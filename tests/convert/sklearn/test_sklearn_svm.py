"""Kernel SVMs, predict_proba included (libsvm's pairwise coupling run as an ONNX Loop)."""

import warnings

import numpy as np
import pytest
from skl_check import check_both, check_outliers, classification, fitted, regression

svm = pytest.importorskip("sklearn.svm")


def _svc(cls, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # probability=True is deprecated from scikit-learn 1.9
        return cls(**kw)


@pytest.mark.parametrize("n_classes", [2, 3, 4])
@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
def test_svc_probability(kernel, n_classes):
    X, y = classification(n=120, classes=n_classes)
    model = fitted(_svc(svm.SVC, kernel=kernel, probability=True, random_state=0), X, y)
    # predict_proba to 1e-5 in float, 1e-9 in double
    check_both(model, X)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_nusvc_probability(n_classes):
    X, y = classification(n=120, classes=n_classes)
    check_both(fitted(_svc(svm.NuSVC, nu=0.3, probability=True, random_state=0), X, y), X)


@pytest.mark.parametrize("shape", ["ovr", "ovo"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_svc_decision_function(shape, n_classes):
    X, y = classification(n=120, classes=n_classes)
    check_both(fitted(svm.SVC(decision_function_shape=shape), X, y), X)
    check_both(fitted(svm.NuSVC(kernel="poly", degree=2, decision_function_shape=shape), X, y), X)


def test_svc_break_ties():
    X, y = classification(n=120, classes=3)
    check_both(fitted(svm.SVC(break_ties=True), X, y), X)


@pytest.mark.parametrize("model", [
    pytest.param(lambda: svm.SVR(C=10.0), id="svr_rbf"),
    pytest.param(lambda: svm.SVR(kernel="poly", degree=2), id="svr_poly"),
    pytest.param(lambda: svm.SVR(kernel="linear"), id="svr_linear"),
    pytest.param(lambda: svm.NuSVR(kernel="sigmoid", gamma=0.01), id="nusvr_sigmoid"),
])
def test_svr(model):
    X, y = regression(n=120)
    check_both(fitted(model(), X, y), X)


def test_one_class_svm():
    X, _ = regression(n=120)
    model = fitted(svm.OneClassSVM(nu=0.2), X)
    for dtype in (np.float32, np.float64):
        check_outliers(model, X, dtype)
