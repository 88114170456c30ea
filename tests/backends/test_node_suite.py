"""The official ONNX node tests on the torch and jax backends (see node_suite.py).

torch runs every case. JAX compiles each primitive for each new shape (about 50 ms a
compile on a CPU), so by default it runs one case per distinct operator set plus every
case of the ops it has native kernels for (~370 cases); ``NNEX_FULL_BACKEND_SUITE=1`` runs
all of them (about 4 minutes on 2 cores).
"""

from __future__ import annotations

import os

import pytest

from . import exclusions_jax, exclusions_torch
from .node_suite import excluded_reason, node_cases, run_case

_FULL = os.environ.get("NNEX_FULL_BACKEND_SUITE", "") not in ("", "0")

# ops with a native JAX kernel (jax_kernels.py / common_kernels.py): every case of theirs runs
_JAX_NATIVE_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "Div", "Dropout"}


def _op_types(case) -> tuple:
    return tuple(sorted({n.op_type for n in case.model.graph.node}))


def _jax_sample(cases: dict) -> set:
    seen, chosen = set(), set()
    for name, case in cases.items():
        ops = _op_types(case)
        if ops not in seen or (set(ops) & _JAX_NATIVE_OPS and "_expanded" not in name):
            seen.add(ops)
            chosen.add(name)
    return chosen


def _params():
    cases = node_cases()
    jax_cases = set(cases) if _FULL else _jax_sample(cases)
    params = [pytest.param("torch", name, id=f"torch-{name}") for name in cases]
    params += [pytest.param("jax", name, id=f"jax-{name}") for name in cases if name in jax_cases]
    return params


_EXCLUSIONS = {"torch": exclusions_torch.EXCLUDED, "jax": exclusions_jax.EXCLUDED}


@pytest.mark.parametrize(("provider", "name"), _params())
def test_node_case(provider, name):
    pytest.importorskip(provider)
    reason = excluded_reason(name, _EXCLUSIONS[provider])
    if reason:
        pytest.skip(reason)
    # JAX compiles a node at its second call: run twice so that compiled kernels are checked too
    run_case(node_cases()[name], provider, runs=2 if provider == "jax" else 1)
