"""Elementwise ops, type promotion, activations, softmax: nnex and onnxruntime vs PyTorch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from torch_check import Fn, check, op_types

g = torch.Generator().manual_seed(0)


def randn(*s):
    return torch.randn(*s, generator=g)


def randint(lo, hi, *s):
    return torch.randint(lo, hi, s, generator=g)


X = randn(3, 5)
Y = randn(3, 5)
POS = randn(3, 5).abs() + 0.1
I = randint(-20, 20, 3, 5)
J = randint(1, 7, 3, 5) * torch.where(randn(3, 5) > 0, 1, -1)

BINARY = {
    "add_alpha": (lambda a, b: torch.add(a, b, alpha=2.5), (X, Y)),
    "sub_alpha": (lambda a, b: torch.sub(a, b, alpha=0.5), (X, Y)),
    "rsub": (lambda a, b: 1.5 - a * b, (X, Y)),
    "mul_scalar": (lambda a, b: a * 3 + b / 2, (X, Y)),
    "div": (lambda a, b: a / b, (X, POS)),
    "int_true_div": (lambda a, b: a / b, (I, J)),
    "int_floor_div": (lambda a, b: a // b, (I, J)),
    "int_trunc_div": (lambda a, b: torch.div(a, b, rounding_mode="trunc"), (I, J)),
    "float_floor_div": (lambda a, b: torch.div(a, b, rounding_mode="floor"), (X, Y)),
    "float_floor_div_edges": (lambda a, b: (torch.div(a, b, rounding_mode="floor"), a // b, a % b),
                              (torch.tensor([0.3, -0.3, 0.7, -2.0, 1e-8, 5.0, 0.0, -0.0, 3.0]),
                               torch.tensor([0.1, 0.1, -0.1, 0.5, 3.0, -2.5, 2.0, 2.0, 0.0]))),
    "float_trunc_div": (lambda a, b: torch.div(a, b, rounding_mode="trunc"), (X * 5, Y)),
    "int_remainder": (lambda a, b: torch.remainder(a, b), (I, J)),
    "float_remainder": (lambda a, b: torch.remainder(a, b), (X * 5, Y)),
    "int_fmod": (lambda a, b: torch.fmod(a, b), (I, J)),
    "float_fmod": (lambda a, b: torch.fmod(a, b), (X * 5, Y)),
    "pow_tensor": (lambda a, b: torch.pow(a, b), (POS, Y)),
    "pow_scalars": (lambda a, b: a ** 2 + a ** 3 + b.abs() ** 0.5 + 2 ** a, (X, Y)),
    "int_plus_float": (lambda a, b: a + b, (I, X)),
    "int_times_scalar_float": (lambda a, b: a * 0.5 + b, (I, X)),
    "maximum_minimum": (lambda a, b: torch.maximum(a, b) - torch.minimum(a, b), (X, Y)),
    "fmax_fmin_nan": (lambda a, b: (torch.fmax(a.log(), b), torch.fmin(a, b.log())), (X, Y)),
    "atan2": (lambda a, b: torch.atan2(a, b), (X, Y)),
    "hypot": (lambda a, b: torch.hypot(a, b), (X, Y)),
    "copysign": (lambda a, b: torch.copysign(a, b), (X, Y)),
    "lerp": (lambda a, b: torch.lerp(a, b, 0.3), (X, Y)),
    "xlogy": (lambda a, b: torch.xlogy(a, b), (X, POS)),
    "broadcast": (lambda a, b: a[:, None, :] * b[None, :, :1], (X, Y)),
    "compare": (lambda a, b: torch.stack([a < b, a <= b, a > b, a >= b, a == b, a != b]), (X, Y.round())),
    "compare_int_float": (lambda a, b: (a > 2.5) & (b < a), (I, X)),
    "logical": (lambda a, b: torch.logical_xor(a > 0, b > 0) | torch.logical_and(a > 0, b) | ~(a > b), (X, Y)),
    "bitwise": (lambda a, b: (a & b) ^ (a | 3) + (~a), (I, J)),
    "shifts": (lambda a, b: (a << 2) + (a >> 1), (I, J)),
    "where": (lambda a, b: torch.where(a > 0, a, b) + torch.where(b > 0, 1.0, b), (X, Y)),
    "masked_fill": (lambda a, b: a.masked_fill(b > 0, -2.0), (X, Y)),
    "clamp": (lambda a, b: a.clamp(-0.5, 0.5) + a.clamp(min=0.1) + a.clamp(max=b), (X, Y)),
    "clamp_int": (lambda a, b: a.clamp(-3, 4) + b.clamp(min=0), (I, J)),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary(name):
    fn, args = BINARY[name]
    check(Fn(fn), args)


UNARY = {
    "abs": torch.abs, "neg": torch.neg, "exp": torch.exp, "sin": torch.sin, "cos": torch.cos, "tan": torch.tan,
    "tanh": torch.tanh, "sinh": torch.sinh, "cosh": torch.cosh, "atan": torch.atan, "asinh": torch.asinh,
    "erf": torch.erf, "sigmoid": torch.sigmoid, "ceil": torch.ceil, "floor": torch.floor, "round": torch.round,
    "trunc": torch.trunc, "frac": torch.frac, "sign": torch.sign, "square": torch.square,
    "expm1": torch.expm1, "exp2": torch.exp2, "relu": torch.relu,
    "round_decimals": lambda x: torch.round(x * 10, decimals=1),
    "asin_acos": lambda x: torch.asin(x.clamp(-0.9, 0.9)) + torch.acos(x.clamp(-0.9, 0.9)),
    "logs": lambda x: torch.log(x.abs() + 0.1) + torch.log2(x.abs() + 0.1) + torch.log10(x.abs() + 0.1),
    "log1p": lambda x: torch.log1p(x.abs() * 1e-3) + torch.log1p(x.abs()),
    "sqrt_rsqrt": lambda x: torch.sqrt(x.abs()) + torch.rsqrt(x.abs() + 0.1),
    "reciprocal": lambda x: torch.reciprocal(x + 3),
    "atanh_acosh": lambda x: torch.atanh(x.clamp(-0.9, 0.9)) + torch.acosh(x.abs() + 1),
    "isnan_isinf": lambda x: torch.stack([torch.isnan(x / x.round()), torch.isinf(1 / x.round()),
                                          torch.isfinite(1 / x.round())]),
    "nan_to_num": lambda x: torch.nan_to_num(torch.log(x), nan=0.5, posinf=9.0) + torch.nan_to_num(1 / x.round()),
    "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu, "mish": F.mish,
    "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "elu": F.elu, "celu": lambda x: F.celu(x, 0.7),
    "selu": F.selu, "leaky_relu": lambda x: F.leaky_relu(x, 0.2), "relu6": F.relu6,
    "hardtanh": lambda x: F.hardtanh(x, -0.3, 0.4), "softplus": lambda x: F.softplus(x * 20, beta=2, threshold=5),
    "logsigmoid": F.logsigmoid, "softsign": F.softsign, "tanhshrink": F.tanhshrink,
    "hardshrink": lambda x: F.hardshrink(x, 0.4), "softshrink": lambda x: F.softshrink(x, 0.4),
    "threshold": lambda x: F.threshold(x, 0.1, -1.0), "glu": lambda x: F.glu(x[:, :4]),
    "softmax": lambda x: F.softmax(x, dim=0) + F.softmax(x, dim=-1), "log_softmax": lambda x: F.log_softmax(x, 1),
    "logit": lambda x: torch.logit(torch.sigmoid(x)),
    "cast_int": lambda x: (x * 10).to(torch.int32) + (x * 10).long(),
    "cast_bool": lambda x: (x * 3).round().bool(),
    "cast_double_half": lambda x: x.double() * 2 + x.half().float(),
    "inplace": lambda x: x.clone().mul_(2).add_(1).relu_(),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name):
    check(Fn(UNARY[name]), (X * 2,))


def test_prelu_per_channel():
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.PReLU(4))
    with torch.no_grad():
        m[1].weight.copy_(torch.tensor([0.1, 0.2, -0.3, 0.5]))
    check(m, (randn(2, 3, 4, 4),))


def test_softplus_default_threshold():
    check(torch.nn.Softplus(), (randn(4, 6) * 30,))


@pytest.mark.parametrize("opset", [18, 20, 21, 23])
def test_gelu_by_opset(opset):
    proto = check(Fn(F.gelu), (X,), opset=opset)
    assert ("Gelu" in op_types(proto)) == (opset >= 20)
    assert proto.opset_import[0].version == opset


def test_bool_arithmetic_and_sum():
    check(Fn(lambda a, b: ((a > 0) + (b > 0), (a > 0) * (b > 0), (a > 0).sum(), (a > 0).int().sum(1))), (X, Y))
