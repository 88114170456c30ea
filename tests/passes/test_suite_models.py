"""The official ONNX suite's PyTorch models, optimized, still give the suite's expected outputs."""

from __future__ import annotations

import glob
import os
import re

import numpy as np
import onnx
import onnx.backend.test.loader as suite
import pytest
from onnx import numpy_helper

from nnex.ir import model_to_proto
from nnex.passes import optimize

from ..conformance.exclusions import EXCLUDED
from .helpers import nnex_run

_CASES = [c for kind in ("pytorch-converted", "pytorch-operator") for c in suite.load_model_tests(kind=kind)
          if c.model_dir and not any(re.search(p, c.name + "_cpu") for p in EXCLUDED)]


def _read(paths: list[str]) -> list[np.ndarray]:
    out = []
    for p in paths:
        t = onnx.TensorProto()
        with open(p, "rb") as f:
            t.ParseFromString(f.read())
        out.append(numpy_helper.to_array(t))
    return out


@pytest.mark.parametrize("case", _CASES, ids=[c.name for c in _CASES])
def test_optimized_suite_model_gives_the_expected_outputs(case):
    model = onnx.load(os.path.join(case.model_dir, "model.onnx"))
    optimized = model_to_proto(optimize(model, "all", strict=True))
    data = os.path.join(case.model_dir, "test_data_set_0")
    inputs = _read(sorted(glob.glob(os.path.join(data, "input_*.pb")), key=lambda p: int(p.rsplit("_", 1)[1][:-3])))
    expected = _read(sorted(glob.glob(os.path.join(data, "output_*.pb")), key=lambda p: int(p.rsplit("_", 1)[1][:-3])))
    init_names = {i.name for i in optimized.graph.initializer}
    names = [i.name for i in optimized.graph.input if i.name not in init_names]
    got = nnex_run(optimized, dict(zip(names, inputs)), level=0)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=case.rtol, atol=case.atol)
