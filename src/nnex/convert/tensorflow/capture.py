"""From what the user hands us (a tf.function, a ConcreteFunction, a SavedModel) to one
ConcreteFunction, and from that to a graph with its variables frozen into constants."""

from __future__ import annotations

import os

import numpy as np

from .. import ConversionError


def _tf():
    import tensorflow as tf

    return tf


def specs_for(sample, dynamic_batch: bool = True):
    """TensorSpecs for a sample input (an array, a tensor, or a tuple/list/dict of them): the
    sample's dtypes and shapes, with a dynamic first dimension when ``dynamic_batch``."""
    tf = _tf()

    def spec(x, name=None):
        if isinstance(x, tf.TensorSpec):
            return x
        if not isinstance(x, (tf.Tensor, tf.Variable)):
            x = np.asarray(x)
        shape = list(x.shape)
        if dynamic_batch and shape:
            shape[0] = None
        return tf.TensorSpec(shape, tf.as_dtype(x.dtype), name=name)

    if isinstance(sample, dict):
        return [{k: spec(v, k) for k, v in sample.items()}]
    if isinstance(sample, (tuple, list)):
        return [spec(x) for x in sample]
    return [spec(sample)]


def load(obj):
    """``obj``, or the SavedModel it names (a folder); keep the result alive while converting: the
    functions of a loaded SavedModel refer to variables their object owns."""
    if isinstance(obj, (str, os.PathLike)):
        if not os.path.isdir(obj) or not os.path.exists(os.path.join(obj, "saved_model.pb")):
            raise ConversionError(f"{os.fspath(obj)!r} is not a SavedModel folder")
        return _tf().saved_model.load(os.fspath(obj))
    return obj


def concrete_function(obj, sample=None, input_signature=None, dynamic_batch: bool = True):
    """A ConcreteFunction for ``obj``."""
    tf = _tf()
    from tensorflow.python.eager.polymorphic_function.concrete_function import ConcreteFunction

    if isinstance(obj, ConcreteFunction):
        return obj
    signature = input_signature
    if signature is None and sample is not None:
        signature = specs_for(sample, dynamic_batch)
    if isinstance(obj, tf.types.experimental.PolymorphicFunction):
        if signature is None:
            if getattr(obj, "input_signature", None) is None:
                raise ConversionError("a tf.function without an input_signature needs a sample input")
            return obj.get_concrete_function()
        if isinstance(signature[0], dict) and len(signature) == 1:
            return obj.get_concrete_function(**signature[0])
        return obj.get_concrete_function(*signature)
    sigs = getattr(obj, "signatures", None)
    if sigs and signature is None:
        if "serving_default" in sigs:
            return sigs["serving_default"]
        return next(iter(sigs.values()))
    call = obj.__call__ if callable(obj) else None
    if isinstance(call, tf.types.experimental.PolymorphicFunction):
        return concrete_function(call, sample, input_signature, dynamic_batch)
    if callable(obj) and signature is not None:
        return concrete_function(tf.function(obj), None, signature, dynamic_batch)
    raise ConversionError(f"cannot trace {type(obj).__name__}: pass a tf.function, a ConcreteFunction, a "
                          f"SavedModel (folder or loaded) or a tf.Module whose __call__ is a tf.function, with "
                          f"a sample input where the function has no input signature")


def arguments(cf) -> list:
    """The placeholders of a ConcreteFunction's own arguments (not of what it captures)."""
    inputs = list(cf.inputs)
    return inputs[:len(inputs) - len(cf.captured_inputs)]


def frozen_graph(cf) -> tuple:
    """(graph, argument tensors, output tensors): ``cf``'s graph with the variables and tensors it
    captures made constants and its function calls inlined, so that TensorFlow's shape inference
    knows every shape it can."""
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants as c2c

    args, outs = arguments(cf), list(cf.outputs)
    try:
        # the graph-rewriting half of convert_variables_to_constants_v2: building a new
        # ConcreteFunction from the result (the other half) costs ten times more
        data = c2c._FunctionConverterDataInEager(func=cf, lower_control_flow=False, aggressive_inlining=True)
        graph_def, _ = c2c._replace_variables_by_constants(converter_data=data)
    except (AttributeError, TypeError):  # a TensorFlow whose internals moved: the public way
        try:
            frozen = c2c.convert_variables_to_constants_v2(cf, lower_control_flow=False, aggressive_inlining=True)
        except Exception as e:
            raise ConversionError(f"could not freeze the function's variables: {type(e).__name__}: {e}") from e
        graph_def = frozen.graph.as_graph_def()
        args, outs = list(frozen.inputs), list(frozen.outputs)
    graph_def = inline_calls(graph_def) or graph_def
    g = tf.Graph()
    with g.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    return g, [g.get_tensor_by_name(t.name) for t in args], [g.get_tensor_by_name(t.name) for t in outs]


def input_names(cf, args) -> list[str]:
    """Names for the function's argument placeholders ``args``: the signature's names where it has them."""
    tf = _tf()
    names = []
    try:
        sig_args, sig_kwargs = cf.structured_input_signature
        flat = tf.nest.flatten((sig_args, sig_kwargs), expand_composites=True)
        names = [getattr(s, "name", None) for s in flat if isinstance(s, tf.TensorSpec)]
    except Exception:  # noqa: BLE001  (names are a nicety)
        names = []
    out = []
    for i, t in enumerate(args):
        n = names[i] if i < len(names) and names[i] else t.op.name
        out.append(_unique(n, out))
    return out


def output_names(cf) -> list[str]:
    tf = _tf()
    structured = cf.structured_outputs
    names: list[str] = []
    if isinstance(structured, dict):
        keys = sorted(structured)  # tf.nest flattens dicts in sorted key order
        for k in keys:
            n = len(tf.nest.flatten(structured[k]))
            names += [str(k)] if n == 1 else [f"{k}_{i}" for i in range(n)]
    if len(names) != len(cf.outputs):
        names = ["output"] if len(cf.outputs) == 1 else [f"output_{i}" for i in range(len(cf.outputs))]
    return names


def _unique(name: str, taken: list[str]) -> str:
    base, k = name, 1
    while name in taken:
        name = f"{base}_{k}"
        k += 1
    return name


_CALLS = ("PartitionedCall", "StatefulPartitionedCall")


def inline_calls(graph_def):
    """``graph_def`` with function calls replaced by the functions' bodies, so that TensorFlow's
    shape inference sees through them (a call's outputs have unknown shapes otherwise); returns
    None when there is no call to inline. Calls the freezing left (jit-compiled functions, such
    as Keras's grouped convolutions) are the usual case."""
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def

    lib = {f.signature.name: f for f in graph_def.library.function}
    changed = False
    for _ in range(16):  # nested calls: one level per round
        calls = [n for n in graph_def.node if n.op in _CALLS and n.attr["f"].func.name in lib]
        if not calls:
            break
        changed = True
        new = graph_pb2.GraphDef()
        new.versions.CopyFrom(graph_def.versions)
        new.library.CopyFrom(graph_def.library)
        for n in graph_def.node:
            if n.op not in _CALLS or n.attr["f"].func.name not in lib:
                new.node.add().CopyFrom(n)
                continue
            _inline_one(new, n, lib[n.attr["f"].func.name], function_def_to_graph_def)
        graph_def = new
    return graph_def if changed else None


def _inline_one(new, call, fdef, to_graph_def):
    body, flat = to_graph_def(fdef)
    prefix = call.name + "/inlined/"
    args = [a.name for a in fdef.signature.input_arg]
    data_inputs = [s for s in call.input if not s.startswith("^")]
    for bn in body.node:
        nn = new.node.add()
        nn.CopyFrom(bn)
        nn.name = prefix + bn.name
        if bn.op == "Placeholder" and bn.name in args:
            nn.op = "Identity"
            dtype = bn.attr["dtype"]
            nn.ClearField("attr")
            nn.attr["T"].CopyFrom(dtype)
            del nn.input[:]
            nn.input.append(data_inputs[args.index(bn.name)])
            continue
        del nn.input[:]
        for s in bn.input:
            nn.input.append("^" + prefix + s[1:] if s.startswith("^") else prefix + s)
    outs = []
    for a in fdef.signature.output_arg:
        ret = fdef.ret[a.name]
        outs.append(prefix + flat.get(ret, ret))
    idn = new.node.add()
    idn.name = call.name
    idn.op = "IdentityN"
    idn.input.extend(outs)
    idn.attr["T"].list.type.extend(call.attr["Tout"].list.type)
