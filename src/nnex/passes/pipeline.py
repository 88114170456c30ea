"""optimize(): the optimization levels (onnxruntime's) and the safe wrapper the runtime calls."""

from __future__ import annotations

import logging

from ..ir.io import load
from ..ir.model import Model
from .attention_fusion import AttentionFusion
from .clone import clone_model
from .common_subexpression import CommonSubexpressionElimination
from .constant_folding import ConstantFolding
from .context import PassContext, walk_graphs
from .conv_add_relu import ConvAddBias
from .batchnorm_affine_fold import BatchNormAffineFold
from .conv_bn_fold import ConvBatchNormFold
from .conv_mul_fold import ConvMulFold
from .dead_code import DeadCodeElimination
from .gelu_fusion import GeluFusion
from .identity_elimination import IdentityElimination
from .layernorm_fusion import LayerNormFusion
from .manager import PassManager
from .matmul_add_gemm import MatMulAddGemm
from .transpose_cancel import TransposeCancel
from .validate import check_model, drop_stale_value_info

log = logging.getLogger("nnex.passes")

DISABLE, BASIC, EXTENDED, ALL = 0, 1, 2, 99
_LEVEL_NAMES = {"disable": DISABLE, "none": DISABLE, "basic": BASIC, "extended": EXTENDED, "all": ALL}


def level_number(level) -> int:
    """0, 1, 2 or 99 from an int, a GraphOptimizationLevel, or "none"/"basic"/"extended"/"all"."""
    if isinstance(level, str):
        key = level.strip().lower()
        if key.startswith("ort_enable_"):
            key = key[len("ort_enable_"):]
        elif key == "ort_disable_all":
            key = "disable"
        if key not in _LEVEL_NAMES:
            raise ValueError(f"unknown optimization level {level!r}; use one of {sorted(_LEVEL_NAMES)} or 0, 1, 2, 99")
        return _LEVEL_NAMES[key]
    n = int(level)
    if n < 0:
        raise ValueError(f"optimization level must be >= 0, got {n}")
    return n


def passes_for_level(level) -> list:
    """The passes a level runs: basic = folding and clean-ups, extended (and all) = basic + fusions."""
    n = level_number(level)
    if n <= DISABLE:
        return []
    basic = [ConstantFolding(), IdentityElimination(), TransposeCancel(), CommonSubexpressionElimination(),
             DeadCodeElimination()]
    if n == BASIC:
        return basic
    fusions = [ConvBatchNormFold(), ConvMulFold(), ConvAddBias(), BatchNormAffineFold(), MatMulAddGemm(), GeluFusion(), LayerNormFusion(),
               AttentionFusion()]
    return basic[:-1] + fusions + basic[-1:]


def optimize(model, level="extended", *, strict: bool = False, stats: dict | None = None) -> Model:
    """An optimized copy of ``model`` (a Model, ModelProto, path or bytes); ``model`` itself is not changed.

    Graph inputs and outputs keep their names and types; only standard ONNX ops are produced.
    If a pass fails (a bug, not a property of the model), the unoptimized copy is returned and a
    warning is logged; ``strict=True`` raises instead. ``stats``, when given, receives the number
    of rewrites per pass.
    """
    original = model if isinstance(model, Model) else load(model)
    n = level_number(level)
    work = clone_model(original)
    if n <= DISABLE:
        return work
    try:
        ctx = PassContext(work)
        if ctx.reads_names:
            log.debug("model has training ops that read the graph by name: not optimized")
            return work
        counts = PassManager(passes_for_level(n)).run(work, ctx)
        for g in walk_graphs(work.graph):
            drop_stale_value_info(g)
        check_model(work, ctx)
    except Exception as e:  # a bug in a pass must never break a model that ran before
        if strict:
            raise
        log.warning("graph optimization skipped, running the model as given: %s: %s", type(e).__name__, e)
        return clone_model(original)
    if stats is not None:
        stats.update(counts)
    return work


def optimize_for_session(model: Model, level: int) -> Model:
    """What InferenceSession runs at ``graph_optimization_level`` > 0 (the given model is left as is)."""
    if level_number(level) <= DISABLE:
        return model
    return optimize(model, level)


__all__ = ["ALL", "BASIC", "DISABLE", "EXTENDED", "level_number", "optimize", "optimize_for_session",
           "passes_for_level"]
