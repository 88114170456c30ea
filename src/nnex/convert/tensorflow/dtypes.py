"""TensorFlow dtypes as NumPy dtypes and ONNX element types."""

from __future__ import annotations

import numpy as np
import onnx

from ...ir.tensor import onnx_dtype_of
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


def onnx_type(tf_or_np_dtype) -> int:
    """ONNX element type of a TensorFlow or NumPy dtype."""
    if isinstance(tf_or_np_dtype, np.dtype) or tf_or_np_dtype in (np.float32, np.int64, np.int32, np.bool_):
        return onnx_dtype_of(np.dtype(tf_or_np_dtype))
    return onnx_dtype_of(np_dtype(tf_or_np_dtype))


FLOAT_TYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
INT64 = np.dtype(np.int64)
BOOL = onnx.TensorProto.BOOL
