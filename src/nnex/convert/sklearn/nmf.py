"""NMF and MiniBatchNMF transform: the W that scikit-learn's own solver finds for the fixed
components H, replayed step by step in an ONNX Loop (in double, as scikit-learn computes
for float64 input).

* NMF, solver "cd": coordinate descent from W = 0, one pass over the components per
  iteration (in scikit-learn's order, or its seeded permutations when shuffle=True),
  stopping when the projected-gradient violation falls to tol times the first one.
* NMF, solver "mu": multiplicative updates from W = sqrt(mean(X) / k), the beta-divergence
  checked every 10 iterations against tol; for the Kullback-Leibler loss the L1 term
  accumulates into the cached H row sums from one iteration to the next, as it does in
  scikit-learn (the cache is updated in place).
* MiniBatchNMF: multiplicative updates from the same start, stopping when the relative
  change of W falls to tol.

W's start and the stopping tests read the whole batch (mean(X), norms over every row), as
scikit-learn's do: a row's result depends on the rows transformed with it, in ONNX as in
scikit-learn. Where NMF.transform raises (a negative X; a zero with beta_loss <= 0) the
output is NaN.
"""

from __future__ import annotations

import numpy as np
import onnx

from ._context import FLOAT, Ctx, Data, in_double
from ._registry import transformer, unsupported

# scikit-learn's EPSILON in _nmf.py
_EPS = float(np.finfo(np.float32).eps)
_EPS64 = float(np.finfo(np.float64).eps)


def _gamma(beta: float) -> float:
    """The Maximization-Minimization exponent scikit-learn uses for a beta-divergence."""
    if beta < 1:
        return 1.0 / (2.0 - beta)
    if beta > 2:
        return 1.0 / (beta - 1.0)
    return 1.0


def _regularization(est, n_features: int) -> tuple[float, float]:
    """(l1, l2) for W: scaled by the number of features only."""
    l1, _, l2, _ = est._compute_regularization(np.zeros((1, n_features)))
    return float(l1), float(l2)


def _inputs(ctx: Ctx, est, x):
    x = ctx.matrix(ctx.float(x))
    h = np.asarray(est.components_, np.float64)
    if x.width is not None and x.width != h.shape[1]:
        raise unsupported(est, f"an input of {x.width} columns (fitted on {h.shape[1]})")
    return x.v, h


def _clip_below(ctx: Ctx, v, floor: float):
    """v with the entries below ``floor`` set to it (scikit-learn's ``v[v < floor] = floor``)."""
    return ctx.op.Where(ctx.op.Less(v, ctx.scalar(floor)), ctx.scalar(floor), v)


def _mean_start(ctx: Ctx, x, k: int):
    """W filled with sqrt(mean(X) / k) (N, k)."""
    mean = ctx.op.ReduceMean(x, keepdims=1)  # (1, 1): every entry of the batch
    avg = ctx.op.Sqrt(ctx.op.Div(mean, ctx.scalar(k)))
    shape = ctx.op.Concat(ctx.op.Shape(x, start=0, end=1), ctx.i64([k]), axis=0)
    return ctx.op.Expand(avg, shape)


# ------------------------------------------------------------------ multiplicative update


def _mu_step(b: Ctx, x, w, h: np.ndarray, beta: float, l1: float, l2: float, h_sum=None, xht=None):
    """scikit-learn's _multiplicative_update_w: (new W, H row sums after the call).

    ``h_sum`` is the cached (1, k) row sums of H for beta = 1 (None: fresh each call);
    ``xht`` X H^T for beta = 2 when computed once outside the loop."""
    op = b.op
    if beta == 2:
        numerator = op.MatMul(x, b.const(h.T)) if xht is None else xht
        denominator = op.MatMul(w, b.const(h @ h.T))
    else:
        wh = op.MatMul(w, b.const(h))
        wh_safe = _clip_below(b, wh, _EPS) if beta < 2 else wh
        if beta == 1:
            ratio = op.Div(x, wh_safe)
        elif beta == 0:
            inv = op.Div(b.scalar(1.0), wh_safe)
            ratio = op.Mul(op.Mul(inv, inv), x)
        else:
            ratio = op.Mul(op.Pow(wh_safe, b.scalar(beta - 2.0)), x)
        numerator = op.MatMul(ratio, b.const(h.T))
        if beta == 1:
            if h_sum is None:
                h_sum = b.const(h.sum(axis=1)[None, :])
            denominator = h_sum
        else:
            wh_den = _clip_below(b, wh, _EPS) if beta < 1 else wh
            denominator = op.MatMul(op.Pow(wh_den, b.scalar(beta - 1.0)), b.const(h.T))
    if l1 > 0:
        denominator = op.Add(denominator, b.scalar(l1))
        if beta == 1:
            h_sum = denominator  # scikit-learn adds in place to the cached row sums
    if l2 > 0:
        denominator = op.Add(denominator, op.Mul(w, b.scalar(l2)))
    zero = op.Equal(denominator, b.scalar(0.0))
    denominator = op.Where(zero, b.scalar(_EPS), denominator)
    if beta == 1 and l2 <= 0:
        h_sum = denominator  # the zero fix lands in the cache too when no L2 term copied it
    delta = op.Div(numerator, denominator)
    gamma = _gamma(beta)
    if gamma != 1:
        delta = op.Pow(delta, b.scalar(gamma))
    return op.Mul(w, delta), h_sum


def _beta_divergence(b: Ctx, x, w, h: np.ndarray, beta: float):
    """scikit-learn's _beta_divergence(X, W, H, beta, square_root=True) as a (1, 1) value."""
    op = b.op
    wh = op.MatMul(w, b.const(h))
    total = (lambda v: op.ReduceSum(v, keepdims=1))
    if beta == 2:
        d = op.Sub(x, wh)
        res = op.Div(total(op.Mul(d, d)), b.scalar(2.0))
        return op.Sqrt(op.Mul(res, b.scalar(2.0)))
    # only the entries where X > EPSILON count, with W H clipped at EPSILON
    keep = op.Greater(x, b.scalar(_EPS))
    zero = b.scalar(0.0)
    x_safe = op.Where(keep, x, b.scalar(1.0))
    wh_d = _clip_below(b, wh, _EPS)
    if beta == 1:
        sum_wh = op.MatMul(op.ReduceSum(w, b.i64([0]), keepdims=1), b.const(h.sum(axis=1)[:, None]))
        res = total(op.Where(keep, op.Mul(x, op.Log(op.Div(x_safe, wh_d))), zero))
        res = op.Sub(op.Add(res, sum_wh), total(op.Where(keep, x, zero)))
    elif beta == 0:
        div = op.Div(x_safe, wh_d)
        n_entries = op.Cast(op.ReduceProd(op.Shape(x), keepdims=1), to=b.elem)
        res = op.Sub(op.Sub(total(op.Where(keep, div, zero)), op.Unsqueeze(n_entries, b.i64([0]))),
                     total(op.Where(keep, op.Log(div), zero)))
    else:
        sum_wh_beta = total(op.Pow(wh, b.scalar(beta)))
        sum_x_wh = total(op.Where(keep, op.Mul(x, op.Pow(wh_d, b.scalar(beta - 1.0))), zero))
        res = op.Sub(total(op.Where(keep, op.Pow(x_safe, b.scalar(beta)), zero)), op.Mul(sum_x_wh, b.scalar(beta)))
        res = op.Add(res, op.Mul(sum_wh_beta, b.scalar(beta - 1.0)))
        res = op.Div(res, b.scalar(beta * (beta - 1.0)))
    res = op.Max(res, zero)
    return op.Sqrt(op.Mul(res, b.scalar(2.0)))


def _loop(ctx: Ctx, max_iter: int, states: list, body_fn, names: list[str]):
    """An ONNX Loop of at most ``max_iter`` iterations carrying ``states`` (name, value, shape);
    ``body_fn(b, i, values) -> (go_on, new values)``."""
    b = ctx.subgraph("nmf")
    i = b.typed("iter", onnx.TensorProto.INT64, [])
    b.typed("cond", onnx.TensorProto.BOOL, [])
    carried = [b.typed(n, ctx.elem, shape) for n, (_, shape) in zip(names, states)]
    go_on, new = body_fn(b, i, carried)
    b.result(b.op.Reshape(go_on, b.i64([])), "cond_out", np.bool_, [])
    for n, v, (_, shape) in zip(names, new, states):
        b.result(v, f"{n}_out", ctx.dtype, shape)
    outs = ctx.op.Loop(ctx.i64(max_iter), ctx.b.const(np.array(True)), *[v for v, _ in states], body=b.b.graph,
                       _outputs=len(states))
    return outs if isinstance(outs, (list, tuple)) else [outs]


def _nmf_mu(ctx: Ctx, est, x, h: np.ndarray):
    k = h.shape[0]
    beta = float(est._beta_loss)
    l1, l2 = _regularization(est, h.shape[1])
    w0 = _mean_start(ctx, x, k)
    err0 = _beta_divergence(ctx, x, w0, h, beta)
    check = est.tol > 0
    xht = ctx.op.MatMul(x, ctx.const(h.T)) if beta == 2 else None
    accumulate = beta == 1  # the cached H row sums are carried (and changed) across iterations
    states = [(w0, ["N", k]), (err0, [1, 1])]
    if accumulate:
        states.append((ctx.const(h.sum(axis=1)[None, :]), [1, k]))

    def body(b, i, vals):
        w, previous = vals[0], vals[1]
        w, h_sum = _mu_step(b, x, w, h, beta, l1, l2, vals[2] if accumulate else None, xht)
        if beta < 1:
            w = _zero_small(b, w)
        # every 10th iteration: stop when the divergence decreased by less than tol * its start
        n_iter = b.op.Add(i, b.i64(1))
        tenth = b.op.Equal(b.op.Mod(n_iter, b.i64(10)), b.i64(0))
        if check:
            error = _beta_divergence(b, x, w, h, beta)
            small = b.op.Less(b.op.Div(b.op.Sub(previous, error), err0), b.scalar(float(est.tol)))
            stop = b.op.And(tenth, small)
            previous = b.op.Where(tenth, error, previous)
        else:
            stop = b.b.const(np.array(False))
        new = [w, previous] + ([h_sum] if accumulate else [])
        return b.op.Not(stop), new

    return _loop(ctx, int(est.max_iter), states, body, ["w", "err", "hsum"][:len(states)])[0]


def _zero_small(b: Ctx, w):
    """``W[W < float64 eps] = 0``: scikit-learn's stabilisation for beta_loss < 1."""
    return b.op.Where(b.op.Less(w, b.scalar(_EPS64)), b.scalar(0.0), w)


# ------------------------------------------------------------------ coordinate descent


def _orders(est, k: int) -> np.ndarray:
    """The component order of each iteration (max_iter, k), or one row when it never changes."""
    if not est.shuffle:
        return np.arange(k, dtype=np.int64)[None, :]
    rs = est.random_state
    if not isinstance(rs, (int, np.integer)) or isinstance(rs, bool):
        raise unsupported(est, "shuffle=True without an integer random_state (the order is random at each call)")
    rng = np.random.RandomState(int(rs))
    return np.stack([rng.permutation(k) for _ in range(int(est.max_iter))]).astype(np.int64)


def _nmf_cd(ctx: Ctx, est, x, h: np.ndarray):
    k = h.shape[0]
    l1, l2 = _regularization(est, h.shape[1])
    ht = np.ascontiguousarray(h.T)
    hht = np.dot(ht.T, ht)
    if l2 != 0:
        hht.flat[:: k + 1] += l2
    xht = ctx.op.MatMul(x, ctx.const(ht))
    if l1 != 0:
        xht = ctx.op.Sub(xht, ctx.scalar(l1))
    orders = _orders(est, k)
    shape = ctx.op.Concat(ctx.op.Shape(x, start=0, end=1), ctx.i64([k]), axis=0)
    w0 = ctx.op.Expand(ctx.const(np.zeros((1, 1))), shape)
    tol = float(est.tol)

    def body(b, i, vals):
        w, v_init = vals
        op = b.op
        row = op.Gather(b.i64(orders), i if len(orders) > 1 else b.i64(0), axis=0)  # (k,)
        violation = b.scalar(0.0)
        for s in range(k):
            t = op.Gather(row, b.i64([s]), axis=0)  # (1,)
            h_row = op.Transpose(op.Gather(b.const(hht), t, axis=0))  # (k, 1)
            hess = op.Gather(b.const(np.diag(hht).copy()), t, axis=0)  # (1,)
            w_t = op.Gather(w, t, axis=1)  # (N, 1)
            grad = op.Sub(op.MatMul(w, h_row), op.Gather(xht, t, axis=1))
            pg = op.Where(op.Equal(w_t, b.scalar(0.0)), op.Min(grad, b.scalar(0.0)), grad)
            violation = op.Add(violation, op.ReduceSum(op.Abs(pg), keepdims=1))
            flat = op.Equal(hess, b.scalar(0.0))  # scikit-learn skips a zero Hessian
            stepped = op.Max(op.Sub(w_t, op.Div(grad, op.Where(flat, b.scalar(1.0), hess))), b.scalar(0.0))
            new_t = op.Where(flat, w_t, stepped)
            column = op.Equal(b.i64(np.arange(k)[None, :]), op.Unsqueeze(t, b.i64([0])))  # (1, k)
            w = op.Where(column, new_t, w)
        v_init = op.Where(op.Equal(i, b.i64(0)), violation, v_init)
        stop = op.Or(op.Equal(v_init, b.scalar(0.0)), op.LessOrEqual(op.Div(violation, v_init), b.scalar(tol)))
        return op.Not(stop), [w, v_init]

    return _loop(ctx, int(est.max_iter), [(w0, ["N", k]), (ctx.const(np.zeros((1, 1))), [1, 1])], body,
                 ["w", "vinit"])[0]


def _nan_where(ctx: Ctx, bad, v):
    """All of v NaN where ``bad`` (a (1, 1) bool for the whole batch) holds."""
    return ctx.op.Where(bad, ctx.scalar(np.nan), v)


@transformer("NMF")
@in_double
def _nmf(ctx, est, x):
    x, h = _inputs(ctx, est, x)
    if est.solver == "cd":
        w = _nmf_cd(ctx, est, x, h)
    elif est.solver == "mu":
        w = _nmf_mu(ctx, est, x, h)
    else:
        raise unsupported(est, f"solver={est.solver!r}")
    low = ctx.op.ReduceMin(x, keepdims=1)
    bad = ctx.op.Less(low, ctx.scalar(0.0))  # scikit-learn refuses negative input
    if float(est._beta_loss) <= 0:
        bad = ctx.op.Or(bad, ctx.op.Equal(low, ctx.scalar(0.0)))  # ... and zeros for beta_loss <= 0
    return Data(_nan_where(ctx, bad, w), FLOAT, h.shape[0])


@transformer("MiniBatchNMF")
@in_double
def _minibatch_nmf(ctx, est, x):
    x, h = _inputs(ctx, est, x)
    k = h.shape[0]
    beta = float(est._beta_loss)
    l1, l2 = _regularization(est, h.shape[1])
    tol = float(est.tol)
    w0 = _mean_start(ctx, x, k)

    def body(b, i, vals):
        w_prev = vals[0]
        w, _ = _mu_step(b, x, w_prev, h, beta, l1, l2)
        if tol > 0:
            norm = (lambda v: b.op.Sqrt(b.op.ReduceSum(b.op.Mul(v, v), keepdims=1)))
            change = b.op.Div(norm(b.op.Sub(w, w_prev)), norm(w))
            go_on = b.op.Not(b.op.LessOrEqual(change, b.scalar(tol)))
        else:
            go_on = b.b.const(np.array(True))
        return go_on, [w]

    w = _loop(ctx, int(est._transform_max_iter), [(w0, ["N", k])], body, ["w"])[0]
    return Data(w, FLOAT, k)
