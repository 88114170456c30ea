"""torch dtypes <-> ONNX element types, and torch tensors -> NumPy arrays (bfloat16, float8 too)."""

from __future__ import annotations

import numpy as np
import onnx
import torch

from .. import ConversionError

TP = onnx.TensorProto

_TO_ONNX = {
    torch.float32: TP.FLOAT,
    torch.float64: TP.DOUBLE,
    torch.float16: TP.FLOAT16,
    torch.bfloat16: TP.BFLOAT16,
    torch.int8: TP.INT8,
    torch.int16: TP.INT16,
    torch.int32: TP.INT32,
    torch.int64: TP.INT64,
    torch.uint8: TP.UINT8,
    torch.uint16: TP.UINT16,
    torch.uint32: TP.UINT32,
    torch.uint64: TP.UINT64,
    torch.bool: TP.BOOL,
    torch.complex64: TP.COMPLEX64,
    torch.complex128: TP.COMPLEX128,
    torch.float8_e4m3fn: TP.FLOAT8E4M3FN,
    torch.float8_e4m3fnuz: TP.FLOAT8E4M3FNUZ,
    torch.float8_e5m2: TP.FLOAT8E5M2,
    torch.float8_e5m2fnuz: TP.FLOAT8E5M2FNUZ,
}
_FROM_ONNX = {v: k for k, v in _TO_ONNX.items()}


def onnx_type(dtype: torch.dtype) -> int:
    """The ONNX element type of a torch dtype."""
    try:
        return _TO_ONNX[dtype]
    except KeyError:
        raise ConversionError(f"torch dtype {dtype} has no ONNX equivalent") from None


def torch_dtype(elem_type: int) -> torch.dtype:
    return _FROM_ONNX[elem_type]


def np_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(onnx_type(dtype)))


def is_float(dtype: torch.dtype) -> bool:
    return dtype.is_floating_point


def is_int(dtype: torch.dtype) -> bool:
    return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """``t`` as a NumPy array; dtypes NumPy lacks come back as their ml_dtypes equivalents."""
    t = t.detach().cpu()
    if t.dtype in (torch.bfloat16, torch.float8_e4m3fn, torch.float8_e4m3fnuz, torch.float8_e5m2,
                   torch.float8_e5m2fnuz):
        bits = torch.int16 if t.dtype == torch.bfloat16 else torch.uint8
        raw = t.contiguous().view(bits).numpy()
        return raw.view(np_dtype(t.dtype))
    if t.dtype in (torch.uint16, torch.uint32, torch.uint64):
        signed = {torch.uint16: torch.int16, torch.uint32: torch.int32, torch.uint64: torch.int64}[t.dtype]
        return t.contiguous().view(signed).numpy().view(np_dtype(t.dtype))
    return t.contiguous().numpy()  # shares memory: the proto built from it copies once


def from_numpy(a: np.ndarray) -> torch.Tensor:
    """A torch tensor from an array that may carry an ml_dtypes dtype."""
    a = np.asarray(a)
    name = a.dtype.name
    if name == "bfloat16":
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
    if name.startswith("float8"):
        tdt = {"float8_e4m3fn": torch.float8_e4m3fn, "float8_e4m3fnuz": torch.float8_e4m3fnuz,
               "float8_e5m2": torch.float8_e5m2, "float8_e5m2fnuz": torch.float8_e5m2fnuz}[name]
        return torch.from_numpy(a.view(np.uint8).copy()).view(tdt)
    return torch.from_numpy(np.ascontiguousarray(a))
