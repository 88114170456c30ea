"""Iterative transforms (NMF, MiniBatchNMF, LatentDirichletAllocation, replayed in an ONNX
Loop) and the char / char_wb text analyzers, against scikit-learn's own outputs."""

import warnings

import numpy as np
import pytest
from skl_check import check_both, check_transformer, convert_and_run, f32, fitted

pytest.importorskip("sklearn")
from sklearn import decomposition as dc
from sklearn.feature_extraction import text


def _counts_like(seed=0, n=70, f=8):
    rng = np.random.RandomState(seed)
    X = f32(np.abs(rng.randn(n, f)) * 2)
    X[X < 0.4] = 0  # zeros, as count data has
    return X


NMF = {
    "cd": lambda: dc.NMF(3, max_iter=400, random_state=0),
    "cd_regularized": lambda: dc.NMF(3, alpha_W=0.01, l1_ratio=0.4, max_iter=400, random_state=0),
    "cd_shuffle": lambda: dc.NMF(4, shuffle=True, max_iter=300, random_state=2),
    "mu_frobenius": lambda: dc.NMF(3, solver="mu", max_iter=400, random_state=0),
    "mu_kullback_leibler": lambda: dc.NMF(3, solver="mu", beta_loss="kullback-leibler", max_iter=300,
                                          random_state=0),
    # the L1 term accumulates into the cached H row sums, as in scikit-learn
    "mu_kl_regularized": lambda: dc.NMF(3, solver="mu", beta_loss=1, alpha_W=0.02, l1_ratio=0.7, max_iter=300,
                                        random_state=0),
    "mu_beta_1_5": lambda: dc.NMF(3, solver="mu", beta_loss=1.5, max_iter=200, random_state=0),
    "mu_beta_3": lambda: dc.NMF(2, solver="mu", beta_loss=3, alpha_W=0.01, l1_ratio=0.0, max_iter=200,
                                random_state=0),
    "minibatch": lambda: dc.MiniBatchNMF(3, max_iter=200, random_state=0),
    "minibatch_kl": lambda: dc.MiniBatchNMF(3, beta_loss="kullback-leibler", alpha_W=0.01, random_state=0),
}


@pytest.mark.parametrize("name", sorted(NMF))
def test_nmf(name):
    X = _counts_like()
    model = fitted(NMF[name](), X)
    Xt = np.concatenate([X, _counts_like(seed=1, n=15)])  # rows the model was not fitted on
    check_both(model, Xt)


@pytest.mark.parametrize("solver", ["mu", "minibatch"])
def test_nmf_itakura_saito(solver):
    X = f32(_counts_like() + 0.05)  # no zeros: beta_loss <= 0 refuses them
    model = dc.NMF(2, solver="mu", beta_loss="itakura-saito", max_iter=200, random_state=0) if solver == "mu" else \
        dc.MiniBatchNMF(2, beta_loss=0, random_state=0)
    check_both(fitted(model, X), X)


def test_nmf_refused_input_is_nan():
    # NMF.transform raises on a negative value: the whole batch is NaN
    X = _counts_like()
    model = fitted(dc.NMF(3, max_iter=300, random_state=0), X)
    bad = X.copy()
    bad[3, 2] = -1.0
    with pytest.raises(ValueError):
        model.transform(bad)
    _, outs = convert_and_run(model, bad)
    for rt, (got,) in outs.items():
        assert np.isnan(got).all(), rt


@pytest.mark.parametrize("kw", [{"n_components": 3},
                                {"n_components": 4, "learning_method": "online", "doc_topic_prior": 0.3,
                                 "mean_change_tol": 1e-4},
                                {"n_components": 3, "max_doc_update_iter": 5}])
def test_latent_dirichlet_allocation(kw):
    rng = np.random.RandomState(0)
    X = rng.poisson(1.0, size=(60, 10)).astype(np.float64)
    X[5] = 0  # an empty document
    model = fitted(dc.LatentDirichletAllocation(random_state=0, **kw), X)
    Xt = np.concatenate([X, rng.poisson(2.0, size=(10, 10))]).astype(np.float64)
    check_both(model, Xt)


# ------------------------------------------------------------------ char analyzers

DOCS = np.array([
    "The quick  brown fox", "jumps over\tthe lazy dog.", "", "a b  c\n\n d", "A  I  x", "Hello, World!  hello",
    "  leading and trailing  ", "tab\tsingle\nnewline", "x", "ÉCOLE élève À bientôt", "日本語 \u00a0テキスト\u3000x",
    "Straße\u2003Maß",
], dtype=object)


def _expected(model, docs):
    exp = model.transform(docs).toarray().astype(np.float64)
    if model.lowercase:
        # U+0130 and U+03A3 have no one-character lowercase of their own: their rows are NaN
        exp[[("\u0130" in d or "\u03a3" in d) for d in docs]] = np.nan
    return exp


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 3), (2, 4), (4, 5)])
@pytest.mark.parametrize("analyzer", ["char", "char_wb"])
def test_char_analyzers(analyzer, ngram_range):
    for lowercase in (True, False):
        for cls in (text.CountVectorizer, text.TfidfVectorizer):
            model = cls(analyzer=analyzer, ngram_range=ngram_range, lowercase=lowercase).fit(DOCS)
            for dtype in (np.float32, np.float64):
                check_transformer(model, DOCS, dtype, expected=_expected(model, DOCS))


def test_char_options_and_unseen_text():
    docs = np.array(["\u03a3\u0391\u03a3 and \u0130stanbul", "ΣΑΣ", "nothing odd", "ünïcödé wörds"], dtype=object)
    for model in (text.TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True, norm="l1",
                                       min_df=2),
                  text.CountVectorizer(analyzer="char", ngram_range=(1, 2), binary=True, max_features=25),
                  text.CountVectorizer(analyzer="char", ngram_range=(2, 2), lowercase=False)):
        model.fit(DOCS)
        for dtype in (np.float32, np.float64):
            check_transformer(model, docs, dtype, expected=_expected(model, docs))


def test_char_vectorizer_in_a_pipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    docs = np.array(["good movie", "bad film", "great acting", "awful plot", "good fun", "bad bad bad",
                     "great!", "awful..."] * 4, dtype=object)
    y = np.array([1, 0, 1, 0, 1, 0, 1, 0] * 4)
    model = make_pipeline(text.TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)), LogisticRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(docs, y)
    from skl_check import check_classifier

    check_classifier(model, docs)
