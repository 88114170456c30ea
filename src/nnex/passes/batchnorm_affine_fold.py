"""BatchNormalization followed by Mul or Add of a per-channel constant: one BatchNormalization.

BN(x) * s + t is a BatchNormalization with scale * s and bias * s + t. DenseNet-121 among the
onnx package's models writes BatchNormalization -> Mul -> Add 62 times.
"""

from __future__ import annotations

from .base import NodePass
from .conv_add_relu import _per_channel
from .edit import add_constant, replace_node
from .match import fed_by, other_input


def _inference_bn(node) -> bool:
    if len([v for v in node.outputs if v is not None]) != 1:
        return False
    mode = node.attributes.get("training_mode")
    return mode is None or not mode.value


class BatchNormAffineFold(NodePass):
    name = "batchnorm_affine_fold"
    op_types = frozenset({"Mul", "Add"})

    def match(self, node, graph, ctx):
        bn, y = fed_by(node, "BatchNormalization", graph, ctx, accept=_inference_bn)
        if bn is None:
            return None
        c = ctx.const(other_input(node, y))
        scale, bias = ctx.const(bn.inputs[1]), ctx.const(bn.inputs[2])
        if c is None or scale is None or bias is None or c.dtype != scale.dtype or scale.dtype.kind != "f":
            return None
        out_rank = ctx.rank(y) or ctx.rank(bn.inputs[0])
        if out_rank is None or scale.ndim != 1 or bias.shape != scale.shape:
            return None
        k = _per_channel(c, scale.shape[0], out_rank)
        if k is None:
            return None
        if node.op_type == "Mul":
            new_scale, new_bias = (scale * k).astype(scale.dtype), (bias * k).astype(bias.dtype)
        else:
            new_scale, new_bias = scale, (bias + k).astype(bias.dtype)

        def apply():
            sv = bn.inputs[1] if new_scale is scale else add_constant(
                graph, new_scale, (bn.inputs[1].name or "bn") + "_folded", ctx)
            bv = add_constant(graph, new_bias, (bn.inputs[2].name or "bn") + "_folded", ctx)
            replace_node(graph, node, "BatchNormalization", [bn.inputs[0], sv, bv] + list(bn.inputs[3:5]),
                         attributes=list(bn.attributes.values()), name=bn.name or node.name)
        return apply
