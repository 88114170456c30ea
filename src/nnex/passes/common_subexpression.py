"""Common subexpressions: two nodes that compute the same op on the same inputs become one.

Small identical initializers are merged first (exporters often emit the same scalar many
times), so that nodes reading equal constants are recognised as equal too.
"""

from __future__ import annotations

import onnx

from ..ir.graph import Graph
from ..ir.tensor import Tensor
from .base import GraphPass

A = onnx.AttributeProto

_NOT_PURE = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                       "Multinomial", "Bernoulli", "Dropout"})
_PURE_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")  # custom domains may hide state or randomness
_MERGE_CONST_ELEMENTS = 4096  # initializers up to this size are compared by value


class _Unhashable(Exception):
    pass


def _tensor_key(t: Tensor):
    arr = t.numpy()
    data = tuple(arr.ravel().tolist()) if arr.dtype == object else arr.tobytes()
    return (t.data_type, tuple(t.dims), data)


def _attr_key(a) -> tuple:
    if a.ref_attr_name:
        raise _Unhashable
    t, v = a.type, a.value
    if t in (A.GRAPH, A.GRAPHS, A.SPARSE_TENSOR, A.SPARSE_TENSORS):
        raise _Unhashable
    if t == A.TENSOR:
        return (a.name, t, _tensor_key(v))
    if t == A.TENSORS:
        return (a.name, t, tuple(_tensor_key(x) for x in v))
    if t == A.TYPE_PROTO:
        return (a.name, t, v.SerializeToString())
    if t == A.TYPE_PROTOS:
        return (a.name, t, tuple(x.SerializeToString() for x in v))
    if isinstance(v, list):
        return (a.name, t, tuple(v))
    return (a.name, t, v)


class CommonSubexpressionElimination(GraphPass):
    name = "common_subexpression"

    def run(self, graph: Graph, ctx) -> int:
        return self._merge_constants(graph, ctx) + self._merge_nodes(graph, ctx)

    @staticmethod
    def _merge_constants(graph: Graph, ctx) -> int:
        seen: dict = {}
        merged = 0
        for v in list(graph.initializers.values()):
            t = v.const
            if ctx.is_pinned(v) or not v.uses or t.size > _MERGE_CONST_ELEMENTS:
                continue
            key = _tensor_key(t)
            first = seen.setdefault(key, v)
            if first is not v:
                graph.replace_all_uses(v, first)
                merged += 1
        return merged

    @staticmethod
    def _merge_nodes(graph: Graph, ctx) -> int:
        # nodes are bucketed by op and inputs first; attribute keys (slower to build) are computed
        # only once a second node lands in the same bucket
        buckets: dict = {}
        attr_keys: dict[int, tuple | None] = {}

        def attrs_of(n):
            k = attr_keys.get(id(n), False)
            if k is False:
                try:
                    k = tuple(sorted(_attr_key(a) for a in n.attributes.values()))
                    hash(k)
                except (_Unhashable, TypeError):
                    k = None
                attr_keys[id(n)] = k
            return k

        merged = 0
        for node in graph:
            if node.graph is not graph or node.op_type in _NOT_PURE or node.domain not in _PURE_DOMAINS:
                continue
            if not node.inputs and node.op_type != "Constant":
                continue
            key = (node.domain, node.op_type, node.overload, tuple(id(v) if v is not None else 0 for v in node.inputs),
                   tuple(bool(o.name or o.uses) for o in node.outputs))
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = node  # a lone node: its attributes need no key yet
                continue
            if not isinstance(bucket, dict):
                lone = bucket
                bucket = buckets[key] = {}
                if attrs_of(lone) is not None:
                    bucket[attrs_of(lone)] = lone
            mine = attrs_of(node)
            if mine is None:
                continue
            first = bucket.get(mine)
            if first is None or any(ctx.is_pinned(o) for o in node.outputs):
                bucket.setdefault(mine, node)
                continue
            moved = False
            for dup, keep in zip(node.outputs, first.outputs):
                if dup.uses:
                    graph.replace_all_uses(dup, keep)
                    moved = True
            merged += moved
        return merged
