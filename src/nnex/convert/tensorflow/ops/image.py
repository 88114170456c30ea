"""Image resizing."""

from __future__ import annotations

import numpy as np

from ... import ConversionError
from ..registry import lowers
from ._common import attr


def _resize(ctx, op, x, size, mode):
    align = attr(op, "align_corners", False)
    half = attr(op, "half_pixel_centers", False)
    if align and half:
        raise ConversionError("align_corners and half_pixel_centers together are not valid")
    if align:
        coord = "align_corners"
    elif half:
        coord = "half_pixel"
    else:
        coord = "asymmetric"
    # TensorFlow rounds half up (align_corners) or floors (asymmetric, and half-pixel once ONNX's
    # -0.5 shift is taken back by rounding half up)
    kw = {"nearest_mode": "floor" if coord == "asymmetric" else "round_prefer_ceil"} if mode == "nearest" else {}
    # NHWC: the sizes of the full output are [N, new_h, new_w, C]
    shp = ctx.shape_of(x)
    full = ctx.op.Concat(ctx.op.Slice(shp, ctx.ints([0]), ctx.ints([1])), ctx.cast(size, np.int64),
                         ctx.op.Slice(shp, ctx.ints([3]), ctx.ints([4])), axis=0)
    y = ctx.op.Resize(ctx.transpose(x, [0, 3, 1, 2]), None, None,
                      ctx.op.Gather(full, ctx.ints([0, 3, 1, 2]), axis=0), mode=mode,
                      coordinate_transformation_mode=coord, **kw)
    return ctx.transpose(y, [0, 2, 3, 1])


@lowers("ResizeBilinear")
def resize_bilinear(ctx, op, x, size):
    return _resize(ctx, op, x, size, "linear")


@lowers("ResizeNearestNeighbor")
def resize_nearest(ctx, op, x, size):
    return _resize(ctx, op, x, size, "nearest")
