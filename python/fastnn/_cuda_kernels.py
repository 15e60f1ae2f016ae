"""The CUDA kernel module as ``fastnn.kernels`` sees it: the same functions and signatures as the
CPU module ``fastnn._C`` (arrays in, arrays out), taking cupy arrays.

Each function checks its arrays (cupy, float dtype, current device), allocates the outputs with
cupy, and calls ``fastnn._C_cuda`` with descriptors ``(device pointer, shape, element strides)``
on cupy's current stream. ``fastnn._C_cuda`` validates everything again before any launch.
"""
from __future__ import annotations

import functools

from . import _C_cuda as _K
from . import backend

_FLOATS = ("float32", "float64")


def _cp():
    return backend.cupy_module()


def _stream():
    return _cp().cuda.get_current_stream().ptr


def _check_array(fn, name, a, ndim=None, dtype=None):
    cp = _cp()
    if not isinstance(a, cp.ndarray):
        raise TypeError(f"{fn}: argument '{name}' must be a cupy array on the GPU, got {type(a).__name__}")
    if dtype is None:
        if a.dtype.name not in _FLOATS:
            raise TypeError(f"{fn}: argument '{name}' must be float32 or float64, got {a.dtype}")
    elif a.dtype.name != dtype:
        raise TypeError(f"{fn}: argument '{name}' must have dtype {dtype}, got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{fn}: argument '{name}' must be {ndim}-D, got shape {tuple(a.shape)}")
    return a


def _on_device(fn):
    """Runs the wrapped function in the device context of its cupy array arguments, which must all
    be on one GPU: kernels run where the data is, whatever device is current (as in PyTorch)."""
    def wrap(f):
        @functools.wraps(f)
        def run(*args, **kwargs):
            cp = _cp()
            dev = None
            for a in list(args) + list(kwargs.values()):
                if isinstance(a, cp.ndarray):
                    if dev is None:
                        dev = a.device.id
                    elif a.device.id != dev:
                        raise RuntimeError(f"{fn}: expected all arrays on cuda:{dev}, got one on cuda:{a.device.id}")
            if dev is None:
                return f(*args, **kwargs)
            with cp.cuda.Device(dev):
                return f(*args, **kwargs)
        return run
    return wrap


def _same_dtype(fn, na, a, nb, b):
    if a.dtype != b.dtype:
        raise TypeError(f"{fn}: arguments '{na}' ({a.dtype}) and '{nb}' ({b.dtype}) must have the same dtype")


def _desc(fn, name, a):
    item = a.itemsize
    strides = []
    for s in a.strides:
        if s % item:
            raise ValueError(f"{fn}: argument '{name}' has a stride that is not a multiple of its item size")
        strides.append(s // item)
    return (int(a.data.ptr), tuple(int(d) for d in a.shape), tuple(strides))


def _pair(fn, name, v, n=2):
    try:
        vals = [int(x) for x in v]
    except TypeError:
        raise TypeError(f"{fn}: argument '{name}' must be a sequence of {n} ints, got {v!r}") from None
    if len(vals) != n:
        raise ValueError(f"{fn}: argument '{name}' must have {n} values, got {tuple(vals)}")
    return vals


def _flag(path):
    """A ``fastnn.backends`` switch (PyTorch's names), False when that module is absent."""
    try:
        from . import backends
    except ImportError:
        return False
    obj = backends
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    return bool(obj)


def _tf32_matmul():
    return _flag("cuda.matmul.allow_tf32")


def _tf32_conv():
    return _flag("cudnn.allow_tf32")


def _deterministic_conv():
    return _flag("cudnn.deterministic")


# ---------------------------------------------------------------------------- device
def device_count():
    return _K.device_count()


def device_info(device=0):
    return _K.device_info(device)


# ---------------------------------------------------------------------------- gemm
@_on_device("gemm")
def gemm(a, b, out, alpha=1.0, beta=0.0):
    """out[i] = alpha * a[i] @ b[i] + beta * out[i] for 3-D arrays of any strides (in place)."""
    fn = "gemm"
    for name, x in (("a", a), ("b", b), ("out", out)):
        _check_array(fn, name, x, ndim=3)
    _same_dtype(fn, "a", a, "b", b)
    _same_dtype(fn, "a", a, "out", out)
    _K.gemm(a.dtype.name, _desc(fn, "a", a), _desc(fn, "b", b), _desc(fn, "out", out), float(alpha), float(beta),
            _tf32_matmul(), _stream())


# ---------------------------------------------------------------------------- convolution
def _conv_out(n, k, s, pa, pb, d):
    return max((n + pa + pb - (d * (k - 1) + 1)) // s + 1, 0)


@_on_device("conv2d")
def conv2d_forward(input, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """2-D cross-correlation of NCHW ``input`` with ``weight`` (OC, C/groups, KH, KW); padding is
    (top, bottom, left, right). Returns a new array."""
    fn = "conv2d"
    cp = _cp()
    _check_array(fn, "input", input, ndim=4)
    _check_array(fn, "weight", weight, ndim=4)
    _same_dtype(fn, "input", input, "weight", weight)
    if bias is not None:
        _check_array(fn, "bias", bias, ndim=1)
        _same_dtype(fn, "input", input, "bias", bias)
    sh, sw = _pair(fn, "stride", stride)
    pt, pb, pl, pr = _pair(fn, "padding", padding, 4)
    dh, dw = _pair(fn, "dilation", dilation)
    if sh < 1 or sw < 1:
        raise ValueError(f"{fn}: argument 'stride' must be >= 1, got {(sh, sw)}")
    if dh < 1 or dw < 1:
        raise ValueError(f"{fn}: argument 'dilation' must be >= 1, got {(dh, dw)}")
    N, _, H, W = input.shape
    OC, _, KH, KW = weight.shape
    out = cp.empty((N, OC, _conv_out(H, KH, sh, pt, pb, dh), _conv_out(W, KW, sw, pl, pr, dw)), dtype=input.dtype)
    _K.conv2d_forward(input.dtype.name, _desc(fn, "input", input), _desc(fn, "weight", weight),
                      None if bias is None else _desc(fn, "bias", bias), _desc(fn, "out", out), (sh, sw),
                      (pt, pb, pl, pr), (dh, dw), int(groups), _tf32_conv(), _stream())
    return out


@_on_device("conv2d_backward_input")
def conv2d_backward_input(grad_output, weight, input_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Gradient of conv2d with respect to its input of spatial size ``input_size`` (also
    conv_transpose2d's forward); padding is (top, left)."""
    fn = "conv2d_backward_input"
    cp = _cp()
    _check_array(fn, "grad_output", grad_output, ndim=4)
    _check_array(fn, "weight", weight, ndim=4)
    _same_dtype(fn, "grad_output", grad_output, "weight", weight)
    H, W = _pair(fn, "input_size", input_size)
    if H < 1 or W < 1:
        raise ValueError(f"{fn}: argument 'input_size' must be >= 1, got {(H, W)}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{fn}: argument 'groups' must be >= 1, got {groups}")
    grad_input = cp.empty((grad_output.shape[0], weight.shape[1] * groups, H, W), dtype=weight.dtype)
    _K.conv2d_backward_input(weight.dtype.name, _desc(fn, "grad_output", grad_output), _desc(fn, "weight", weight),
                             None, _desc(fn, "grad_input", grad_input), _pair(fn, "stride", stride),
                             _pair(fn, "padding", padding), _pair(fn, "dilation", dilation), groups, _tf32_conv(),
                             _stream())
    return grad_input


@_on_device("conv2d_backward_weight")
def conv2d_backward_weight(input, grad_output, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Gradient of conv2d with respect to its weight; padding is (top, left)."""
    fn = "conv2d_backward_weight"
    cp = _cp()
    _check_array(fn, "input", input, ndim=4)
    _check_array(fn, "grad_output", grad_output, ndim=4)
    _same_dtype(fn, "input", input, "grad_output", grad_output)
    KH, KW = _pair(fn, "kernel_size", kernel_size)
    if KH < 1 or KW < 1:
        raise ValueError(f"{fn}: argument 'kernel_size' must be >= 1, got {(KH, KW)}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{fn}: argument 'groups' must be >= 1, got {groups}")
    C, OC = input.shape[1], grad_output.shape[1]
    if OC < 1 or OC % groups or C % groups:
        raise ValueError(f"{fn}: channels of 'input' {tuple(input.shape)} and 'grad_output' "
                         f"{tuple(grad_output.shape)} must be positive multiples of groups ({groups})")
    grad_weight = cp.empty((OC, C // groups, KH, KW), dtype=input.dtype)
    _K.conv2d_backward_weight(input.dtype.name, _desc(fn, "input", input), _desc(fn, "grad_output", grad_output),
                              _desc(fn, "grad_weight", grad_weight), _pair(fn, "stride", stride),
                              _pair(fn, "padding", padding), _pair(fn, "dilation", dilation), groups, _tf32_conv(),
                              _deterministic_conv(), _stream())
    return grad_weight


# ---------------------------------------------------------------------------- pooling
def _pool_out(n, k, s, p, d, ceil_mode):
    """PyTorch's pooling_output_shape (clamped at 0 for the allocation; the binding rejects it)."""
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    o = num // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return max(o, 0)


def _pool_args(fn, kernel_size, stride, padding, dilation):
    k = _pair(fn, "kernel_size", kernel_size)
    s = _pair(fn, "stride", stride)
    p = _pair(fn, "padding", padding)
    d = _pair(fn, "dilation", dilation)
    for name, v, lo in (("kernel_size", k, 1), ("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)):
        if min(v) < lo:
            raise ValueError(f"{fn}: argument '{name}' must be >= {lo}, got {tuple(v)}")
    return k, s, p, d


@_on_device("max_pool2d")
def max_pool2d(input, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False, with_indices=True):
    """(output, int64 flat indices h * W + w, or None)."""
    fn = "max_pool2d"
    cp = _cp()
    _check_array(fn, "input", input, ndim=4)
    k, s, p, d = _pool_args(fn, kernel_size, stride, padding, dilation)
    N, C, H, W = input.shape
    shape = (N, C, _pool_out(H, k[0], s[0], p[0], d[0], ceil_mode), _pool_out(W, k[1], s[1], p[1], d[1], ceil_mode))
    out = cp.empty(shape, dtype=input.dtype)
    idx = cp.empty(shape, dtype=cp.int64)
    _K.max_pool2d_forward(input.dtype.name, _desc(fn, "input", input), _desc(fn, "out", out),
                          _desc(fn, "indices", idx), k, s, p, d, bool(ceil_mode), _stream())
    return out, (idx if with_indices else None)


@_on_device("max_pool2d_backward")
def max_pool2d_backward(grad_output, indices, input_size):
    """Scatter-add of ``grad_output`` at ``indices`` into planes of ``input_size`` (also adaptive max pooling)."""
    fn = "max_pool2d_backward"
    cp = _cp()
    _check_array(fn, "grad_output", grad_output, ndim=4)
    _check_array(fn, "indices", indices, ndim=4, dtype="int64")
    H, W = _pair(fn, "input_size", input_size)
    if H < 1 or W < 1:
        raise ValueError(f"{fn}: argument 'input_size' must be >= 1, got {(H, W)}")
    grad_input = cp.empty((grad_output.shape[0], grad_output.shape[1], H, W), dtype=grad_output.dtype)
    _K.max_pool2d_backward(grad_output.dtype.name, _desc(fn, "grad_output", grad_output),
                           _desc(fn, "indices", indices), _desc(fn, "grad_input", grad_input), _stream())
    return grad_input


def _divisor(fn, divisor_override):
    d = int(divisor_override or 0)
    if d < 0:
        raise ValueError(f"{fn}: argument 'divisor_override' must be positive (0 means none), got {d}")
    return d or None


@_on_device("avg_pool2d")
def avg_pool2d(input, kernel_size, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
               divisor_override=0):
    fn = "avg_pool2d"
    cp = _cp()
    _check_array(fn, "input", input, ndim=4)
    k, s, p, _ = _pool_args(fn, kernel_size, stride, padding, (1, 1))
    N, C, H, W = input.shape
    out = cp.empty((N, C, _pool_out(H, k[0], s[0], p[0], 1, ceil_mode), _pool_out(W, k[1], s[1], p[1], 1, ceil_mode)),
                   dtype=input.dtype)
    _K.avg_pool2d_forward(input.dtype.name, _desc(fn, "input", input), _desc(fn, "out", out), k, s, p,
                          bool(ceil_mode), bool(count_include_pad), _divisor(fn, divisor_override), _stream())
    return out


@_on_device("avg_pool2d_backward")
def avg_pool2d_backward(grad_output, input_size, kernel_size, stride, padding=(0, 0), ceil_mode=False,
                        count_include_pad=True, divisor_override=0):
    fn = "avg_pool2d_backward"
    cp = _cp()
    _check_array(fn, "grad_output", grad_output, ndim=4)
    k, s, p, _ = _pool_args(fn, kernel_size, stride, padding, (1, 1))
    H, W = _pair(fn, "input_size", input_size)
    if H < 1 or W < 1:
        raise ValueError(f"{fn}: argument 'input_size' must be >= 1, got {(H, W)}")
    grad_input = cp.empty((grad_output.shape[0], grad_output.shape[1], H, W), dtype=grad_output.dtype)
    _K.avg_pool2d_backward(grad_output.dtype.name, _desc(fn, "grad_output", grad_output),
                           _desc(fn, "grad_input", grad_input), k, s, p, bool(ceil_mode), bool(count_include_pad),
                           _divisor(fn, divisor_override), _stream())
    return grad_input


def _sizes(fn, name, v):
    vals = _pair(fn, name, v)
    if min(vals) < 1:
        raise ValueError(f"{fn}: argument '{name}' must be two positive sizes, got {tuple(vals)}")
    return vals


@_on_device("adaptive_avg_pool2d")
def adaptive_avg_pool2d(input, output_size):
    fn = "adaptive_avg_pool2d"
    cp = _cp()
    _check_array(fn, "input", input, ndim=4)
    OH, OW = _sizes(fn, "output_size", output_size)
    out = cp.empty((input.shape[0], input.shape[1], OH, OW), dtype=input.dtype)
    _K.adaptive_avg_pool2d_forward(input.dtype.name, _desc(fn, "input", input), _desc(fn, "out", out), _stream())
    return out


@_on_device("adaptive_avg_pool2d_backward")
def adaptive_avg_pool2d_backward(grad_output, input_size):
    fn = "adaptive_avg_pool2d_backward"
    cp = _cp()
    _check_array(fn, "grad_output", grad_output, ndim=4)
    H, W = _sizes(fn, "input_size", input_size)
    grad_input = cp.empty((grad_output.shape[0], grad_output.shape[1], H, W), dtype=grad_output.dtype)
    _K.adaptive_avg_pool2d_backward(grad_output.dtype.name, _desc(fn, "grad_output", grad_output),
                                    _desc(fn, "grad_input", grad_input), _stream())
    return grad_input


@_on_device("adaptive_max_pool2d")
def adaptive_max_pool2d(input, output_size, with_indices=True):
    fn = "adaptive_max_pool2d"
    cp = _cp()
    _check_array(fn, "input", input, ndim=4)
    OH, OW = _sizes(fn, "output_size", output_size)
    shape = (input.shape[0], input.shape[1], OH, OW)
    out = cp.empty(shape, dtype=input.dtype)
    idx = cp.empty(shape, dtype=cp.int64)
    _K.adaptive_max_pool2d_forward(input.dtype.name, _desc(fn, "input", input), _desc(fn, "out", out),
                                   _desc(fn, "indices", idx), _stream())
    return out, (idx if with_indices else None)


# ---------------------------------------------------------------------------- resampling
def _interp_args(fn, mode, scales):
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{fn}: argument 'mode' must be 'nearest' or 'bilinear', got {mode!r}")
    sc = list(scales)
    if len(sc) != 2:
        raise ValueError(f"{fn}: argument 'scales' must have 2 values, got {len(sc)}")
    # 0 (or None) means "from the sizes", as in the CPU module.
    return [None if not s or float(s) <= 0 else float(s) for s in sc]


@_on_device("upsample2d")
def upsample2d(input, mode, output_size, align_corners=False, scales=(0.0, 0.0)):
    """Nearest or bilinear resampling of NCHW ``input``; ``scales`` are the user's factors (0: from the sizes)."""
    fn = "upsample2d"
    cp = _cp()
    sh, sw = _interp_args(fn, mode, scales)
    _check_array(fn, "input", input, ndim=4)
    OH, OW = _sizes(fn, "output_size", output_size)
    out = cp.empty((input.shape[0], input.shape[1], OH, OW), dtype=input.dtype)
    args = (input.dtype.name, _desc(fn, "input", input), _desc(fn, "out", out))
    if mode == "nearest":
        _K.upsample_nearest2d_forward(*args, sh, sw, _stream())
    else:
        _K.upsample_bilinear2d_forward(*args, bool(align_corners), sh, sw, _stream())
    return out


@_on_device("upsample2d_backward")
def upsample2d_backward(grad_output, mode, input_size, align_corners=False, scales=(0.0, 0.0)):
    fn = "upsample2d_backward"
    cp = _cp()
    sh, sw = _interp_args(fn, mode, scales)
    _check_array(fn, "grad_output", grad_output, ndim=4)
    H, W = _sizes(fn, "input_size", input_size)
    grad_input = cp.empty((grad_output.shape[0], grad_output.shape[1], H, W), dtype=grad_output.dtype)
    args = (grad_output.dtype.name, _desc(fn, "grad_output", grad_output), _desc(fn, "grad_input", grad_input))
    if mode == "nearest":
        _K.upsample_nearest2d_backward(*args, sh, sw, _stream())
    else:
        _K.upsample_bilinear2d_backward(*args, bool(align_corners), sh, sw, _stream())
    return grad_input


# ---------------------------------------------------------------------------- optimisers
def _optim_descs(fn, param, **arrays):
    """Descriptors of the flat views of ``param`` and the other arrays (None stays None): one shape and
    dtype, contiguous."""
    descs = []
    for name, a in (("param", param),) + tuple(arrays.items()):
        if a is None:
            descs.append(None)
            continue
        _check_array(fn, name, a, dtype=param.dtype.name)
        if a.shape != param.shape:
            raise ValueError(f"{fn}: argument '{name}' has shape {tuple(a.shape)}, 'param' {tuple(param.shape)}")
        if not a.flags.c_contiguous:
            raise ValueError(f"{fn}: argument '{name}' must be contiguous")
        descs.append(_desc(fn, name, a.reshape(-1)))
    return descs


@_on_device("adam_step")
def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars):
    """One fused Adam/AdamW update, in place, of contiguous arrays of one shape and dtype; ``scalars``
    holds the hyper-parameters as ``fastnn.optim.Adam`` combines them (see its step)."""
    descs = _optim_descs("adam_step", param, grad=grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq,
                         max_exp_avg_sq=max_exp_avg_sq)
    _K.adam_step(param.dtype.name, *descs, scalars, _stream())


@_on_device("sgd_step")
def sgd_step(param, grad, momentum_buffer, scalars):
    """One fused SGD update in place (see ``fastnn.optim.SGD``'s step for ``scalars``)."""
    descs = _optim_descs("sgd_step", param, grad=grad, momentum_buffer=momentum_buffer)
    _K.sgd_step(param.dtype.name, *descs, scalars, _stream())
