"""LSTM in NumPy: the gates of all steps' inputs in one GEMM, then one GEMM per step for the
recurrence, the gate activations written in place (see numpy_kernels.py for the conventions:
``out`` is unused, ``NotImplemented`` hands the case to the op library's kernel)."""

from __future__ import annotations

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _float(x) -> bool:
    return type(x) is np.ndarray and x.dtype in _FLOATS

_LSTM_DEFAULT = ("Sigmoid", "Tanh", "Tanh")


def lstm(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, out=None, *,
         activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
         hidden_size=None, input_forget=0, layout=0, output_sequence=0, _n_outputs=None):
    """LSTM with the default activations, no clip, no peepholes and full-length sequences.

    Per step: one GEMM into a preallocated gate buffer, then the three sigmoid gates (i, o, f
    are adjacent columns) and the tanh candidate in place, the new hidden state written
    straight into Y. The op library's LSTM allocates a dozen arrays per step.
    """
    dirs = 2 if direction == "bidirectional" else 1 if direction in ("forward", "reverse") else 0
    if not dirs or clip is not None or P is not None or input_forget or not _float(X):
        return NotImplemented
    if activations is not None:
        names = tuple(a.decode() if isinstance(a, bytes) else str(a) for a in activations)
        if names != _LSTM_DEFAULT * dirs:
            return NotImplemented
    dt = X.dtype
    if any(v is not None and (type(v) is not np.ndarray or v.dtype != dt) for v in (W, R, B, initial_h, initial_c)):
        return NotImplemented
    x = X.transpose(1, 0, 2) if layout else X
    T, N = x.shape[0], x.shape[1]
    H = R.shape[-1]
    if sequence_lens is not None and (np.asarray(sequence_lens) < T).any():
        return NotImplemented
    h0 = initial_h.transpose(1, 0, 2) if (layout and initial_h is not None) else initial_h
    c0 = initial_c.transpose(1, 0, 2) if (layout and initial_c is not None) else initial_c
    Y = np.empty((T, dirs, N, H), dtype=dt)
    h_last = np.zeros((dirs, N, H), dtype=dt)
    c_last = np.zeros((dirs, N, H), dtype=dt)
    gates = np.empty((N, 4 * H), dtype=dt)
    with np.errstate(over="ignore"):
        for d in range(dirs):
            xw = np.matmul(x, W[d].T)
            if B is not None:
                xw += B[d, :4 * H] + B[d, 4 * H:]
            rt = R[d].T
            h = h_last[d] if h0 is None else h0[d]
            c = c_last[d]
            if c0 is not None:
                c[...] = c0[d]
            sig, cand = gates[:, :3 * H], gates[:, 3 * H:]
            i_g, o_g, f_g = sig[:, :H], sig[:, H:2 * H], sig[:, 2 * H:]
            steps = range(T - 1, -1, -1) if (direction == "reverse" or d == 1) else range(T)
            for t in steps:
                np.matmul(h, rt, out=gates)
                gates += xw[t]
                np.negative(sig, out=sig)
                np.exp(sig, out=sig)
                sig += 1
                np.reciprocal(sig, out=sig)
                np.tanh(cand, out=cand)
                c *= f_g
                i_g *= cand
                c += i_g
                h = Y[t, d]
                np.tanh(c, out=h)
                h *= o_g
            h_last[d] = h
    if layout:
        outs = (Y.transpose(2, 0, 1, 3), h_last.transpose(1, 0, 2), c_last.transpose(1, 0, 2))
    else:
        outs = (Y, h_last, c_last)
    return outs if _n_outputs is None else outs[:max(_n_outputs, 1)]
