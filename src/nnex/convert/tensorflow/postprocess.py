"""Clean-up after lowering: fold what is constant, sink and cancel layout transposes, drop the dead."""

from __future__ import annotations

from ...passes.common_subexpression import CommonSubexpressionElimination
from ...passes.constant_folding import ConstantFolding
from ...passes.context import PassContext
from ...passes.dead_code import DeadCodeElimination
from ...passes.identity_elimination import IdentityElimination
from ...passes.manager import PassManager
from ...passes.transpose_cancel import TransposeCancel
from .layout import TransposeSinking


def clean_up(model) -> dict:
    """Rewrite ``model`` in place; returns the number of rewrites per pass."""
    passes = [ConstantFolding(), IdentityElimination(), TransposeSinking(), TransposeCancel(),
              CommonSubexpressionElimination(), DeadCodeElimination()]
    return dict(PassManager(passes, max_iterations=8).run(model, PassContext(model)))
