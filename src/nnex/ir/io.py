"""nnex.load / nnex.save: files, bytes and ModelProto; external data read lazily and checked for safety."""

from __future__ import annotations

import os

import onnx

from .model import Model
from .serde import model_from_proto, model_to_proto

TWO_GB = 2**31


def load_proto(source, *, load_external: bool = False) -> tuple[onnx.ModelProto, str | None]:
    """A ModelProto and the folder its external data lives in (None for bytes / protos)."""
    if isinstance(source, onnx.ModelProto):
        return source, None
    if isinstance(source, (bytes, bytearray, memoryview)):
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(bytes(source))
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"the bytes given are not an ONNX model: {e}") from None
        return proto, None
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"expected an .onnx file, got a folder: {path}")
    with open(path, "rb") as f:
        data = f.read()
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{path} is not an ONNX model (protobuf parse failed: {e})") from None
    return proto, os.path.dirname(os.path.abspath(path))


def _iter_tensors(model: Model):
    def from_graph(g):
        # initializers of If/Loop/Scan bodies too, not only the main graph's
        for v in g.initializers.values():
            yield v.const
        for n in g:
            for a in n.attributes.values():
                vals = a.value if isinstance(a.value, list) else [a.value]
                for x in vals:
                    if hasattr(x, "check_external"):
                        yield x
            for sub in n.subgraphs():
                yield from from_graph(sub)

    yield from from_graph(model.graph)
    for f in model.functions.values():
        yield from from_graph(f.body)


def load(source, *, base_dir: str | None = None) -> Model:
    """Load a model from a path, bytes, a ModelProto or a Model.

    External data stays on disk and is memory-mapped when first used; every location is
    checked now, and an unsafe one (absolute, leaving the model's folder, a symlink or a
    hard link) raises ``ExternalDataError`` before any data file is opened.
    """
    if isinstance(source, Model):
        return source
    proto, folder = load_proto(source)
    model = model_from_proto(proto, base_dir or folder)
    for t in _iter_tensors(model):
        t.check_external()
    return model


def save(model, path, *, external_data: bool | None = None, location: str | None = None,
         size_threshold: int = 1024) -> None:
    """Save ``model`` (Model or ModelProto) to ``path``.

    Tensors go to one external file beside the model (``location``, default
    ``<name>.data``) when ``external_data`` is True, or when it is None and the model
    is over 2 GB (protobuf's limit).
    """
    proto = model if isinstance(model, onnx.ModelProto) else model_to_proto(model)
    path = os.fspath(path)
    if external_data is None:
        external_data = proto.ByteSize() >= TWO_GB
    if external_data:
        loc = location or os.path.basename(path) + ".data"
        data_path = os.path.join(os.path.dirname(os.path.abspath(path)), loc)
        if os.path.exists(data_path):
            os.remove(data_path)  # onnx appends to an existing file
        onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True, location=loc,
                        size_threshold=size_threshold)
    else:
        with open(path, "wb") as f:
            f.write(proto.SerializeToString())


def to_proto(model) -> onnx.ModelProto:
    return model if isinstance(model, onnx.ModelProto) else model_to_proto(model)
