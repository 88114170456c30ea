"""Run a converted model in nnex and onnxruntime on the sample and compare with TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx


@dataclass
class Verification:
    """Largest absolute difference per output, for each runtime (errors where one could not run)."""

    outputs: list[str]
    max_abs_diff: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def worst(self, runtime: str = "nnex") -> float:
        return max(self.max_abs_diff.get(runtime, []), default=0.0)

    def to_dict(self) -> dict:
        return {"outputs": self.outputs, "max_abs_diff": self.max_abs_diff, "errors": self.errors}

    def __str__(self) -> str:
        runtimes = list(self.max_abs_diff)
        w = max([len(o) for o in self.outputs] + [6])
        lines = ["output".ljust(w) + "".join(f"  {r:>12}" for r in runtimes)]
        for i, o in enumerate(self.outputs):
            lines.append(o.ljust(w) + "".join(f"  {self.max_abs_diff[r][i]:>12.3g}" for r in runtimes))
        lines += [f"{r}: {e}" for r, e in self.errors.items()]
        return "largest |onnx - tensorflow| per output\n" + "\n".join(lines)


def sample_arrays(sample) -> list[np.ndarray]:
    """The sample's arrays in the order of the model's inputs."""
    if isinstance(sample, dict):
        return [np.asarray(sample[k]) for k in sample]
    if isinstance(sample, (tuple, list)):
        return [np.asarray(x) for x in sample]
    return [np.asarray(sample)]


def tf_outputs(fn, sample) -> list[np.ndarray]:
    """``fn`` (a ConcreteFunction or any callable) on the sample, flattened like the model's outputs."""
    import tensorflow as tf

    if isinstance(sample, dict):
        out = fn(**{k: tf.constant(v) for k, v in sample.items()})
    elif isinstance(sample, (tuple, list)):
        out = fn(*[tf.constant(x) for x in sample])
    else:
        out = fn(tf.constant(sample))
    return [np.asarray(t) for t in tf.nest.flatten(out)]


def _diff(got, want) -> float:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return float("inf")
    if want.size == 0:
        return 0.0
    if want.dtype.kind not in "fc":
        return float(np.max(got.astype(np.float64) != want.astype(np.float64)))
    g, e = got.astype(np.float64), want.astype(np.float64)
    same = (g == e) | (np.isnan(g) & np.isnan(e))
    return float(np.max(np.where(same, 0.0, np.abs(g - e))))


def verify_model(proto: onnx.ModelProto, fn, sample) -> Verification:
    want = tf_outputs(fn, sample)
    feeds = {i.name: a for i, a in zip(proto.graph.input, sample_arrays(sample))}
    report = Verification(outputs=[o.name for o in proto.graph.output])
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
        except Exception as e:  # noqa: BLE001  (reported: verification is a diagnosis)
            report.errors[name] = f"{type(e).__name__}: {e}"
            continue
        report.max_abs_diff[name] = [_diff(g, w) for g, w in zip(got, want)]
    return report
