"""The CUDA module without a GPU: it imports, reports what is there, validates every argument with
clean Python exceptions before touching the device, and mirrors the CPU module's functions."""
import inspect
import re

import numpy as np
import pytest

import fastnn
import fastnn.cuda
from fastnn import _C, backend

_C_cuda = pytest.importorskip("fastnn._C_cuda", reason="fastnn was built without CUDA")
no_gpu = pytest.mark.skipif(backend.cuda_available(), reason="checks the behaviour without a usable GPU")

F32 = "float32"
D1 = (4096, (1, 2, 3), (6, 3, 1))  # fake but well-formed device descriptors: validation comes first


def d(shape, ptr=4096, strides=None):
    if strides is None:
        strides, acc = [], 1
        for n in reversed(shape):
            strides.insert(0, acc)
            acc *= max(n, 1)
    return (ptr, tuple(shape), tuple(strides))


def test_module_imports_and_counts_devices():
    n = _C_cuda.device_count()
    assert isinstance(n, int) and n >= 0
    assert backend.cuda_built()
    assert fastnn.cuda.is_built()
    assert fastnn.cuda.device_count() == backend.cuda_device_count()
    assert fastnn.cuda.is_available() == (fastnn.cuda.device_count() > 0)


@no_gpu
def test_without_gpu_everything_reports_unavailable():
    assert fastnn.cuda.is_available() is False
    assert fastnn.cuda.device_count() == 0
    fastnn.cuda.manual_seed(123)  # silently ignored, as in PyTorch
    fastnn.cuda.manual_seed_all(123)
    for f in (fastnn.cuda.synchronize, fastnn.cuda.current_device, fastnn.cuda.get_device_name):
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            f()
    with pytest.raises(RuntimeError, match="cuda:0"):
        backend.kernel_module("cuda")


@no_gpu
def test_without_gpu_launches_raise_runtime_error():
    with pytest.raises(RuntimeError):
        _C_cuda.gemm(F32, d((1, 2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(RuntimeError):
        _C_cuda.synchronize()
    with pytest.raises(RuntimeError):
        _C_cuda.current_device()
    with pytest.raises(ValueError, match="device"):
        _C_cuda.device_info(0)
    with pytest.raises(ValueError, match="device"):
        _C_cuda.set_device(0)


def test_manual_seed_rejects_non_int():
    with pytest.raises(TypeError, match="seed"):
        fastnn.cuda.manual_seed(1.5)


def test_gemm_argument_checks():
    with pytest.raises(TypeError, match="dtype"):
        _C_cuda.gemm("int8", d((1, 2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="shapes do not agree"):
        _C_cuda.gemm(F32, d((1, 2, 3)), d((1, 4, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="'a' must be 3-D"):
        _C_cuda.gemm(F32, d((2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="'a' is a null pointer"):
        _C_cuda.gemm(F32, d((1, 2, 3), ptr=0), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="not aligned"):
        _C_cuda.gemm(F32, d((1, 2, 3), ptr=4098), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="overlapping elements"):
        _C_cuda.gemm(F32, d((1, 2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384, strides=(8, 0, 1)))
    with pytest.raises(ValueError, match="overlapping elements"):
        _C_cuda.gemm(F32, d((1, 2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384, strides=(8, 2, 1)))
    with pytest.raises(ValueError, match="overlaps input 'b'"):
        _C_cuda.gemm(F32, d((1, 2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=8192 + 16))
    with pytest.raises(TypeError, match="descriptor"):
        _C_cuda.gemm(F32, [4096, (1, 2, 3), (6, 3, 1)], d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="strides"):
        _C_cuda.gemm(F32, (4096, (1, 2, 3), (6, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="negative dimension"):
        _C_cuda.gemm(F32, (4096, (1, -2, 3), (6, 3, 1)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))


def test_gemm_empty_output_launches_nothing():
    # Nothing to compute: returns before any CUDA call, so this works without a GPU too.
    _C_cuda.gemm(F32, d((1, 0, 3)), d((1, 3, 4), ptr=8192), d((1, 0, 4), ptr=0))
    _C_cuda.gemm(F32, d((0, 2, 3), ptr=0), d((0, 3, 4), ptr=0), d((0, 2, 4), ptr=0))


def test_gemm_path_reports_the_kernel():
    assert _C_cuda.gemm_path(F32, d((1, 64, 32)), d((1, 32, 64), ptr=65536)) == "simt-vec"
    assert _C_cuda.gemm_path(F32, d((1, 64, 32), ptr=4100), d((1, 32, 64), ptr=65536)) == "simt"  # misaligned
    assert _C_cuda.gemm_path(F32, d((1, 64, 33)), d((1, 33, 64), ptr=65536)) == "simt"  # row stride 33
    assert _C_cuda.gemm_path(F32, d((1, 64, 32), strides=(2048, 1, 64)), d((1, 32, 64), ptr=65536)) == "simt-vec"
    assert _C_cuda.gemm_path("float64", d((1, 64, 32)), d((1, 32, 64), ptr=65536)) == "simt"


def test_conv_argument_checks():
    x, w, y = d((1, 3, 5, 5)), d((4, 3, 3, 3), ptr=65536), d((1, 4, 3, 3), ptr=131072)
    with pytest.raises(ValueError, match="'out' must have shape \\(1, 4, 3, 3\\)"):
        _C_cuda.conv2d_forward(F32, x, w, None, d((1, 4, 4, 3), ptr=131072), (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="channels"):
        _C_cuda.conv2d_forward(F32, x, d((4, 2, 3, 3), ptr=65536), None, y, (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="divisible by groups"):
        _C_cuda.conv2d_forward(F32, x, d((4, 1, 3, 3), ptr=65536), None, y, (1, 1), (0, 0, 0, 0), (1, 1), 3)
    with pytest.raises(ValueError, match="'stride' must be >= 1"):
        _C_cuda.conv2d_forward(F32, x, w, None, y, (0, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="'padding' must have 4 values"):
        _C_cuda.conv2d_forward(F32, x, w, None, y, (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        _C_cuda.conv2d_forward(F32, x, w, None, y, (1, 1), (0, 0, 0, 0), (3, 3))
    with pytest.raises(ValueError, match="'bias' must have shape \\(4,\\)"):
        _C_cuda.conv2d_forward(F32, x, w, d((3,), ptr=262144), y, (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="'groups' must be >= 1"):
        _C_cuda.conv2d_backward_weight(F32, x, y, w, (1, 1), (0, 0), (1, 1), 0)
    with pytest.raises(ValueError, match="overlaps input 'input'"):
        _C_cuda.conv2d_forward(F32, x, w, None, d((1, 4, 3, 3), ptr=4096 + 8), (1, 1), (0, 0, 0, 0), (1, 1))


def test_pool_and_interp_argument_checks():
    x = d((1, 2, 6, 6))
    with pytest.raises(ValueError, match="pooling's output size"):
        _C_cuda.max_pool2d_forward(F32, x, d((1, 2, 2, 2), ptr=65536), (8, (1, 2, 2, 2), (8, 4, 2, 1)),
                                   (2, 2), (2, 2), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="at most half"):
        _C_cuda.avg_pool2d_forward(F32, x, d((1, 2, 4, 4), ptr=65536), (2, 2), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="divisor_override"):
        _C_cuda.avg_pool2d_forward(F32, x, d((1, 2, 3, 3), ptr=65536), (2, 2), (2, 2), (0, 0), False, True, -1)
    with pytest.raises(ValueError, match="'indices' must have shape"):
        _C_cuda.max_pool2d_backward(F32, d((1, 2, 3, 3), ptr=65536), (1 << 20, (1, 2, 3, 2), (6, 3, 2, 1)), x)
    with pytest.raises(ValueError, match="batch and channels"):
        _C_cuda.adaptive_avg_pool2d_forward(F32, x, d((1, 3, 2, 2), ptr=65536))
    with pytest.raises(ValueError, match="scale_h"):
        _C_cuda.upsample_nearest2d_forward(F32, x, d((1, 2, 12, 12), ptr=65536), -2.0, None)
    with pytest.raises(TypeError, match="dtype"):
        _C_cuda.upsample_bilinear2d_forward("float16", x, d((1, 2, 12, 12), ptr=65536))


def _pybind_params(f):
    """Argument names of a pybind11 function, from its signature line."""
    first = f.__doc__.strip().splitlines()[0]
    inner = first[first.index("(") + 1:first.rindex(") ->")]
    return [p.split(":")[0].strip() for p in re.split(r",\s*(?![^\[]*\])", inner) if p.strip()]


ADAPTED = ["gemm", "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "max_pool2d",
           "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward", "adaptive_avg_pool2d",
           "adaptive_avg_pool2d_backward", "adaptive_max_pool2d", "upsample2d", "upsample2d_backward"]


@pytest.mark.parametrize("name", ADAPTED)
def test_adapter_mirrors_cpu_signatures(name):
    from fastnn import _cuda_kernels
    assert hasattr(_C, name), f"the CPU module has no {name}"
    cpu = _pybind_params(getattr(_C, name))
    gpu = list(inspect.signature(getattr(_cuda_kernels, name)).parameters)
    assert gpu == cpu


def test_every_native_function_used_by_kernels_has_a_cuda_version():
    import fastnn.kernels as kmod
    from fastnn import _cuda_kernels
    src = inspect.getsource(kmod)
    used = set(re.findall(r'_native\("(\w+)"', src)) | set(re.findall(r"kernel_module\([^)]*\)\.(\w+)", src))
    missing = sorted(n for n in used if not hasattr(_cuda_kernels, n))
    assert not missing, f"no CUDA version of {missing}"


def test_adapter_rejects_numpy_arrays_cleanly():
    pytest.importorskip("cupy")
    from fastnn import _cuda_kernels
    with pytest.raises(TypeError, match="cupy array"):
        _cuda_kernels.gemm(np.ones((1, 2, 2), np.float32), np.ones((1, 2, 2), np.float32),
                           np.ones((1, 2, 2), np.float32))


def test_tf32_switches_have_pytorch_names_and_defaults():
    import fastnn.backends as fb
    from fastnn import _cuda_kernels
    assert fb.cuda.matmul.allow_tf32 is False and fb.cudnn.allow_tf32 is False
    try:
        fb.cuda.matmul.allow_tf32 = True
        fb.cudnn.allow_tf32 = True
        assert _cuda_kernels._tf32_matmul() and _cuda_kernels._tf32_conv()
        with pytest.raises(TypeError, match="bool"):
            fb.cuda.matmul.allow_tf32 = 1
        with pytest.raises(TypeError, match="bool"):
            fb.cudnn.allow_tf32 = "yes"
    finally:
        fb.cuda.matmul.allow_tf32 = False
        fb.cudnn.allow_tf32 = False
    assert not _cuda_kernels._tf32_matmul() and not _cuda_kernels._tf32_conv()


def test_cudnn_deterministic_and_benchmark_flags():
    import fastnn.backends as fb
    from fastnn import _cuda_kernels
    assert fb.cudnn.deterministic is False and fb.cudnn.benchmark is False
    try:
        fb.cudnn.deterministic = True
        fb.cudnn.benchmark = True       # accepted: one algorithm per convolution, nothing to search
        assert _cuda_kernels._deterministic_conv() and fb.cudnn.benchmark is True
        assert fb.cudnn.allow_tf32 is False     # the flags are independent
        with pytest.raises(TypeError, match="deterministic must be a bool"):
            fb.cudnn.deterministic = 1
    finally:
        fb.cudnn.deterministic = False
        fb.cudnn.benchmark = False
    assert not _cuda_kernels._deterministic_conv()
