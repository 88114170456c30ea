"""What a lowering works with: the builder, typed values, constants, and TensorFlow's own shapes.

``ctx.op.<OpType>(...)`` emits an ONNX node like ``GraphBuilder.op``, except that a node whose
inputs are all constants is computed at once with nnex's kernels and becomes a constant: the
shape arithmetic TensorFlow graphs are full of (Shape -> StridedSlice -> Pack -> Reshape) and
the weight re-layouts (HWIO -> OIHW) never reach the model, and lowerings can read the values
they need as attributes (axes, permutations) with ``ctx.value``.
"""

from __future__ import annotations

import numpy as np
import onnx

from ...ir import GraphBuilder, Value
from ...ir.tensor import onnx_dtype_of
from ...ir.types import tensor_type
from .. import ConversionError

# never computed at conversion time (random, or a subgraph), whatever their inputs
_NO_FOLD = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                      "Bernoulli", "If", "Loop", "Scan", "SequenceEmpty", "SequenceInsert", "SequenceAt",
                      "SequenceConstruct", "ConcatFromSequence", "SplitToSequence", "SequenceLength"})
# ops whose result can be much larger than their inputs: folded only up to this many elements
_GROWING = frozenset({"ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Pad", "OneHot"})
_GROWTH_LIMIT = 1 << 16


class TensorList:
    """A TensorFlow TensorList (a ``variant`` tensor): either a tensor whose first axis holds the
    elements (``TensorListFromTensor``), or an ONNX sequence that is appended to
    (``TensorListReserve`` + ``TensorListSetItem`` in a loop)."""

    __slots__ = ("dtype", "kind", "value")

    def __init__(self, kind: str, value: Value, dtype: np.dtype):
        self.kind = kind  # "tensor" or "sequence"
        self.value = value
        self.dtype = np.dtype(dtype)

    def __repr__(self) -> str:
        return f"TensorList({self.kind}, {self.value.name}, {self.dtype})"


class _EvalContext:
    """The little of a PassContext that ``evaluate_node`` asks for."""

    def __init__(self, opset: int, info: dict):
        self._opset = opset
        self._info = info

    def opset(self, domain: str = "") -> int:
        return self._opset if domain in ("", "ai.onnx") else 1

    def type_of(self, v):
        got = self._info.get(v)
        if got is None:
            return None
        return tensor_type(onnx_dtype_of(got[0]), None if got[1] is None else list(got[1]))


class _FoldingOps:
    def __init__(self, ctx: Ctx):
        self._ctx = ctx

    def __getattr__(self, op_type: str):
        if op_type.startswith("__"):
            raise AttributeError(op_type)
        ctx = self._ctx

        def make(*inputs, _outputs: int = 1, **attrs):
            out = ctx.b.add_node(op_type, list(inputs), attrs, n_outputs=_outputs)
            folded = ctx._fold(out if _outputs > 1 else (out,))
            if folded is None:
                return out
            return tuple(folded) if _outputs > 1 else folded[0]

        return make


class Ctx:
    """Lowering context of one ONNX graph (the main graph, or a Loop/If body with ``parent``)."""

    def __init__(self, builder: GraphBuilder, opset: int, functions: dict, *, parent: Ctx | None = None,
                 fold: bool = True):
        self.b = builder
        self.opset = opset
        self.parent = parent
        self.root: Ctx = parent.root if parent else self
        self.functions = functions  # FunctionDef name -> FunctionDef (the whole library)
        self.info: dict = parent.info if parent else {}  # Value -> (np dtype, shape tuple or None)
        self._consts: dict = parent._consts if parent else {}
        self.op = _FoldingOps(self)
        self.fold = fold
        self.tf_op = None  # the tf.Operation being lowered (for messages)

    # ---- metadata ---------------------------------------------------------------------------
    def record(self, v: Value, dtype, shape=None) -> Value:
        if isinstance(v, Value) and dtype is not None:
            self.info[v] = (np.dtype(dtype), None if shape is None else tuple(shape))
        return v

    def dtype(self, v) -> np.dtype | None:
        if isinstance(v, TensorList):
            return v.dtype
        got = self.info.get(v)
        if got is not None:
            return got[0]
        if v is not None and v.const is not None:
            return v.const.numpy().dtype
        return None

    def shape(self, v) -> tuple | None:
        """Dims as ints (None where unknown); None when even the rank is unknown."""
        if v is not None and v.const is not None:
            return tuple(v.const.dims)
        got = self.info.get(v)
        return got[1] if got else None

    def rank(self, v) -> int:
        s = self.shape(v)
        if s is None:
            raise ConversionError(f"the rank of {v.name!r} is unknown, and this op needs it")
        return len(s)

    def static_shape(self, v) -> tuple | None:
        s = self.shape(v)
        if s is None or any(d is None for d in s):
            return None
        return tuple(int(d) for d in s)

    # ---- constants --------------------------------------------------------------------------
    def value(self, v) -> np.ndarray | None:
        """The value of ``v`` when it is a constant, else None."""
        if isinstance(v, Value) and v.const is not None:
            return v.const.numpy()
        return None

    def const_value(self, v, what: str) -> np.ndarray:
        got = self.value(v)
        if got is None:
            raise ConversionError(f"{what} must be a constant (it is computed in the graph)")
        return got

    def const(self, value, dtype=None) -> Value:
        """A constant (an initializer of the main graph, readable from every subgraph)."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype.kind in "US":
            arr = arr.astype(object)
        key = None
        if arr.size <= 64 and arr.dtype != object:
            key = (str(arr.dtype), arr.shape, arr.tobytes())
            hit = self._consts.get(key)
            if hit is not None:
                return hit
        v = self.root.b.const(arr)
        self.record(v, arr.dtype, arr.shape)
        if key is not None:
            self._consts[key] = v
        return v

    def ints(self, values) -> Value:
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1))

    def _fold(self, outs) -> list | None:
        if not self.fold:
            return None
        node = outs[0].producer
        if node.op_type in _NO_FOLD or node.subgraphs():
            return None
        arrays = []
        for x in node.inputs:
            if x is None:
                arrays.append(None)
            elif x.const is None:
                return None
            else:
                arrays.append(x.const.numpy())
        from ...passes.evaluate import evaluate_node

        try:
            results = evaluate_node(node, arrays, _EvalContext(self.opset, self.info))
        except Exception:  # noqa: BLE001  (not computable here: the node stays in the graph)
            return None
        if node.op_type in _GROWING:
            grown = sum(r.size for r in results if r is not None)
            if grown > max(_GROWTH_LIMIT, sum(a.size for a in arrays if a is not None)):
                return None
        self.b.graph.remove(node)
        return [None if r is None else self.const(r) for r in results]

    # ---- helpers ------------------------------------------------------------------------------
    def cast(self, v: Value, dtype) -> Value:
        dtype = np.dtype(dtype)
        if self.dtype(v) == dtype:
            return v
        out = self.op.Cast(v, to=onnx_dtype_of(dtype))
        return self.record(out, dtype, self.shape(v))

    def scalar_const(self, x, like: Value) -> Value:
        """A 0-d constant of ``like``'s dtype."""
        return self.const(np.asarray(x, dtype=self.dtype(like) or np.float32))

    def reshape(self, v: Value, shape) -> Value:
        return self.op.Reshape(v, self.ints(shape))

    def transpose(self, v: Value, perm) -> Value:
        perm = [int(p) for p in perm]
        if perm == list(range(len(perm))):
            return v
        out = self.op.Transpose(v, perm=perm)
        s = self.shape(v)
        dt = self.dtype(v)
        if dt is not None:
            self.record(out, dt, None if s is None else [s[p] for p in perm])
        return out

    def unsqueeze(self, v: Value, axes) -> Value:
        return self.op.Unsqueeze(v, self.ints(axes))

    def squeeze(self, v: Value, axes) -> Value:
        return self.op.Squeeze(v, self.ints(axes))

    def shape_of(self, v: Value, dtype=np.int64) -> Value:
        out = self.record(self.op.Shape(v), np.int64, (self.rank(v),) if self.shape(v) is not None else None)
        return self.cast(out, dtype)

    def output(self, builder: GraphBuilder, value: Value, name: str, type_proto=None) -> Value:
        """Declare ``value`` an output of ``builder``'s graph under ``name``, through an Identity when
        the value is not made by a node of that graph (an input, a constant, an outer value)."""
        if value.producer is None or value.producer.graph is not builder.graph or \
                any(value is o for o in builder.graph.outputs) or value.name in (i.name for i in builder.graph.inputs):
            got = self.info.get(value)
            value = builder.op.Identity(value)
            if got is not None:
                self.info[value] = got
        value.name = name
        if type_proto is not None:
            value.type = type_proto
        else:
            dt = self.dtype(value) if self.dtype(value) is not None else None
            if dt is not None:
                s = self.shape(value)
                value.type = tensor_type(onnx_dtype_of(dt), None if s is None else list(s))
        builder.graph.outputs.append(value)
        return value


def sequence_type(dtype) -> onnx.TypeProto:
    return onnx.helper.make_sequence_type_proto(onnx.helper.make_tensor_type_proto(onnx_dtype_of(np.dtype(dtype)),
                                                                                    None))
