"""DictVectorizer, and the input a sample of dicts gives.

A list of dicts is no tensor: ONNX's only type for a dict is a map, and ONNX's sequence
operators (SequenceAt, SequenceMap, SequenceLength, ...) take sequences of tensors only,
so a sequence of maps cannot be iterated and onnxruntime refuses such a model. The input
is therefore one ``map(string, float)`` (``map(int64, float)`` for integer keys) per run,
as ai.onnx.ml DictVectorizer reads it, and the output one row (1, n_features);
docs/converters.md states the contract. The values are float even in a double model
(``dtype=numpy.float64`` casts the row): onnxruntime's Python API builds every dict it is
fed as a map to float, and refuses it for a map to double.

scikit-learn turns a string value ``{"f": "v"}`` into the feature ``"f=v"`` set to 1; a
map holds numbers only, so such features are fed as ``{"f=v": 1.0}``.
"""

from __future__ import annotations

import numbers

import numpy as np
import onnx
from onnx import helper

from .. import ConversionError
from ._context import FLOAT, MAP, Ctx, Data, Table
from ._registry import transformer, unsupported


def is_dict_sample(sample) -> bool:
    """A dict, or a non-empty list / tuple of dicts."""
    if isinstance(sample, dict):
        return True
    return isinstance(sample, (list, tuple)) and len(sample) > 0 and all(isinstance(s, dict) for s in sample)


def map_input(ctx: Ctx, sample) -> Data:
    """Input ``X``: one map from the sample's key type (string or int64) to float."""
    rows = [sample] if isinstance(sample, dict) else list(sample)
    keys = [k for row in rows for k in row]
    if all(isinstance(k, str) for k in keys):
        key_type = onnx.TensorProto.STRING
    elif all(isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in keys):
        key_type = onnx.TensorProto.INT64
    else:
        raise ConversionError("a sample of dicts must have keys that are all strings or all integers (an ONNX "
                              "map has one key type)")
    for row in rows:
        for k, v in row.items():
            if not isinstance(v, (numbers.Number, np.number)) or isinstance(v, complex):
                raise ConversionError(
                    f"the sample's dicts hold {type(v).__name__} value {v!r} (key {k!r}): an ONNX map input "
                    f"holds numbers; feed DictVectorizer's one-hot features as {{'{k}=<value>': 1.0}} and pass "
                    f"a sample in that form")
    x = ctx.b.input("X", onnx.TensorProto.FLOAT)
    x.type = helper.make_map_type_proto(key_type, helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, None))
    return Data(x, MAP, None, 1)


@transformer("DictVectorizer")
def _dict_vectorizer(ctx, est, x):
    if isinstance(x, Table) or x.kind != MAP:
        raise unsupported(est, "transform of an input other than dicts (pass a list of dicts as the sample: the "
                               "ONNX input is then one map a run)")
    names = list(est.feature_names_)
    if not names:
        raise unsupported(est, "an empty vocabulary")
    key_type = x.v.type.map_type.key_type
    if key_type == onnx.TensorProto.STRING:
        if not all(isinstance(n, str) for n in names):
            raise unsupported(est, f"a vocabulary with non-string features {names[:5]} for a sample with string "
                                   f"keys")
        vocab = {"string_vocabulary": names}
    else:
        if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in names):
            raise unsupported(est, f"a vocabulary with non-integer features {names[:5]} for a sample with integer "
                                   f"keys")
        vocab = {"int64_vocabulary": [int(n) for n in names]}
    y = ctx.ml.DictVectorizer(x.v, **vocab)
    # the operator's output is one row ((1, C) in onnxruntime; the spec says 1-D): make it (1, C)
    y = ctx.op.Reshape(y, ctx.i64([-1, len(names)]))
    return Data(y if ctx.dtype == np.float32 else ctx.op.Cast(y, to=ctx.elem), FLOAT, len(names))
