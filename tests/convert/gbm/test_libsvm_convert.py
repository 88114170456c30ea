"""LibSVM (the libsvm package's svm_model) -> ONNX against libsvm's own svm_predict."""

import numpy as np
import pytest
from gbm_check import check_classifier, check_regressor, convert_and_run, data

svmutil = pytest.importorskip("libsvm.svmutil")

import nnex
from nnex.convert import ConversionError

BOTH = [np.float32, np.float64]
KERNELS = {"linear": "-t 0", "poly": "-t 1 -d 3 -g 0.2 -r 1", "rbf": "-t 2 -g 0.3", "sigmoid": "-t 3 -g 0.05 -r -0.5"}


def _train(y, X, opts):
    return svmutil.svm_train(np.asarray(y, dtype=np.float64), X, opts + " -q")


def _predict(m, X, b=0):
    """libsvm's labels and probability estimates (b=1) or decision values (b=0)."""
    if b == 0:
        return _decision_values(m, X)
    labels, _, values = svmutil.svm_predict(np.zeros(len(X)), X, m, f"-b {b} -q")
    return np.asarray(labels), np.asarray(values, dtype=np.float64)


def _decision_values(m, X):
    """svm_predict_values of libsvm's C library, row by row: svmutil.svm_predict sizes the
    buffer for one value for nu-SVC (it tests NU_SVC where NU_SVR is meant) and overruns it
    with more than two classes."""
    from ctypes import c_double

    from libsvm.svm import gen_svm_nodearray, libsvm

    k = m.get_nr_class()
    n_values = 1 if m.get_svm_type() in (2, 3, 4) else k * (k - 1) // 2
    labels, values = [], []
    for row in X:
        nodes, _ = gen_svm_nodearray(row.tolist())
        buf = (c_double * n_values)()
        labels.append(libsvm.svm_predict_values(m, nodes, buf))
        values.append(list(buf))
    return np.asarray(labels), np.asarray(values, dtype=np.float64)


def _classes(n_classes, n=150):
    X, y = data(n=n, f=4)
    return X, np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1])) * 2 + 1


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_c_svc_probabilities(kernel, n_classes):
    X, y = _classes(n_classes)
    m = _train(y, X, f"-s 0 -c 2 -b 1 {KERNELS[kernel]}")
    label, proba = _predict(m, X, b=1)
    for dtype in BOTH:
        check_classifier(f"c_svc_{kernel}", convert_and_run(m, X, dtype), label, proba, dtype,
                         rtol=1e-5 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_nu_svc_votes_and_decision_values(n_classes):
    X, y = _classes(n_classes)
    m = _train(y, X, "-s 1 -n 0.3 -t 2 -g 0.5")
    label, dec = _predict(m, X, b=0)
    for dtype in BOTH:
        check_classifier("nu_svc", convert_and_run(m, X, dtype), label, dec, dtype)
    # a probability model asked for votes
    mp = _train(y, X, "-s 1 -n 0.3 -t 2 -g 0.5 -b 1")
    label, dec = _predict(mp, X, b=0)
    check_classifier("nu_svc_votes", convert_and_run(mp, X, np.float64, probability=False), label, dec, np.float64)


@pytest.mark.parametrize("svm_type", ["-s 3 -p 0.1", "-s 4 -n 0.4"])
@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly"])
def test_regression(svm_type, kernel):
    X, y = data(n=150, f=4)
    m = _train(y, X, f"{svm_type} -c 3 {KERNELS[kernel]}")
    pred, _ = _predict(m, X)
    for dtype in BOTH:
        check_regressor("svr", convert_and_run(m, X, dtype), pred, dtype)


def test_one_class_with_density_probabilities():
    X, _ = data(n=200, f=3)
    m = _train(np.ones(len(X)), X, "-s 2 -n 0.2 -t 2 -g 0.5 -b 1")
    probe = np.vstack([X, X[:20] * 3])
    label, proba = _predict(m, probe, b=1)
    _, dec = _predict(m, probe, b=0)
    for dtype in BOTH:
        outs = convert_and_run(m, probe, dtype)
        for rt, (got_label, got_scores, got_proba) in outs.items():
            np.testing.assert_array_equal(got_label, label, err_msg=rt)
            tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-9}
            np.testing.assert_allclose(got_scores, dec[:, 0], err_msg=rt, **tol)
            np.testing.assert_allclose(got_proba, proba, err_msg=rt, **tol)


def test_precomputed_kernel_is_refused():
    X, y = _classes(2, n=40)
    gram = np.hstack([np.arange(1, 41)[:, None], X @ X.T])
    m = svmutil.svm_train(y.astype(float), [list(r) for r in gram], "-t 4 -q")
    with pytest.raises(ConversionError, match="precomputed"):
        nnex.convert(m, X[:5])
