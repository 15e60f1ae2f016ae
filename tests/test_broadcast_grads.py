"""Gradients of broadcast operands and of convolution biases: summed over a leading and a trailing block of
axes on the GEMM (kernels.sum_outer_inner), checked against numpy's sums."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn import kernels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,lead,keep", [((64, 32, 8, 8), 1, 1), ((3, 5, 7), 0, 1), ((3, 5, 7), 2, 1),
                                             ((2, 3, 4, 5), 0, 4), ((1, 1, 1), 1, 1), ((7, 1, 9), 1, 1),
                                             ((5, 6, 300), 1, 1)])
def test_sum_outer_inner_equals_numpy(dtype, shape, lead, keep):
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    got = kernels.sum_outer_inner(a, lead, keep)
    axes = tuple(range(lead)) + tuple(range(lead + keep, a.ndim))
    ref = a.astype(np.float64).sum(axis=axes)
    assert got.shape == shape[lead:lead + keep] and got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(a).sum() / max(1, ref.size))


def test_sum_outer_inner_other_layouts_and_empty():
    a = np.random.default_rng(1).standard_normal((4, 6, 5)).astype(np.float32)
    view = a.transpose(2, 1, 0)                 # not contiguous: numpy's sum
    np.testing.assert_allclose(kernels.sum_outer_inner(view, 1, 1), view.sum(axis=(0, 2)), rtol=1e-5)
    empty = np.zeros((0, 3, 4), np.float32)
    assert np.array_equal(kernels.sum_outer_inner(empty, 1, 1), np.zeros(3, np.float32))
    ints = np.arange(24).reshape(2, 3, 4)
    assert np.array_equal(kernels.sum_outer_inner(ints, 1, 1), ints.sum(axis=(0, 2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("other", [(6, 1, 1), (1, 6, 1, 1), (4, 6, 1, 1), (5,), (1, 1, 1, 5), (4, 1, 3, 5), (1,)])
def test_broadcast_operand_gradients(dtype, other):
    rng = np.random.default_rng(2)
    x = fastnn.tensor(rng.standard_normal((4, 6, 3, 5)).astype(dtype), requires_grad=True)
    b = fastnn.tensor(rng.standard_normal(other).astype(dtype), requires_grad=True)
    g = rng.standard_normal((4, 6, 3, 5)).astype(dtype)
    (x * 2 + b).backward(fastnn.tensor(g))
    ndim_extra = g.ndim - len(other)
    axes = tuple(range(ndim_extra)) + tuple(i + ndim_extra for i, s in enumerate(other) if s == 1)
    ref = g.astype(np.float64).sum(axis=axes).reshape(other)
    assert b.grad.shape == other and b.grad.dtype == x.dtype
    np.testing.assert_allclose(b.grad.numpy(), ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_broadcast_gradient_of_gradient_stays_differentiable():
    x = fastnn.tensor(np.random.default_rng(3).standard_normal((2, 3, 4)), requires_grad=True)
    b = fastnn.tensor(np.random.default_rng(4).standard_normal((3, 1)), requires_grad=True)
    (gb,) = fastnn.autograd.grad(((x * b) ** 2).sum(), (b,), create_graph=True)
    gb.sum().backward()
    # d/db of sum over (i, k) of 2 x^2 b: 2 * sum x^2 per row of b
    np.testing.assert_allclose(b.grad.numpy(), 2 * (x.detach().numpy() ** 2).sum(axis=(0, 2))[:, None], rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_bias_gradient(dtype):
    rng = np.random.default_rng(5)
    x = fastnn.tensor(rng.standard_normal((3, 4, 6, 6)).astype(dtype), requires_grad=True)
    w = fastnn.tensor(rng.standard_normal((5, 4, 3, 3)).astype(dtype), requires_grad=True)
    bias = fastnn.tensor(rng.standard_normal(5).astype(dtype), requires_grad=True)
    y = F.conv2d(x, w, bias, padding=1)
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(fastnn.tensor(g))
    np.testing.assert_allclose(bias.grad.numpy(), g.astype(np.float64).sum(axis=(0, 2, 3)),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
    # through a non-contiguous gradient (numpy's sum) the same values
    x.grad = w.grad = bias.grad = None
    y = F.conv2d(x, w, bias, padding=1)
    gt = np.ascontiguousarray(g.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    y.backward(fastnn.tensor(gt))
    np.testing.assert_allclose(bias.grad.numpy(), g.astype(np.float64).sum(axis=(0, 2, 3)),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_sum_outer_inner_without_a_sum_is_a_copy():
    a = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
    got = kernels.sum_outer_inner(a, 1, 1)
    assert not np.shares_memory(got, a) and np.array_equal(got, a.ravel())


@pytest.mark.parametrize("rows", [3, 300])
def test_linear_bias_gradient(rows):
    rng = np.random.default_rng(6)
    x = fastnn.tensor(rng.standard_normal((rows, 7)).astype(np.float32), requires_grad=True)
    lin = fastnn.nn.Linear(7, 5)
    g = rng.standard_normal((rows, 5)).astype(np.float32)
    lin(x).backward(fastnn.tensor(g))
    np.testing.assert_allclose(lin.bias.grad.numpy(), g.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)


def test_sum_outer_inner_bad_axes_name_the_arguments():
    with pytest.raises(ValueError, match="'lead' .* and 'keep'"):
        kernels.sum_outer_inner(np.ones((2, 3), np.float32), 2, 1)
    with pytest.raises(ValueError, match="'lead'"):
        kernels.sum_outer_inner(np.ones((2, 3), np.float32), -1, 1)
