"""LatentDirichletAllocation.transform: scikit-learn's E-step replayed in an ONNX Loop (in
double, as scikit-learn computes for its float64 components).

Each document starts from a topic distribution of ones and is updated until the mean
change of its distribution falls below mean_change_tol (or max_doc_update_iter): the Loop
updates every row at once and freezes each row from the iteration where it converged, so
every document gets the iterates scikit-learn's per-document loop gives it. The digamma
function is scikit-learn's own approximation (recurrence up to 6, then the asymptotic
series), unrolled. A batch holding a negative count is NaN (scikit-learn raises).
"""

from __future__ import annotations

import numpy as np
import onnx

from ._context import FLOAT, Ctx, Data, in_double
from ._registry import transformer, unsupported

_EULER = 0.577215664901532860606512090082402431
_EPS64 = float(np.finfo(np.float64).eps)


def _psi(ctx: Ctx, x):
    """sklearn.decomposition._online_lda_fast.psi, elementwise."""
    op = ctx.op
    tiny = op.LessOrEqual(x, ctx.scalar(1e-6))
    near_zero = op.Sub(ctx.scalar(-_EULER), op.Div(ctx.scalar(1.0), x))
    v = op.Where(tiny, ctx.scalar(1.0), x)
    result = op.Mul(v, ctx.scalar(0.0))
    # psi(x + 1) = psi(x) + 1/x: at most six steps take any x > 1e-6 to 6 or more
    for _ in range(6):
        small = op.Less(v, ctx.scalar(6.0))
        result = op.Where(small, op.Sub(result, op.Div(ctx.scalar(1.0), v)), result)
        v = op.Where(small, op.Add(v, ctx.scalar(1.0)), v)
    r = op.Div(ctx.scalar(1.0), v)
    result = op.Add(result, op.Sub(op.Log(v), op.Mul(ctx.scalar(0.5), r)))
    r = op.Mul(r, r)
    series = op.Mul(r, op.Sub(ctx.scalar(1.0 / 12.0),
                              op.Mul(r, op.Sub(ctx.scalar(1.0 / 120.0), op.Mul(r, ctx.scalar(1.0 / 252.0))))))
    result = op.Sub(result, series)
    return op.Where(tiny, near_zero, result)


def _exp_dirichlet(ctx: Ctx, d):
    """exp(psi(d) - psi(sum of d over the row))."""
    return ctx.op.Exp(ctx.op.Sub(_psi(ctx, d), _psi(ctx, ctx.sum(d))))


@transformer("LatentDirichletAllocation")
@in_double
def _lda(ctx, est, x):
    x = ctx.matrix(ctx.float(x))
    beta = np.asarray(est.exp_dirichlet_component_, np.float64)  # (K, F)
    k = beta.shape[0]
    if x.width is not None and x.width != beta.shape[1]:
        raise unsupported(est, f"an input of {x.width} columns (fitted on {beta.shape[1]})")
    xv = x.v
    prior = float(est.doc_topic_prior_)
    tol = float(est.mean_change_tol)
    shape = ctx.op.Concat(ctx.op.Shape(xv, start=0, end=1), ctx.i64([k]), axis=0)
    d0 = ctx.op.Expand(ctx.const(np.ones((1, 1))), shape)
    e0 = _exp_dirichlet(ctx, d0)
    active0 = ctx.op.Expand(ctx.b.const(np.ones((1, 1), dtype=bool)), ctx.op.Concat(
        ctx.op.Shape(xv, start=0, end=1), ctx.i64([1]), axis=0))

    b = ctx.subgraph("lda")
    b.typed("iter", onnx.TensorProto.INT64, [])
    b.typed("cond", onnx.TensorProto.BOOL, [])
    d = b.typed("d", ctx.elem, ["N", k])
    e = b.typed("e", ctx.elem, ["N", k])
    active = b.typed("active", onnx.TensorProto.BOOL, ["N", 1])
    op = b.op
    norm_phi = op.Add(op.MatMul(e, b.const(beta)), b.scalar(_EPS64))  # (N, F)
    new_d = op.Mul(e, op.MatMul(op.Div(xv, norm_phi), b.const(beta.T)))
    new_d = op.Add(new_d, b.scalar(prior))
    new_e = _exp_dirichlet(b, new_d)
    change = op.ReduceMean(op.Abs(op.Sub(d, new_d)), b.i64([1]), keepdims=1)
    d_out = op.Where(active, new_d, d)
    e_out = op.Where(active, new_e, e)
    still = op.And(active, op.Not(op.Less(change, b.scalar(tol))))
    go_on = op.Cast(op.ReduceMax(op.Cast(still, to=onnx.TensorProto.INT32), keepdims=0), to=onnx.TensorProto.BOOL)
    b.result(go_on, "cond_out", np.bool_, [])
    b.result(d_out, "d_out", ctx.dtype, ["N", k])
    b.result(e_out, "e_out", ctx.dtype, ["N", k])
    b.result(still, "active_out", np.bool_, ["N", 1])
    d, _, _ = ctx.op.Loop(ctx.i64(int(est.max_doc_update_iter)), ctx.b.const(np.array(True)), d0, e0, active0,
                          body=b.b.graph, _outputs=3)
    out = ctx.op.Div(d, ctx.sum(d))
    negative = ctx.op.Less(ctx.op.ReduceMin(xv, keepdims=1), ctx.scalar(0.0))
    return Data(ctx.op.Where(negative, ctx.scalar(np.nan), out), FLOAT, k)
