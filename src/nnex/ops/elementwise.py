"""elementwise operators."""

from __future__ import annotations

from .registry import op


@op("Abs", 1)
def abs_(xp, x):
    return xp.abs(x)
