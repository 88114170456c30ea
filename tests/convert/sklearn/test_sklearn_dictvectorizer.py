"""DictVectorizer -> ONNX: a sample of dicts gives one map input ``X`` a run (ai.onnx.ml
DictVectorizer), checked row by row against scikit-learn's transform in onnxruntime and nnex."""

import numpy as np
import onnx
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")

from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nnex
from nnex.convert import ConversionError

BOTH = [np.float32, np.float64]


def _rows(n=40, seed=0, keys=("price", "weight", "n rooms", "äöü", "x=1")):
    """Dicts with a varying subset of keys; values exact in float32 (the map input is float)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        chosen = [k for k in keys if rng.random() < 0.6]
        rows.append({k: float(np.float32(rng.normal() * 10)) for k in chosen})
    return rows


def _sessions(proto):
    onnx.checker.check_model(proto, full_check=True)
    return {"onnxruntime": ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]),
            "nnex": nnex.InferenceSession(proto)}


def _check_rows(model, rows, fit_rows, dtype, expected_fn, sample=None):
    proto = nnex.convert(model, fit_rows[:5] if sample is None else sample, dtype=dtype)
    (inp,) = proto.graph.input
    assert inp.type.WhichOneof("value") == "map_type"
    for rt, sess in _sessions(proto).items():
        for row in rows:
            outs = sess.run(None, {"X": row})
            for got, exp in zip(outs, expected_fn([row])):
                exp = np.asarray(exp)
                if exp.dtype.kind in "fc":
                    np.testing.assert_allclose(got, exp, rtol=1e-5 if dtype == np.float32 else 1e-9, atol=1e-6,
                                               err_msg=f"{rt}: {row}")
                else:
                    np.testing.assert_array_equal(got, exp, err_msg=f"{rt}: {row}")


def _dense(model):
    def transform(rows):
        out = model.transform(rows)
        return [out.toarray() if hasattr(out, "toarray") else out]
    return transform


@pytest.mark.parametrize("dtype", BOTH)
@pytest.mark.parametrize("params", [{}, {"sparse": False}, {"sort": False}, {"dtype": np.float32}])
def test_string_keys(dtype, params):
    fit_rows = _rows()
    model = DictVectorizer(**params).fit(fit_rows)
    probe = _rows(15, seed=1) + [{"unknown": 3.0, "price": 2.0}, {"weight": 7}, {"price": True, "x=1": -0.5}]
    _check_rows(model, probe, fit_rows, dtype, _dense(model))


@pytest.mark.parametrize("dtype", BOTH)
def test_integer_keys(dtype):
    rng = np.random.default_rng(2)
    fit_rows = [{int(k): float(np.float32(rng.normal())) for k in rng.choice([3, 17, 40, 99], 2, replace=False)}
                for _ in range(30)]
    model = DictVectorizer(sparse=False).fit(fit_rows)
    probe = fit_rows[:10] + [{17: 1.5, 1000: 2.0}, {3: 4}]
    proto = nnex.convert(model, fit_rows[:5], dtype=dtype)
    assert proto.graph.input[0].type.map_type.key_type == onnx.TensorProto.INT64
    _check_rows(model, probe, fit_rows, dtype, _dense(model))


@pytest.mark.parametrize("dtype", BOTH)
def test_string_values_fed_as_one_hot_features(dtype):
    """scikit-learn makes {"colour": "red"} the feature "colour=red" = 1; the map input takes
    it as {"colour=red": 1.0}."""
    raw = [{"colour": "red", "size": 2.0}, {"colour": "blue", "size": 1.0}, {"colour": "green"}, {"size": 4.0}]
    model = DictVectorizer(sparse=False).fit(raw)

    def as_map(row):
        return {(f"{k}={v}" if isinstance(v, str) else k): (1.0 if isinstance(v, str) else v) for k, v in row.items()}

    proto = nnex.convert(model, [as_map(r) for r in raw], dtype=dtype)
    for rt, sess in _sessions(proto).items():
        for row in raw + [{"colour": "violet", "size": 3.0}]:
            np.testing.assert_allclose(sess.run(None, {"X": as_map(row)})[0], model.transform([row]),
                                       err_msg=f"{rt}: {row}")


@pytest.mark.parametrize("dtype", BOTH)
def test_pipelines(dtype):
    fit_rows = _rows(80, seed=3)
    X = DictVectorizer(sparse=False).fit_transform(fit_rows)
    y = (X @ np.arange(X.shape[1]) > 0).astype(int)
    clf = make_pipeline(DictVectorizer(), StandardScaler(with_mean=False), LogisticRegression()).fit(fit_rows, y)
    _check_rows(clf, fit_rows[:20], fit_rows, dtype, lambda rows: [clf.predict(rows), clf.predict_proba(rows)])
    reg = make_pipeline(DictVectorizer(), Ridge()).fit(fit_rows, X @ np.linspace(-1, 1, X.shape[1]))
    _check_rows(reg, fit_rows[:20], fit_rows, dtype, lambda rows: [reg.predict(rows)])


def test_single_dict_sample():
    fit_rows = _rows()
    model = DictVectorizer().fit(fit_rows)
    _check_rows(model, fit_rows[:5], fit_rows, np.float32, _dense(model), sample=fit_rows[0])


def test_python_ints_are_fed_as_floats_in_nnex():
    model = DictVectorizer().fit([{"a": 1.0, "b": 2.0}])
    for dtype in BOTH:
        out = nnex.InferenceSession(nnex.convert(model, [{"a": 1.0}], dtype=dtype)).run(None, {"X": {"a": 3, "b": 1}})
        assert out[0].dtype == dtype
        np.testing.assert_array_equal(out[0], [[3.0, 1.0]])


def test_refusals():
    model = DictVectorizer().fit([{"a": 1.0, "colour": "red"}])
    with pytest.raises(ConversionError, match="str value 'red'.*colour=<value>"):
        nnex.convert(model, [{"a": 1.0, "colour": "red"}])
    with pytest.raises(ConversionError, match="DictVectorizer.*dicts"):
        nnex.convert(model, np.zeros((1, 2)))
    with pytest.raises(ConversionError, match="keys that are all strings or all integers"):
        nnex.convert(model, [{"a": 1.0, 3: 2.0}])
    with pytest.raises(ConversionError, match="non-integer features"):
        nnex.convert(model, [{1: 1.0}])
    with pytest.raises(ConversionError, match="only DictVectorizer reads dicts"):
        nnex.convert(StandardScaler().fit([[1.0], [2.0]]), [{"a": 1.0}])
