"""nnex against onnxruntime and onnx.reference on the benchmark models, in one process.

    python benchmarks/run.py                                   # every model, batch 1
    python benchmarks/run.py --models resnet50,bert_base --batch 1,8 --repeat 20
    python benchmarks/run.py --profile 3                       # and cProfile the 3 slowest models on nnex

Writes benchmarks/results/results.json (every number, ratios nnex/onnxruntime, geometric means) and
results.md beside it (the tables for docs/benchmarks.md). The measurement method is described in
nnex.tools.bench (interleaved timed runs, correctness against onnxruntime, peak RSS per engine in a
subprocess); the models are built by benchmarks/models.py into benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:      # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(HERE.parent))

from benchmarks.models import CACHE_DIR, MODELS, ModelUnavailable, make_feeds, model_path
from benchmarks.report import geomean, write_markdown

REFERENCE_SKIPS = "reference_skips.json"


def _default_providers(nnex) -> list:
    """Every installed backend, and torch.compile of nnex.to_torch's module where torch is there."""
    providers = list(nnex.get_available_providers())
    if "torch" in providers:
        providers.append("torch.compile")
    return providers


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS),
                   help=f"comma-separated model names (default: all of {', '.join(MODELS)})")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes (default 1)")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed runs per engine (default: adaptive, from --budget)")
    p.add_argument("--budget", type=float, default=6.0,
                   help="seconds of timed runs per model and batch size, shared by the engines (default 6)")
    p.add_argument("--providers", default=None,
                   help="nnex backends, comma-separated, and 'torch.compile' (torch.compile of nnex.to_torch's "
                        "module); default: every installed backend plus torch.compile")
    p.add_argument("--no-reference", action="store_true", help="leave onnx.reference out")
    p.add_argument("--reference-cap", type=float, default=30.0,
                   help="skip onnx.reference on a model when one run takes longer (seconds, default 30)")
    p.add_argument("--recheck-reference", action="store_true",
                   help="try onnx.reference again on models an earlier run found too slow")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--settle", type=float, default=0.15,
                   help="untimed pause before each engine's block of runs, for the previous engine's "
                        "spinning threads to go idle (seconds, default 0.15)")
    p.add_argument("--profile", type=int, default=0, metavar="K",
                   help="after the run, cProfile nnex on the K models with the highest ratio to onnxruntime")
    p.add_argument("--profile-top", type=int, default=5, help="kernels listed per profiled model (default 5)")
    p.add_argument("--cache-dir", default=str(CACHE_DIR), help="where the models are built")
    p.add_argument("--out", default=str(HERE / "results" / "results.json"),
                   help="the JSON file, the Markdown beside it (default: benchmarks/results/results.json)")
    args = p.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    try:
        args.batch = [int(b) for b in args.batch.split(",") if b.strip()]
    except ValueError:
        p.error(f"--batch takes comma-separated integers, got {args.batch!r}")
    if not args.batch or min(args.batch) < 1:
        p.error("--batch sizes must be positive")
    if args.repeat is not None and args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.providers:
        args.providers = [s.strip() for s in args.providers.split(",") if s.strip()]
    return args


def environment() -> dict:
    import numpy
    import onnx
    import onnxruntime

    import nnex

    env = {"python": platform.python_version(), "platform": platform.platform(),
           "machine": platform.machine(), "cpu_count": os.cpu_count(), "numpy": numpy.__version__,
           "onnx": onnx.__version__,
           "onnxruntime": onnxruntime.__version__, "nnex": nnex.__version__,
           "nnex_providers": nnex.get_available_providers()}
    for mod in ("torch", "jax"):
        try:
            env[mod] = __import__(mod).__version__
        except ImportError:
            pass
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            env["cpu"] = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    return env


class ReferenceSkips:
    """Models on which onnx.reference took longer than the cap, remembered so later runs lose no time."""

    def __init__(self, cache_dir: Path, recheck: bool):
        self.path = Path(cache_dir) / REFERENCE_SKIPS
        self.recheck = recheck
        try:
            self.data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    @staticmethod
    def _key(path: Path, batch: int) -> str:
        st = path.stat()
        return f"{path.name}:{st.st_size}:{st.st_mtime_ns}:batch{batch}"

    def known_slow(self, path: Path, batch: int, cap: float) -> str | None:
        rec = self.data.get(self._key(path, batch))
        if rec and not self.recheck and rec["cap_s"] <= cap:
            return rec["note"]
        return None

    def remember(self, path: Path, batch: int, cap: float, note: str) -> None:
        self.data[self._key(path, batch)] = {"cap_s": cap, "note": note}
        self.path.write_text(json.dumps(self.data, indent=1))


def run(args) -> dict:
    import nnex
    from nnex.tools.bench import REFERENCE, bench_model, format_profile, profile_kernels

    providers = args.providers or _default_providers(nnex)
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    skips = ReferenceSkips(Path(args.cache_dir), args.recheck_reference)
    doc = {"created": datetime.datetime.now().isoformat(timespec="seconds"), "environment": environment(),
           "settings": {"models": args.models, "batch": args.batch, "repeat": args.repeat,
                        "budget_s": args.budget, "providers": providers, "reference": not args.no_reference,
                        "reference_cap_s": args.reference_cap, "memory": not args.no_memory},
           "results": [], "summary": {}, "profiles": []}
    t_start = time.perf_counter()
    print(f"nnex benchmarks: {len(args.models)} models, batch {args.batch}, nnex providers {providers}",
          flush=True)
    for name in args.models:
        spec = MODELS[name]
        t0 = time.perf_counter()
        try:
            path = model_path(name, args.cache_dir)
        except ModelUnavailable as e:
            print(f"{name}: not built: {e}", flush=True)
            doc["results"].append({"name": name, "status": "unavailable", "note": str(e)})
            continue
        build_note = f" (built in {time.perf_counter() - t0:.1f} s)" if time.perf_counter() - t0 > 1 else ""
        for batch in args.batch:
            print(f"{name} batch {batch}{build_note}: {spec.description}", flush=True)
            # the reference evaluator is a correctness oracle more than a competitor: batch 1 only
            use_ref = not args.no_reference and batch == 1
            ref_note = skips.known_slow(path, batch, args.reference_cap) if use_ref else None
            if ref_note:
                use_ref = False
                print(f"  {REFERENCE:<14} skipped: {ref_note} (an earlier run; --recheck-reference)",
                      flush=True)
            t_model = time.perf_counter()
            res = bench_model(path, providers=providers, batch=batch, repeat=args.repeat,
                              inputs=make_feeds(name, batch), reference=use_ref,
                              reference_cap_s=args.reference_cap, time_budget_s=args.budget,
                              memory=not args.no_memory, settle_s=args.settle,
                              progress=lambda m: print(m, flush=True))
            ref = res["engines"].get(REFERENCE)
            if ref and ref.get("status") == "skipped" and "takes more than" in ref.get("note", ""):
                skips.remember(path, batch, args.reference_cap, ref["note"])
            if ref_note:
                res["engines"][REFERENCE] = {"status": "skipped", "note": ref_note}
            elif not args.no_reference and batch != 1:
                res["engines"][REFERENCE] = {"status": "skipped", "note": "run at batch 1 only"}
            res.update(name=name, family=spec.family, description=spec.description, status="ok",
                       wall_s=time.perf_counter() - t_model)
            doc["results"].append(res)
            doc["summary"] = summarize(doc["results"], providers)
            _write(doc, out_path)     # after every model, so an interrupted run keeps what it measured

    if args.profile:
        for name, batch, ratio in slowest(doc["results"], providers[0], args.profile):
            print(f"profiling {name} batch {batch} on nnex:{providers[0]} ({ratio:.1f}x onnxruntime)",
                  flush=True)
            prof = profile_kernels(model_path(name, args.cache_dir), make_feeds(name, batch), providers[0],
                                   top=args.profile_top)
            prof.update(name=name, batch=batch, ratio_vs_onnxruntime=ratio)
            print(format_profile(prof), flush=True)
            doc["profiles"].append(prof)
    doc["wall_s"] = time.perf_counter() - t_start
    _write(doc, out_path)
    print(f"done in {doc['wall_s']:.0f} s: {out_path} and {out_path.with_suffix('.md')}", flush=True)
    return doc


def summarize(results: list, providers: list) -> dict:
    """Geometric mean of nnex/onnxruntime latency ratios, per backend, per batch size and overall."""
    summary: dict = {}
    for p in providers:
        eng = f"nnex:{p}"
        by_batch: dict = {}
        for r in results:
            ratio = r.get("engines", {}).get(eng, {}).get("ratio_vs_onnxruntime")
            if ratio:
                by_batch.setdefault(r["batch"], []).append(ratio)
        every = [x for v in by_batch.values() for x in v]
        summary[eng] = {"geomean_ratio_vs_onnxruntime": geomean(every), "models": len(every),
                        "by_batch": {str(b): {"geomean_ratio_vs_onnxruntime": geomean(v), "models": len(v)}
                                     for b, v in sorted(by_batch.items())}}
    return summary


def slowest(results: list, provider: str, k: int) -> list[tuple[str, int, float]]:
    """The k models (at their smallest measured batch) with the highest nnex/onnxruntime ratio."""
    best: dict[str, tuple[int, float]] = {}
    for r in results:
        ratio = r.get("engines", {}).get(f"nnex:{provider}", {}).get("ratio_vs_onnxruntime")
        if ratio and (r["name"] not in best or r["batch"] < best[r["name"]][0]):
            best[r["name"]] = (r["batch"], ratio)
    ranked = sorted(best.items(), key=lambda kv: -kv[1][1])
    return [(n, b, ratio) for n, (b, ratio) in ranked[:k]]


def _write(doc: dict, out_path: Path) -> None:
    tmp = out_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=_json_default))
    os.replace(tmp, out_path)
    write_markdown(doc, out_path.with_suffix(".md"))


def _json_default(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, (set, tuple)):
        return list(x)
    raise TypeError(f"not JSON serializable: {type(x).__name__}")


def main(argv=None) -> int:
    warnings.filterwarnings("ignore")     # exporters' tracer warnings would bury the progress lines
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
