"""The Markdown report of a benchmark run (benchmarks/results/results.md, copied into docs/benchmarks.md)."""

from __future__ import annotations

import math
from pathlib import Path

ORT = "onnxruntime"
REFERENCE = "reference"


def geomean(xs) -> float | None:
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def _ms(x) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def _ratio(x) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _mb(x) -> str:
    return "-" if x is None else f"{x:.0f}"


def _nnex_engines(doc: dict) -> list[str]:
    return [f"nnex:{p}" for p in doc["settings"]["providers"]]


def _cell_latency(rec: dict | None) -> str:
    if not rec:
        return "-"
    if rec.get("status") != "ok" or not rec.get("runs"):
        return "skipped" if rec.get("status") == "skipped" else rec.get("status", "-")
    if rec.get("timed_warm_up_run"):
        return f"{_ms(rec['median_ms'])} (1 run)"
    return f"{_ms(rec['median_ms'])} / {_ms(rec['p90_ms'])}"


def _latency_table(doc: dict, batch: int) -> list[str]:
    engines = _nnex_engines(doc)
    head = ["model", "onnxruntime ms"] + [f"{e} ms" for e in engines] + [f"{e} / ORT" for e in engines]
    with_ref = doc["settings"]["reference"] and batch == 1
    if with_ref:
        head += ["reference ms", "reference / ORT"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in _results(doc, batch):
        e = r["engines"]
        row = [r["name"], _cell_latency(e.get(ORT))]
        row += [_cell_latency(e.get(n)) for n in engines]
        row += [_ratio(e.get(n, {}).get("ratio_vs_onnxruntime")) for n in engines]
        if with_ref:
            row += [_cell_latency(e.get(REFERENCE)), _ratio(e.get(REFERENCE, {}).get("ratio_vs_onnxruntime"))]
        lines.append("| " + " | ".join(row) + " |")
    gm = ["**geometric mean**", ""] + [""] * len(engines)
    gm += [_ratio(doc["summary"].get(n, {}).get("by_batch", {}).get(str(batch), {})
                  .get("geomean_ratio_vs_onnxruntime")) for n in engines]
    if with_ref:
        refs = [r["engines"].get(REFERENCE, {}).get("ratio_vs_onnxruntime") for r in _results(doc, batch)]
        gm += ["", _ratio(geomean(refs))]
    lines.append("| " + " | ".join(gm) + " |")
    return lines


def _build_memory_table(doc: dict, batch: int) -> list[str]:
    with_ref = doc["settings"]["reference"] and batch == 1
    engines = _nnex_engines(doc) + [ORT] + ([REFERENCE] if with_ref else [])
    head = ["model"] + [f"{e} build s" for e in engines]
    if doc["settings"]["memory"]:
        head += [f"{e} peak MB" for e in engines]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in _results(doc, batch):
        e = r["engines"]
        row = [r["name"]]
        row += [f"{e[n]['build_s']:.2f}" if e.get(n, {}).get("status") == "ok" else "-" for n in engines]
        if doc["settings"]["memory"]:
            row += [_mb(e.get(n, {}).get("memory", {}).get("peak_mb")) for n in engines]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _correctness_table(doc: dict) -> list[str]:
    engines = _nnex_engines(doc) + [REFERENCE]
    lines = ["| model | batch | engine | max abs diff | max rel diff | within rtol 1e-3, atol 1e-4 |",
             "|---|---|---|---|---|---|"]
    for r in doc["results"]:
        if r.get("status") != "ok":
            continue
        for n in engines:
            cmp = r["engines"].get(n, {}).get("vs_onnxruntime")
            if not cmp:
                continue
            ok = "yes" if cmp["pass"] else "**NO**"
            mad = "-" if cmp.get("max_abs_diff") is None else f"{cmp['max_abs_diff']:.1e}"
            mrd = "-" if cmp.get("max_rel_diff") is None else f"{cmp['max_rel_diff']:.1e}"
            lines.append(f"| {r['name']} | {r['batch']} | {n} | {mad} | {mrd} | {ok} |")
    return lines


def _notes(doc: dict) -> list[str]:
    notes = []
    for r in doc["results"]:
        if r.get("status") != "ok":
            notes.append(f"- {r['name']}: {r.get('note', r.get('status'))}")
            continue
        for n, rec in r["engines"].items():
            if rec.get("status") != "ok" and rec.get("note") != "run at batch 1 only":
                notes.append(f"- {r['name']} batch {r['batch']}, {n}: "
                             f"{rec.get('status')}: {rec.get('note', '')}")
    return notes


def _profiles(doc: dict) -> list[str]:
    lines = []
    for p in doc.get("profiles", []):
        kernels = ", ".join(f"{k['kernel']} {_ms(k['ms_per_run'])} ms ({100 * k['share']:.0f}%)"
                            for k in p["top"])
        lines.append(f"- **{p['name']}** (batch {p['batch']}, nnex:{p['provider']}, "
                     f"{p['ratio_vs_onnxruntime']:.1f}x onnxruntime; "
                     f"{_ms(p['run_ms_profiled'])} ms per run under cProfile): {kernels}")
    return lines


def _results(doc: dict, batch: int) -> list[dict]:
    return [r for r in doc["results"] if r.get("status") == "ok" and r["batch"] == batch]


def render(doc: dict) -> str:
    env = doc["environment"]
    s = doc["settings"]
    versions = [f"Python {env['python']}", f"NumPy {env['numpy']}", f"onnx {env['onnx']}",
                f"onnxruntime {env['onnxruntime']}"]
    versions += [f"{m} {env[m]}" for m in ("torch", "jax") if m in env] + [f"nnex {env['nnex']}"]
    method = ("Latency is median / p90 of timed runs in milliseconds; the engines' runs are interleaved "
              "round by round in one process, after two untimed warm-up runs each (one for onnx.reference). onnxruntime runs "
              "CPUExecutionProvider with its default threads; onnx.reference runs at batch 1 only, and not "
              "on "
              f"models where one run takes more than {s['reference_cap_s']:g} s. Ratios are median latency "
              "over onnxruntime's (lower is better, 1.00x is parity). Peak MB is the growth of peak resident "
              "memory while a fresh process builds the session and runs it once. Models and method: "
              "benchmarks/models.py, nnex/tools/bench.py.")
    out = ["# nnex benchmarks", "",
           f"Run {doc['created']} on {env.get('cpu') or env['machine']} ({env['cpu_count']} logical CPUs), "
           + ", ".join(versions) + ".", "", method, ""]
    loads = [x for r in doc["results"] for x in (r.get("load_average_before"), r.get("load_average_after"))
             if x is not None]
    if loads:
        out += [(f"1-minute load average during the run: {min(loads):.1f} to {max(loads):.1f} "
                 f"({env['cpu_count']} CPUs; above that count, other processes competed for the CPUs and "
                 "absolute times are inflated, ratios less so since the engines alternate)."), ""]
    for batch in s["batch"]:
        if not _results(doc, batch):
            continue
        out += [f"## Latency, batch {batch}", ""] + _latency_table(doc, batch) + [""]
        out += [f"## Session build time and peak memory, batch {batch}", ""]
        out += _build_memory_table(doc, batch) + [""]
    out += ["## Correctness against onnxruntime", ""] + _correctness_table(doc) + [""]
    notes = _notes(doc)
    if notes:
        out += ["## Skipped", ""] + notes + [""]
    profs = _profiles(doc)
    if profs:
        out += ["## Where nnex spends its time (cProfile, top kernels)", ""] + profs + [""]
    return "\n".join(out)


def write_markdown(doc: dict, path: Path) -> None:
    Path(path).write_text(render(doc), encoding="utf-8")
