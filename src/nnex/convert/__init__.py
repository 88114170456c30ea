"""Framework -> ONNX converters: ``nnex.convert(obj, *args, **options) -> onnx.ModelProto``.

Dispatch is on the top-level package of the object's class (sklearn, lightgbm, xgboost,
catboost, libsvm, torch, keras, tensorflow, ...); each converter lives in its own
subpackage and is imported only when an object of that framework is converted.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types

from ..runtime.errors import NnexError


class ConversionError(NnexError):
    """A framework model (or a part of it) that nnex cannot convert to ONNX."""


# top-level package of the object's class (or of one of its bases) -> converter subpackage
_CONVERTERS: dict[str, str] = {
    "sklearn": "sklearn",
    "imblearn": "sklearn",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "catboost": "catboost",
    "libsvm": "libsvm",
    "torch": "torch",
    "keras": "keras",
    "tf_keras": "keras",
    "tensorflow": "tensorflow",
}


def _framework_of(obj) -> str | None:
    for cls in inspect.getmro(type(obj)):
        top = (cls.__module__ or "").split(".")[0]
        if top in _CONVERTERS:
            return top
    return None


def convert(obj, *args, **options):
    """Convert a framework model to an ``onnx.ModelProto``.

    The arguments after ``obj`` are those of the framework's converter: a sample input for
    classic-ML models (``nnex.convert(model, X[:5])``), example arguments for PyTorch
    modules (``nnex.convert(module, (x,))``), and so on; see docs/converters.md.
    """
    fw = _framework_of(obj)
    if fw is None:
        raise ConversionError(
            f"nnex cannot convert objects of type {type(obj).__module__}.{type(obj).__qualname__}; supported "
            f"frameworks: {', '.join(sorted(set(_CONVERTERS.values())))}")
    name = _CONVERTERS[fw]
    try:
        mod = importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith(f"{__name__}.{name}"):
            raise ConversionError(f"the {name} converter is not available in this version of nnex") from None
        raise
    return mod.convert(obj, *args, **options)


class _CallableModule(types.ModuleType):
    """``nnex.convert`` is both this package (``nnex.convert.sklearn``, ...) and the function."""

    def __call__(self, obj, *args, **options):
        return convert(obj, *args, **options)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["ConversionError", "convert"]
