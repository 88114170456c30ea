"""The planner: a graph becomes a flat list of bound kernels over integer slots.

Built once per session. Each step is ``(call, input_slots, output_slots, free_slots)``:
``call`` is the kernel with ``xp`` and the attributes already bound, and values are
dropped right after their last use. Nothing here is touched by ``run`` except the plan.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import onnx

from ..ir.graph import Graph
from ..ir.node import Attribute
from ..ir.tensor import Tensor, np_dtype_of
from ..ir.value import Value
from ..ops._conv_activation import FUSING_BACKENDS, fused_activation
from ..ops.registry import lookup
from .errors import NnexError, UnsupportedOpError
from .functions import PlanNode, find_function, inline
from .inplace import plan_donations
from .straight_line import compile_steps, failed_step, mark_step

A = onnx.AttributeProto
NONE_SLOT = 0  # always None: a missing optional input
TRASH_SLOT = 1  # outputs nobody named are written here

_MAX_INLINE_DEPTH = 32

# ops the planner builds from the graph itself rather than from a registered kernel
PLANNED_OPS = {("ai.onnx.preview.training", "Gradient"): "planned by the runtime (reverse-mode differentiation)"}


@dataclass
class Plan:
    steps: list = field(default_factory=list)
    labels: list = field(default_factory=list)  # (node name, op type) per step, for error messages
    n_slots: int = 2
    input_slots: list = field(default_factory=list)
    output_slots: list = field(default_factory=list)
    consts: list = field(default_factory=list)  # (slot, array)
    const_slots: dict = field(default_factory=dict)  # initializer name -> slot (to_torch feeds parameters there)
    outer: list = field(default_factory=list)  # (local slot, parent slot): outer-scope reads of a subgraph
    template: list = field(default_factory=list)  # env with constants in place, copied per run
    compiled: object = None  # the steps as one function (straight_line.py), made at the first run
    compiled_for: object = None  # ... from this very steps list

    def finish(self) -> None:
        env = [None] * self.n_slots
        for s, arr in self.consts:
            if isinstance(arr, np.ndarray) and arr.flags.writeable:
                # constants are shared by every run: a kernel or a caller must not change them
                arr = arr.view()
                arr.flags.writeable = False
            env[s] = arr
        self.template = env


class SubgraphCall:
    """A subgraph attribute, bound at run time to the parent's values (outer-scope reads)."""

    __slots__ = ("plan",)

    def __init__(self, plan: Plan):
        self.plan = plan

    def bind(self, parent_env: list):
        plan = self.plan
        outer = [(s, parent_env[p]) for s, p in plan.outer]

        def body(*inputs):
            env = plan.template.copy()
            for s, v in outer:
                env[s] = v
            for s, v in zip(plan.input_slots, inputs):
                env[s] = v
            execute(plan, env)
            return [env[s] for s in plan.output_slots]

        return body


def _read_only(arr):
    # attribute tensors are shared by every run: neither a kernel nor a caller may change them
    if isinstance(arr, np.ndarray) and arr.flags.writeable:
        arr = arr.view()
        arr.flags.writeable = False
    return arr


def _attr_value(a: Attribute, compile_sub):
    t, v = a.type, a.value
    if t == A.TENSOR:
        return _read_only(v.numpy())
    if t == A.TENSORS:
        return [x.numpy() for x in v]
    if t == A.GRAPH:
        return compile_sub(v)
    if t == A.GRAPHS:
        return [compile_sub(g) for g in v]
    if t == A.SPARSE_TENSOR:
        return _sparse_to_dense(v)
    if t == A.SPARSE_TENSORS:
        return [_sparse_to_dense(x) for x in v]
    return v


def _sparse_to_dense(sp: onnx.SparseTensorProto) -> np.ndarray:
    values = Tensor.from_proto(sp.values).numpy()
    indices = Tensor.from_proto(sp.indices).numpy().astype(np.int64)
    shape = tuple(sp.dims)
    dense = np.zeros(shape, dtype=values.dtype)
    if indices.ndim == 1:
        dense.reshape(-1)[indices] = values
    else:
        dense[tuple(indices.T)] = values
    return dense


class Planner:
    """Compiles a graph (and its subgraphs, and inlined functions) for one backend."""

    def __init__(self, backend, opsets: dict[str, int], functions: dict, *, input_types=None):
        self.backend = backend
        self.xp = backend.xp
        self.opsets = opsets
        self.functions = functions
        self.input_types = input_types or {}

    # ------------------------------------------------------------------ compile
    def compile(self, graph: Graph, parent_lookup=None, feed_values=None) -> Plan:
        plan = Plan()
        slots: dict[int, int] = {}  # id(Value) -> slot

        def new_slot() -> int:
            plan.n_slots += 1
            return plan.n_slots - 1

        def slot_of(v: Value | None) -> int:
            if v is None:
                return NONE_SLOT
            s = slots.get(id(v))
            if s is None:
                if v.const is not None:
                    s = slots[id(v)] = new_slot()
                    plan.consts.append((s, self.backend.constant(v.const.numpy())))
                    plan.const_slots[v.name] = s
                elif parent_lookup is not None:
                    ps = parent_lookup(v)
                    s = slots[id(v)] = new_slot()
                    plan.outer.append((s, ps))
                else:
                    raise NnexError(f"value {v.name!r} is read but never produced, fed or initialized")
            return s

        for v in graph.inputs:
            slots[id(v)] = new_slot()
            plan.input_slots.append(slots[id(v)])
        for v in graph.initializers.values():
            if id(v) not in slots:
                slot_of(v)
            elif v.const is not None:
                # an input with a default (IR < 4): the initializer fills the slot when not fed
                plan.consts.append((slots[id(v)], self.backend.constant(v.const.numpy())))
                plan.const_slots[v.name] = slots[id(v)]

        nodes = [PlanNode(n.op_type, n.domain, list(n.inputs), list(n.outputs), dict(n.attributes),
                          self.opsets, n.name, n) for n in graph.nodes]
        pending = list(reversed(nodes))
        depth: dict[int, int] = {}
        reads_per_step: list[list[int]] = []
        inplace_steps: dict[int, tuple] = {}
        while pending:
            pn = pending.pop()
            if (pn.domain, pn.op_type) in PLANNED_OPS:
                self._gradient_step(pn, graph, plan, slots, slot_of, new_slot, reads_per_step)
                continue
            kernel = self._kernel(pn)
            if kernel is None:
                f = find_function(pn, self.functions, self._input_types(pn))
                if f is None:
                    raise UnsupportedOpError(pn)
                d = depth.get(id(pn), 0) + 1
                if d > _MAX_INLINE_DEPTH:
                    raise NnexError(f"function {pn.domain}::{pn.op_type} expands into itself (recursion)")
                body = inline(pn, f)
                for b in body:
                    depth[id(b)] = d
                pending.extend(reversed(body))
                continue
            fused = None
            if pn.op_type == "Conv" and pending and self.backend.name in FUSING_BACKENDS:
                fused = fused_activation(pn, pending[-1], graph.outputs)
                if fused is not None:
                    # the Clip / Relu right after runs inside the Conv's kernel: it writes that node's output
                    pn.outputs = pending.pop().outputs
            ins = [slot_of(v) for v in pn.inputs]
            while ins and ins[-1] == NONE_SLOT:
                ins.pop()
            outs = []
            for v in pn.outputs:
                if v is None or (not v.name and not v.uses):
                    outs.append(TRASH_SLOT)
                else:
                    s = slots.get(id(v))
                    if s is None:
                        s = slots[id(v)] = new_slot()
                    outs.append(s)
            sub_reads: list[int] = []

            def compile_sub(g: Graph, _reads=sub_reads):
                def lookup_in_parent(v: Value) -> int:
                    s = slot_of(v)
                    _reads.append(s)
                    return s

                return SubgraphCall(self.compile(g, lookup_in_parent))

            attrs = {}
            has_sub = False
            for k, a in pn.attributes.items():
                if a.ref_attr_name and a.value is None:
                    continue
                if k not in kernel.attributes and "**" not in kernel.attributes:
                    continue  # attributes the kernel does not read (deprecated ones such as consumed_inputs)
                val = _attr_value(a, compile_sub)
                has_sub = has_sub or isinstance(val, SubgraphCall) or (
                    isinstance(val, list) and val and isinstance(val[0], SubgraphCall))
                attrs[k] = val
            if fused is not None:
                attrs["_activation"] = fused
            if "_n_outputs" in kernel.runtime_params:
                attrs["_n_outputs"] = len(pn.outputs)
            if "_opset" in kernel.runtime_params:
                attrs["_opset"] = pn.opsets.get(pn.domain, 1)
            if "_output_dtypes" in kernel.runtime_params:
                attrs["_output_dtypes"] = [_dtype_or_none(v) for v in pn.outputs]
            call = self._bind(kernel, attrs, has_sub)
            inplace = getattr(kernel.fn, "nnex_inplace", None)
            if inplace is not None and not has_sub:
                inplace_steps[len(plan.steps)] = (inplace[0], inplace[1], attrs)
            plan.steps.append([call, tuple(ins), tuple(outs), (), has_sub])
            plan.labels.append((pn.name, pn.op_type, pn.scope))
            reads_per_step.append(ins + sub_reads)

        plan.output_slots = [slot_of(v) for v in graph.outputs]
        self._plan_frees(plan, reads_per_step)
        if inplace_steps:
            plan_donations(plan, inplace_steps)
        plan.steps = [tuple(s) for s in plan.steps]
        plan.finish()
        return plan

    def _gradient_step(self, pn, graph, plan, slots, slot_of, new_slot, reads_per_step) -> None:
        """Gradient differentiates part of this very graph, so it is planned from the graph, not a kernel."""
        from .gradient import forward_slice, make_gradient_kernel

        xs = list(pn.attributes["xs"].value)
        y = pn.attributes["y"].value
        fwd = forward_slice(graph.nodes, set(xs), y)
        produced = {v.name for n in fwd for v in n.outputs}
        by_name = {v.name: v for n in fwd for v in n.inputs if v is not None}
        by_name.update({v.name: v for v in pn.inputs if v is not None})
        leaves = [name for name in dict.fromkeys(list(by_name)) if name not in produced]
        run = make_gradient_kernel(fwd, xs, y, pn.opsets, self.xp)
        ins = [slot_of(by_name[name]) for name in leaves]
        outs = []
        for v in pn.outputs:
            s = slots.get(id(v))
            if s is None:
                s = slots[id(v)] = new_slot()
            outs.append(s)

        def call(*vals, _names=tuple(leaves)):
            return tuple(run(dict(zip(_names, vals))))

        plan.steps.append([call, tuple(ins), tuple(outs), (), False])
        plan.labels.append((pn.name, pn.op_type, pn.scope))
        reads_per_step.append(ins)

    def _input_types(self, pn: PlanNode):
        types = []
        for v in pn.inputs:
            if v is None:
                types.append(onnx.TypeProto())
                continue
            t = v.type or self.input_types.get(v.name)
            if t is None:
                return None
            types.append(t)
        return types

    def _kernel(self, pn: PlanNode):
        domain = "" if pn.domain == "ai.onnx" else pn.domain
        opset = pn.opsets.get(domain)
        if opset is None:
            if domain in ("", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.preview"):
                raise NnexError(f"node {pn.name!r} ({pn.op_type}) uses domain {domain or 'ai.onnx'!r}, "
                                "which the model does not import (opset_import)")
            opset = 1
        if (domain, pn.op_type, "") in self.functions:
            return None  # model-local functions take precedence over the standard library
        override = self.backend.kernel_override(domain, pn.op_type, opset)
        if override is not None:
            return override
        return lookup(domain, pn.op_type, opset)

    def _bind(self, kernel, attrs: dict, has_sub: bool):
        fn = kernel.fn
        xp = self.xp
        if has_sub:
            # subgraph attributes are bound to this run's values when the node runs
            def call_with_env(env, *inputs, _attrs=attrs):
                bound = {k: (v.bind(env) if isinstance(v, SubgraphCall) else
                             [g.bind(env) for g in v] if isinstance(v, list) and v and isinstance(v[0], SubgraphCall)
                             else v) for k, v in _attrs.items()}
                return fn(xp, *inputs, **bound)

            return call_with_env
        bind = getattr(fn, "nnex_bind", None)
        if bind is not None:
            # a backend's kernel that makes its own per-node call (numpy_backend's fast kernels)
            return bind(xp, attrs)
        prepare = getattr(fn, "nnex_prepare", None)
        if prepare is not None:
            # a kernel that derives tables from its attributes (ops/ml/_common.per_node) does it now, once
            try:
                return functools.partial(prepare(attrs), xp)
            except Exception:  # noqa: BLE001 - bad attributes: the node reports it when it runs
                pass
        return functools.partial(fn, xp, **attrs) if attrs else functools.partial(fn, xp)

    @staticmethod
    def _plan_frees(plan: Plan, reads_per_step: list[list[int]]) -> None:
        keep = set(plan.output_slots) | {NONE_SLOT, TRASH_SLOT} | {s for s, _ in plan.consts}
        keep |= {s for s, _ in plan.outer}
        last: dict[int, int] = {}
        for i, reads in enumerate(reads_per_step):
            for s in reads:
                last[s] = i
        frees: list[list[int]] = [[] for _ in plan.steps]
        for s, i in last.items():
            if s not in keep:
                frees[i].append(s)
        for i, step in enumerate(plan.steps):
            step[3] = tuple(frees[i])


def _dtype_or_none(v: Value | None):
    if v is None or v.type is None or v.type.WhichOneof("value") != "tensor_type":
        return None
    et = v.type.tensor_type.elem_type
    return np_dtype_of(et) if et else None


def execute(plan: Plan, env: list) -> None:
    """Run the steps of ``plan`` over ``env`` (values by slot)."""
    if plan.compiled_for is not plan.steps:
        # (re)compiled when the steps list changes: a backend or a tool may replace it after finish()
        plan.compiled = compile_steps(plan.steps)
        plan.compiled_for = plan.steps
    try:
        if plan.compiled is not None:
            plan.compiled(env)
        else:
            _run_steps(plan, env)
    except NnexError as e:
        i = failed_step(e)
        if i >= 0 and not getattr(e, "node_named", False):
            raise _node_error(plan, i, e) from e
        raise
    except Exception as e:  # noqa: BLE001
        i = failed_step(e)
        if i < 0:
            raise
        raise _node_error(plan, i, e) from e


def _run_steps(plan: Plan, env: list) -> None:
    """The steps one by one (plans too long for straight_line.py); a failing step's index is
    recorded on the exception, as the compiled function does."""
    i = -1
    try:
        for i, (call, ins, outs, frees, needs_env) in enumerate(plan.steps):
            if needs_env:
                r = call(env, *[env[s] for s in ins])
            else:
                r = call(*[env[s] for s in ins])
            if len(outs) == 1:
                env[outs[0]] = r[0] if type(r) is tuple else r
            else:
                for s, v in zip(outs, r):
                    env[s] = v
            # no stray reference to a result: the next node may overwrite it in place (inplace.py)
            r = v = None
            for s in frees:
                env[s] = None
    except Exception as e:
        mark_step(e, i)
        raise


def _node_error(plan: Plan, i: int, e: Exception) -> NnexError:
    from .errors import NodeRunError

    name, op_type, scope = plan.labels[i]
    return NodeRunError(name, op_type, e, scope)
