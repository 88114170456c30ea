"""Kernels every non-NumPy backend uses in place of standard ones written with NumPy.

Dropout's standard kernel draws with NumPy's generator; in inference (the usual case in
an exported model) it is the identity, which needs no host round trip.
"""

from __future__ import annotations


def register(backend) -> None:
    backend.native("Dropout", (1, 6), dropout_v1)
    backend.native("Dropout", (7, 10), dropout_v7)
    backend.native("Dropout", (12, 13, 22), dropout)


def _ones(xp, x, dtype):
    return xp.ones(tuple(x.shape), dtype=dtype)


def dropout_v1(xp, x, *, is_test=0, ratio=0.5, consumed_inputs=None, _n_outputs=1):
    if not (is_test or ratio == 0):
        return NotImplemented  # training: the standard kernel draws the mask on the host
    return x, (_ones(xp, x, x.dtype) if _n_outputs > 1 else None)


def dropout_v7(xp, x, *, ratio=0.5, _opset=10, _n_outputs=1):
    if _n_outputs < 2:
        return x
    return x, _ones(xp, x, xp.bool if _opset >= 10 else x.dtype)


def dropout(xp, x, ratio=None, training_mode=None, *, seed=None, _n_outputs=1):
    if training_mode is not None and bool(xp.any(training_mode)):
        return NotImplemented  # training: the standard kernel draws the mask on the host
    return x if _n_outputs < 2 else (x, _ones(xp, x, xp.bool))
