"""What an array backend provides to the runtime."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops.registry import OpKernel


class ArrayBackend:
    """An array library the runtime can run ops on.

    ``xp`` is bound into every kernel at plan time. ``overrides`` maps
    (domain, op_type) to faster native kernels (newest since <= opset wins, like the registry).
    """

    name = "base"
    device = "cpu"
    xp: Any = None

    def __init__(self):
        self.overrides: dict[tuple[str, str], list[OpKernel]] = {}

    def asarray(self, x: np.ndarray):
        """A host (NumPy) array as this backend's array."""
        return x

    def to_numpy(self, x) -> np.ndarray:
        return np.asarray(x)

    def kernel_override(self, domain: str, op_type: str, opset: int) -> OpKernel | None:
        best = None
        for k in self.overrides.get((domain, op_type), ()):
            if k.since <= opset:
                best = k
        return best

    def __repr__(self) -> str:
        return f"<nnex backend {self.name}:{self.device}>"
