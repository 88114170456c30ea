"""TensorFlow dtypes as NumPy dtypes (what the lowerings and the IR speak)."""

from __future__ import annotations

import numpy as np

from .. import ConversionError


def np_dtype(tf_dtype) -> np.dtype:
    """The NumPy dtype of a ``tf.DType`` (strings as object, bfloat16 through ml_dtypes)."""
    import tensorflow as tf

    dt = tf.as_dtype(tf_dtype)
    if dt == tf.string:
        return np.dtype(object)
    if dt.is_quantized or dt in (tf.resource, tf.variant):
        raise ConversionError(f"TensorFlow dtype {dt.name} has no ONNX tensor equivalent")
    return np.dtype(dt.as_numpy_dtype)
