"""ImageDecoder: decodes encoded images (Pillow, an optional extra)."""

from __future__ import annotations

from .registry import op
