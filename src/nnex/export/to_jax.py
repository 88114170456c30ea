"""nnex.to_jax: an ONNX model as a pure JAX function ``fn(params, *inputs)`` and its ``params``.

``params`` maps initializer names to arrays; ``jax.jit(fn)`` and ``jax.grad`` accept ``fn``.
Shape-like values stay NumPy constants during tracing, so jit sees static shapes.
"""

from __future__ import annotations

import numpy as np

from ._common import execute, is_trainable, load_model, plan_for


def to_jax(model, *, trainable_only: bool = False):
    """``(fn, params)``: ``fn(params, *inputs)`` returns one array (one output) or a tuple.

    ``params`` holds every float initializer as a jax array (``trainable_only=False`` also
    includes the integer ones); the others stay constants of the function.
    """
    from ..backends.jax_backend import JaxBackend

    m = load_model(model)
    backend = JaxBackend(None)
    plan = plan_for(m, backend)
    params = {}
    with backend.run_context():
        for name, value in m.graph.initializers.items():
            arr = value.const.numpy()
            if name in plan.const_slots and (is_trainable(arr) or not trainable_only) and backend.holds(arr.dtype):
                params[name] = backend.asarray(np.asarray(arr))
    slots = {name: plan.const_slots[name] for name in params}
    n_inputs = len(plan.input_slots) - sum(1 for v in m.graph.inputs if v.name in m.graph.initializers)

    def fn(params, *inputs):
        if len(inputs) != n_inputs:
            raise TypeError(f"fn(params, *inputs) takes {n_inputs} inputs, got {len(inputs)}")
        with backend.run_context():
            env = plan.template.copy()
            for name, slot in slots.items():
                env[slot] = params[name]
            for slot, x in zip(plan.input_slots, inputs):
                env[slot] = x if not isinstance(x, np.ndarray) else backend.asarray(x)
            execute(plan, env)
            outs = tuple(env[s] for s in plan.output_slots)
        return outs[0] if len(outs) == 1 else outs

    fn.__name__ = f"onnx_{m.graph.name or 'model'}"
    return fn, params
