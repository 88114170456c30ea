"""Shared checks for the scikit-learn converter tests.

Every check converts with ``nnex.convert(model, X[:5])``, runs the full ONNX checker, then
compares onnxruntime's and nnex's outputs with the fitted model's own predict /
predict_proba / decision_function / transform on the whole of X.

Set NNEX_SKL_DIFFS=path to append the measured max differences (one JSON line a check).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import onnx
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")

import nnex

# float models: 1e-4 relative (plus a small absolute floor); double models: 1e-9
RTOL = {np.float32: 1e-4, np.float64: 1e-9}
ATOL = {np.float32: 1e-5, np.float64: 1e-9}


def f32(a):
    """Values exactly representable in float32, so both sides see the same numbers."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def classification(n=240, f=6, classes=3, seed=0, informative=None):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=f, n_informative=informative or min(4, f), n_redundant=0,
                               n_classes=classes, n_clusters_per_class=1, random_state=seed)
    return f32(X), y


def regression(n=200, f=5, targets=1, seed=0):
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=n, n_features=f, n_targets=targets, noise=0.5, random_state=seed)
    return f32(X), y


def convert_and_run(model, X, dtype=np.float32, **options):
    """The converted model and each runtime's outputs on X: {"onnxruntime": [...], "nnex": [...]}."""
    sample = X[:5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto = nnex.convert(model, sample, dtype=dtype, **options)
    onnx.checker.check_model(proto, full_check=True)
    feeds = make_feeds(proto, X, dtype)
    ort_sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = {"onnxruntime": ort_sess.run(None, feeds), "nnex": nnex.InferenceSession(proto).run(None, feeds)}
    return proto, outs


def make_feeds(proto, X, dtype):
    names = [i.name for i in proto.graph.input]
    if hasattr(X, "columns"):  # DataFrame: one (N, 1) input per column
        feeds = {}
        for n in names:
            col = X[n].to_numpy()
            feeds[n] = (col.astype(object) if col.dtype.kind in "OUS" or str(X[n].dtype) in ("category", "string", "str")
                        else col.astype(dtype)).reshape(-1, 1)
        return feeds
    a = np.asarray(X)
    return {names[0]: a.astype(object) if a.dtype.kind in "OUS" else a.astype(dtype)}


def _record(model, what, got, exp, dtype):
    path = os.environ.get("NNEX_SKL_DIFFS")
    if not path:
        return
    got, exp = np.asarray(got, dtype=np.float64), np.asarray(exp, dtype=np.float64)
    diff = np.abs(got - exp)
    finite = np.isfinite(diff)
    rel = diff[finite] / np.maximum(np.abs(exp[finite]), 1e-12)
    with open(path, "a") as fh:
        fh.write(json.dumps({"model": type(model).__name__, "what": what, "dtype": np.dtype(dtype).name,
                             "max_abs": float(diff[finite].max(initial=0)),
                             "max_rel": float(rel.max(initial=0))}) + "\n")


def assert_close(model, what, got, exp, dtype, rtol=None, atol=None):
    atol = ATOL[np.dtype(dtype).type] if atol is None else atol
    rtol = RTOL[np.dtype(dtype).type] if rtol is None else rtol
    got = np.asarray(got)
    exp = np.asarray(exp)
    assert got.shape == exp.shape, f"{what}: shape {got.shape} != expected {exp.shape}"
    np.testing.assert_allclose(got.astype(np.float64), exp.astype(np.float64), rtol=rtol, atol=atol, err_msg=what)
    _record(model, what, got, exp, dtype)


def expected_scores(model, X):
    """predict_proba, else decision_function as (N, n_classes) (binary: [-s, s])."""
    if hasattr(model, "predict_proba"):
        try:
            return model.predict_proba(X)
        except (AttributeError, NotImplementedError):
            pass
    d = model.decision_function(X)
    return np.stack([-d, d], axis=1) if d.ndim == 1 else d


def check_classifier(model, X, dtype=np.float32, rtol=None, atol=None, scores=None, **options):
    """``scores``: the expected second output when the model has neither predict_proba nor
    decision_function (default: one of those)."""
    _, outs = convert_and_run(model, X, dtype, **options)
    label = model.predict(X)
    scores = expected_scores(model, X) if scores is None else scores
    for rt, (got_label, got_scores) in outs.items():
        np.testing.assert_array_equal(got_label, label, err_msg=f"{rt}: labels")
        assert_close(model, f"{rt}: scores", got_scores, scores, dtype, rtol, atol)
    return outs


def check_regressor(model, X, dtype=np.float32, rtol=None, atol=None, **options):
    _, outs = convert_and_run(model, X, dtype, **options)
    exp = model.predict(X)
    for rt, (got,) in outs.items():
        assert_close(model, f"{rt}: prediction", got, exp, dtype, rtol, atol)
    return outs


def check_transformer(model, X, dtype=np.float32, rtol=None, atol=None, expected=None, **options):
    if hasattr(model, "predict") and "method" not in options:
        options["method"] = "transform"
    _, outs = convert_and_run(model, X, dtype, **options)
    exp = model.transform(X) if expected is None else expected
    if hasattr(exp, "toarray"):
        exp = exp.toarray()
    for rt, (got,) in outs.items():
        if exp.dtype.kind in "OUSb":
            np.testing.assert_array_equal(got, exp, err_msg=rt)
        else:
            assert_close(model, f"{rt}: output", got, exp, dtype, rtol, atol)
    return outs


def check_outliers(model, X, dtype=np.float32, rtol=None, atol=None, **options):
    _, outs = convert_and_run(model, X, dtype, **options)
    label, scores = model.predict(X), model.decision_function(X)
    for rt, (got_label, got_scores) in outs.items():
        assert_close(model, f"{rt}: scores", got_scores, scores, dtype, rtol, atol)
        np.testing.assert_array_equal(got_label, label, err_msg=f"{rt}: labels")
    return outs


def check(model, X, dtype=np.float32, **kw):
    """The check matching the model's kind (classifier, regressor, outlier detector, transformer)."""
    from sklearn.base import is_classifier, is_outlier_detector, is_regressor

    if kw.get("method") == "transform":
        return check_transformer(model, X, dtype, **kw)
    if is_classifier(model):
        return check_classifier(model, X, dtype, **kw)
    if is_regressor(model):
        return check_regressor(model, X, dtype, **kw)
    if is_outlier_detector(model):
        return check_outliers(model, X, dtype, **kw)
    return check_transformer(model, X, dtype, **kw)


def fitted(model, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X) if y is None else model.fit(X, y)


def check_both(model, X, **kw):
    """check() with a float model and with a double one."""
    for dtype in (np.float32, np.float64):
        check(model, X, dtype, **kw)
