"""Run a converted model in nnex and onnxruntime on the example inputs and compare with PyTorch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
import torch
from torch.utils import _pytree as pytree

from .capture import eval_mode
from .dtypes import to_numpy


@dataclass
class Verification:
    """Largest absolute difference per output, for each runtime (None where it could not run)."""

    outputs: list[str]
    max_abs_diff: dict[str, list[float | None]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def worst(self, runtime: str = "nnex") -> float:
        diffs = [d for d in self.max_abs_diff.get(runtime, []) if d is not None]
        return max(diffs, default=0.0)

    def to_dict(self) -> dict:
        return {"outputs": self.outputs, "max_abs_diff": self.max_abs_diff, "errors": self.errors}

    def __str__(self) -> str:
        runtimes = list(self.max_abs_diff) + [r for r in self.errors if r not in self.max_abs_diff]
        w = max([len(o) for o in self.outputs] + [6])
        lines = ["output".ljust(w) + "".join(f"  {r:>12}" for r in runtimes)]
        for i, o in enumerate(self.outputs):
            cells = []
            for r in runtimes:
                vals = self.max_abs_diff.get(r)
                d = vals[i] if vals else None
                cells.append(f"  {'error' if d is None else f'{d:.3g}':>12}")
            lines.append(o.ljust(w) + "".join(cells))
        for r, e in self.errors.items():
            lines.append(f"{r}: {e}")
        return "largest |onnx - torch| per output\n" + "\n".join(lines)


def _expected(module, args, kwargs) -> list[np.ndarray]:
    if isinstance(module, torch.export.ExportedProgram):
        fn = module.module()
        out = fn(*args, **kwargs)
    else:
        with eval_mode(module), torch.no_grad():
            out = module(*args, **kwargs)
    return [to_numpy(x) if isinstance(x, torch.Tensor) else np.asarray(x) for x in pytree.tree_leaves(out)]


def feeds_for(proto: onnx.ModelProto, args, kwargs) -> dict:
    """The ONNX feeds for the example inputs: tensor leaves of (args, kwargs) by input name."""
    leaves = [x for x in pytree.tree_leaves((tuple(args), dict(kwargs or {}))) if isinstance(x, torch.Tensor)]
    names = [i.name for i in proto.graph.input]
    return {n: to_numpy(t) for n, t in zip(names, leaves)}


def _diff(got, want) -> float:
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return float("inf")
    if want.size == 0:
        return 0.0
    if want.dtype == bool or got.dtype == bool:
        return float(np.max(got.astype(np.int64) != want.astype(np.int64)))
    g = got.astype(np.float64)
    e = want.astype(np.float64)
    same = (g == e) | (np.isnan(g) & np.isnan(e))
    return float(np.max(np.where(same, 0.0, np.abs(g - e))))


def verify(proto: onnx.ModelProto, module, args, kwargs=None) -> Verification:
    """Compare ``proto`` run in nnex and onnxruntime against ``module(*args, **kwargs)``."""
    kwargs = kwargs or {}
    want = _expected(module, args, kwargs)
    feeds = feeds_for(proto, args, kwargs)
    names = [o.name for o in proto.graph.output]
    report = Verification(outputs=names)
    data = proto.SerializeToString()
    runners = {}
    try:
        import onnxruntime as ort

        runners["onnxruntime"] = lambda: ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(
            None, feeds)
    except ImportError:
        report.errors["onnxruntime"] = "not installed"
    from ... import InferenceSession

    runners["nnex"] = lambda: InferenceSession(data).run(None, feeds)
    for name, run in runners.items():
        try:
            got = run()
        except Exception as e:  # noqa: BLE001  (reported, not raised: verification is a diagnosis)
            report.errors[name] = f"{type(e).__name__}: {e}"
            continue
        report.max_abs_diff[name] = [_diff(g, w) for g, w in zip(got, want)]
    return report
