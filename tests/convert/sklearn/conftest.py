import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """scikit-learn's OpenMP/BLAS threads only slow these small fits down (and fight
    pytest-xdist's workers for the same cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield
