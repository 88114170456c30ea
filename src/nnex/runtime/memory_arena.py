"""Keep freed memory in the process for the next run (``SessionOptions.enable_cpu_mem_arena``).

Inference allocates the same large temporaries run after run. glibc's malloc serves blocks
above a dynamic threshold (128 KiB at first) with fresh ``mmap`` calls and hands them back to
the kernel on ``free``, and it trims the top of the heap past 128 KiB; every run then
page-faults its activations back in. Measured here: a 1.8 MB temporary (a 144x56x56 float32
activation) cost 2 ms to allocate and fill against 0.13 ms when its memory was reused, so a
MobileNetV2 run spent more time in page faults than in arithmetic.

onnxruntime avoids this with its own arena. NumPy has no pluggable allocator from Python, so
nnex asks glibc for the same behaviour: blocks up to 32 MiB come from the heap and freed memory
stays there (up to the trim threshold) for the next run. The settings are process-wide; they
are applied once, on the first session that asks, and never where the user already tuned
malloc through its environment variables. Elsewhere than glibc (macOS, Windows, musl) nothing
is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 1024 * 1024       # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 1024 * 1024 * 1024      # freed memory the heap keeps before returning it

_ENV_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
_lock = threading.Lock()
_state: bool | None = None


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl does not)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Configure glibc malloc to reuse freed blocks; True when the process runs with it now."""
    global _state
    with _lock:
        if _state is None:
            _state = _configure()
        return _state


def _configure() -> bool:
    if any(v in os.environ for v in _ENV_VARS):
        return False   # the user tuned malloc: theirs wins
    libc = _glibc()
    if libc is None:
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    return ok
