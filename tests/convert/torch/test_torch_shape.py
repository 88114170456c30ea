"""Views, concatenation, slicing, padding, windows, in-place updates: nnex and onnxruntime vs PyTorch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from torch_check import Fn, check

g = torch.Generator().manual_seed(2)
X = torch.randn(2, 3, 4, 5, generator=g)


def _inplace_slices(x):
    y = x.clone()
    y[:, 1] = 0.5
    y[..., 1:3] *= 2
    y[0, :, ::2] = y[1, :, 1::2]
    y[:, -1, 2] += 1
    return y


def _setitem_index(x):
    y = x.clone()
    y[:, [0, 2]] = -1.0
    return y


CASES = {
    "view_reshape": lambda x: (x.view(2, 60), x.reshape(-1, 5), x.reshape(6, 4, 5).contiguous(), x.flatten(),
                               x.flatten(1), x.flatten(1, 2), x.unflatten(3, (5, 1))),
    "permute_transpose": lambda x: (x.permute(0, 2, 3, 1), x.transpose(1, 3), x.mT, x[0, 0].t(), x.movedim(1, -1),
                                    x.swapaxes(0, 2)),
    "expand": lambda x: (x[:, :1].expand(2, 3, 4, 5), x[0, 0].expand(3, -1, -1), x[:, None].expand(-1, 2, -1, -1, -1),
                         x[:1].expand_as(x)),
    "squeeze_unsqueeze": lambda x: (x[:, :1].squeeze(), x[:, :1].squeeze(1), x.squeeze(0), x[None].squeeze((0, 2)),
                                    x.unsqueeze(-1), x.unsqueeze(0)),
    "cat_stack": lambda x: (torch.cat([x, x * 2], 1), torch.cat([x[:, :1], x], 1), torch.stack([x, -x], 2),
                            torch.hstack([x, x]), torch.vstack([x[0], x[1]])),
    "cat_promote": lambda x: torch.cat([x, x.round().long()], 0),
    "split_chunk": lambda x: (*x.split(2, 3), *x.split([1, 2], 1), *x.chunk(2, 2), *x.unbind(1), *x.tensor_split(2, 3)),
    "slice": lambda x: (x[:, 1:], x[..., ::2], x[:, :, 1:-1], x[:, -2:], x[1, :, 3:1000], x[:, :, :, -1],
                        x.narrow(3, 1, 3), x[:, 0, 0]),
    "select_index": lambda x: (x[0], x[:, -1], x[1, 2, 3], x.select(2, 1)),
    "flip_roll": lambda x: (x.flip(1), x.flip((0, 3)), x.roll(2, 3), x.roll((1, -1), (1, 2)), x.roll(3),
                            torch.fliplr(x[0, 0]), torch.rot90(x, 1, (2, 3))),
    "repeat": lambda x: (x.repeat(1, 2, 1, 1), x[0, 0].repeat(2, 2, 1), x.repeat_interleave(2, 1),
                         x.tile((2,)), x[0, 0, 0].repeat_interleave(3)),
    "pad_constant": lambda x: (F.pad(x, (1, 2)), F.pad(x, (1, 0, 2, 1), value=3.0), F.pad(x, (0, 0, 0, 0, 1, 1)),
                               F.pad(x, (-1, 1))),
    "pad_modes": lambda x: (F.pad(x, (1, 2, 2, 1), mode="reflect"), F.pad(x, (2, 1, 1, 3), mode="replicate"),
                            F.pad(x, (1, 2, 2, 1), mode="circular"), F.pad(x[0], (2, 1), mode="reflect"),
                            F.pad(x[0], (1, 2), mode="replicate"), F.pad(x[0], (3, 1), mode="circular")),
    "pad_3d": lambda x: (F.pad(x[None], (1, 1, 1, 1, 1, 1), mode="replicate"),
                         F.pad(x[None], (1, 1, 1, 1, 1, 1), mode="reflect")),
    "unfold_diagonal": lambda x: (x.unfold(3, 2, 1), x.unfold(2, 2, 2), x.diagonal(0, 2, 3), x.diagonal(1, -1, -2),
                                  torch.diagonal(x[0, 0], -1), torch.diag(x[0, 0, 0])),
    "tril_triu": lambda x: (x.tril(), x.triu(1), torch.tril(x[0, 0], -1)),
    "pixel_shuffle": lambda x: (F.pixel_shuffle(x.reshape(2, 4, 3, 5), 2), F.pixel_unshuffle(x[:, :, :, :4], 2)),
    "inplace_slices": _inplace_slices,
    "setitem_index": _setitem_index,
    "channel_shuffle": lambda x: F.channel_shuffle(x.reshape(2, 4, 3, 5), 2),
    "meshgrid_outer": lambda x: (*torch.meshgrid(x[0, 0, :, 0], x[0, 0, 0], indexing="ij"),
                                 torch.outer(x[0, 0, 0], x[1, 1, 1])),
}


@pytest.mark.parametrize("name", list(CASES))
def test_shape(name):
    check(Fn(CASES[name]), (X,))


@pytest.mark.parametrize("name", ["view_reshape", "split_chunk", "flip_roll", "pad_modes", "inplace_slices",
                                  "unfold_diagonal", "repeat"])
def test_shape_core_aten(name):
    check(Fn(CASES[name]), (X,), decompose=True)


def test_dynamic_view_and_cat():
    D = torch.export.Dim

    def fn(x, y):
        b, s, _ = x.shape
        h = x.view(b, s, 2, -1).transpose(1, 2)
        z = torch.cat([h.reshape(b, -1), y], 1)
        return z[:, 1:-1], x.new_zeros(b, 3), torch.arange(s) + x.shape[0]

    x = torch.randn(2, 5, 6, generator=g)
    y = torch.randn(2, 4, generator=g)
    dyn = {"x": {0: D("batch"), 1: D("seq")}, "y": {0: D("batch")}}

    class M(torch.nn.Module):
        def forward(self, x, y):
            return fn(x, y)

    proto = check(M(), (x, y), dynamic_shapes=dyn,
                  others=[(torch.randn(3, 7, 6, generator=g), torch.randn(3, 4, generator=g))])
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "seq", 6]
