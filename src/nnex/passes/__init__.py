"""Graph passes: constant folding, clean-ups and fusions over nnex.ir, at onnxruntime's levels.

    from nnex.passes import optimize
    fast = optimize(model, level="extended")     # a new Model; ``model`` is not changed

Levels: 0 / "none" (nothing), 1 / "basic" (constant folding, dead code, identity elimination,
common subexpressions, transpose cancelling), 2 / "extended" and 99 / "all" (basic + Conv/BN,
Conv/Mul, Conv/Add, BatchNormalization/Mul/Add, MatMul/Add->Gemm, Gelu, LayerNorm and (opset >= 23)
Attention fusions). Every result is
standard ONNX valid at the model's own opset.
"""

from .base import GraphPass, NodePass
from .context import PassContext
from .manager import PassManager
from .pipeline import level_number, optimize, optimize_for_session, passes_for_level

__all__ = ["GraphPass", "NodePass", "PassContext", "PassManager", "level_number", "optimize",
           "optimize_for_session", "passes_for_level"]
