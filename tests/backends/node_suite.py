"""The official ONNX node tests, run through ``InferenceSession(model, providers=[backend])``.

Each case is compared with its expected outputs exactly as onnx's backend runner compares
them (``Runner.assert_similar_outputs``: shape, dtype equality, the case's rtol/atol).

    python -m tests.backends.node_suite torch          # every case, then a summary of failures
    python -m tests.backends.node_suite jax Conv       # only cases whose name contains "Conv"
    python -m tests.backends.node_suite jax "" 2       # every case, each run twice
"""

from __future__ import annotations

import functools
import re
import sys
import time
import traceback
import warnings

import numpy as np


@functools.lru_cache(maxsize=1)
def node_cases() -> dict:
    """name -> onnx.backend.test.loader TestCase, for every node test of the installed onnx."""
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {t.name: t for t in load_model_tests(kind="node")}


def excluded_reason(name: str, exclusions: dict) -> str | None:
    for pattern, reason in exclusions.items():
        if re.search(pattern, name):
            return reason
    return None


def run_case(case, provider: str, runs: int = 1) -> None:
    """Raises AssertionError (or the runtime's error) when ``case`` fails on ``provider``.

    ``runs`` > 1 runs the session again on the same inputs (JAX compiles a node at its
    second call: the compiled kernels are then the ones compared)."""
    from onnx.backend.test.runner import Runner, _normalize_tensor

    import nnex

    sess = nnex.InferenceSession(case.model, providers=[provider])
    names = [i.name for i in sess.get_inputs()]
    every = names + [i.name for i in sess.get_overridable_initializers()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for inputs, expected in case.data_sets:
            # the loader's data may hold TensorProtos (as the runner, turn them into arrays)
            inputs = [_normalize_tensor(x) for x in inputs]
            expected = [_normalize_tensor(x) for x in expected]
            feed = dict(zip(names if len(inputs) <= len(names) else every, inputs))
            for _ in range(runs):
                outputs = sess.run(None, feed)
                Runner.assert_similar_outputs(expected, outputs, rtol=case.rtol, atol=case.atol,
                                              model_dir=case.name)


def _main(argv: list[str]) -> int:
    provider = argv[0]
    needle = argv[1] if len(argv) > 1 else ""
    runs = int(argv[2]) if len(argv) > 2 else 1
    from . import exclusions_jax, exclusions_torch

    exclusions = {"torch": exclusions_torch.EXCLUDED, "jax": exclusions_jax.EXCLUDED}.get(
        provider.partition(":")[0], {})
    cases = node_cases()
    passed, failed, skipped = 0, {}, 0
    t0 = time.perf_counter()
    slow = []
    for name, case in cases.items():
        if needle not in name:
            continue
        if excluded_reason(name, exclusions):
            skipped += 1
            continue
        t = time.perf_counter()
        try:
            run_case(case, provider, runs)
            passed += 1
        except Exception as e:  # noqa: BLE001
            cause = e.__cause__ or e
            frames = [f for f in traceback.extract_tb(cause.__traceback__) if "/src/nnex/" in f.filename]
            last = (frames or traceback.extract_tb(cause.__traceback__))[-1]
            failed[name] = (f"{type(e).__name__}: {str(e).splitlines()[0][:300]}  "
                            f"[{last.filename.split('/')[-1]}:{last.lineno}]")
        slow.append((time.perf_counter() - t, name))
    for name, msg in sorted(failed.items()):
        print(f"FAIL {name}: {msg}")
    slow.sort(reverse=True)
    print("slowest:", ", ".join(f"{n} {s:.2f}s" for s, n in slow[:8]))
    print(f"{provider}: {passed} passed, {len(failed)} failed, {skipped} excluded "
          f"in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(_main(sys.argv[1:]))
