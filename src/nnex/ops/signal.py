"""Signal operators: DFT, STFT, the Blackman / Hamming / Hann windows and MelWeightMatrix.

ONNX carries complex values as a trailing axis of size 2 (real, imaginary), or size 1
for a real signal.  Kernels turn that into a backend complex array, call the array
API ``fft`` extension along the requested axis and split the result back.
Half-precision inputs are transformed in float32 (FFT libraries lack float16).
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.tensor import np_dtype_of
from .dtypes import astype, numpy_dtype, xp_asarray
from .registry import op

# --------------------------------------------------------------------------- helpers


def _host_int(v, default=None):
    """A host scalar input (0-d or 1-element) as a Python int; missing -> default."""
    if v is None:
        return default
    a = np.asarray(v).reshape(-1)
    return default if a.size == 0 else int(a[0])


def _fft_dtype(dtype) -> np.dtype:
    """The real dtype the FFT runs in: float64 stays, everything else goes float32."""
    return np.dtype(np.float64) if numpy_dtype(dtype) == np.float64 else np.dtype(np.float32)


def _to_complex(xp, x):
    """(..., 1|2) ONNX layout -> backend array without the last axis (complex if 2)."""
    x = astype(xp, x, _fft_dtype(x.dtype))
    if x.shape[-1] == 1:
        return x[..., 0]
    return x[..., 0] + 1j * x[..., 1]


def _from_complex(xp, y, dtype):
    """Complex backend array -> ONNX (..., 2) layout in ``dtype``."""
    return xp.astype(xp.stack([xp.real(y), xp.imag(y)], axis=-1), dtype)


def _transform(xp, x, n, axis, inverse, onesided):
    """DFT / IDFT / RFFT / IRFFT of an ONNX-layout signal along ``axis`` (< rank - 1)."""
    dtype = x.dtype
    real_input = x.shape[-1] == 1
    sig = _to_complex(xp, x)
    if inverse and onesided:
        # IRFFT: one-sided Hermitian spectrum -> full real signal.
        y = xp.fft.irfft(sig, n=n, axis=axis)
        return xp.astype(y[..., None], dtype)
    if inverse:
        return _from_complex(xp, xp.fft.ifft(sig, n=n, axis=axis), dtype)
    if onesided and real_input:
        return _from_complex(xp, xp.fft.rfft(sig, n=n, axis=axis), dtype)
    y = xp.fft.fft(sig, n=n, axis=axis)
    if onesided:
        # Complex input has no conjugate symmetry; keep the leading half anyway.
        idx = [slice(None)] * y.ndim
        idx[axis] = slice(0, n // 2 + 1)
        y = y[tuple(idx)]
    return _from_complex(xp, y, dtype)


def _dft(xp, x, dft_length, axis, inverse, onesided):
    rank = x.ndim
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank - 1:
        raise ValueError(f"DFT axis {axis} out of range for rank {rank}")
    n = _host_int(dft_length)
    if n is None:
        n = 2 * (x.shape[axis] - 1) if (inverse and onesided) else x.shape[axis]
    return _transform(xp, x, n, axis, inverse, onesided)


# --------------------------------------------------------------------------- DFT / STFT


@op("DFT", since=17, host_inputs=(1,))
def dft_17(xp, input, dft_length=None, *, axis=1, inverse=0, onesided=0):
    return _dft(xp, input, dft_length, axis, inverse, onesided)


@op("DFT", since=20, host_inputs=(1, 2))
def dft_20(xp, input, dft_length=None, axis=None, *, inverse=0, onesided=0):
    return _dft(xp, input, dft_length, _host_int(axis, -2), inverse, onesided)


@op("STFT", since=17, host_inputs=(1, 3))
def stft(xp, signal, frame_step, window=None, frame_length=None, *, onesided=1):
    length = signal.shape[-2]
    step = _host_int(frame_step)
    flen = _host_int(frame_length)
    if flen is None:
        flen = window.shape[0] if window is not None else length
    n_frames = max((length - flen) // step + 1, 0)
    # Gather every frame at once: (batch, frames, frame_length, 1|2).
    starts = np.arange(n_frames) * step
    idx = (starts[:, None] + np.arange(flen)[None, :]).reshape(-1)
    frames = xp.take(signal, xp.asarray(idx), axis=1)
    frames = xp.reshape(frames, (signal.shape[0], n_frames, flen, signal.shape[-1]))
    if window is not None:
        w = xp.astype(window, frames.dtype)
        frames = frames * xp.reshape(w, (1, 1, flen, 1))
    return _transform(xp, frames, flen, 2, 0, onesided)


# --------------------------------------------------------------------------- windows


def _window(xp, size, periodic, output_datatype, terms):
    """Generalized cosine window sum_k (-1)^k a_k cos(2 pi k n / N) of length ``size``.

    N is ``size`` for a periodic window and ``size - 1`` for a symmetric one.
    """
    n = _host_int(size)
    denom = n if periodic else n - 1
    pos = np.arange(n, dtype=np.float64)
    if denom <= 0:
        w = np.ones(n)  # a one-point symmetric window is just [1]
    else:
        w = np.zeros(n)
        for k, a in enumerate(terms):
            w = w + (-1) ** k * a * np.cos(2 * math.pi * k * pos / denom)
    return xp_asarray(xp, w, np_dtype_of(output_datatype))


@op("HannWindow", since=17, host_inputs=(0,))
def hann_window(xp, size, *, output_datatype=1, periodic=1):
    return _window(xp, size, periodic, output_datatype, (0.5, 0.5))


@op("HammingWindow", since=17, host_inputs=(0,))
def hamming_window(xp, size, *, output_datatype=1, periodic=1):
    return _window(xp, size, periodic, output_datatype, (25 / 46, 21 / 46))


@op("BlackmanWindow", since=17, host_inputs=(0,))
def blackman_window(xp, size, *, output_datatype=1, periodic=1):
    return _window(xp, size, periodic, output_datatype, (0.42, 0.5, 0.08))


# --------------------------------------------------------------------------- MelWeightMatrix


def _hz_to_mel(hz):
    # The mel conversion runs in the input's precision (as ONNX's reference and
    # onnxruntime effectively do), then widens to float64 for the bin positions.
    hz = np.asarray(hz)
    return np.float64(2595 * np.log1p(hz / 700)) / math.log(10)


@op("MelWeightMatrix", since=17, host_inputs=(0, 1, 2, 3, 4))
def mel_weight_matrix(
    xp, num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, *, output_datatype=1
):
    n_mel = _host_int(num_mel_bins)
    n_fft = _host_int(dft_length)
    rate = _host_int(sample_rate)
    n_spec = n_fft // 2 + 1
    low = _hz_to_mel(np.asarray(lower_edge_hertz).reshape(-1)[0])
    high = _hz_to_mel(np.asarray(upper_edge_hertz).reshape(-1)[0])
    # n_mel + 2 band edges evenly spaced in mel, mapped to DFT bin indices.
    step = (high - low) / (n_mel + 2)
    mel = np.arange(n_mel + 2) * step + low
    hz = 700 * np.expm1(mel / 2595 * math.log(10))
    edges = (((n_fft + 1) * hz) // rate).astype(np.int64)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    j = np.arange(n_spec)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.where(center > left, (j - left) / (center - left), 1.0)
        fall = (right - j) / (right - center)
    w = np.where((j >= left) & (j <= center), rise, np.where((j > center) & (j < right), fall, 0.0))
    return xp_asarray(xp, w, np_dtype_of(output_datatype))
