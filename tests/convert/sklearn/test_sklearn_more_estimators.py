"""Estimators skl2onnx converts that nnex added later: mixtures, Gaussian process
regression, cross decomposition, NCA, RBM, SGD one-class SVM, local outlier factor,
neighbour graphs, random trees embedding, kernel centering, decision thresholds, target
encoding."""

import warnings

import numpy as np
import pytest
from skl_check import assert_close, check, check_both, classification, convert_and_run, f32, fitted, regression

pytest.importorskip("sklearn")
from sklearn import cross_decomposition as cd
from sklearn import ensemble, mixture, model_selection, neighbors, neural_network, preprocessing
from sklearn import gaussian_process as gp
from sklearn.gaussian_process import kernels as K
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDOneClassSVM
from sklearn.metrics.pairwise import rbf_kernel


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("bayesian", [False, True])
def test_gaussian_mixture(covariance_type, bayesian):
    X, _ = classification(n=200, seed=4)
    cls = mixture.BayesianGaussianMixture if bayesian else mixture.GaussianMixture
    model = fitted(cls(n_components=3, covariance_type=covariance_type, random_state=0), X)
    for dtype in (np.float32, np.float64):
        _, outs = convert_and_run(model, X, dtype)
        for rt, (label, proba) in outs.items():
            np.testing.assert_array_equal(label, model.predict(X), err_msg=rt)
            assert_close(model, f"{rt}: probabilities", proba, model.predict_proba(X), dtype)


KERNELS = {
    "default": None,
    "rbf_white": K.RBF(1.0) + K.WhiteKernel(0.1),
    "anisotropic_matern": K.ConstantKernel(2.0) * K.Matern(length_scale=[1.0, 2.0, 0.5], nu=1.5),
    "matern_half": K.Matern(nu=0.5),
    "matern_dot": K.Matern(nu=2.5) * K.DotProduct(),
    "rational_quadratic": K.RationalQuadratic(),
    "rbf_squared": K.RBF() ** 2,
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_gaussian_process_regressor(name):
    X, y = regression(n=60, f=3, seed=2)
    Xt = f32(np.concatenate([X, X[:5] + 0.1]))
    for yy, normalize in ((y, True), (np.stack([y, y * 0.3 + 1], axis=1), False)):
        model = fitted(gp.GaussianProcessRegressor(kernel=KERNELS[name], normalize_y=normalize, alpha=1e-2,
                                                   random_state=0), X, yy)
        check(model, Xt)
        # double: the mean sums K * alpha_ terms of both signs, whose size scales the last
        # bits (a fitted DotProduct makes them 1e13 here): allow their rounding
        terms = (np.abs(model.kernel_(Xt, model.X_train_)) @ np.abs(model.alpha_)).max() * \
            np.max(model._y_train_std)
        check(model, Xt, np.float64, rtol=1e-7, atol=max(1e-9, 1e-15 * terms))


def test_gaussian_process_periodic_kernel():
    X, y = regression(n=50, f=1, seed=6)  # periodic: positive definite in one dimension
    kernel = K.ExpSineSquared(length_scale=1.5, periodicity=4.0) + K.WhiteKernel(0.5)
    check_both(fitted(gp.GaussianProcessRegressor(kernel=kernel, optimizer=None), X, y), X)


def test_cross_decomposition():
    X, Y = regression(n=100, f=5, targets=2, seed=3)
    for model in (cd.PLSRegression(2), cd.PLSCanonical(2), cd.CCA(2)):
        model = fitted(model, X, Y)
        check_both(model, X)
        check_both(model, X, method="transform")
    check_both(fitted(cd.PLSSVD(2), X, Y), X)
    check_both(fitted(cd.PLSRegression(2), X, Y[:, 0]), X)


def test_projections_and_rbm():
    X, y = classification(n=150, seed=7)
    check_both(fitted(neighbors.NeighborhoodComponentsAnalysis(2, random_state=0), X, y), X)
    Xp = f32(np.abs(X) / 4)
    check_both(fitted(neural_network.BernoulliRBM(4, random_state=0), Xp), Xp)


def test_kernel_centerer():
    X, _ = classification(n=150, seed=7)
    model = fitted(preprocessing.KernelCenterer(), rbf_kernel(X[:50], X[:50]))
    check_both(model, f32(rbf_kernel(X, X[:50])))


def test_outlier_detectors():
    X, _ = classification(n=150, seed=7)
    Xt = f32(np.concatenate([X, X[:10] + 0.3, np.full((2, X.shape[1]), 4.0)]))
    for model in (SGDOneClassSVM(random_state=0), neighbors.LocalOutlierFactor(novelty=True),
                  neighbors.LocalOutlierFactor(n_neighbors=7, p=1, contamination=0.1, novelty=True)):
        check_both(fitted(model, X), Xt)


def test_neighbor_graphs_and_trees_embedding():
    X, _ = classification(n=150, seed=7)
    Xt = f32(np.concatenate([X, X[:10] + 0.3]))
    for model in (neighbors.KNeighborsTransformer(n_neighbors=4),
                  neighbors.KNeighborsTransformer(n_neighbors=3, mode="connectivity"),
                  neighbors.RadiusNeighborsTransformer(radius=1.5),
                  neighbors.RadiusNeighborsTransformer(radius=1.2, mode="connectivity"),
                  ensemble.RandomTreesEmbedding(n_estimators=5, max_depth=3, random_state=0)):
        check_both(fitted(model, X), Xt)


THRESHOLDS = {
    "fixed_proba": lambda: model_selection.FixedThresholdClassifier(LogisticRegression(), threshold=0.3),
    "fixed_decision_neg": lambda: model_selection.FixedThresholdClassifier(
        LogisticRegression(), threshold=-0.5, response_method="decision_function", pos_label="neg"),
    "fixed_no_proba": lambda: model_selection.FixedThresholdClassifier(RidgeClassifier(), threshold=0.2),
    "tuned": lambda: model_selection.TunedThresholdClassifierCV(LogisticRegression(), cv=3),
}


@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_threshold_classifiers(name):
    X, y = classification(n=200, classes=2, seed=5)
    check_both(fitted(THRESHOLDS[name](), X, np.array(["neg", "pos"])[y]), X)


def test_target_encoder():
    rng = np.random.RandomState(0)
    X, y = classification(n=200, classes=3, seed=5)
    cats = np.stack([np.array(list("abcde"))[rng.randint(0, 5, 200)],
                     np.array(list("xyz"))[rng.randint(0, 3, 200)]], axis=1).astype(object)
    Xt = np.concatenate([cats, [["unseen", "x"]]]).astype(object)
    for target in (y, (y == 1) * 3.5 + X[:, 0], np.array(["p", "q", "r"])[y]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_both(fitted(preprocessing.TargetEncoder(random_state=0), cats, target), Xt)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_gaussian_process_classifier(n_classes):
    # probabilities need erf in double (a series and a continued fraction in the graph)
    X, y = classification(n=120, classes=n_classes, seed=9)
    Xt = f32(np.concatenate([X, np.random.RandomState(1).randn(20, X.shape[1]) * 2]))
    for kernel in (None, K.ConstantKernel() * K.RBF([1.0] * X.shape[1]), K.Matern(nu=1.5) + K.WhiteKernel()):
        model = fitted(gp.GaussianProcessClassifier(kernel, random_state=0), X, y)
        check(model, Xt)
        check(model, Xt, np.float64, rtol=1e-8)


def test_feature_hasher():
    from sklearn.feature_extraction import FeatureHasher

    rows = np.array([["cat", "dog", "x"], ["a", "b", "cat"], ["dog", "dog", "été"], ["", "q", "日本"]] * 3,
                    dtype=object)
    for model in (FeatureHasher(n_features=16, input_type="string"),
                  FeatureHasher(n_features=7, input_type="string", alternate_sign=False)):
        check_both(fitted(model, rows), rows)


def test_dict_vectorizer_is_refused():
    import nnex
    from nnex.convert import ConversionError
    from sklearn.feature_extraction import DictVectorizer

    model = DictVectorizer().fit([{"a": 1.0}, {"b": 2.0}])
    with pytest.raises(ConversionError, match="DictVectorizer"):
        nnex.convert(model, np.zeros((1, 2)))
