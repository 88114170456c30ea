"""Transpose sinking: carry layout transposes forward through layout-agnostic ops until they cancel.

The converter wraps every channels-first ONNX op (Conv, pools) in NHWC->NCHW and NCHW->NHWC
transposes. Between two convolutions there are usually only ops that do not care about the
layout (element-wise math with per-channel constants, activations, padding, concatenation,
reductions), so the NCHW->NHWC transpose after one conv can be carried below them to meet the
NHWC->NCHW transpose of the next conv, where the two compose to nothing.

One forward pass in topological order keeps, for each value ``v`` it could, a *lazy* form
``(x, p)``: ``v == Transpose(x, perm=p)`` with ``x`` computed and ``v`` not. A Transpose of a
lazy value composes the perms; a layout-agnostic op whose inputs are lazy with one perm runs on
the ``x``s (its axes and constant operands re-expressed in their order) and its outputs become
lazy in turn; any other reader gets ``v`` computed, by one Transpose, where it needs it.
"""

from __future__ import annotations

import numpy as np

from ...ir.builder import make_attribute
from ...ir.node import Node
from ...ir.value import Value
from ...passes.base import GraphPass
from ...passes.edit import add_constant, unlink

_UNARY = frozenset({
    "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "Celu", "Softplus", "Softsign", "HardSigmoid",
    "HardSwish", "Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf",
    "Not", "Cast", "Identity", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "IsNaN", "IsInf",
    "Gelu", "Mish", "ThresholdedRelu", "Clip", "BitwiseNot",
})
_BROADCAST = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater", "LessOrEqual",
    "GreaterOrEqual", "And", "Or", "Xor", "Where", "PRelu", "Mod", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
})
_REDUCE = frozenset({"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                     "ReduceLogSumExp", "ReduceSumSquare", "ReduceLogSum"})


def _perm(node) -> list[int] | None:
    p = node.attr("perm")
    return None if p is None else [int(i) for i in p]


def _inverse(p):
    inv = [0] * len(p)
    for i, j in enumerate(p):
        inv[j] = i
    return inv


def _is_identity(p) -> bool:
    return list(p) == list(range(len(p)))


def _drop_axes(p: list[int], axes: list[int]) -> list[int]:
    """The perm q with reduce(transpose(x, p), axes, keepdims=0) == transpose(reduce(x, p[axes]), q)."""
    kept_y = [i for i in range(len(p)) if i not in axes]
    gone = {p[a] for a in axes}
    kept_x = [j for j in range(len(p)) if j not in gone]
    pos = {j: k for k, j in enumerate(kept_x)}
    return [pos[p[i]] for i in kept_y]


class TransposeSinking(GraphPass):
    name = "transpose_sinking"

    def run(self, graph, ctx) -> int:
        self.graph, self.ctx = graph, ctx
        self.lazy: dict[int, tuple] = {}  # id(value) -> (value, x, perm)
        changes = 0
        for node in list(graph):
            if node.graph is not graph or not ctx.is_standard(node) or node.subgraphs():
                continue
            changes += self._visit(node)
        if not changes:
            return 0
        for v, x, p in list(self.lazy.values()):
            if v.uses or ctx.is_pinned(v):
                self._materialize(v)
        graph._nodes[:] = [n for n in graph._nodes if n.graph is graph]
        graph.topological_sort()
        return changes

    # ---- the forward pass -------------------------------------------------------------------
    def _visit(self, node: Node) -> int:
        op = node.op_type
        if op == "Transpose":
            x = node.inputs[0]
            p2 = _perm(node)
            if p2 is None:
                return 0
            got = self.lazy.get(id(x))
            base, perm = (got[1], [got[2][j] for j in p2]) if got else (x, p2)
            out = node.outputs[0]
            unlink(node)
            self.lazy[id(out)] = (out, base, perm)
            return 1
        lazy_inputs = [self.lazy[id(v)] for v in node.inputs if v is not None and id(v) in self.lazy]
        if not lazy_inputs:
            return 0
        plan = None
        try:
            plan = self._plan(node, lazy_inputs)
        except Exception:  # noqa: BLE001  (an unexpected node: left as it is, its inputs computed)
            plan = None
        if plan is None:
            return 0
        plan()
        return 1

    def _plan(self, node, lazy_inputs):
        op = node.op_type
        p = lazy_inputs[0][2]
        rank = len(p)
        if any(li[2] != p for li in lazy_inputs):
            return None
        first = node.inputs[0]
        first_lazy = first is not None and id(first) in self.lazy
        if op in _UNARY:
            if not first_lazy or any(v is not None and id(v) in self.lazy for v in node.inputs[1:]):
                return None
            return self._rewrite(node, {0: self.lazy[id(first)][1]}, p)
        if op in _BROADCAST or op == "Concat":
            return self._broadcast(node, p)
        if not first_lazy or any(v is not None and id(v) in self.lazy for v in node.inputs[1:]):
            return None
        x = self.lazy[id(first)][1]
        ctx = self.ctx
        if op in ("Softmax", "LogSoftmax", "Hardmax") and ctx.opset() >= 13:
            return self._rewrite(node, {0: x}, p, attrs={"axis": p[node.attr("axis", -1) % rank]})
        if op in _REDUCE:
            return self._reduce(node, x, p)
        if op in ("ArgMax", "ArgMin"):
            axis = node.attr("axis", 0) % rank
            out_perm = p if node.attr("keepdims", 1) else _drop_axes(p, [axis])
            return self._rewrite(node, {0: x}, out_perm, attrs={"axis": p[axis]})
        if op == "Pad":
            pads = ctx.const(node.inputs[1]) if len(node.inputs) > 1 else None
            if pads is None or (len(node.inputs) > 3 and node.inputs[3] is not None):
                return None
            nb, ne = np.zeros(rank, np.int64), np.zeros(rank, np.int64)
            for i in range(rank):
                nb[p[i]], ne[p[i]] = pads[i], pads[rank + i]
            return self._rewrite(node, {0: x, 1: np.concatenate([nb, ne])}, p)
        if op == "Slice":
            starts = ctx.const(node.inputs[1])
            axes_v = node.inputs[3] if len(node.inputs) > 3 else None
            axes = ctx.const(axes_v) if axes_v is not None else (
                np.arange(len(starts)) if starts is not None else None)
            if axes is None:
                return None
            new_axes = np.asarray([p[int(a) % rank] for a in axes.reshape(-1)], np.int64)
            return self._rewrite(node, {0: x, 3: new_axes}, p)
        if op == "Split":
            return self._rewrite(node, {0: x}, p, attrs={"axis": p[node.attr("axis", 0) % rank]})
        if op == "Squeeze":
            axes = ctx.const(node.inputs[1]) if len(node.inputs) > 1 else None
            if axes is None:
                return None
            axes = [int(a) % rank for a in axes.reshape(-1)]
            return self._rewrite(node, {0: x, 1: np.asarray([p[a] for a in axes], np.int64)},
                                 _drop_axes(p, axes))
        return None

    def _broadcast(self, node, p):
        """Element-wise ops with several inputs (and Concat): lazy when most full-rank inputs are."""
        rank = len(p)
        inv = _inverse(p)
        ctx = self.ctx
        new: dict = {}
        lazy_n, plain = 0, []
        for i, v in enumerate(node.inputs):
            if v is None:
                continue
            if id(v) in self.lazy:
                new[i] = self.lazy[id(v)][1]
                lazy_n += 1
                continue
            c = ctx.const(v)
            if c is not None:
                if c.ndim > rank:
                    return None
                if c.size == 1 and node.op_type != "Concat":
                    continue  # a single value broadcasts the same in any layout
                full = c.reshape((1,) * (rank - c.ndim) + c.shape)
                new[i] = np.ascontiguousarray(np.transpose(full, inv))
                continue
            r = ctx.rank(v)
            if r == 0 and node.op_type != "Concat":
                continue
            if r != rank:
                return None
            plain.append(i)
        if len(plain) >= lazy_n:
            return None
        for i in plain:  # the few inputs in the other layout are transposed to join the lazy ones
            new[i] = ("transpose", node.inputs[i], inv)
        attrs = {"axis": p[node.attr("axis") % rank]} if node.op_type == "Concat" else None
        return self._rewrite(node, new, p, attrs=attrs)

    def _reduce(self, node, x, p):
        rank = len(p)
        keep = node.attr("keepdims", 1)
        ctx = self.ctx
        if len(node.inputs) > 1 and node.inputs[1] is not None:
            axes = ctx.const(node.inputs[1])
            if axes is None:
                return None
            axes = [int(a) % rank for a in axes.reshape(-1)]
            if not axes and node.attr("noop_with_empty_axes", 0):
                return self._rewrite(node, {0: x}, p)
            where = "input"
        elif node.attr("axes") is not None:
            axes = [int(a) % rank for a in node.attr("axes")]
            where = "attr"
        else:
            if node.attr("noop_with_empty_axes", 0):
                return self._rewrite(node, {0: x}, p)
            axes, where = list(range(rank)), None
        new_axes = [p[a] for a in axes]
        out_perm = p if keep else _drop_axes(p, axes)
        if where == "input":
            return self._rewrite(node, {0: x, 1: np.asarray(new_axes, np.int64)}, out_perm)
        if where == "attr":
            return self._rewrite(node, {0: x}, out_perm, attrs={"axes": new_axes})
        return self._rewrite(node, {0: x}, out_perm)

    # ---- edits ------------------------------------------------------------------------------
    def _rewrite(self, node: Node, inputs: dict, out_perm, attrs=None):
        """The plan: ``node`` re-made on ``inputs`` (index -> Value, array (a new constant), or
        ("transpose", value, perm)), its outputs lazy with ``out_perm`` (or plain when identity)."""
        graph, ctx = self.graph, self.ctx

        def apply():
            ins = list(node.inputs)
            for i, v in inputs.items():
                while len(ins) <= i:
                    ins.append(None)
                if isinstance(v, np.ndarray):
                    v = add_constant(graph, v, "sunk_const", ctx)
                elif isinstance(v, tuple):
                    t = Value(ctx.new_name(v[1].name + "_t"))
                    graph.append(Node("Transpose", [v[1]], [t], name=ctx.new_name("sunk_transpose"),
                                      attributes=[make_attribute("perm", list(v[2]))]))
                    v = t
                ins[i] = v
            attributes = [a for k, a in node.attributes.items() if not attrs or k not in attrs]
            attributes += [make_attribute(k, val) for k, val in (attrs or {}).items()]
            old = list(node.outputs)
            identity = _is_identity(out_perm)
            unlink(node)
            outs = old if identity else [Value(ctx.new_name(o.name + "_sunk")) for o in old]
            graph.append(Node(node.op_type, ins, outs, domain=node.domain, name=node.name, attributes=attributes))
            if not identity:
                for o, n in zip(old, outs):
                    self.lazy[id(o)] = (o, n, list(out_perm))

        return apply

    def _materialize(self, v: Value) -> None:
        _, x, p = self.lazy.pop(id(v))
        if _is_identity(p) and not self.ctx.is_pinned(v):
            self.graph.replace_all_uses(v, x)
            return
        op = "Identity" if _is_identity(p) else "Transpose"
        attrs = [] if op == "Identity" else [make_attribute("perm", p)]
        self.graph.append(Node(op, [x], [v], name=self.ctx.new_name("transpose"), attributes=attrs))
