"""Advanced indexing, index_put, gather/scatter, masks, embeddings: nnex and onnxruntime vs PyTorch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from torch_check import Fn, check

g = torch.Generator().manual_seed(3)
X = torch.randn(4, 5, 6, generator=g)
IDX = torch.tensor([[0, 3], [-1, 1]])
COLS = torch.tensor([4, 0, -2])


def _index_put(x, i, j):
    y = x.clone()
    y[i] = 1.0
    y[:, j, 1:3] = -2.0
    y[i[0], j[:2]] += 5.0
    y.index_put_((i[1], j[:2]), torch.tensor(3.0), accumulate=True)
    return y


def _mask_assign(x, i, j):
    y = x.clone()
    y[y > 0.5] = 0.0
    y[:, y[0, :, 0] < 0] = 7.0
    return y


CASES = {
    "one_index": lambda x, i, j: (x[i], x[:, j], x[..., j], x[:, :, i]),
    "adjacent": lambda x, i, j: (x[i, i], x[:, j, j], x[i[0], j[:2]]),
    "separated": lambda x, i, j: (x[i, :, i], x[i[0], 1:3, j[:2]]),
    "with_slices": lambda x, i, j: (x[1:, j], x[i, ::2], x[None, i, :, 2]),
    "bool_mask": lambda x, i, j: (x[x > 0], x[:, x[0, :, 0] > 0], x[x[:, 0, 0] > 0, 2]),
    "index_put": _index_put,
    "mask_assign": _mask_assign,
    "index_select": lambda x, i, j: (x.index_select(1, j.abs()), torch.index_select(x, 0, i[0]), x.take(i)),
    "gather": lambda x, i, j: (x.gather(1, torch.tensor([[[1], [4]]]).expand(4, 2, 6)),
                               torch.gather(x, -1, torch.zeros(4, 5, 2, dtype=torch.long))),
    "masked": lambda x, i, j: (x.masked_fill(x < 0, 0.5), x.masked_select(x > 1),
                               x.masked_scatter(x > 0, torch.arange(120.0).reshape(4, 5, 6))),
    "nonzero": lambda x, i, j: (torch.nonzero(x > 1), torch.argwhere(x[0] > 0), (x > 1.5).nonzero(as_tuple=True)),
    "where_index": lambda x, i, j: torch.where(x > 0, x, x[:, :1]).index_select(2, j.abs()),
    "one_hot": lambda x, i, j: F.one_hot(i.abs(), 6),
}


@pytest.mark.parametrize("name", list(CASES))
def test_indexing(name):
    check(Fn(CASES[name]), (X, IDX, COLS))


@pytest.mark.parametrize("name", ["adjacent", "separated", "bool_mask", "index_put", "mask_assign", "masked"])
def test_indexing_core_aten(name):
    check(Fn(CASES[name]), (X, IDX, COLS), decompose=True)


def test_scatter_family():
    idx = torch.tensor([[0, 1, 2, 0, 0], [2, 0, 0, 1, 2]])
    src = torch.arange(1.0, 11.0).reshape(2, 5)
    base = torch.randn(3, 5, generator=g)

    def fn(base, idx, src):
        out = [base.scatter(0, idx, src), base.scatter(0, idx, 2.5), base.scatter_add(0, idx, src),
               base.scatter(1, idx[:, :2], src)]
        for red in ("sum", "prod", "mean", "amax", "amin"):
            out.append(base.scatter_reduce(0, idx, src, red))
            out.append(base.scatter_reduce(0, idx, src, red, include_self=False))
        out.append(torch.zeros(3, 5).index_add(0, torch.tensor([0, 2]), src))
        out.append(base.index_copy(0, torch.tensor([2, 0]), src))
        out.append(base.index_fill(1, torch.tensor([1, 3]), -1.0))
        return out

    check(Fn(fn), (base, idx, src))


def test_int_scatter_and_gather():
    idx = torch.tensor([[0, 1, 1], [2, 2, 0]])
    base = torch.arange(9).reshape(3, 3)
    check(Fn(lambda b, i: (b.scatter_add(0, i, b[:2] * 3), b.gather(1, i.T[:, :2]),
                           b.scatter_reduce(0, i, b[:2], "amax", include_self=False))), (base, idx))


def test_embedding_and_padding_idx():
    m = torch.nn.Embedding(10, 4, padding_idx=0)
    check(m, (torch.tensor([[0, 3, 9], [1, 1, 2]]),))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_offsets(mode):
    torch.manual_seed(0)
    m = torch.nn.EmbeddingBag(10, 3, mode=mode)
    idx = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9])
    off = torch.tensor([0, 4, 4])  # the second bag is empty
    check(m, (idx, off))


def test_embedding_bag_weights_padding_and_2d():
    torch.manual_seed(0)
    m = torch.nn.EmbeddingBag(10, 3, mode="sum", padding_idx=2)
    idx = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9])
    off = torch.tensor([0, 3, 5, 8])
    w = torch.rand(8)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bag = m
            self.bag2 = torch.nn.EmbeddingBag(10, 3, mode="mean")

        def forward(self, idx, off, w, idx2):
            return (self.bag(idx, off, per_sample_weights=w),
                    F.embedding_bag(idx, self.bag.weight, off, mode="sum", include_last_offset=True),
                    self.bag2(idx2))

    check(M(), (idx, off, w, torch.tensor([[1, 2, 3], [4, 4, 0]])))
