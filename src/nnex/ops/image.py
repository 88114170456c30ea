"""Image operators: Resize / Upsample, GridSample, AffineGrid, RoiAlign, NonMaxSuppression.

Resize is separable: every resized axis gets a small 1-D table (output position ->
K input indices and K weights) and the tensor is resampled one axis at a time, each
pass being K gathers along that axis plus a weighted sum.  Nearest mode is a single
gather, so it keeps the input dtype untouched (ints, bools, strings all work).

Coordinate arithmetic (source positions, weights) is done on the host in float64;
the interpolation itself runs in float32 for <= 32-bit floats and float64 otherwise.

GridSample and RoiAlign are written the same way: per spatial axis a handful of taps
(index, weight), then one fancy-index gather per tap combination over all sample
points at once.  RoiAlign keeps its few RoI boxes on the host; NonMaxSuppression is a
greedy, data-dependent selection and runs wholly on the host.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .dtypes import astype, backend_dtype, numpy_dtype, xp_asarray
from .registry import op

# --------------------------------------------------------------------------- helpers


def _host(v):
    """An optional host input as a flat NumPy array; missing or empty -> None."""
    if v is None:
        return None
    a = np.asarray(v).reshape(-1)
    return a if a.size else None


def _scalar(v, default):
    a = _host(v)
    return default if a is None else a[0].item()


def _compute_dtype(*dtypes) -> np.dtype:
    """float32 when every input is a <=32-bit float, float64 otherwise (ints, doubles)."""
    for d in dtypes:
        d = numpy_dtype(d)
        if not (d.kind == "f" and d.itemsize <= 4) and d.name != "bfloat16":
            return np.dtype(np.float64)
    return np.dtype(np.float32)


def _cast_back(xp, y, dtype):
    """Cast interpolated values to the input dtype; integers round and saturate."""
    dtype = numpy_dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        y = xp.clip(xp.round(y), info.min, info.max)
    elif dtype.kind == "b":
        y = y != 0
    return astype(xp, y, dtype)


# --------------------------------------------------------------------------- Resize: plan


def _resize_plan(shape, roi, scales, sizes, axes, policy):
    """Per resized axis: (axis, out_size, scale, roi_start, roi_end).

    ``scale`` is the one the coordinate transforms use: the given scale, out/in for
    sizes, or the common aspect-preserving scale for keep_aspect_ratio_policy.
    """
    r = len(shape)
    axes = list(range(r)) if axes is None else [int(a) + r if a < 0 else int(a) for a in axes]
    n = len(axes)
    if sizes is not None:
        sizes = [int(s) for s in sizes]
        ratios = [sizes[i] / shape[d] if shape[d] else 1.0 for i, d in enumerate(axes)]
        if policy in ("not_larger", "not_smaller"):
            common = min(ratios) if policy == "not_larger" else max(ratios)
            scl = [common] * n
            outs = [int(common * shape[d] + 0.5) for d in axes]  # round half up
        else:
            scl, outs = ratios, sizes
    elif scales is not None:
        scl = [float(s) for s in scales]
        outs = [math.floor(s * shape[d]) for s, d in zip(scl, axes)]
    else:
        raise ValueError("Resize needs one of 'scales' or 'sizes'")
    plan = []
    for i, d in enumerate(axes):
        # roi entries stay scalars of the roi dtype: crop coordinates are formed in
        # that precision, which decides exact rounding ties in nearest mode.
        start, end = (roi[i], roi[n + i]) if roi is not None else (0.0, 1.0)
        plan.append((d, outs[i], scl[i], start, end))
    return plan


def _is_identity(in_size, out, scale, start, end) -> bool:
    return (
        out == in_size
        and math.isclose(scale, 1.0)
        and math.isclose(float(start), 0.0)
        and math.isclose(float(end), 1.0)
    )


def _source_coords(ctm, out, in_size, scale, start, end):
    """Source coordinate of every output position along one axis (float64)."""
    y = np.arange(out, dtype=np.float64)
    width = scale * in_size  # fractional target length, as the spec defines it
    if ctm == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if ctm == "half_pixel_symmetric":
        offset = (in_size / 2) * (1 - out / width)
        return offset + (y + 0.5) / scale - 0.5
    if ctm == "pytorch_half_pixel":
        return (y + 0.5) / scale - 0.5 if width != 1 else np.full(out, -0.5)
    if ctm == "align_corners":
        return y * (in_size - 1) / (width - 1) if width != 1 else np.zeros(out)
    if ctm == "asymmetric":
        return y / scale
    if ctm == "tf_half_pixel_for_nn":
        return (y + 0.5) / scale
    if ctm == "tf_crop_and_resize":
        if width != 1:
            x = y * (end - start) * (in_size - 1) / (width - 1)
        else:
            x = np.full(out, (end - start) * (in_size - 1) / 2, dtype=np.float64)
        return x + start * (in_size - 1)
    raise ValueError(f"unsupported coordinate_transformation_mode {ctm!r}")


# --------------------------------------------------------------------------- Resize: 1-D tables


def _nearest_index(x, mode, scale):
    """Input index picked by nearest interpolation for source coordinates ``x``."""
    fl = np.floor(x)
    frac = x - fl
    if mode == "round_prefer_floor":
        idx = np.where(frac <= 0.5, fl, fl + 1)
    elif mode == "round_prefer_ceil":
        idx = np.where(frac < 0.5, fl, fl + 1)
    elif mode == "floor":
        idx = fl
    elif mode == "ceil":
        idx = np.ceil(x)
    elif mode == "simple":
        # Upsample / Resize-10: truncate when upsampling, ceil when downsampling.
        idx = np.ceil(x) if scale < 1 else np.trunc(x)
    else:
        raise ValueError(f"unsupported nearest_mode {mode!r}")
    return idx.astype(np.int64)


def _cubic_kernel(xp, d, a):
    """Keys cubic convolution kernel at distances ``d``."""
    d = xp.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return xp.where(d <= 1, near, xp.where(d < 2, far, xp.zeros_like(d)))


def _filter_table(x, in_size, scale, mode, cubic_a, antialias, exclude_outside):
    """(indices, weights), each (out, K): the taps of linear/cubic interpolation.

    With antialias the kernel is stretched by 1/scale when downsampling, so more
    input pixels contribute; weights are then renormalized to sum to one.
    """
    radius = 1 if mode == "linear" else 2
    support = min(scale, 1.0) if antialias else 1.0
    lo = math.floor(-radius / support) + 1
    taps = np.arange(lo, 1 - lo + 1)
    idx = np.floor(x)[:, None].astype(np.int64) + taps[None, :]
    dist = (idx - x[:, None]) * support
    if mode == "linear":
        w = np.clip(1 - np.abs(dist), 0.0, 1.0)
    else:
        w = _cubic_kernel(np, dist, cubic_a)
    if antialias:
        w = w / w.sum(axis=1, keepdims=True)
    if exclude_outside:
        w = np.where((idx < 0) | (idx >= in_size), 0.0, w)
        total = w.sum(axis=1, keepdims=True)
        w = w / np.where(total == 0, 1.0, total)
    return np.clip(idx, 0, in_size - 1), w


def _resample_axis(xp, data, axis, idx, w, cdtype):
    """Apply one axis' (out, K) tap table: K gathers along ``axis`` and a weighted sum."""
    bshape = [1] * data.ndim
    bshape[axis] = idx.shape[0]
    acc = None
    for k in range(idx.shape[1]):
        wk = xp.asarray(w[:, k].astype(cdtype).reshape(bshape))
        term = xp.take(data, xp.asarray(idx[:, k]), axis=axis) * wk
        acc = term if acc is None else acc + term
    return acc


def _resize(
    xp,
    X,
    plan,
    *,
    mode,
    ctm,
    nearest_mode,
    cubic_a=-0.75,
    exclude_outside=0,
    extrapolation_value=0.0,
    antialias=0,
):
    if mode not in ("nearest", "linear", "cubic"):
        raise ValueError(f"unsupported Resize mode {mode!r}")
    in_dtype = numpy_dtype(X.dtype)
    nearest = mode == "nearest"
    cdtype = _compute_dtype(in_dtype)
    y = X if nearest else astype(xp, X, cdtype)
    for axis, out, scale, start, end in plan:
        in_size = X.shape[axis]
        if _is_identity(in_size, out, scale, start, end):
            continue
        if out == 0 or in_size == 0:
            shape = list(y.shape)
            shape[axis] = out
            y = xp.zeros(tuple(shape), dtype=y.dtype)
            continue
        x = _source_coords(ctm, out, in_size, scale, start, end)
        if nearest:
            idx = np.clip(_nearest_index(x, nearest_mode, scale), 0, in_size - 1)
            y = xp.take(y, xp.asarray(idx), axis=axis)
        else:
            idx, w = _filter_table(x, in_size, scale, mode, cubic_a, antialias, exclude_outside)
            y = _resample_axis(xp, y, axis, idx, w, cdtype)
        if ctm == "tf_crop_and_resize":
            outside = (x < 0) | (x > in_size - 1)
            if outside.any():
                bshape = [1] * y.ndim
                bshape[axis] = out
                fill = xp_asarray(xp, extrapolation_value, numpy_dtype(y.dtype))
                y = xp.where(xp.asarray(outside.reshape(bshape)), fill, y)
    return y if nearest else _cast_back(xp, y, in_dtype)


# --------------------------------------------------------------------------- Resize / Upsample


@op("Resize", since=10, host_inputs=(1,))
def resize_10(xp, X, scales, *, mode="nearest"):
    # Resize-10 is the old Upsample contract: asymmetric coordinates, no rounding modes.
    plan = _resize_plan(X.shape, None, _host(scales), None, None, "stretch")
    return _resize(xp, X, plan, mode=mode, ctm="asymmetric", nearest_mode="simple")


@op("Resize", since=(11, 13, 18, 19), host_inputs=(1, 2, 3))
def resize(
    xp,
    X,
    roi=None,
    scales=None,
    sizes=None,
    *,
    antialias=0,
    axes=None,
    coordinate_transformation_mode="half_pixel",
    cubic_coeff_a=-0.75,
    exclude_outside=0,
    extrapolation_value=0.0,
    keep_aspect_ratio_policy="stretch",
    mode="nearest",
    nearest_mode="round_prefer_floor",
):
    sizes = _host(sizes)
    scales = None if sizes is not None else _host(scales)
    plan = _resize_plan(X.shape, _host(roi), scales, sizes, axes, keep_aspect_ratio_policy)
    return _resize(
        xp,
        X,
        plan,
        mode=mode,
        ctm=coordinate_transformation_mode,
        nearest_mode=nearest_mode,
        cubic_a=cubic_coeff_a,
        exclude_outside=exclude_outside,
        extrapolation_value=extrapolation_value,
        antialias=antialias,
    )


def _upsample(xp, X, scales, mode):
    mode = "linear" if mode in ("bilinear", "trilinear") else mode
    plan = _resize_plan(X.shape, None, [float(s) for s in scales], None, None, "stretch")
    return _resize(xp, X, plan, mode=mode, ctm="asymmetric", nearest_mode="simple")


@op("Upsample", since=1)
def upsample_1(xp, X, *, height_scale, width_scale, mode="nearest"):
    return _upsample(xp, X, [1.0, 1.0, height_scale, width_scale], mode)


@op("Upsample", since=7)
def upsample_7(xp, X, *, scales, mode="nearest"):
    return _upsample(xp, X, scales, mode)


@op("Upsample", since=9, host_inputs=(1,))
def upsample_9(xp, X, scales, *, mode="nearest"):
    return _upsample(xp, X, _host(scales).tolist(), mode)


# --------------------------------------------------------------------------- GridSample


def _unnormalize(g, size, align_corners):
    """Normalized [-1, 1] grid coordinate -> pixel coordinate along one axis."""
    if align_corners:
        return (g + 1) / 2 * (size - 1)
    return ((g + 1) * size - 1) / 2


def _reflect(xp, x, lo, hi):
    """Reflect ``x`` by the borders lo/hi repeatedly until it lies inside [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return xp.zeros_like(x) + lo
    below = x < lo
    dist = xp.where(below, lo - x, x - hi)
    flips = xp.floor(dist / span)
    rem = dist - flips * span
    even = (flips % 2) == 0
    inside_lo = xp.where(even, lo + rem, hi - rem)  # reflected off the low border
    inside_hi = xp.where(even, hi - rem, lo + rem)
    return xp.where(below, inside_lo, xp.where(x > hi, inside_hi, x))


def _grid_axis_taps(xp, u, size, mode, padding_mode, lo, hi):
    """Taps along one spatial axis: list of (index, weight) arrays shaped like ``u``.

    Out-of-range taps of 'zeros' padding get weight 0 (their index is clamped only
    to keep the gather legal); border / reflection remap the tap index instead.
    """
    if mode == "nearest":
        base = u
        offsets, weights = [0], [xp.ones_like(u)]
    else:
        base = xp.floor(u)
        t = u - base
        if mode == "linear":
            offsets, weights = [0, 1], [1 - t, t]
        else:
            offsets = [-1, 0, 1, 2]
            weights = [_cubic_kernel(xp, t - o, -0.75) for o in offsets]
    taps = []
    for off, w in zip(offsets, weights):
        idx = base + off
        if padding_mode == "zeros":
            w = xp.where((idx >= 0) & (idx <= size - 1), w, xp.zeros_like(w))
        elif padding_mode == "reflection":
            idx = _reflect(xp, idx, lo, hi)
        idx = xp.astype(xp.clip(idx, 0, size - 1), xp.int64)
        taps.append((idx, w))
    return taps


def _grid_coords(xp, grid, spatial, align_corners, mode, padding_mode):
    """Pixel coordinates per spatial axis (outermost first), after the padding remap."""
    coords = []
    r = len(spatial)
    for i, size in enumerate(spatial):
        u = _unnormalize(grid[..., r - 1 - i], size, align_corners)  # grid lists the innermost axis first
        if mode == "nearest":
            u = xp.round(u)  # halfway rounds to even, like PyTorch
        lo, hi = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
        if padding_mode == "border" and mode != "cubic":
            # Points beyond the sampling borders move onto the border.  Cubic points stay
            # where they are: each of their taps is clamped instead (_grid_axis_taps), as
            # PyTorch and onnxruntime do, so the weights keep the point's true offset.
            u = xp.where((u < lo) | (u > hi), xp.clip(u, 0, size - 1), u)
        elif padding_mode == "reflection":
            u = _reflect(xp, u, lo, hi)
        coords.append((u, lo, hi))
    return coords


@op("GridSample", since=(16, 20, 22))
def grid_sample(xp, X, grid, *, align_corners=0, mode="linear", padding_mode="zeros"):
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    if mode not in ("nearest", "linear", "cubic"):
        raise ValueError(f"unsupported GridSample mode {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"unsupported GridSample padding_mode {padding_mode!r}")
    N, C, *spatial = X.shape
    out_spatial = tuple(grid.shape[1:-1])
    cdtype = _compute_dtype(X.dtype, grid.dtype)
    if math.prod(X.shape) == 0 or math.prod(out_spatial) == 0:
        return xp.zeros((N, C, *out_spatial), dtype=X.dtype)
    # Channels last so one fancy-index gathers every channel of a sample point.
    src = astype(xp, xp.moveaxis(X, 1, -1), cdtype)
    g = astype(xp, grid, cdtype)
    coords = _grid_coords(xp, g, spatial, align_corners, mode, padding_mode)
    axis_taps = [
        _grid_axis_taps(xp, u, s, mode, padding_mode, lo, hi) for (u, lo, hi), s in zip(coords, spatial)
    ]
    batch = xp.reshape(xp.arange(N, dtype=xp.int64), (N,) + (1,) * len(out_spatial))
    acc = None
    for combo in itertools.product(*axis_taps):
        weight = combo[0][1]
        for _, w in combo[1:]:
            weight = weight * w
        term = src[(batch, *[idx for idx, _ in combo])] * weight[..., None]
        acc = term if acc is None else acc + term
    # Integer outputs truncate, as the reference implementation does.
    return xp.astype(xp.moveaxis(acc, -1, 1), X.dtype)


# --------------------------------------------------------------------------- AffineGrid


def _base_coords(n, align_corners):
    """Evenly spaced positions in [-1, 1] along one axis (pixel centers or corners)."""
    if n <= 1:
        return np.zeros(n)
    if align_corners:
        return np.linspace(-1.0, 1.0, n)
    return (np.arange(n) * 2 + 1) / n - 1


@op("AffineGrid", since=20, host_inputs=(1,))
def affine_grid(xp, theta, size, *, align_corners=0):
    dims = [int(d) for d in np.asarray(size).reshape(-1)[2:]]
    # Homogeneous position (x, y[, z], 1) of every output location, innermost axis first.
    mesh = np.meshgrid(*[_base_coords(d, align_corners) for d in dims], indexing="ij")
    pos = np.stack(list(reversed(mesh)) + [np.ones(dims)], axis=-1)
    cdtype = _compute_dtype(theta.dtype)
    pts = xp.asarray(pos.reshape(-1, len(dims) + 1).astype(cdtype))
    # (N, k, k+1) x (P, k+1) -> (N, P, k)
    out = xp.matmul(pts, xp.permute_dims(astype(xp, theta, cdtype), (0, 2, 1)))
    return xp.astype(xp.reshape(out, (theta.shape[0], *dims, len(dims))), theta.dtype)


# --------------------------------------------------------------------------- RoiAlign


def _roi_axis_samples(start, bin_size, pooled, grid, size):
    """Bilinear taps of the sample points along one axis for a group of RoIs.

    Returns (low, high, w_low, w_high), each (R, pooled, grid).  Samples beyond one
    pixel outside the map get zero weight; others are clamped to the border.
    """
    dt = bin_size.dtype
    p = np.arange(pooled, dtype=dt)[None, :, None]
    g = np.arange(grid, dtype=dt)[None, None, :]
    pos = start[:, None, None] + p * bin_size[:, None, None] + (g + 0.5) * bin_size[:, None, None] / grid
    outside = (pos < -1.0) | (pos > size)
    pos = np.maximum(pos, 0.0)
    low = np.floor(pos).astype(np.int64)
    at_edge = low >= size - 1
    low = np.where(at_edge, size - 1, low)
    high = np.where(at_edge, size - 1, low + 1)
    pos = np.where(at_edge, low, pos)
    frac = pos - low
    w_low = np.where(outside, 0.0, 1 - frac)
    w_high = np.where(outside, 0.0, frac)
    return low, high, w_low, w_high


def _roi_group(xp, src, batch, sy, sx, gh, gw, mode, cdtype):
    """Pool a group of RoIs that share the sampling grid size; returns (R, C, PH, PW).

    Indices and weights are host arrays; only the gathers and the pooling touch ``src``.
    """
    ylo, yhi, wyl, wyh = sy
    xlo, xhi, wxl, wxh = sx
    b = xp.asarray(batch[:, None, None, None, None])

    def y_(a):  # (R, PH, GH) -> (R, PH, GH, 1, 1)
        return a[:, :, :, None, None]

    def x_(a):  # (R, PW, GW) -> (R, 1, 1, PW, GW)
        return a[:, None, None, :, :]

    corners = [
        (ylo, xlo, wyl, wxl),
        (ylo, xhi, wyl, wxh),
        (yhi, xlo, wyh, wxl),
        (yhi, xhi, wyh, wxh),
    ]
    acc = None
    for yi, xi, wy, wx in corners:
        w = xp.asarray((y_(wy) * x_(wx)).astype(cdtype)[..., None])
        term = src[b, xp.asarray(y_(yi)), xp.asarray(x_(xi))] * w  # (R, PH, GH, PW, GW, C)
        if acc is None:
            acc = term
        elif mode == "avg":
            acc = acc + term
        else:
            acc = xp.maximum(acc, term)
    if mode == "avg":
        pooled = xp.sum(acc, axis=(2, 4)) / max(gh * gw, 1)
    else:
        pooled = xp.max(acc, axis=(2, 4))
    return xp.moveaxis(pooled, -1, 1)


def _roi_align(
    xp, X, rois, batch_indices, *, half_pixel, mode, output_height, output_width, sampling_ratio,
    spatial_scale,
):
    _N, C, H, W = X.shape
    rois = np.asarray(rois)
    batch = np.asarray(batch_indices).reshape(-1).astype(np.int64)
    # Sample positions are formed in the rois' precision (at least float32), so
    # points landing exactly on the -1 / size cut-offs fall on the same side as
    # in onnxruntime.
    boxes = rois.reshape(-1, 4).astype(_compute_dtype(rois.dtype))
    R = boxes.shape[0]
    cdtype = _compute_dtype(X.dtype)
    out_shape = (R, C, output_height, output_width)
    if R == 0 or math.prod(X.shape) == 0:
        return xp.zeros(out_shape, dtype=X.dtype)
    ft = boxes.dtype.type
    offset = 0.5 if half_pixel else 0.0
    x1, y1, x2, y2 = (boxes[:, i] * ft(spatial_scale) - ft(offset) for i in range(4))
    rw, rh = x2 - x1, y2 - y1
    if not half_pixel:
        rw, rh = np.maximum(rw, ft(1)), np.maximum(rh, ft(1))
    bin_h, bin_w = rh / output_height, rw / output_width
    if sampling_ratio > 0:
        grid_h = np.full(R, sampling_ratio, dtype=np.int64)
        grid_w = grid_h
    else:
        grid_h = np.ceil(rh / output_height).astype(np.int64)
        grid_w = np.ceil(rw / output_width).astype(np.int64)
    src = astype(xp, xp.moveaxis(X, 1, -1), cdtype)  # (N, H, W, C)
    mode = mode.lower()
    pieces, order = [], []
    empty = np.flatnonzero((grid_h <= 0) | (grid_w <= 0))
    if empty.size:  # an empty sampling grid pools to 0
        pieces.append(xp.zeros((empty.size, C, output_height, output_width), dtype=backend_dtype(xp, cdtype)))
        order.append(empty)
    # RoIs sharing a sampling grid are pooled together, in chunks of bounded memory.
    for gh, gw in sorted(set(zip(grid_h.tolist(), grid_w.tolist()))):
        if gh <= 0 or gw <= 0:
            continue
        members = np.flatnonzero((grid_h == gh) & (grid_w == gw))
        chunk = max(1, (1 << 22) // max(C * output_height * output_width * gh * gw, 1))
        for s in range(0, members.size, chunk):
            sel = members[s : s + chunk]
            sy = _roi_axis_samples(y1[sel], bin_h[sel], output_height, gh, H)
            sx = _roi_axis_samples(x1[sel], bin_w[sel], output_width, gw, W)
            pieces.append(_roi_group(xp, src, batch[sel], sy, sx, gh, gw, mode, cdtype))
            order.append(sel)
    y = pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=0)
    perm = np.concatenate(order)
    if not np.array_equal(perm, np.arange(R)):
        y = xp.take(y, xp.asarray(np.argsort(perm)), axis=0)
    return xp.astype(y, X.dtype)


@op("RoiAlign", since=10, host_inputs=(1, 2))
def roi_align_10(
    xp,
    X,
    rois,
    batch_indices,
    *,
    mode="avg",
    output_height=1,
    output_width=1,
    sampling_ratio=0,
    spatial_scale=1.0,
):
    return _roi_align(
        xp,
        X,
        rois,
        batch_indices,
        half_pixel=False,
        mode=mode,
        output_height=output_height,
        output_width=output_width,
        sampling_ratio=sampling_ratio,
        spatial_scale=spatial_scale,
    )


@op("RoiAlign", since=(16, 22), host_inputs=(1, 2))
def roi_align(
    xp,
    X,
    rois,
    batch_indices,
    *,
    coordinate_transformation_mode="half_pixel",
    mode="avg",
    output_height=1,
    output_width=1,
    sampling_ratio=0,
    spatial_scale=1.0,
):
    return _roi_align(
        xp,
        X,
        rois,
        batch_indices,
        half_pixel=coordinate_transformation_mode == "half_pixel",
        mode=mode,
        output_height=output_height,
        output_width=output_width,
        sampling_ratio=sampling_ratio,
        spatial_scale=spatial_scale,
    )


# --------------------------------------------------------------------------- NonMaxSuppression


def _box_extents(boxes, center_point_box):
    """(x_min, y_min, x_max, y_max) columns of boxes in either ONNX box format."""
    if center_point_box:
        cx, cy, w, h = (boxes[:, i] for i in range(4))
        hw, hh = w / 2, h / 2
        return cx - hw, cy - hh, cx + hw, cy + hh
    y_a, x_a, y_b, x_b = (boxes[:, i] for i in range(4))
    return np.minimum(x_a, x_b), np.minimum(y_a, y_b), np.maximum(x_a, x_b), np.maximum(y_a, y_b)


def _suppressed_by(ext, i, others, iou_threshold):
    """Which boxes in ``others`` overlap box ``i`` with IoU strictly above the threshold."""
    x0, y0, x1, y1 = ext
    ix = np.minimum(x1[i], x1[others]) - np.maximum(x0[i], x0[others])
    iy = np.minimum(y1[i], y1[others]) - np.maximum(y0[i], y0[others])
    inter = ix * iy
    area_i = (x1[i] - x0[i]) * (y1[i] - y0[i])
    area_o = (x1[others] - x0[others]) * (y1[others] - y0[others])
    union = area_i + area_o - inter
    ok = (ix > 0) & (iy > 0) & (inter > 0) & (area_i > 0) & (area_o > 0) & (union > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / np.where(ok, union, 1)
    return ok & (iou > iou_threshold)


def _nms_one(ext, scores, max_out, iou_threshold, score_threshold):
    """Greedy NMS for one (batch, class): selected box indices in selection order."""
    cand = np.arange(scores.shape[0])
    if score_threshold is not None:
        cand = cand[scores > score_threshold]
    # Highest score first; equal scores keep the lower box index first.
    order = cand[np.argsort(-scores[cand], kind="stable")]
    alive = np.ones(order.size, dtype=bool)
    picked = []
    pos = 0
    while len(picked) < max_out:
        rest = np.flatnonzero(alive[pos:])
        if rest.size == 0:
            break
        pos += int(rest[0])
        box = order[pos]
        picked.append(int(box))
        tail = order[pos + 1 :]
        if tail.size:
            alive[pos + 1 :] &= ~_suppressed_by(ext, box, tail, iou_threshold)
        pos += 1
    return picked


@op("NonMaxSuppression", since=10, host_inputs=(0, 1, 2, 3, 4))
def non_max_suppression(
    xp,
    boxes,
    scores,
    max_output_boxes_per_class=None,
    iou_threshold=None,
    score_threshold=None,
    *,
    center_point_box=0,
):
    boxes = np.asarray(boxes)
    scores = np.asarray(scores)
    max_out = max(int(_scalar(max_output_boxes_per_class, 0)), 0)
    iou_thr = np.asarray(_scalar(iou_threshold, 0.0), dtype=boxes.dtype)
    score_thr = _host(score_threshold)
    score_thr = None if score_thr is None else score_thr[0]
    rows = []
    if max_out > 0:
        for b in range(boxes.shape[0]):
            ext = _box_extents(boxes[b], center_point_box)
            for c in range(scores.shape[1]):
                for box in _nms_one(ext, scores[b, c], max_out, iou_thr, score_thr):
                    rows.append((b, c, box))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)
