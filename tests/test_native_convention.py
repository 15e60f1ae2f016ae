"""The one calling convention of the native modules: fastnn._C (host arrays) and fastnn._C_cuda (device
arrays) take the same calls, accept any object describing its memory through the buffer protocol,
``__array_interface__`` or ``__cuda_array_interface__``, refuse the other device's arrays with a
message naming the argument, allocate their outputs themselves (on CUDA from cupy's memory pool), and
compute output sizes with one formula that Python reads too (checked against PyTorch's).

The ``gpu`` tests need a GPU and cupy, or the emulation: ``bash tests/cuda_emu/run_gpu_tests_emulated.sh``.
"""
import numpy as np
import pytest

from fastnn import _C, backend, kernels

HAVE_GPU = backend.cuda_available()


class ArrayInterfaceOnly:
    """Host memory described by __array_interface__ alone (no buffer protocol, not a numpy array)."""

    def __init__(self, a, readonly=False):
        self._a = a     # keeps the memory alive
        self.__array_interface__ = {"shape": a.shape, "typestr": a.dtype.str, "data": (a.ctypes.data, readonly),
                                    "strides": a.strides, "version": 3}


class CudaArrayInterfaceOnly:
    """Device memory described by __cuda_array_interface__ alone (as torch CUDA tensors, numba arrays, ...)."""

    def __init__(self, a):
        self._a = a
        self.__cuda_array_interface__ = dict(a.__cuda_array_interface__)


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------------ host side

def test_objects_with_only_the_array_interface_or_the_buffer_protocol_are_accepted(rng):
    a, b = f32(rng, 2, 5, 7), f32(rng, 2, 7, 3)
    out = np.full((2, 5, 3), np.nan, np.float32)
    _C.gemm(ArrayInterfaceOnly(a), memoryview(b), ArrayInterfaceOnly(out))
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
    x, w = f32(rng, 2, 3, 9, 8), f32(rng, 4, 3, 3, 3)
    y = _C.conv2d_forward(ArrayInterfaceOnly(x[:, :, ::2]), memoryview(w), None, (1, 1), (1, 1, 1, 1))
    assert type(y) is np.ndarray
    np.testing.assert_allclose(y, _C.conv2d_forward(np.ascontiguousarray(x[:, :, ::2]), w, None, (1, 1),
                                                    (1, 1, 1, 1)), rtol=1e-6)
    with pytest.raises(ValueError, match="argument 'out' is read-only"):
        _C.gemm(a, b, ArrayInterfaceOnly(out, readonly=True))
    with pytest.raises(ValueError, match="argument 'out' is read-only"):
        _C.gemm(a, b, memoryview(bytes(out.nbytes)).cast("f", out.shape))


def test_bad_descriptions_name_the_argument():
    class Bad:
        __array_interface__ = {"shape": (2, 3), "typestr": "<f4", "data": (4096, False), "strides": (12,)}
    with pytest.raises(ValueError, match="gemm: argument 'a' has 1 strides for shape \\(2, 3\\)"):
        _C.gemm(Bad(), np.ones((1, 3, 4), np.float32), np.ones((1, 2, 4), np.float32))
    with pytest.raises(TypeError, match="max_pool2d: argument 'input' must be an array .* got int"):
        _C.max_pool2d(3, (2, 2), (2, 2))
    with pytest.raises(TypeError, match="argument 'input' must be float32 or float64, got >f4"):
        _C.max_pool2d(np.ones((1, 1, 4, 4), ">f4"), (2, 2), (2, 2))


def test_device_arrays_are_refused_by_the_cpu_module():
    class Device:
        __cuda_array_interface__ = {"shape": (1, 2, 3), "typestr": "<f4", "data": (4096, False), "strides": None,
                                    "version": 3}
    host = np.ones((1, 3, 4), np.float32)
    with pytest.raises(TypeError, match="gemm: argument 'a' .* is a CUDA array, but fastnn._C runs on host arrays"):
        _C.gemm(Device(), host, np.ones((1, 2, 4), np.float32))
    with pytest.raises(TypeError, match="adaptive_avg_pool2d: argument 'input' .* is a CUDA array"):
        _C.adaptive_avg_pool2d(Device(), (1, 1))


def _torch_conv_hw(torch, hw, k, s, p, d):
    x = torch.zeros((1, 1) + hw)
    return tuple(torch.nn.functional.conv2d(x, torch.zeros((1, 1) + k), stride=s, padding=p, dilation=d).shape[2:])


def _torch_pool_hw(torch, hw, k, s, p, d, ceil_mode):
    x = torch.zeros((1, 1) + hw)
    a = torch.nn.functional.max_pool2d(x, k, s, p, d, ceil_mode).shape[2:]
    if d == (1, 1):
        assert torch.nn.functional.avg_pool2d(x, k, s, p, ceil_mode).shape[2:] == a
    return tuple(a)


def _modules():
    mods = [_C]
    if HAVE_GPU:
        mods.append(backend.kernel_module("cuda"))
    return mods


def test_output_sizes_agree_with_pytorch(torch):
    rng = np.random.default_rng(7)
    conv, pool, tconv = [], [], []
    for _ in range(300):
        hw = tuple(int(v) for v in rng.integers(1, 14, 2))
        k = tuple(int(v) for v in rng.integers(1, 6, 2))
        s = tuple(int(v) for v in rng.integers(1, 5, 2))
        d = tuple(int(v) for v in rng.integers(1, 4, 2))
        p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
        conv.append((hw, k, s, p, d))
        pool.append((hw, k, s, p, d, bool(rng.integers(0, 2))))
        tconv.append((hw, k, s, p, tuple(int(rng.integers(0, min(ss, dd))) for ss, dd in zip(s, d)), d))
    # ceil_mode edge cases: the last window starting in the right padding is dropped (5 -> 3, not 4)
    pool += [((5, 5), (2, 2), (2, 2), (1, 1), (1, 1), True), ((6, 7), (3, 3), (3, 3), (1, 1), (1, 1), True),
             ((4, 4), (2, 2), (3, 3), (0, 0), (1, 1), True), ((1, 1), (1, 1), (2, 2), (0, 0), (1, 1), True),
             ((7, 8), (3, 2), (2, 2), (1, 1), (2, 1), True), ((2, 2), (3, 3), (2, 2), (1, 1), (1, 1), True)]
    checked = 0
    for mod in _modules():
        for hw, k, s, p, d in conv:
            got = mod.conv2d_output_size(hw, k, s, p, d)
            assert got == kernels.conv2d_output_size(hw, k, s, p, d)
            if min(got) >= 1:
                assert got == _torch_conv_hw(torch, hw, k, s, p, d), (hw, k, s, p, d)
                checked += 1
            else:
                with pytest.raises(RuntimeError):
                    _torch_conv_hw(torch, hw, k, s, p, d)
        for hw, k, s, p, d, ceil_mode in pool:
            got = mod.pool2d_output_size(hw, k, s, p, d, ceil_mode)
            assert got == kernels.pool2d_output_size(hw, k, s, p, d, ceil_mode)
            if min(got) >= 1:
                assert got == _torch_pool_hw(torch, hw, k, s, p, d, ceil_mode), (hw, k, s, p, d, ceil_mode)
                checked += 1
        for hw, k, s, p, op, d in tconv:
            got = mod.conv_transpose2d_output_size(hw, k, s, p, op, d)
            assert got == kernels.conv_transpose2d_output_size(hw, k, s, p, op, d)
            if min(got) >= 1:
                x = torch.zeros((1, 1) + hw)
                ref = torch.nn.functional.conv_transpose2d(x, torch.zeros((1, 1) + k), stride=s, padding=p,
                                                           output_padding=op, dilation=d).shape[2:]
                assert got == tuple(ref), (hw, k, s, p, op, d)
                checked += 1
    assert checked > 600
    # asymmetric (top, bottom, left, right) padding: conv2d's own convention
    assert _C.conv2d_output_size((5, 6), (3, 3), (2, 2), (0, 1, 2, 0)) == (2, 3)


def test_output_size_functions_check_their_arguments():
    with pytest.raises(ValueError, match="pool2d_output_size: argument 'stride' must be >= 1"):
        _C.pool2d_output_size((4, 4), (2, 2), (0, 1))
    with pytest.raises(ValueError, match="conv2d_output_size: argument 'padding' must have 2 values .* or 4"):
        _C.conv2d_output_size((4, 4), (2, 2), (1, 1), (1, 1, 1))
    with pytest.raises(TypeError, match="argument 'kernel_size' must contain only ints, got float"):
        _C.conv2d_output_size((4, 4), (2.0, 2))


def test_kernels_package_has_one_file_per_family():
    import pathlib
    files = {p.stem for p in pathlib.Path(kernels.__file__).parent.glob("*.py")} - {"__init__"}
    assert set(_C.families) <= files
    for name in ("matmul", "conv2d", "conv2d_backward_input", "conv2d_backward_weight", "max_pool2d",
                 "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward", "adaptive_avg_pool2d",
                 "adaptive_avg_pool2d_backward", "adaptive_max_pool2d", "upsample2d", "upsample2d_backward",
                 "adam_step", "sgd_step"):
        assert callable(getattr(kernels, name)), name


# ------------------------------------------------------------------ both modules, one call

def _cases(xp):
    """(function name, arguments): one call per function, its arrays made by array module ``xp`` from the same
    draws, so that numpy and cupy give the same call to the two modules; strided views included."""
    rng = np.random.default_rng(5)

    def arr(*shape):
        return xp.asarray(f32(rng, *shape))
    x, w, y = arr(2, 3, 9, 11), arr(4, 3, 3, 3), arr(2, 4, 9, 11)
    xt = arr(2, 9, 11, 3).transpose(0, 3, 1, 2)          # NHWC memory
    pooled = arr(2, 3, 5, 6)
    idx = xp.asarray(_C.max_pool2d(f32(rng, 2, 3, 9, 11), (3, 3), (2, 2), (1, 1))[1])
    return [
        ("gemm", (arr(2, 5, 7), arr(2, 9, 3)[:, 1:8], xp.zeros((2, 5, 3), np.float32), 0.5, 0.0)),
        ("conv2d_forward", (x, w, arr(4), (1, 1), (1, 1, 1, 1), (1, 1), 1)),
        ("conv2d_forward", (xt, w, None, (2, 1), (0, 1, 2, 0), (1, 2), 1)),
        ("conv2d_backward_input", (y, w, (9, 11), (1, 1), (1, 1), (1, 1), 1, arr(3))),
        ("conv2d_backward_weight", (xt, y, (3, 3), (1, 1), (1, 1), (1, 1), 1)),
        ("max_pool2d", (xt, (3, 3), (2, 2), (1, 1), (1, 1), True, True)),
        ("max_pool2d_backward", (pooled, idx, (9, 11))),
        ("avg_pool2d", (x, (2, 3), (2, 2), (1, 1), True, False, None)),
        ("avg_pool2d_backward", (pooled, (9, 11), (2, 2), (2, 2), (1, 1), True, True, 3)),
        ("adaptive_avg_pool2d", (xt, (4, 3))),
        ("adaptive_avg_pool2d_backward", (arr(2, 3, 4, 3), (9, 11))),
        ("adaptive_max_pool2d", (x, (4, 3), True)),
        ("upsample2d", (xt, "bilinear", (13, 17), True, (0.0, 0.0))),
        ("upsample2d_backward", (arr(2, 3, 18, 22), "nearest", (9, 11), False, (2.0, None))),
        ("conv2d_output_size", ((9, 11), (3, 3), (2, 2), (1, 1), (1, 1))),
        ("pool2d_output_size", ((9, 11), (3, 3), (2, 2), (1, 1), (1, 1), True)),
    ]


def _to_host(r):
    return backend.to_device(r, "cpu") if backend.is_cuda_array(r) else r


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU and cupy (or the emulation)")
@pytest.mark.parametrize("case", range(len(_cases(np))))
def test_the_same_call_runs_on_both_modules(case):
    cuda = backend.kernel_module("cuda")
    name, host_args = _cases(np)[case]
    _, dev_args = _cases(backend.cupy_module())[case]
    ref = getattr(_C, name)(*host_args)
    got = getattr(cuda, name)(*dev_args)
    if name == "gemm":      # in place
        ref, got = host_args[2], dev_args[2]
    ref, got = (ref if isinstance(ref, tuple) else (ref,)), (got if isinstance(got, tuple) else (got,))
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        if isinstance(r, np.ndarray):
            assert backend.is_cuda_array(g) and g.dtype == r.dtype
            np.testing.assert_allclose(_to_host(g), r, rtol=2e-5, atol=2e-5, err_msg=name)
        else:
            assert g == r, name


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU and cupy (or the emulation)")
def test_host_arrays_are_refused_by_the_cuda_module(rng):
    cp = backend.cupy_module()
    cuda = backend.kernel_module("cuda")
    a = cp.asarray(f32(rng, 1, 2, 3))
    with pytest.raises(TypeError, match="gemm: argument 'b' \\(numpy.ndarray\\) is in host memory, but "
                                        "fastnn._C_cuda runs on CUDA arrays"):
        cuda.gemm(a, f32(rng, 1, 3, 2), cp.empty((1, 2, 2), cp.float32))
    with pytest.raises(TypeError, match="conv2d: argument 'bias' .* is in host memory"):
        cuda.conv2d_forward(cp.asarray(f32(rng, 1, 3, 5, 5)), cp.asarray(f32(rng, 2, 3, 3, 3)), f32(rng, 2))
    with pytest.raises(TypeError, match="argument 'input' .* is a CUDA array, but fastnn._C"):
        _C.max_pool2d(cp.asarray(f32(rng, 1, 1, 4, 4)), (2, 2), (2, 2))


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU and cupy (or the emulation)")
def test_outputs_come_from_cupys_memory_pool(rng):
    import fastnn
    cp = backend.cupy_module()
    cuda = backend.kernel_module("cuda")
    x, w = cp.asarray(f32(rng, 8, 16, 32, 32)), cp.asarray(f32(rng, 32, 16, 3, 3))
    fastnn.cuda.synchronize()
    before = fastnn.cuda.memory_allocated()
    y = cuda.conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1))
    assert isinstance(y, cp.ndarray) and y.shape == (8, 32, 32, 32)
    assert fastnn.cuda.memory_allocated() - before >= y.nbytes
    pooled, idx = cuda.max_pool2d(y, (2, 2), (2, 2))
    assert fastnn.cuda.memory_allocated() - before >= y.nbytes + pooled.nbytes + idx.nbytes
    del y, pooled, idx
    assert fastnn.cuda.memory_allocated() - before < 8 * 32 * 32 * 32 * 4


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU and cupy (or the emulation)")
def test_objects_with_only_the_cuda_array_interface_are_accepted(rng):
    cp = backend.cupy_module()
    cuda = backend.kernel_module("cuda")
    a, b = cp.asarray(f32(rng, 2, 5, 7)), cp.asarray(f32(rng, 2, 7, 3))
    out = cp.full((2, 5, 3), np.nan, cp.float32)
    cuda.gemm(CudaArrayInterfaceOnly(a), CudaArrayInterfaceOnly(b[:, :, :]), CudaArrayInterfaceOnly(out))
    np.testing.assert_allclose(_to_host(out), _to_host(a) @ _to_host(b), rtol=1e-5, atol=1e-5)
    x = cp.asarray(f32(rng, 1, 2, 6, 8))[:, :, :, ::2]          # strided: the interface carries the strides
    y, i = cuda.max_pool2d(CudaArrayInterfaceOnly(x), (2, 2), (2, 2))
    ref, ref_i = _C.max_pool2d(_to_host(x), (2, 2), (2, 2))
    np.testing.assert_array_equal(_to_host(y), ref)
    np.testing.assert_array_equal(_to_host(i), ref_i)
