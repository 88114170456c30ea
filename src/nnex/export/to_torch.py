"""nnex.to_torch: an ONNX model as a ``torch.nn.Module`` that runs nnex's ops on torch tensors.

Float initializers become ``nn.Parameter``s and the others buffers, under state_dict names
taken from the initializer names, so the module can be fine-tuned: gradients flow through
every op that runs on torch (shape arithmetic stays on the host, where it belongs).
"""

from __future__ import annotations

import numpy as np

from ._common import attribute_path, execute, is_trainable, load_model, plan_for


def to_torch(model, *, trainable: bool = True):
    """An ``nn.Module`` whose ``forward(*inputs)`` computes the model's outputs.

    ``model`` is a path, bytes, ``onnx.ModelProto`` or ``nnex.Model``. Outputs come back as a
    tensor (one output) or a tuple. ``trainable=False`` makes every initializer a buffer.
    """
    import torch

    return _build_module(torch, load_model(model), trainable)


def _build_module(torch, model, trainable: bool):
    nn = torch.nn

    class OnnxModule(nn.Module):
        """An ONNX graph run by nnex on torch tensors."""

        def __init__(self):
            super().__init__()
            self._model = model
            self._plans: dict = {}
            self._param_slots: list[tuple[str, str]] = []  # (initializer name, dotted attribute path)
            self.input_names = [v.name for v in model.graph.inputs if v.name not in model.graph.initializers]
            self.output_names = [v.name for v in model.graph.outputs]
            seen: set[str] = set()
            for name, value in model.graph.initializers.items():
                arr = np.array(value.const.numpy())  # a private, writeable copy
                path = attribute_path(name)
                dotted = ".".join(path)
                while dotted in seen:
                    path[-1] += "_"
                    dotted = ".".join(path)
                seen.add(dotted)
                owner = self
                for part in path[:-1]:
                    child = owner._modules.get(part)
                    if child is None:
                        child = nn.Module()
                        owner.add_module(part, child)
                    owner = child
                tensor = _to_tensor(torch, arr)
                if tensor is None:
                    continue  # a dtype torch lacks (strings, int4, ...): stays a constant of the plan
                if trainable and is_trainable(arr):
                    owner.register_parameter(path[-1], nn.Parameter(tensor))
                else:
                    owner.register_buffer(path[-1], tensor)
                self._param_slots.append((name, dotted))
            self._plan(torch.device("cpu"))  # planned now, outside any torch.compile trace

        @torch.compiler.disable
        def _plan(self, device):
            key = str(device)
            plan = self._plans.get(key)
            if plan is None:
                from ..backends.torch_backend import TorchBackend

                backend = TorchBackend(key)
                plan = plan_for(self._model, backend)
                slots = [(plan.const_slots[n], dotted) for n, dotted in self._param_slots if n in plan.const_slots]
                plan = self._plans[key] = (backend, plan, slots)
            return plan

        def forward(self, *inputs, **named):
            if named:
                inputs = inputs + tuple(named[n] for n in self.input_names[len(inputs):])
            if len(inputs) != len(self.input_names):
                raise TypeError(f"forward() takes {len(self.input_names)} inputs {self.input_names}, "
                                f"got {len(inputs)}")
            state = dict(self.named_parameters())
            state.update(self.named_buffers())
            outs = self._run(inputs, state)
            return outs[0] if len(outs) == 1 else outs

        # torch.compile(module) runs the plan as it is, outside the traced graph: its host work
        # (shape arithmetic, Constant nodes, the ai.onnx.ml kernels) is NumPy, which Dynamo
        # cannot take whole (read-only constants, NumPy views of tensors), and tracing it
        # measured slower than eager on every benchmark model. Gradients flow either way.
        @torch.compiler.disable
        def _run(self, inputs, state):
            device = _device_of(torch, self, inputs)
            backend, plan, slots = self._plan(device)
            env = plan.template.copy()
            for slot, dotted in slots:
                env[slot] = state[dotted]
            for slot, x in zip(plan.input_slots, inputs):
                env[slot] = x if isinstance(x, torch.Tensor) else backend.asarray(np.asarray(x))
            execute(plan, env)
            return tuple(_as_tensor(torch, backend, env[s]) for s in plan.output_slots)

        def extra_repr(self) -> str:
            g = self._model.graph
            return f"graph={g.name!r}, nodes={len(g)}, inputs={self.input_names}, outputs={self.output_names}"

    return OnnxModule()


def _to_tensor(torch, arr: np.ndarray):
    from ..backends.torch_backend import _dtype_table

    table = _dtype_table(torch)
    tdtype = table.get(arr.dtype)
    if tdtype is None:
        return None
    if tdtype is torch.bfloat16:
        return torch.from_numpy(np.ascontiguousarray(arr).view(np.int16)).view(torch.bfloat16).clone()
    return torch.from_numpy(np.ascontiguousarray(arr)).clone()


def _device_of(torch, module, inputs):
    for x in inputs:
        if isinstance(x, torch.Tensor):
            return x.device
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def _as_tensor(torch, backend, x):
    if isinstance(x, np.ndarray) and x.dtype != object:
        return backend.asarray(x)
    if isinstance(x, list):
        return [_as_tensor(torch, backend, v) for v in x]
    return x
