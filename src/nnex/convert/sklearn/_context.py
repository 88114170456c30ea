"""The conversion context: one GraphBuilder, the float type of the model, and the
small graph idioms every converter uses (affine maps, softmax, label lookup, ...).

Values flowing between converters are ``Data``: an ONNX Value plus what converters need
to know about it without shape inference (element kind and number of columns).
A pandas DataFrame sample becomes a ``Table`` (one input per column) that only
ColumnTransformer reads by column; everything else sees it concatenated.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

import numpy as np
import onnx

from ...ir import GraphBuilder
from ...ir.graph import Graph
from ...ir.tensor import onnx_dtype_of
from ...ir.types import tensor_type
from ...ir.value import Value
from .. import ConversionError

OPSET = 21
ML_OPSET = 5

FLOAT, INT, STR, BOOL = "float", "int", "str", "bool"
MAP = "map"  # one map(key, number) input (a sample of dicts): only DictVectorizer reads it


@dataclass
class Data:
    """A tensor between converters: 2-D (N, width) unless ``ndim`` says 1-D (N,)."""

    v: Value
    kind: str = FLOAT
    width: int | None = None
    ndim: int = 2


@dataclass
class Table:
    """The columns of a DataFrame sample, each an (N, 1) input, in order."""

    columns: list[tuple[str, Data]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.columns]


@dataclass
class Classified:
    """A classifier's outputs: labels (N,), per-class scores (N, n_classes).

    ``decision`` is decision_function as (N, 1) for two classes or (N, n_classes),
    where the model has one (meta-estimators read it); ``is_proba`` says whether
    ``scores`` is predict_proba. A multilabel model (every target 0/1) has labels and scores
    (N, n_labels), the scores being the probability of label 1. A multi-output model with other
    targets has ``targets`` (the classes of each target), labels (N, n_targets) and scores
    (N, sum of n_classes): each target's predict_proba side by side.
    """

    label: Value
    scores: Value
    classes: np.ndarray
    is_proba: bool = True
    decision: Value | None = None
    multilabel: bool = False
    targets: list | None = None


@dataclass
class Outliers:
    """An outlier detector's outputs: labels (N,) in {-1, 1}, decision_function (N,)."""

    label: Value
    scores: Value


@dataclass
class Neighbors:
    """kneighbors' outputs: indices (N, k) int64 and distances (N, k), nearest first."""

    indices: Value
    distances: Value


class _Builder(GraphBuilder):
    """GraphBuilder whose fresh names carry a prefix, so a Loop body built beside the main
    graph never reuses one of its names (ONNX forbids shadowing across scopes)."""

    def __init__(self, opset, name="main", *, graph=None, prefix=""):
        super().__init__(opset, name, graph=graph)
        self._prefix = prefix
        self._ids = itertools.count()

    def _fresh(self, hint: str) -> str:
        return f"{self._prefix}{hint}_{next(self._ids)}"


class Ctx:
    """Holds the builder and the options of one conversion."""

    def __init__(self, dtype=np.float32, options: dict | None = None, builder: _Builder | None = None,
                 parent: Ctx | None = None):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConversionError(f"dtype must be numpy.float32 or numpy.float64, not {self.dtype}")
        self.options = dict(options or {})
        self.b = builder or _Builder({"": OPSET, "ai.onnx.ml": ML_OPSET})
        self.op = self.b.op
        self.ml = self.b.op("ai.onnx.ml")
        self.parent = parent
        self._sub_ids = itertools.count() if parent is None else parent._sub_ids

    def with_dtype(self, dtype) -> Ctx:
        """The same graph, building in another float type (for a precision-sensitive part)."""
        c = Ctx(dtype, self.options, builder=self.b, parent=self.parent)
        c._sub_ids = self._sub_ids
        return c

    def to_dtype(self, v: Value, dtype) -> Value:
        """v cast to a float type, when it is not already of it."""
        return v if np.dtype(dtype) == self.dtype else self.op.Cast(v, to=onnx_dtype_of(np.dtype(dtype)))

    @property
    def elem(self) -> int:
        return onnx_dtype_of(self.dtype)

    # ------------------------------------------------------------------ constants
    def const(self, a) -> Value:
        """A float constant in the model's float type."""
        return self.b.const(np.asarray(a, dtype=self.dtype))

    def i64(self, a) -> Value:
        return self.b.const(np.asarray(a, dtype=np.int64))

    def scalar(self, x: float) -> Value:
        return self.const(np.asarray(x))

    def consts_like(self, a: np.ndarray) -> Value:
        """A constant keeping its kind: strings stay strings, integers int64, floats float."""
        a = np.asarray(a)
        if a.dtype.kind in "OUS":
            return self.b.const(a.astype(object))
        if a.dtype.kind == "b":
            return self.b.const(a)
        if a.dtype.kind in "iu":
            return self.b.const(a.astype(np.int64))
        return self.const(a)

    # ------------------------------------------------------------------ data
    def float(self, x) -> Data:
        """``x`` as a float matrix of the model's type (a Table is concatenated)."""
        if isinstance(x, Table):
            x = self.concat_table(x)
        if x.kind == FLOAT:
            return x
        if x.kind == MAP:
            raise _map_error()
        if x.kind == STR:
            raise ConversionError("a string input reaches an estimator that needs numbers; encode it first "
                                  "(OneHotEncoder, OrdinalEncoder, a vectorizer) in a ColumnTransformer")
        return Data(self.op.Cast(x.v, to=self.elem), FLOAT, x.width, x.ndim)

    def matrix(self, x) -> Data:
        """``x`` as a 2-D Data of any kind (a Table concatenated, a 1-D input made a column)."""
        if isinstance(x, Table):
            return self.concat_table(x)
        if x.kind == MAP:
            raise _map_error()
        if x.ndim == 1:
            return Data(self.op.Unsqueeze(x.v, self.i64([1])), x.kind, 1)
        return x

    def concat_table(self, t: Table) -> Data:
        kinds = {d.kind for _, d in t.columns}
        if len(kinds) > 1:
            if STR in kinds:
                raise ConversionError(
                    "the DataFrame mixes string and numeric columns; only a ColumnTransformer can take it")
            cols = [self.float(d) for _, d in t.columns]
        else:
            cols = [d for _, d in t.columns]
        vs = [self.matrix(c).v for c in cols]
        v = vs[0] if len(vs) == 1 else self.op.Concat(*vs, axis=1)
        return Data(v, cols[0].kind if len(kinds) == 1 else FLOAT, sum(c.width or 1 for c in cols))

    # ------------------------------------------------------------------ common idioms
    def linear(self, x: Value, w: np.ndarray, b=None) -> Value:
        """x @ w + b for a constant (in, out) matrix ``w``."""
        w = np.asarray(w, dtype=np.float64)
        if b is None:
            return self.op.MatMul(x, self.const(w))
        b = np.broadcast_to(np.asarray(b, dtype=np.float64), (w.shape[1],))
        return self.op.Gemm(x, self.const(w), self.const(b))

    def columns(self, x: Value, idx) -> Value:
        return self.op.Gather(x, self.i64(np.asarray(idx, dtype=np.int64)), axis=1)

    def col(self, x: Value, j: int) -> Value:
        """Column j of a matrix as (N, 1)."""
        return self.op.Slice(x, self.i64([j]), self.i64([j + 1]), self.i64([1]))

    def reduce(self, op: str, x: Value, axis: int = 1, keepdims: int = 1) -> Value:
        return getattr(self.op, op)(x, self.i64([axis]), keepdims=keepdims)

    def sum(self, x: Value, axis: int = 1, keepdims: int = 1) -> Value:
        return self.reduce("ReduceSum", x, axis, keepdims)

    def flat(self, x: Value) -> Value:
        """(N, 1) -> (N,)."""
        return self.op.Reshape(x, self.i64([-1]))

    def as_column(self, x: Value) -> Value:
        """(N,) -> (N, 1)."""
        return self.op.Unsqueeze(x, self.i64([1]))

    def softmax(self, x: Value) -> Value:
        return self.op.Softmax(x, axis=1)

    def normalize_rows(self, x: Value) -> Value:
        return self.op.Div(x, self.sum(x))

    def binary_columns(self, p1: Value) -> Value:
        """(N, 1) probability of class 1 -> (N, 2) [1 - p, p]."""
        return self.op.Concat(self.op.Sub(self.scalar(1.0), p1), p1, axis=1)

    def signed_columns(self, s: Value) -> Value:
        """(N, 1) binary decision score -> (N, 2) [-s, s]."""
        return self.op.Concat(self.op.Neg(s), s, axis=1)

    def labels_from_index(self, idx: Value, classes) -> Value:
        """classes[idx] for an int64 index (N,)."""
        return self.op.Gather(self.b.const(label_array(np.asarray(classes))), idx, axis=0)

    def argmax_labels(self, scores: Value, classes) -> Value:
        return self.labels_from_index(self.op.ArgMax(scores, axis=1, keepdims=0), classes)

    def threshold_labels(self, s: Value, classes, threshold: float = 0.0) -> Value:
        """classes[1] where s > threshold else classes[0], for s (N, 1)."""
        idx = self.op.Cast(self.op.Greater(self.flat(s), self.scalar(threshold)), to=onnx.TensorProto.INT64)
        return self.labels_from_index(idx, classes)

    def where_nan(self, x: Value, fill: Value) -> Value:
        return self.op.Where(self.op.IsNaN(x), fill, x)

    def inverse_link(self, link, raw: Value) -> Value:
        """scikit-learn's ``_loss.link.inverse`` (sklearn._loss.link classes) applied to raw scores."""
        kind = type(link).__name__
        if kind == "IdentityLink":
            return raw
        if kind == "LogLink":
            return self.op.Exp(raw)
        if kind == "LogitLink":
            return self.op.Sigmoid(raw)
        if kind == "HalfLogitLink":
            return self.op.Sigmoid(self.op.Mul(raw, self.scalar(2.0)))
        if kind in ("MultinomialLogit", "SoftmaxLink"):
            return self.softmax(raw)
        raise ConversionError(f"the link function {kind} cannot be converted")

    def cast(self, x: Value, dtype) -> Value:
        return self.op.Cast(x, to=onnx_dtype_of(np.dtype(dtype)))

    # ------------------------------------------------------------------ subgraphs
    def subgraph(self, name: str) -> Ctx:
        """A context building a fresh Graph (a Loop or If body) beside this one."""
        prefix = f"{name}{next(self._sub_ids)}_"
        b = _Builder(self.b.opsets, name, graph=Graph(name), prefix=prefix)
        return Ctx(self.dtype, self.options, builder=b, parent=self)

    def typed(self, name: str, elem, shape) -> Value:
        """A named graph input of a subgraph."""
        v = Value(self.b._fresh(name), tensor_type(elem, shape))
        self.b.graph.inputs.append(v)
        return v

    def annotate(self, v: Value, elem, shape) -> Value:
        """Record v's type in the graph's value_info: shape inference cannot type the output
        of a contrib-domain op, and some standard ops' inference fails on an untyped input."""
        v.type = tensor_type(elem, shape)
        self.b.graph.value_info.append(v)
        return v

    def result(self, v: Value, name: str, dtype, shape) -> Value:
        """A graph output of a subgraph, under a fresh name."""
        return self.b.output(v, self.b._fresh(name), dtype=dtype, shape=shape)


def in_double(fn):
    """Run a converter in double and cast its float outputs back, for computations whose
    float rounding would show (libsvm's sums over support vectors, radius tests, iterations)."""
    @functools.wraps(fn)
    def wrapper(ctx, est, x):
        x = ctx.float(x)
        dctx = ctx.with_dtype(np.float64)
        res = fn(dctx, est, Data(ctx.to_dtype(x.v, np.float64), x.kind, x.width, x.ndim))

        def back(v):
            return v if v is None else dctx.to_dtype(v, ctx.dtype)

        if isinstance(res, Classified):
            return Classified(res.label, back(res.scores), res.classes, res.is_proba, back(res.decision),
                              res.multilabel, res.targets)
        if isinstance(res, Outliers):
            return Outliers(res.label, back(res.scores))
        if isinstance(res, Neighbors):
            return Neighbors(res.indices, back(res.distances))
        return Data(back(res.v) if res.kind == FLOAT else res.v, res.kind, res.width, res.ndim)

    return wrapper


def multi_target(ctx: Ctx, owner, results: list[Classified]) -> Classified:
    """One Classified from one single-target result per output (a multi-output model).

    Every target 0/1: the multilabel form (labels and the probability of label 1, (N, k));
    otherwise labels (N, k) and each target's scores side by side."""
    classes = [np.asarray(r.classes) for r in results]
    if all(len(c) == 2 and c.dtype.kind in "iub" and c.tolist() == [0, 1] for c in classes):
        label = _hcat(ctx, [ctx.as_column(ctx.cast(r.label, np.int64)) for r in results])
        # column 1: the probability of label 1, or the decision s of the [-s, s] pair
        scores = _hcat(ctx, [ctx.col(r.scores, 1) for r in results])
        return Classified(label, scores, np.array([0, 1]), is_proba=all(r.is_proba for r in results),
                          multilabel=True)
    kinds = {label_array(c).dtype for c in classes}
    if len(kinds) > 1:
        raise ConversionError(f"{type(owner).__name__}: the targets' class labels have different types "
                              f"{sorted(str(k) for k in kinds)}; the label output must be one tensor")
    label = _hcat(ctx, [ctx.as_column(r.label) for r in results])
    scores = _hcat(ctx, [r.scores for r in results])
    return Classified(label, scores, classes[0], is_proba=all(r.is_proba for r in results), targets=classes)


def _hcat(ctx: Ctx, vs: list) -> Value:
    return vs[0] if len(vs) == 1 else ctx.op.Concat(*vs, axis=1)


def label_array(classes: np.ndarray) -> np.ndarray:
    """Class labels in the element type the label output uses."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "OUS":
        if not all(isinstance(c, str) for c in classes.tolist()):
            raise ConversionError(f"class labels mix strings and other types: {classes.tolist()[:5]}")
        return classes.astype(object)
    if classes.dtype.kind in "iu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "b":
        return classes
    if classes.dtype.kind == "f":
        return classes.astype(np.float64)
    raise ConversionError(f"class labels of dtype {classes.dtype} are not supported")


def _map_error() -> ConversionError:
    return ConversionError("a sample of dicts (one map input) reaches an estimator that needs a matrix; only "
                           "DictVectorizer reads dicts: put one first")
