"""MatMul of two 2-D tensors followed by Add becomes Gemm (one BLAS call with the bias added in)."""

from __future__ import annotations

import onnx

from .base import NodePass
from .edit import replace_node
from .match import fed_by, other_input

_GEMM_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)  # what every runtime's Gemm kernel takes


class MatMulAddGemm(NodePass):
    name = "matmul_add_gemm"
    op_types = frozenset({"Add"})

    def match(self, add, graph, ctx):
        if ctx.opset("") < 7:
            return None  # Gemm before 7 broadcasts only when told to
        mm, y = fed_by(add, "MatMul", graph, ctx)
        if mm is None:
            return None
        a, b = mm.inputs
        c = other_input(add, y)
        if c is None or ctx.elem_type(a) not in _GEMM_TYPES:
            return None
        sa, sb, sc = ctx.shape(a), ctx.shape(b), ctx.shape(c)
        if sa is None or sb is None or sc is None or len(sa) != 2 or len(sb) != 2 or len(sc) > 2:
            return None
        out = [sa[0], sb[1]]
        # Gemm broadcasts C to [M, N] one way only: the Add must not make the result bigger
        for dc, do in zip(reversed(sc), reversed(out)):
            if not (dc == 1 or (isinstance(dc, (int, str)) and dc == do)):
                return None
        return lambda: replace_node(graph, add, "Gemm", [a, b, c], name=mm.name or add.name)
