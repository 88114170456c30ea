"""cast operators."""

from __future__ import annotations

from .registry import op
