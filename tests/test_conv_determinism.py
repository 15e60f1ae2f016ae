"""Convolution gradients are the same bits on every run at a fixed thread count: an interrupted
training run resumed from its checkpoint then continues exactly as the uninterrupted one."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F


# (transposed, input, weight, stride, padding): the DCGAN generator's and critic's layers, a small
# stride-1 layer and the 1x1 -> 7x7 projection, whose weight gradients are sums over the batch split
# between threads.
SHAPES = [(True, (32, 64, 7, 7), (64, 32, 4, 4), 2, 1),
          (True, (32, 32, 14, 14), (32, 1, 4, 4), 2, 1),
          (True, (32, 50, 1, 1), (50, 16, 7, 7), 1, 0),
          (False, (32, 1, 28, 28), (32, 1, 4, 4), 2, 1),
          (False, (32, 32, 14, 14), (64, 32, 4, 4), 2, 1),
          (False, (16, 3, 9, 9), (24, 3, 3, 3), 1, 1)]


@pytest.fixture
def two_threads():
    before = fastnn.get_num_threads()
    fastnn.set_num_threads(2)
    yield
    fastnn.set_num_threads(before)


@pytest.mark.parametrize("transposed, x_shape, w_shape, stride, padding", SHAPES)
def test_conv_gradients_repeat_bit_for_bit(two_threads, cpu_path, transposed, x_shape, w_shape, stride, padding):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    results = []
    for _ in range(4):
        xt = fastnn.tensor(x, requires_grad=True)
        wt = fastnn.tensor(w, requires_grad=True)
        y = (F.conv_transpose2d(xt, wt, stride=stride, padding=padding) if transposed
             else F.conv2d(xt, wt, stride=stride, padding=padding))
        dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
        y.backward(fastnn.tensor(dy))
        results.append((y.detach().numpy().copy(), xt.grad.numpy().copy(), wt.grad.numpy().copy()))
    for run in results[1:]:
        for name, a, b in zip(("output", "input gradient", "weight gradient"), results[0], run):
            assert np.array_equal(a, b), name
