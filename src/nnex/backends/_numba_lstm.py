"""One direction of a float32 LSTM's recurrence as one compiled loop (numba; see nnex/_jit.py).

At batch 1 a step is a [4H, H] by [H] product and the gate functions on 4H values. In NumPy that
is ten calls per step, each costing more than its arithmetic and holding the GIL between them, so
the two directions of a bidirectional node cannot overlap on two threads. Compiled, a step is one
product loop and one pass over the gates, and the whole recurrence runs without the GIL.

The weights come as ``numpy_lstm._prepare`` makes them: the rows of the i, o and f gates halved,
so that every gate is a tanh (sigmoid(z) = (tanh(z / 2) + 1) / 2). tanh is a rational function,
x P(u) / Q(u) with u = (x / 9)^2, fitted for this module by reweighted least squares on [0, 9]:
its float32 error is 3.4e-7 (NumPy's tanh: 6e-8), Q >= 1 on the range so it has no poles, and
tanh(9) rounds to 1 in float32. Unlike a call to the C library's tanh per value, it vectorises.
It is accurate to float32 only, so float64 LSTMs keep the NumPy kernel.
"""

from __future__ import annotations

import numba
import numpy as np

_P = np.array([0.9999999689228346, 10.594107397370681, 20.330133086933127, 5.899845605906087,
               -0.8621673289751871, 0.18104232836847556, -0.023413818701588082], dtype=np.float32)
_Q = np.array([1.0, 37.59409679684207, 160.5718021601219, 134.9100383426031], dtype=np.float32)
_CLAMP = np.float32(9.0)
_SCALE = np.float32(1.0 / 81.0)
_ONE = np.float32(1.0)
_HALF = np.float32(0.5)


@numba.njit(cache=True, nogil=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _tanh(z):
    a = min(abs(z), _CLAMP)
    u = a * a * _SCALE
    p = _P[6]
    p = p * u + _P[5]
    p = p * u + _P[4]
    p = p * u + _P[3]
    p = p * u + _P[2]
    p = p * u + _P[1]
    p = p * u + _P[0]
    q = _Q[3]
    q = q * u + _Q[2]
    q = q * u + _Q[1]
    q = q * u + _Q[0]
    return np.copysign(min(a * p / q, _ONE), z)


@numba.njit(cache=True, nogil=True, boundscheck=False, fastmath={"reassoc", "contract"})
def _gates(r, h, x, b, g):
    """g[n] = x[n] + b + r @ h[n] for every batch row n.

    One row of r at a time is one dot product over contiguous memory, the fastest form for one
    batch row (24 us against OpenBLAS's 29 for 1024x256). With more batch rows, four rows of r
    at a time are read while they are in L1 for all of them, four sums in flight (104 us for
    eight rows against 149 one row at a time; 4H is a multiple of four)."""
    rows, cols = r.shape
    batch = h.shape[0]
    if batch == 1:
        h0 = h[0]
        x0 = x[0]
        g0 = g[0]
        for j in range(rows):
            rj = r[j]
            acc = np.float32(0.0)
            for k in range(cols):
                acc += rj[k] * h0[k]
            g0[j] = acc + x0[j] + b[j]
        return
    for j in range(0, rows, 4):
        r0 = r[j]
        r1 = r[j + 1]
        r2 = r[j + 2]
        r3 = r[j + 3]
        for n in range(batch):
            hn = h[n]
            a0 = np.float32(0.0)
            a1 = np.float32(0.0)
            a2 = np.float32(0.0)
            a3 = np.float32(0.0)
            for k in range(cols):
                hk = hn[k]
                a0 += r0[k] * hk
                a1 += r1[k] * hk
                a2 += r2[k] * hk
                a3 += r3[k] * hk
            g[n, j] = a0 + x[n, j] + b[j]
            g[n, j + 1] = a1 + x[n, j + 1] + b[j + 1]
            g[n, j + 2] = a2 + x[n, j + 2] + b[j + 2]
            g[n, j + 3] = a3 + x[n, j + 3] + b[j + 3]


@numba.njit(cache=True, nogil=True, boundscheck=False, fastmath={"contract"}, error_model="numpy")
def recur(xw, r, b, h0, c, Y, reverse):
    """xw [T, N, 4H] the input projection of every step (in time order), r [4H, H], b [4H] the
    summed biases, h0 [N, H] the initial state, c [N, H] the cell state, updated in place;
    Y[t] [N, H] receives the hidden state at time t. ``reverse`` walks time from T - 1 down.
    All float32, gate order i, o, f, c, the first three pre-halved."""
    T, N = xw.shape[0], xw.shape[1]
    H = c.shape[1]
    g = np.empty((N, 4 * H), dtype=np.float32)
    h = np.empty((N, H), dtype=np.float32)
    h[:, :] = h0
    for s in range(T):
        t = T - 1 - s if reverse else s
        _gates(r, h, xw[t], b, g)
        for n in range(N):
            gn = g[n]
            for j in range(4 * H):
                gn[j] = _tanh(gn[j])
            cn = c[n]
            hn = h[n]
            yn = Y[t, n]
            for k in range(H):
                i_t = (gn[k] + _ONE) * _HALF
                o_t = (gn[H + k] + _ONE) * _HALF
                f_t = (gn[2 * H + k] + _ONE) * _HALF
                cell = f_t * cn[k] + i_t * gn[3 * H + k]
                cn[k] = cell
                v = o_t * _tanh(cell)
                hn[k] = v
                yn[k] = v
