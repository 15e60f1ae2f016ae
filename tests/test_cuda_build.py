"""The CUDA module without a GPU: it imports, reports what is there, validates every argument with
clean Python exceptions before touching the device, and has the CPU module's functions and arguments."""
import re

import numpy as np
import pytest

import fastnn
import fastnn.cuda
from fastnn import _C, backend

_C_cuda = pytest.importorskip("fastnn._C_cuda", reason="fastnn was built without CUDA")
no_gpu = pytest.mark.skipif(backend.cuda_available(), reason="checks the behaviour without a usable GPU")

class Dev:
    """A device array as __cuda_array_interface__ describes it, at a made-up address: the module checks
    every argument before it touches the GPU, so these reach no device."""

    def __init__(self, shape, ptr=4096, strides=None, typestr="<f4"):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (ptr, False),
                                         "strides": strides, "version": 3}


def d(shape, ptr=4096, strides=None, typestr="<f4"):
    """Strides in elements of 4 bytes (None: C order)."""
    return Dev(shape, ptr, None if strides is None else tuple(4 * s for s in strides), typestr)


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
    with pytest.raises(RuntimeError, match="no CUDA device"):
        _C_cuda.gemm(d((1, 2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(RuntimeError, match="no CUDA device"):   # allocating the output needs the device
        _C_cuda.conv2d_forward(d((1, 3, 5, 5)), d((4, 3, 3, 3), ptr=65536), None, (1, 1), (0, 0, 0, 0), (1, 1))
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
    with pytest.raises(TypeError, match="'a' must be float32 or float64, got int8"):
        _C_cuda.gemm(d((1, 2, 3), typestr="|i1"), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="shapes do not agree"):
        _C_cuda.gemm(d((1, 2, 3)), d((1, 4, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="'a' must be 3-D"):
        _C_cuda.gemm(d((2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="'a' is a null pointer"):
        _C_cuda.gemm(d((1, 2, 3), ptr=0), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="not aligned"):
        _C_cuda.gemm(d((1, 2, 3), ptr=4098), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="'out' of shape \\(1, 2, 4\\) has a zero stride"):
        _C_cuda.gemm(d((1, 2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384, strides=(8, 0, 1)))
    with pytest.raises(ValueError, match="strides under which elements overlap"):
        _C_cuda.gemm(d((1, 2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384, strides=(8, 2, 1)))
    with pytest.raises(ValueError, match="overlaps input 'b'"):
        _C_cuda.gemm(d((1, 2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=8192 + 16))
    with pytest.raises(ValueError, match="'a' has a stride that is not a multiple of its item size"):
        _C_cuda.gemm(Dev((1, 2, 3), strides=(24, 12, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="'a' has 2 strides for shape"):
        _C_cuda.gemm(Dev((1, 2, 3), strides=(24, 12)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(ValueError, match="negative dimension"):
        _C_cuda.gemm(d((1, -2, 3)), d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    bad = Dev((1, 2, 3))
    bad.__cuda_array_interface__ = [4096, (1, 2, 3)]
    with pytest.raises(TypeError, match="'a': __cuda_array_interface__ must be a dict"):
        _C_cuda.gemm(bad, d((1, 3, 4), ptr=8192), d((1, 2, 4), ptr=16384))
    with pytest.raises(TypeError, match="'b' must be an array"):
        _C_cuda.gemm(d((1, 2, 3)), [[1.0]], d((1, 2, 4), ptr=16384))


def test_each_module_refuses_the_other_devices_arrays():
    host = np.ones((1, 2, 2), np.float32)
    with pytest.raises(TypeError, match="argument 'a' \\(numpy.ndarray\\) is in host memory, but fastnn._C_cuda"):
        _C_cuda.gemm(host, host, host.copy())
    with pytest.raises(TypeError, match="argument 'input' .* is in host memory"):
        _C_cuda.max_pool2d(np.ones((1, 1, 4, 4)), (2, 2), (2, 2))
    with pytest.raises(TypeError, match="argument 'b' .* is a CUDA array, but fastnn._C runs on host arrays"):
        _C.gemm(host, d((1, 2, 2)), host.copy())
    with pytest.raises(TypeError, match="argument 'input' .* is a CUDA array"):
        _C.conv2d_forward(d((1, 3, 5, 5)), np.ones((4, 3, 3, 3), np.float32))


def test_gemm_empty_output_launches_nothing():
    # Nothing to compute: returns before any CUDA call, so this works without a GPU too.
    _C_cuda.gemm(d((1, 0, 3)), d((1, 3, 4), ptr=8192), d((1, 0, 4), ptr=0))
    _C_cuda.gemm(d((0, 2, 3), ptr=0), d((0, 3, 4), ptr=0), d((0, 2, 4), ptr=0))


def test_gemm_path_reports_the_kernel():
    assert _C_cuda.gemm_path(d((1, 64, 32)), d((1, 32, 64), ptr=65536)) == "simt-vec"
    assert _C_cuda.gemm_path(d((1, 64, 32), ptr=4100), d((1, 32, 64), ptr=65536)) == "simt"  # misaligned
    assert _C_cuda.gemm_path(d((1, 64, 33)), d((1, 33, 64), ptr=65536)) == "simt"  # row stride 33
    assert _C_cuda.gemm_path(d((1, 64, 32), strides=(2048, 1, 64)), d((1, 32, 64), ptr=65536)) == "simt-vec"
    f64 = dict(typestr="<f8")
    assert _C_cuda.gemm_path(Dev((1, 64, 32), **f64), Dev((1, 32, 64), ptr=65536, **f64)) == "simt"
    assert _C.gemm_path(np.ones((1, 2, 3)), np.ones((1, 3, 4))) == _C.cpu_path()


def test_conv_argument_checks():
    x, w = d((1, 3, 5, 5)), d((4, 3, 3, 3), ptr=65536)
    with pytest.raises(ValueError, match="channels"):
        _C_cuda.conv2d_forward(x, d((4, 2, 3, 3), ptr=65536), None, (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="divisible by groups"):
        _C_cuda.conv2d_forward(x, d((4, 1, 3, 3), ptr=65536), None, (1, 1), (0, 0, 0, 0), (1, 1), 3)
    with pytest.raises(ValueError, match="'stride' must be >= 1"):
        _C_cuda.conv2d_forward(x, w, None, (0, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="'padding' must have 4 values"):
        _C_cuda.conv2d_forward(x, w, None, (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        _C_cuda.conv2d_forward(x, w, None, (1, 1), (0, 0, 0, 0), (3, 3))
    with pytest.raises(ValueError, match="'bias' must have shape \\(4,\\)"):
        _C_cuda.conv2d_forward(x, w, d((3,), ptr=262144), (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(TypeError, match="'input' \\(float32\\) and 'weight' \\(float64\\)"):
        _C_cuda.conv2d_forward(x, Dev((4, 3, 3, 3), ptr=65536, typestr="<f8"), None)
    with pytest.raises(ValueError, match="'groups' must be >= 1"):
        _C_cuda.conv2d_backward_weight(x, d((1, 4, 3, 3), ptr=131072), (3, 3), (1, 1), (0, 0), (1, 1), 0)
    with pytest.raises(ValueError, match="batch sizes differ"):
        _C_cuda.conv2d_backward_weight(x, d((2, 4, 3, 3), ptr=131072), (3, 3))
    with pytest.raises(ValueError, match="'input_size' must be >= 1"):
        _C_cuda.conv2d_backward_input(d((1, 4, 3, 3), ptr=131072), w, (0, 5))


def test_pool_and_interp_argument_checks():
    x = d((1, 2, 6, 6))
    with pytest.raises(ValueError, match="at most half"):
        _C_cuda.avg_pool2d(x, (2, 2), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="too small"):
        _C_cuda.max_pool2d(x, (7, 7), (1, 1))
    with pytest.raises(ValueError, match="divisor_override"):
        _C_cuda.avg_pool2d(x, (2, 2), (2, 2), (0, 0), False, True, -1)
    with pytest.raises(ValueError, match="'indices' must have shape"):
        _C_cuda.max_pool2d_backward(d((1, 2, 3, 3), ptr=65536), Dev((1, 2, 3, 2), ptr=1 << 20, typestr="<i8"), (6, 6))
    with pytest.raises(TypeError, match="'indices' must have dtype int64, got int32"):
        _C_cuda.max_pool2d_backward(d((1, 2, 3, 3), ptr=65536), Dev((1, 2, 3, 3), ptr=1 << 20, typestr="<i4"), (6, 6))
    with pytest.raises(ValueError, match="'grad_output' must have shape \\(1, 2, 3, 3\\)"):
        _C_cuda.avg_pool2d_backward(d((1, 2, 4, 4), ptr=65536), (6, 6), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="'output_size' must be >= 1"):
        _C_cuda.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(ValueError, match="scales"):
        _C_cuda.upsample2d(x, "nearest", (12, 12), False, (-2.0, None))
    with pytest.raises(ValueError, match="mode"):
        _C_cuda.upsample2d(x, "area", (12, 12))
    with pytest.raises(TypeError, match="float32 or float64, got float16"):
        _C_cuda.upsample2d(Dev((1, 2, 6, 6), typestr="<f2"), "bilinear", (12, 12))


def test_optim_argument_checks():
    sc = dict(l2=0.0, momentum=0.9, one_minus_dampening=1.0, lr=0.1, dampened=False, nesterov=False, maximize=False,
              first=True)
    with pytest.raises(ValueError, match="momentum_buffer"):
        _C_cuda.sgd_step(d((4,)), d((4,), ptr=8192), None, sc)
    with pytest.raises(ValueError, match="'grad' has shape \\(5,\\) but 'param' has \\(4,\\)"):
        _C_cuda.sgd_step(d((4,)), d((5,), ptr=8192), d((4,), ptr=16384), sc)
    with pytest.raises(ValueError, match="'grad' .* must be contiguous"):
        _C_cuda.sgd_step(d((4,)), d((4,), ptr=8192, strides=(2,)), d((4,), ptr=16384), sc)
    with pytest.raises(ValueError, match="output 'param' overlaps input 'momentum_buffer'"):
        _C_cuda.sgd_step(d((4,)), d((4,), ptr=8192), d((4,), ptr=4096 + 8), sc)
    with pytest.raises(ValueError, match="argument 'scalars' has no 'lr'"):
        _C_cuda.sgd_step(d((4,)), d((4,), ptr=8192), d((4,), ptr=16384), {k: v for k, v in sc.items() if k != "lr"})


def _pybind_params(f):
    """Argument names of a pybind11 function, from its signature line ("name: type = default, ...")."""
    first = f.__doc__.strip().splitlines()[0]
    inner = first[first.index("(") + 1:first.rindex(") ->")]
    return re.findall(r"(?:^|,\s*)(\w+)\s*:", inner)


def _kernel_functions(mod):
    return sorted(n for n in dir(mod) if not n.startswith("_") and callable(getattr(mod, n))
                  and getattr(mod, n).__doc__ and " -> " in getattr(mod, n).__doc__)


RUNTIME = {"device_count", "device_info", "current_device", "set_device", "synchronize"}
CPU_ONLY = {"cpu_path", "refresh_cpu_path", "cpu_paths", "cpu_extensions", "cpu_model", "cache_sizes",
            "get_num_threads", "set_num_threads", "host_empty",
            # the generator's known answers and its plain reference, for the tests
            "philox4x32_10", "philox_fill_reference", "segment_reduce_reference",
            "attention_forward_reference", "attention_backward_reference",
            "layer_norm_forward_reference", "layer_norm_backward_reference", "rms_norm_forward_reference",
            "rms_norm_backward_reference", "batch_norm_forward_reference", "batch_norm_backward_reference",
            "activation_forward_reference", "activation_backward_reference", "diffuse_reference",
            "sampling_step_reference"}


def test_both_modules_have_the_same_functions_and_arguments():
    """One binding per family, compiled into both modules: every kernel function of one module is in the
    other under the same name, with the same arguments in the same order."""
    cpu = set(_kernel_functions(_C)) - CPU_ONLY
    gpu = set(_kernel_functions(_C_cuda)) - RUNTIME
    assert set(_C.families) == set(_C_cuda.families)
    assert cpu == gpu, sorted(gpu ^ cpu)
    for name in sorted(cpu):
        assert _pybind_params(getattr(_C_cuda, name)) == _pybind_params(getattr(_C, name)), name


def test_every_native_function_used_by_kernels_has_a_cuda_version():
    import pathlib

    import fastnn.kernels as kpkg
    src = "".join(p.read_text() for p in pathlib.Path(kpkg.__file__).parent.glob("*.py"))
    used = set(re.findall(r'backend\.kernel\("(\w+)"', src)) | set(re.findall(r"kernel_module\([^)]*\)\.(\w+)", src))
    assert {"gemm", "conv2d_forward", "max_pool2d", "upsample2d", "adam_step"} <= used
    missing = sorted(n for n in used if not hasattr(_C_cuda, n))
    assert not missing, f"no CUDA version of {missing}"


def test_tf32_switches_have_pytorch_names_and_defaults():
    import fastnn.backends as fb
    assert fb.cuda.matmul.allow_tf32 is False and fb.cudnn.allow_tf32 is False
    try:
        fb.cuda.matmul.allow_tf32 = True
        fb.cudnn.allow_tf32 = True
        assert backend.allow_tf32("matmul") and backend.allow_tf32("conv")
        with pytest.raises(TypeError, match="bool"):
            fb.cuda.matmul.allow_tf32 = 1
        with pytest.raises(TypeError, match="bool"):
            fb.cudnn.allow_tf32 = "yes"
    finally:
        fb.cuda.matmul.allow_tf32 = False
        fb.cudnn.allow_tf32 = False
    assert not backend.allow_tf32("matmul") and not backend.allow_tf32("conv")


def test_cudnn_deterministic_and_benchmark_flags():
    import fastnn.backends as fb
    assert fb.cudnn.deterministic is False and fb.cudnn.benchmark is False
    try:
        fb.cudnn.deterministic = True
        fb.cudnn.benchmark = True       # accepted: one algorithm per convolution, nothing to search
        assert backend.deterministic() and fb.cudnn.benchmark is True
        assert fb.cudnn.allow_tf32 is False     # the flags are independent
        with pytest.raises(TypeError, match="deterministic must be a bool"):
            fb.cudnn.deterministic = 1
    finally:
        fb.cudnn.deterministic = False
        fb.cudnn.benchmark = False
    assert not backend.deterministic()
