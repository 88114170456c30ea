"""Keras 3 (and tf_keras) -> ONNX.

    proto = nnex.convert(model, x)            # Sequential, functional or subclassed; x: a sample input

On the TensorFlow backend the model's inference call is traced to a TensorFlow graph and
converted by ``nnex.convert.tensorflow``. On the JAX or PyTorch backends the model is rebuilt
on the TensorFlow backend in a child process (from its config and weights, as
``model.save`` writes them), which needs TensorFlow installed and a model Keras can save and
load (subclassed models registered with ``keras.saving.register_keras_serializable``).
Inputs are named as the model's inputs, outputs as its outputs. See docs/converters_tf.md.
"""

from __future__ import annotations

import onnx

from .. import ConversionError
from .rebuild import convert_in_tf_process
from .trace import backend_of, convert_tf_backend


def convert(model, sample=None, *, dynamic_batch: bool = True, opset: int | None = None, input_names=None,
            output_names=None, optimize: bool = True, verify: bool = False) -> onnx.ModelProto:
    """Convert a Keras model to an ONNX model.

    ``sample``: an example input (an array, or a list/dict of arrays for several inputs); models
    whose inputs are declared (``keras.Input``, ``input_shape``) may omit it. The first dimension
    stays dynamic unless ``dynamic_batch=False``. ``opset``, ``optimize`` and ``verify`` are as
    for ``nnex.convert.tensorflow.convert``.
    """
    options = {"dynamic_batch": dynamic_batch, "opset": opset, "input_names": input_names,
               "output_names": output_names, "optimize": optimize, "verify": verify}
    backend = backend_of(model)
    if backend == "tensorflow":
        return convert_tf_backend(model, sample, **options)
    if backend in ("jax", "torch", "numpy"):
        return convert_in_tf_process(model, sample, **options)
    raise ConversionError(f"Keras backend {backend!r} is not supported")


__all__ = ["ConversionError", "convert"]
