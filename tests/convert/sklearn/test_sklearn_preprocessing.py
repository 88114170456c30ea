"""Scalers, feature maps, encoders, imputers, text vectorizers, decompositions, kernel
approximations and feature selectors."""

import numpy as np
import pytest
from skl_check import check_both, check_transformer, classification, f32, fitted, regression

pytest.importorskip("sklearn")
from sklearn import decomposition as dec
from sklearn import feature_selection as fs
from sklearn import impute
from sklearn import kernel_approximation as ka
from sklearn import preprocessing as pp
from sklearn import random_projection as rp
from sklearn.feature_extraction import text
from sklearn.linear_model import LogisticRegression

X, Y = classification(n=160)
POSITIVE = np.abs(X) + 0.1

TRANSFORMERS = {
    "standard": (pp.StandardScaler, X), "standard_no_mean": (lambda: pp.StandardScaler(with_mean=False), X),
    "minmax_clip": (lambda: pp.MinMaxScaler(clip=True), X), "maxabs": (pp.MaxAbsScaler, X),
    "robust": (pp.RobustScaler, X), "normalizer_l2": (pp.Normalizer, X),
    "normalizer_l1": (lambda: pp.Normalizer("l1"), X), "normalizer_max": (lambda: pp.Normalizer("max"), X),
    "binarizer": (lambda: pp.Binarizer(threshold=0.2), X),
    "polynomial": (lambda: pp.PolynomialFeatures(3), X[:, :3]),
    "polynomial_interactions": (lambda: pp.PolynomialFeatures(2, interaction_only=True, include_bias=False), X),
    "function_log1p": (lambda: pp.FunctionTransformer(np.log1p), POSITIVE),
    "function_expm1": (lambda: pp.FunctionTransformer(np.expm1), X),
    "function_identity": (pp.FunctionTransformer, X),
    "kbins_ordinal": (lambda: pp.KBinsDiscretizer(n_bins=4, encode="ordinal"), X),
    "kbins_onehot": (lambda: pp.KBinsDiscretizer(n_bins=3), X),
    "kbins_uniform": (lambda: pp.KBinsDiscretizer(n_bins=5, encode="onehot-dense", strategy="uniform"), X),
    "power_yeo_johnson": (pp.PowerTransformer, X), "power_box_cox": (lambda: pp.PowerTransformer("box-cox"), POSITIVE),
    "quantile_uniform": (lambda: pp.QuantileTransformer(n_quantiles=50), X),
    "quantile_normal": (lambda: pp.QuantileTransformer(n_quantiles=60, output_distribution="normal"), X),
    "spline": (pp.SplineTransformer, X[:, :3]),
    "spline_linear": (lambda: pp.SplineTransformer(degree=2, n_knots=4, extrapolation="linear"), X[:, :3]),
    "spline_continue": (lambda: pp.SplineTransformer(extrapolation="continue", include_bias=False), X[:, :3]),
    "spline_periodic": (lambda: pp.SplineTransformer(extrapolation="periodic", n_knots=6), X[:, :3]),
    "pca": (lambda: dec.PCA(3), X), "pca_whiten": (lambda: dec.PCA(3, whiten=True), X),
    "incremental_pca": (lambda: dec.IncrementalPCA(3), X), "truncated_svd": (lambda: dec.TruncatedSVD(3), X),
    "kernel_pca_rbf": (lambda: dec.KernelPCA(3, kernel="rbf"), X),
    "kernel_pca_poly": (lambda: dec.KernelPCA(2, kernel="poly"), X),
    "factor_analysis": (lambda: dec.FactorAnalysis(2, random_state=0), X),
    "fast_ica": (lambda: dec.FastICA(3, random_state=0), X),
    "sparse_pca": (lambda: dec.SparsePCA(2, random_state=0), X),
    "nystroem": (lambda: ka.Nystroem(n_components=20, random_state=0), X),
    "nystroem_poly": (lambda: ka.Nystroem(kernel="poly", n_components=10, random_state=0), X),
    "rbf_sampler": (lambda: ka.RBFSampler(n_components=20, random_state=0), X),
    "gaussian_projection": (lambda: rp.GaussianRandomProjection(3, random_state=0), X),
    "sparse_projection": (lambda: rp.SparseRandomProjection(3, random_state=0), X),
    "variance_threshold": (lambda: fs.VarianceThreshold(0.5), X),
    "select_k_best": (lambda: fs.SelectKBest(k=3), X), "select_percentile": (fs.SelectPercentile, X),
    "select_from_model": (lambda: fs.SelectFromModel(LogisticRegression()), X),
    "rfe": (lambda: fs.RFE(LogisticRegression(), n_features_to_select=3), X),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_transformer(name):
    factory, data = TRANSFORMERS[name]
    model = fitted(factory(), data, Y)
    test_data = data * 1.5 if name.startswith("spline") else data  # beyond the knots too
    check_both(model, test_data)


def test_rfe_predicts():
    check_both(fitted(fs.RFE(LogisticRegression(), n_features_to_select=3), X, Y), X)


def test_imputers():
    Xn = X.copy()
    Xn[::7, 1] = np.nan
    Xn[::5, 3] = np.nan
    Xn[:, 5] = np.nan  # no observed value: dropped
    for model in (impute.SimpleImputer(), impute.SimpleImputer(strategy="median", add_indicator=True),
                  impute.SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True),
                  impute.MissingIndicator(), impute.MissingIndicator(features="all")):
        check_both(fitted(model, Xn), Xn)


def test_knn_imputer():
    Xn = X.copy()
    Xn[np.random.default_rng(0).random(Xn.shape) < 0.15] = np.nan
    Xn[3, :] = np.nan  # no feature in common with any donor: the column means
    for model in (impute.KNNImputer(), impute.KNNImputer(n_neighbors=3, weights="distance", add_indicator=True)):
        check_both(fitted(model, Xn[:100]), Xn)


def test_string_imputer():
    S = np.array([["a", "x"], ["", "y"], ["b", ""], ["a", "y"]], dtype=object)
    check_transformer(fitted(impute.SimpleImputer(missing_values="", strategy="most_frequent"), S), S)


STRINGS = np.random.default_rng(0).choice(["a", "b", "c", "dd"], size=(100, 2)).astype(object)
INTS = f32(np.random.default_rng(1).integers(0, 4, size=(100, 3)))


@pytest.mark.parametrize("model", [
    pytest.param(lambda: pp.OneHotEncoder(), id="onehot"),
    pytest.param(lambda: pp.OneHotEncoder(drop="first", handle_unknown="ignore"), id="onehot_drop_first"),
    pytest.param(lambda: pp.OneHotEncoder(drop="if_binary"), id="onehot_if_binary"),
    pytest.param(lambda: pp.OneHotEncoder(min_frequency=20, handle_unknown="infrequent_if_exist"), id="onehot_infrequent"),
    pytest.param(lambda: pp.OneHotEncoder(max_categories=3, handle_unknown="ignore"), id="onehot_max_categories"),
    pytest.param(lambda: pp.OrdinalEncoder(), id="ordinal"),
    pytest.param(lambda: pp.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), id="ordinal_unknown"),
])
@pytest.mark.parametrize("data", ["strings", "numbers"])
def test_encoders(model, data):
    train = STRINGS if data == "strings" else INTS
    est = fitted(model(), train)
    check_transformer(est, train)
    if est.handle_unknown != "error":
        unseen = train.copy()
        unseen[:3, 0] = "zz" if data == "strings" else 9.0
        check_transformer(est, unseen)
    if data == "numbers":
        check_transformer(est, train, np.float64)


def test_encoder_with_missing_category():
    data = INTS.copy()
    data[::6, 1] = np.nan
    for model in (pp.OneHotEncoder(), pp.OrdinalEncoder()):
        check_both(fitted(model, data), data)


def test_label_encoder():
    model = fitted(pp.LabelEncoder(), np.array(["b", "a", "c", "a"], dtype=object))
    check_transformer(model, np.array(["c", "a", "b", "b"], dtype=object))
    model = fitted(pp.LabelEncoder(), np.array([3.0, 1.0, 7.0]))
    check_transformer(model, np.array([7.0, 1.0, 3.0, 3.0]))


DOCS = np.array([
    "The quick brown fox, jumps over the lazy dog.", "A dog's life: eat, sleep; bark!",
    "Quick quick QUICK foxes (and dogs)", "no-punctuation here at all", "x y z single letters", "",
    "email me at a.b@c.de now", "the dog and the fox: friends?",
], dtype=object)


@pytest.mark.parametrize("model", [
    pytest.param(lambda: text.CountVectorizer(), id="count"),
    pytest.param(lambda: text.CountVectorizer(ngram_range=(1, 2), stop_words="english"), id="count_bigrams_stop"),
    pytest.param(lambda: text.CountVectorizer(binary=True, lowercase=False, token_pattern=r"(?u)\b\w+\b"),
                 id="count_binary_single_chars"),
    pytest.param(lambda: text.TfidfVectorizer(), id="tfidf"),
    pytest.param(lambda: text.TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, norm="l1"), id="tfidf_trigrams"),
])
def test_text_vectorizers(model):
    # locale: ONNX Runtime's StringNormalizer defaults to en_US.UTF-8, which minimal images lack
    check_both(fitted(model(), DOCS), DOCS, locale="C.UTF-8")


def test_text_outside_the_exact_alphabet_gives_nan_rows():
    from skl_check import convert_and_run

    model = fitted(text.CountVectorizer(), DOCS)
    docs = np.array(["héllo world", "the dog"], dtype=object)
    _, outs = convert_and_run(model, docs, locale="C.UTF-8")
    expected = model.transform(docs[1:]).toarray()
    for (out,) in outs.values():
        assert np.isnan(out[0]).all()
        np.testing.assert_array_equal(out[1:], expected)


def test_tfidf_transformer():
    counts = fitted(text.CountVectorizer(), DOCS).transform(DOCS).toarray().astype(np.float64)
    check_both(fitted(text.TfidfTransformer(sublinear_tf=True), counts), counts)


def test_regression_data_transformers():
    Xr, _ = regression(n=100)
    check_both(fitted(dec.PCA(2), Xr), Xr)
