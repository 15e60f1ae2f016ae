"""The op registry (OpInfo-like): every entry is checked against numpy and PyTorch on shapes that include
0-size, 1, primes, broadcasting and non-contiguous inputs, gradient-checked in float64 (finite
differences), compared with PyTorch's gradients, and gradgrad-checked when it lies on a GAN-critic path."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pytest

import fastnn
from fastnn import _ops_math
from fastnn.autograd import gradcheck, gradgradcheck

try:
    import torch as _torch
except ImportError:  # the numpy references still run
    _torch = None


@dataclass
class OpCase:
    name: str
    fn: Callable                       # fn(module, *tensors): module is fastnn or torch
    ref: Optional[Callable] = None     # numpy reference on float64 arrays
    shapes: list = field(default_factory=list)   # list of tuples of input shapes
    domain: str = "normal"
    grad: bool = True
    gradgrad: bool = False
    torch_fn: Optional[Callable] = None          # when the torch spelling differs
    atol32: float = 1e-5
    rtol32: float = 1e-4
    noncontig: bool = True             # also run on non-contiguous inputs
    keeps_dtype: bool = True           # float outputs have the inputs' dtype

    def torch_call(self, *xs):
        return (self.torch_fn or self.fn)(_torch, *xs)


UNARY = [(), (0,), (1,), (7,), (3, 5), (2, 3, 5)]
UNARY_SMALL = [(), (1,), (7,), (3, 5)]
BINARY = [((3, 5), (3, 5)), ((3, 1), (1, 5)), ((5,), (3, 5)), ((0, 3), (1, 3)), ((2, 1, 3), (4, 1)), ((), (3,)),
          ((7,), ())]
REDUCE = [(7,), (3, 5), (2, 3, 5), (1, 1)]


def _draw(rng, shape, domain):
    return np.asarray(_draw_raw(rng, shape, domain))


def _draw_raw(rng, shape, domain):
    if domain == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "prob":
        return rng.uniform(0.1, 0.9, shape)
    if domain == "unit":
        return rng.uniform(-0.9, 0.9, shape)
    if domain == "gt1":
        return rng.uniform(1.2, 3.0, shape)
    if domain == "nonzero":
        return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == "wide":
        return rng.uniform(-40.0, 40.0, shape)
    if domain == "distinct":
        n = int(np.prod(shape))
        return (rng.permutation(n).astype(np.float64) * 0.37 - n * 0.15 + rng.uniform(0, 0.1, n)).reshape(shape)
    return rng.standard_normal(shape)


def _noncontig(a):
    """The same values in a non-contiguous layout (transposed storage, or a strided slice)."""
    if a.ndim >= 2:
        return np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)
    if a.ndim == 1:
        big = np.zeros(a.shape[0] * 2, dtype=a.dtype)
        big[::2] = a
        return big[::2]
    return a


def _inputs(case, shapes, dtype, noncontig, seed=0):
    rng = np.random.default_rng(seed)
    arrs = [_draw(rng, s, case.domain).astype(dtype) for s in shapes]
    if noncontig:
        arrs = [_noncontig(a) for a in arrs]
    return arrs


def _fastnn_inputs(arrs, requires_grad=False):
    return [fastnn.from_numpy(a).requires_grad_(requires_grad) for a in arrs]


def _as_np(out):
    if isinstance(out, (tuple, list)):
        return [_as_np(o) for o in out]
    return np.asarray(out.detach()._data if hasattr(out, "_data") else out.detach().numpy())


def _first(out):
    if isinstance(out, (tuple, list)):
        return [o for o in out]
    return [out]


S = lambda *shapes: [tuple(shapes)]  # noqa: E731


OPS = [
    # ---- element-wise unary
    OpCase("exp", lambda m, x: m.exp(x), np.exp, [(s,) for s in UNARY], gradgrad=True),
    OpCase("log", lambda m, x: x.log(), np.log, [(s,) for s in UNARY], domain="pos"),
    OpCase("log1p", lambda m, x: m.log1p(x), np.log1p, [(s,) for s in UNARY], domain="pos"),
    OpCase("log2", lambda m, x: m.log2(x), np.log2, [(s,) for s in UNARY_SMALL], domain="pos"),
    OpCase("log10", lambda m, x: m.log10(x), np.log10, [(s,) for s in UNARY_SMALL], domain="pos"),
    OpCase("expm1", lambda m, x: m.expm1(x), np.expm1, [(s,) for s in UNARY_SMALL]),
    OpCase("sqrt", lambda m, x: m.sqrt(x), np.sqrt, [(s,) for s in UNARY], domain="pos", gradgrad=True),
    OpCase("rsqrt", lambda m, x: m.rsqrt(x), lambda x: 1 / np.sqrt(x), [(s,) for s in UNARY_SMALL], domain="pos"),
    OpCase("sin", lambda m, x: m.sin(x), np.sin, [(s,) for s in UNARY_SMALL]),
    OpCase("cos", lambda m, x: x.cos(), np.cos, [(s,) for s in UNARY_SMALL]),
    OpCase("tan", lambda m, x: m.tan(x), np.tan, [(s,) for s in UNARY_SMALL], domain="unit"),
    OpCase("asin", lambda m, x: m.asin(x), np.arcsin, [(s,) for s in UNARY_SMALL], domain="unit"),
    OpCase("acos", lambda m, x: m.acos(x), np.arccos, [(s,) for s in UNARY_SMALL], domain="unit"),
    OpCase("atan", lambda m, x: m.atan(x), np.arctan, [(s,) for s in UNARY_SMALL]),
    OpCase("sinh", lambda m, x: m.sinh(x), np.sinh, [(s,) for s in UNARY_SMALL]),
    OpCase("cosh", lambda m, x: m.cosh(x), np.cosh, [(s,) for s in UNARY_SMALL]),
    OpCase("tanh", lambda m, x: m.tanh(x), np.tanh, [(s,) for s in UNARY], gradgrad=True),
    OpCase("asinh", lambda m, x: m.asinh(x), np.arcsinh, [(s,) for s in UNARY_SMALL]),
    OpCase("acosh", lambda m, x: m.acosh(x), np.arccosh, [(s,) for s in UNARY_SMALL], domain="gt1"),
    OpCase("atanh", lambda m, x: m.atanh(x), np.arctanh, [(s,) for s in UNARY_SMALL], domain="unit"),
    OpCase("reciprocal", lambda m, x: m.reciprocal(x), lambda x: 1 / x, [(s,) for s in UNARY_SMALL],
           domain="nonzero"),
    OpCase("square", lambda m, x: m.square(x), np.square, [(s,) for s in UNARY_SMALL], gradgrad=True),
    OpCase("neg", lambda m, x: -x, np.negative, [(s,) for s in UNARY]),
    OpCase("abs", lambda m, x: m.abs(x), np.abs, [(s,) for s in UNARY], domain="nonzero", gradgrad=True),
    OpCase("sigmoid", lambda m, x: m.sigmoid(x), lambda x: 1 / (1 + np.exp(-x)), [(s,) for s in UNARY],
           gradgrad=True),
    OpCase("sigmoid_wide", lambda m, x: m.sigmoid(x), lambda x: np.exp(-np.logaddexp(0, -x)),
           [(s,) for s in UNARY_SMALL], domain="wide"),
    OpCase("relu", lambda m, x: m.relu(x), lambda x: np.maximum(x, 0), [(s,) for s in UNARY], domain="nonzero",
           gradgrad=True),
    OpCase("erf", lambda m, x: m.erf(x), np.vectorize(math.erf, otypes=[float]), [(s,) for s in UNARY] + [((40,),)],
           domain="normal", gradgrad=True),
    OpCase("erf_wide", lambda m, x: m.erf(x), np.vectorize(math.erf, otypes=[float]), [((64,),)], domain="wide", grad=False),
    OpCase("erfc", lambda m, x: m.erfc(x), np.vectorize(math.erfc, otypes=[float]), [(s,) for s in UNARY_SMALL]),
    OpCase("logsigmoid", lambda m, x: _ops_math.logsigmoid(x) if m is fastnn else _torch.nn.functional.logsigmoid(x),
           lambda x: -np.logaddexp(0, -x), [(s,) for s in UNARY_SMALL] + [((9,),)], gradgrad=True),
    OpCase("softplus", lambda m, x: _ops_math.softplus(x, 2.0, 5.0) if m is fastnn
           else _torch.nn.functional.softplus(x, 2.0, 5.0), None, [(s,) for s in UNARY_SMALL]),
    OpCase("leaky_relu", lambda m, x: _ops_math.leaky_relu(x, 0.2) if m is fastnn
           else _torch.nn.functional.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
           [(s,) for s in UNARY_SMALL], domain="nonzero", gradgrad=True),
    OpCase("elu", lambda m, x: _ops_math.elu(x, 1.3) if m is fastnn else _torch.nn.functional.elu(x, 1.3),
           lambda x: np.where(x > 0, x, 1.3 * np.expm1(x)), [(s,) for s in UNARY_SMALL], domain="nonzero",
           gradgrad=True),
    OpCase("selu", lambda m, x: m.selu(x), None, [(s,) for s in UNARY_SMALL], domain="nonzero"),
    OpCase("gelu", lambda m, x: _ops_math.gelu(x) if m is fastnn else _torch.nn.functional.gelu(x),
           lambda x: 0.5 * x * (1 + np.vectorize(math.erf, otypes=[float])(x / math.sqrt(2))), [(s,) for s in UNARY_SMALL],
           gradgrad=True),
    OpCase("gelu_tanh", lambda m, x: _ops_math.gelu(x, "tanh") if m is fastnn
           else _torch.nn.functional.gelu(x, approximate="tanh"), None, [(s,) for s in UNARY_SMALL]),
    OpCase("silu", lambda m, x: _ops_math.silu(x) if m is fastnn else _torch.nn.functional.silu(x),
           lambda x: x / (1 + np.exp(-x)), [(s,) for s in UNARY_SMALL], gradgrad=True),
    OpCase("hardtanh", lambda m, x: _ops_math.hardtanh(x, -0.5, 0.7) if m is fastnn
           else _torch.nn.functional.hardtanh(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7),
           [(s,) for s in UNARY_SMALL]),
    OpCase("clamp", lambda m, x: m.clamp(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), [(s,) for s in UNARY]),
    OpCase("clamp_min", lambda m, x: x.clamp(min=0.1), lambda x: np.maximum(x, 0.1), [(s,) for s in UNARY_SMALL]),
    OpCase("clamp_tensor", lambda m, x, lo: m.clamp(x, min=lo), lambda x, lo: np.maximum(x, lo),
           [((3, 5), (5,)), ((4,), ())]),
    OpCase("pow_scalar", lambda m, x: x ** 3, lambda x: x ** 3, [(s,) for s in UNARY], gradgrad=True),
    OpCase("pow_frac", lambda m, x: m.pow(x, 1.7), lambda x: x ** 1.7, [(s,) for s in UNARY_SMALL], domain="pos",
           gradgrad=True),
    OpCase("pow_2", lambda m, x: x ** 2, lambda x: x ** 2, [(s,) for s in UNARY_SMALL], gradgrad=True),
    OpCase("rpow", lambda m, x: 2.5 ** x, lambda x: 2.5 ** x, [(s,) for s in UNARY_SMALL], gradgrad=True),
    OpCase("floor", lambda m, x: m.floor(x), np.floor, [(s,) for s in UNARY_SMALL], grad=False),
    OpCase("ceil", lambda m, x: m.ceil(x), np.ceil, [(s,) for s in UNARY_SMALL], grad=False),
    OpCase("round", lambda m, x: m.round(x), np.round, [(s,) for s in UNARY_SMALL], grad=False),
    OpCase("sign", lambda m, x: m.sign(x), np.sign, [(s,) for s in UNARY_SMALL], grad=False),
    OpCase("frac", lambda m, x: m.frac(x * 3), lambda x: np.modf(x * 3)[0], [(s,) for s in UNARY_SMALL]),
    # ---- element-wise binary (broadcasting)
    OpCase("add", lambda m, x, y: x + y, np.add, BINARY, gradgrad=True),
    OpCase("add_alpha", lambda m, x, y: m.add(x, y, alpha=2.5), lambda x, y: x + 2.5 * y, BINARY[:3]),
    OpCase("radd", lambda m, x: 1.5 + x, lambda x: 1.5 + x, [(s,) for s in UNARY_SMALL]),
    OpCase("sub", lambda m, x, y: x - y, np.subtract, BINARY, gradgrad=True),
    OpCase("rsub", lambda m, x: 1.5 - x, lambda x: 1.5 - x, [(s,) for s in UNARY_SMALL]),
    OpCase("mul", lambda m, x, y: x * y, np.multiply, BINARY, gradgrad=True),
    OpCase("mul_scalar", lambda m, x: x * 0.3, lambda x: x * 0.3, [(s,) for s in UNARY]),
    OpCase("div", lambda m, x, y: x / y, np.divide, BINARY, domain="nonzero", gradgrad=True),
    OpCase("rdiv", lambda m, x: 2.0 / x, lambda x: 2.0 / x, [(s,) for s in UNARY_SMALL], domain="nonzero"),
    OpCase("pow_tensor", lambda m, x, y: x ** y, np.power, BINARY[:3], domain="pos", gradgrad=True),
    OpCase("maximum", lambda m, x, y: m.maximum(x, y), np.maximum, BINARY),
    OpCase("minimum", lambda m, x, y: m.minimum(x, y), np.minimum, BINARY),
    OpCase("atan2", lambda m, x, y: m.atan2(x, y), np.arctan2, BINARY[:3], domain="nonzero"),
    OpCase("remainder", lambda m, x: m.remainder(x, 0.7), lambda x: np.mod(x, 0.7), [((3, 5),)]),
    OpCase("where", lambda m, x, y: m.where(x > 0, x, y), lambda x, y: np.where(x > 0, x, y), BINARY[:3],
           domain="nonzero"),
    OpCase("where_scalar", lambda m, x: m.where(x > 0, x, 0.0), lambda x: np.where(x > 0, x, 0.0),
           [((3, 5),)], domain="nonzero"),
    OpCase("masked_fill", lambda m, x: x.masked_fill(x < 0, -1.0), lambda x: np.where(x < 0, -1.0, x),
           [((3, 5),), ((7,),)], domain="nonzero"),
    OpCase("lerp", lambda m, x, y: m.lerp(x, y, 0.3), lambda x, y: x + 0.3 * (y - x), BINARY[:2]),
    OpCase("outer", lambda m, x, y: m.outer(x, y), np.outer, [((3,), (5,)), ((1,), (2,))]),
    OpCase("addcmul", lambda m, x, y, z: m.addcmul(x, y, z, value=0.5), lambda x, y, z: x + 0.5 * y * z,
           [((3, 5), (3, 5), (5,))]),
    # ---- matmul
    OpCase("matmul", lambda m, x, y: x @ y, np.matmul,
           [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
            ((2, 1, 3, 4), (3, 4, 2)), ((0, 4), (4, 3)), ((3, 0), (0, 2)), ((1, 1), (1, 1)), ((5, 7), (7, 3))],
           gradgrad=True, atol32=1e-4),
    OpCase("mm", lambda m, x, y: m.mm(x, y), np.matmul, [((3, 4), (4, 5))]),
    OpCase("bmm", lambda m, x, y: m.bmm(x, y), np.matmul, [((2, 3, 4), (2, 4, 5))]),
    OpCase("linear_like", lambda m, x, w, b: x @ w.T + b, lambda x, w, b: x @ w.T + b,
           [((4, 3), (5, 3), (5,))], gradgrad=True),
    OpCase("einsum", lambda m, x, y: m.einsum("bij,bjk->bik", x, y), lambda x, y: np.einsum("bij,bjk->bik", x, y),
           [((2, 3, 4), (2, 4, 5))]),
    OpCase("einsum_reduce", lambda m, x, y: m.einsum("ij,j->i", x, y), lambda x, y: np.einsum("ij,j->i", x, y),
           [((3, 4), (4,))]),
    OpCase("einsum_ellipsis", lambda m, x, y: m.einsum("...ij,...jk->...ik", x, y), np.matmul,
           [((2, 3, 4), (4, 5)), ((2, 2, 3), (2, 3, 2))]),
    OpCase("einsum_attention", lambda m, q, k: m.einsum("bhqd,bhkd->bhqk", q, k),
           lambda q, k: np.einsum("bhqd,bhkd->bhqk", q, k), [((2, 2, 3, 4), (2, 2, 5, 4))]),
    OpCase("einsum_sumout", lambda m, x: m.einsum("ij->j", x), lambda x: x.sum(0), [((3, 4),)]),
    OpCase("einsum_trace", lambda m, x: m.einsum("ii", x), lambda x: np.einsum("ii", x), [((4, 4),), ((1, 1),)],
           gradgrad=True),
    OpCase("einsum_diag", lambda m, x: m.einsum("ii->i", x), lambda x: np.einsum("ii->i", x), [((5, 5),)]),
    OpCase("einsum_repeated_with_operand", lambda m, x, y: m.einsum("iij,jk->ik", x, y),
           lambda x, y: np.einsum("iij,jk->ik", x, y), [((3, 3, 4), (4, 2))], gradgrad=True),
    OpCase("einsum_repeated_three", lambda m, x: m.einsum("iji->j", x), lambda x: np.einsum("iji->j", x),
           [((3, 2, 3),)]),
    # ---- reductions
    OpCase("sum", lambda m, x: x.sum(), np.sum, [(s,) for s in UNARY], gradgrad=True),
    OpCase("sum_dim", lambda m, x: x.sum(-1), lambda x: x.sum(-1), [(s,) for s in REDUCE] + [((0, 3),)],
           gradgrad=True),
    OpCase("sum_dims_keep", lambda m, x: m.sum(x, (0, 2), keepdim=True), lambda x: x.sum((0, 2), keepdims=True),
           [((2, 3, 5),), ((1, 1, 1),)]),
    OpCase("mean", lambda m, x: x.mean(), np.mean, [(s,) for s in UNARY_SMALL], gradgrad=True),
    OpCase("mean_dim", lambda m, x: x.mean(dim=0, keepdim=True), lambda x: x.mean(0, keepdims=True),
           [(s,) for s in REDUCE]),
    OpCase("prod", lambda m, x: x.prod(), np.prod, [(s,) for s in UNARY_SMALL]),
    OpCase("prod_dim", lambda m, x: x.prod(1), lambda x: x.prod(1), [((3, 5),), ((2, 3, 5),)]),
    OpCase("amax", lambda m, x: m.amax(x, dim=(0, 1)), lambda x: x.max((0, 1)), [((3, 5),), ((2, 3, 5),)],
           domain="distinct"),
    OpCase("max", lambda m, x: x.max(), np.max, [(s,) for s in [(), (1,), (7,), (3, 5)]], domain="distinct"),
    OpCase("max_dim", lambda m, x: x.max(dim=1), lambda x: (x.max(1), x.argmax(1)), [((3, 5),), ((2, 3, 5),)],
           domain="distinct"),
    OpCase("min_dim_keep", lambda m, x: m.min(x, 0, keepdim=True),
           lambda x: (x.min(0, keepdims=True), x.argmin(0)[None]), [((3, 5),)], domain="distinct"),
    OpCase("max_binary", lambda m, x, y: m.max(x, y), np.maximum, [((3, 5), (5,))], domain="distinct"),
    OpCase("argmax", lambda m, x: x.argmax(dim=-1), lambda x: x.argmax(-1), [((3, 5),)], domain="distinct",
           grad=False),
    OpCase("argmin", lambda m, x: m.argmin(x), lambda x: x.argmin(), [((3, 5),)], domain="distinct", grad=False),
    OpCase("var", lambda m, x: x.var(), lambda x: x.var(ddof=1), [((7,),), ((3, 5),)], gradgrad=True),
    OpCase("var_dim_biased", lambda m, x: x.var(1, unbiased=False, keepdim=True),
           lambda x: x.var(1, keepdims=True), [((3, 5),), ((2, 3, 5),)], gradgrad=True),
    OpCase("var_correction", lambda m, x: m.var(x, dim=(0, 1), correction=2), lambda x: x.var((0, 1), ddof=2),
           [((3, 5),), ((2, 3, 5),)]),
    OpCase("std", lambda m, x: x.std(dim=0), lambda x: x.std(0, ddof=1), [((3, 5),), ((4,),)], gradgrad=True),
    OpCase("norm", lambda m, x: x.norm(), np.linalg.norm, [((7,),), ((3, 5),)], gradgrad=True),
    OpCase("norm_dim", lambda m, x: m.norm(x, dim=1), lambda x: np.linalg.norm(x, axis=1), [((3, 5),), ((2, 3, 5),)],
           gradgrad=True),
    OpCase("norm_p1", lambda m, x: x.norm(p=1, dim=-1), lambda x: np.abs(x).sum(-1), [((3, 5),)], domain="nonzero"),
    OpCase("norm_p3", lambda m, x: x.norm(p=3), lambda x: (np.abs(x) ** 3).sum() ** (1 / 3), [((3, 5),)],
           domain="nonzero"),
    OpCase("norm_inf", lambda m, x: x.norm(p=float("inf"), dim=0), lambda x: np.abs(x).max(0), [((3, 5),)],
           domain="distinct"),
    OpCase("logsumexp", lambda m, x: m.logsumexp(x, dim=1), lambda x: np.log(np.exp(x).sum(1)),
           [((3, 5),), ((2, 3, 5),), ((1, 1),)], gradgrad=True),
    OpCase("logsumexp_wide", lambda m, x: x.logsumexp(dim=(0, 1), keepdim=True), None, [((3, 5),)], domain="wide"),
    OpCase("softmax", lambda m, x: x.softmax(dim=-1), lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
           [((3, 5),), ((2, 3, 5),), ((7,),), ((0, 4),)], gradgrad=True),
    OpCase("softmax_dim0", lambda m, x: m.softmax(x, 0), lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True),
           [((3, 5),)]),
    OpCase("log_softmax", lambda m, x: m.log_softmax(x, dim=1),
           lambda x: x - np.log(np.exp(x).sum(1, keepdims=True)), [((3, 5),), ((2, 3, 5),)], gradgrad=True),
    OpCase("log_softmax_wide", lambda m, x: m.log_softmax(x, dim=1), None, [((3, 5),)], domain="wide"),
    OpCase("cumsum", lambda m, x: x.cumsum(1), lambda x: x.cumsum(1), [((3, 5),), ((2, 3, 5),)]),
    OpCase("cumprod", lambda m, x: m.cumprod(x, 0), lambda x: x.cumprod(0), [((3, 5),)], domain="nonzero"),
    # ---- shape and indexing
    OpCase("reshape", lambda m, x: x.reshape(5, -1), lambda x: x.reshape(5, -1), [((3, 5),), ((0, 5),)]),
    OpCase("view", lambda m, x: x.view(-1), lambda x: x.reshape(-1), [((3, 5),)], noncontig=False),
    OpCase("flatten", lambda m, x: x.flatten(1), lambda x: x.reshape(x.shape[0], -1), [((2, 3, 5),)]),
    OpCase("permute", lambda m, x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), [((2, 3, 5),)]),
    OpCase("transpose", lambda m, x: x.transpose(0, -1), lambda x: np.swapaxes(x, 0, -1), [((2, 3, 5),)]),
    OpCase("T", lambda m, x: x.T, lambda x: x.T, [((3, 5),)]),
    OpCase("squeeze_unsqueeze", lambda m, x: x.unsqueeze(1).squeeze(), lambda x: x.squeeze(),
           [((3, 1, 5),), ((1,),)]),
    OpCase("expand", lambda m, x: x.expand(4, 3, 5), lambda x: np.broadcast_to(x, (4, 3, 5)),
           [((3, 1),), ((1, 5),), ((5,),)]),
    OpCase("repeat", lambda m, x: x.repeat(2, 1, 3), lambda x: np.tile(x, (2, 1, 3)), [((3, 5),), ((5,),)]),
    OpCase("cat", lambda m, x, y: m.cat([x, y, x], dim=1), lambda x, y: np.concatenate([x, y, x], 1),
           [((3, 5), (3, 2)), ((2, 0), (2, 3))]),
    OpCase("stack", lambda m, x, y: m.stack([x, y], dim=-1), lambda x, y: np.stack([x, y], -1),
           [((3, 5), (3, 5))]),
    OpCase("split", lambda m, x: m.split(x, 2, dim=1), lambda x: np.split(x, [2, 4], 1), [((3, 5),)]),
    OpCase("chunk", lambda m, x: x.chunk(3, 0), lambda x: np.split(x, [3, 6], 0), [((7, 2),)]),
    OpCase("unbind", lambda m, x: x.unbind(1), lambda x: [x[:, i] for i in range(x.shape[1])], [((3, 4),)]),
    OpCase("getitem_basic", lambda m, x: x[1:, None, ::2, -1], lambda x: x[1:, None, ::2, -1], [((3, 5, 2),)]),
    OpCase("getitem_ellipsis", lambda m, x: x[..., 1], lambda x: x[..., 1], [((2, 3, 5),)]),
    OpCase("getitem_repeat_idx", lambda m, x: x[m.tensor([0, 2, 0, 0])], lambda x: x[[0, 2, 0, 0]], [((3, 5),)]),
    OpCase("getitem_two_idx", lambda m, x: x[m.tensor([0, 2, 2]), m.tensor([1, 1, 4])],
           lambda x: x[[0, 2, 2], [1, 1, 4]], [((3, 5),)]),
    OpCase("getitem_mask", lambda m, x: x[x > 0], lambda x: x[x > 0], [((3, 5),)], domain="nonzero"),
    OpCase("index_select", lambda m, x: m.index_select(x, 1, m.tensor([4, 0, 4])), lambda x: x[:, [4, 0, 4]],
           [((3, 5),)]),
    OpCase("gather", lambda m, x: m.gather(x, 1, m.tensor([[0, 2, 2], [1, 0, 0], [4, 4, 4]])),
           lambda x: np.take_along_axis(x, np.array([[0, 2, 2], [1, 0, 0], [4, 4, 4]]), 1), [((3, 5),)]),
    OpCase("scatter_add", lambda m, x, s: x.scatter_add(0, m.tensor([[0, 1, 0], [0, 2, 2]]), s), None,
           [((3, 5), (2, 3))]),
    OpCase("narrow", lambda m, x: x.narrow(1, 1, 3), lambda x: x[:, 1:4], [((3, 5),)]),
    OpCase("flip", lambda m, x: x.flip((0, 1)), lambda x: x[::-1, ::-1], [((3, 5),)]),
    OpCase("roll", lambda m, x: x.roll(2, 1), lambda x: np.roll(x, 2, 1), [((3, 5),)]),
    OpCase("roll_flat", lambda m, x: m.roll(x, -3), lambda x: np.roll(x, -3), [((3, 5),)]),
    OpCase("tril", lambda m, x: x.tril(), np.tril, [((4, 4),), ((3, 5),)]),
    OpCase("triu", lambda m, x: m.triu(x, 1), lambda x: np.triu(x, 1), [((4, 4),)]),
    OpCase("diag_vec", lambda m, x: m.diag(x), np.diag, [((4,),)]),
    OpCase("diag_mat", lambda m, x: m.diag(x, -1), lambda x: np.diag(x, -1), [((4, 5),)]),
    OpCase("diagonal", lambda m, x: x.diagonal(0, 1, 2), lambda x: np.diagonal(x, 0, 1, 2), [((2, 3, 4),)]),
    OpCase("sort", lambda m, x: m.sort(x, dim=1, descending=True).values, lambda x: -np.sort(-x, 1), [((3, 5),)],
           domain="distinct"),
    OpCase("topk", lambda m, x: x.topk(2, dim=1).values, lambda x: -np.sort(-x, 1)[:, :2], [((3, 5),)],
           domain="distinct"),
    OpCase("trace", lambda m, x: m.trace(x), np.trace, [((4, 4),)]),
    OpCase("clone_contiguous", lambda m, x: x.t().contiguous().clone(), lambda x: x.T.copy(), [((3, 5),)]),
    OpCase("index_add", lambda m, x, s: x.index_add(0, m.tensor([2, 0, 2]), s), None, [((3, 4), (3, 4))]),
    OpCase("scatter", lambda m, x, s: x.scatter(1, m.tensor([[1, 0], [3, 2]]), s), None, [((2, 4), (2, 2))]),
    OpCase("take_along_dim", lambda m, x: m.take_along_dim(x, m.tensor([[0], [2], [1]]), 1),
           lambda x: np.take_along_axis(x, np.array([[0], [2], [1]]), 1), [((3, 4),)]),
    OpCase("masked_select", lambda m, x: m.masked_select(x, m.tensor([True, False, True])),
           lambda x: x[:, [0, 2]].reshape(-1), [((2, 3),)]),
    OpCase("diag_embed", lambda m, x: m.diag_embed(x), lambda x: np.stack([np.diag(r) for r in x]), [((2, 3),)]),
    OpCase("kthvalue", lambda m, x: x.kthvalue(2, 1).values, lambda x: np.sort(x, 1)[:, 1], [((3, 5),)],
           domain="distinct"),
    OpCase("median_dim", lambda m, x: x.median(1).values, lambda x: np.sort(x, 1)[:, 2], [((3, 5),)],
           domain="distinct"),
    OpCase("median_all", lambda m, x: x.median(), lambda x: np.sort(x.reshape(-1))[(x.size - 1) // 2],
           [((3, 4),)], domain="distinct"),
    OpCase("cummax", lambda m, x: m.cummax(x, 1), None, [((3, 5),)], domain="distinct"),
    OpCase("cummax_values", lambda m, x: m.cummax(x, 1).values, lambda x: np.maximum.accumulate(x, 1),
           [((3, 5),)], domain="distinct"),
    OpCase("logcumsumexp", lambda m, x: m.logcumsumexp(x, 1), lambda x: np.logaddexp.accumulate(x, 1),
           [((3, 5),)]),
    OpCase("dist", lambda m, x, y: m.dist(x, y), lambda x, y: np.linalg.norm(x - y), [((3, 4), (4,))]),
    OpCase("cdist", lambda m, x, y: m.cdist(x, y), lambda x, y: np.linalg.norm(x[:, None] - y[None], axis=-1),
           [((3, 4), (5, 4))]),
    OpCase("unfold", lambda m, x: x.unfold(1, 3, 2),
           lambda x: np.stack([x[:, i:i + 3] for i in range(0, x.shape[1] - 2, 2)], 1), [((2, 7),)]),
    OpCase("repeat_interleave", lambda m, x: x.repeat_interleave(2, dim=0), lambda x: np.repeat(x, 2, 0),
           [((3, 2),)]),
    OpCase("tile", lambda m, x: x.tile((2,)), lambda x: np.tile(x, 2), [((2, 3),)]),
    OpCase("movedim", lambda m, x: m.movedim(x, 0, 2), lambda x: np.moveaxis(x, 0, 2), [((2, 3, 4),)]),
    OpCase("tensor_split", lambda m, x: m.tensor_split(x, 3, dim=1), lambda x: np.array_split(x, 3, 1),
           [((2, 7),)]),
    OpCase("addmm", lambda m, b, x, y: m.addmm(b, x, y, beta=0.5, alpha=2.0), lambda b, x, y: 0.5 * b + 2 * x @ y,
           [((5,), (3, 4), (4, 5))]),
    OpCase("logaddexp", lambda m, x, y: m.logaddexp(x, y), np.logaddexp, BINARY[:3]),
    OpCase("nan_to_num", lambda m, x: m.nan_to_num(m.log(x)), lambda x: np.nan_to_num(np.log(x)), [((3, 4),)],
           domain="pos"),
    OpCase("mish", lambda m, x: _ops_math.mish(x) if m is fastnn else _torch.nn.functional.mish(x), None,
           [((3, 4),)]),
    OpCase("hardswish", lambda m, x: _ops_math.hardswish(x) if m is fastnn else _torch.nn.functional.hardswish(x),
           None, [((3, 4),)], domain="nonzero"),
    OpCase("diff", lambda m, x: m.diff(x, dim=1), lambda x: np.diff(x, axis=1), [((3, 5),)]),
    OpCase("quantile", lambda m, x: m.quantile(x, 0.3, dim=1), lambda x: np.quantile(x, 0.3, axis=1), [((3, 5),)],
           domain="distinct"),
    OpCase("expm1_log1p", lambda m, x: m.expm1(m.log1p(x)), lambda x: x, [((4,),)], domain="pos"),
    OpCase("abs_dunder", lambda m, x: abs(x) + (+x), lambda x: np.abs(x) + x, [((4,),)], domain="nonzero"),
    OpCase("rmatmul_like", lambda m, x, y: m.matmul(x.T, y.mT), lambda x, y: x.T @ np.swapaxes(y, -1, -2),
           [((4, 3), (2, 5, 4))]),
    OpCase("logit", lambda m, x: m.logit(x), lambda x: np.log(x / (1 - x)), [((3, 4),)], domain="prob"),
    OpCase("xlogy", lambda m, x, y: m.xlogy(x, y), lambda x, y: x * np.log(y), [((3, 4), (3, 4)), ((4,), (3, 4))],
           domain="pos"),
    OpCase("xlogy_zero", lambda m, y: m.xlogy(m.tensor([0.0, 1.0, 2.0], dtype=y.dtype), y),
           lambda y: np.array([0.0, 1.0, 2.0]) * np.log(y), [((3,),)], domain="pos"),
    OpCase("sinc", lambda m, x: m.sinc(x), lambda x: np.sinc(x), [((3, 4),)], domain="nonzero"),
    OpCase("hypot", lambda m, x, y: m.hypot(x, y), np.hypot, BINARY[:3], domain="nonzero"),
    OpCase("cross", lambda m, x, y: m.cross(x, y, dim=1), lambda x, y: np.cross(x, y, axis=1),
           [((4, 3), (4, 3))]),
    OpCase("tensordot", lambda m, x, y: m.tensordot(x, y, dims=([1, 2], [0, 1])),
           lambda x, y: np.tensordot(x, y, axes=([1, 2], [0, 1])), [((2, 3, 4), (3, 4, 5))]),
    OpCase("kron", lambda m, x, y: m.kron(x, y), np.kron, [((2, 3), (3, 2)), ((3,), (2,))]),
    OpCase("take", lambda m, x: m.take(x, m.tensor([[0, 5], [11, 5]])), lambda x: np.take(x, [[0, 5], [11, 5]]),
           [((3, 4),)]),
    OpCase("block_diag", lambda m, x, y: m.block_diag(x, y), None, [((2, 3), (1, 2))]),
    OpCase("column_stack", lambda m, x, y: m.column_stack([x, y]), lambda x, y: np.column_stack([x, y]),
           [((4,), (4, 2))]),
    OpCase("baddbmm", lambda m, b, x, y: m.baddbmm(b, x, y, alpha=0.5), lambda b, x, y: b + 0.5 * x @ y,
           [((2, 3, 5), (2, 3, 4), (2, 4, 5))]),
    OpCase("index_fill", lambda m, x: x.index_fill(1, m.tensor([0, 2]), -1.0), None, [((3, 4),)]),
    OpCase("index_copy", lambda m, x, s: x.index_copy(0, m.tensor([2, 0]), s), None, [((3, 4), (2, 4))]),
    OpCase("sum_to_size", lambda m, x: x.sum_to_size(3, 1), lambda x: x.sum(1, keepdims=True), [((3, 4),)]),
    OpCase("to_double", lambda m, x: x.to(m.float64) * 2, lambda x: x * 2, [((3,),)], keeps_dtype=False),
]

_IDS = [c.name for c in OPS]


def _cases_with_layouts(case):
    for shapes in case.shapes:
        yield shapes, False
        if case.noncontig and any(len(s) >= 1 and np.prod(s) > 1 for s in shapes):
            yield shapes, True


def _check_close(got, exp, atol, rtol, msg):
    got = [np.asarray(g) for g in got]
    exp = [np.asarray(e) for e in exp]
    assert len(got) == len(exp), msg
    for g, e in zip(got, exp):
        assert g.shape == e.shape, f"{msg}: shape {g.shape} != {e.shape}"
        if e.dtype.kind == "f" or g.dtype.kind == "f":
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), atol=atol, rtol=rtol,
                                       err_msg=msg)
        else:
            np.testing.assert_array_equal(g, e, err_msg=msg)


@pytest.mark.parametrize("case", OPS, ids=_IDS)
def test_values_numpy(case):
    if case.ref is None:
        pytest.skip("no numpy reference (checked against torch)")
    for shapes, nc in _cases_with_layouts(case):
        for dtype, atol, rtol in ((np.float64, 1e-10, 1e-9), (np.float32, case.atol32, case.rtol32)):
            arrs = _inputs(case, shapes, dtype, nc)
            exp = case.ref(*[a.astype(np.float64) for a in arrs])
            out = case.fn(fastnn, *_fastnn_inputs(arrs))
            got = _as_np(out)
            exp_l = exp if isinstance(exp, (list, tuple)) else [exp]
            got_l = got if isinstance(got, list) else [got]
            _check_close(got_l, exp_l, atol, rtol, f"{case.name} shapes={shapes} noncontig={nc} dtype={dtype}")
            for o in _first(out) if case.keeps_dtype else []:
                if o.dtype.kind == "f":
                    assert o.dtype == dtype, f"{case.name}: output dtype {o.dtype} != input dtype {dtype}"


@pytest.mark.parametrize("case", OPS, ids=_IDS)
def test_values_and_grads_vs_torch(case, torch):
    for shapes, nc in _cases_with_layouts(case):
        for dtype in (np.float64, np.float32):
            arrs = _inputs(case, shapes, dtype, nc)
            fx = _fastnn_inputs(arrs, case.grad)
            tx = [torch.from_numpy(a.copy()).requires_grad_(case.grad) for a in arrs]
            fo = _first(case.fn(fastnn, *fx))
            to = _first(case.torch_call(*tx))
            msg = f"{case.name} shapes={shapes} noncontig={nc} dtype={dtype}"
            tol = (1e-10, 1e-9) if dtype == np.float64 else (case.atol32, case.rtol32)
            _check_close([_as_np(o) for o in fo], [t.detach().numpy() for t in to], *tol, msg)
            if not case.grad:
                continue
            rng = np.random.default_rng(7)
            fl = 0
            tl = 0
            for f, t in zip(fo, to):
                if not t.dtype.is_floating_point or not t.requires_grad:
                    continue
                w = rng.standard_normal(tuple(t.shape)).astype(dtype)
                fl = fl + (f * fastnn.from_numpy(w)).sum()
                tl = tl + (t * torch.from_numpy(w)).sum()
            if isinstance(tl, int):
                continue
            tg = torch.autograd.grad(tl, tx, allow_unused=True)
            fg = fastnn.autograd.grad(fl, fx, allow_unused=True)
            for i, (a, b) in enumerate(zip(fg, tg)):
                if b is None:
                    assert a is None or np.all(_as_np(a) == 0), f"{msg}: input {i} has a grad, torch has none"
                    continue
                assert a is not None, f"{msg}: no gradient for input {i}"
                assert a.shape == tuple(b.shape)
                _check_close([_as_np(a)], [b.numpy()], *(tol[0] * 10, tol[1] * 10), msg + f" grad {i}")


GRAD_CASES = [c for c in OPS if c.grad]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_gradcheck(case):
    for shapes, nc in _cases_with_layouts(case):
        if any(np.prod(s) > 40 for s in shapes):
            continue
        xs = _fastnn_inputs(_inputs(case, shapes, np.float64, nc), True)
        assert gradcheck(lambda *a: case.fn(fastnn, *a), xs, eps=1e-6, atol=1e-6, rtol=1e-4), case.name


GG_CASES = [c for c in OPS if c.gradgrad]


@pytest.mark.parametrize("case", GG_CASES, ids=[c.name for c in GG_CASES])
def test_gradgradcheck(case):
    for shapes in case.shapes[:3]:
        if any(np.prod(s) > 20 or np.prod(s) == 0 for s in shapes):
            continue
        xs = _fastnn_inputs(_inputs(case, shapes, np.float64, False), True)
        assert gradgradcheck(lambda *a: case.fn(fastnn, *a), xs, eps=1e-6, atol=1e-5, rtol=1e-3), case.name


def _device_values_and_grads(case, arrs, device):
    """Outputs and input gradients of ``case`` computed on ``device`` (tensors the op builds itself land
    there too: the default device), returned as host arrays."""
    prev = fastnn.get_default_device()
    fastnn.set_default_device(device)
    try:
        xs = [fastnn.from_numpy(a.copy()).to(device).requires_grad_(case.grad) for a in arrs]
        outs = _first(case.fn(fastnn, *xs))
        for o in outs:
            assert o.device == fastnn.device(device), f"{case.name}: output on {o.device}, inputs on {device}"
        loss = 0
        rng = np.random.default_rng(7)
        for o in outs:
            if case.grad and o.requires_grad and fastnn.is_floating_point(o):
                loss = loss + (o * fastnn.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype)).sum()
        grads = fastnn.autograd.grad(loss, xs, allow_unused=True) if not isinstance(loss, int) else []
        for g in grads:
            assert g is None or g.device == fastnn.device(device), f"{case.name}: gradient on {g.device}"
        return ([o.detach().cpu().numpy() for o in outs],
                [None if g is None else g.cpu().numpy() for g in grads])
    finally:
        fastnn.set_default_device(prev)


@pytest.mark.gpu
@pytest.mark.skipif(not fastnn.cuda.is_available(), reason="needs a CUDA GPU and cupy")
@pytest.mark.parametrize("case", OPS, ids=_IDS)
def test_values_and_grads_on_cuda_match_cpu(case):
    for shapes, nc in _cases_with_layouts(case):
        for dtype, atol, rtol in ((np.float64, 1e-10, 1e-9), (np.float32, case.atol32, case.rtol32)):
            arrs = _inputs(case, shapes, dtype, nc)
            msg = f"{case.name} shapes={shapes} noncontig={nc} dtype={dtype}"
            cpu_out, cpu_grads = _device_values_and_grads(case, arrs, "cpu")
            gpu_out, gpu_grads = _device_values_and_grads(case, arrs, "cuda")
            _check_close(gpu_out, cpu_out, atol, rtol, msg)
            assert len(gpu_grads) == len(cpu_grads), msg
            for i, (g, c) in enumerate(zip(gpu_grads, cpu_grads)):
                assert (g is None) == (c is None), f"{msg}: gradient {i} present on one device only"
                if c is not None:
                    _check_close([g], [c], atol * 10, rtol * 10, f"{msg} grad {i}")


def test_registry_covers_issue_ops():
    names = {c.name.split("_")[0] for c in OPS}
    for op in ["exp", "log", "log1p", "sqrt", "abs", "pow", "sin", "cos", "tanh", "sigmoid", "relu", "sum", "mean",
               "prod", "max", "min", "var", "std", "norm", "logsumexp", "argmax", "argmin", "cumsum", "softmax",
               "log", "matmul", "reshape", "permute", "transpose", "flatten", "squeeze", "expand", "repeat", "cat",
               "stack", "split", "chunk", "where", "clamp", "gather"]:
        assert op in names, op


# ---------------------------------------------------------------------------- random broadcasting shapes

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


def _np_sum_to(g, shape):
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=5),
       op=st.sampled_from(["add", "sub", "mul", "div", "maximum", "where"]), seed=st.integers(0, 2 ** 16))
def test_broadcasting_random_shapes_values_and_grads(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shapes.input_shapes[0]) * rng.choice([-1.0, 1.0], shapes.input_shapes[0])
    b = rng.uniform(0.5, 2.0, shapes.input_shapes[1]) * rng.choice([-1.0, 1.0], shapes.input_shapes[1])
    fns = {"add": (lambda x, y: x + y, np.add), "sub": (lambda x, y: x - y, np.subtract),
           "mul": (lambda x, y: x * y, np.multiply), "div": (lambda x, y: x / y, np.divide),
           "maximum": (fastnn.maximum, np.maximum),
           "where": (lambda x, y: fastnn.where(x > y, x, y), lambda x, y: np.where(x > y, x, y))}
    f, ref = fns[op]
    x = fastnn.tensor(np.asarray(a), requires_grad=True)
    y = fastnn.tensor(np.asarray(b), requires_grad=True)
    out = f(x, y)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.detach().numpy(), ref(a, b), rtol=1e-12)
    w = rng.standard_normal(shapes.result_shape)
    (out * fastnn.tensor(w)).sum().backward()
    assert x.grad.shape == x.shape and y.grad.shape == y.shape
    if op in ("add", "sub"):
        # the gradient of a broadcast operand is the output gradient summed back to its shape
        np.testing.assert_allclose(x.grad.numpy(), _np_sum_to(w, x.shape), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(y.grad.numpy(), _np_sum_to(w if op == "add" else -w, y.shape), rtol=1e-12,
                                   atol=1e-12)
    if 0 < x.numel() <= 12 and 0 < y.numel() <= 12:
        xs = (fastnn.tensor(np.asarray(a), requires_grad=True), fastnn.tensor(np.asarray(b), requires_grad=True))
        assert gradcheck(f, xs)
