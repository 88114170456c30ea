"""docs/operators.md is the output of scripts/gen_operators_doc.py for the installed onnx."""

from __future__ import annotations

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script():
    spec = importlib.util.spec_from_file_location("gen_operators_doc", os.path.join(ROOT, "scripts", "gen_operators_doc.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_operators_doc_is_up_to_date():
    with open(os.path.join(ROOT, "docs", "operators.md"), encoding="utf-8") as f:
        assert f.read() == _script().render(), "docs/operators.md is stale: run python scripts/gen_operators_doc.py"


def test_every_standard_op_is_listed_with_a_status():
    import onnx.defs

    text = _script().render()
    for s in onnx.defs.get_all_schemas_with_history():
        if not s.deprecated and s.domain in ("", "ai.onnx.ml"):
            assert f"| {s.name} | {s.since_version} | " in text
