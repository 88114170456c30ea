"""verify=True for every converter: run the ONNX model in onnxruntime and nnex, compare with the framework."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx


@dataclass
class Verification:
    """Largest absolute difference per output, for each runtime (None where it could not run)."""

    outputs: list[str]
    max_abs_diff: dict[str, list[float | None]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    framework: str = "framework"

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
        lines += [f"{r}: {e}" for r, e in self.errors.items()]
        return f"largest |onnx - {self.framework}| per output\n" + "\n".join(lines)


def max_abs_diff(got, want) -> float:
    """inf for a shape mismatch; NaN equal to NaN; booleans and integers count mismatches as 1."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return float("inf")
    if want.size == 0:
        return 0.0
    if want.dtype.kind not in "fc" or got.dtype.kind not in "fc":
        return float(np.max(got.astype(np.float64) != want.astype(np.float64)))
    g, e = got.astype(np.float64), want.astype(np.float64)
    same = (g == e) | (np.isnan(g) & np.isnan(e))
    return float(np.max(np.where(same, 0.0, np.abs(g - e))))


def compare_runtimes(proto: onnx.ModelProto, feeds: dict, want: list, framework: str) -> Verification:
    """Run ``proto`` on ``feeds`` in onnxruntime (when installed) and nnex; diff each output with ``want``."""
    report = Verification(outputs=[o.name for o in proto.graph.output], framework=framework)
    data = proto.SerializeToString()
    runners = {}
    try:
        import onnxruntime as ort

        runners["onnxruntime"] = lambda: ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(
            None, feeds)
    except ImportError:
        report.errors["onnxruntime"] = "not installed"
    from .. import InferenceSession

    runners["nnex"] = lambda: InferenceSession(data).run(None, feeds)
    for name, run in runners.items():
        try:
            got = run()
        except Exception as e:  # noqa: BLE001  (reported, not raised: verification is a diagnosis)
            report.errors[name] = f"{type(e).__name__}: {e}"
            continue
        report.max_abs_diff[name] = [max_abs_diff(g, w) for g, w in zip(got, want)]
    return report
