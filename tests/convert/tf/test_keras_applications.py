"""keras.applications models (random weights, small inputs): nnex and onnxruntime vs Keras."""

from __future__ import annotations

import numpy as np
import pytest
from tf_check import check, op_count, rand

keras = pytest.importorskip("keras")
A = keras.applications

# name -> (constructor, input size, transposes allowed in the result)
MODELS = {
    "MobileNetV2": (lambda **kw: A.MobileNetV2(alpha=0.35, **kw), 32, 1),
    "MobileNetV3Small": (A.MobileNetV3Small, 32, 2),
    "EfficientNetB0": (A.EfficientNetB0, 32, 17),
}
# ResNet50, DenseNet121 and ConvNeXtTiny convert too (see docs/converters_tf.md) but take too long
# to build here; their ops are covered by the layer tests


def _calibrate(model, x):
    """Set every batch norm's statistics to those of a batch, as training would: with the initial ones
    (mean 0, variance 1) the activations of a deep random network shrink to nothing."""
    bns = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in bns:
        layer.momentum = 0.0
    model(x, training=True)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_application(name):
    make, size, transposes = MODELS[name]
    keras.utils.set_random_seed(0)
    # features rather than 1000 near-uniform class probabilities: differences show
    model = make(weights=None, include_top=False, pooling="avg", input_shape=(size, size, 3))
    x = rand(2, size, size, 3) * 50 + 100
    _calibrate(model, rand(4, size, size, 3, seed=5) * 50 + 100)
    features = np.asarray(model(x, training=False))
    assert np.abs(features).max() > 0.1  # not the ~1e-10 of untrained statistics, where any atol passes
    # float32 rounding differences grow through these random networks (onnxruntime and nnex differ
    # from each other as much as from Keras): compared at 1e-3 of the largest feature
    proto = check(model, x, rtol=1e-3, atol=1e-3, relative_atol=True)
    # NHWC transposes cancel between layout-agnostic ops; what is left sits at layout changes (the
    # input, Dense on 4-D tensors, squeeze-and-excite reshapes)
    assert op_count(proto, "Transpose") <= transposes
