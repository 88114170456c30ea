"""Benchmark one model: nnex's backends against onnxruntime (and onnx.reference), in one process.

    from nnex.tools.bench import bench_model, format_result
    result = bench_model("model.onnx", batch=1)      # a dict of plain numbers, JSON-ready
    print(format_result(result))

How it measures, and why:

- Every engine gets its session built (timed), then two untimed warm-up runs (JAX compiles a node at
  its second call; onnx.reference gets one), the first run's outputs compared with onnxruntime's,
  and one more untimed run whose time sets the number of timed runs. The timed runs are interleaved: round after round, each engine runs
  a block of runs (one run, or as many as fill ``block_s`` for a fast model; a slower engine is spread
  evenly over the rounds when it gets fewer runs), so drift in the machine's load touches every
  engine alike and the ratios stay meaningful on a busy machine.
- Before each block the process sleeps ``settle_s`` (not timed): thread pools busy-wait after their
  work (OpenBLAS's workers about 110 ms after a BLAS call, onnxruntime's about 60 ms after a run,
  measured), and an engine timed while the previous one's threads still spin loses a core to them.
- Without ``repeat`` the number of timed runs per engine comes from a time budget
  (``time_budget_s``, shared by the engines), between ``min_runs`` and ``max_runs``; an engine whose
  runs are so short that ``max_runs`` of them last less than ``min_time_s`` gets the runs that fill
  ``min_time_s`` instead (200 runs of a 10 us model are 2 ms, which one preemption or timer tick
  skews; spread over several blocks, they meet the machine's drift like the slow models' runs do).
- onnx.reference (opt-in) gets one warm-up run under a wall-clock cap (``reference_cap_s``); when it
  takes longer it is interrupted and reported as skipped.
- Peak memory (opt-in, ``memory=True``) is measured in a fresh subprocess per engine, as the growth
  of the process's peak resident set size from just before the session is built (libraries imported,
  inputs loaded) to after one run. On Linux the peak is VmHWM from /proc/self/status, reset to the
  current RSS at the baseline through /proc/self/clear_refs; elsewhere ``ru_maxrss``. RSS counts what
  native code allocates (onnxruntime's arena, BLAS buffers), which ``tracemalloc`` does not see;
  ``ru_maxrss`` alone would not do on Linux, where a child inherits its parent's peak across exec.
- Correctness: each nnex output against onnxruntime's, ``|a - b| <= atol + rtol * |b|`` elementwise
  (NaN equals NaN); reported as max absolute difference, max relative difference
  (``|a - b| / max(|b|, atol)``) and pass/fail.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RTOL = 1e-3
ATOL = 1e-4
ORT = "onnxruntime"
REFERENCE = "reference"


# ------------------------------------------------------------------------------------- inputs
def _model_inputs(model_path: str):
    """(name, TypeProto) of the inputs a caller must feed (initializers excluded)."""
    import onnx

    proto = onnx.load(model_path, load_external_data=False)
    inits = {t.name for t in proto.graph.initializer}
    return [(v.name, v.type) for v in proto.graph.input if v.name not in inits]


def random_feeds(model_path: str, batch: int | None = None, dims: dict | None = None, seed: int = 0) -> dict:
    """Random inputs of the declared types and shapes.

    The first dimension is ``batch`` when it is symbolic (an error when it is fixed to something else);
    other symbolic dimensions come from ``dims`` by name (1 when not given). Floats are standard normal,
    integers are in [0, 4) so that they are valid indices for any table, booleans are fair coins.
    """
    from ..ir.tensor import np_dtype_of
    from ..ir.types import shape_of

    dims = dict(dims or {})
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, tp in _model_inputs(model_path):
        if tp.WhichOneof("value") != "tensor_type" or not tp.tensor_type.elem_type:
            raise ValueError(f"input {name!r}: only tensor inputs get random values; pass it in inputs=")
        shape = shape_of(tp)
        if shape is None:
            raise ValueError(f"input {name!r} has no declared shape; pass it in inputs=")
        shape = list(shape)
        for i, d in enumerate(shape):
            if i == 0 and batch is not None:
                if isinstance(d, int) and d != batch:
                    raise ValueError(f"input {name!r} has a fixed batch dimension {d}: "
                                     f"cannot run batch {batch}")
                shape[i] = batch
            elif not isinstance(d, int):
                shape[i] = int(dims.get(d, 1)) if isinstance(d, str) else 1
        dtype = np_dtype_of(tp.tensor_type.elem_type)
        feeds[name] = _random_array(tuple(shape), dtype, rng)
    return feeds


def _random_array(shape: tuple, dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    if dtype.kind == "O":
        return np.full(shape, "a", dtype=object)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 4, size=shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------------------------ engines
class Engine:
    """One way to run the model: a built session and how to call it."""

    def __init__(self, name: str, run: Callable[[dict], list], build_s: float, session: Any = None):
        self.name = name
        self.run = run
        self.build_s = build_s
        self.session = session


def _timed(build: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    obj = build()
    return obj, time.perf_counter() - t0


TORCH_COMPILE = "torch.compile"


def build_torch_compile(model_path: str) -> Engine:
    """``torch.compile(nnex.to_torch(model))``: the model as a PyTorch module, compiled (at its first run)."""
    import torch

    import nnex

    def build():
        module = nnex.to_torch(model_path).eval()
        return module, torch.compile(module)

    (module, compiled), dt = _timed(build)
    names = [i.name for i in nnex.InferenceSession(model_path, providers=["numpy"]).get_inputs()]

    def run(feeds):
        # no_grad, not inference_mode: dynamo's guards reject tensors made under inference_mode
        # when the compiled frame was traced outside it (or the reverse, in the memory probe)
        with torch.no_grad():
            out = compiled(*[torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in names])
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [o.numpy() for o in outs]

    return Engine(f"nnex:{TORCH_COMPILE}", run, dt, module)


def build_nnex(model_path: str, provider: str) -> Engine:
    """An nnex session on one backend; raises when that backend cannot run here."""
    import nnex

    if provider == TORCH_COMPILE:
        return build_torch_compile(model_path)

    sess, dt = _timed(lambda: nnex.InferenceSession(model_path, providers=[provider]))
    got = sess.get_providers()[0] if sess.get_providers() else "?"
    if got.split(":")[0] != provider.split(":")[0]:
        raise RuntimeError(f"asked for provider {provider!r}, the session runs on {got!r}")
    return Engine(f"nnex:{provider}", lambda feeds: sess.run(None, feeds), dt, sess)


def build_ort(model_path: str) -> Engine:
    import onnxruntime as ort

    opts = ort.SessionOptions()   # intra_op_num_threads stays at its default (the physical cores)
    opts.log_severity_level = 3
    sess, dt = _timed(lambda: ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"]))
    return Engine(ORT, lambda feeds: sess.run(None, feeds), dt, sess)


def build_reference(model_path: str) -> Engine:
    from onnx.reference import ReferenceEvaluator

    ref, dt = _timed(lambda: ReferenceEvaluator(model_path))
    return Engine(REFERENCE, lambda feeds: ref.run(None, feeds), dt, ref)


class _TimeCap(Exception):
    pass


@contextlib.contextmanager
def _wall_clock_cap(seconds: float):
    """Raise _TimeCap in the main thread after ``seconds`` (between Python bytecodes: a pure-Python
    engine such as onnx.reference stops at the end of its current NumPy call)."""
    use_alarm = seconds and seconds > 0 and hasattr(signal, "setitimer") and \
        _is_main_thread()
    if not use_alarm:
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeCap()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# -------------------------------------------------------------------------------- correctness
def compare_outputs(got: list, want: list, rtol: float = RTOL, atol: float = ATOL) -> dict:
    """Max abs/rel differences of ``got`` against ``want`` (onnxruntime's), and whether all are close."""
    if len(got) != len(want):
        return {"pass": False, "max_abs_diff": None, "max_rel_diff": None,
                "note": f"{len(got)} outputs, onnxruntime gives {len(want)}"}
    max_abs = max_rel = 0.0
    ok = True
    notes = []
    for i, (a, b) in enumerate(zip(got, want)):
        a, b = _as_array(a), _as_array(b)
        if a is None or b is None:
            notes.append(f"output {i}: not an array, not compared")
            continue
        if a.shape != b.shape:
            ok = False
            notes.append(f"output {i}: shape {list(a.shape)}, onnxruntime gives {list(b.shape)}")
            continue
        if a.dtype.kind in "OUS" or b.dtype.kind in "OUS":
            same = bool(np.array_equal(a, b))
            ok &= same
            if not same:
                notes.append(f"output {i}: strings differ")
            continue
        if a.size == 0:
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        both_nan = np.isnan(a64) & np.isnan(b64)
        diff = np.where(both_nan, 0.0, np.abs(a64 - b64))
        diff = np.where(np.isnan(diff), np.inf, diff)
        max_abs = max(max_abs, float(diff.max()))
        max_rel = max(max_rel, float((diff / np.maximum(np.abs(b64), atol)).max()))
        ok &= bool((diff <= atol + rtol * np.abs(b64)).all())
    out = {"pass": ok, "max_abs_diff": max_abs, "max_rel_diff": max_rel}
    if notes:
        out["note"] = "; ".join(notes)
    return out


def _as_array(x):
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.asarray(x)
    if hasattr(x, "__array__") and not isinstance(x, (list, dict)):
        return np.asarray(x)
    return None


# ------------------------------------------------------------------------------------- timing
# the most runs ``min_time_s`` asks for (a model of a microsecond)
_MAX_SHORT_RUNS = 100_000


def _runs_per_engine(first_run_s: dict, repeat: int | None, budget_s: float, min_runs: int,
                     max_runs: int, slow_engine_s: float, min_time_s: float = 0.0) -> dict:
    if repeat is not None:
        return {e: repeat for e in first_run_s}
    share = budget_s / max(len(first_run_s), 1)
    runs = {}
    for e, t in first_run_s.items():
        n = int(min(max_runs, max(min_runs, share // max(t, 1e-6))))
        if n * t < min_time_s:
            n = min(int(min_time_s // max(t, 1e-6)), _MAX_SHORT_RUNS)
        if n * t > slow_engine_s:   # minutes-long runs: a few samples already say how slow it is
            n = max(1, min(n, int(slow_engine_s // t)))
        runs[e] = n
    return runs


def _schedule(runs: dict, block: dict | None = None) -> list[list[tuple[str, int]]]:
    """Rounds of ``(engine, runs in its block)``: each engine gets ``runs[e]`` runs in all, in blocks of
    at most ``block[e]`` (1 by default), spread evenly over the rounds."""
    block = block or {}
    blocks = {e: -(-n // max(1, block.get(e, 1))) for e, n in runs.items()}   # blocks per engine
    total = max(blocks.values(), default=0)
    rounds = []
    for r in range(total):
        rnd = []
        for e, nb in blocks.items():
            if (r + 1) * nb // total > r * nb // total:
                done = r * nb // total            # blocks given to e before this round
                size = runs[e] * (done + 1) // nb - runs[e] * done // nb
                rnd.append((e, size))
        # rotate the order so no engine always runs right after the same neighbour
        k = r % len(rnd) if rnd else 0
        rounds.append(rnd[k:] + rnd[:k])
    return rounds


def _stats(times: list[float]) -> dict:
    if not times:
        return {"runs": 0}
    ts = sorted(times)
    p90 = ts[min(len(ts) - 1, math.ceil(0.9 * len(ts)) - 1)]
    return {"runs": len(ts), "median_ms": statistics.median(ts) * 1e3, "p90_ms": p90 * 1e3,
            "min_ms": ts[0] * 1e3, "mean_ms": statistics.fmean(ts) * 1e3}


# ------------------------------------------------------------------------------------- memory
_PROBE = ("import sys; from nnex.tools.bench import _memory_probe_main; "
          "sys.exit(_memory_probe_main(sys.argv[1:]))")


def _proc_status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024          # "VmHWM:   123456 kB"
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Start a new peak-RSS window at the current RSS (Linux >= 4.0); False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    """The process's peak resident set size.

    Linux's VmHWM belongs to this process image; ``ru_maxrss`` is kept across exec, so a child started
    by a big parent would report the parent's peak (the reason VmHWM comes first)."""
    hwm = _proc_status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024     # Linux reports KiB, macOS bytes


def _memory_probe_main(argv: list[str]) -> int:
    """In a fresh process: the growth of peak RSS while one engine builds its session and runs."""
    engine, model_path, feeds_path, runs = argv[0], argv[1], argv[2], int(argv[3])
    if engine.startswith("nnex:"):
        import nnex  # noqa: F401

        # the backend's array library is imported before the baseline: its import is not the model's memory
        lib = engine.split(":")[1]
        with contextlib.suppress(ImportError):
            __import__(lib)
    elif engine == ORT:
        import onnxruntime  # noqa: F401
    else:
        import onnx.reference  # noqa: F401
    with np.load(feeds_path, allow_pickle=False) as z:
        feeds = {k: z[k] for k in z.files}
    with open(feeds_path + ".names", encoding="utf-8") as f:
        names = json.load(f)
    feeds = {names[k]: v for k, v in feeds.items()}
    gc.collect()
    # the baseline is the current RSS when the peak can be reset to it, else the peak so far
    base = _proc_status_bytes("VmRSS") if _reset_peak_rss() else None
    base = base if base is not None else _peak_rss_bytes()
    eng = (build_nnex(model_path, engine.split(":", 1)[1]) if engine.startswith("nnex:")
           else build_ort(model_path) if engine == ORT else build_reference(model_path))
    built = _peak_rss_bytes()
    for _ in range(runs):
        eng.run(feeds)
    peak = _peak_rss_bytes()
    print(json.dumps({"build_mb": (built - base) / 2**20, "peak_mb": (peak - base) / 2**20,
                      "baseline_mb": base / 2**20}))
    return 0


def measure_memory(engine: str, model_path: str, feeds: dict, runs: int = 1, timeout_s: float = 900) -> dict:
    """Peak RSS growth of ``engine`` building and running the model, in a subprocess (see module doc)."""
    import nnex

    with tempfile.TemporaryDirectory(prefix="nnex-bench-") as tmp:
        feeds_path = os.path.join(tmp, "feeds.npz")
        # npz keys must be plain identifiers; the real input names travel beside them
        np.savez(feeds_path, **{f"i{k}": v for k, v in enumerate(feeds.values())})
        with open(feeds_path + ".names", "w", encoding="utf-8") as f:
            json.dump({f"i{k}": n for k, n in enumerate(feeds)}, f)
        env = dict(os.environ)
        src = str(Path(nnex.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = subprocess.run([sys.executable, "-c", _PROBE, engine, str(model_path), feeds_path, str(runs)],
                              check=False, capture_output=True, text=True, env=env, timeout=timeout_s)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"memory probe exited with {proc.returncode}: {tail[0]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------- bench
def bench_model(path, providers=None, batch: int | None = None, repeat: int | None = None,
                compare_ort: bool = True, *, inputs: dict | None = None, dims: dict | None = None,
                reference: bool = False, reference_cap_s: float = 30.0, time_budget_s: float = 10.0,
                min_runs: int = 3, max_runs: int = 200, slow_engine_s: float = 60.0, min_time_s: float = 0.5,
                settle_s: float = 0.15, block_s: float = 0.1, memory: bool = False, seed: int = 0,
                rtol: float = RTOL, atol: float = ATOL,
                progress: Callable[[str], None] | None = None) -> dict:
    """Measure ``path`` on nnex (each of ``providers``, default every available backend) and onnxruntime.

    ``inputs`` gives the feeds (random ones of the declared shapes otherwise, see ``random_feeds``);
    ``repeat`` fixes the number of timed runs per engine; otherwise they come from ``time_budget_s``
    (between ``min_runs`` and ``max_runs``, more where ``max_runs`` would last less than ``min_time_s``,
    and fewer than ``min_runs``, one at least, where those would take more than ``slow_engine_s``); onnx.reference, which is opt-in, always stays within the budget.
    ``settle_s`` is the untimed pause before each block of runs, ``block_s`` how long a block of a fast
    engine's runs lasts (module docstring). Returns a JSON-ready dict:
    per engine its status, build time, latency statistics, ratio to onnxruntime, correctness against
    onnxruntime and (``memory=True``) peak memory. A backend that cannot run the model is reported
    as skipped with the reason, not raised.
    """
    import nnex

    say = progress or (lambda msg: None)
    model_path = os.fspath(path)
    feeds = inputs if inputs is not None else random_feeds(model_path, batch, dims, seed)
    if providers is None:
        providers = nnex.get_available_providers()
    result: dict = {
        "model": model_path, "batch": batch, "load_average_before": _load_average(),
        "inputs": {k: {"shape": list(np.shape(v)), "dtype": str(getattr(v, "dtype", type(v).__name__))}
                   for k, v in feeds.items()},
        "settings": {"repeat": repeat, "time_budget_s": time_budget_s, "rtol": rtol, "atol": atol,
                     "settle_s": settle_s, "block_s": block_s, "min_time_s": min_time_s,
                     "reference_cap_s": reference_cap_s if reference else None},
        "engines": {},
    }
    engines: dict[str, Engine] = {}
    outputs: dict[str, list] = {}
    first_run: dict[str, float] = {}

    builders = [(f"nnex:{p}", lambda p=p: build_nnex(model_path, p)) for p in providers]
    if compare_ort:
        builders.append((ORT, lambda: build_ort(model_path)))
    if reference:
        builders.append((REFERENCE, lambda: build_reference(model_path)))
    for name, build in builders:
        rec = result["engines"].setdefault(name, {})
        try:
            eng = build()
        except Exception as e:  # noqa: BLE001 - a backend that cannot run this model is a result
            rec.update(status="skipped", note=f"session build failed: {_one_line(e)}")
            say(f"  {name:<14} skipped: {rec['note']}")
            continue
        rec.update(status="ok", build_s=eng.build_s)
        cap = reference_cap_s if name == REFERENCE else 0
        try:
            with _wall_clock_cap(cap):
                t0 = time.perf_counter()
                outputs[name] = eng.run(feeds)
                first_run[name] = first_ms = (time.perf_counter() - t0) * 1e3
                first_run[name] /= 1e3
                if name != REFERENCE:
                    # a second untimed run: JAX compiles a node at its second call, and
                    # torch.compile may recompile once its guards have seen a run; a third
                    # (untimed too) then tells what a run costs, for the number of timed runs
                    for _ in range(2):
                        t0 = time.perf_counter()
                        eng.run(feeds)
                        first_run[name] = time.perf_counter() - t0
        except _TimeCap:
            rec.update(status="skipped", note=f"one run takes more than {cap:g} s")
            say(f"  {name:<14} skipped: {rec['note']}")
            continue
        except Exception as e:  # noqa: BLE001
            rec.update(status="failed", note=f"run failed: {_one_line(e)}")
            say(f"  {name:<14} failed: {rec['note']}")
            continue
        rec["first_run_ms"] = first_ms
        engines[name] = eng
        say(f"  {name:<14} built in {eng.build_s:.2f} s, first run {first_ms:.1f} ms")

    # correctness: every engine against onnxruntime's outputs of the same feeds
    if ORT in outputs:
        for name, outs in outputs.items():
            if name != ORT:
                result["engines"][name]["vs_onnxruntime"] = compare_outputs(outs, outputs[ORT], rtol, atol)
    del outputs

    # timed runs, interleaved
    runs = _runs_per_engine(first_run, repeat, time_budget_s, min_runs, max_runs, slow_engine_s, min_time_s)
    times: dict[str, list[float]] = {e: [] for e in runs}
    if REFERENCE in runs:
        # the reference evaluator never gets more than its share of the budget; when one run is more
        # than that share, its warm-up run is its one sample (it is a correctness oracle, not a rival)
        share = time_budget_s / max(len(runs), 1)
        runs[REFERENCE] = min(runs[REFERENCE], int(share // max(first_run[REFERENCE], 1e-6)))
        if runs[REFERENCE] == 0:
            times[REFERENCE].append(first_run[REFERENCE])
            result["engines"][REFERENCE]["timed_warm_up_run"] = True
            del runs[REFERENCE]
    perf = time.perf_counter
    block = {e: max(1, int(block_s // max(first_run[e], 1e-6))) for e in runs} if len(runs) > 1 else None
    for rnd in _schedule(runs, block):
        for name, size in rnd:
            if settle_s > 0 and len(runs) > 1:
                time.sleep(settle_s)
            run = engines[name].run
            for _ in range(size):
                t0 = perf()
                run(feeds)
                times[name].append(perf() - t0)
    for name, ts in times.items():
        rec = result["engines"][name]
        rec.update(_stats(ts))
        say(f"  {name:<14} {rec['runs']:4d} runs  median {rec['median_ms']:10.3f} ms  "
            f"p90 {rec['p90_ms']:10.3f} ms")

    result["load_average_after"] = _load_average()
    ort_median = result["engines"].get(ORT, {}).get("median_ms")
    if ort_median:
        for name, rec in result["engines"].items():
            if name != ORT and rec.get("median_ms"):
                rec["ratio_vs_onnxruntime"] = rec["median_ms"] / ort_median

    engines.clear()
    gc.collect()
    if memory:
        for name in times:
            mem = measure_memory(name, model_path, feeds)
            result["engines"][name]["memory"] = mem
            if "error" in mem:
                say(f"  {name:<14} memory: {mem['error']}")
            else:
                say(f"  {name:<14} memory: build +{mem['build_mb']:.1f} MB, peak +{mem['peak_mb']:.1f} MB")
    return result


def _load_average() -> float | None:
    """The 1-minute load average: timings taken on a busy machine say so in their record."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0] if msg else ''}"[:300]


# ------------------------------------------------------------------------------------ display
def format_result(result: dict) -> str:
    """A plain-text table of one ``bench_model`` result."""
    head = f"{Path(result['model']).name}" + (f"  batch {result['batch']}" if result.get("batch") else "")
    cols = ["engine", "build s", "median ms", "p90 ms", "runs", "x ORT", "max abs diff", "ok", "peak MB"]
    rows = []
    for name, rec in result["engines"].items():
        if rec.get("status") != "ok":
            rows.append([name, rec.get("status", "?") + ": " + rec.get("note", "")])
            continue
        cmp = rec.get("vs_onnxruntime", {})
        mem = rec.get("memory", {})
        rows.append([name, f"{rec['build_s']:.2f}", _fmt(rec.get("median_ms")), _fmt(rec.get("p90_ms")),
                     str(rec.get("runs", 0)), _fmt(rec.get("ratio_vs_onnxruntime"), 2),
                     _fmt_diff(cmp),
                     "" if not cmp else ("yes" if cmp["pass"] else "NO"),
                     _fmt(mem.get("peak_mb"), 1) if mem else ""])
    widths = [max(len(c), *(len(r[i]) for r in rows if len(r) == len(cols))) for i, c in enumerate(cols)]
    lines = [head, "  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) if len(r) == len(cols) else
                     f"{r[0].ljust(widths[0])}  {r[1]}")
    return "\n".join(lines)


def _fmt_diff(cmp: dict) -> str:
    if not cmp:
        return ""
    return "-" if cmp.get("max_abs_diff") is None else f"{cmp['max_abs_diff']:.2e}"


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return ""
    return f"{x:.{digits}f}" if abs(x) < 1000 else f"{x:.0f}"


def print_result(result: dict, file=None) -> None:
    print(format_result(result), file=file or sys.stdout)


# ------------------------------------------------------------------------------------ profile
def profile_kernels(path, inputs: dict | None = None, provider: str = "numpy", runs: int = 1,
                    top: int = 5, batch: int | None = None) -> dict:
    """Where nnex spends ``session.run``: cProfile over ``runs`` runs (after one warm-up run).

    A kernel's time is the cumulative time of the calls the executor makes to it directly, so helpers a
    kernel calls are counted inside it and nothing is counted twice. Kernels are named by the op types
    the plan binds them to (``Conv``), with the function behind them (``nnex/ops/conv.py:conv``).
    """
    import cProfile
    import pstats

    import nnex

    model_path = os.fspath(path)
    feeds = inputs if inputs is not None else random_feeds(model_path, batch)
    sess = nnex.InferenceSession(model_path, providers=[provider])
    sess.run(None, feeds)
    op_types = _op_types_by_code(sess)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(runs):
        sess.run(None, feeds)
    prof.disable()
    wall = (time.perf_counter() - t0) / runs
    stats = pstats.Stats(prof).stats   # {(file, line, func): (cc, nc, tt, ct, callers)}
    executors = {k for k in stats
                 if k[2] == "execute" and k[0].replace("\\", "/").endswith("runtime/planner.py")}
    kernels = []
    for key, (_cc, _nc, _tt, _ct, callers) in stats.items():
        from_exec = [callers[c] for c in callers if c in executors]
        if not from_exec or key[0] == "~" or key[2].startswith("<"):   # builtins, comprehensions
            continue
        calls = sum(c[1] for c in from_exec)
        cum = sum(c[3] for c in from_exec)
        kernels.append({"kernel": _kernel_label(key, op_types), "function": _short_path(key),
                        "ms_per_run": cum / runs * 1e3, "calls_per_run": calls / runs})
    profiled = sum(k["ms_per_run"] for k in kernels)
    for k in kernels:
        k["share"] = k["ms_per_run"] / profiled if profiled else 0.0
    kernels.sort(key=lambda k: -k["ms_per_run"])
    return {"model": model_path, "provider": provider, "runs": runs, "run_ms_profiled": wall * 1e3,
            "kernels_ms_total": profiled, "top": kernels[:top]}


def _op_types_by_code(sess) -> dict:
    """The op types each kernel function runs in this session's plan (best effort: private plan)."""
    plan = getattr(sess, "_plan", None)
    out: dict = {}
    for step, label in zip(getattr(plan, "steps", ()), getattr(plan, "labels", ())):
        fn = step[0]
        fn = getattr(fn, "func", fn)
        code = getattr(fn, "__code__", None)
        if code is not None:
            out.setdefault((code.co_filename, code.co_firstlineno, code.co_name), set()).add(label[1])
    return out


def _short_path(key) -> str:
    file, _line, func = key
    file = file.replace("\\", "/")
    i = file.rfind("/nnex/")
    return f"{file[i + 1:] if i >= 0 else file}:{func}"


def _kernel_label(key, op_types: dict) -> str:
    ops = op_types.get(key)
    return "/".join(sorted(ops)) if ops else key[2]


def format_profile(prof: dict) -> str:
    lines = [(f"{Path(prof['model']).name} on nnex:{prof['provider']}: {prof['run_ms_profiled']:.1f} ms "
              f"per run under cProfile, {prof['kernels_ms_total']:.1f} ms in kernels")]
    for k in prof["top"]:
        lines.append(f"  {k['kernel']:<24} {k['ms_per_run']:10.1f} ms  {100 * k['share']:5.1f}%  "
                     f"{k['calls_per_run']:6.0f} calls  {k['function']}")
    return "\n".join(lines)
