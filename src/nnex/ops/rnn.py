"""Recurrent operators: RNN, GRU, LSTM.

All three share the same plumbing (layouts, directions, activations, clip,
sequence_lens, optional outputs); only the per-step cell differs.  The time loop
is inherently sequential, so it runs in Python, but each step is a batched matmul
and the input projection ``X @ W^T`` of every step is done in one matmul up front.

``sequence_lens`` is honoured by masking: a batch entry whose step ``t`` lies
beyond its length keeps its previous state and emits zeros in ``Y``.  Walking the
reverse direction from the last step down then starts each entry at its own
``len - 1``, which is exactly the per-sequence reversal the spec asks for.
"""

from __future__ import annotations

from collections.abc import Callable

from .registry import op

# --------------------------------------------------------------------------- activations


def _act_relu(xp, x, a, b):
    return xp.where(x > 0, x, xp.zeros_like(x))


def _act_tanh(xp, x, a, b):
    return xp.tanh(x)


def _act_sigmoid(xp, x, a, b):
    # exp(-|x|) never overflows; pick the branch that matches the sign of x.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _act_affine(xp, x, a, b):
    return x * a + b


def _act_leaky_relu(xp, x, a, b):
    return xp.where(x >= 0, x, x * a)


def _act_thresholded_relu(xp, x, a, b):
    return xp.where(x >= a, x, xp.zeros_like(x))


def _act_scaled_tanh(xp, x, a, b):
    return xp.tanh(x * b) * a


def _act_hard_sigmoid(xp, x, a, b):
    return xp.clip(x * a + b, 0, 1)


def _act_elu(xp, x, a, b):
    return xp.where(x >= 0, x, (xp.exp(x) - 1) * a)


def _act_softsign(xp, x, a, b):
    return x / (1 + xp.abs(x))


def _act_softplus(xp, x, a, b):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): stable for large |x|.
    return xp.where(x > 0, x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x)))


# name -> (function, default alpha or None if unused, default beta or None if unused)
_ACTIVATIONS: dict[str, tuple[Callable, float | None, float | None]] = {
    "relu": (_act_relu, None, None),
    "tanh": (_act_tanh, None, None),
    "sigmoid": (_act_sigmoid, None, None),
    "affine": (_act_affine, 1.0, 0.0),
    "leakyrelu": (_act_leaky_relu, 0.01, None),
    "thresholdedrelu": (_act_thresholded_relu, 1.0, None),
    "scaledtanh": (_act_scaled_tanh, 1.0, 1.0),
    "hardsigmoid": (_act_hard_sigmoid, 0.2, 0.5),
    "elu": (_act_elu, 1.0, None),
    "softsign": (_act_softsign, None, None),
    "softplus": (_act_softplus, None, None),
}


def _resolve_activations(xp, names, alphas, betas, defaults, num_dirs):
    """Per direction, the list of unary callables for the cell's activation slots.

    ``activation_alpha``/``beta`` are consumed in activation order, but only by the
    functions that take a parameter (the onnxruntime convention), so e.g.
    ``[Sigmoid, LeakyRelu]`` with ``alpha=[0.1]`` gives LeakyRelu alpha 0.1.
    """
    n = len(defaults)
    if not names:
        names = list(defaults) * num_dirs
    elif len(names) == n and num_dirs == 2:
        names = list(names) * 2  # one set given for both directions
    if len(names) != n * num_dirs:
        raise ValueError(f"expected {n * num_dirs} activations, got {len(names)}")
    alphas = list(alphas or [])
    betas = list(betas or [])
    funcs = []
    for name in names:
        key = name.lower()
        if key not in _ACTIVATIONS:
            raise ValueError(f"unsupported RNN activation {name!r}")
        fn, a, b = _ACTIVATIONS[key]
        if a is not None and alphas:
            a = alphas.pop(0)
        if b is not None and betas:
            b = betas.pop(0)
        funcs.append(lambda x, fn=fn, a=a, b=b: fn(xp, x, a, b))
    return [funcs[d * n:(d + 1) * n] for d in range(num_dirs)]


# --------------------------------------------------------------------------- shared plumbing


def _num_directions(direction):
    if direction in ("forward", "reverse"):
        return 1
    if direction == "bidirectional":
        return 2
    raise ValueError(f"unknown RNN direction {direction!r}")


def _to_time_major(xp, x, layout):
    """[batch, seq, ...] -> [seq, batch, ...] when layout == 1 (also for [batch, dirs, h])."""
    if x is None or layout == 0:
        return x
    perm = (1, 0) + tuple(range(2, x.ndim))
    return xp.permute_dims(x, perm)


def _clipper(xp, clip):
    if clip is None:
        return lambda v: v
    c = float(clip)
    return lambda v: xp.clip(v, -c, c)


def _step_mask(xp, sequence_lens, seq_len, batch):
    """Per step a [batch, 1] bool "this step is inside the sequence", or None."""
    if sequence_lens is None:
        return None
    lens = xp.reshape(xp.astype(xp.asarray(sequence_lens), xp.int64), (batch, 1))
    if bool(xp.all(lens >= seq_len)):
        return None
    return [lens > t for t in range(seq_len)]


def _initial_state(xp, init, num_dirs, batch, hidden, dtype):
    if init is None:
        return xp.zeros((num_dirs, batch, hidden), dtype=dtype)
    return xp.astype(init, dtype, copy=False)


def _run_directions(xp, direction, X, W, R, B, n_gates, states, sequence_lens, cell_factory):
    """Run every direction and stack results.

    ``states`` is a list of [num_dirs, batch, hidden] arrays (h, and c for LSTM).
    ``cell_factory(d, r, rb)`` returns ``cell(xw_t, state_tuple) -> state_tuple`` for
    direction ``d``; the first entry of the state tuple is the hidden output.
    Returns Y [seq, dirs, batch, hidden] and the final states stacked over dirs.
    """
    seq_len, batch = X.shape[0], X.shape[1]
    num_dirs = W.shape[0]
    hidden = R.shape[-1]
    mask = _step_mask(xp, sequence_lens, seq_len, batch)
    ys, finals = [], []
    for d in range(num_dirs):
        wb = B[d, : n_gates * hidden] if B is not None else None
        rb = B[d, n_gates * hidden:] if B is not None else None
        # Every step's input projection in one matmul: [seq, batch, G*hidden].
        xw = xp.matmul(X, xp.matrix_transpose(W[d]))
        if wb is not None:
            xw = xw + wb
        cell = cell_factory(d, xp.matrix_transpose(R[d]), rb)
        reverse = direction == "reverse" or d == 1
        order = range(seq_len - 1, -1, -1) if reverse else range(seq_len)
        state = tuple(s[d] for s in states)
        outs = [None] * seq_len
        for t in order:
            new = cell(xw[t], state)
            if mask is not None:
                m = mask[t]
                new = tuple(xp.where(m, n, o) for n, o in zip(new, state))
                outs[t] = xp.where(m, new[0], xp.zeros_like(new[0]))
            else:
                outs[t] = new[0]
            state = new
        ys.append(xp.stack(outs, axis=0) if seq_len else xp.zeros((0, batch, hidden), dtype=X.dtype))
        finals.append(state)
    Y = xp.stack(ys, axis=1)
    final_states = [xp.stack([f[i] for f in finals], axis=0) for i in range(len(states))]
    return Y, final_states


def _finish(xp, Y, finals, layout, dtype, n_outputs):
    """Apply the output layout and trim to the node's declared output count."""
    if layout == 1:
        Y = xp.permute_dims(Y, (2, 0, 1, 3))
        finals = [xp.permute_dims(f, (1, 0, 2)) for f in finals]
    outs = [xp.astype(Y, dtype, copy=False)] + [xp.astype(f, dtype, copy=False) for f in finals]
    if n_outputs is not None:
        outs = outs[: max(n_outputs, 1)]
    return tuple(outs)


# --------------------------------------------------------------------------- RNN


@op("RNN", since=(1, 7, 14))
def rnn(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *,
        activation_alpha=None, activation_beta=None, activations=None, clip=None,
        direction="forward", hidden_size=None, layout=0, output_sequence=0, _n_outputs=None):
    num_dirs = _num_directions(direction)
    X = _to_time_major(xp, X, layout)
    hidden = R.shape[-1]
    acts = _resolve_activations(xp, activations, activation_alpha, activation_beta, ["Tanh"], num_dirs)
    clipf = _clipper(xp, clip)
    h0 = _initial_state(xp, _to_time_major(xp, initial_h, layout), num_dirs, X.shape[1], hidden, X.dtype)

    def factory(d, rt, rb):
        (f,) = acts[d]

        def cell(xw_t, state):
            pre = xw_t + xp.matmul(state[0], rt)
            if rb is not None:
                pre = pre + rb
            return (f(clipf(pre)),)

        return cell

    Y, finals = _run_directions(xp, direction, X, W, R, B, 1, [h0], sequence_lens, factory)
    return _finish(xp, Y, finals, layout, X.dtype, _n_outputs)


# --------------------------------------------------------------------------- GRU


@op("GRU", since=(1, 3, 7, 14))
def gru(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *,
        activation_alpha=None, activation_beta=None, activations=None, clip=None,
        direction="forward", hidden_size=None, layout=0, linear_before_reset=0,
        output_sequence=0, _n_outputs=None):
    num_dirs = _num_directions(direction)
    X = _to_time_major(xp, X, layout)
    hidden = R.shape[-1]
    acts = _resolve_activations(xp, activations, activation_alpha, activation_beta,
                                ["Sigmoid", "Tanh"], num_dirs)
    clipf = _clipper(xp, clip)
    h0 = _initial_state(xp, _to_time_major(xp, initial_h, layout), num_dirs, X.shape[1], hidden, X.dtype)
    H = hidden

    def factory(d, rt, rb):
        f, g = acts[d]
        # rt is [hidden, 3*hidden] with gate columns z, r, h.
        rt_zr, rt_h = rt[:, : 2 * H], rt[:, 2 * H:]
        rb_zr = rb[: 2 * H] if rb is not None else None
        rb_h = rb[2 * H:] if rb is not None else None

        def cell(xw_t, state):
            h_prev = state[0]
            zr = xw_t[:, : 2 * H] + xp.matmul(h_prev, rt_zr)
            if rb_zr is not None:
                zr = zr + rb_zr
            zr = f(clipf(zr))
            z, r = zr[:, :H], zr[:, H:]
            if linear_before_reset:
                rh = xp.matmul(h_prev, rt_h)
                if rb_h is not None:
                    rh = rh + rb_h
                pre = xw_t[:, 2 * H:] + r * rh
            else:
                pre = xw_t[:, 2 * H:] + xp.matmul(r * h_prev, rt_h)
                if rb_h is not None:
                    pre = pre + rb_h
            h_tilde = g(clipf(pre))
            return ((1 - z) * h_tilde + z * h_prev,)

        return cell

    Y, finals = _run_directions(xp, direction, X, W, R, B, 3, [h0], sequence_lens, factory)
    return _finish(xp, Y, finals, layout, X.dtype, _n_outputs)


# --------------------------------------------------------------------------- LSTM


@op("LSTM", since=(1, 7, 14))
def lstm(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *,
         activation_alpha=None, activation_beta=None, activations=None, clip=None,
         direction="forward", hidden_size=None, input_forget=0, layout=0,
         output_sequence=0, _n_outputs=None):
    num_dirs = _num_directions(direction)
    X = _to_time_major(xp, X, layout)
    hidden = R.shape[-1]
    batch = X.shape[1]
    acts = _resolve_activations(xp, activations, activation_alpha, activation_beta,
                                ["Sigmoid", "Tanh", "Tanh"], num_dirs)
    clipf = _clipper(xp, clip)
    h0 = _initial_state(xp, _to_time_major(xp, initial_h, layout), num_dirs, batch, hidden, X.dtype)
    c0 = _initial_state(xp, _to_time_major(xp, initial_c, layout), num_dirs, batch, hidden, X.dtype)
    H = hidden

    def factory(d, rt, rb):
        f, g, h = acts[d]
        # Peepholes are [i, o, f]; a missing P means no peephole connection.
        p_i = p_o = p_f = None
        if P is not None:
            p_i, p_o, p_f = P[d, :H], P[d, H:2 * H], P[d, 2 * H:3 * H]

        def cell(xw_t, state):
            h_prev, c_prev = state
            gates = xw_t + xp.matmul(h_prev, rt)
            if rb is not None:
                gates = gates + rb
            # Gate column order in W/R/B is i, o, f, c.
            gi, go, gf, gc = (gates[:, k * H:(k + 1) * H] for k in range(4))
            if p_i is not None:
                gi = gi + p_i * c_prev
                gf = gf + p_f * c_prev
            i_t = f(clipf(gi))
            # input_forget couples the gates: what is let in is what is forgotten.
            f_t = 1 - i_t if input_forget else f(clipf(gf))
            c_tilde = g(clipf(gc))
            c_t = f_t * c_prev + i_t * c_tilde
            if p_o is not None:
                go = go + p_o * c_t
            o_t = f(clipf(go))
            # clip bounds gate pre-activations only; the cell state itself is not
            # clipped before h (matches onnxruntime).
            return (o_t * h(c_t), c_t)

        return cell

    Y, finals = _run_directions(xp, direction, X, W, R, B, 4, [h0, c0], sequence_lens, factory)
    return _finish(xp, Y, finals, layout, X.dtype, _n_outputs)
