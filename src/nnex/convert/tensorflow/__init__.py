"""TensorFlow -> ONNX: nnex's own lowering of TensorFlow graphs.

    proto = nnex.convert(tf_function, x)                  # a tf.function and a sample input
    proto = nnex.convert(concrete_function)               # a ConcreteFunction (its signature is the inputs)
    proto = nnex.convert(tf.saved_model.load(path))       # a loaded SavedModel (serving_default)
    proto = nnex.convert.tensorflow.convert(path)         # a SavedModel folder

The function is traced to a ConcreteFunction, its variables are frozen into constants, and
each op of its graph is lowered to ONNX by the table in ``ops/`` (functional While/If become
ONNX Loop/If, function calls are inlined). NHWC convolutions come out as NCHW ONNX ops whose
layout transposes are then sunk and cancelled (``layout.py``). See docs/converters_tf.md.
"""

from __future__ import annotations

import json

import onnx

from ...ir import GraphBuilder, model_to_proto
from .. import ConversionError
from . import capture
from .context import Ctx, TensorList
from .dtypes import np_dtype
from .registry import lowered_ops
from .translate import lower_graph
from .verify import Verification, verify_model

DEFAULT_OPSET = 21
MIN_OPSET = 18


def convert(obj, sample=None, *, input_signature=None, dynamic_batch: bool = True, opset: int | None = None,
            input_names=None, output_names=None, optimize: bool = True, verify: bool = False,
            graph_name: str | None = None) -> onnx.ModelProto:
    """Convert a TensorFlow function (or SavedModel) to an ONNX model.

    ``sample``: example input(s) (arrays or tensors; a tuple/list for several arguments, a dict for
    keyword arguments) giving the inputs' dtypes and shapes; the first dimension stays dynamic
    unless ``dynamic_batch=False``. ``input_signature`` (TensorSpecs) may be given instead.
    ``opset``: the ai.onnx opset (default 21; 18 or newer). ``optimize``: fold constants and
    cancel layout transposes (default True). With ``verify=True`` the model is run in nnex and
    onnxruntime on ``sample`` and compared with TensorFlow; the largest difference per output is
    printed and stored as the ``nnex.verification`` metadata entry.
    """
    import tensorflow as tf

    opset = DEFAULT_OPSET if opset is None else int(opset)
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ConversionError(f"opset {opset} is not supported: the TensorFlow converter targets opsets "
                              f"{MIN_OPSET} to {onnx.defs.onnx_opset_version()}")
    obj = capture.load(obj)
    cf = capture.concrete_function(obj, sample, input_signature, dynamic_batch)
    args = capture.arguments(cf)
    in_names = list(input_names) if input_names else capture.input_names(cf, args)
    out_names = list(output_names) if output_names else capture.output_names(cf)
    proto = lower_function(cf, in_names, out_names, opset=opset, optimize=optimize,
                           graph_name=graph_name or _graph_name(obj, cf))
    proto.doc_string = f"converted from TensorFlow {tf.__version__} by nnex"
    if verify:
        if sample is None:
            raise ConversionError("verify=True needs the sample input")
        report = verify_model(proto, cf, sample)
        print(report)
        entry = proto.metadata_props.add()
        entry.key = "nnex.verification"
        entry.value = json.dumps(report.to_dict())
    return proto


def lower_function(cf, in_names, out_names, *, opset: int = DEFAULT_OPSET, optimize: bool = True,
                   graph_name: str = "main") -> onnx.ModelProto:
    """An ONNX model for a ConcreteFunction (what ``convert`` does after tracing): the variables it
    captures become initializers holding their current values."""
    graph, inputs, outputs = capture.frozen_graph(cf)
    if len(in_names) != len(inputs):
        raise ConversionError(f"{len(in_names)} input names for {len(inputs)} inputs")
    if len(out_names) != len(outputs):
        raise ConversionError(f"{len(out_names)} output names for {len(outputs)} outputs")
    functions = {f.signature.name: f for f in graph.as_graph_def().library.function}
    b = GraphBuilder(opset, graph_name)
    ctx = Ctx(b, opset, functions)
    values = []
    for name, t in zip(in_names, inputs):
        dt = np_dtype(t.dtype)
        dims = None if t.shape.rank is None else [
            d if d is not None else ("batch" if i == 0 else f"{name}_dim{i}") for i, d in enumerate(t.shape.as_list())]
        v = b.input(name, dt, dims)
        ctx.record(v, dt, None if dims is None else [d if isinstance(d, int) else None for d in dims])
        values.append(v)
    outs = lower_graph(ctx, inputs, values, outputs)
    for name, t, v in zip(out_names, outputs, outs):
        if isinstance(v, TensorList):
            raise ConversionError(f"output {name!r} is a TensorList; stack it (TensorArray.stack()) to return it")
        dims = None if t.shape.rank is None else t.shape.as_list()
        ctx.record(v, np_dtype(t.dtype), dims if dims is not None else ctx.shape(v))
        ctx.output(b, v, name)
    model = b.build(infer_types=False)
    if optimize:
        from .postprocess import clean_up

        clean_up(model)
    model.producer_name = "nnex"
    return model_to_proto(model)


def _graph_name(obj, cf) -> str:
    name = getattr(obj, "name", None) or getattr(getattr(obj, "python_function", None), "__name__", None)
    if not isinstance(name, str) or not name:
        name = getattr(cf, "name", b"main")
        name = name.decode() if isinstance(name, bytes) else str(name)
    return name


__all__ = ["ConversionError", "Verification", "convert", "lower_function", "lowered_ops", "verify_model"]
