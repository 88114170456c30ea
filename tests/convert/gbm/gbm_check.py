"""Shared checks for the LightGBM, XGBoost, CatBoost and LibSVM converter tests.

Each check converts with ``nnex.convert(model, sample)``, runs the full ONNX checker, runs
the model in onnxruntime and in nnex, and compares both with the framework's own
predictions (passed in by the test: they come from the framework, never from nnex).

Set NNEX_GBM_DIFFS=path to append the measured max differences (one JSON line a check).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import onnx
import pytest

ort = pytest.importorskip("onnxruntime")

import nnex

RTOL = {np.float32: 1e-4, np.float64: 1e-9}
ATOL = {np.float32: 1e-5, np.float64: 1e-9}


def f32(a):
    """Values exactly representable in float32, so every side sees the same numbers."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def data(n=300, f=5, seed=0):
    rng = np.random.default_rng(seed)
    X = f32(rng.normal(size=(n, f)))
    y = X[:, 0] * 2 - X[:, 1] + np.sin(X[:, 2] * 2) + 0.1 * rng.normal(size=n)
    return X, y


def convert_and_run(model, X, dtype=np.float32, sample=None, feeds=None, **options):
    """{"onnxruntime": outputs, "nnex": outputs} of the converted model on X."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto = nnex.convert(model, X[:5] if sample is None else sample, dtype=dtype, **options)
    onnx.checker.check_model(proto, full_check=True)
    if feeds is None:
        feeds = {proto.graph.input[0].name: np.asarray(X).astype(dtype)}
    ort_sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return {"onnxruntime": ort_sess.run(None, feeds), "nnex": nnex.InferenceSession(proto).run(None, feeds)}


def frame_feeds(df, dtype):
    """One (N, 1) feed per DataFrame column: strings for string categories, numbers otherwise."""
    feeds = {}
    for c in df.columns:
        col = df[c]
        if str(col.dtype) == "category":
            cats = col.cat.categories
            col = col.astype(object) if cats.dtype.kind in "OUS" or str(cats.dtype) in ("str", "string") \
                else col.astype(np.float64)
        a = col.to_numpy()
        feeds[c] = (a.astype(object) if a.dtype == object else a.astype(dtype)).reshape(-1, 1)
    return feeds


def _record(name, what, got, exp, dtype):
    path = os.environ.get("NNEX_GBM_DIFFS")
    if not path:
        return
    got, exp = np.asarray(got, np.float64), np.asarray(exp, np.float64)
    diff = np.abs(got - exp)
    finite = np.isfinite(diff)
    rel = diff[finite] / np.maximum(np.abs(exp[finite]), 1e-12)
    with open(path, "a") as fh:
        fh.write(json.dumps({"model": name, "what": what, "dtype": np.dtype(dtype).name,
                             "max_abs": float(diff[finite].max(initial=0)),
                             "max_rel": float(rel.max(initial=0))}) + "\n")


def assert_close(name, what, got, exp, dtype, rtol=None, atol=None):
    rtol = RTOL[np.dtype(dtype).type] if rtol is None else rtol
    atol = ATOL[np.dtype(dtype).type] if atol is None else atol
    got, exp = np.asarray(got), np.asarray(exp)
    assert got.shape == exp.shape, f"{what}: shape {got.shape} != expected {exp.shape}"
    np.testing.assert_allclose(got.astype(np.float64), exp.astype(np.float64), rtol=rtol, atol=atol, err_msg=what)
    _record(name, what, got, exp, dtype)


def check_classifier(name, outs, label, proba, dtype, rtol=None, atol=None):
    for rt, res in outs.items():
        assert len(res) == 2, f"{rt}: expected [label, probabilities], got {len(res)} outputs"
        np.testing.assert_array_equal(res[0], np.asarray(label), err_msg=f"{rt}: labels")
        assert_close(name, f"{rt}: probabilities", res[1], proba, dtype, rtol, atol)


def check_regressor(name, outs, pred, dtype, rtol=None, atol=None):
    for rt, res in outs.items():
        assert len(res) == 1, f"{rt}: expected [prediction], got {len(res)} outputs"
        assert_close(name, f"{rt}: prediction", res[0], pred, dtype, rtol, atol)
