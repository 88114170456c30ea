"""Matrix products, einsum, linear layers, distances: nnex and onnxruntime vs PyTorch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch_check import Fn, check, op_types

g = torch.Generator().manual_seed(8)
A, B = torch.randn(2, 3, 4, generator=g), torch.randn(2, 4, 5, generator=g)

CASES = {
    "matmul": lambda a, b: (a @ b, a[0] @ b[0], a[0, 0] @ b[0], a @ b[0, :, 0], torch.matmul(a[:, None], b[None])),
    "mm_bmm": lambda a, b: (torch.mm(a[0], b[0]), torch.bmm(a, b), torch.mv(a[0], b[0, :, 0]),
                            torch.dot(a[0, 0], b[0, :, 0])),
    "addmm_baddbmm": lambda a, b: (torch.addmm(b[0, 0], a[0], b[0], beta=0.5, alpha=2.0),
                                   torch.baddbmm(a @ b, a, b, beta=0.3, alpha=1.5), torch.addbmm(b[0, 0], a, b)),
    "einsum": lambda a, b: (torch.einsum("bij,bjk->bik", a, b), torch.einsum("bij->bj", a),
                            torch.einsum("...ij,...jk", a, b), torch.einsum("bij,bij->b", a, a),
                            torch.einsum("i,j->ij", a[0, 0], b[0, 0])),
    "cdist": lambda a, b: (torch.cdist(a, a + 1), torch.cdist(a, a * 2, p=1)),
    "int_matmul": lambda a, b: (a * 10).long() @ (b * 10).long(),
}


@pytest.mark.parametrize("name", list(CASES))
def test_linalg(name):
    check(Fn(CASES[name]), (A, B))


@pytest.mark.parametrize("name", ["matmul", "einsum", "addmm_baddbmm"])
def test_linalg_core_aten(name):
    check(Fn(CASES[name]), (A, B), decompose=True)


def test_linear_layers():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3, bias=False),
                            torch.nn.Bilinear(3, 3, 2))

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, x):
            h = self.m[2](self.m[1](self.m[0](x)))
            return self.m[3](h, h), self.m[0](x[0])

    proto = check(M(), (A,))
    assert "MatMul" in op_types(proto) or "Gemm" in op_types(proto)
