"""Keras on the TensorFlow backend: trace ``model(x, training=False)`` with tf.function."""

from __future__ import annotations

import numpy as np

from .. import ConversionError


def backend_of(model) -> str:
    top = type(model).__module__.split(".")[0]
    if top == "tf_keras":
        return "tensorflow"
    import keras

    return keras.backend.backend()


def _declared_inputs(model):
    """The model's declared inputs (KerasTensors), or None when it has none (a subclassed model)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    return list(inputs) if inputs else None


def input_specs(model, sample, dynamic_batch: bool):
    """(TensorSpecs as the model's call takes them, input names)."""
    import tensorflow as tf

    declared = _declared_inputs(model)
    names = None
    if declared is not None:
        names = [_clean(getattr(t, "name", None) or f"input_{i}") for i, t in enumerate(declared)]
    if sample is None:
        if declared is None:
            raise ConversionError("this Keras model declares no inputs: pass a sample input")
        specs = []
        for t, n in zip(declared, names):
            shape = list(t.shape)
            if not dynamic_batch and shape and shape[0] is None:
                raise ConversionError("dynamic_batch=False needs a sample input")
            specs.append(tf.TensorSpec(shape, tf.as_dtype(t.dtype), name=n))
        return (specs[0] if len(specs) == 1 else specs), names

    def spec(x, name, declared_tensor=None):
        x = x if isinstance(x, tf.Tensor) else np.asarray(x)
        shape = list(x.shape)
        if dynamic_batch and shape:
            shape[0] = None
        if declared_tensor is not None and len(declared_tensor.shape) == len(shape):
            # what the model declares dynamic (a sequence length) stays dynamic
            shape = [None if d is None else s for s, d in zip(shape, declared_tensor.shape)]
            if not dynamic_batch:
                shape[0] = x.shape[0]
        return tf.TensorSpec(shape, tf.as_dtype(x.dtype), name=name)

    def declared_at(i):
        return declared[i] if declared is not None and i < len(declared) else None

    if isinstance(sample, dict):
        keys = list(sample)
        return {k: spec(sample[k], _clean(k)) for k in keys}, [_clean(k) for k in keys]
    if isinstance(sample, (list, tuple)):
        names = names if names and len(names) == len(sample) else [f"input_{i}" for i in range(len(sample))]
        return [spec(x, n, declared_at(i)) for i, (x, n) in enumerate(zip(sample, names))], names
    names = names if names and len(names) == 1 else ["input"]
    return spec(sample, names[0], declared_at(0) if declared is not None and len(declared) == 1 else None), names


def _clean(name: str) -> str:
    return str(name).split(":")[0].replace("/", "_")


def output_names(model, cf) -> list[str]:
    """The dict's keys for a model returning a dict (in the sorted order outputs are flattened in),
    else the output layers' names."""
    from ..tensorflow import capture

    n = len(cf.outputs)
    if isinstance(cf.structured_outputs, dict):
        return capture.output_names(cf)
    names = getattr(model, "output_names", None)
    if names and len(names) == n and all(isinstance(x, str) for x in names):
        out = [_clean(x) for x in names]
        if len(set(out)) == n:
            return out
    return ["output"] if n == 1 else [f"output_{i}" for i in range(n)]


def convert_tf_backend(model, sample, *, dynamic_batch=True, opset=None, input_names=None, output_names=None,
                       optimize=True, verify=False):
    import tensorflow as tf

    from ..tensorflow import capture, lower_function
    from ..tensorflow.verify import verify_model

    spec, names = input_specs(model, sample, dynamic_batch)

    @tf.function
    def call(x):
        return model(x, training=False)

    cf = call.get_concrete_function(spec)
    args = capture.arguments(cf)
    in_names = list(input_names) if input_names else names
    if len(in_names) != len(args):
        in_names = capture.input_names(cf, args)
    out_names = list(output_names) if output_names else globals()["output_names"](model, cf)
    proto = lower_function(cf, in_names, out_names, opset=opset or 21, optimize=optimize,
                           graph_name=_graph_name(model))
    import keras

    proto.doc_string = f"converted from Keras {keras.__version__} (TensorFlow {tf.__version__}) by nnex"
    if verify:
        if sample is None:
            raise ConversionError("verify=True needs the sample input")
        report = verify_model(proto, lambda *a, **k: model(*(list(a) if len(a) > 1 else a), training=False),
                              sample)
        print(report)
        import json

        entry = proto.metadata_props.add()
        entry.key = "nnex.verification"
        entry.value = json.dumps(report.to_dict())
    return proto


def _graph_name(model) -> str:
    name = getattr(model, "name", None)
    return name if isinstance(name, str) and name else type(model).__name__
