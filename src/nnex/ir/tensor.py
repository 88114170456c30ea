"""Tensor: a constant value (initializer, attribute) whose data may stay on disk until used."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .external_data import ExternalDataError, read_external, resolve_external_path


def np_dtype_of(data_type: int) -> np.dtype:
    """NumPy dtype of an ONNX element type (ml_dtypes for bfloat16, float8, int4, ...)."""
    if data_type == onnx.TensorProto.STRING:
        return np.dtype(object)
    return np.dtype(helper.tensor_dtype_to_np_dtype(data_type))


def onnx_dtype_of(dtype: np.dtype) -> int:
    """ONNX element type of a NumPy dtype."""
    dtype = np.dtype(dtype)
    if dtype == object or dtype.kind in "US":
        return onnx.TensorProto.STRING
    return helper.np_dtype_to_tensor_dtype(dtype)


class Tensor:
    """A named constant.

    Made from a NumPy array, or from a ``TensorProto`` (kept as read, so that saving an
    untouched model writes the same bytes). External data is resolved against the
    model's folder only when the values are first needed, through a memory map.
    """

    __slots__ = ("name", "data_type", "dims", "doc_string", "_array", "_proto", "_base_dir")

    def __init__(self, array=None, name: str = "", *, doc_string: str = ""):
        self.name = name
        self.doc_string = doc_string
        self._proto: onnx.TensorProto | None = None
        self._base_dir: str | None = None
        self._array = None
        if array is not None:
            arr = np.asarray(array)
            if arr.dtype.kind in "US":
                arr = arr.astype(object)
            self._array = arr
            self.data_type = onnx_dtype_of(arr.dtype)
            self.dims = tuple(int(d) for d in arr.shape)

    @classmethod
    def from_proto(cls, proto: onnx.TensorProto, base_dir: str | None = None) -> "Tensor":
        t = cls.__new__(cls)
        t.name = proto.name
        t.doc_string = proto.doc_string
        t.data_type = proto.data_type
        t.dims = tuple(proto.dims)
        t._proto = proto
        t._array = None
        t._base_dir = base_dir
        return t

    @property
    def is_external(self) -> bool:
        p = self._proto
        return p is not None and p.data_location == onnx.TensorProto.EXTERNAL

    @property
    def dtype(self) -> np.dtype:
        return np_dtype_of(self.data_type)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.dims

    @property
    def size(self) -> int:
        return int(np.prod(self.dims, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        if self.data_type == onnx.TensorProto.STRING:
            return sum(len(s) for s in self.numpy().ravel())
        return self.size * self.dtype.itemsize

    def numpy(self) -> np.ndarray:
        """The values (read, and memory-mapped for external data, on first use)."""
        if self._array is None:
            p = self._proto
            if self.is_external:
                self._array = read_external(p, self._base_dir, np_dtype_of(p.data_type))
            else:
                self._array = numpy_helper.to_array(p)
        return self._array

    def external_location(self) -> str | None:
        if not self.is_external:
            return None
        for e in self._proto.external_data:
            if e.key == "location":
                return e.value
        return None

    def check_external(self) -> None:
        """Refuse unsafe external data now rather than at first read."""
        if self.is_external:
            resolve_external_path(self.external_location() or "", self._base_dir, self.name)

    def to_proto(self) -> onnx.TensorProto:
        """The proto as read when untouched; external data is read and inlined (save() re-externalizes)."""
        if self._proto is not None and not self.is_external:
            return self._proto
        arr = self.numpy()
        if arr.dtype == object:
            p = helper.make_tensor(self.name, onnx.TensorProto.STRING, arr.shape,
                                   [s.encode() if isinstance(s, str) else s for s in arr.ravel()])
        else:
            p = numpy_helper.from_array(arr, self.name)
        if self.doc_string:
            p.doc_string = self.doc_string
        return p

    def __repr__(self) -> str:
        dt = onnx.TensorProto.DataType.Name(self.data_type)
        return f"Tensor({self.name!r}, {dt}, {list(self.dims)})"


__all__ = ["ExternalDataError", "Tensor", "np_dtype_of", "onnx_dtype_of"]
