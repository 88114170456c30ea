"""Linear algebra operators: Gemm, MatMul, MatMulInteger, Einsum, Det.

NumPy has no matmul/einsum/linalg loops for the ml_dtypes extension types (bfloat16),
and no float16 linalg; those go through float32 and are rounded back once at the end,
so every output keeps the input dtype.
"""

from __future__ import annotations

import numpy as np

from .registry import op


def _needs_widening(dtype, *, linalg: bool = False) -> bool:
    """True for dtypes NumPy cannot compute with here (ml_dtypes types; float16 in linalg)."""
    if not isinstance(dtype, np.dtype):
        return False  # a non-NumPy backend dtype: let the backend handle it
    if dtype.kind == "V" or type(dtype).__module__.startswith("ml_dtypes"):
        return True
    return linalg and dtype == np.float16


def _widen(xp, x, *, linalg: bool = False):
    return xp.astype(x, xp.float32) if _needs_widening(x.dtype, linalg=linalg) else x


def _scale(xp, y, factor: float):
    # Multiplying by a Python float keeps a float array's dtype; skip the no-op case.
    return y if factor == 1.0 else y * factor


# ----------------------------------------------------------------------------- Gemm


def _gemm(xp, a, b, c, alpha, beta, trans_a, trans_b):
    dtype = a.dtype
    a2, b2 = _widen(xp, a), _widen(xp, b)
    if trans_a:
        a2 = xp.matrix_transpose(a2)
    if trans_b:
        b2 = xp.matrix_transpose(b2)
    y = _scale(xp, xp.matmul(a2, b2), alpha)
    if c is not None and beta != 0.0:
        y = y + _scale(xp, _widen(xp, c), beta)
    return xp.astype(y, dtype) if y.dtype != dtype else y


@op("Gemm", since=(1, 6))
def gemm_v1(xp, a, b, c, *, alpha=1.0, beta=1.0, broadcast=0, transA=0, transB=0):
    # ``broadcast`` only allowed C to be broadcast; numpy broadcasting covers both cases.
    return _gemm(xp, a, b, c, alpha, beta, transA, transB)


@op("Gemm", since=(7, 11))
def gemm(xp, a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    return _gemm(xp, a, b, c, alpha, beta, transA, transB)


# ----------------------------------------------------------------------------- MatMul


@op("MatMul", since=1)
def matmul(xp, a, b):
    dtype = a.dtype
    y = xp.matmul(_widen(xp, a), _widen(xp, b))
    return xp.astype(y, dtype) if y.dtype != dtype else y


@op("MatMulInteger", since=10)
def matmul_integer(xp, a, b, a_zero_point=None, b_zero_point=None):
    a32 = xp.astype(a, xp.int32)
    b32 = xp.astype(b, xp.int32)
    if a_zero_point is not None:
        azp = xp.astype(a_zero_point, xp.int32)
        # A per-row zero point (length M) lines up with A's second-to-last axis.
        if azp.ndim == 1 and azp.shape[0] > 1:
            azp = xp.reshape(azp, (azp.shape[0], 1))
        a32 = a32 - azp
    if b_zero_point is not None:
        # A per-column zero point (length N) broadcasts along B's last axis as is.
        b32 = b32 - xp.astype(b_zero_point, xp.int32)
    return xp.matmul(a32, b32)


# ----------------------------------------------------------------------------- Einsum / Det


@op("Einsum", since=12)
def einsum(xp, *inputs, equation):
    dtype = inputs[0].dtype
    y = xp.asarray(xp.einsum(equation.replace(" ", ""), *[_widen(xp, x) for x in inputs]))
    return xp.astype(y, dtype) if y.dtype != dtype else y


@op("Det", since=11)
def det(xp, x):
    dtype = x.dtype
    y = xp.asarray(xp.linalg.det(_widen(xp, x, linalg=True)))
    return xp.astype(y, dtype) if y.dtype != dtype else y
