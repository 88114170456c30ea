"""Developer harness: run official ONNX node tests whose name matches a regex.

Usage: python scripts/devnode.py REGEX [-v]

Runs through nnex.backend once the runtime exists (NNEX_DEV_BACKEND=1 forces it);
until then a tiny interpreter over the protos calls the registered kernels.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.loader import load_model_tests

warnings.filterwarnings("ignore")

from nnex.ops.registry import lookup  # noqa: E402
import array_api_compat.numpy as xp  # noqa: E402


def attr_value(a: onnx.AttributeProto, outer_env):
    t = a.type
    A = onnx.AttributeProto
    if t == A.FLOAT:
        return a.f
    if t == A.INT:
        return a.i
    if t == A.STRING:
        return a.s.decode("utf-8", "surrogateescape")
    if t == A.TENSOR:
        return numpy_helper.to_array(a.t)
    if t == A.GRAPH:
        return make_body(a.g, outer_env)
    if t == A.FLOATS:
        return list(a.floats)
    if t == A.INTS:
        return list(a.ints)
    if t == A.STRINGS:
        return [s.decode("utf-8", "surrogateescape") for s in a.strings]
    if t == A.TENSORS:
        return [numpy_helper.to_array(x) for x in a.tensors]
    if t == A.SPARSE_TENSOR:
        from onnx.reference.op_run import to_sparse_tensor  # noqa

        raise NotImplementedError("sparse attr")
    if t == A.TYPE_PROTO:
        return a.tp
    raise NotImplementedError(f"attribute type {t}")


def make_body(g: onnx.GraphProto, outer_env):
    def body(*inputs):
        env = dict(outer_env)
        for vi, x in zip(g.input, inputs):
            env[vi.name] = x
        run_graph(g, env)
        return [env[o.name] for o in g.output]

    return body


def opsets_of(model):
    return {(o.domain or ""): o.version for o in model.opset_import}


OPSETS = {}


def run_graph(g, env):
    for init in g.initializer:
        env[init.name] = numpy_helper.to_array(init)
    for n in g.node:
        dom = n.domain or ""
        if dom == "ai.onnx":
            dom = ""
        k = lookup(dom, n.op_type, OPSETS.get(dom, 1))
        if k is None:
            raise NotImplementedError(f"no kernel for {dom}:{n.op_type} opset {OPSETS.get(dom)}")
        ins = [env[i] if i else None for i in n.input]
        attrs = {a.name: attr_value(a, env) for a in n.attribute}
        if "_n_outputs" in k.runtime_params:
            attrs["_n_outputs"] = len(n.output)
        if "_opset" in k.runtime_params:
            attrs["_opset"] = OPSETS.get(dom, 1)
        if "_output_dtypes" in k.runtime_params:
            attrs["_output_dtypes"] = [None] * len(n.output)
        out = k.fn(xp, *ins, **attrs)
        if len(n.output) == 1 and not isinstance(out, (tuple, list)):
            out = [out]
        elif len(n.output) == 1 and isinstance(out, list) and not isinstance(out, tuple):
            # a sequence output
            out = [out] if n.op_type.startswith(("Sequence", "SplitTo")) else out
        for name, v in zip(n.output, out):
            if name:
                env[name] = v


def run_model(model, inputs):
    global OPSETS
    OPSETS = opsets_of(model)
    env = {}
    for vi, x in zip(model.graph.input, inputs):
        env[vi.name] = numpy_helper.to_array(x) if isinstance(x, onnx.TensorProto) else x
    run_graph(model.graph, env)
    return [env[o.name] for o in model.graph.output]


def compare(ref, out, rtol, atol):
    if isinstance(ref, onnx.TensorProto):
        ref = numpy_helper.to_array(ref)
    if isinstance(ref, (list, tuple)):
        assert isinstance(out, (list, tuple)), f"expected a sequence, got {type(out)}"
        assert len(ref) == len(out), f"sequence length {len(out)} != {len(ref)}"
        for r, o in zip(ref, out):
            compare(r, o, rtol, atol)
        return
    if ref is None:
        assert out is None, "expected None"
        return
    out = np.asarray(out)
    ref = np.asarray(ref)
    assert out.shape == ref.shape, f"shape {out.shape} != {ref.shape}"
    if ref.dtype == object:
        np.testing.assert_array_equal(out, ref)
        return
    assert out.dtype == ref.dtype, f"dtype {out.dtype} != {ref.dtype}"
    if ref.dtype.kind in "fc" or ref.dtype.itemsize <= 1 and ref.dtype.kind not in "iub":
        np.testing.assert_allclose(out.astype(np.float64) if ref.dtype.kind != "c" else out,
                                   ref.astype(np.float64) if ref.dtype.kind != "c" else ref,
                                   rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(out, ref)


def main():
    pat = re.compile(sys.argv[1] if len(sys.argv) > 1 else ".")
    verbose = "-v" in sys.argv
    use_backend = os.environ.get("NNEX_DEV_BACKEND") == "1"
    ok = fail = 0
    for t in load_model_tests(kind="node"):
        if not pat.search(t.name):
            continue
        try:
            for inputs, outputs in t.data_sets:
                if use_backend:
                    import nnex

                    rep = nnex.backend.prepare(t.model)
                    got = rep.run(inputs)
                else:
                    got = run_model(t.model, inputs)
                assert len(got) == len(outputs), f"{len(got)} outputs, expected {len(outputs)}"
                for r, o in zip(outputs, got):
                    compare(r, o, t.rtol, t.atol)
            ok += 1
            if verbose:
                print("ok  ", t.name)
        except Exception as e:  # noqa: BLE001
            fail += 1
            msg = str(e).strip().splitlines()
            print("FAIL", t.name, "|", type(e).__name__, msg[0][:200] if msg else "")
            if verbose:
                traceback.print_exc()
    print(f"{ok} passed, {fail} failed")


if __name__ == "__main__":
    main()
