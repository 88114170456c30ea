"""Kernel SVMs (libsvm): SVC, NuSVC, SVR, NuSVR, OneClassSVM.

Decision values are libsvm's one-vs-one values, one MatMul of the kernel matrix with a
(support vectors, pairs) coefficient matrix. SVC's probabilities follow libsvm exactly:
Platt's sigmoid per pair, then for more than two classes the pairwise coupling of Wu,
Lin and Weng iterated as libsvm iterates it (a Loop over at most max(100, k) rounds, each
sample stopping at libsvm's own tolerance), so predict_proba matches to rounding.
"""

from __future__ import annotations

import numpy as np
import onnx

from ._context import Classified, Ctx, Data, Outliers, in_double
from ._kernels import kernel
from ._registry import predictor, unsupported

_MIN_PROB = 1e-7


def _kernel_matrix(ctx: Ctx, est, x) -> object:
    if callable(est.kernel) or est.kernel == "precomputed":
        raise unsupported(est, f"kernel={est.kernel!r}")
    if getattr(est, "_sparse", False):
        raise unsupported(est, "a model fitted on sparse data")
    return kernel(ctx, x, est.support_vectors_, est.kernel, gamma=est._gamma, coef0=est.coef0, degree=est.degree)


def _pairs(k: int):
    return [(i, j) for i in range(k) for j in range(i + 1, k)]


def ovo_decision(ctx: Ctx, est, x) -> object:
    """libsvm's decision values (N, n_pairs), pair (i, j) positive when i wins."""
    n_support = np.asarray(est._n_support)
    k = len(n_support)
    start = np.concatenate([[0], np.cumsum(n_support)])
    dual = np.asarray(est._dual_coef_, dtype=np.float64)
    pairs = _pairs(k)
    coef = np.zeros((dual.shape[1], len(pairs)))
    for p, (i, j) in enumerate(pairs):
        coef[start[i]:start[i + 1], p] = dual[j - 1, start[i]:start[i + 1]]
        coef[start[j]:start[j + 1], p] = dual[i, start[j]:start[j + 1]]
    intercept = np.asarray(est._intercept_, np.float64)
    if est.kernel == "linear" and not getattr(est, "_sparse", False):
        # fold the support vectors into one weight matrix: fewer roundings, no cancellation
        # between large dual coefficients in float
        return ctx.linear(x, np.asarray(est.support_vectors_, np.float64).T @ coef, intercept)
    return ctx.op.Add(ctx.op.MatMul(_kernel_matrix(ctx, est, x), ctx.const(coef)), ctx.const(intercept))


def _votes(ctx: Ctx, dec, k: int):
    """(N, k) one-vs-one votes: pair (i, j) votes i when its value is > 0 (libsvm's rule)."""
    pairs = _pairs(k)
    win_i = np.zeros((len(pairs), k))
    win_j = np.zeros((len(pairs), k))
    for p, (i, j) in enumerate(pairs):
        win_i[p, i] = 1
        win_j[p, j] = 1
    pos = ctx.op.Cast(ctx.op.Greater(dec, ctx.scalar(0.0)), to=ctx.elem)
    neg = ctx.op.Sub(ctx.scalar(1.0), pos)
    return ctx.op.Add(ctx.op.MatMul(pos, ctx.const(win_i)), ctx.op.MatMul(neg, ctx.const(win_j)))


def _ovr_decision(ctx: Ctx, dec, k: int):
    """sklearn.utils.multiclass._ovr_decision_function(dec < 0, -dec, k)."""
    pairs = _pairs(k)
    conf = np.zeros((len(pairs), k))
    win_i = np.zeros((len(pairs), k))
    win_j = np.zeros((len(pairs), k))
    for p, (i, j) in enumerate(pairs):
        conf[p, i], conf[p, j] = 1.0, -1.0
        win_i[p, i] = 1
        win_j[p, j] = 1
    neg = ctx.op.Cast(ctx.op.Less(dec, ctx.scalar(0.0)), to=ctx.elem)
    pos = ctx.op.Sub(ctx.scalar(1.0), neg)
    votes = ctx.op.Add(ctx.op.MatMul(pos, ctx.const(win_i)), ctx.op.MatMul(neg, ctx.const(win_j)))
    s = ctx.op.MatMul(dec, ctx.const(conf))
    t = ctx.op.Div(s, ctx.op.Mul(ctx.op.Add(ctx.op.Abs(s), ctx.scalar(1.0)), ctx.scalar(3.0)))
    return ctx.op.Add(votes, t)


def _pairwise_probabilities(ctx: Ctx, est, dec):
    """r[:, p] = P(i beats j) for pair p = (i, j), Platt-scaled and clipped as libsvm does."""
    a = ctx.const(np.asarray(est._probA, np.float64).reshape(1, -1))
    b = ctx.const(np.asarray(est._probB, np.float64).reshape(1, -1))
    r = ctx.op.Sigmoid(ctx.op.Neg(ctx.op.Add(ctx.op.Mul(dec, a), b)))
    return ctx.op.Clip(r, ctx.scalar(_MIN_PROB), ctx.scalar(1 - _MIN_PROB))


def _couple(ctx: Ctx, r, k: int):
    """libsvm's multiclass_probability on every row: (N, n_pairs) -> (N, k)."""
    pairs = _pairs(k)
    # R[n, t, j] = r_tj (probability that t beats j); R[n, j, t] = 1 - r_tj
    to_r = np.zeros((len(pairs), k * k))
    ones = np.zeros(k * k)
    for p, (i, j) in enumerate(pairs):
        to_r[p, i * k + j] = 1.0
        to_r[p, j * k + i] = -1.0
        ones[j * k + i] = 1.0
    rm = ctx.op.Reshape(ctx.op.Add(ctx.op.MatMul(r, ctx.const(to_r)), ctx.const(ones)), ctx.i64([-1, k, k]))
    rt = ctx.op.Transpose(rm, perm=[0, 2, 1])  # rt[n, t, j] = r_jt
    off = ctx.op.Neg(ctx.op.Mul(rt, rm))  # Q[t][j] = -r_jt r_tj
    eye = np.eye(k)
    diag = ctx.reduce("ReduceSum", ctx.op.Mul(ctx.op.Mul(rt, rt), ctx.const(1 - eye)), axis=2, keepdims=0)
    q = ctx.op.Add(ctx.op.Mul(off, ctx.const(1 - eye)),
                   ctx.op.Mul(ctx.op.Unsqueeze(diag, ctx.i64([2])), ctx.const(eye)))

    eps = 0.005 / k
    body = ctx.subgraph("coupling")
    body.typed("iter", onnx.TensorProto.INT64, [])
    body.typed("cond", onnx.TensorProto.BOOL, [])
    p = body.typed("p", ctx.elem, ["N", k])
    op = body.op
    qp = op.Squeeze(op.MatMul(q, op.Unsqueeze(p, body.i64([2]))), body.i64([2]))
    pqp = body.sum(op.Mul(p, qp))
    err = body.reduce("ReduceMax", op.Abs(op.Sub(qp, pqp)))
    active = op.GreaterOrEqual(err, body.scalar(eps))
    for t in range(k):
        qp_t = body.col(qp, t)
        q_tt = op.Slice(diag, body.i64([t]), body.i64([t + 1]), body.i64([1]))
        diff = op.Div(op.Sub(pqp, qp_t), q_tt)
        diff = op.Where(active, diff, body.scalar(0.0))
        onehot = np.zeros((1, k))
        onehot[0, t] = 1.0
        p = op.Add(p, op.Mul(diff, body.const(onehot)))
        one_d = op.Add(diff, body.scalar(1.0))
        pqp = op.Div(op.Div(op.Add(pqp, op.Mul(diff, op.Add(op.Mul(diff, q_tt), op.Mul(qp_t, body.scalar(2.0))))),
                            one_d), one_d)
        q_t = op.Squeeze(op.Slice(q, body.i64([t]), body.i64([t + 1]), body.i64([1])), body.i64([1]))
        qp = op.Div(op.Add(qp, op.Mul(diff, q_t)), one_d)
        p = op.Div(p, one_d)
    go_on = op.Cast(body.reduce("ReduceMax", op.Cast(active, to=onnx.TensorProto.INT64), axis=0, keepdims=0),
                    to=onnx.TensorProto.BOOL)
    body.result(op.Reshape(go_on, body.i64([])), "cond_out", np.bool_, [])
    body.result(p, "p_out", ctx.dtype, ["N", k])

    n_rows = ctx.op.Shape(r, start=0, end=1)
    p0 = ctx.op.Expand(ctx.const(np.full((1, k), 1.0 / k)), ctx.op.Concat(n_rows, ctx.i64([k]), axis=0))
    return ctx.op.Loop(ctx.i64(max(100, k)), ctx.b.const(np.array(True)), p0, body=body.b.graph)


@predictor("SVC", "NuSVC")
@in_double
def _svc(ctx, est, x):
    x = ctx.float(x)
    classes = np.asarray(est.classes_)
    k = len(classes)
    dec = ovo_decision(ctx, est, x.v)
    if k == 2:
        # libsvm's vote: class 0 when the value is > 0
        idx = ctx.op.Cast(ctx.op.LessOrEqual(ctx.flat(dec), ctx.scalar(0.0)), to=onnx.TensorProto.INT64)
        label = ctx.labels_from_index(idx, classes)
    elif est.break_ties and est.decision_function_shape == "ovr":
        label = ctx.argmax_labels(_ovr_decision(ctx, dec, k), classes)
    else:
        label = ctx.argmax_labels(_votes(ctx, dec, k), classes)
    if k == 2:
        decision = ctx.op.Neg(dec)
    else:
        decision = _ovr_decision(ctx, dec, k) if est.decision_function_shape == "ovr" else dec
    if getattr(est, "_effective_probability", getattr(est, "probability", False)) is True:
        r = _pairwise_probabilities(ctx, est, dec)
        # scikit-learn's libsvm couples two classes too (newer libsvm returns r directly)
        proba = _couple(ctx, r, k)
        return Classified(label, proba, classes, decision=decision)
    scores = ctx.signed_columns(decision) if k == 2 else decision
    return Classified(label, scores, classes, is_proba=False, decision=decision)


@predictor("SVR", "NuSVR")
@in_double
def _svr(ctx, est, x):
    x = ctx.float(x)
    return Data(ctx.flat(ovo_decision(ctx, est, x.v)), ndim=1)


@predictor("OneClassSVM")
@in_double
def _one_class_svm(ctx, est, x):
    x = ctx.float(x)
    dec = ctx.flat(ovo_decision(ctx, est, x.v))
    label = ctx.op.Where(ctx.op.Greater(dec, ctx.scalar(0.0)), ctx.i64(1), ctx.i64(-1))
    return Outliers(label, dec)
