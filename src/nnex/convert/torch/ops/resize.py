"""Interpolation (nearest, nearest-exact, (bi/tri)linear, bicubic, antialias) and grid_sample."""

from __future__ import annotations

import numpy as np
import torch

from ..context import Ctx
from ..registry import lowers
from ._common import aten


def _resize(ctx: Ctx, x, output_size, scale_factors, mode: str, coord: str, **extra):
    r = ctx.rank(x)
    k = r - 2
    op = ctx.op
    attrs = {"mode": mode, "coordinate_transformation_mode": coord, **extra}
    if output_size is not None and len(output_size):
        sizes = op.Concat(ctx.shape_of(x, 0, 2), ctx.size_vec(list(output_size)), axis=0)
        return op.Resize(x, None, None, sizes, **attrs)
    scales = [float(s) for s in (scale_factors if isinstance(scale_factors, (list, tuple)) else [scale_factors] * k)]
    return op.Resize(x, None, ctx.const(np.asarray([1.0, 1.0] + scales, np.float32), torch.float32), **attrs)


@lowers(aten.upsample_nearest1d.vec, aten.upsample_nearest2d.vec, aten.upsample_nearest3d.vec)
def upsample_nearest(ctx: Ctx, x, output_size, scale_factors):
    return _resize(ctx, x, output_size, scale_factors, "nearest", "asymmetric", nearest_mode="floor")


@lowers(aten._upsample_nearest_exact1d.vec, aten._upsample_nearest_exact2d.vec, aten._upsample_nearest_exact3d.vec)
def upsample_nearest_exact(ctx: Ctx, x, output_size, scale_factors):
    return _resize(ctx, x, output_size, scale_factors, "nearest", "tf_half_pixel_for_nn", nearest_mode="floor")


@lowers(aten.upsample_nearest2d.default, aten.upsample_nearest1d.default, aten.upsample_nearest3d.default)
def upsample_nearest_sizes(ctx: Ctx, x, output_size, *scales):
    return _resize(ctx, x, output_size, None, "nearest", "asymmetric", nearest_mode="floor")


def _linear_coord(align_corners):
    return "align_corners" if align_corners else "pytorch_half_pixel"


@lowers(aten.upsample_linear1d.vec, aten.upsample_bilinear2d.vec, aten.upsample_trilinear3d.vec)
def upsample_linear(ctx: Ctx, x, output_size, align_corners, scale_factors):
    return _resize(ctx, x, output_size, scale_factors, "linear", _linear_coord(align_corners))


@lowers(aten.upsample_bilinear2d.default, aten.upsample_linear1d.default, aten.upsample_trilinear3d.default)
def upsample_linear_sizes(ctx: Ctx, x, output_size, align_corners, *scales):
    return _resize(ctx, x, output_size, None, "linear", _linear_coord(align_corners))


@lowers(aten._upsample_bilinear2d_aa.vec)
def upsample_bilinear_aa(ctx: Ctx, x, output_size, align_corners, scale_factors):
    return _resize(ctx, x, output_size, scale_factors, "linear", _linear_coord(align_corners), antialias=1,
                   exclude_outside=1)


@lowers(aten.upsample_bicubic2d.vec)
def upsample_bicubic(ctx: Ctx, x, output_size, align_corners, scale_factors):
    coord = "align_corners" if align_corners else "half_pixel"
    return _resize(ctx, x, output_size, scale_factors, "cubic", coord, cubic_coeff_a=-0.75)


@lowers(aten.upsample_bicubic2d.default)
def upsample_bicubic_sizes(ctx: Ctx, x, output_size, align_corners, *scales):
    coord = "align_corners" if align_corners else "half_pixel"
    return _resize(ctx, x, output_size, None, "cubic", coord, cubic_coeff_a=-0.75)


@lowers(aten._upsample_bicubic2d_aa.vec)
def upsample_bicubic_aa(ctx: Ctx, x, output_size, align_corners, scale_factors):
    coord = "align_corners" if align_corners else "half_pixel"
    return _resize(ctx, x, output_size, scale_factors, "cubic", coord, cubic_coeff_a=-0.5, antialias=1,
                   exclude_outside=1)


@lowers(aten.grid_sampler_2d.default, aten.grid_sampler.default)
def grid_sampler(ctx: Ctx, x, grid, interpolation_mode, padding_mode, align_corners):
    if ctx.opset >= 20:
        mode = ["linear", "nearest", "cubic"][interpolation_mode]
    else:
        mode = ["bilinear", "nearest", "bicubic"][interpolation_mode]
    pad = ["zeros", "border", "reflection"][padding_mode]
    return ctx.op.GridSample(x, ctx.tensor(grid, ctx.dtype(x)), mode=mode, padding_mode=pad,
                             align_corners=int(bool(align_corners)))
