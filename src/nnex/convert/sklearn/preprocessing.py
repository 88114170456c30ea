"""Scalers, normalizers and feature maps of sklearn.preprocessing."""

from __future__ import annotations

import functools

import numpy as np
import onnx

from .. import ConversionError
from ._context import FLOAT, Ctx, Data
from ._registry import name_of, transform, transformer, unsupported


def _f(ctx: Ctx, x) -> Data:
    x = ctx.float(x)
    return ctx.matrix(x) if x.ndim == 1 else x


@transformer("StandardScaler")
def _standard(ctx, est, x):
    x = _f(ctx, x)
    v = x.v
    if est.with_mean and est.mean_ is not None:
        v = ctx.op.Sub(v, ctx.const(est.mean_))
    if est.with_std and est.scale_ is not None:
        v = ctx.op.Div(v, ctx.const(est.scale_))
    return Data(v, FLOAT, x.width)


@transformer("MinMaxScaler")
def _minmax(ctx, est, x):
    x = _f(ctx, x)
    v = ctx.op.Add(ctx.op.Mul(x.v, ctx.const(est.scale_)), ctx.const(est.min_))
    if est.clip:
        lo, hi = est.feature_range
        v = ctx.op.Clip(v, ctx.scalar(lo), ctx.scalar(hi))
    return Data(v, FLOAT, x.width)


@transformer("MaxAbsScaler")
def _maxabs(ctx, est, x):
    x = _f(ctx, x)
    return Data(ctx.op.Div(x.v, ctx.const(est.scale_)), FLOAT, x.width)


@transformer("RobustScaler")
def _robust(ctx, est, x):
    x = _f(ctx, x)
    v = x.v
    if est.with_centering:
        v = ctx.op.Sub(v, ctx.const(est.center_))
    if est.with_scaling:
        v = ctx.op.Div(v, ctx.const(est.scale_))
    return Data(v, FLOAT, x.width)


@transformer("Normalizer")
def _normalizer(ctx, est, x):
    x = _f(ctx, x)
    v = x.v
    if est.norm == "l2":
        n = ctx.op.Sqrt(ctx.sum(ctx.op.Mul(v, v)))
    elif est.norm == "l1":
        n = ctx.sum(ctx.op.Abs(v))
    elif est.norm == "max":
        n = ctx.reduce("ReduceMax", ctx.op.Abs(v))
    else:
        raise unsupported(est, f"norm={est.norm!r}")
    n = ctx.op.Where(ctx.op.Equal(n, ctx.scalar(0.0)), ctx.scalar(1.0), n)
    return Data(ctx.op.Div(v, n), FLOAT, x.width)


@transformer("Binarizer")
def _binarizer(ctx, est, x):
    x = _f(ctx, x)
    return Data(ctx.op.Cast(ctx.op.Greater(x.v, ctx.scalar(est.threshold)), to=ctx.elem), FLOAT, x.width)


@transformer("PolynomialFeatures")
def _polynomial(ctx, est, x):
    x = _f(ctx, x)
    powers = np.asarray(est.powers_, dtype=np.float64)  # (n_out, n_in)
    if not len(powers):
        raise unsupported(est, "no output feature")
    p = ctx.op.Pow(ctx.op.Unsqueeze(x.v, ctx.i64([1])), ctx.const(powers[None]))
    return Data(ctx.reduce("ReduceProd", p, axis=2, keepdims=0), FLOAT, powers.shape[0])


# ------------------------------------------------------------------ FunctionTransformer


def log1p(ctx: Ctx, v):
    """log(1 + v) accurate for small v (Kahan: log(u) * v / (u - 1) with u = 1 + v)."""
    u = ctx.op.Add(v, ctx.scalar(1.0))
    um1 = ctx.op.Sub(u, ctx.scalar(1.0))
    exact = ctx.op.Equal(um1, ctx.scalar(0.0))
    ratio = ctx.op.Div(v, ctx.op.Where(exact, ctx.scalar(1.0), um1))
    return ctx.op.Where(exact, v, ctx.op.Mul(ctx.op.Log(u), ratio))


def expm1(ctx: Ctx, v):
    """exp(v) - 1 accurate for small v, as tanh(v / 2) * (exp(v) + 1)."""
    small = ctx.op.Less(ctx.op.Abs(v), ctx.scalar(0.5))
    accurate = ctx.op.Mul(ctx.op.Tanh(ctx.op.Mul(v, ctx.scalar(0.5))), ctx.op.Add(ctx.op.Exp(v), ctx.scalar(1.0)))
    return ctx.op.Where(small, accurate, ctx.op.Sub(ctx.op.Exp(v), ctx.scalar(1.0)))


def _ufuncs(ctx: Ctx) -> dict:
    o = ctx.op
    return {
        np.log: o.Log, np.exp: o.Exp, np.sqrt: o.Sqrt, np.abs: o.Abs, np.absolute: o.Abs, np.fabs: o.Abs,
        np.negative: o.Neg, np.sign: o.Sign, np.floor: o.Floor, np.ceil: o.Ceil, np.rint: o.Round,
        np.tanh: o.Tanh, np.sin: o.Sin, np.cos: o.Cos, np.tan: o.Tan, np.sinh: o.Sinh, np.cosh: o.Cosh,
        np.reciprocal: o.Reciprocal,
        np.log1p: lambda v: log1p(ctx, v),
        np.expm1: lambda v: expm1(ctx, v),
        np.square: lambda v: o.Mul(v, v),
        np.log2: lambda v: o.Div(o.Log(v), ctx.scalar(np.log(2.0))),
        np.log10: lambda v: o.Div(o.Log(v), ctx.scalar(np.log(10.0))),
        np.exp2: lambda v: o.Pow(ctx.scalar(2.0), v),
        np.cbrt: lambda v: o.Mul(o.Sign(v), o.Pow(o.Abs(v), ctx.scalar(1.0 / 3.0))),
    }


def _is_identity(func) -> bool:
    if func is None:
        return True
    if isinstance(func, functools.partial):
        # HistGradientBoosting's preprocessor wraps check_array (validation only)
        return getattr(func.func, "__name__", "") == "check_array" and \
            (func.func.__module__ or "").startswith("sklearn.")
    return False


def apply_function(ctx: Ctx, est, func, kw_args, v):
    if _is_identity(func):
        return v
    if kw_args:
        raise unsupported(est, f"keyword arguments {sorted(kw_args)} for {getattr(func, '__name__', func)}")
    table = _ufuncs(ctx)
    if func in table:
        return table[func](v)
    raise ConversionError(f"{name_of(est)}: the function {getattr(func, '__name__', func)!r} cannot be converted "
                          f"(supported: numpy ufuncs {', '.join(sorted(f.__name__ for f in table))})")


@transformer("FunctionTransformer")
def _function(ctx, est, x):
    if _is_identity(est.func):
        return x
    d = ctx.float(x)
    return Data(apply_function(ctx, est, est.func, est.kw_args, d.v), FLOAT, d.width, d.ndim)


# ------------------------------------------------------------------ discretization, power, quantiles


@transformer("KBinsDiscretizer")
def _kbins(ctx, est, x):
    x = _f(ctx, x)
    edges = [np.asarray(e, np.float64)[1:-1] for e in est.bin_edges_]
    width = max((len(e) for e in edges), default=0)
    if width == 0:
        codes = ctx.op.Mul(x.v, ctx.scalar(0.0))
    else:
        table = np.full((len(edges), width), np.inf)
        for j, e in enumerate(edges):
            table[j, : len(e)] = e
        # searchsorted(edges, x, side="right") == number of inner edges <= x
        ge = ctx.op.GreaterOrEqual(ctx.op.Unsqueeze(x.v, ctx.i64([2])), ctx.const(table[None]))
        codes = ctx.reduce("ReduceSum", ctx.op.Cast(ge, to=ctx.elem), axis=2, keepdims=0)
    out = Data(codes, FLOAT, x.width)
    if est.encode == "ordinal":
        return out
    return transform(ctx, est._encoder, out)


def _yeo_johnson(ctx: Ctx, v, lmbda: float):
    eps = np.finfo(np.float64).eps
    pos = ctx.op.GreaterOrEqual(v, ctx.scalar(0.0))
    if abs(lmbda) < eps:
        yp = log1p(ctx, v)
    else:
        yp = ctx.op.Div(expm1(ctx, ctx.op.Mul(log1p(ctx, v), ctx.scalar(lmbda))), ctx.scalar(lmbda))
    nv = ctx.op.Neg(v)
    if abs(lmbda - 2) > eps:
        yn = ctx.op.Div(expm1(ctx, ctx.op.Mul(log1p(ctx, nv), ctx.scalar(2 - lmbda))), ctx.scalar(-(2 - lmbda)))
    else:
        yn = ctx.op.Neg(log1p(ctx, nv))
    return ctx.op.Where(pos, yp, yn)


def _box_cox(ctx: Ctx, v, lmbda: float):
    lg = ctx.op.Log(v)
    if lmbda == 0:
        return lg
    return ctx.op.Div(expm1(ctx, ctx.op.Mul(lg, ctx.scalar(lmbda))), ctx.scalar(lmbda))


@transformer("PowerTransformer")
def _power(ctx, est, x):
    x = _f(ctx, x)
    f = {"yeo-johnson": _yeo_johnson, "box-cox": _box_cox}.get(est.method)
    if f is None:
        raise unsupported(est, f"method={est.method!r}")
    cols = [f(ctx, ctx.col(x.v, j), float(lm)) for j, lm in enumerate(est.lambdas_)]
    out = Data(cols[0] if len(cols) == 1 else ctx.op.Concat(*cols, axis=1), FLOAT, x.width)
    if est.standardize:
        out = transform(ctx, est._scaler, out)
    return out


def interp(ctx: Ctx, x, xp: np.ndarray, fp: np.ndarray):
    """numpy.interp(x[:, f], xp[:, f], fp[:, f]) for every column f of x (N, F)."""
    xp = np.asarray(xp, np.float64)
    fp = np.broadcast_to(np.asarray(fp, np.float64), xp.shape)
    q, n_feat = xp.shape
    if q == 1:
        return ctx.op.Add(ctx.op.Mul(x, ctx.scalar(0.0)), ctx.const(fp[0][None]))
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
    ge = ctx.op.GreaterOrEqual(ctx.op.Unsqueeze(x, ctx.i64([2])), ctx.const(xp.T[None]))  # (N, F, Q)
    below = ctx.reduce("ReduceSum", ctx.op.Cast(ge, to=onnx.TensorProto.INT64), axis=2, keepdims=0)
    j = ctx.op.Clip(ctx.op.Sub(below, ctx.i64(1)), ctx.i64(0), ctx.i64(q - 2))
    flat = ctx.op.Add(ctx.op.Mul(j, ctx.i64(n_feat)), ctx.i64(np.arange(n_feat)[None]))
    xj = ctx.op.Gather(ctx.const(xp.ravel()), flat, axis=0)
    fj = ctx.op.Gather(ctx.const(fp.ravel()), flat, axis=0)
    sj = ctx.op.Gather(ctx.const(np.nan_to_num(slopes, nan=0.0, posinf=0.0, neginf=0.0).ravel()), flat, axis=0)
    res = ctx.op.Add(ctx.op.Mul(sj, ctx.op.Sub(x, xj)), fj)
    res = ctx.op.Where(ctx.op.GreaterOrEqual(x, ctx.const(xp[-1][None])), ctx.const(fp[-1][None]), res)
    return ctx.op.Where(ctx.op.Less(x, ctx.const(xp[0][None])), ctx.const(fp[0][None]), res)


def norm_ppf(ctx: Ctx, p):
    """The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9)."""
    a = [-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00]
    b = [-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01]
    c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00]
    o = ctx.op

    def poly(coefs, t):
        acc = ctx.scalar(coefs[0])
        for cf in coefs[1:]:
            acc = o.Add(o.Mul(acc, t), ctx.scalar(cf))
        return acc

    p_low = 0.02425
    q = o.Sub(p, ctx.scalar(0.5))
    r = o.Mul(q, q)
    central = o.Div(o.Mul(poly(a, r), q), o.Add(o.Mul(poly(b, r), r), ctx.scalar(1.0)))
    tail_p = o.Min(p, o.Sub(ctx.scalar(1.0), p))
    t = o.Sqrt(o.Mul(o.Log(o.Max(tail_p, ctx.scalar(1e-300 if ctx.dtype == np.float64 else 1e-38))), ctx.scalar(-2.0)))
    tail = o.Div(poly(c, t), o.Add(o.Mul(poly(d, t), t), ctx.scalar(1.0)))
    # the lower tail formula is negative; the upper tail is its mirror
    tail = o.Where(o.Less(p, ctx.scalar(0.5)), tail, o.Neg(tail))
    in_tail = o.Or(o.Less(p, ctx.scalar(p_low)), o.Greater(p, ctx.scalar(1 - p_low)))
    return o.Where(in_tail, tail, central)


@transformer("QuantileTransformer")
def _quantile(ctx, est, x):
    from scipy import stats

    x = _f(ctx, x)
    out_ctx, ctx = ctx, ctx.with_dtype(np.float64)  # steep quantile segments need double
    quantiles = np.asarray(est.quantiles_, np.float64)
    refs = np.asarray(est.references_, np.float64)[:, None]
    v = out_ctx.to_dtype(x.v, np.float64)
    up = interp(ctx, v, quantiles, refs)
    down = interp(ctx, ctx.op.Neg(v), -quantiles[::-1], -refs[::-1])
    res = ctx.op.Mul(ctx.op.Sub(up, down), ctx.scalar(0.5))
    lo, hi = ctx.const(quantiles[0][None]), ctx.const(quantiles[-1][None])
    thr = 1e-7  # sklearn.preprocessing._data.BOUNDS_THRESHOLD
    if est.output_distribution == "normal":
        at_low = ctx.op.Less(ctx.op.Sub(v, ctx.scalar(thr)), lo)
        at_high = ctx.op.Greater(ctx.op.Add(v, ctx.scalar(thr)), hi)
    else:
        at_low, at_high = ctx.op.Equal(v, lo), ctx.op.Equal(v, hi)
    res = ctx.op.Where(at_high, ctx.scalar(1.0), res)
    res = ctx.op.Where(at_low, ctx.scalar(0.0), res)
    if est.output_distribution == "normal":
        clip_min = float(stats.norm.ppf(thr - np.spacing(1)))
        clip_max = float(stats.norm.ppf(1 - (thr - np.spacing(1))))
        z = norm_ppf(ctx, res)
        # ppf(0) = -inf and ppf(1) = +inf before clipping, as scipy gives
        z = ctx.op.Where(ctx.op.LessOrEqual(res, ctx.scalar(0.0)), ctx.scalar(-np.inf), z)
        z = ctx.op.Where(ctx.op.GreaterOrEqual(res, ctx.scalar(1.0)), ctx.scalar(np.inf), z)
        res = ctx.op.Clip(z, ctx.scalar(clip_min), ctx.scalar(clip_max))
    return Data(ctx.to_dtype(res, out_ctx.dtype), FLOAT, x.width)



# ------------------------------------------------------------------ splines


def bspline_basis(ctx: Ctx, x, t: np.ndarray, k: int):
    """(N, len(t) - k - 1) B-spline basis at x (N, 1), as scipy's BSpline evaluates it:
    on the knot interval l = last index with t[l] <= x, clipped to [k, n - 1], so that
    points beyond the base interval continue its end polynomials."""
    t = np.asarray(t, np.float64)
    n = len(t) - k - 1
    below = ctx.reduce("ReduceSum", ctx.op.Cast(ctx.op.GreaterOrEqual(x, ctx.const(t[None])),
                                                 to=onnx.TensorProto.INT64))
    l = ctx.op.Clip(ctx.op.Sub(below, ctx.i64(1)), ctx.i64(k), ctx.i64(n - 1))
    b = ctx.op.Cast(ctx.op.Equal(l, ctx.i64(np.arange(len(t) - 1)[None])), to=ctx.elem)
    for d in range(1, k + 1):
        m = len(t) - 1 - d
        i = np.arange(m)
        with np.errstate(divide="ignore"):
            left = np.where(t[i + d] != t[i], 1.0 / (t[i + d] - t[i]), 0.0)
            right = np.where(t[i + d + 1] != t[i + 1], 1.0 / (t[i + d + 1] - t[i + 1]), 0.0)
        w1 = ctx.op.Mul(ctx.op.Sub(x, ctx.const(t[i][None])), ctx.const(left[None]))
        w2 = ctx.op.Mul(ctx.op.Sub(ctx.const(t[i + d + 1][None]), x), ctx.const(right[None]))
        lo = ctx.op.Slice(b, ctx.i64([0]), ctx.i64([m]), ctx.i64([1]))
        hi = ctx.op.Slice(b, ctx.i64([1]), ctx.i64([m + 1]), ctx.i64([1]))
        b = ctx.op.Add(ctx.op.Mul(w1, lo), ctx.op.Mul(w2, hi))
    return ctx.op.Slice(b, ctx.i64([0]), ctx.i64([n]), ctx.i64([1]))


@transformer("SplineTransformer")
def _spline(ctx, est, x):
    x = _f(ctx, x)
    if getattr(est, "sparse_output", False):
        raise unsupported(est, "sparse_output=True")
    out_ctx, ctx = ctx, ctx.with_dtype(np.float64)
    xv = out_ctx.to_dtype(x.v, np.float64)
    k = est.degree
    mode = est.extrapolation
    blocks = []
    for j, spl in enumerate(est.bsplines_):
        t, c = np.asarray(spl.t, np.float64), np.asarray(spl.c, np.float64)
        xj = ctx.col(xv, j)
        isnan = ctx.op.IsNaN(xj)
        xj = ctx.op.Where(isnan, ctx.scalar(float(t[k])), xj)  # NaN rows are zeroed at the end
        n_spl = c.shape[1]
        if mode == "periodic":
            n = len(t) - k - 1
            period = t[n] - t[k]
            if period > 0:
                shifted = ctx.op.Sub(xj, ctx.scalar(t[k]))
                wrapped = ctx.op.Sub(shifted, ctx.op.Mul(ctx.op.Floor(ctx.op.Div(shifted, ctx.scalar(period))),
                                                         ctx.scalar(period)))
                xj = ctx.op.Add(wrapped, ctx.scalar(t[k]))
            else:
                xj = ctx.op.Mul(xj, ctx.scalar(0.0))
        val = ctx.op.MatMul(bspline_basis(ctx, xj, t, k), ctx.const(c))
        xmin, xmax = t[k], t[-k - 1]
        orig = ctx.col(xv, j)
        below = ctx.op.Less(orig, ctx.scalar(xmin))
        above = ctx.op.Greater(orig, ctx.scalar(xmax))
        if mode in ("constant", "linear", "error"):
            outside = ctx.op.Or(below, above)
            val = ctx.op.Where(outside, ctx.scalar(np.nan if mode == "error" else 0.0), val)
        if mode == "constant" and k > 0:
            f_min, f_max = spl(xmin), spl(xmax)
            lo_row = np.zeros(n_spl)
            lo_row[:k] = f_min[:k]
            hi_row = np.zeros(n_spl)
            hi_row[-k:] = f_max[-k:]
            val = ctx.op.Where(below, ctx.const(lo_row[None]), val)
            val = ctx.op.Where(above, ctx.const(hi_row[None]), val)
        elif mode == "linear":
            f_min, f_max = spl(xmin), spl(xmax)
            fp_min, fp_max = spl(xmin, nu=1), spl(xmax, nu=1)
            deg = k + 1 if k <= 1 else k
            lo_a, lo_b, hi_a, hi_b = (np.zeros(n_spl) for _ in range(4))
            lo_mask, hi_mask = np.zeros(n_spl, bool), np.zeros(n_spl, bool)
            for i in range(deg):
                lo_a[i], lo_b[i], lo_mask[i] = f_min[i], fp_min[i], True
                kk = n_spl - 1 - i
                hi_a[kk], hi_b[kk], hi_mask[kk] = f_max[kk], fp_max[kk], True
            lin_lo = ctx.op.Add(ctx.const(lo_a[None]), ctx.op.Mul(ctx.op.Sub(orig, ctx.scalar(xmin)),
                                                                  ctx.const(lo_b[None])))
            lin_hi = ctx.op.Add(ctx.const(hi_a[None]), ctx.op.Mul(ctx.op.Sub(orig, ctx.scalar(xmax)),
                                                                  ctx.const(hi_b[None])))
            val = ctx.op.Where(ctx.op.And(below, ctx.b.const(lo_mask[None])), lin_lo, val)
            val = ctx.op.Where(ctx.op.And(above, ctx.b.const(hi_mask[None])), lin_hi, val)
        val = ctx.op.Where(isnan, ctx.scalar(0.0), val)
        if not est.include_bias:
            val = ctx.op.Slice(val, ctx.i64([0]), ctx.i64([n_spl - 1]), ctx.i64([1]))
        blocks.append(val)
    out = blocks[0] if len(blocks) == 1 else ctx.op.Concat(*blocks, axis=1)
    width = len(blocks) * (blocks and (np.asarray(est.bsplines_[0].c).shape[1] - (0 if est.include_bias else 1)))
    return Data(ctx.to_dtype(out, out_ctx.dtype), FLOAT, int(width))
