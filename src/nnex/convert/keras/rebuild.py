"""Keras on the JAX or PyTorch backend: rebuild the model on TensorFlow in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

from .. import ConversionError

_CHILD = r"""
import os, sys, json, pickle
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import nnex
from nnex.convert.keras import convert
folder = sys.argv[1]
with open(os.path.join(folder, "args.pkl"), "rb") as f:
    args = pickle.load(f)
for mod in args.pop("modules"):
    try:
        __import__(mod)
    except Exception:
        pass
model = keras.saving.load_model(os.path.join(folder, "model.keras"), compile=False)
proto = convert(model, args.pop("sample"), **args)
with open(os.path.join(folder, "model.onnx"), "wb") as f:
    f.write(proto.SerializeToString())
"""


def convert_in_tf_process(model, sample, **options) -> onnx.ModelProto:
    import pickle

    import keras

    try:
        import importlib.util

        if importlib.util.find_spec("tensorflow") is None:
            raise ImportError
    except ImportError:
        raise ConversionError(f"converting a Keras model on the {keras.backend.backend()} backend needs "
                              "TensorFlow installed (the model is rebuilt on the TensorFlow backend)") from None
    with tempfile.TemporaryDirectory() as folder:
        try:
            model.save(os.path.join(folder, "model.keras"))
        except Exception as e:
            raise ConversionError(f"the model cannot be saved, so it cannot be rebuilt on TensorFlow: "
                                  f"{type(e).__name__}: {e}") from e
        if sample is not None:
            sample = _to_numpy(sample)
        modules = sorted({type(layer).__module__ for layer in model._flatten_layers()} | {type(model).__module__})
        modules = [m for m in modules if not m.startswith("keras")]
        with open(os.path.join(folder, "args.pkl"), "wb") as f:
            pickle.dump({"sample": sample, "modules": modules, **options}, f)
        env = dict(os.environ, KERAS_BACKEND="tensorflow")
        env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p])
        run = subprocess.run([sys.executable, "-c", _CHILD, folder], env=env, capture_output=True, text=True,
                             check=False)
        if run.returncode != 0:
            tail = "\n".join(run.stderr.strip().splitlines()[-15:])
            raise ConversionError(f"rebuilding the Keras model on TensorFlow failed:\n{tail}")
        return onnx.load(os.path.join(folder, "model.onnx"))


def _to_numpy(x):
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_numpy(v) for v in x)
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
