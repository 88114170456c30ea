"""The ``nnex`` command line.

    nnex run model.onnx [--input NAME=FILE.npy ...] [--dim N=4 ...] [--output-dir DIR] [--providers numpy] [--repeat N]
    nnex info model.onnx [--json]
    nnex check model.onnx
    nnex --version

Exit status: 0 when all went well, 1 for an error in what was given (a missing file, a file
that is not an ONNX model, a bad ``--input``, an operator nnex does not implement, a model the
checker refuses, ...), 2 for a command line argparse cannot parse. Errors are one line on
stderr (``nnex: error: ...``); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import sys
import time
import traceback

import numpy as np
import onnx

from . import __version__

# ----------------------------------------------------------------------------- errors


class UserError(Exception):
    """An error in what the user gave: reported in one line, exit status 1."""


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


# ----------------------------------------------------------------------------- formatting


def fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3f} ms" if ms < 10 else f"{ms:.1f} ms"


def fmt_shape(shape) -> str:
    """A shape as onnxruntime prints it: [1, 'N', None]; [] when the rank is unknown."""
    if shape is None:
        return "[]"
    return "[" + ", ".join(repr(d) for d in shape) + "]"


def _fmt_num(x) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (complex, np.complexfloating)):
        return f"{complex(x):.4g}"
    try:
        return f"{float(x):.6g}"
    except (TypeError, ValueError):
        return repr(x)


def _first_values(a: np.ndarray, k: int = 5) -> str:
    flat = a.ravel()
    vals = []
    for v in flat[:k]:
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        vals.append(repr(str(v)) if isinstance(v, (str, np.str_)) else _fmt_num(v))
    more = ", ..." if flat.size > k else ""
    return "[" + ", ".join(vals) + more + "]"


def _dtype_name(a) -> str:
    dt = a.dtype
    if dt == object or dt.kind in "US":
        return "string" if dt.kind in "US" or all(isinstance(v, (str, bytes)) for v in a.ravel()[:16]) else "object"
    return str(dt)


def summarize(value) -> str:
    """One line about an output: shape, dtype and its values (min/max/mean for numbers, the first ones)."""
    if value is None:
        return "None (empty optional)"
    if isinstance(value, dict):
        items = list(value.items())[:3]
        return f"map of {len(value)} entries: {{" + ", ".join(f"{k!r}: {_fmt_num(v)}" for k, v in items) + \
            (", ...}" if len(value) > 3 else "}")
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, dict) for v in value):
            return f"sequence of {len(value)} maps; first: " + summarize(value[0])
        head = "; ".join(f"[{i}] " + summarize(v) for i, v in enumerate(value[:3]))
        return f"sequence of {len(value)} tensors" + (f": {head}" if value else "") + ("; ..." if len(value) > 3 else "")
    a = np.asarray(value)
    shape = list(a.shape)
    out = f"shape {shape} {_dtype_name(a)}"
    if a.size == 0:
        return out + " (empty)"
    kind = a.dtype.kind
    if kind == "b":
        out += f"  true {int(np.count_nonzero(a))}/{a.size}"
    elif kind == "c":
        out += f"  mean {_fmt_num(a.mean())}  max|x| {_fmt_num(np.abs(a).max())}"
    elif kind not in "OUSV" or (kind == "V" and _castable(a)):
        f = a.astype(np.float64)
        finite = np.isfinite(f)
        fin = f[finite]
        if fin.size:
            lo, hi, mean = fin.min(), fin.max(), fin.mean()
            if kind in "iu":
                out += f"  min {int(lo)}  max {int(hi)}  mean {_fmt_num(mean)}"
            else:
                out += f"  min {_fmt_num(lo)}  max {_fmt_num(hi)}  mean {_fmt_num(mean)}"
        n_nan, n_inf = int(np.isnan(f).sum()), int(np.isinf(f).sum())
        if n_nan or n_inf:
            out += f"  nan {n_nan}  inf {n_inf}"
    return out + "  first " + _first_values(a)


def _castable(a: np.ndarray) -> bool:
    try:
        a.ravel()[:1].astype(np.float64)
        return True
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- loading


def _check_file(path: str) -> str:
    if not os.path.exists(path):
        raise UserError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise UserError(f"expected an .onnx file, got a folder: {path}")
    return path


def load_model(path: str):
    """nnex.load with the errors a user can fix turned into UserError."""
    import nnex

    _check_file(path)
    try:
        model = nnex.load(path)
    except nnex.ExternalDataError as e:
        raise UserError(f"{path}: {e}") from e
    except (ValueError, OSError) as e:
        raise UserError(str(e)) from e
    except Exception as e:  # protobuf / serde errors on garbage input
        raise UserError(f"{path} is not an ONNX model ({type(e).__name__}: {e})") from e
    _require_onnx_model(path, model)
    return model


def _require_onnx_model(path: str, model) -> None:
    # protobuf parses many byte strings (an empty file, some text) into an empty ModelProto
    g = model.graph
    if not model.ir_version and not len(g) and not g.inputs and not g.outputs:
        raise UserError(f"{path} is not an ONNX model (no ir_version and no graph)")


def _make_session(path: str, providers=None):
    """An InferenceSession for the model at ``path``, and the seconds it took (loading included)."""
    import nnex

    t0 = time.perf_counter()
    model = load_model(path)  # clear errors for a missing file / not a model / unsafe external data
    try:
        sess = nnex.InferenceSession(model, providers=providers)
    except nnex.UnsupportedOpError as e:
        raise UserError(f"{path}: {e}") from e
    except ValueError as e:
        if "provider" in str(e):
            raise UserError(str(e)) from e
        raise
    return sess, time.perf_counter() - t0


# ----------------------------------------------------------------------------- run


def _parse_pairs(specs, what: str, example: str) -> list[tuple[str, str]]:
    out = []
    for spec in specs or ():
        name, sep, val = spec.partition("=")
        if not sep or not name or not val:
            raise UserError(f"bad {what} {spec!r}: expected {example}")
        out.append((name, val))
    return out


def parse_dims(specs) -> dict[str, int]:
    dims = {}
    for name, val in _parse_pairs(specs, "--dim", "NAME=SIZE, e.g. --dim batch=4"):
        try:
            n = int(val)
        except ValueError:
            raise UserError(f"bad --dim {name}={val}: the size must be an integer") from None
        if n < 0:
            raise UserError(f"bad --dim {name}={val}: the size must be >= 0")
        dims[name] = n
    return dims


def _load_npy(name: str, path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise UserError(f"--input {name}: file not found: {path}")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise UserError(f"--input {name}: cannot read {path}: {_one_line(e)}") from None
    if magic.startswith(b"PK\x03\x04"):
        raise UserError(f"--input {name}: {path} is an .npz archive; give one array per input as .npy")
    if magic != b"\x93NUMPY":
        raise UserError(f"--input {name}: {path} is not a .npy file (save it with numpy.save)")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e):
            raise UserError(f"--input {name}: {path} holds an object array, which is not loaded (it needs pickle); "
                            "save strings as a unicode array (dtype '<U...')") from None
        raise UserError(f"--input {name}: {path} is not a .npy file ({_one_line(e)})") from None
    except OSError as e:
        raise UserError(f"--input {name}: cannot read {path}: {_one_line(e)}") from None
    return arr


def _symbolic_dims(tp, acc: list) -> None:
    from .ir.types import shape_of

    if tp is None:
        return
    kind = tp.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        for d in shape_of(tp) or ():
            if isinstance(d, str) and d not in acc:
                acc.append(d)
    elif kind == "sequence_type":
        _symbolic_dims(tp.sequence_type.elem_type, acc)
    elif kind == "optional_type":
        _symbolic_dims(tp.optional_type.elem_type, acc)


def random_value(name: str, tp, dims: dict, rng: np.random.Generator):
    """A random value of the declared type; symbolic dims from ``dims`` (1 when not given)."""
    from .ir.tensor import np_dtype_of
    from .ir.types import shape_of, type_string

    kind = tp.WhichOneof("value") if tp is not None else None
    if kind == "sequence_type":
        return [random_value(name, tp.sequence_type.elem_type, dims, rng)]
    if kind == "optional_type":
        return random_value(name, tp.optional_type.elem_type, dims, rng)
    if kind != "tensor_type" or not tp.tensor_type.elem_type:
        raise UserError(f"input {name!r} has type {type_string(tp)}: nnex cannot make a random value of it; "
                        f"give it with --input {name}=FILE.npy")
    shape = shape_of(tp)
    if shape is None:
        raise UserError(f"input {name!r} has no declared shape; give it with --input {name}=FILE.npy")
    shape = tuple(d if isinstance(d, int) else dims.get(d, 1) if isinstance(d, str) else 1 for d in shape)
    dtype = np_dtype_of(tp.tensor_type.elem_type)
    return np.asarray(_random_array(shape, dtype, rng))


def _random_array(shape: tuple, dtype: np.dtype, rng: np.random.Generator):
    if dtype == object:
        return np.full(shape, "a", dtype=object)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 4, size=shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    # ml_dtypes (bfloat16, float8, int4, ...): small integers for the integer ones
    if "int" in dtype.name:
        return rng.integers(0, 4, size=shape).astype(dtype)
    return np.clip(rng.standard_normal(shape), -2, 2).astype(dtype)


def _check_feed(name: str, x: np.ndarray, tp, path: str) -> np.ndarray:
    """The array for input ``name``; a clear error (naming the file) for a dtype or rank the input does not take.

    .npy cannot hold bfloat16, float8 or int4: for inputs of those types an array of a plain
    NumPy number type is converted.
    """
    from .ir.tensor import np_dtype_of
    from .ir.types import shape_of, type_string

    if tp is None or tp.WhichOneof("value") != "tensor_type" or not tp.tensor_type.elem_type:
        return x
    want = np_dtype_of(tp.tensor_type.elem_type)
    if want.kind == "V" and x.dtype.kind in "fiub":
        x = x.astype(want)
    ok = x.dtype == want or (want == object and x.dtype.kind in "US")
    if not ok:
        hint = f"; convert it, e.g. np.save(path, x.astype(np.{want.name}))" if want != object else ""
        raise UserError(f"input {name!r} is {type_string(tp)}, but {path} holds {x.dtype}{hint}")
    shape = shape_of(tp)
    if shape is not None and len(shape) != x.ndim:
        raise UserError(f"input {name!r} has rank {len(shape)} ({fmt_shape(shape)}), but {path} holds an array "
                        f"of shape {list(x.shape)}")
    return x


def _safe_filename(name: str, used: set) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "output"
    cand, i = base, 1
    while cand.lower() in used:
        cand = f"{base}_{i}"
        i += 1
    used.add(cand.lower())
    return cand


def save_output(out_dir: str, fname: str, value) -> str | None:
    if value is None or isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict)
                                                                                     for v in value)):
        return None
    if isinstance(value, list):
        path = os.path.join(out_dir, fname + ".npz")
        np.savez(path, **{str(i): _saveable(v) for i, v in enumerate(value)})
        return path
    path = os.path.join(out_dir, fname + ".npy")
    np.save(path, _saveable(value), allow_pickle=False)
    return path


def _saveable(a) -> np.ndarray:
    """The array as .npy can hold it without pickle: strings as unicode, ml_dtypes widened (.npy has no bfloat16)."""
    a = np.asarray(a)
    if a.dtype.kind == "V" and _castable(a):
        wide = np.int8 if "uint" not in a.dtype.name else np.uint8
        return a.astype(wide if "int" in a.dtype.name else np.float32)
    if a.dtype == object:
        return np.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in a.ravel()],
                        dtype=str).reshape(a.shape)
    return a


def cmd_run(args, out) -> int:
    from .ir.types import type_string

    providers = None
    if args.providers:
        providers = [p.strip() for spec in args.providers for p in spec.split(",") if p.strip()]
    dims = parse_dims(args.dim)
    given = _parse_pairs(args.input, "--input", "NAME=FILE.npy, e.g. --input x=x.npy")
    sess, build_s = _make_session(args.model, providers)
    graph = sess.model.graph
    init_names = set(graph.initializers)
    declared = {v.name: v for v in graph.inputs}
    required = [v for v in graph.inputs if v.name not in init_names]

    syms: list = []
    for v in graph.inputs:
        _symbolic_dims(v.type, syms)
    unknown = [d for d in dims if d not in syms]
    if unknown:
        raise UserError(f"--dim {unknown[0]}: the model has no symbolic dimension of that name "
                        f"(its symbolic dimensions are {syms})")

    feeds: dict = {}
    sources: dict = {}
    for name, path in given:
        if name not in declared:
            raise UserError(f"unknown input {name!r}; the model's inputs are {[v.name for v in required]}")
        if name in feeds:
            raise UserError(f"input {name!r} is given twice")
        feeds[name] = _load_npy(name, path)
        sources[name] = path
    rng = np.random.default_rng(args.seed)
    for v in required:
        if v.name not in feeds:
            feeds[v.name] = random_value(v.name, v.type, dims, rng)
            sources[v.name] = "random"

    for name, path in given:
        feeds[name] = _check_feed(name, feeds[name], declared[name].type, path)

    import nnex

    times = []
    outputs = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        try:
            res = sess.run(None, feeds)
        except nnex.InvalidInputError as e:
            raise UserError(str(e)) from e
        times.append(time.perf_counter() - t0)
        if outputs is None:
            outputs = res

    print(f"model: {args.model}", file=out)
    print(f"provider: {', '.join(sess.get_providers())}", file=out)
    print("inputs:", file=out)
    for name, x in feeds.items():
        t = type_string(declared[name].type)
        desc = f"{len(x)} tensors" if isinstance(x, list) else f"shape {list(np.shape(x))}"
        print(f"  {name}: {t} {desc} ({sources[name]})", file=out)
    names = [a.name for a in sess.get_outputs()]
    print("outputs:", file=out)
    for name, val in zip(names, outputs):
        print(f"  {name}: {summarize(val)}", file=out)
    if args.output_dir:
        try:
            os.makedirs(args.output_dir, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create --output-dir {args.output_dir}: {_one_line(e)}") from None
        used: set = set()
        for name, val in zip(names, outputs):
            p = save_output(args.output_dir, _safe_filename(name, used), val)
            if p is None:
                print(f"  (output {name!r} is not saved: maps and empty optionals have no .npy form)", file=out)
            else:
                note = ""
                if isinstance(val, np.ndarray) and val.dtype.kind == "V":
                    note = f" (as {_saveable(val.ravel()[:1]).dtype}: .npy has no {val.dtype})"
                print(f"  saved {name} -> {p}{note}", file=out)
    med = statistics.median(times)
    extra = f" (min {fmt_ms(min(times))}, max {fmt_ms(max(times))})" if len(times) > 1 else ""
    print(f"latency: {fmt_ms(med)} median over {len(times)} run{'s' if len(times) != 1 else ''}{extra}", file=out)
    print(f"session build: {fmt_ms(build_s)}", file=out)
    return 0


# ----------------------------------------------------------------------------- info


def _walk_graphs(g):
    yield g
    for n in g.nodes:
        for sg in n.subgraphs():
            yield from _walk_graphs(sg)


def _op_key(n) -> str:
    return f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type


def _tensors_of(model):
    """Every Tensor of the model (initializers and tensor attributes, subgraphs and functions included)."""
    from .ir.tensor import Tensor

    graphs = list(_walk_graphs(model.graph))
    for f in model.functions.values():
        graphs.extend(_walk_graphs(f.body))
    for g in graphs:
        for v in g.initializers.values():
            if v.const is not None:
                yield v.const
        for n in g.nodes:
            for a in n.attributes.values():
                for x in a.value if isinstance(a.value, list) else [a.value]:
                    if isinstance(x, Tensor):
                        yield x


def model_info(path: str) -> dict:
    """What ``nnex info`` shows, as a dict (tensor data is never read: dims suffice)."""
    from .ir.types import shape_of, type_string

    model = load_model(path)
    g = model.graph
    init_names = set(g.initializers)

    all_nodes = list(g.all_nodes())
    ops = collections.Counter(_op_key(n) for n in all_nodes)

    n_params = 0
    n_init = 0
    param_bytes = 0
    for sg in _walk_graphs(g):
        for v in sg.initializers.values():
            t = v.const
            if t is None:
                continue
            n_init += 1
            n_params += t.size
            if t.data_type != onnx.TensorProto.STRING:
                param_bytes += t.size * t.dtype.itemsize
        for sp in sg.sparse_initializers:
            n_init += 1
            n_params += int(np.prod(sp.values.dims, dtype=np.int64))

    base = os.path.dirname(os.path.abspath(path))
    ext_files: dict[str, int] = {}
    n_external = 0
    for t in _tensors_of(model):
        loc = t.external_location()
        if loc is None:
            continue
        n_external += 1
        p = os.path.realpath(os.path.join(base, loc))
        if p not in ext_files:
            ext_files[p] = os.path.getsize(p) if os.path.isfile(p) else 0
    model_bytes = os.path.getsize(path)

    def arg(v):
        return {"name": v.name, "type": type_string(v.type), "shape": shape_of(v.type)}

    functions = []
    for f in model.functions.values():
        functions.append({
            "domain": f.domain, "name": f.name, "overload": f.overload,
            "inputs": [v.name for v in f.inputs], "outputs": [v.name for v in f.outputs],
            "attributes": list(f.attributes) + [k for k in f.attribute_defaults if k not in f.attributes],
            "nodes": sum(1 for _ in f.body.all_nodes()),
            "ops": dict(sorted(collections.Counter(_op_key(n) for n in f.body.all_nodes()).items())),
        })
    used_functions = {(d, n) for (d, n, _o) in model.functions}
    return {
        "path": path,
        "ir_version": model.ir_version,
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "domain": model.domain,
        "model_version": model.model_version,
        "doc_string": model.doc_string,
        "graph_name": g.name,
        "opset_imports": {(d or "ai.onnx"): v for d, v in sorted(model.opset_imports.items())},
        "inputs": [arg(v) for v in g.inputs if v.name not in init_names],
        "overridable_initializers": [arg(v) for v in g.inputs if v.name in init_names],
        "outputs": [arg(v) for v in g.outputs],
        "nodes": len(all_nodes),
        "nodes_main_graph": len(g),
        "op_counts": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "function_calls": sum(1 for n in all_nodes if (n.domain, n.op_type) in used_functions),
        "initializers": n_init,
        "external_initializers": n_external,
        "parameters": n_params,
        "parameter_bytes": param_bytes,
        "model_file_bytes": model_bytes,
        "external_data_files": len(ext_files),
        "external_data_bytes": sum(ext_files.values()),
        "size_on_disk_bytes": model_bytes + sum(ext_files.values()),
        "functions": functions,
        "metadata": dict(model.metadata_props),
    }


def print_info(info: dict, out) -> None:
    def p(*a):
        print(*a, file=out)

    p(f"model: {info['path']}")
    p(f"  ir_version: {info['ir_version']}")
    prod = " ".join(x for x in (info["producer_name"], info["producer_version"]) if x)
    p(f"  producer: {prod or '(none)'}")
    if info["domain"]:
        p(f"  domain: {info['domain']}")
    if info["model_version"]:
        p(f"  model_version: {info['model_version']}")
    if info["graph_name"]:
        p(f"  graph: {info['graph_name']}")
    if info["doc_string"]:
        doc = _one_line(info["doc_string"])
        p(f"  doc: {doc[:100] + '...' if len(doc) > 100 else doc}")
    p("opset imports:")
    for d, v in info["opset_imports"].items():
        p(f"  {d}: {v}")
    for key, title in (("inputs", "inputs"), ("overridable_initializers", "inputs with initializer defaults"),
                       ("outputs", "outputs")):
        if key == "overridable_initializers" and not info[key]:
            continue
        p(f"{title} ({len(info[key])}):")
        for a in info[key]:
            p(f"  {a['name']}: {a['type']} {fmt_shape(a['shape'])}")
    sub = info["nodes"] - info["nodes_main_graph"]
    p(f"nodes: {info['nodes']} ({info['nodes_main_graph']} in the main graph, {sub} in subgraphs)")
    p(f"op counts ({len(info['op_counts'])} op types):")
    width = max((len(k) for k in info["op_counts"]), default=0)
    for k, v in info["op_counts"].items():
        p(f"  {k + ':':<{width + 1}} {v}")
    p(f"parameters: {info['parameters']:,} in {info['initializers']} initializers "
      f"({fmt_bytes(info['parameter_bytes'])}; {info['external_initializers']} stored externally)")
    ext = ""
    if info["external_data_files"]:
        ext = (f" (model {fmt_bytes(info['model_file_bytes'])} + external data "
               f"{fmt_bytes(info['external_data_bytes'])} in {info['external_data_files']} file"
               f"{'s' if info['external_data_files'] != 1 else ''})")
    p(f"size on disk: {fmt_bytes(info['size_on_disk_bytes'])}{ext}")
    p(f"functions ({len(info['functions'])}):")
    for f in info["functions"]:
        dom = f["domain"] or "ai.onnx"
        ov = f":{f['overload']}" if f["overload"] else ""
        attrs = f" attributes {f['attributes']}" if f["attributes"] else ""
        p(f"  {dom}::{f['name']}{ov}({', '.join(f['inputs'])}) -> ({', '.join(f['outputs'])}): "
          f"{f['nodes']} nodes{attrs}")
    p(f"metadata ({len(info['metadata'])}):")
    for k, v in info["metadata"].items():
        v1 = _one_line(v)
        p(f"  {k}: {v1[:100] + '...' if len(v1) > 100 else v1}")


def cmd_info(args, out) -> int:
    info = model_info(args.model)
    if args.json:
        print(json.dumps(info, indent=2), file=out)
    else:
        print_info(info, out)
    return 0


# ----------------------------------------------------------------------------- check


def _unsupported_ops(model) -> list[str]:
    """Every node nnex can neither run with a kernel nor expand (a function body), subgraphs included."""
    from .backends import get_backend
    from .runtime.errors import NnexError
    from .runtime.functions import PlanNode, find_function, inline
    from .runtime.planner import Planner
    from .runtime.session import InferenceSession

    planner = Planner(get_backend(None), model.opset_imports, model.functions,
                      input_types=InferenceSession._inferred_types(model))
    found: dict[str, str] = {}

    def visit(pn, depth=0):
        try:
            kernel = planner._kernel(pn)
        except NnexError as e:
            found.setdefault(str(e), str(e))
            return
        if kernel is None:
            f = find_function(pn, model.functions, planner._input_types(pn))
            if f is None:
                dom = pn.domain or "ai.onnx"
                key = f"{dom}::{pn.op_type}"
                where = f"node {pn.name!r}" if pn.name else "a node"
                found.setdefault(key, f"{where}: operator {key} (opset {pn.opsets.get(pn.domain)}) "
                                      "is not implemented by nnex")
            elif depth < 16:
                for b in inline(pn, f):
                    visit(b, depth + 1)
        for a in pn.attributes.values():
            for sg in a.value if isinstance(a.value, list) else [a.value]:
                if hasattr(sg, "nodes") and hasattr(sg, "initializers"):
                    for n in sg.nodes:
                        visit(_plan_node(n, pn.opsets))

    def _plan_node(n, opsets):
        return PlanNode(n.op_type, n.domain, list(n.inputs), list(n.outputs), dict(n.attributes), opsets, n.name, n)

    for n in model.graph.nodes:
        visit(_plan_node(n, model.opset_imports))
    return list(found.values())


def check_problems(path: str) -> list[str]:
    """What is wrong with the model at ``path``: onnx's full check, then nnex's (empty when all is well)."""
    import nnex

    problems: list[str] = []
    model = load_model(path)  # a missing file / not a model / unsafe external data: UserError, not a "problem"
    try:
        onnx.checker.check_model(path, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        problems.append(f"onnx checker: {_one_line(e)}")
    except Exception as e:  # noqa: BLE001  (the checker raises a few other kinds)
        problems.append(f"onnx checker: {type(e).__name__}: {_one_line(e)}")
    try:
        nnex.InferenceSession(path)
    except nnex.UnsupportedOpError as e:
        try:
            listed = _unsupported_ops(model)
        except Exception:  # noqa: BLE001  (the listing is a convenience; the session's error is authoritative)
            listed = []
        if not any(f"::{e.op_type} " in p for p in listed):
            listed.insert(0, str(e))
        problems.extend(f"nnex: {_one_line(p)}" for p in listed)
    except Exception as e:  # noqa: BLE001  (anything else that stops nnex from building a session)
        problems.append(f"nnex: cannot build a session: {type(e).__name__}: {_one_line(e)}")
    return problems


def cmd_check(args, out) -> int:
    problems = check_problems(args.model)
    if not problems:
        print("OK", file=out)
        return 0
    for p in problems:
        print(p, file=out)
    raise UserError(f"{args.model}: {len(problems)} problem{'s' if len(problems) != 1 else ''} found")


def cmd_optimize(args, out) -> int:
    from .tools.optimize import optimize_file

    if not os.path.exists(args.model):
        raise UserError(f"model file not found: {args.model}")
    ext = True if args.external_data else None
    summary = optimize_file(args.model, args.output, args.level, external_data=ext)
    before, after = summary.get("nodes_before"), summary.get("nodes_after")
    print(f"wrote {args.output}: {before} -> {after} nodes in {summary.get('seconds', 0.0):.2f} s", file=out)
    for name, n in sorted((summary.get("rewrites") or {}).items()):
        if n:
            print(f"  {name}: {n}", file=out)
    return 0


def cmd_convert(args, out) -> int:
    from .tools.convert_file import convert_file

    if not os.path.exists(args.model):
        raise UserError(f"model file not found: {args.model}")
    options = {}
    if args.float64:
        options["dtype"] = np.float64
    if args.zipmap:
        options["zipmap"] = True
    proto = convert_file(args.model, args.output, args.sample, **options)
    ins = ", ".join(i.name for i in proto.graph.input)
    outs = ", ".join(o.name for o in proto.graph.output)
    print(f"wrote {args.output}: {len(proto.graph.node)} nodes; inputs: {ins}; outputs: {outs}", file=out)
    return 0


def cmd_bench(args, out) -> int:
    from .tools.bench import bench_model, print_result

    if not os.path.exists(args.model):
        raise UserError(f"model file not found: {args.model}")
    providers = None
    if args.providers:
        providers = [p.strip() for group in args.providers for p in group.split(",") if p.strip()]
    result = bench_model(args.model, providers=providers, batch=args.batch, repeat=args.repeat,
                         reference=args.reference, memory=args.memory,
                         progress=lambda msg: print(msg, file=sys.stderr))
    print_result(result, file=out)
    if args.json:
        import json

        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2, default=str)
        print(f"wrote {args.json}", file=out)
    return 0


# ----------------------------------------------------------------------------- main


def _positive_int(s: str) -> int:
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _versions() -> str:
    parts = [f"onnx {onnx.__version__}", f"numpy {np.__version__}"]
    return f"nnex {__version__} ({', '.join(parts)}; Python {sys.version.split()[0]})"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    parser = argparse.ArgumentParser(prog="nnex", description="Run and inspect ONNX models with nnex.")
    parser.add_argument("--version", action="version", version=_versions())
    parser.add_argument("--debug", action="store_true", default=False, help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", parents=[common], help="run a model on given or random inputs",
                       description="Run a model on inputs from .npy files, or random ones of the declared "
                                   "shapes and types; print a summary of each output and the latency.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--input", "-i", action="append", metavar="NAME=FILE.npy",
                   help="an input from a .npy file (repeat for several); others are random")
    p.add_argument("--dim", action="append", metavar="NAME=SIZE",
                   help="size of a symbolic dimension in random inputs (default 1)")
    p.add_argument("--output-dir", "-o", metavar="DIR", help="save each output as DIR/<name>.npy")
    p.add_argument("--providers", action="append", metavar="P[,P...]",
                   help="execution providers / backends, in order of preference (default: numpy)")
    p.add_argument("--repeat", "-n", type=_positive_int, default=1, metavar="N",
                   help="run N times and report the median latency (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("info", parents=[common], help="describe a model",
                       description="ir_version, producer, opsets, inputs and outputs, op counts, parameter count, "
                                   "size on disk, functions and metadata.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("check", parents=[common], help="check a model with onnx's checker and nnex",
                       description="onnx.checker (full check, with shape inference), then whether nnex can run "
                                   "every op. Prints OK or the problems, one per line.")
    p.add_argument("model", help="the .onnx file")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("optimize", parents=[common], help="write an optimized copy of a model",
                       description="Constant folding, dead code, identity elimination, common subexpressions, "
                                   "and (extended) Conv+BN, MatMul+Add, Gelu and LayerNorm fusions. The output uses "
                                   "standard ONNX ops only and passes onnx.checker.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("-o", "--output", required=True, help="where to write the optimized model")
    p.add_argument("--level", default="extended", choices=["basic", "extended", "all"],
                   help="optimization level (default extended)")
    p.add_argument("--external-data", action="store_true", help="write the weights to <output>.data")
    p.set_defaults(func=cmd_optimize)

    p = sub.add_parser("convert", parents=[common], help="convert a saved classic-ML model to ONNX",
                       description="Convert a saved scikit-learn / LightGBM / XGBoost / CatBoost / LibSVM model "
                                   "(pickle or joblib -- unpickling runs code from the file, so load only files you "
                                   "trust --, or the framework's own model file) to ONNX.")
    p.add_argument("model", help="the saved model (.pkl, .joblib, LightGBM .txt, XGBoost .json/.ubj, CatBoost "
                                 ".cbm, LibSVM model file)")
    p.add_argument("-o", "--output", required=True, help="where to write the .onnx file")
    p.add_argument("--sample", help="a sample of the inputs (.npy, or .csv with a header for a DataFrame)")
    p.add_argument("--float64", action="store_true", help="build a double-precision model")
    p.add_argument("--zipmap", action="store_true", help="classifier probabilities as a list of dicts")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("bench", parents=[common], help="time a model on nnex and onnxruntime",
                       description="Latency (median, p90), build time and correctness of nnex's backends against "
                                   "onnxruntime, measured interleaved in one process.")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--providers", action="append", metavar="P[,P...]",
                   help="nnex backends to time (default: every available one)")
    p.add_argument("--batch", type=_positive_int, default=None, help="size of the first symbolic dimension")
    p.add_argument("--repeat", "-n", type=_positive_int, default=None, help="timed runs per engine (default adaptive)")
    p.add_argument("--reference", action="store_true", help="also time onnx.reference (slow)")
    p.add_argument("--memory", action="store_true", help="measure peak memory (one subprocess per engine)")
    p.add_argument("--json", metavar="FILE", help="also write the numbers to FILE as JSON")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version (0) and usage errors (2)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    out = sys.stdout
    try:
        return args.func(args, out)
    except KeyboardInterrupt:
        print("nnex: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nnex info m.onnx | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except Exception as e:  # noqa: BLE001
        if args.debug:
            traceback.print_exc()
        print(f"nnex: error: {_error_message(e)}", file=sys.stderr)
        return 1


def _error_message(e: Exception) -> str:
    import nnex

    msg = _one_line(e)
    if isinstance(e, (UserError, nnex.NnexError)):
        return msg
    if isinstance(e, (onnx.checker.ValidationError, onnx.shape_inference.InferenceError)):
        return f"the model is invalid: {msg}"
    if isinstance(e, (OSError, ValueError)):
        return msg or type(e).__name__
    # not an error in the input: name the exception, and say how to see where it came from
    return f"{type(e).__name__}: {msg} (internal error; --debug shows the traceback)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
