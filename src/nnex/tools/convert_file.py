"""Convert a saved classic-ML model file to an ONNX file (the ``nnex convert`` command)."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import onnx

from ..convert import ConversionError, convert

_PICKLES = (".pkl", ".pickle", ".joblib")


def convert_file(path, out_path, sample_path=None, **options) -> onnx.ModelProto:
    """Load a saved model, convert it with ``nnex.convert`` and save the ONNX model.

    ``path`` is recognised by its extension and, for text and JSON files, its content:

    * ``.pkl`` / ``.pickle`` / ``.joblib``: any convertible object (scikit-learn, LightGBM,
      XGBoost, CatBoost wrappers, ...), loaded with joblib (or pickle). Unpickling runs
      code from the file: a warning says so; load only files you trust;
    * a LightGBM model file (text, ``Booster.save_model``; usually ``.txt``);
    * an XGBoost model (``.json`` or ``.ubj``, ``Booster.save_model``);
    * a CatBoost model (``.cbm``, or CatBoost's ``.json`` export);
    * a LibSVM model file (text starting with ``svm_type``, ``svm_save_model``).

    ``sample_path`` gives the sample the converter reads the inputs from (names, types,
    width): ``.npy`` (a 2-D array) or ``.csv`` (a header row gives a DataFrame with one
    input per column, text columns becoming categories; no header gives an array). Without
    it the sample is one row of zeros as wide as the model's features (CatBoost models with
    categorical features need a sample holding every category value).

    ``options`` go to ``nnex.convert`` (``dtype``, ``zipmap``, ``name``, ...). Returns the
    ``onnx.ModelProto``, also written to ``out_path``. Raises ``nnex.ConversionError`` for a
    file it cannot recognise or a model it cannot convert.
    """
    path = os.fspath(path)
    model = load_model(path)
    sample = read_sample(os.fspath(sample_path)) if sample_path is not None else _zeros_sample(model)
    proto = convert(model, sample, **options)
    onnx.save_model(proto, os.fspath(out_path))
    return proto


def load_model(path: str):
    """The model object saved in ``path`` (see ``convert_file`` for the formats)."""
    if not os.path.isfile(path):
        raise ConversionError(f"no model file at {path!r}")
    ext = os.path.splitext(path)[1].lower()
    if ext in _PICKLES:
        warnings.warn(f"loading {path!r} unpickles it, which runs code stored in the file: load only files you "
                      f"trust", UserWarning, stacklevel=3)
        try:
            import joblib
        except ImportError:
            import pickle

            with open(path, "rb") as fh:
                return pickle.load(fh)
        return joblib.load(path)
    if ext == ".cbm":
        return _catboost(path, "cbm")
    if ext == ".ubj":
        return _xgboost(path)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if ext == ".json" or head.lstrip().startswith(b"{"):
        doc = _json_head(path)
        if "learner" in doc:
            return _xgboost(path)
        if "oblivious_trees" in doc:
            return _catboost(path, "json")
        raise ConversionError(f"{path!r}: a JSON file that is neither an XGBoost nor a CatBoost model")
    first = head.split(b"\n", 1)[0].strip()
    if first == b"tree" or head.startswith(b"tree\n"):
        import lightgbm

        return lightgbm.Booster(model_file=path)
    if first.startswith(b"svm_type"):
        from libsvm import svmutil

        model = svmutil.svm_load_model(path)
        if not model:
            raise ConversionError(f"{path!r}: libsvm could not load the model")
        return model
    raise ConversionError(f"{path!r}: unknown model format (expected a pickle/joblib file, a LightGBM .txt, an "
                          f"XGBoost .json/.ubj, a CatBoost .cbm or a LibSVM model file)")


def _json_head(path: str) -> dict:
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConversionError(f"{path!r}: not valid JSON ({e})") from None
    return doc if isinstance(doc, dict) else {}


def _xgboost(path: str):
    import xgboost

    return xgboost.Booster(model_file=path)


def _catboost(path: str, fmt: str):
    import catboost

    model = catboost.CatBoost()
    model.load_model(path, format=fmt)
    loss = (model.get_all_params() or {}).get("loss_function", "")
    if loss in ("Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll"):
        # the classifier class knows the class names stored in the model
        model = catboost.CatBoostClassifier()
        model.load_model(path, format=fmt)
    return model


def read_sample(path: str):
    """A sample from ``.npy`` (array) or ``.csv`` (DataFrame with a header row, else array)."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        return np.load(path, allow_pickle=False)
    if ext == ".csv":
        with open(path) as fh:
            first = fh.readline()
        if _is_numeric_row(first):
            return np.loadtxt(path, delimiter=",", ndmin=2)
        import pandas as pd

        df = pd.read_csv(path)
        for col in df.columns:
            if df[col].dtype == object:
                df[col] = df[col].astype("category")
        return df
    raise ConversionError(f"{path!r}: the sample must be a .npy or .csv file")


def _is_numeric_row(line: str) -> bool:
    try:
        [float(v) for v in line.strip().split(",")]
        return True
    except ValueError:
        return False


def _zeros_sample(model):
    n = _n_features(model)
    return None if n is None else np.zeros((1, n))


def _n_features(model) -> int | None:
    for getter in ("num_feature", "num_features"):  # LightGBM, XGBoost Boosters
        fn = getattr(model, getter, None)
        if callable(fn):
            return int(fn())
    for attr in ("n_features_in_", "n_features_"):
        n = getattr(model, attr, None)
        if isinstance(n, (int, np.integer)) and n > 0:  # a CatBoost model loaded from a file says 0
            return int(n)
    names = getattr(model, "feature_names_", None)  # CatBoost
    if names:
        return len(names)
    return None  # the converter decides (libsvm: from the support vectors)


__all__ = ["convert_file", "load_model", "read_sample"]
