"""Constant folding: nodes whose inputs are all constants are computed once, at build time.

Also folds what the shapes already say: ``Shape``/``Size`` of a value whose shape is static,
and ``Gather``/``Slice`` of a ``Shape`` when the dims they pick are static, so that
Shape -> Gather -> Concat -> Reshape chains become a constant target shape.

Results become initializers (Constant nodes in IR < 4 models, where every initializer must
also be a graph input). Random ops are never folded, nor ops whose result is
much larger than their inputs (ConstantOfShape, Expand, Tile, Range over a size limit): that
would trade a cheap op for a large model.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.node import Node
from ..ir.tensor import Tensor, np_dtype_of, onnx_dtype_of
from .base import NodePass, log
from .edit import add_constant, frozen, unlink
from .evaluate import CannotEvaluate, evaluate_node
from .walk import has_subgraphs

_NEVER_FOLD = frozenset({
    "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    "Dropout",  # random in training mode; inference Dropout is removed by identity elimination
    "If", "Loop", "Scan", "SequenceMap",
})


def _elements(shape) -> int:
    return int(math.prod(int(d) for d in shape))


def _estimated_size(node: Node, consts: list) -> int | None:
    """Elements the node would produce, for the ops that can blow up; None when not estimated."""
    op = node.op_type
    if op == "ConstantOfShape":
        return _elements(consts[0].reshape(-1))
    if op == "Expand":
        return _elements(np.broadcast_shapes(consts[0].shape, tuple(int(d) for d in consts[1].reshape(-1))))
    if op == "Tile":
        return consts[0].size * _elements(consts[1].reshape(-1))
    if op == "Range":
        start, limit, delta = (float(c.reshape(-1)[0]) for c in consts[:3])
        return max(math.ceil((limit - start) / delta), 0) if delta else 0
    return None


def _static_dims(node: Node, ctx) -> list | None:
    """The dims a Shape node returns (ints where static, None where not), honouring start/end."""
    shape = ctx.shape(node.inputs[0])
    if shape is None:
        return None
    rank = len(shape)
    start = node.attr("start", 0)
    end = node.attr("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return [d if isinstance(d, int) and d >= 0 else None for d in shape[start:end]]


def _fold_from_shape(node: Node, ctx) -> np.ndarray | None:
    """Shape/Size of a statically shaped value; Gather/Slice picking static dims out of a Shape."""
    op = node.op_type
    if op == "Shape":
        dims = _static_dims(node, ctx)
        if dims is None or None in dims:
            return None
        return np.array(dims, dtype=np.int64)
    if op == "Size":
        shape = ctx.static_shape(node.inputs[0])
        return None if shape is None else np.array(_elements(shape), dtype=np.int64)
    src = node.inputs[0]
    p = src.producer if src is not None else None
    if p is None or p.op_type != "Shape" or not ctx.is_standard(p):
        return None
    dims = _static_dims(p, ctx)
    if dims is None:
        return None
    if op == "Gather":
        idx = ctx.const(node.inputs[1])
        if idx is None or node.attr("axis", 0) not in (0, -1):
            return None
        picked = np.asarray(np.take(np.array(dims, dtype=object), idx.astype(np.int64), axis=0), dtype=object)
    elif op == "Slice" and ctx.opset("") >= 10:
        consts = [ctx.const(v) for v in node.inputs[1:]]
        if any(c is None for c, v in zip(consts, node.inputs[1:]) if v is not None) or len(consts) < 2:
            return None
        starts, ends = consts[0], consts[1]
        axes = consts[2] if len(consts) > 2 and consts[2] is not None else None
        steps = consts[3] if len(consts) > 3 and consts[3] is not None else None
        if axes is not None and [int(a) for a in axes.reshape(-1)] not in ([0], [-1]):
            return None
        step = int(steps.reshape(-1)[0]) if steps is not None else 1
        if starts.size != 1 or ends.size != 1 or step == 0:
            return None
        # Python's slice clamps out-of-range bounds the same way ONNX Slice does
        picked = np.array(dims[slice(int(starts.reshape(-1)[0]), int(ends.reshape(-1)[0]), step)], dtype=object)
    else:
        return None
    flat = picked.reshape(-1)
    if any(d is None for d in flat):
        return None
    return np.array(picked.tolist(), dtype=np.int64).reshape(picked.shape)


class ConstantFolding(NodePass):
    name = "constant_folding"

    def match(self, node, graph, ctx):
        if not ctx.is_standard(node):
            return None
        op = node.op_type
        if op in _NEVER_FOLD or has_subgraphs(node):
            return None
        if op == "Constant":
            return self._constant_to_initializer(node, graph, ctx)
        if op in ("Shape", "Size", "Gather", "Slice") and node.inputs and not ctx.is_const(node.inputs[0]):
            arr = _fold_from_shape(node, ctx)
            return None if arr is None else self._replace(node, graph, ctx, [arr])
        ins = node.inputs
        if not any(v is not None for v in ins):
            return None
        consts = []
        for i, v in enumerate(ins):
            if v is None:
                consts.append(None)
                continue
            c = ctx.const(v)
            if c is None and op == "CastLike" and i == 1:
                c = _type_witness(v, ctx)  # CastLike only reads its second input's element type
            if c is None:
                return None
            consts.append(c)
        in_size = sum(c.size for c in consts if c is not None)
        limit = max(ctx.fold_size_limit, 2 * in_size)  # a result may not be much larger than its inputs
        est = _estimated_size(node, consts)
        if est is not None and est > limit:
            return None
        try:
            results = evaluate_node(node, consts, ctx)
        except CannotEvaluate as e:
            log.debug("constant_folding: %r not folded: %s", node.name, e)
            return None
        if sum(r.size for r in results if r is not None) > limit:
            return None
        return self._replace(node, graph, ctx, results)

    @staticmethod
    def _checked(node, ctx, results) -> bool:
        """The folded arrays have the types and shapes the model says the outputs have."""
        for v, arr in zip(node.outputs, results):
            if arr is None:
                continue
            et = ctx.elem_type(v)
            if et is not None and et != onnx_dtype_of(arr.dtype):
                return False
            shape = ctx.shape(v)
            if shape is not None and (len(shape) != arr.ndim or any(
                    isinstance(d, int) and d != n for d, n in zip(shape, arr.shape))):
                return False
        return True

    def _replace(self, node, graph, ctx, results):
        if not self._checked(node, ctx, results):
            return None
        as_nodes = ctx.ir_version < 4

        def apply():
            outs = list(node.outputs)
            as_const_nodes = [(v, arr) for v, arr in zip(outs, results)
                              if arr is not None and (as_nodes or ctx.is_pinned(v))]
            index = graph.nodes.index(node) if as_const_nodes else None
            unlink(node)
            for v, arr in zip(outs, results):
                if arr is not None and v.uses and not (as_nodes or ctx.is_pinned(v)):
                    graph.replace_all_uses(v, add_constant(graph, arr, v.name or "folded", ctx, reuse=True))
            for v, arr in as_const_nodes:
                # a graph output keeps its name: a Constant node writes it
                graph.insert(index, Node("Constant", [], [v], name=ctx.new_name((v.name or "folded") + "_const"),
                                         attributes=[_value_attr(arr, v.name)]))
                index += 1
        return apply

    def _constant_to_initializer(self, node, graph, ctx):
        out = node.outputs[0]
        if ctx.is_pinned(out) or ctx.ir_version < 4:
            return None
        arr = ctx.const(out)
        if arr is None or not isinstance(arr, np.ndarray):
            return None

        def apply():
            unlink(node)
            c = add_constant(graph, arr, out.name or "const", ctx, reuse=True)
            graph.replace_all_uses(out, c)
        return apply


def _type_witness(v, ctx) -> np.ndarray | None:
    """An empty array of ``v``'s element type, when that type is known."""
    et = ctx.elem_type(v)
    return None if not et else np.empty((0,), dtype=np_dtype_of(et))


def _value_attr(arr: np.ndarray, name: str):
    from ..ir.builder import make_attribute

    return make_attribute("value", Tensor(frozen(arr), name))
