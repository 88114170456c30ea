"""Run a converted model in nnex and onnxruntime on the example inputs and compare with PyTorch."""

from __future__ import annotations

import numpy as np
import onnx
import torch
from torch.utils import _pytree as pytree

from .._verify import Verification, compare_runtimes
from .capture import eval_mode
from .dtypes import to_numpy


def _expected(module, args, kwargs) -> list[np.ndarray]:
    if isinstance(module, torch.export.ExportedProgram):
        fn = module.module()
        out = fn(*args, **kwargs)
    else:
        with eval_mode(module), torch.no_grad():
            out = module(*args, **kwargs)
    return [to_numpy(x) if isinstance(x, torch.Tensor) else np.asarray(x) for x in pytree.tree_leaves(out)]


def feeds_for(proto: onnx.ModelProto, args, kwargs) -> dict:
    """The ONNX feeds for the example inputs: tensor leaves of (args, kwargs) by input name."""
    leaves = [x for x in pytree.tree_leaves((tuple(args), dict(kwargs or {}))) if isinstance(x, torch.Tensor)]
    names = [i.name for i in proto.graph.input]
    return {n: to_numpy(t) for n, t in zip(names, leaves)}


def verify(proto: onnx.ModelProto, module, args, kwargs=None) -> Verification:
    """Compare ``proto`` run in nnex and onnxruntime against ``module(*args, **kwargs)``."""
    kwargs = kwargs or {}
    want = _expected(module, args, kwargs)
    feeds = feeds_for(proto, args, kwargs)
    return compare_runtimes(proto, feeds, want, "torch")
