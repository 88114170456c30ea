"""Optimize an ONNX file: what ``nnex optimize in.onnx -o out.onnx`` runs.

    from nnex.tools.optimize import optimize_file
    report = optimize_file("model.onnx", "model.opt.onnx", level="extended")
    print(report["nodes_before"], "->", report["nodes_after"])

The written model has the same inputs and outputs (names and types) and only standard ONNX
ops, so any runtime loads it. Models with external data keep their weights in one external
file beside the output (``<out>.data``).
"""

from __future__ import annotations

import os
import time
from collections import Counter

from ..ir.io import load, save
from ..ir.model import Model
from ..passes import optimize
from ..passes.pipeline import level_number


def _op_counts(model: Model) -> Counter:
    return Counter(n.op_type if not n.domain else f"{n.domain}::{n.op_type}" for n in model.graph.nodes)


def _has_external_data(model: Model) -> bool:
    return any(v.const is not None and v.const.is_external for v in model.graph.initializers.values())


def optimize_file(in_path, out_path, level="extended", *, external_data: bool | None = None) -> dict:
    """Read ``in_path``, optimize it at ``level`` (0-2, 99, or "basic"/"extended"/"all"), write ``out_path``.

    ``external_data``: True writes the weights to ``<out>.data``, False keeps them inside the file,
    None (default) does what the input did (and goes external past protobuf's 2 GB limit anyway).
    Returns a summary: node and op counts before and after, rewrites per pass, seconds taken.
    Raises FileNotFoundError / ValueError with the path named for a missing or unreadable input.
    """
    in_path, out_path = os.fspath(in_path), os.fspath(out_path)
    level_no = level_number(level)
    t0 = time.perf_counter()
    model = load(in_path)
    stats: dict = {}
    optimized = optimize(model, level_no, stats=stats)
    if external_data is None:
        external_data = True if _has_external_data(model) else None
    save(optimized, out_path, external_data=external_data)
    rewrites = {k: v for k, v in stats.items() if k not in ("iterations", "milliseconds") and v}
    before, after = _op_counts(model), _op_counts(optimized)
    return {
        "input": in_path,
        "output": out_path,
        "level": level_no,
        "nodes_before": sum(before.values()),
        "nodes_after": sum(after.values()),
        "ops_before": dict(before),
        "ops_after": dict(after),
        "rewrites": rewrites,
        "iterations": stats.get("iterations", 0),
        "seconds": round(time.perf_counter() - t0, 4),
    }
