"""Optimizer steps of the ai.onnx.preview.training domain: Adagrad, Adam, Momentum.

Each takes a learning rate R and an update count T (scalars), then the optimized
tensors as one variadic list laid out group by group (all X, then all G, then the
state tensors), and returns the new values in the same grouped order.  The scalar
coefficients are folded on the host as Python floats so that every elementwise
update stays in the tensors' own dtype.

Gradient (the autodiff operator of this domain) is not implemented: it needs the
runtime to differentiate a graph, which no kernel can do.
"""

from __future__ import annotations

import math

import numpy as np

from .registry import TRAINING_DOMAIN, op


def _scalar(v) -> float:
    return float(np.asarray(v).reshape(()))


def _groups(tensors, n_groups: int, name: str) -> list[list]:
    """Split the variadic inputs into ``n_groups`` equal groups (X, G, state...)."""
    if len(tensors) % n_groups:
        raise ValueError(f"{name}: {len(tensors)} tensor inputs are not {n_groups} equal groups")
    k = len(tensors) // n_groups
    return [list(tensors[i * k:(i + 1) * k]) for i in range(n_groups)]


@op("Adagrad", since=1, domain=TRAINING_DOMAIN)
def adagrad(xp, r, t, *tensors, decay_factor=0.0, epsilon=1e-6, norm_coefficient=0.0):
    xs, gs, hs = _groups(tensors, 3, "Adagrad")
    lr = _scalar(r) / (1.0 + _scalar(t) * decay_factor)
    new_x, new_h = [], []
    for x, g, h in zip(xs, gs, hs):
        g_reg = norm_coefficient * x + g
        h_new = h + g_reg * g_reg
        new_x.append(x - lr * g_reg / (xp.sqrt(h_new) + epsilon))
        new_h.append(h_new)
    return tuple(new_x + new_h)


@op("Adam", since=1, domain=TRAINING_DOMAIN)
def adam(
    xp, r, t, *tensors, alpha=0.9, beta=0.999, epsilon=1e-6, norm_coefficient=0.0, norm_coefficient_post=0.0
):
    xs, gs, vs, hs = _groups(tensors, 4, "Adam")
    step = _scalar(t)
    lr = _scalar(r)
    if step > 0:
        # bias correction of both running averages, folded into the learning rate
        lr = lr * math.sqrt(1.0 - beta**step) / (1.0 - alpha**step)
    new_x, new_v, new_h = [], [], []
    for x, g, v, h in zip(xs, gs, vs, hs):
        g_reg = norm_coefficient * x + g
        v_new = alpha * v + (1.0 - alpha) * g_reg
        h_new = beta * h + (1.0 - beta) * g_reg * g_reg
        x_new = x - lr * v_new / (xp.sqrt(h_new) + epsilon)
        new_x.append((1.0 - norm_coefficient_post) * x_new)
        new_v.append(v_new)
        new_h.append(h_new)
    return tuple(new_x + new_v + new_h)


@op("Momentum", since=1, domain=TRAINING_DOMAIN)
def momentum(xp, r, t, *tensors, alpha, beta, mode, norm_coefficient):
    if mode not in ("standard", "nesterov"):
        raise ValueError(f"Momentum: unknown mode {mode!r}")
    xs, gs, vs = _groups(tensors, 3, "Momentum")
    lr = _scalar(r)
    # the first step (T == 0) takes the whole gradient
    beta_adj = beta if _scalar(t) > 0 else 1.0
    new_x, new_v = [], []
    for x, g, v in zip(xs, gs, vs):
        g_reg = norm_coefficient * x + g
        v_new = alpha * v + beta_adj * g_reg
        step = g_reg + alpha * v_new if mode == "nesterov" else v_new
        new_x.append(x - lr * step)
        new_v.append(v_new)
    return tuple(new_x + new_v)
