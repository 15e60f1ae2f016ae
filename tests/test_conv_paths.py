"""conv2d kernel paths that only some shapes reach, against PyTorch: the forward's tap blocking (blocks
larger than L1: many channels), the adjoint input-gradient (small outputs, padding beyond dil*(K-1)),
per-row and split (half-vector) position vectors (outputs narrower than the padded rows or than a
vector), rows around one and two vectors of 16 lanes, and the weight-gradient's grouping of small
images, kernels covering the whole input (one GEMM over the batch), output channels in the vectors (small
strided outputs), each under every algorithm and CPU
path."""

import numpy as np
import pytest

from fastnn import _C, kernels

torch = pytest.importorskip("torch")

# (N, C, H, W, OC, KH, KW, stride, pad, dil, groups)
CASES = [
    (2, 37, 20, 19, 9, 3, 3, (2, 2), (1, 1), (1, 1), 1),   # tap blocking, partial last group, stride 2
    (1, 40, 15, 17, 6, 3, 3, (1, 1), (1, 1), (1, 1), 1),   # tap blocking, stride 1, 6-channel tiles
    (3, 6, 12, 12, 16, 5, 5, (1, 1), (0, 0), (1, 1), 1),   # LeNet conv2: row vectors, adjoint, image groups
    (2, 3, 7, 6, 4, 3, 3, (1, 1), (3, 2), (1, 1), 1),      # padding beyond K - 1: adjoint only
    (2, 5, 9, 11, 7, 3, 3, (1, 1), (4, 1), (2, 2), 1),     # dilation, padding beyond dil * (K - 1)
    (1, 1, 5, 5, 1, 5, 5, (1, 1), (2, 2), (1, 1), 1),      # one channel, 1 x 1 output rows of 5
    (40, 4, 9, 9, 6, 3, 3, (1, 1), (0, 0), (1, 1), 2),     # groups; 7 x 7 outputs, many small images
    (2, 3, 9, 33, 5, 3, 3, (1, 1), (1, 1), (1, 1), 1),     # 33 columns: two vectors of 16 and one more
    (2, 4, 7, 31, 6, 3, 3, (2, 2), (1, 1), (1, 1), 1),     # stride 2 to 16 columns
    (1, 2, 6, 17, 9, 3, 3, (1, 1), (0, 0), (1, 1), 1),     # 15 columns, 9 channels: remainder tiles
    (2, 4, 5, 35, 4, 3, 3, (1, 2), (1, 1), (1, 2), 2),     # groups, dilation and stride 2 along W only
    (3, 5, 12, 8, 7, 3, 3, (1, 1), (1, 1), (1, 1), 1),     # 8 columns: split vectors of 16 lanes
    (4, 3, 10, 6, 8, 3, 3, (1, 1), (0, 0), (1, 1), 1),     # 4 columns in 6: split vectors of 8 lanes
    (2, 2, 9, 4, 5, 3, 3, (1, 1), (0, 0), (1, 1), 1),      # 2 columns in 4: split vectors of 4 lanes
    (2, 2, 6, 64, 3, 1, 7, (1, 1), (0, 3), (1, 1), 1),     # 1 x 7 kernel over 64 columns
    (1, 2, 5, 71, 3, 3, 3, (2, 2), (1, 1), (1, 1), 1),     # stride 2 to 36 columns: vector stride-2 gathers
    (5, 6, 7, 7, 8, 7, 7, (1, 1), (0, 0), (1, 1), 1),      # kernel = whole input: one GEMM over the batch
    (3, 4, 4, 5, 6, 4, 5, (2, 3), (0, 0), (1, 1), 2),      # whole input, groups, strides that do not matter
    (2, 3, 1, 9, 5, 1, 9, (1, 1), (0, 0), (2, 1), 1),      # whole input: one-row kernel, row dilation unused
    (1, 1, 1, 1, 1, 1, 1, (1, 1), (0, 0), (1, 1), 1),      # 1 x 1 everything
    (2, 3, 6, 6, 4, 6, 6, (1, 1), (1, 1), (1, 1), 1),      # kernel the size of the input but padded: 3 x 3
    (3, 8, 14, 14, 32, 4, 4, (2, 2), (1, 1), (1, 1), 1),   # DCGAN critic 14 -> 7: output channels in vectors
    (2, 16, 9, 11, 40, 3, 3, (2, 2), (1, 1), (1, 1), 2),   # the same with groups, 20 channels a group
    (5, 16, 7, 7, 17, 3, 3, (2, 2), (1, 1), (1, 1), 1),    # 4 x 4 outputs, 17 channels: partial vectors
    (7, 20, 5, 5, 48, 4, 4, (2, 2), (2, 1), (1, 1), 1),    # 3 x 2 outputs: row tiles shorter than 6
    (3, 8, 12, 12, 16, 3, 3, (2, 2), (2, 2), (2, 2), 1),   # channels form with dilation and stride
    (2, 8, 10, 9, 16, 3, 3, (1, 1), (2, 1), (2, 2), 1),    # channels form, dilation, stride 1
    (2, 80, 4, 4, 24, 3, 3, (1, 1), (1, 1), (1, 1), 1),    # channels form, 720 taps in two passes
    (3, 40, 8, 8, 32, 3, 3, (1, 1), (1, 1), (1, 1), 1),    # 8 x 8 split outputs: weight gradient in channels form
    (2, 32, 8, 8, 320, 3, 3, (2, 2), (1, 1), (1, 1), 1),   # input gradient in channels form, passes per phase
]


@pytest.mark.parametrize("algo", ["auto", "im2col", "direct"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_paths_match_torch(case, dtype, algo, cpu_path):
    n, c, h, wd, oc, kh, kw, stride, pad, dil, groups = case
    rng = np.random.default_rng(sum(case[:7]))
    x = rng.standard_normal((n, c, h, wd)).astype(dtype)
    w = rng.standard_normal((oc, c // groups, kh, kw)).astype(dtype)
    tx, tw = torch.tensor(x), torch.tensor(w)
    ty = torch.nn.functional.conv2d(tx, tw, None, stride, pad, dil, groups)
    dy = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    gx, gw, _ = torch.ops.aten.convolution_backward(torch.tensor(dy), tx, tw, None, stride, pad, dil, False, (0, 0),
                                                    groups, (True, True, False))
    _C.set_conv_algorithm(algo)
    try:
        y = kernels.conv2d(x, w, None, stride, (pad[0], pad[0], pad[1], pad[1]), dil, groups)
        dx = kernels.conv2d_backward_input(dy, w, (h, wd), stride, pad, dil, groups)
        dw = kernels.conv2d_backward_weight(x, dy, (kh, kw), stride, pad, dil, groups)
    finally:
        _C.set_conv_algorithm("auto")
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y, ty.numpy(), **tol)
    np.testing.assert_allclose(dx, gx.numpy(), **tol)
    np.testing.assert_allclose(dw, gw.numpy(), **tol)


@pytest.mark.parametrize("threads", [1, 2])
def test_dcgan_shapes_threads_match_torch(threads):
    # Batches large enough to be split between threads: the channels form's per-thread weight-gradient
    # sums and the whole-input GEMM path, on a DCGAN critic's and generator's shapes.
    import fastnn
    old = fastnn.get_num_threads()
    fastnn.set_num_threads(threads)
    try:
        rng = np.random.default_rng(threads)
        for n, c, h, oc, k, s, p in ((24, 32, 14, 48, 4, 2, 1), (20, 48, 7, 24, 7, 1, 0), (18, 16, 28, 32, 4, 2, 1)):
            x = rng.standard_normal((n, c, h, h))
            w = rng.standard_normal((oc, c, k, k))
            tx, tw = torch.tensor(x), torch.tensor(w)
            ty = torch.nn.functional.conv2d(tx, tw, None, s, p)
            dy = rng.standard_normal(tuple(ty.shape))
            gx, gw, _ = torch.ops.aten.convolution_backward(torch.tensor(dy), tx, tw, None, (s, s), (p, p), (1, 1),
                                                            False, (0, 0), 1, (True, True, False))
            tol = dict(rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(kernels.conv2d(x, w, None, (s, s), (p, p, p, p)), ty.numpy(), **tol)
            np.testing.assert_allclose(kernels.conv2d_backward_input(dy, w, (h, h), (s, s), (p, p)), gx.numpy(), **tol)
            np.testing.assert_allclose(kernels.conv2d_backward_weight(x, dy, (k, k), (s, s), (p, p)), gw.numpy(),
                                       **tol)
    finally:
        fastnn.set_num_threads(old)


@pytest.mark.parametrize("algo", ["auto", "im2col", "direct"])
def test_input_gradient_of_larger_dy_with_whole_input_kernel(algo):
    # The kernel covers the whole 3 x 3 input, but dy is 2 x 3 (as after output_padding): its extra
    # positions read only outside the input, so this is not the one-GEMM case.
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3, 3, 3))
    dy = rng.standard_normal((2, 4, 2, 3))
    x = torch.zeros(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    (torch.nn.functional.conv2d(x, torch.tensor(w)) * torch.tensor(dy)).sum().backward()
    _C.set_conv_algorithm(algo)
    try:
        dx = kernels.conv2d_backward_input(dy, w, (3, 3), (1, 1), (0, 0))
    finally:
        _C.set_conv_algorithm("auto")
    np.testing.assert_allclose(dx, x.grad[:, :, :3, :3].numpy(), rtol=1e-12, atol=1e-12)
