"""The official ONNX node tests on the torch and jax backends (see node_suite.py).

torch runs every case. JAX compiles each primitive for each new shape (about 50 ms a
compile on a CPU), so by default it runs the first case of each distinct operator set
(~200 cases; test_native_kernels.py covers the geometries of its native kernels);
``NNEX_FULL_BACKEND_SUITE=1`` runs all of them, twice each (10 to 15 minutes on 2 cores). On a machine with a GPU, torch:cuda and cupy run
every case too (with torch's exclusions; cupy also skips four float16 Attention cases, exclusions_cupy.py).
"""

from __future__ import annotations

import os

import pytest

from . import exclusions_cupy, exclusions_jax, exclusions_torch
from .node_suite import excluded_reason, node_cases, run_case

_FULL = os.environ.get("NNEX_FULL_BACKEND_SUITE", "") not in ("", "0")

def _op_types(case) -> tuple:
    return tuple(sorted({n.op_type for n in case.model.graph.node}))


def _jax_sample(cases: dict) -> dict:
    """name -> runs: the first case of every distinct operator set (expanded function bodies
    left out: their ops have cases of their own); every fourth of them runs twice, so that
    compiled kernels (JAX compiles a node at its second call) are checked as well."""
    seen, chosen = set(), {}
    for name, case in cases.items():
        ops = _op_types(case)
        if "_expanded" in name or ops in seen:
            continue
        seen.add(ops)
        chosen[name] = 2 if len(chosen) % 4 == 0 else 1
    return chosen
def _gpu_providers() -> list[str]:
    """GPU providers this machine can run (collected only there: no GPU, no GPU cases)."""
    found = []
    try:
        import torch

        if torch.cuda.is_available():
            found.append("torch:cuda")
    except ImportError:
        pass
    from nnex.backends import available_backends

    if "cupy" in available_backends():
        found.append("cupy")
    return found


def _params():
    cases = node_cases()
    jax_runs = {name: 2 for name in cases} if _FULL else _jax_sample(cases)
    params = [pytest.param("torch", name, 1, id=f"torch-{name}") for name in cases]
    params += [pytest.param("jax", name, runs, id=f"jax-{name}") for name, runs in jax_runs.items()]
    for provider in _gpu_providers():
        params += [pytest.param(provider, name, 1, id=f"{provider}-{name}") for name in cases]
    return params


_EXCLUSIONS = {"torch": exclusions_torch.EXCLUDED, "jax": exclusions_jax.EXCLUDED,
               "torch:cuda": exclusions_torch.EXCLUDED, "cupy": exclusions_cupy.EXCLUDED}


@pytest.mark.parametrize(("provider", "name", "runs"), _params())
def test_node_case(provider, name, runs):
    pytest.importorskip(provider.partition(":")[0])
    reason = excluded_reason(name, _EXCLUSIONS[provider])
    if reason:
        pytest.skip(reason)
    run_case(node_cases()[name], provider, runs)
