"""External data: safe path resolution, lazy memory-mapped reads, and writing.

A model's external data may only name regular files inside the model's folder. These are
refused before anything is opened (the classes of onnx CVE-2022-25882, CVE-2024-27318,
CVE-2026-27489/34446/34447): absolute locations, drive letters or UNC paths, locations
that leave the folder (``../x``, ``a/../../x``), a symlink anywhere on the way (the file
itself or a folder under the model's folder), and hard links (a file with more than one
link may be a second name for a file outside the folder).
"""

from __future__ import annotations

import mmap
import os
import stat

import numpy as np
import onnx
from onnx import numpy_helper


class ExternalDataError(ValueError):
    """External data that cannot be used safely or is inconsistent."""


def _fields(proto: onnx.TensorProto) -> dict[str, str]:
    return {e.key: e.value for e in proto.external_data}


def resolve_external_path(location: str, base_dir: str | None, tensor_name: str = "") -> str:
    """The absolute path of ``location`` under ``base_dir``, or ExternalDataError."""
    what = f"external data of tensor {tensor_name!r}" if tensor_name else "external data"
    if not location:
        raise ExternalDataError(f"{what} has no 'location'")
    if base_dir is None:
        raise ExternalDataError(
            f"{what} is stored in {location!r}, but the model was not loaded from a file, so there is "
            "no folder to read it from; load the model from its path"
        )
    if "\x00" in location:
        raise ExternalDataError(f"{what}: location {location!r} contains a NUL byte")
    norm = location.replace("\\", "/")
    if norm.startswith("/") or os.path.isabs(location) or (len(norm) > 1 and norm[1] == ":"):
        raise ExternalDataError(f"{what}: location {location!r} is absolute; it must be relative to the model's folder")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ExternalDataError(f"{what}: location {location!r} leaves the model's folder")
    base = os.path.realpath(base_dir)
    path = base
    for i, part in enumerate(parts):
        path = os.path.join(path, part)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise ExternalDataError(f"{what}: file {location!r} not found in {base_dir!r}") from None
        if stat.S_ISLNK(st.st_mode):
            raise ExternalDataError(f"{what}: {location!r} goes through a symbolic link ({part!r}); refused")
        last = i == len(parts) - 1
        if last:
            if not stat.S_ISREG(st.st_mode):
                raise ExternalDataError(f"{what}: {location!r} is not a regular file")
            if st.st_nlink > 1:
                raise ExternalDataError(f"{what}: {location!r} is a hard link (link count {st.st_nlink}); refused")
        elif not stat.S_ISDIR(st.st_mode):
            raise ExternalDataError(f"{what}: {location!r}: {part!r} is not a folder")
    if os.path.commonpath([base, os.path.realpath(path)]) != base:
        raise ExternalDataError(f"{what}: location {location!r} leaves the model's folder")
    return path


def _open_nofollow(path: str) -> int:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    return os.open(path, flags)


def read_external(proto: onnx.TensorProto, base_dir: str | None, dtype: np.dtype) -> np.ndarray:
    """The tensor's values, memory-mapped from its file when the layout allows."""
    f = _fields(proto)
    path = resolve_external_path(f.get("location", ""), base_dir, proto.name)
    try:
        offset = int(f.get("offset", 0) or 0)
        length = int(f["length"]) if f.get("length") else None
    except ValueError:
        raise ExternalDataError(f"external data of tensor {proto.name!r}: offset/length are not integers") from None
    if offset < 0 or (length is not None and length < 0):
        raise ExternalDataError(f"external data of tensor {proto.name!r}: negative offset or length")
    fd = _open_nofollow(path)
    try:
        st = os.fstat(fd)
        if st.st_nlink > 1 or not stat.S_ISREG(st.st_mode):
            raise ExternalDataError(f"external data of tensor {proto.name!r}: {path!r} is not a plain file")
        size = st.st_size
        if length is None:
            length = size - offset
        if offset + length > size:
            raise ExternalDataError(
                f"external data of tensor {proto.name!r}: bytes {offset}..{offset + length} are past the end "
                f"of {f.get('location')!r} ({size} bytes)"
            )
        n = int(np.prod(proto.dims, dtype=np.int64))
        plain = dtype != object and dtype.itemsize * n == length and proto.data_type not in _PACKED
        if plain and length > 0:
            mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            arr = np.frombuffer(mm, dtype=dtype.newbyteorder("<"), count=n, offset=offset)
            return arr.reshape(tuple(proto.dims))
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    tmp = onnx.TensorProto()
    tmp.CopyFrom(proto)
    del tmp.external_data[:]
    tmp.data_location = onnx.TensorProto.DEFAULT
    tmp.raw_data = data
    try:
        return numpy_helper.to_array(tmp)
    except Exception as e:  # noqa: BLE001
        raise ExternalDataError(f"external data of tensor {proto.name!r} does not match its type and shape: {e}") from e


_PACKED = {
    getattr(onnx.TensorProto, n)
    for n in ("INT4", "UINT4", "INT2", "UINT2", "FLOAT4E2M1")
    if hasattr(onnx.TensorProto, n)
}
