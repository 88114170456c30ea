"""The official ONNX backend test suite (node, simple, pytorch-converted, pytorch-operator, light models)."""

from __future__ import annotations

import warnings

import onnx.backend.test

import nnex

from .exclusions import EXCLUDED

warnings.filterwarnings("ignore", category=RuntimeWarning)

backend_test = onnx.backend.test.BackendTest(nnex.backend, __name__)
backend_test.include(r"_cpu$")  # nnex.backend runs on the CPU; GPU runs go through providers
for pattern in EXCLUDED:
    backend_test.exclude(pattern)

globals().update(backend_test.test_cases)
