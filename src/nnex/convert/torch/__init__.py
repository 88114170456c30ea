"""PyTorch -> ONNX: nnex's own lowering of torch.export programs.

    proto = nnex.convert(module, (x,))                                   # an onnx.ModelProto
    proto = nnex.convert(module, (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    proto = nnex.convert(module, (), {"input_ids": ids, "attention_mask": mask}, verify=True)

The module is captured with ``torch.export.export`` (in eval mode), decomposed to core ATen
(keeping a few higher-level ops ONNX expresses directly: attention, RNNs, interpolation, ...),
and each ATen op is lowered to ONNX by the table in ``ops/``. See docs/converters_torch.md.
"""

from __future__ import annotations

import json

import onnx
import torch

from .. import ConversionError
from . import capture as _capture
from .capture import decomposition_table, dim_names, output_names
from .registry import lowered_ops
from .translate import lower_program
from .verify import Verification
from .verify import verify as verify_model

DEFAULT_OPSET = 21
MIN_OPSET = 18


def convert(module, args=(), kwargs=None, dynamic_shapes=None, opset=None, verify=False, *,
            decompose=None) -> onnx.ModelProto:
    """Convert a ``torch.nn.Module`` (or a ``torch.export.ExportedProgram``) to an ONNX model.

    ``args``/``kwargs`` are example inputs for ``module.forward``; ``dynamic_shapes`` is
    torch.export's (``{"x": {0: Dim("batch")}}``), and each dynamic dim becomes a named
    symbolic dim of the ONNX inputs. ``opset`` is the ai.onnx opset (default 21, 18 or newer).
    With ``verify=True`` the model is run in nnex and onnxruntime on the example inputs and
    compared with PyTorch; the largest difference per output is printed and attached to the
    model as the ``nnex.verification`` metadata entry (JSON).

    ``decompose``: None (default) lowers the exported program as it is when every op in it has
    a lowering and none mutates, and decomposes it to core ATen otherwise; True always
    decomposes, False never does.
    """
    opset = DEFAULT_OPSET if opset is None else int(opset)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ConversionError(f"opset {opset} is not supported: the PyTorch converter targets opsets "
                              f"{MIN_OPSET} to {newest}")
    if isinstance(args, (torch.Tensor, dict)) or not isinstance(args, (tuple, list)):
        args = (args,)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    ep = _capture.capture(module, args, kwargs, dynamic_shapes, decompose)
    names = dim_names(ep, module, args, kwargs, dynamic_shapes)
    model = lower_program(ep, opset=opset, dim_names=names, output_names=output_names(ep),
                          graph_name=_graph_name(module))
    model.producer_name = "nnex"
    model.doc_string = f"converted from PyTorch {torch.__version__} by nnex"
    from ...ir import model_to_proto

    proto = model_to_proto(model)
    if verify:
        if not args and not kwargs:
            raise ConversionError("verify=True needs the example inputs (args/kwargs)")
        report = verify_model(proto, module, args, kwargs)
        print(report)
        entry = proto.metadata_props.add()
        entry.key = "nnex.verification"
        entry.value = json.dumps(report.to_dict())
    return proto


def _graph_name(module) -> str:
    if isinstance(module, torch.export.ExportedProgram):
        return "main"
    return type(module).__name__


__all__ = ["ConversionError", "Verification", "convert", "decomposition_table", "lowered_ops", "verify_model"]
