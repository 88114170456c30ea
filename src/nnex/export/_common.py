"""What to_torch and to_jax share: load, plan on a backend, and name the parameters."""

from __future__ import annotations

import re

import numpy as np

from ..ir.io import load
from ..ir.model import Model
from ..runtime.planner import Planner, execute  # noqa: F401  (re-exported for the exporters)


def load_model(model) -> Model:
    return load(model)


def plan_for(model: Model, backend):
    """A plan over the unoptimized graph: initializers stay what the model calls them."""
    from ..runtime.session import _LazyTypes

    planner = Planner(backend, model.opset_imports, model.functions, input_types=_LazyTypes(model))
    return planner.compile(model.graph)


def is_trainable(arr: np.ndarray) -> bool:
    return np.asarray(arr).dtype.kind in "fc"


_IDENT = re.compile(r"[^0-9A-Za-z_]")


def attribute_path(name: str) -> list[str]:
    """A state_dict-style path for an initializer name: "encoder.layer.0.weight" stays dotted;
    characters a Python attribute cannot hold become "_" ("onnx::Conv_12" -> "onnx__Conv_12")."""
    parts = []
    for p in name.split("."):
        p = _IDENT.sub("_", p) or "_"
        parts.append(p)
    return parts
