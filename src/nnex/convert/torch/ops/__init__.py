"""The lowering table, one module per ATen op family; importing this package registers them all."""

from . import (  # noqa: F401
    activation,
    attention,
    control_flow,
    conv_pool,
    creation,
    elementwise,
    indexing,
    linalg,
    norm,
    reductions,
    resize,
    rnn,
    shape,
    sorting,
    symbolic,
)
