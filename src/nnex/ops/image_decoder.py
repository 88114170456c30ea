"""ImageDecoder: decodes encoded images (Pillow, an optional extra).

Pillow is imported inside the kernel so that nnex imports without it; only a model
that actually decodes images needs the ``image`` extra.  Decoding runs on the host;
the uint8 [H, W, C] result goes to the backend through ``xp.asarray``.
"""

from __future__ import annotations

import io

import numpy as np

from .registry import op

# Pillow mode to convert to, and the number of channels it yields, per pixel_format
_MODES = {"RGB": ("RGB", 3), "BGR": ("RGB", 3), "Grayscale": ("L", 1)}


@op("ImageDecoder", since=20)
def image_decoder(xp, encoded_stream, *, pixel_format="RGB"):
    if pixel_format not in _MODES:
        raise ValueError(f"ImageDecoder: unknown pixel_format {pixel_format!r}")
    try:
        import PIL.Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ImageDecoder needs Pillow: pip install 'nnex[image]'") from e
    mode, channels = _MODES[pixel_format]
    data = np.asarray(encoded_stream, dtype=np.uint8).tobytes()
    try:
        with PIL.Image.open(io.BytesIO(data)) as img:
            pixels = np.asarray(img.convert(mode), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError):
        # the spec asks for an empty result, not an error, on an undecodable stream
        return xp.asarray(np.zeros((0, 0, channels), dtype=np.uint8))
    pixels = pixels.reshape(pixels.shape[0], pixels.shape[1], channels)
    if pixel_format == "BGR":
        pixels = pixels[:, :, ::-1]
    return xp.asarray(np.ascontiguousarray(pixels))
