"""Operators that run on NumPy whatever the backend (their inputs are moved to the host).

``HOST_ONLY``: NumPy by nature: strings, the ai.onnx.ml domain, random numbers drawn with
NumPy's generator (so every backend draws the same numbers for a seed), data-dependent
output shapes, and the ops of modules written for the host.

``NUMPY_KERNELS``: the standard kernel is written with NumPy (strided views, ufunc.at
scatters); a backend runs it on the host unless it registers a native kernel for it.
"""

from __future__ import annotations

ML_DOMAIN = "ai.onnx.ml"
TRAINING_DOMAIN = "ai.onnx.preview.training"


def _ops(domain: str, *names: str) -> set[tuple[str, str]]:
    return {(domain, n) for n in names}


HOST_ONLY: frozenset = frozenset(
    # strings
    _ops("", "StringConcat", "StringNormalizer", "StringSplit", "RegexFullMatch", "TfIdfVectorizer")
    # NumPy's generator, so that a seed gives the same draw on every backend
    | _ops("", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
           "Bernoulli")
    # sequences and optionals: Python lists of host arrays (ops/sequence.py)
    | _ops("", "SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceAt", "SequenceErase",
           "SequenceLength", "SplitToSequence", "ConcatFromSequence", "SequenceMap")
    # output shape decided by the values
    | _ops("", "NonZero", "Unique", "NonMaxSuppression")
    # bit-level dtype work with ml_dtypes
    | _ops("", "BitCast")
    | _ops("", "ImageDecoder")
    | _ops(TRAINING_DOMAIN, "Adagrad", "Adam", "Momentum")
)

NUMPY_KERNELS: frozenset = frozenset(
    _ops("", "Conv", "ConvTranspose", "DeformConv", "Col2Im", "CausalConvWithState")
    | _ops("", "AveragePool", "LpPool", "MaxPool", "MaxUnpool", "MaxRoiPool")
    | _ops("", "ScatterElements", "Scatter", "ScatterND", "TensorScatter")
    | _ops("", "ConvInteger", "QLinearConv")
    | _ops("", "Dropout")
)


def runs_on_host(domain: str, op_type: str) -> bool:
    return domain == ML_DOMAIN or (domain, op_type) in HOST_ONLY
