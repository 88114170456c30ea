"""nnex as an ``onnx.backend.base.Backend``: ``onnx.backend.test.BackendTest(nnex.backend, __name__)``."""

from __future__ import annotations

from collections import namedtuple

import onnx
from onnx.backend.base import Backend, BackendRep

from .runtime.session import InferenceSession


class NnexRep(BackendRep):
    def __init__(self, session: InferenceSession):
        self.session = session
        self._names = [i.name for i in session.get_inputs()]
        self._all = [i.name for i in session.get_inputs()] + [
            i.name for i in session.get_overridable_initializers()]

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            feed = inputs
        else:
            if not isinstance(inputs, (list, tuple)):
                inputs = [inputs]
            names = self._names if len(inputs) <= len(self._names) else self._all
            feed = dict(zip(names, inputs))
        outs = self.session.run(None, feed)
        names = [o.name for o in self.session.get_outputs()]
        try:
            return namedtuple("Outputs", names, rename=True)(*outs)
        except Exception:  # noqa: BLE001
            return outs


class NnexBackend(Backend):
    """Runs models on nnex; ``device`` "CPU" uses NumPy, "CUDA" uses torch:cuda when available."""

    @classmethod
    def is_compatible(cls, model, device: str = "CPU", **kwargs) -> bool:
        return True

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper().startswith("CPU")

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs) -> NnexRep:
        providers = kwargs.pop("providers", None)
        return NnexRep(InferenceSession(model, providers=providers))

    @classmethod
    def run_model(cls, model, inputs, device: str = "CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device: str = "CPU", outputs_info=None, **kwargs):
        raise NotImplementedError("nnex runs whole models; wrap the node in a model")


prepare = NnexBackend.prepare
run_model = NnexBackend.run_model
run_node = NnexBackend.run_node
supports_device = NnexBackend.supports_device
is_compatible = NnexBackend.is_compatible
