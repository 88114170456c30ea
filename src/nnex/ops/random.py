"""Random generators: RandomNormal/Uniform(Like), Multinomial, Bernoulli, and Dropout.

Values are drawn on the host with NumPy and handed to the backend through
``xp.asarray``.  A ``seed`` attribute makes a node reproducible: the same seed gives
the same values on every call (a fresh ``RandomState`` seeded from it, the
Mersenne-Twister generator NumPy's legacy API uses, so a seeded Dropout draws the same
mask as ``np.random.seed(seed); np.random.uniform(...)``).  Without a seed the values
come from one process-wide generator seeded from OS entropy.
"""

from __future__ import annotations

import struct

import numpy as np

from ..ir.tensor import np_dtype_of
from .registry import op

_GLOBAL_RNG = np.random.RandomState()


def _rng(seed) -> np.random.RandomState:
    """The generator for a node: fixed by ``seed`` when given, process-wide otherwise."""
    if seed is None:
        return _GLOBAL_RNG
    s = float(seed)
    if s.is_integer():
        return np.random.RandomState(int(s) & 0xFFFFFFFF)
    # a non-integral float seed: use all 64 bits of it, so 0.5 and 0.25 differ
    lo, hi = struct.unpack("<II", struct.pack("<d", s))
    return np.random.RandomState(np.array([lo, hi], dtype=np.uint32))


def _out_dtype(dtype, like=None) -> np.dtype:
    """The output dtype: the ``dtype`` attribute (an ONNX enum) or the input's dtype."""
    if dtype is not None:
        return np_dtype_of(int(dtype))
    if like is None:
        return np.dtype(np.float32)
    return np.dtype(like.dtype)


def _shape_of(x) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape)


# --------------------------------------------------------------------------- normal / uniform


@op("RandomNormal", since=1)
def random_normal(xp, *, shape, dtype=1, mean=0.0, scale=1.0, seed=None):
    vals = _rng(seed).normal(mean, scale, size=tuple(int(d) for d in shape))
    return xp.asarray(vals.astype(_out_dtype(dtype)))


@op("RandomUniform", since=1)
def random_uniform(xp, *, shape, dtype=1, high=1.0, low=0.0, seed=None):
    vals = _rng(seed).uniform(low, high, size=tuple(int(d) for d in shape))
    return xp.asarray(vals.astype(_out_dtype(dtype)))


@op("RandomNormalLike", since=1)
def random_normal_like(xp, x, *, dtype=None, mean=0.0, scale=1.0, seed=None):
    vals = _rng(seed).normal(mean, scale, size=_shape_of(x))
    return xp.asarray(vals.astype(_out_dtype(dtype, x)))


@op("RandomUniformLike", since=1)
def random_uniform_like(xp, x, *, dtype=None, high=1.0, low=0.0, seed=None):
    vals = _rng(seed).uniform(low, high, size=_shape_of(x))
    return xp.asarray(vals.astype(_out_dtype(dtype, x)))


# --------------------------------------------------------------------------- discrete


@op("Multinomial", since=7)
def multinomial(xp, x, *, dtype=6, sample_size=1, seed=None):
    logits = np.asarray(x, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"Multinomial takes [batch, classes] log-probabilities, got shape {logits.shape}")
    batch, classes = logits.shape
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    u = _rng(seed).random_sample((batch, int(sample_size)))
    # inverse-CDF sampling for all rows at once: shift row r into [r, r + 1] so a
    # single searchsorted over the flattened CDFs never crosses into another row
    offset = np.arange(batch, dtype=np.float64)[:, None]
    flat = (cdf + offset).ravel()
    idx = np.searchsorted(flat, (u + offset).ravel(), side="right").reshape(batch, -1)
    idx = np.clip(idx - np.arange(batch)[:, None] * classes, 0, classes - 1)
    return xp.asarray(idx.astype(_out_dtype(dtype)))


@op("Bernoulli", since=15)
def bernoulli(xp, x, *, dtype=None, seed=None):
    p = np.asarray(x, dtype=np.float64)
    draws = _rng(seed).random_sample(p.shape) < p
    return xp.asarray(draws.astype(_out_dtype(dtype, x)))


# --------------------------------------------------------------------------- Dropout


def _dropout_train(xp, x, ratio: float, seed):
    """Training-mode dropout: zero with probability ``ratio``, scale survivors by 1/(1-ratio)."""
    keep = _rng(seed).uniform(0.0, 1.0, _shape_of(x)) >= ratio
    scale = np.asarray(1.0 / (1.0 - ratio), dtype=np.float64)
    factor = xp.asarray((keep * scale).astype(x.dtype))
    return x * factor, keep


def _full_mask(xp, x, dtype):
    return xp.asarray(np.ones(_shape_of(x), dtype=dtype))


@op("Dropout", since=(1, 6))
def dropout_v1(xp, x, *, is_test=0, ratio=0.5, consumed_inputs=None, _n_outputs=1):
    # opsets 1 and 6 still run the training behaviour unless is_test is set; the mask has x's dtype
    if is_test or ratio == 0:
        return x, (_full_mask(xp, x, x.dtype) if _n_outputs > 1 else None)
    y, keep = _dropout_train(xp, x, float(ratio), None)
    return y, (xp.asarray(keep.astype(x.dtype)) if _n_outputs > 1 else None)


@op("Dropout", since=(7, 10))
def dropout_v7(xp, x, *, ratio=0.5, _opset=10, _n_outputs=1):
    # opsets 7-11 have no training switch: Dropout is the identity; the mask is x's
    # dtype before opset 10 and bool from it
    if _n_outputs < 2:
        return x
    return x, _full_mask(xp, x, bool if _opset >= 10 else x.dtype)


@op("Dropout", since=(12, 13, 22))
def dropout(xp, x, ratio=None, training_mode=None, *, seed=None, _n_outputs=1):
    r = 0.5 if ratio is None else float(np.asarray(ratio))
    training = training_mode is not None and bool(np.asarray(training_mode))
    if not training or r == 0:
        return x if _n_outputs < 2 else (x, _full_mask(xp, x, bool))
    y, keep = _dropout_train(xp, x, r, seed)
    return y if _n_outputs < 2 else (y, xp.asarray(keep))
