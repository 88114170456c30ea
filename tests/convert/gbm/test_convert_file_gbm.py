"""nnex.tools.convert_file: saved model files -> ONNX files, checked against the framework."""

import numpy as np
import onnx
import pytest
from gbm_check import assert_close, data

ort = pytest.importorskip("onnxruntime")

from nnex.convert import ConversionError
from nnex.tools.convert_file import convert_file


def _run(out, X):
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: X.astype(np.float32)})


def test_lightgbm_text_file_and_npy_sample(tmp_path):
    lgb = pytest.importorskip("lightgbm")
    X, y = data()
    m = lgb.LGBMRegressor(n_estimators=5, verbose=-1, n_jobs=1).fit(X, y)
    m.booster_.save_model(tmp_path / "model.txt")
    np.save(tmp_path / "x.npy", X[:5])
    convert_file(tmp_path / "model.txt", tmp_path / "m.onnx", tmp_path / "x.npy")
    assert_close("file_lgb", "prediction", _run(tmp_path / "m.onnx", X)[0], m.predict(X), np.float32)


def test_xgboost_json_and_ubj(tmp_path):
    xgb = pytest.importorskip("xgboost")
    X, y = data()
    m = xgb.XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1).fit(X, y > 0)
    for name in ("model.json", "model.ubj"):
        m.save_model(tmp_path / name)
        convert_file(tmp_path / name, tmp_path / "m.onnx")  # no sample: one row of zeros
        label, proba = _run(tmp_path / "m.onnx", X)
        np.testing.assert_array_equal(label, m.predict(X))
        assert_close("file_xgb", "probabilities", proba, m.predict_proba(X), np.float32)


def test_catboost_cbm_and_csv_sample(tmp_path):
    cb = pytest.importorskip("catboost")
    X, y = data()
    m = cb.CatBoostClassifier(iterations=5, depth=3, verbose=0, thread_count=1).fit(X, np.where(y > 0, "a", "b"))
    m.save_model(str(tmp_path / "model.cbm"))
    np.savetxt(tmp_path / "x.csv", X[:3], delimiter=",")
    convert_file(tmp_path / "model.cbm", tmp_path / "m.onnx", tmp_path / "x.csv")
    label, proba = _run(tmp_path / "m.onnx", X)
    np.testing.assert_array_equal(label, m.predict(X))
    assert_close("file_cb", "probabilities", proba, m.predict_proba(X), np.float32)


def test_libsvm_model_file(tmp_path):
    svmutil = pytest.importorskip("libsvm.svmutil")
    X, y = data(n=100, f=3)
    m = svmutil.svm_train(y, X, "-s 3 -t 2 -q")
    svmutil.svm_save_model(str(tmp_path / "svr.model"), m)
    convert_file(tmp_path / "svr.model", tmp_path / "m.onnx", dtype=np.float64)
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    saved = svmutil.svm_load_model(str(tmp_path / "svr.model"))  # the file keeps 8 significant digits
    expected, _, _ = svmutil.svm_predict(np.zeros(len(X)), X, saved, "-q")
    assert_close("file_svm", "prediction", sess.run(None, {"X": X})[0], expected, np.float64)


def test_pickle_warns_and_unknown_files_are_refused(tmp_path):
    lgb = pytest.importorskip("lightgbm")
    joblib = pytest.importorskip("joblib")
    X, y = data(n=60)
    m = lgb.LGBMRegressor(n_estimators=2, verbose=-1, n_jobs=1).fit(X, y)
    joblib.dump(m, tmp_path / "m.joblib")
    with pytest.warns(UserWarning, match="runs code"):
        convert_file(tmp_path / "m.joblib", tmp_path / "m.onnx")
    assert_close("file_pickle", "prediction", _run(tmp_path / "m.onnx", X)[0], m.predict(X), np.float32)
    (tmp_path / "x.bin").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ConversionError, match="unknown model format"):
        convert_file(tmp_path / "x.bin", tmp_path / "o.onnx")


def test_catboost_cbm_without_sample(tmp_path):
    """A CatBoost model loaded from a file says n_features_in_ == 0: the zeros sample is as
    wide as its feature names."""
    cb = pytest.importorskip("catboost")
    X, y = data()
    m = cb.CatBoostRegressor(iterations=5, depth=3, verbose=0, thread_count=1).fit(X, y)
    m.save_model(str(tmp_path / "model.cbm"))
    proto = convert_file(tmp_path / "model.cbm", tmp_path / "m.onnx")
    assert proto.graph.input[0].type.tensor_type.shape.dim[1].dim_value == X.shape[1]
    assert_close("file_cb_nosample", "prediction", _run(tmp_path / "m.onnx", X)[0], m.predict(X), np.float32)
