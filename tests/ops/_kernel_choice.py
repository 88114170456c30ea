"""Fixtures that pick between the NumPy kernels and the compiled ones (nnex/_jit.py); a test
module imports the ones it uses."""

from __future__ import annotations

import pytest

from nnex import _jit


def _numba_installed() -> bool:
    _jit.refresh()
    return _jit._numba() is not None


@pytest.fixture
def numpy_kernels(monkeypatch):
    """The NumPy kernels only, whether numba is installed or not."""
    monkeypatch.setitem(_jit._loaded, "enabled", False)


@pytest.fixture(params=["numpy", "compiled"])
def kernels(request, monkeypatch):
    """Each test twice: NumPy kernels, then compiled ones (skipped without numba)."""
    if request.param == "compiled":
        if not _numba_installed():
            pytest.skip("numba is not installed")
        monkeypatch.setitem(_jit._loaded, "enabled", True)
    else:
        monkeypatch.setitem(_jit._loaded, "enabled", False)
    return request.param
