"""A small end-to-end demo: build a CNN classifier in code, save it, run it with nnex (and onnxruntime).

    python -m nnex.demo [--out DIR] [--batch N]

The model is built with nnex's GraphBuilder (fixed-seed random weights)::

    image [N,3,16,16] -> Conv(8,3x3) -> Relu -> MaxPool(2x2) -> Conv(16,3x3) -> Relu
                      -> GlobalAveragePool -> Flatten -> Gemm(10) -> Softmax -> probs [N,10]

It is saved to DIR/demo_cnn.onnx (with the input used, DIR/image.npy), run with
nnex.InferenceSession and, when it is installed, with onnxruntime; the demo prints the
outputs, the largest difference between the two, both latencies, then ``nnex info``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

MODEL_NAME = "demo_cnn.onnx"
N_CLASSES = 10


def build_model(seed: int = 0):
    """The demo CNN as an nnex Model (opset 21), weights drawn from ``seed``."""
    from .ir import GraphBuilder

    rng = np.random.default_rng(seed)

    def w(*shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    b = GraphBuilder(opset=21, name="demo_cnn")
    x = b.input("image", np.float32, ["N", 3, 16, 16])
    h = b.op.Conv(x, b.const(w(8, 3, 3, 3, fan_in=27), "conv1.weight"),
                  b.const(w(8, fan_in=27) * 0.1, "conv1.bias"), kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                  _name="conv1")
    h = b.op.Relu(h, _name="relu1")
    h = b.op.MaxPool(h, kernel_shape=[2, 2], strides=[2, 2], _name="pool1")
    h = b.op.Conv(h, b.const(w(16, 8, 3, 3, fan_in=72), "conv2.weight"),
                  b.const(w(16, fan_in=72) * 0.1, "conv2.bias"), kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                  _name="conv2")
    h = b.op.Relu(h, _name="relu2")
    h = b.op.GlobalAveragePool(h, _name="gap")
    h = b.op.Flatten(h, axis=1, _name="flatten")
    h = b.op.Gemm(h, b.const(w(N_CLASSES, 16, fan_in=16), "fc.weight"),
                  b.const(np.zeros(N_CLASSES, np.float32), "fc.bias"), transB=1, _name="fc")
    p = b.op.Softmax(h, axis=1, _name="softmax")
    b.output(p, "probs", np.float32, ["N", N_CLASSES])
    model = b.build(producer_name="nnex.demo")
    model.producer_version = _version()
    model.doc_string = "A small CNN classifier built by `python -m nnex.demo`."
    model.metadata_props["source"] = "nnex.demo"
    return model


def _version() -> str:
    from . import __version__

    return __version__


def _median_latency(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    import nnex

    from .cli import fmt_ms, model_info, print_info, summarize

    ap = argparse.ArgumentParser(prog="python -m nnex.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="demo_out", metavar="DIR", help="where to save the model (default ./demo_out)")
    ap.add_argument("--batch", type=int, default=4, help="batch size of the demo input (default 4)")
    ap.add_argument("--repeat", type=int, default=20, help="runs timed for the latencies (default 20)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    out = sys.stdout

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, MODEL_NAME)
    t0 = time.perf_counter()
    model = build_model()
    nnex.save(model, path)
    print(f"built {path} in {fmt_ms(time.perf_counter() - t0)}: "
          + " -> ".join(n.op_type for n in model.graph.nodes), file=out)

    x = np.random.default_rng(1).standard_normal((args.batch, 3, 16, 16)).astype(np.float32)
    np.save(os.path.join(args.out, "image.npy"), x)

    t0 = time.perf_counter()
    sess = nnex.InferenceSession(path)
    nnex_build = time.perf_counter() - t0
    (probs,) = sess.run(None, {"image": x})
    nnex_lat = _median_latency(lambda: sess.run(None, {"image": x}), args.repeat)

    print(f"\nnnex ({', '.join(sess.get_providers())}):", file=out)
    print(f"  probs: {summarize(probs)}", file=out)
    print(f"  predicted classes: {probs.argmax(axis=1).tolist()}", file=out)
    print(f"  row sums: {np.round(probs.sum(axis=1), 6).tolist()}", file=out)

    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is None:
        print("\nonnxruntime is not installed: no comparison", file=out)
        print(f"\nlatency (median of {args.repeat}): nnex {fmt_ms(nnex_lat)}", file=out)
    else:
        t0 = time.perf_counter()
        ref_sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        ort_build = time.perf_counter() - t0
        (ref,) = ref_sess.run(None, {"image": x})
        ort_lat = _median_latency(lambda: ref_sess.run(None, {"image": x}), args.repeat)
        diff = float(np.max(np.abs(probs.astype(np.float64) - ref.astype(np.float64))))
        same = bool((probs.argmax(axis=1) == ref.argmax(axis=1)).all())
        print(f"\nonnxruntime {ort.__version__}:", file=out)
        print(f"  probs: {summarize(ref)}", file=out)
        print(f"  max abs difference nnex vs onnxruntime: {diff:.3g}"
              f" (same predicted classes: {'yes' if same else 'NO'})", file=out)
        print(f"\nlatency (median of {args.repeat}): nnex {fmt_ms(nnex_lat)}, onnxruntime {fmt_ms(ort_lat)}",
              file=out)
        print(f"session build: nnex {fmt_ms(nnex_build)}, onnxruntime {fmt_ms(ort_build)}", file=out)

    print(f"\n$ nnex info {path}", file=out)
    print_info(model_info(path), out)
    print(f"\ntry: nnex run {path} --input image={os.path.join(args.out, 'image.npy')} --repeat 10", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
