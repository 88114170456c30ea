"""Imports every op family module so that their registrations run."""

# One module per op family; keep this list sorted by family name.
from . import (  # noqa: F401
    activation,
    attention,
    cast,
    control_flow,
    conv,
    elementwise,
    image,
    image_decoder,
    indexing,
    linalg,
    loss,
    normalization,
    pool,
    quant,
    random,
    reduce,
    rnn,
    sequence,
    shape,
    signal,
    string,
    training,
)
from .ml import _families as _ml_families  # noqa: F401
