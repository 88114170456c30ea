"""Helpers over onnx.TypeProto: element types, shapes, and onnxruntime-style type strings."""

from __future__ import annotations

import onnx
from onnx import helper

_ORT_TYPE_NAMES = {
    onnx.TensorProto.FLOAT: "float",
    onnx.TensorProto.DOUBLE: "double",
    onnx.TensorProto.STRING: "string",
    onnx.TensorProto.BOOL: "bool",
}


def elem_type_name(elem_type: int) -> str:
    """onnxruntime's element type name: float, double, int64, float16, bfloat16, ..."""
    if elem_type in _ORT_TYPE_NAMES:
        return _ORT_TYPE_NAMES[elem_type]
    return onnx.TensorProto.DataType.Name(elem_type).lower()


def elem_type_of(tp: onnx.TypeProto | None) -> int | None:
    if tp is None:
        return None
    kind = tp.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        return getattr(tp, kind).elem_type or None
    return None


def shape_of(tp: onnx.TypeProto | None) -> list | None:
    if tp is None:
        return None
    kind = tp.WhichOneof("value")
    if kind not in ("tensor_type", "sparse_tensor_type"):
        return None
    tt = getattr(tp, kind)
    if not tt.HasField("shape"):
        return None
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(d.dim_value)
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


def type_string(tp: onnx.TypeProto | None) -> str:
    """The type as onnxruntime prints it: tensor(float), seq(tensor(int64)), map(string,tensor(float))."""
    if tp is None:
        return "unknown"
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({elem_type_name(tp.tensor_type.elem_type)})"
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({elem_type_name(tp.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({type_string(tp.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({type_string(tp.optional_type.elem_type)})"
    if kind == "map_type":
        return f"map({elem_type_name(tp.map_type.key_type)},{type_string(tp.map_type.value_type)})"
    return "unknown"


def describe_type(tp: onnx.TypeProto | None) -> str:
    s = type_string(tp)
    shape = shape_of(tp)
    if shape is not None:
        s += "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"
    return s


def tensor_type(elem_type: int, shape=None) -> onnx.TypeProto:
    return helper.make_tensor_type_proto(elem_type, shape)
