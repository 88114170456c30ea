"""LSTM in NumPy (see numpy_kernels.py for the conventions: ``out`` is unused, ``NotImplemented``
hands the case to the op library's kernel).

At batch 1 an LSTM step is a [1, H] x [H, 4H] product and the gate functions on 4H values: the
product streams the recurrent weights from cache (1 MB for H = 256, more than a core's L2 here),
the rest is a few hundred numbers.

- the input projection of every step is one GEMM, up front (a 3-D matmul would be T separate
  [N, I] products, each streaming W again);
- the sigmoid gates come from the same ``tanh`` as the candidate, through
  sigmoid(z) = (tanh(z / 2) + 1) / 2: the rows of W, R and B feeding the i, o, f gates are
  halved once (exact in binary floating point), so one ``tanh`` covers all four gates;
- the weights are transposed, scaled and made contiguous once per node (remembered for the
  read-only constant arrays while they live), not on every run;
- float32 recurrences run compiled (``_numba_lstm.py``, with numba installed): one loop per
  direction, without the GIL, so the two directions of a bidirectional node run side by side on
  two threads, each projecting its own input too. Without numba (and for float64) a step is ten
  NumPy calls on preallocated buffers, the directions one after the other or on two threads.

Measured on lstm_tagger (2-layer BiLSTM(256), sequence 64, batch 1): the former NumPy kernel
took 16-18 ms a run, the compiled directions on two threads 6-7 ms, onnxruntime 5-6 ms.
"""

from __future__ import annotations

import contextlib
import os
import weakref

import numpy as np

from ..runtime.blas_threads import single_thread_blas, wanted_threads
from ..runtime.helper_threads import run_parts

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_LSTM_DEFAULT = ("Sigmoid", "Tanh", "Tanh")

# (id W, id R, id B) -> (weak references to W, R, B; prepared weights)
_PREPARED: dict = {}


def _float(x) -> bool:
    return type(x) is np.ndarray and x.dtype in _FLOATS


# ------------------------------------------------------------------ two directions, two threads
# Worth it from this many recurrent weights per direction: the hand-off costs tens of
# microseconds per node, and small steps are all Python, which holds the GIL.
_PARALLEL_MIN_WEIGHTS = 1 << 16


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _two_threads_allowed() -> bool:
    """Not when one CPU is all there is, or one BLAS thread is what was asked for."""
    if _cpus() < 2:
        return False
    blas = wanted_threads()
    return blas is None or blas > 1


def _parallel_directions(weights_per_direction: int, steps: int) -> bool:
    """Whether two directions of this size are worth running on two threads here."""
    return weights_per_direction >= _PARALLEL_MIN_WEIGHTS and steps >= 2 and _two_threads_allowed()


def compiled_recurrence() -> bool:
    """Whether float32 LSTMs run the compiled recurrence here (numba installed, NNEX_JIT not 0)."""
    return _compiled(np.dtype(np.float32)) is not None


def parallel_directions_possible() -> bool:
    """Whether a large bidirectional float32 LSTM would run its directions on two threads here
    (the session then keeps BLAS on one thread for its runs: runtime/blas_threads.py)."""
    return compiled_recurrence() and _two_threads_allowed()


def _run_both(first, second) -> None:
    """``first()`` here and ``second()`` on a helper thread, side by side."""
    run_parts(lambda fn: fn(), [(first,), (second,)])


# ------------------------------------------------------------------ the kernel
def _prepare(W, R, B, H: int):
    """(W^T, R, bias) of every direction, contiguous, the sigmoid gates halved.

    Shapes [I, D * 4H] (the directions side by side: one GEMM projects the input for all),
    [D, 4H, H], [D, 1, 4H]; gate order i, o, f, c as in ONNX. R keeps its
    rows: at batch 1 a step is ``R @ h``, dot products along R's contiguous rows, a little
    faster than ``h @ R^T``.
    """
    dt = W.dtype
    scale = np.full(4 * H, 0.5, dtype=dt)
    scale[3 * H:] = 1
    D, _, I = W.shape
    wt = np.ascontiguousarray((W * scale[:, None]).transpose(2, 0, 1).reshape(I, D * 4 * H))
    r = np.ascontiguousarray(R * scale[:, None])
    if B is None:
        bias = np.zeros((D, 1, 4 * H), dtype=dt)
    else:
        bias = ((B[:, :4 * H] + B[:, 4 * H:]) * scale)[:, None, :]
    return wt, r, bias


def prepare_weights(W, R, B):
    """The weights ``W``, ``R``, ``B`` (NumPy arrays) in the form the recurrence takes, for
    ``lstm(..., _weights=)``."""
    return _prepare(W, R, B, R.shape[-1])


def _prepared(W, R, B, H: int):
    """``_prepare``'s result, computed once for constant (read-only) weights.

    The runtime passes a node's initializers as the same read-only arrays on every run. An
    entry goes when one of its arrays does (before its identity can be another object's), so
    nothing outlives the session. Writeable weights (computed, or fed) are prepared per call.
    """
    if W.flags.writeable or R.flags.writeable or (B is not None and B.flags.writeable):
        return _prepare(W, R, B, H)
    key = (id(W), id(R), id(B))
    entry = _PREPARED.get(key)
    if entry is not None and entry[0]() is W and entry[1]() is R and (B is None or entry[2]() is B):
        return entry[3]
    prepared = _prepare(W, R, B, H)

    def forget(_ref, key=key):  # may run in any thread, in a garbage collection: no lock
        _PREPARED.pop(key, None)

    refs = tuple(None if a is None else weakref.ref(a, forget) for a in (W, R, B))
    _PREPARED[key] = (*refs, prepared)
    return prepared


def _recur(xw, r, h, c, Y) -> None:
    """One direction's recurrence: ``xw`` [T, N, 4H] its steps' input gates in the order it
    takes them, ``r`` [4H, H], ``h`` the initial state, ``c`` the cell state (updated in
    place); ``Y[s]`` receives the hidden state after step ``s``."""
    N, H = c.shape
    gates = np.empty((N, 4 * H), dtype=c.dtype)
    rt = r.T
    sig, cand = gates[:, :3 * H], gates[:, 3 * H:]
    i_g, o_g, f_g = sig[:, :H], sig[:, H:2 * H], sig[:, 2 * H:]
    matmul, dot, tanh, multiply, add = np.matmul, np.dot, np.tanh, np.multiply, np.add
    with np.errstate(all="ignore"):
        for s in range(xw.shape[0]):
            if N == 1:
                dot(r, h[0], out=gates[0])
            else:
                matmul(h, rt, out=gates)
            add(gates, xw[s], out=gates)
            tanh(gates, out=gates)  # i, o, f hold z / 2 here
            multiply(sig, 0.5, out=sig)
            add(sig, 0.5, out=sig)
            multiply(c, f_g, out=c)
            multiply(i_g, cand, out=i_g)
            add(c, i_g, out=c)
            h = Y[s]
            tanh(c, out=h)
            multiply(h, o_g, out=h)


def _run_directions(xw, r, h, c, Y) -> None:
    dirs = c.shape[0]
    if dirs == 2 and _parallel_directions(r[0].size, xw.shape[0]):
        _run_both(lambda: _recur(xw[:, 0], r[0], h[0], c[0], Y[:, 0]),
                 lambda: _recur(xw[:, 1], r[1], h[1], c[1], Y[:, 1]))
        return
    for d in range(dirs):
        _recur(xw[:, d], r[d], h[d], c[d], Y[:, d])


# ------------------------------------------------------------------ compiled recurrence (numba)
def _compiled(dt):
    """The compiled recurrence module for this dtype, or None (no numba, NNEX_JIT=0, or float64,
    which its float32 tanh would not serve)."""
    if dt != np.float32:
        return None
    from .. import _jit

    return _jit.kernels("nnex.backends._numba_lstm")


def _compiled_directions(kernels, x2, wt, r, bias, h, c, Y, backward) -> None:
    """Every direction, time-ordered into ``Y`` [T, D, N, H]; ``c`` [D, N, H] ends as the final
    cell states.

    With two directions on two threads each thread also projects its own direction's input,
    with BLAS on one thread: OpenBLAS's workers spin for about 0.1 s after a call they share,
    on the core the other direction's recurrence needs (a layer of lstm_tagger took 6 to 7 ms
    that way, against 3.7 with each thread doing its own projection).
    """
    T, dirs, N, H = Y.shape
    G = 4 * H

    def direction(d, proj=None):
        gates = np.matmul(x2, wt[:, d * G:(d + 1) * G]) if proj is None else proj[:, d * G:(d + 1) * G]
        kernels.recur(gates.reshape(T, N, G), r[d], bias[d, 0], h[d], c[d], Y[:, d], backward[d])

    if dirs == 2 and _parallel_directions(r[0].size, T):
        scope = single_thread_blas()
        with scope() if scope is not None else contextlib.nullcontext():
            _run_both(lambda: direction(0), lambda: direction(1))
        return
    proj = np.matmul(x2, wt)  # one GEMM projects every direction: the weights stream once
    for d in range(dirs):
        direction(d, proj)


def lstm(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, out=None, *,
         activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
         hidden_size=None, input_forget=0, layout=0, output_sequence=0, _n_outputs=None, _weights=None):
    """LSTM with the default activations, no clip, no peepholes and full-length sequences.

    ``_weights``: a function giving ``prepare_weights(W, R, B)``, for a caller that remembers it
    itself (the torch backend, whose weights arrive as new arrays at every run); called only
    once the inputs' shapes have been checked."""
    dirs = 2 if direction == "bidirectional" else 1 if direction in ("forward", "reverse") else 0
    if not dirs or clip is not None or P is not None or input_forget or not _float(X):
        return NotImplemented
    if activations is not None:
        names = tuple(a.decode() if isinstance(a, bytes) else str(a) for a in activations)
        if names != _LSTM_DEFAULT * dirs:
            return NotImplemented
    dt = X.dtype
    if any(v is not None and (type(v) is not np.ndarray or v.dtype != dt)
           for v in (W, R, B, initial_h, initial_c)):
        return NotImplemented
    if X.ndim != 3 or W.ndim != 3 or R.ndim != 3 or W.shape[0] != dirs or R.shape[0] != dirs:
        return NotImplemented
    x = X.transpose(1, 0, 2) if layout else X
    T, N = x.shape[0], x.shape[1]
    H = R.shape[-1]
    h0 = None if initial_h is None else initial_h.transpose(1, 0, 2) if layout else initial_h
    c0 = None if initial_c is None else initial_c.transpose(1, 0, 2) if layout else initial_c
    if (W.shape[1:] != (4 * H, x.shape[2]) or R.shape[1] != 4 * H
            or (B is not None and B.shape != (dirs, 8 * H))
            or any(s is not None and s.shape != (dirs, N, H) for s in (h0, c0))):
        return NotImplemented  # the op library's kernel says what is wrong
    if T == 0 or (sequence_lens is not None and (np.asarray(sequence_lens) < T).any()):
        return NotImplemented
    wt, r, bias = _prepared(W, R, B, H) if _weights is None else _weights()
    # each direction's input gates in the order it takes its steps: a reverse one sees time reversed
    backward = [direction == "reverse" or d == 1 for d in range(dirs)]
    h = np.zeros((dirs, N, H), dtype=dt) if h0 is None else h0
    c = np.zeros((dirs, N, H), dtype=dt) if c0 is None else c0.copy()
    x2 = x.reshape(T * N, x.shape[2])
    compiled = _compiled(dt)
    if compiled is not None:
        Y = np.empty((T, dirs, N, H), dtype=dt)
        _compiled_directions(compiled, x2, wt, r, bias, h, c, Y, backward)
        h_last = np.stack([Y[0 if backward[d] else T - 1, d] for d in range(dirs)])
    else:
        xw = np.empty((T, dirs, N, 4 * H), dtype=dt)
        proj = np.matmul(x2, wt).reshape(T, N, dirs, 4 * H)
        for d in range(dirs):
            np.add(proj[::-1, :, d] if backward[d] else proj[:, :, d], bias[d], out=xw[:, d])
        # Y in step order first: [s, d] is direction d's hidden state after its s-th step
        Y = np.empty((T, dirs, N, H), dtype=dt)
        _run_directions(xw, r, h, c, Y)
        h_last = Y[T - 1].copy()
        for d in range(dirs):
            if backward[d]:
                Y[:, d] = Y[::-1, d].copy()
    if layout:
        outs = (Y.transpose(2, 0, 1, 3), h_last.transpose(1, 0, 2), c.transpose(1, 0, 2))
    else:
        outs = (Y, h_last, c)
    return outs if _n_outputs is None else outs[:max(_n_outputs, 1)]
