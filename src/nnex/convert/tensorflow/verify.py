"""Run a converted model in nnex and onnxruntime on the sample and compare with TensorFlow."""

from __future__ import annotations

import numpy as np
import onnx

from .._verify import Verification, compare_runtimes


def sample_arrays(sample) -> list[np.ndarray]:
    """The sample's arrays in the order of the model's inputs."""
    if isinstance(sample, dict):
        return [np.asarray(sample[k]) for k in sample]
    if isinstance(sample, (tuple, list)):
        return [np.asarray(x) for x in sample]
    return [np.asarray(sample)]


def tf_outputs(fn, sample) -> list[np.ndarray]:
    """``fn`` (a ConcreteFunction or any callable) on the sample, flattened like the model's outputs."""
    import tensorflow as tf

    if isinstance(sample, dict):
        out = fn(**{k: tf.constant(v) for k, v in sample.items()})
    elif isinstance(sample, (tuple, list)):
        out = fn(*[tf.constant(x) for x in sample])
    else:
        out = fn(tf.constant(sample))
    return [np.asarray(t) for t in tf.nest.flatten(out)]


def verify_model(proto: onnx.ModelProto, fn, sample) -> Verification:
    want = tf_outputs(fn, sample)
    feeds = {i.name: a for i, a in zip(proto.graph.input, sample_arrays(sample))}
    return compare_runtimes(proto, feeds, want, "tensorflow")
