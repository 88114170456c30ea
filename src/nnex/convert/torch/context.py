"""What a lowering works with: the builder, the node being lowered, and helpers for constants,
casts, shapes and symbolic sizes."""

from __future__ import annotations

import numpy as np
import sympy
import torch

from ...ir import GraphBuilder, Value
from .. import ConversionError
from .dtypes import np_dtype, onnx_type


class Sym:
    """A symbolic scalar (SymInt, SymFloat, SymBool) computed in the graph as a 0-d tensor
    of ``dtype`` (int64, float64 or bool)."""

    __slots__ = ("dtype", "value")

    def __init__(self, value: Value, dtype: torch.dtype = torch.int64):
        self.value = value
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"Sym({self.value.name}, {self.dtype})"


def static_int(x):
    """``x`` as a Python int when it is one (or a SymInt with a known value), else None."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, torch.SymInt):
        v = x.node.maybe_as_int()
        return None if v is None else int(v)
    return None


class _Ops:
    """``builder.op`` that drops trailing missing inputs: onnxruntime crashes on some ops given
    an empty name for a trailing optional input (LayerNormalization's bias)."""

    def __init__(self, op):
        self._op = op

    def __getattr__(self, name):
        make = getattr(self._op, name)

        def call(*inputs, **kw):
            inputs = list(inputs)
            while inputs and inputs[-1] is None:
                inputs.pop()
            return make(*inputs, **kw)

        return call


class Ctx:
    """Lowering context of one ONNX graph (the main graph or an If/Loop body)."""

    def __init__(self, builder: GraphBuilder, opset: int, *, parent: Ctx | None = None):
        self.b = builder
        self.op = _Ops(builder.op)
        self.opset = opset
        self.parent = parent
        # shared by a graph and its subgraphs: Values are unique objects
        self.info: dict[Value, tuple] = parent.info if parent else {}
        # sympy Symbol -> (Value, dim) whose size it is, or (Value, dim, a, b) for a size a * symbol + b
        self.symbols: dict = parent.symbols if parent else {}
        # a subgraph may read its parents' constants, a parent must not read a subgraph's
        self._consts: dict = dict(parent._consts) if parent else {}
        self._syms: dict = dict(parent._syms) if parent else {}
        self.node = None  # the torch.fx.Node being lowered
        self.dim_names: dict = parent.dim_names if parent else {}  # sympy Symbol -> ONNX dim_param

    # ---- metadata -------------------------------------------------------------------------
    def record(self, v: Value, dtype: torch.dtype | None, shape=None) -> Value:
        if isinstance(v, Value) and dtype is not None:
            self.info[v] = (dtype, None if shape is None else tuple(shape))
        return v

    def dtype(self, v) -> torch.dtype | None:
        if isinstance(v, Sym):
            return v.dtype
        got = self.info.get(v)
        return got[0] if got else None

    def shape(self, v) -> tuple | None:
        """The dims of ``v`` from torch's metadata: ints and SymInts; None when unknown."""
        got = self.info.get(v)
        return got[1] if got else None

    def rank(self, v) -> int:
        s = self.shape(v)
        if s is None:
            raise ConversionError(f"internal: the rank of {v!r} is unknown")
        return len(s)

    def static_shape(self, v) -> list[int] | None:
        """The dims of ``v`` as ints, or None when one of them is symbolic."""
        s = self.shape(v)
        if s is None:
            return None
        dims = [static_int(d) for d in s]
        return None if any(d is None for d in dims) else dims

    @property
    def meta(self):
        return self.node.meta.get("val")

    @property
    def out_dtype(self) -> torch.dtype:
        m = self.meta
        if isinstance(m, (tuple, list)):
            m = m[0]
        return m.dtype

    @property
    def out_shape(self) -> tuple:
        m = self.meta
        if isinstance(m, (tuple, list)):
            m = m[0]
        return tuple(m.shape)

    def used(self, i: int) -> bool:
        """Whether output ``i`` of the node being lowered is read."""
        import operator

        return any(u.target is operator.getitem and u.args[1] == i and len(u.users) > 0 for u in self.node.users)

    # ---- constants ------------------------------------------------------------------------
    def const(self, value, dtype: torch.dtype | None = None) -> Value:
        """A constant of ``dtype`` (torch dtype; inferred from ``value`` when None)."""
        if isinstance(value, torch.Tensor):
            from .dtypes import to_numpy

            dtype = dtype or value.dtype
            arr = to_numpy(value.to(dtype))
        else:
            if dtype is None:
                arr0 = np.asarray(value)
                dtype = {"b": torch.bool, "i": torch.int64, "u": torch.int64}.get(arr0.dtype.kind, torch.float32)
            arr = np.asarray(value, dtype=np_dtype(dtype))
        key = None
        if arr.size <= 64:
            key = (str(arr.dtype), arr.shape, arr.tobytes())
            hit = self._consts.get(key)
            if hit is not None:
                return hit
        v = self.b.const(arr)
        self.record(v, dtype, arr.shape)
        if key is not None:
            self._consts[key] = v
        return v

    def full(self, shape: Value, value, dtype: torch.dtype) -> Value:
        """A tensor of ``shape`` (a 1-D int64 Value) filled with ``value``."""
        if isinstance(value, (Value, Sym)):
            return self.record(self.op.Expand(self.tensor(value, dtype), shape), dtype)
        fill = np.asarray([value], dtype=np_dtype(dtype))
        return self.record(self.op.ConstantOfShape(shape, value=fill), dtype)

    def ints(self, values) -> Value:
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1), torch.int64)

    # ---- casts and scalars ----------------------------------------------------------------
    def cast(self, v, dtype: torch.dtype) -> Value:
        """``v`` (Value, Sym or Python number) as a tensor of ``dtype``."""
        if not isinstance(v, (Value, Sym)):
            return self.const(v, dtype)
        if isinstance(v, Sym):
            v, have = v.value, v.dtype
            if v not in self.info:
                self.record(v, have, ())
        else:
            have = self.dtype(v)
        if have == dtype:
            return v
        out = self.op.Cast(v, to=onnx_type(dtype))
        shape = self.shape(v) if isinstance(v, Value) else None
        return self.record(out, dtype, shape)

    def tensor(self, x, dtype: torch.dtype | None = None) -> Value:
        """A Value for a tensor argument that may also be a number or a Sym."""
        if isinstance(x, Value):
            return x if dtype is None else self.cast(x, dtype)
        if isinstance(x, Sym):
            return self.cast(x, dtype or x.dtype)
        if isinstance(x, torch.SymInt | torch.SymFloat | torch.SymBool):
            return self.tensor(self.sym(x), dtype)
        return self.const(x, dtype)

    # ---- shapes ---------------------------------------------------------------------------
    def shape_of(self, v: Value, start: int | None = None, end: int | None = None) -> Value:
        kw = {}
        if start is not None:
            kw["start"] = start
        if end is not None:
            kw["end"] = end
        out = self.op.Shape(v, **kw)
        return self.record(out, torch.int64)

    def size(self, v: Value, dim: int):
        """Dim ``dim`` of ``v``: an int when torch knows it, else a Sym."""
        s = self.shape(v)
        if s is not None:
            r = len(s)
            d = s[dim % r] if r else None
            n = static_int(d)
            if n is not None:
                return n
            if isinstance(d, torch.SymInt):
                return self.sym(d)
            dim = dim % r
        one = self.shape_of(v, dim, dim + 1) if dim != -1 else self.shape_of(v, -1)
        return Sym(self.op.Squeeze(one, self.ints([0])))

    def size_vec(self, sizes) -> Value:
        """A 1-D int64 Value from a list of ints, Syms, SymInts or 0-d/1-d int64 Values."""
        parts: list = []
        run: list[int] = []
        for s in sizes:
            n = static_int(s)
            if n is not None:
                run.append(n)
                continue
            if isinstance(s, torch.SymInt):
                s = self.sym(s)
            if run:
                parts.append(self.ints(run))
                run = []
            if isinstance(s, (Sym, Value)):
                parts.append(self.op.Reshape(self.cast(s, torch.int64), self.ints([1])))
            else:
                raise ConversionError(f"internal: unexpected size {s!r}")
        if run:
            parts.append(self.ints(run))
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return self.ints([])
        return self.record(self.op.Concat(*parts, axis=0), torch.int64)

    def shape_vec(self, shape) -> Value:
        """The 1-D int64 Value of a torch shape (ints and SymInts)."""
        return self.size_vec(list(shape))

    # ---- symbolic sizes -------------------------------------------------------------------
    def sym(self, s):
        """An int for a SymInt whose value torch knows, else a Sym computed from the inputs' dims."""
        n = static_int(s)
        if n is not None:
            return n
        if isinstance(s, (int, float, bool)):
            return s
        if isinstance(s, torch.SymFloat):
            v = s.node.maybe_as_float() if hasattr(s.node, "maybe_as_float") else None
            if v is not None:
                return v
        expr = s.node.expr if hasattr(s, "node") else s
        return self._sym_expr(sympy.sympify(expr))

    def _sym_expr(self, e):
        if e in self._syms:
            return self._syms[e]
        out = self._sym_expr_uncached(e)
        if isinstance(out, Sym):
            self._syms[e] = out
        return out

    def _sym_expr_uncached(self, e):
        from torch.utils._sympy import functions as F

        if e.is_Integer:
            return int(e)
        if e.is_Number:
            return float(e)
        if e.is_Symbol:
            src = self.symbols.get(e)
            if src is None:
                raise ConversionError(f"the symbolic size {e} comes from no input dimension")
            v, dim = src[:2]
            one = self.shape_of(v, dim, dim + 1)
            size = Sym(self.record(self.op.Squeeze(one, self.ints([0])), torch.int64, ()))
            if len(src) == 4:  # the dim is a * e + b
                a, b = src[2:]
                size = self.sym_binary("floordiv", self.sym_binary("sub", size, b), a)
            return size
        args = [self._sym_expr(a) for a in e.args]
        if isinstance(e, sympy.Add):
            return _fold(self, "Add", args)
        if isinstance(e, sympy.Mul):
            return _fold(self, "Mul", args)
        if isinstance(e, F.FloorDiv):
            return self.sym_binary("floordiv", *args)
        if isinstance(e, (F.Mod, F.PythonMod)):
            return self.sym_binary("mod", *args)
        if isinstance(e, F.CleanDiv):
            return self.sym_binary("floordiv", *args)
        if isinstance(e, (sympy.Max, F.Max)):
            return _fold(self, "Max", args)
        if isinstance(e, (sympy.Min, F.Min)):
            return _fold(self, "Min", args)
        kind = type(e).__name__
        if kind in ("IntTrueDiv", "FloatTrueDiv"):
            return self.sym_binary("truediv", *args)
        if kind == "ToFloat":
            return Sym(self.cast(args[0], torch.float64), torch.float64) if isinstance(args[0], Sym) else float(args[0])
        if kind in ("FloorToInt", "CeilToInt", "TruncToInt") and isinstance(args[0], Sym):
            v = self.cast(args[0], torch.float64)
            if kind == "TruncToInt":
                v = self.op.Where(self.op.Less(v, self.const(0.0, torch.float64)), self.op.Ceil(v), self.op.Floor(v))
            else:
                v = self.op.Floor(v) if kind == "FloorToInt" else self.op.Ceil(v)
            return Sym(self.cast(self.record(v, torch.float64, ()), torch.int64), torch.int64)
        if isinstance(e, sympy.Pow) and e.args[1].is_Integer and int(e.args[1]) >= 0:
            out = 1
            for _ in range(int(e.args[1])):
                out = self.sym_binary("mul", out, args[0])
            return out
        raise ConversionError(f"cannot compute the symbolic size {e} in ONNX")

    def sym_binary(self, kind: str, a, b):
        """Python's int/float arithmetic on ints and Syms; folds when both are Python numbers."""
        import operator

        py = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "floordiv": operator.floordiv,
              "mod": operator.mod, "truediv": operator.truediv, "max": max, "min": min, "pow": operator.pow}
        if not isinstance(a, Sym) and not isinstance(b, Sym):
            return py[kind](a, b)
        is_float = kind == "truediv" or any(
            (isinstance(x, Sym) and x.dtype.is_floating_point) or isinstance(x, float) for x in (a, b))
        dt = torch.float64 if is_float else torch.int64
        x, y = self.cast(a, dt), self.cast(b, dt)
        op = self.op
        if kind == "floordiv":
            out = op.Floor(op.Div(x, y)) if is_float else op.Div(op.Sub(x, op.Mod(x, y)), y)
        elif kind == "mod":
            out = op.Mod(x, y, fmod=1 if is_float else 0)
            if is_float:  # Python's sign convention: the result takes the divisor's sign
                fix = op.And(op.Not(op.Equal(out, self.const(0.0, dt))),
                             op.Not(op.Equal(op.Less(out, self.const(0.0, dt)), op.Less(y, self.const(0.0, dt)))))
                out = op.Where(fix, op.Add(out, y), out)
        else:
            name = {"add": "Add", "sub": "Sub", "mul": "Mul", "truediv": "Div", "max": "Max", "min": "Min",
                    "pow": "Pow"}[kind]
            out = getattr(op, name)(x, y)
        return Sym(self.record(out, dt, ()), dt)


def _fold(ctx: Ctx, name: str, args):
    kind = {"Add": "add", "Mul": "mul", "Max": "max", "Min": "min"}[name]
    out = args[0]
    for a in args[1:]:
        out = ctx.sym_binary(kind, out, a)
    return out
