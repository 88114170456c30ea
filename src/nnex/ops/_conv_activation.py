"""Which Clip or Relu after a Conv the planner may fold into the Conv's kernel.

ONNX has no Conv with an activation, so the graph keeps the two nodes (``nnex optimize``
writes standard ONNX); the fusion happens only in a session's plan.  A Conv kernel that
accepts ``_activation`` = ``(lo, hi)`` clamps its result as it produces it, while the
result is in cache (and, on oneDNN, inside the convolution), instead of a separate node
reading and writing the whole tensor again.

The reader qualifies when it is the only use of the Conv's output (which is no graph
output) and its bounds are constants: Relu, Clip-6 (attributes) and Clip-11+ (constant
scalar inputs, absent ones meaning no bound).
"""

from __future__ import annotations

import math

import numpy as np


def fused_activation(conv, reader, graph_outputs=()) -> tuple | None:
    """``(lo, hi)`` (floats, either None for no bound) when ``reader`` may be fused into
    ``conv``; else None.  Both are graph or plan nodes (``op_type``, ``domain``, ``inputs``,
    ``outputs``, ``attributes``, ``opsets``; Values with ``uses`` and ``const``)."""
    if conv.op_type != "Conv" or conv.domain not in ("", "ai.onnx") or len(conv.outputs) != 1:
        return None
    if reader.domain not in ("", "ai.onnx") or not reader.inputs:
        return None
    y = conv.outputs[0]
    if y is None or reader.inputs[0] is not y or any(y is v for v in graph_outputs):
        return None
    source = getattr(reader, "source", reader)
    uses = y.uses
    if len(uses) != 1 or uses[0][0] is not source or any(v is y for v in reader.inputs[1:]):
        return None
    if reader.op_type == "Relu":
        return (0.0, None)
    if reader.op_type != "Clip":
        return None
    if reader.opsets.get("", reader.opsets.get("ai.onnx", 1)) < 11:
        attrs = reader.attributes
        big = float(np.finfo(np.float32).max)  # Clip-6's defaults
        lo = attrs["min"].value if "min" in attrs else -big
        hi = attrs["max"].value if "max" in attrs else big
        return _bounds(lo, hi)
    bounds = []
    for v in (list(reader.inputs[1:]) + [None, None])[:2]:
        if v is None:
            bounds.append(None)
            continue
        if v.const is None:
            return None  # fed at run time
        arr = v.const.numpy()
        if arr.size != 1 or arr.dtype.kind != "f":
            return None
        bounds.append(float(arr.reshape(())))
    return _bounds(*bounds)


def _bounds(lo, hi) -> tuple | None:
    lo = None if lo is None else float(lo)
    hi = None if hi is None else float(hi)
    if lo is None and hi is None:
        return None
    if any(b is not None and math.isnan(b) for b in (lo, hi)):
        return None
    if lo is not None and hi is not None and lo > hi:
        return None  # every element becomes hi: left to Clip itself
    return lo, hi


# the backends whose Conv kernels take ``_activation`` (NumPy's: conv.py; torch's: torch_kernels.py)
FUSING_BACKENDS = frozenset({"numpy", "torch"})
