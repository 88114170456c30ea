"""TensorFlow op lowerings, one module per family; importing them fills the registry."""

from . import (  # noqa: F401
    batch_space,
    control_flow,
    elementwise,
    image,
    linalg,
    nn,
    reductions,
    shape,
    tensor_list,
)
