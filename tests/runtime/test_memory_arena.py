"""enable_cpu_mem_arena: glibc malloc keeps freed memory (runtime/memory_arena.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = """
import numpy as np, nnex, onnx
from onnx import helper
from nnex.runtime import memory_arena
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", 1, [2])], [helper.make_tensor_value_info("y", 1, [2])])
so = nnex.SessionOptions()
so.enable_cpu_mem_arena = {arena}
nnex.InferenceSession(helper.make_model(g).SerializeToString(), so)
print(memory_arena._state)
"""


def _probe(arena: bool, **env) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    full.update(env)
    r = subprocess.run([sys.executable, "-c", _PROBE.format(arena=arena)], capture_output=True, text=True,
                       env=full, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
                           reason="glibc only")


@glibc
def test_first_session_configures_malloc():
    assert _probe(True) == "True"


def test_option_off_leaves_malloc_alone():
    assert _probe(False) == "None"


@glibc
def test_user_malloc_settings_win():
    assert _probe(True, MALLOC_TRIM_THRESHOLD_="131072") == "False"
