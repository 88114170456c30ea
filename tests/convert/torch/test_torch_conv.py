"""Convolutions, pooling, normalization, interpolation, CNNs: nnex and onnxruntime vs PyTorch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = nn.functional

from torch_check import Fn, check, op_types

g = torch.Generator().manual_seed(4)


def randn(*s):
    return torch.randn(*s, generator=g)


def _init(m: nn.Module) -> nn.Module:
    """Non-trivial running statistics and affine parameters, reproducibly."""
    torch.manual_seed(0)
    for mod in m.modules():
        if isinstance(mod, nn.modules.batchnorm._NormBase) and mod.track_running_stats:
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 1.5)
        for name, lo, hi in (("weight", 0.5, 1.5), ("bias", -0.5, 0.5)):
            p = getattr(mod, name, None) if isinstance(mod, (nn.modules.batchnorm._NormBase, nn.GroupNorm,
                                                             nn.LayerNorm)) else None
            if p is not None:
                with torch.no_grad():
                    p.uniform_(lo, hi)
    return m.eval()


CONVS = {
    "conv1d": (nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 11)),
    "conv1d_same": (nn.Conv1d(3, 4, 4, padding="same", dilation=2), (2, 3, 11)),
    "conv2d_grouped_dilated": (nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2), (2, 4, 9, 8)),
    "conv2d_asym": (nn.Conv2d(3, 5, (3, 1), stride=(2, 1), padding=(1, 0), bias=False), (1, 3, 8, 7)),
    "conv2d_depthwise": (nn.Conv2d(4, 4, 3, groups=4, padding="same"), (2, 4, 7, 7)),
    "conv2d_reflect": (nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), (2, 3, 6, 6)),
    "conv2d_circular": (nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"), (2, 3, 6, 6)),
    "conv3d": (nn.Conv3d(2, 3, (2, 3, 3), stride=(1, 2, 1), padding=1), (1, 2, 5, 6, 5)),
    "convT1d": (nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1), (2, 3, 7)),
    "convT2d": (nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=1),
                (1, 4, 5, 6)),
    "convT2d_dilated": (nn.ConvTranspose2d(3, 2, 3, stride=3, padding=2, dilation=2), (1, 3, 4, 4)),
    "convT3d": (nn.ConvTranspose3d(2, 3, 2, stride=2), (1, 2, 3, 4, 3)),
}


@pytest.mark.parametrize("name", list(CONVS))
def test_conv(name):
    torch.manual_seed(0)
    m, shape = CONVS[name]
    check(m.eval(), (randn(*shape),))


POOLS = {
    "maxpool1d": (lambda x: F.max_pool1d(x, 3, 2, 1), (2, 3, 11)),
    "maxpool2d": (lambda x: F.max_pool2d(x, 3, 2, 1, dilation=1), (2, 3, 9, 8)),
    "maxpool2d_ceil": (lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (2, 3, 10, 9)),
    "maxpool2d_dilated_ceil": (lambda x: F.max_pool2d(x, 2, 2, 0, dilation=2, ceil_mode=True), (1, 2, 9, 10)),
    "maxpool2d_indices": (lambda x: F.max_pool2d(x, 2, 2, return_indices=True), (2, 3, 8, 6)),
    "maxpool3d": (lambda x: F.max_pool3d(x, 2, (1, 2, 2)), (1, 2, 4, 6, 6)),
    "avgpool1d": (lambda x: F.avg_pool1d(x, 4, 2, 1), (2, 3, 11)),
    "avgpool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1), (2, 3, 9, 8)),
    "avgpool2d_exclude_pad": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (2, 3, 9, 8)),
    "avgpool2d_ceil": (lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), (2, 3, 10, 9)),
    "avgpool2d_ceil_exclude": (lambda x: F.avg_pool2d(x, 2, 2, 0, ceil_mode=True, count_include_pad=False),
                               (1, 2, 7, 9)),
    "avgpool2d_divisor": (lambda x: F.avg_pool2d(x, 2, 2, divisor_override=3), (1, 2, 6, 6)),
    "avgpool3d": (lambda x: F.avg_pool3d(x, 2, 2), (1, 2, 4, 6, 6)),
    "adaptive_avg": (lambda x: (F.adaptive_avg_pool2d(x, 1), F.adaptive_avg_pool2d(x, (3, 2)),
                                F.adaptive_avg_pool2d(x, (4, 5)), F.adaptive_avg_pool1d(x[:, :, 0], 3)),
                     (2, 3, 9, 10)),
    "adaptive_max": (lambda x: (F.adaptive_max_pool2d(x, 1), F.adaptive_max_pool2d(x, (3, 2)),
                                F.adaptive_max_pool2d(x, (4, 5))), (2, 3, 9, 10)),
    "adaptive_3d": (lambda x: F.adaptive_avg_pool3d(x, (2, 3, 1)), (1, 2, 4, 7, 5)),
    "lp_pool": (lambda x: F.lp_pool2d(x.abs(), 2, 2), (1, 2, 6, 6)),
    "unfold_fold": (lambda x: (F.unfold(x, 3, dilation=1, padding=1, stride=2),
                               F.fold(F.unfold(x, 2, stride=2), (6, 8), 2, stride=2)), (2, 3, 6, 8)),
}


@pytest.mark.parametrize("name", list(POOLS))
def test_pool(name):
    fn, shape = POOLS[name]
    check(Fn(fn), (randn(*shape),))


@pytest.mark.parametrize("name", ["maxpool2d_ceil", "avgpool2d_ceil", "maxpool2d_indices", "adaptive_avg",
                                  "unfold_fold"])
def test_pool_core_aten(name):
    fn, shape = POOLS[name]
    check(Fn(fn), (randn(*shape),), decompose=True)


NORMS = {
    "batchnorm1d": (lambda: nn.BatchNorm1d(4), (3, 4)),
    "batchnorm1d_seq": (lambda: nn.BatchNorm1d(4), (3, 4, 5)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(4), (2, 4, 3, 5)),
    "batchnorm3d_no_affine": (lambda: nn.BatchNorm3d(4, affine=False), (2, 4, 3, 2, 2)),
    "batchnorm_no_stats": (lambda: nn.BatchNorm2d(4, track_running_stats=False), (3, 4, 3, 2)),
    "groupnorm": (lambda: nn.GroupNorm(2, 6), (2, 6, 3, 4)),
    "groupnorm_no_affine": (lambda: nn.GroupNorm(3, 6, affine=False), (2, 6, 5)),
    "layernorm": (lambda: nn.LayerNorm([3, 4]), (2, 5, 3, 4)),
    "layernorm_no_bias": (lambda: nn.LayerNorm(4, bias=False), (2, 5, 4)),
    "instancenorm": (lambda: nn.InstanceNorm2d(4, affine=True), (2, 4, 5, 3)),
    "instancenorm_plain": (lambda: nn.InstanceNorm1d(4), (2, 4, 7)),
    "instancenorm_running": (lambda: nn.InstanceNorm2d(4, track_running_stats=True), (2, 4, 5, 3)),
    "rmsnorm": (lambda: nn.RMSNorm(4, eps=1e-6), (2, 3, 4)),
    "localresponse": (lambda: nn.LocalResponseNorm(3), (2, 5, 4, 4)),
}


@pytest.mark.parametrize("name", list(NORMS))
def test_norm(name):
    make, shape = NORMS[name]
    check(_init(make()), (randn(*shape),))


@pytest.mark.parametrize("name", ["batchnorm2d", "groupnorm", "layernorm", "instancenorm", "rmsnorm"])
def test_norm_core_aten(name):
    make, shape = NORMS[name]
    check(_init(make()), (randn(*shape),), decompose=True)


RESIZE = {
    "nearest_scale": (lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), (1, 2, 3, 4)),
    "nearest_size": (lambda x: F.interpolate(x, size=(5, 7), mode="nearest"), (1, 2, 3, 4)),
    "nearest_down": (lambda x: F.interpolate(x, size=(2, 3), mode="nearest"), (1, 2, 5, 7)),
    "nearest_exact": (lambda x: F.interpolate(x, size=(5, 7), mode="nearest-exact"), (1, 2, 3, 4)),
    "nearest_1d_3d": (lambda x: (F.interpolate(x[:, :, 0], scale_factor=3), F.interpolate(x[:, None], size=(2, 5, 6))),
                      (1, 2, 3, 4)),
    "bilinear": (lambda x: F.interpolate(x, size=(5, 7), mode="bilinear"), (1, 2, 3, 4)),
    "bilinear_align": (lambda x: F.interpolate(x, scale_factor=(2, 1.5), mode="bilinear", align_corners=True),
                       (1, 2, 3, 4)),
    "bilinear_down": (lambda x: F.interpolate(x, scale_factor=0.5, mode="bilinear"), (1, 2, 8, 6)),
    "bilinear_antialias": (lambda x: F.interpolate(x, size=(3, 4), mode="bilinear", antialias=True), (1, 2, 9, 8)),
    "bicubic_antialias": (lambda x: F.interpolate(x, scale_factor=0.4, mode="bicubic", antialias=True),
                          (1, 2, 10, 8)),
    "bicubic": (lambda x: F.interpolate(x, size=(7, 9), mode="bicubic"), (1, 2, 4, 5)),
    "bicubic_align": (lambda x: F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True), (1, 2, 4, 5)),
    "linear_1d": (lambda x: F.interpolate(x, size=9, mode="linear"), (2, 3, 4)),
    "trilinear": (lambda x: F.interpolate(x, size=(3, 4, 5), mode="trilinear", align_corners=False),
                  (1, 2, 2, 3, 3)),
    "upsample_module": (lambda x: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)(x), (1, 2, 3, 4)),
    "pixel_shuffle": (lambda x: nn.PixelShuffle(2)(x), (1, 8, 3, 4)),
}


@pytest.mark.parametrize("name", list(RESIZE))
def test_interpolate(name):
    fn, shape = RESIZE[name]
    check(Fn(fn), (randn(*shape),))


def _grid_sample(mode, padding_mode, runtimes=("onnxruntime", "nnex")):
    local = torch.Generator().manual_seed(11)  # the same points whatever order the tests run in
    x = torch.randn(1, 2, 5, 6, generator=local)
    grid = torch.rand(1, 4, 3, 2, generator=local) * 2.4 - 1.2  # some points outside [-1, 1]
    check(Fn(lambda x, grid: F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False)),
          (x, grid), runtimes=runtimes)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample(mode, padding_mode):
    _grid_sample(mode, padding_mode)


def test_affine_grid_sample():
    theta = torch.tensor([[[0.9, 0.1, 0.05], [-0.1, 1.1, 0.0]]])
    check(Fn(lambda x, t: F.grid_sample(x, F.affine_grid(t, [1, 2, 5, 6], align_corners=True), align_corners=True)),
          (randn(1, 2, 5, 6), theta))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, groups=2), nn.BatchNorm2d(16), nn.Hardswish(),
            nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(16, 10))

    def forward(self, x):
        return self.head(self.features(x)).softmax(-1)


def test_small_cnn_dynamic_batch():
    m = _init(SmallCNN())
    proto = check(m, (randn(2, 3, 16, 16),), dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
                  others=[randn(5, 3, 16, 16)])
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {"Conv", "BatchNormalization", "MaxPool"} <= op_types(proto)
    names = {i.name for i in proto.graph.initializer}
    assert {"features.0.weight", "features.1.running_mean", "head.2.weight"} <= names


class UNet(nn.Module):
    """Two levels: down by max-pool, up by transposed conv and by interpolation, skip concats."""

    def __init__(self, c=4):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.GroupNorm(2, o), nn.SiLU(),
                                 nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())

        self.enc1, self.enc2, self.mid = block(3, c), block(c, 2 * c), block(2 * c, 4 * c)
        self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec2 = block(4 * c, 2 * c)
        self.dec1 = block(3 * c, c)
        self.out = nn.Conv2d(c, 2, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1], 1))
        return torch.sigmoid(self.out(d1))


def test_unet_dynamic_batch_and_size():
    D = torch.export.Dim
    m = _init(UNet())
    h = D("h4", min=2, max=32)
    w = D("w4", min=2, max=32)
    dyn = {"x": {0: D("batch"), 2: 4 * h, 3: 4 * w}}
    check(m, (randn(2, 3, 16, 12),), dynamic_shapes=dyn, others=[randn(1, 3, 8, 20)])
