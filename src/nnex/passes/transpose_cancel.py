"""Transposes that cancel or merge: Transpose(Transpose(x)) becomes x or one Transpose, and a
2-D Transpose feeding Gemm becomes Gemm's transA/transB flag. (Transposes of constants are
folded into new initializers by constant folding.)"""

from __future__ import annotations

from ..ir.builder import make_attribute
from .base import NodePass
from .edit import bypass, can_bypass, replace_node


def _perm(node, ctx) -> list[int] | None:
    perm = node.attr("perm")
    if perm is not None:
        return [int(p) for p in perm]
    rank = ctx.rank(node.inputs[0])
    return None if rank is None else list(reversed(range(rank)))


class TransposeCancel(NodePass):
    name = "transpose_cancel"
    op_types = frozenset({"Transpose", "Gemm"})

    def match(self, node, graph, ctx):
        if node.op_type == "Gemm":
            return self._into_gemm(node, graph, ctx)
        first = node.inputs[0].producer
        if first is None or first.op_type != "Transpose" or first.graph is not graph or not ctx.is_standard(first):
            return None
        p1, p2 = _perm(first, ctx), _perm(node, ctx)
        if p1 is None or p2 is None or len(p1) != len(p2):
            return None
        composed = [p1[j] for j in p2]
        x, out = first.inputs[0], node.outputs[0]
        if composed == list(range(len(composed))):
            if not can_bypass(graph, out, x, ctx):
                return None
            return lambda: bypass(graph, node, out, x, ctx)
        return lambda: replace_node(graph, node, "Transpose", [x], attributes={"perm": composed})

    @staticmethod
    def _into_gemm(node, graph, ctx):
        flags = {"transA": node.attr("transA", 0), "transB": node.attr("transB", 0)}
        inputs = list(node.inputs)
        changed = False
        for i, flag in ((0, "transA"), (1, "transB")):
            t = inputs[i].producer if inputs[i] is not None else None
            if t is None or t.op_type != "Transpose" or t.graph is not graph or not ctx.is_standard(t):
                continue
            if _perm(t, ctx) != [1, 0]:
                continue
            inputs[i] = t.inputs[0]
            flags[flag] = 1 - flags[flag]
            changed = True
        if not changed:
            return None
        attrs = [a for k, a in node.attributes.items() if k not in flags]
        attrs += [make_attribute(k, v) for k, v in flags.items()]
        return lambda: replace_node(graph, node, "Gemm", inputs, attributes=attrs)
