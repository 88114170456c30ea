"""LSTM, GRU and Elman RNNs (multi-layer, bidirectional, batch_first) on the ONNX RNN ops."""

from __future__ import annotations

import numpy as np

from ... import ConversionError
from ..context import Ctx
from ..registry import lowers
from ._common import aten

# torch's gate order -> ONNX's: LSTM i,f,g,o -> i,o,f,c ; GRU r,z,n -> z,r,h
_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def _gates(ctx: Ctx, w, order):
    """``w`` ([G*H, ...] or [G*H]) with its G gate blocks in ONNX order."""
    g = len(order)
    if g == 1:
        return w
    if w.const is not None:
        arr = w.const.numpy()
        blocks = np.split(arr, g, axis=0)
        return ctx.const(np.concatenate([blocks[i] for i in order], axis=0), ctx.dtype(w))
    parts = ctx.op.Split(w, axis=0, num_outputs=g, _outputs=g)
    return ctx.op.Concat(*[parts[i] for i in order], axis=0)


def _stack(ctx: Ctx, vals):
    vals = [ctx.op.Unsqueeze(v, ctx.ints([0])) for v in vals]
    return vals[0] if len(vals) == 1 else ctx.op.Concat(*vals, axis=0)


def _run(ctx: Ctx, kind, x, hx, params, has_biases, num_layers, bidirectional, batch_first, activation=None):
    dirs = 2 if bidirectional else 1
    per = 4 if has_biases else 2
    if len(params) != num_layers * dirs * per:
        raise ConversionError(f"{kind} with projections (proj_size) is not supported")
    op = ctx.op
    order = _ORDER[kind]
    if batch_first:
        x = op.Transpose(x, perm=[1, 0, 2])
    hidden = ctx.static_shape(params[1])[1]
    hs, cs = [], []
    for layer in range(num_layers):
        ws, rs, bs = [], [], []
        for d in range(dirs):
            p = params[(layer * dirs + d) * per:(layer * dirs + d + 1) * per]
            ws.append(_gates(ctx, p[0], order))
            rs.append(_gates(ctx, p[1], order))
            if has_biases:
                bs.append(op.Concat(_gates(ctx, p[2], order), _gates(ctx, p[3], order), axis=0))
        W, R = _stack(ctx, ws), _stack(ctx, rs)
        B = _stack(ctx, bs) if has_biases else None
        init = [None, None]
        for j, h in enumerate(hx[:2] if hx else []):
            if h is not None:
                init[j] = op.Slice(h, ctx.ints([layer * dirs]), ctx.ints([(layer + 1) * dirs]), ctx.ints([0]))
        attrs = {"hidden_size": int(hidden), "direction": "bidirectional" if bidirectional else "forward"}
        if kind == "LSTM":
            y, yh, yc = op.LSTM(x, W, R, B, None, init[0], init[1], _outputs=3, **attrs)
            cs.append(yc)
        elif kind == "GRU":
            y, yh = op.GRU(x, W, R, B, None, init[0], linear_before_reset=1, _outputs=2, **attrs)
        else:
            y, yh = op.RNN(x, W, R, B, None, init[0], activations=[activation] * dirs, _outputs=2, **attrs)
        hs.append(yh)
        # [seq, dirs, batch, H] -> [seq, batch, dirs * H]
        x = op.Reshape(op.Transpose(y, perm=[0, 2, 1, 3]), ctx.ints([0, 0, -1]))
    out = op.Transpose(x, perm=[1, 0, 2]) if batch_first else x
    h_n = hs[0] if len(hs) == 1 else op.Concat(*hs, axis=0)
    if kind == "LSTM":
        c_n = cs[0] if len(cs) == 1 else op.Concat(*cs, axis=0)
        return out, h_n, c_n
    return out, h_n


@lowers(aten.lstm.input)
def lstm(ctx: Ctx, x, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _run(ctx, "LSTM", x, list(hx), list(params), has_biases, num_layers, bidirectional, batch_first)


@lowers(aten.gru.input)
def gru(ctx: Ctx, x, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _run(ctx, "GRU", x, [hx], list(params), has_biases, num_layers, bidirectional, batch_first)


@lowers(aten.rnn_tanh.input)
def rnn_tanh(ctx: Ctx, x, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _run(ctx, "RNN", x, [hx], list(params), has_biases, num_layers, bidirectional, batch_first, "Tanh")


@lowers(aten.rnn_relu.input)
def rnn_relu(ctx: Ctx, x, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    return _run(ctx, "RNN", x, [hx], list(params), has_biases, num_layers, bidirectional, batch_first, "Relu")

