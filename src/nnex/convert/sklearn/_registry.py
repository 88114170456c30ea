"""Which function converts which estimator.

Converters are keyed by the estimator's class name and apply only to scikit-learn's own
class of that name: a user subclass may override predict or transform, so it must be
registered for itself rather than silently converted as its parent.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import ConversionError

_PREDICT: dict[str, Callable] = {}
_TRANSFORM: dict[str, Callable] = {}
_OWN_PACKAGES = ("sklearn", "imblearn")


def _register(table: dict, names: tuple[str, ...]):
    def deco(fn):
        for n in names:
            table[n] = fn
        return fn
    return deco


def predictor(*names: str):
    """Register ``fn(ctx, est, x)`` computing predict (and predict_proba / decision_function)."""
    return _register(_PREDICT, names)


def transformer(*names: str):
    """Register ``fn(ctx, est, x) -> Data`` computing transform."""
    return _register(_TRANSFORM, names)


def _key(est) -> str | None:
    cls = type(est)
    if (cls.__module__ or "").split(".")[0] not in _OWN_PACKAGES:
        return None
    return cls.__name__


def has_predictor(est) -> bool:
    return _key(est) in _PREDICT


def has_transformer(est) -> bool:
    return _key(est) in _TRANSFORM


def name_of(est) -> str:
    return type(est).__name__


def _lookup(table: dict, est, what: str) -> Callable:
    key = _key(est)
    if key in table:
        return table[key]
    cls = type(est)
    if key is None and any((c.__module__ or "").split(".")[0] in _OWN_PACKAGES for c in cls.__mro__[1:]):
        raise ConversionError(
            f"nnex cannot convert {cls.__module__}.{cls.__qualname__}: it subclasses a scikit-learn estimator "
            f"and may change its {what}; only scikit-learn's own classes are converted")
    other = _TRANSFORM if table is _PREDICT else _PREDICT
    hint = f" (only its {'transform' if table is _PREDICT else 'predict'} is supported)" if key in other else ""
    raise ConversionError(f"nnex cannot convert {cls.__qualname__}: no converter for its {what}{hint}")


def predict(ctx, est, x):
    return _lookup(_PREDICT, est, "predict")(ctx, est, x)


def transform(ctx, est, x):
    return _lookup(_TRANSFORM, est, "transform")(ctx, est, x)


def unsupported(est, what: str) -> ConversionError:
    """The error for an estimator setting nnex cannot convert (raise it)."""
    return ConversionError(f"{name_of(est)}: {what} cannot be converted")
