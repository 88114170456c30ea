"""Reductions, cumulative ops, sort/topk: nnex and onnxruntime vs PyTorch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch_check import Fn, check

g = torch.Generator().manual_seed(1)
X = torch.randn(3, 4, 5, generator=g)
I = torch.randint(-5, 6, (3, 4, 5), generator=g)

CASES = {
    "sum": lambda x: (x.sum(), x.sum(1), x.sum((0, 2), keepdim=True), x.sum(-1, dtype=torch.float64)),
    "mean": lambda x: (x.mean(), x.mean(-1), x.mean((1, 2), keepdim=True)),
    "prod": lambda x: (x.prod(), x.prod(1), x.prod(2, keepdim=True)),
    "amax_amin": lambda x: (x.amax(), x.amax((0, 2)), x.amin(1, keepdim=True), x.max(), x.min()),
    "max_min_dim": lambda x: (*x.max(1), *x.min(-1, keepdim=True)),
    "argmax_argmin": lambda x: (x.argmax(), x.argmax(1), x.argmin(-1, keepdim=True), x.argmax(keepdim=True)),
    "any_all": lambda x: ((x > 1).any(), (x > 1).any(1), (x > -2).all(), (x > -2).all(-1, keepdim=True),
                          x.any(0)),
    "var_std": lambda x: (x.var(), x.var(1), x.var(-1, unbiased=False, keepdim=True), x.std(), x.std((0, 2)),
                          *torch.var_mean(x, 1, correction=0), *torch.std_mean(x, -1)),
    "logsumexp": lambda x: (torch.logsumexp(x, 1), torch.logsumexp(x * 100, (0, 2), keepdim=True)),
    "norms": lambda x: (x.norm(), x.norm(dim=1), torch.linalg.vector_norm(x, 1, -1),
                        torch.linalg.vector_norm(x, float("inf"), (0, 1)), torch.linalg.vector_norm(x, 3, 1),
                        torch.linalg.vector_norm(x.round(), 0, 2), torch.nn.functional.normalize(x, dim=-1)),
    "cumsum": lambda x: (x.cumsum(1), x.cumsum(-1), torch.cumsum(x > 0, 0)),
    "cumprod": lambda x: (x.cumprod(1), torch.cumprod(x, 0)),
    "count_nonzero": lambda x: (torch.count_nonzero(x.round()), torch.count_nonzero(x.round(), 1)),
    "sort": lambda x: (*x.sort(), *x.sort(1, descending=True), x.argsort(0)),
    "topk": lambda x: (*x.topk(2), *x.topk(3, 1, largest=False), *x.topk(1, 0)),
    "mixed": lambda x: (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-5),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reduction(name):
    check(Fn(CASES[name]), (X,))


INT_CASES = {
    "int_sum_mean": lambda x: (x.sum(), x.sum(1), x.float().mean(0), x.to(torch.int8).sum(-1)),
    "int_max_arg": lambda x: (x.amax(1), *x.max(0), x.argmin(2), x.prod(1)),
    "int_cumsum": lambda x: (x.cumsum(1), x.to(torch.int32).cumsum(0)),
    "int_sort_topk": lambda x: (x.sort(dim=-1, stable=True)[0], x.topk(2, 1)[0]),
}


@pytest.mark.parametrize("name", list(INT_CASES))
def test_int_reduction(name):
    check(Fn(INT_CASES[name]), (I,))


@pytest.mark.parametrize("name", ["sum", "var_std", "max_min_dim", "cumprod", "logsumexp"])
def test_reduction_core_aten(name):
    """The same ops after decomposition to core ATen."""
    check(Fn(CASES[name]), (X,), decompose=True)


def test_bucketize_searchsorted():
    b = torch.tensor([-1.0, -0.2, 0.3, 1.0])
    check(Fn(lambda x, b: (torch.bucketize(x, b), torch.bucketize(x, b, right=True, out_int32=True),
                           torch.searchsorted(b, x))), (X, b))
