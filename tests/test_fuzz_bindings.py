"""Fuzzing of every native binding with hypothesis: odd shapes, zero sizes, negative and huge
arguments, wrong dtypes, non-contiguous, overlapping and read-only views, NaN/Inf values.

Each call must either succeed (and then agree with a plain reference where one is cheap) or raise
a Python exception whose message names the function or the offending argument: never a crash,
never a hang. Every kernel family joins this file: FAMILY_CASES below must cover every public
function of the module (test_every_binding_is_fuzzed fails otherwise). A run executes at least
10,000 cases in total (test_total_case_count)."""
from __future__ import annotations

import math

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fastnn import _C  # noqa: E402

# Python exceptions a binding may raise for bad input; MemoryError only for a real allocation
# the machine cannot make (the size itself is validated before that).
ALLOWED = (ValueError, TypeError, IndexError, OverflowError, MemoryError, RuntimeError)
EXAMPLES = 800  # per test: fourteen tests keep a run above 10,000 cases
_counts: dict[str, int] = {}

SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

ODD_DTYPES = (np.int64, np.int32, np.float16, np.bool_, np.complex64, np.uint8)
SMALL = st.integers(-2, 7)
# Huge values either overflow a size computation or ask for more memory than exists (2**40
# elements and up fail at once); valid sizes that allocate gigabytes would only make the run slow.
HUGE = st.sampled_from([2 ** 40, 2 ** 62, 2 ** 63 - 1, -(2 ** 31), -(2 ** 62)])


def ints(lo=-2, hi=7):
    """Mostly small ints (negative ones included), sometimes huge ones."""
    return st.one_of(st.integers(lo, hi), st.integers(lo, hi), st.integers(lo, hi), HUGE)


def pairs(lo=-1, hi=5):
    return st.one_of(st.lists(ints(lo, hi), min_size=2, max_size=2),
                     st.lists(st.integers(0, 4), min_size=0, max_size=4))


@st.composite
def arrays(draw, ndim, dims=st.integers(0, 9), dtype=None, int_values=None):
    """An array of (usually) `ndim` dims in one of many memory layouts."""
    if draw(st.integers(0, 19)) == 0:
        ndim = draw(st.integers(0, 5))
    shape = tuple(draw(dims) for _ in range(ndim))
    if dtype is None:
        dtype = draw(st.sampled_from((np.float32, np.float64) * 4 + ODD_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    layout = draw(st.sampled_from(("c", "c", "transposed", "strided", "reversed", "broadcast", "fortran",
                                   "readonly", "unaligned")))

    def fill(shp):
        if int_values is not None:
            return np.array(rng.integers(int_values[0], int_values[1], size=shp), dtype=dtype)
        a = np.array(rng.standard_normal(shp) * 3)
        if draw(st.integers(0, 4)) == 0 and a.size:
            flat = a.reshape(-1)
            flat[rng.integers(0, flat.size, size=max(1, flat.size // 7))] = rng.choice([np.nan, np.inf, -np.inf])
        with np.errstate(invalid="ignore"):
            return np.array(a, dtype=dtype)

    if layout == "transposed" and ndim >= 2:
        a = fill(shape[:-2] + (shape[-1], shape[-2])).swapaxes(-1, -2)
    elif layout == "strided" and ndim >= 1:
        a = fill(shape[:-1] + (2 * shape[-1],))[..., ::2]
    elif layout == "reversed" and ndim >= 1:
        a = fill(shape)[..., ::-1]
    elif layout == "broadcast" and ndim >= 1:
        a = np.broadcast_to(fill(shape[:-1] + (1,)), shape)
    elif layout == "fortran":
        a = np.asfortranarray(fill(shape))
    elif layout == "readonly":
        a = fill(shape)
        a.flags.writeable = False
    elif layout == "unaligned" and ndim >= 1 and np.dtype(dtype).itemsize > 1:
        base = fill(shape)
        raw = np.zeros(base.nbytes + 1, np.uint8)
        a = raw[1:].view(dtype).reshape(shape)
        a[...] = base
    else:
        a = fill(shape)
    return a


def _names_argument(msg, fn, argnames):
    return fn in msg or any(a in msg for a in argnames) or "incompatible function arguments" in msg


def call(fn, argnames, *args, **kwargs):
    """Runs _C.<fn>: returns its result, or None after checking the exception it raised."""
    _counts[fn] = _counts.get(fn, 0) + 1
    try:
        with np.errstate(all="ignore"):
            return getattr(_C, fn)(*args, **kwargs)
    except ALLOWED as e:
        msg = str(e)
        if isinstance(e, MemoryError):
            return None
        assert _names_argument(msg, fn, argnames), f"{fn} raised {type(e).__name__} without naming the argument: {msg}"
        return None


def _floats(*arrays_):
    return all(a.dtype in (np.float32, np.float64) for a in arrays_)


def _close(got, want, dtype):
    tol = 1e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (1 + np.nanmax(np.abs(want), initial=0)))


# ----------------------------------------------------------------------------------------- gemm
@SETTINGS
@given(st.data())
def test_fuzz_gemm(data):
    a = data.draw(arrays(3))
    b = data.draw(arrays(3))
    mode = data.draw(st.sampled_from(("fresh", "fresh", "fresh", "alias_a", "alias_b", "bad")))
    if mode == "fresh" and a.ndim == 3 and b.ndim == 3:
        out = np.full((a.shape[0], a.shape[1], b.shape[2]), 7, dtype=a.dtype)
    elif mode == "alias_a":
        out = a
    elif mode == "alias_b":
        out = b
    else:
        out = data.draw(arrays(3))
    alpha = data.draw(st.sampled_from((1.0, 0.0, -2.5, math.nan, math.inf)))
    beta = data.draw(st.sampled_from((0.0, 1.0, 0.5)))
    before = out.copy() if isinstance(out, np.ndarray) else None
    if mode.startswith("alias"):
        r = call("gemm", ("a", "b", "out"), a, b, out, alpha, beta)
        if r is None and not (a.size == 0 or b.size == 0):
            # A refused call leaves the output untouched.
            np.testing.assert_array_equal(out, before)
        return
    res = call("gemm", ("a", "b", "out"), a, b, out, alpha, beta)
    ok = res is None and a.ndim == b.ndim == out.ndim == 3 and _floats(a, b, out) and a.dtype == b.dtype == out.dtype \
        and a.shape[0] == b.shape[0] == out.shape[0] and a.shape[2] == b.shape[1] \
        and out.shape == (a.shape[0], a.shape[1], b.shape[2]) and out.flags.writeable \
        and not np.may_share_memory(out, a) and not np.may_share_memory(out, b) \
        and math.isfinite(alpha) and alpha != 0.0 and np.all(np.isfinite(a)) and np.all(np.isfinite(b)) \
        and np.all(np.isfinite(before))
    if ok:
        want = alpha * np.matmul(a.astype(np.float64), b.astype(np.float64)) + beta * before
        _close(out, want, a.dtype)


# ----------------------------------------------------------------------------------------- conv
def _conv_ref(x, w, b, stride, pad, dil, groups):
    """Plain float64 cross-correlation; pad is (top, bottom, left, right)."""
    N, C, H, W = x.shape
    OC, Cg, KH, KW = w.shape
    xp = np.zeros((N, C, H + pad[0] + pad[1], W + pad[2] + pad[3]))
    xp[:, :, pad[0]:pad[0] + H, pad[2]:pad[2] + W] = x
    OH = (xp.shape[2] - dil[0] * (KH - 1) - 1) // stride[0] + 1
    OW = (xp.shape[3] - dil[1] * (KW - 1) - 1) // stride[1] + 1
    y = np.zeros((N, OC, OH, OW))
    OCg = OC // groups
    for g in range(groups):
        for kh in range(KH):
            for kw in range(KW):
                patch = xp[:, g * Cg:(g + 1) * Cg, kh * dil[0]:kh * dil[0] + stride[0] * (OH - 1) + 1:stride[0],
                           kw * dil[1]:kw * dil[1] + stride[1] * (OW - 1) + 1:stride[1]]
                y[:, g * OCg:(g + 1) * OCg] += np.einsum("nchw,oc->nohw", patch, w[g * OCg:(g + 1) * OCg, :, kh, kw])
    if b is not None:
        y += b[None, :, None, None]
    return y


CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups", "grad_output", "input_size",
             "kernel_size", "conv2d")


@SETTINGS
@given(st.data())
def test_fuzz_conv2d_forward(data):
    x = data.draw(arrays(4, dims=st.integers(0, 6)))
    w = data.draw(arrays(4, dims=st.integers(0, 4)))
    bias = data.draw(st.one_of(st.none(), arrays(1, dims=st.integers(0, 6))))
    stride, dil = data.draw(pairs(-1, 3)), data.draw(pairs(-1, 3))
    padding = data.draw(st.one_of(st.lists(ints(-1, 3), min_size=4, max_size=4), pairs(-1, 3)))
    groups = data.draw(ints(-1, 3))
    y = call("conv2d_forward", CONV_ARGS, x, w, bias, stride, padding, dil, groups)
    if y is None or not _floats(x, w) or not (np.all(np.isfinite(x)) and np.all(np.isfinite(w))):
        return
    if bias is not None and not np.all(np.isfinite(bias)):
        return
    want = _conv_ref(x.astype(np.float64), w.astype(np.float64), None if bias is None else bias.astype(np.float64),
                     stride, padding, dil, groups)
    assert y.shape == want.shape
    _close(y, want, x.dtype)


@SETTINGS
@given(st.data())
def test_fuzz_conv2d_backward_input(data):
    dy = data.draw(arrays(4, dims=st.integers(0, 6)))
    w = data.draw(arrays(4, dims=st.integers(0, 4)))
    input_size = data.draw(pairs(-1, 9))
    r = call("conv2d_backward_input", CONV_ARGS, dy, w, input_size, data.draw(pairs(-1, 3)),
             data.draw(pairs(-1, 3)), data.draw(pairs(-1, 3)), data.draw(ints(-1, 3)))
    if r is not None:
        assert r.ndim == 4 and tuple(r.shape[2:]) == tuple(input_size)


@SETTINGS
@given(st.data())
def test_fuzz_conv2d_backward_weight(data):
    x = data.draw(arrays(4, dims=st.integers(0, 6)))
    dy = data.draw(arrays(4, dims=st.integers(0, 6)))
    kernel = data.draw(pairs(-1, 4))
    r = call("conv2d_backward_weight", CONV_ARGS, x, dy, kernel, data.draw(pairs(-1, 3)),
             data.draw(pairs(-1, 3)), data.draw(pairs(-1, 3)), data.draw(ints(-1, 3)))
    if r is not None:
        assert r.ndim == 4 and tuple(r.shape[2:]) == tuple(kernel)


# ----------------------------------------------------------------------------------------- pool
POOL_ARGS = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "grad_output", "indices",
             "input_size", "output_size", "divisor_override", "count_include_pad")


def _max_pool_ref(x, k, s, p, d, out_hw):
    N, C, H, W = x.shape
    xp = np.full((N, C, H + 2 * p[0], W + 2 * p[1]), -np.inf)
    xp[:, :, p[0]:p[0] + H, p[1]:p[1] + W] = x
    OH, OW = out_hw
    y = np.full((N, C, OH, OW), -np.inf)
    for i in range(k[0]):
        for j in range(k[1]):
            rows = np.minimum(np.arange(OH) * s[0] + i * d[0], xp.shape[2] - 1)
            cols = np.minimum(np.arange(OW) * s[1] + j * d[1], xp.shape[3] - 1)
            y = np.maximum(y, xp[:, :, rows][:, :, :, cols])
    return y


@SETTINGS
@given(st.data())
def test_fuzz_max_pool2d(data):
    x = data.draw(arrays(4, dims=st.integers(0, 9)))
    k, s, p, d = (data.draw(pairs(lo, 4)) for lo in (-1, -1, -1, -1))
    ceil_mode = data.draw(st.booleans())
    r = call("max_pool2d", POOL_ARGS, x, k, s, p, d, ceil_mode, data.draw(st.booleans()))
    if r is None:
        return
    y, idx = r
    assert y.shape[:2] == x.shape[:2]
    if idx is not None:
        assert idx.shape == y.shape and idx.dtype == np.int64
        assert y.size == 0 or (idx.min() >= 0 and idx.max() < x.shape[2] * x.shape[3])
    if _floats(x) and np.all(np.isfinite(x)) and not ceil_mode and y.size:
        _close(y, _max_pool_ref(x.astype(np.float64), k, s, p, d, y.shape[2:]), x.dtype)


@SETTINGS
@given(st.data())
def test_fuzz_max_pool2d_backward(data):
    dy = data.draw(arrays(4, dims=st.integers(0, 5)))
    idx = data.draw(arrays(4, dims=st.integers(0, 5), dtype=data.draw(st.sampled_from((np.int64, np.int64, np.int32))),
                           int_values=data.draw(st.sampled_from(((0, 4), (-3, 3), (0, 40), (2 ** 40, 2 ** 41))))))
    input_size = data.draw(pairs(-1, 7))
    r = call("max_pool2d_backward", POOL_ARGS, dy, idx, input_size)
    if r is not None:
        assert tuple(r.shape[2:]) == tuple(input_size)


@SETTINGS
@given(st.data())
def test_fuzz_avg_pool2d(data):
    x = data.draw(arrays(4, dims=st.integers(0, 9)))
    r = call("avg_pool2d", POOL_ARGS, x, data.draw(pairs(-1, 4)), data.draw(pairs(-1, 4)), data.draw(pairs(-1, 3)),
             data.draw(st.booleans()), data.draw(st.booleans()), data.draw(st.one_of(st.just(0), ints(-2, 5))))
    if r is not None:
        assert r.shape[:2] == x.shape[:2]


@SETTINGS
@given(st.data())
def test_fuzz_avg_pool2d_backward(data):
    dy = data.draw(arrays(4, dims=st.integers(0, 6)))
    r = call("avg_pool2d_backward", POOL_ARGS, dy, data.draw(pairs(-1, 9)), data.draw(pairs(-1, 4)),
             data.draw(pairs(-1, 4)), data.draw(pairs(-1, 3)), data.draw(st.booleans()), data.draw(st.booleans()),
             data.draw(st.one_of(st.just(0), ints(-2, 5))))
    if r is not None:
        assert r.shape[:2] == dy.shape[:2]


@SETTINGS
@given(st.data())
def test_fuzz_adaptive_pools(data):
    x = data.draw(arrays(4, dims=st.integers(0, 9)))
    size = data.draw(pairs(-1, 9))
    which = data.draw(st.sampled_from(("adaptive_avg_pool2d", "adaptive_avg_pool2d_backward", "adaptive_max_pool2d")))
    if which == "adaptive_max_pool2d":
        r = call(which, POOL_ARGS, x, size, data.draw(st.booleans()))
        if r is not None:
            y, idx = r
            assert tuple(y.shape[2:]) == tuple(size)
            if _floats(x) and y.size and x.size:
                # Each output is the maximum of its window: no larger than the plane's maximum.
                with np.errstate(invalid="ignore"):
                    assert np.all((y <= x.max(axis=(2, 3), keepdims=True)) | np.isnan(y))
        return
    r = call(which, POOL_ARGS, x, size)
    if r is not None:
        assert tuple(r.shape[2:]) == tuple(size)
        if which == "adaptive_avg_pool2d" and _floats(x) and np.all(np.isfinite(x)) and x.size:
            # Windows cover the whole plane: the output's mean lies within the input's range.
            assert np.all(r <= x.max(axis=(2, 3), keepdims=True) + 1e-3)
            assert np.all(r >= x.min(axis=(2, 3), keepdims=True) - 1e-3)


# ----------------------------------------------------------------------------------------- interp
INTERP_ARGS = ("input", "mode", "output_size", "align_corners", "scales", "grad_output", "input_size")


@SETTINGS
@given(st.data())
def test_fuzz_upsample2d(data):
    x = data.draw(arrays(4, dims=st.integers(0, 7)))
    mode = data.draw(st.sampled_from(("nearest", "bilinear", "nearest", "bilinear", "bicubic", "", "NEAREST")))
    size = data.draw(pairs(-1, 12))
    scales = data.draw(st.one_of(st.just([0.0, 0.0]),
                                 st.lists(st.sampled_from((0.0, 2.0, 0.5, -1.0, math.nan, math.inf, 1e300)),
                                          min_size=0, max_size=3)))
    align = data.draw(st.booleans())
    r = call("upsample2d", INTERP_ARGS, x, mode, size, align, scales)
    if r is None:
        return
    assert tuple(r.shape[2:]) == tuple(size) and r.shape[:2] == x.shape[:2]
    if mode == "nearest" and _floats(x) and r.size and list(scales) == [0.0, 0.0]:
        H, W = x.shape[2:]
        rows = np.minimum((np.arange(size[0]) * (H / size[0])).astype(np.int64), H - 1)
        cols = np.minimum((np.arange(size[1]) * (W / size[1])).astype(np.int64), W - 1)
        np.testing.assert_array_equal(r, x[:, :, rows][:, :, :, cols])


@SETTINGS
@given(st.data())
def test_fuzz_upsample2d_backward(data):
    dy = data.draw(arrays(4, dims=st.integers(0, 9)))
    mode = data.draw(st.sampled_from(("nearest", "bilinear", "bicubic")))
    size = data.draw(pairs(-1, 7))
    scales = data.draw(st.one_of(st.just([0.0, 0.0]),
                                 st.lists(st.sampled_from((0.0, 2.0, 0.5, -1.0, math.nan, math.inf)),
                                          min_size=0, max_size=3)))
    r = call("upsample2d_backward", INTERP_ARGS, dy, mode, size, data.draw(st.booleans()), scales)
    if r is not None:
        assert tuple(r.shape[2:]) == tuple(size)
        if _floats(dy) and np.all(np.isfinite(dy)) and dy.size:
            # The backward of a resampling that copies or interpolates conserves the total.
            if mode == "nearest" or r.size:
                np.testing.assert_allclose(r.sum(axis=(2, 3)), dy.sum(axis=(2, 3)), rtol=1e-3, atol=1e-2)


# ----------------------------------------------------------------------------------------- shapes
SIZE_ARGS = ("input_size", "kernel_size", "stride", "padding", "dilation", "output_padding", "ceil_mode")


def _conv_size(n, k, s, pa, pb, d):
    return (n + pa + pb - d * (k - 1) - 1) // s + 1


@SETTINGS
@given(st.data())
def test_fuzz_output_sizes(data):
    which = data.draw(st.sampled_from(("conv2d_output_size", "conv_transpose2d_output_size", "pool2d_output_size")))
    size, k, s, d = (data.draw(pairs(lo, 9)) for lo in (-1, -1, -1, -1))
    pad = data.draw(st.one_of(pairs(-1, 4), st.lists(ints(-1, 4), min_size=4, max_size=4)))
    if which == "conv2d_output_size":
        r = call(which, SIZE_ARGS, size, k, s, pad, d)
        if r is not None:
            p4 = (pad[0], pad[0], pad[1], pad[1]) if len(pad) == 2 else pad
            assert tuple(r) == (_conv_size(size[0], k[0], s[0], p4[0], p4[1], d[0]),
                                _conv_size(size[1], k[1], s[1], p4[2], p4[3], d[1]))
    elif which == "conv_transpose2d_output_size":
        op = data.draw(pairs(-1, 3))
        r = call(which, SIZE_ARGS, size, k, s, pad, op, d)
        if r is not None:
            assert tuple(r) == tuple((size[i] - 1) * s[i] - 2 * pad[i] + d[i] * (k[i] - 1) + op[i] + 1
                                     for i in range(2))
    else:
        ceil_mode = data.draw(st.booleans())
        r = call(which, SIZE_ARGS, size, k, s, pad, d, ceil_mode)
        if r is not None and not ceil_mode:
            assert tuple(r) == tuple(_conv_size(size[i], k[i], s[i], pad[i], pad[i], d[i]) for i in range(2))


# ----------------------------------------------------------------------------------------- optim
OPTIM_ARGS = ("param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", "scalars")
ADAM = dict(l2=0.0, decay=1.0, w=0.1, one_minus_w=0.9, beta2=0.999, one_minus_beta2=0.001,
            bias_correction2_sqrt=0.1, eps=1e-8, step_size=1e-3, lerp_low=True, maximize=False, amsgrad=False)
SGD = dict(l2=0.0, momentum=0.9, one_minus_dampening=1.0, lr=0.1, dampened=False, nesterov=False, maximize=False,
           first=True)


@st.composite
def scalars(draw, base):
    d = dict(base)
    for key in list(d):
        r = draw(st.integers(0, 29))
        if r == 0:
            del d[key]
        elif r == 1:
            d[key] = draw(st.sampled_from((math.nan, math.inf, -1.0, "x", None, True, 0)))
    return d


@SETTINGS
@given(st.data())
def test_fuzz_optimiser_steps(data):
    n = data.draw(st.integers(0, 40))
    shape = data.draw(st.sampled_from(((n,), (), (n, 3), (2, n))))

    def arg():
        r = data.draw(st.integers(0, 9))
        if r == 0:
            return None
        if r == 1:
            return data.draw(arrays(len(shape)))
        if r == 2:
            return [0.0] * n
        return np.zeros(shape, data.draw(st.sampled_from((np.float32, np.float64))))

    if data.draw(st.booleans()):
        p, g, m, v = (arg() for _ in range(4))
        vmax = arg() if data.draw(st.booleans()) else None
        sc = data.draw(scalars(dict(ADAM, amsgrad=vmax is not None)))
        if data.draw(st.integers(0, 4)) == 0 and isinstance(p, np.ndarray):
            m = p  # an output aliasing another
        call("adam_step", OPTIM_ARGS, p, g, m, v, vmax, sc)
    else:
        p, g, buf = arg(), arg(), arg()
        call("sgd_step", OPTIM_ARGS, p, g, buf, data.draw(scalars(SGD)))


# ----------------------------------------------------------------------------------------- random
RANDOM_ARGS = ("out", "key", "offset", "p", "mean", "std", "dist", "counter")


@SETTINGS
@given(st.data())
def test_fuzz_random_fills(data):
    which = data.draw(st.sampled_from(("philox_uniform", "philox_normal", "dropout_mask", "philox_fill_reference",
                                       "philox4x32_10")))
    key = data.draw(st.one_of(st.integers(0, 2 ** 64 - 1), st.integers(-5, -1), st.just(2 ** 64),
                              st.sampled_from((1.5, "k", None, True))))
    offset = data.draw(st.one_of(st.integers(0, 2 ** 64 - 1), st.just(-1), st.just(2 ** 70)))
    if which == "philox4x32_10":
        words = data.draw(st.lists(st.integers(-1, 2 ** 33), min_size=0, max_size=5))
        call(which, RANDOM_ARGS, words, data.draw(st.lists(st.integers(-1, 2 ** 33), min_size=0, max_size=3)))
        return
    out = data.draw(arrays(data.draw(st.integers(0, 3)), dims=st.integers(0, 40)))
    p = data.draw(st.sampled_from((0.0, 0.5, 1.0, 0.999, -0.1, 1.5, math.nan)))
    if which == "philox_uniform":
        r = call(which, RANDOM_ARGS, out, key, offset)
        if r is not None and out.size:
            assert np.all((out >= 0) & (out < 1))
    elif which == "philox_normal":
        r = call(which, RANDOM_ARGS, out, key, offset, data.draw(st.sampled_from((0.0, 2.0, math.inf))),
                 data.draw(st.sampled_from((1.0, 0.0, -1.0, math.nan))))
        if r is not None and out.size:
            assert np.all(np.isfinite(out))
    elif which == "dropout_mask":
        r = call(which, RANDOM_ARGS, out, p, key, offset)
        if r is not None and out.size:
            assert set(np.unique(out)) <= {0.0, out.dtype.type(1.0 / (1.0 - p)) if p < 1 else 0.0}
    else:
        dist = data.draw(st.sampled_from(("uniform", "normal", "keep_mask", "poisson")))
        call(which, RANDOM_ARGS, dist, out, key, offset, p)


# ----------------------------------------------------------------------------------------- word2vec
W2V_ARGS = ("syn0", "syn1neg", "tokens", "offsets", "keep_prob", "cum_table", "window", "negative", "alpha",
            "min_alpha", "word_start", "total_words", "key", "offset", "threads")


@SETTINGS
@given(st.data())
def test_fuzz_word2vec_train(data):
    V = data.draw(st.integers(0, 6))
    D = data.draw(st.integers(0, 5))

    def table():
        if data.draw(st.integers(0, 5)) == 0:
            return data.draw(arrays(2))
        return np.zeros((V, D), data.draw(st.sampled_from((np.float32, np.float64))))

    syn0 = table()
    syn1 = syn0 if data.draw(st.integers(0, 9)) == 0 else table()
    tokens = data.draw(arrays(1, dims=st.integers(0, 12), dtype=data.draw(st.sampled_from((np.int64, np.int32))),
                              int_values=(-1, V + 1)))
    n = len(tokens) if tokens.ndim == 1 else 0
    cuts = sorted(data.draw(st.lists(st.integers(-1, n + 1), min_size=0, max_size=4)))
    offsets = np.array(cuts if data.draw(st.integers(0, 4)) else cuts[::-1], np.int64)
    keep = data.draw(st.one_of(st.none(), arrays(1, dims=st.just(V), dtype=np.float64)))
    if keep is not None and data.draw(st.booleans()):
        with np.errstate(invalid="ignore"):
            keep = np.abs(keep) / (1 + np.abs(keep))
    cum = data.draw(st.one_of(st.none(), st.just(np.arange(1, V + 1, dtype=np.int64)),
                              arrays(1, dims=st.integers(0, 7), dtype=np.int64, int_values=(-2, 2 ** 33))))
    r = call("word2vec_train", W2V_ARGS, syn0, syn1, tokens, offsets, keep, cum,
             data.draw(ints(-1, 4)), data.draw(ints(-1, 4)), data.draw(st.booleans()), data.draw(st.booleans()),
             data.draw(st.sampled_from((0.025, 0.0, -1.0, math.nan, math.inf))), 1e-4,
             data.draw(ints(-1, 50)), data.draw(ints(-1, 50)),
             data.draw(st.sampled_from((1, 0, -1, 2 ** 64, 2 ** 64 - 1, "k"))), data.draw(st.sampled_from((0, -1, 2 ** 64 - 3))),
             data.draw(st.sampled_from((0, 1, 2, -1, 5000))))
    if r is not None:
        assert r[0] == len(tokens) and 0 <= r[1] <= len(tokens)
        # accepted only with valid values: ids in range, offsets ordered within the tokens
        assert ((tokens >= 0) & (tokens < syn0.shape[0])).all()
        assert offsets.size >= 1 and (np.diff(offsets) >= 0).all() and offsets.min() >= 0 and offsets.max() <= n


# ----------------------------------------------------------------------------------------- segment
SEGMENT_ARGS = ("src", "index", "offsets", "mode", "weights", "skip", "grad", "argmax", "num_rows", "dst", "ids",
                "rows", "alpha", "max_norm", "norm_type", "param", "exp_avg", "exp_avg_sq", "scalars", "weight_index",
                "deterministic", "a", "heads", "num_out", "perm", "out")
SPARSE_ADAM = dict(one_minus_beta1=0.1, one_minus_beta2=0.001, eps=1e-8, neg_step_size=-1e-3, maximize=False)


@st.composite
def index_lists(draw, rows, dtype=None):
    """Mostly valid 1-D index lists for a table of `rows` rows; sometimes out of range, unsorted, odd."""
    n = draw(st.integers(0, 12))
    lo, hi = draw(st.sampled_from(((0, max(rows, 1)), (0, max(rows, 1)), (-3, rows + 3), (rows, rows + 2))))
    dt = dtype or draw(st.sampled_from((np.int64, np.int64, np.int32, np.float32, np.uint8)))
    if draw(st.integers(0, 5)) == 0:
        return draw(arrays(1, dtype=dt, int_values=(lo, hi)))
    return np.array(np.random.default_rng(draw(st.integers(0, 2 ** 16))).integers(lo, hi, n), dtype=dt)


@SETTINGS
@given(st.data())
def test_fuzz_segment_lookups(data):
    rows, d = data.draw(st.integers(0, 8)), data.draw(st.integers(0, 6))
    src = data.draw(st.one_of(arrays(2, dims=st.integers(0, 6)),
                              st.just(np.random.default_rng(0).standard_normal((rows, d)).astype(np.float32))))
    nrows = src.shape[0] if src.ndim >= 1 else 0
    which = data.draw(st.sampled_from(("gather_rows", "segment_reduce", "segment_reduce_reference",
                                       "segment_max_backward", "index_coalesce")))
    index = data.draw(index_lists(nrows))
    if which == "gather_rows":
        out = call(which, SEGMENT_ARGS, src, index)
        if out is not None and out.size:
            np.testing.assert_array_equal(out, src[index.astype(np.int64)])
    elif which.startswith("segment_reduce"):
        n = index.shape[0] if index.ndim == 1 else 0
        cuts = sorted(data.draw(st.lists(st.integers(-1, n + 1), min_size=0, max_size=5)))
        offsets = np.array(data.draw(st.sampled_from((cuts, [0] + cuts, cuts[::-1]))), dtype=data.draw(
            st.sampled_from((np.int64, np.int64, np.int32))))
        mode = data.draw(st.sampled_from(("sum", "mean", "max", "min")))
        weights = data.draw(st.one_of(st.none(), arrays(1, dims=st.integers(0, 12)), arrays(2, dims=st.integers(0, 6))))
        skip = data.draw(st.sampled_from((-1, 0, 2, 2 ** 40)))
        weight_index = data.draw(st.one_of(st.none(), index_lists(weights.shape[0] if isinstance(weights, np.ndarray)
                                                                  and weights.ndim else 0)))
        if data.draw(st.integers(0, 4)) == 0:
            index = None
        r = call(which, SEGMENT_ARGS, src, index, offsets, mode, weights, skip, weight_index,
                 data.draw(st.booleans()))
        if r is not None and weights is None and index is not None and skip == -1:
            ref, rarg = _C.segment_reduce_reference(src, index, offsets, mode)
            _close(r[0], ref, src.dtype)
    elif which == "segment_max_backward":
        grad = data.draw(arrays(2, dims=st.integers(0, 5)))
        argmax = data.draw(arrays(2, dims=st.integers(0, 5), dtype=np.int64, int_values=(-2, 6)))
        call(which, SEGMENT_ARGS, grad, argmax, data.draw(ints(-2, 8)))
    else:
        r = call(which, SEGMENT_ARGS, index, data.draw(ints(-2, 9)), data.draw(st.sampled_from((-1, 0, 3))))
        if r is not None:
            ids, offsets, order = r
            assert np.all(np.diff(ids) > 0) and offsets[-1] == len(order)


@SETTINGS
@given(st.data())
def test_fuzz_segment_graph(data):
    """segment_dot, csr_from_index and the segment softmax on mostly valid CSR views of small graphs, with bad
    shapes, dtypes, offsets and out-of-range indices mixed in."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    rows, d = data.draw(st.integers(0, 8)), data.draw(st.integers(0, 6))
    dtype = data.draw(st.sampled_from((np.float32, np.float64)))
    which = data.draw(st.sampled_from(("segment_dot", "csr_from_index", "segment_softmax",
                                       "segment_softmax_backward")))
    index = data.draw(index_lists(rows))
    n = index.shape[0] if index.ndim == 1 else 0
    try:  # the CSR view of a valid list; odd lists (bad dtype, unaligned, out of range) get a trivial one
        offsets, perm = _C.csr_from_index(index, rows)
    except (ValueError, TypeError, IndexError):
        offsets, perm = np.array([0, n], np.int64), np.arange(n)
    if data.draw(st.integers(0, 5)) == 0:
        offsets = data.draw(arrays(1, dims=st.integers(0, 6), dtype=np.int64, int_values=(-1, n + 2)))
    if which == "csr_from_index":
        r = call(which, SEGMENT_ARGS, index, data.draw(st.sampled_from((rows, rows, 0, -1, 2 ** 41))))
        if r is not None:
            off, p = r
            assert off[-1] == n and (np.diff(off) >= 0).all() and sorted(p.tolist()) == list(range(n))
    elif which == "segment_dot":
        segs = max(offsets.shape[0] - 1, 0) if offsets.ndim == 1 else 0
        src = data.draw(st.one_of(arrays(2, dims=st.integers(0, 6)),
                                  st.just(rng.standard_normal((rows, d)).astype(dtype))))
        a = data.draw(st.one_of(arrays(2, dims=st.integers(0, 6)),
                                st.just(rng.standard_normal((segs, d)).astype(dtype))))
        heads = data.draw(st.sampled_from((1, 1, 2, 3, 0, -1)))
        weight_index = data.draw(st.one_of(st.none(), st.just(perm), index_lists(n)))
        num_out = data.draw(st.sampled_from((-1, n, n + 2, 0, -5)))
        call(which, SEGMENT_ARGS, a, src, data.draw(st.sampled_from((index, None))), offsets, heads, weight_index,
             num_out)
    else:
        e = perm.shape[0] if perm.ndim == 1 else 0
        src = data.draw(st.one_of(arrays(2, dims=st.integers(0, 6)),
                                  st.just(rng.standard_normal((e, data.draw(st.integers(0, 4)))).astype(dtype))))
        perm = data.draw(st.one_of(st.just(perm), index_lists(e)))
        if which == "segment_softmax":
            r = call(which, SEGMENT_ARGS, src, offsets, perm)
            if r is not None and r.size and np.isfinite(src).all():
                assert np.isfinite(r).all() and (r >= 0).all() and (r <= 1 + 1e-6).all()
        else:
            grad = data.draw(st.one_of(st.just(np.ones_like(src)), arrays(2, dims=st.integers(0, 6))))
            call(which, SEGMENT_ARGS, grad, src, offsets, perm)


@SETTINGS
@given(st.data())
def test_fuzz_segment_row_updates(data):
    rows, d = data.draw(st.integers(0, 8)), data.draw(st.integers(0, 6))
    dtype = data.draw(st.sampled_from((np.float32, np.float64)))
    dst = data.draw(st.one_of(arrays(2, dims=st.integers(0, 6)), st.just(np.zeros((rows, d), dtype))))
    nrows = dst.shape[0] if dst.ndim >= 1 else 0
    ids = data.draw(st.one_of(index_lists(nrows, np.int64),
                              st.just(np.arange(0, nrows, 2, dtype=np.int64)),
                              st.just(np.arange(nrows, dtype=np.int64)[::-1].copy())))
    u = ids.shape[0] if ids.ndim == 1 else 0
    width = dst.shape[1] if dst.ndim == 2 else d
    block = data.draw(st.one_of(arrays(2, dims=st.integers(0, 6)), st.just(np.ones((u, width), dst.dtype))))
    which = data.draw(st.sampled_from(("index_add_rows", "rows_renorm", "sparse_adam_step")))
    if which == "index_add_rows":
        if data.draw(st.integers(0, 5)) == 0:
            block = dst  # overlapping
        call(which, SEGMENT_ARGS, dst, ids, block, data.draw(st.sampled_from((1.0, -0.5, math.nan))))
    elif which == "rows_renorm":
        call(which, SEGMENT_ARGS, dst, ids, data.draw(st.sampled_from((1.0, 0.0, -1.0, math.nan, math.inf))),
             data.draw(st.sampled_from((2.0, 1.0, 0.0, 3.0, math.inf, -math.inf, math.nan))))
    else:
        m = data.draw(st.one_of(st.just(np.zeros_like(dst)), arrays(2, dims=st.integers(0, 6))))
        v = data.draw(st.one_of(st.just(np.zeros_like(dst)), arrays(2, dims=st.integers(0, 6)), st.just(m)))
        call(which, SEGMENT_ARGS, dst, m, v, ids, block, data.draw(scalars(SPARSE_ADAM)))


# ----------------------------------------------------------------------------------------- rnn
RNN_ARGS = ("mode", "xg", "w_hh", "b_ih", "b_hh", "w_hr", "h0", "c0", "batch_sizes", "reverse", "training", "out",
            "saved", "dy", "dh_n", "dc_n", "rnn_forward", "rnn_backward")


@SETTINGS
@given(st.data())
def test_fuzz_rnn(data):
    """Mostly consistent shapes with one argument perturbed: wrong sizes, layouts, dtypes, batch sizes."""
    mode = data.draw(st.sampled_from(("lstm", "gru", "rnn_tanh", "rnn_relu", "lstm", "bad", 3)))
    G = {"lstm": 4, "gru": 3}.get(mode, 1)
    H, B = data.draw(st.integers(0, 5)), data.draw(st.integers(0, 4))
    proj = mode == "lstm" and H > 1 and data.draw(st.booleans())
    P = H - 1 if proj else H
    bs = sorted(data.draw(st.lists(st.integers(0, B), max_size=4)), reverse=True)
    if data.draw(st.integers(0, 9)) == 0:
        bs = data.draw(st.one_of(st.lists(ints(), max_size=4), st.sampled_from(("ab", None, [1.5], 3))))
    small = isinstance(bs, list) and all(isinstance(b, int) and 0 <= b <= 9 for b in bs)
    N = sum(bs) if small else 2
    dt = data.draw(st.sampled_from((np.float32, np.float64)))
    shapes = {"xg": (N, G * H), "w_hh": (G * H, P), "b_ih": (G * H,), "b_hh": (G * H,), "w_hr": (P, H),
              "h0": (B, P), "c0": (B, H), "dy": (N, P), "dh_n": (B, P), "dc_n": (B, H)}
    bad = data.draw(st.sampled_from(tuple(shapes) + ("none",) * 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    args = {}
    for k, shp in shapes.items():
        if k == bad:
            args[k] = data.draw(st.one_of(arrays(len(shp)), st.just(None), st.just([1.0])))
        elif k == "w_hr" and not proj or k in ("c0", "dc_n") and mode != "lstm":
            args[k] = None
        else:
            args[k] = (rng.standard_normal(shp) * 0.5).astype(dt)
    reverse = data.draw(st.booleans())
    r = call("rnn_forward", RNN_ARGS, mode, args["xg"], args["w_hh"], args["b_ih"], args["b_hh"], args["w_hr"],
             args["h0"], args["c0"], bs, reverse, True)
    if r is None:
        return
    out, hn, cn, saved = r
    assert np.isfinite(out).all() and out.shape == (N, P)
    if data.draw(st.integers(0, 3)) == 0:
        saved = data.draw(arrays(3))
    call("rnn_backward", RNN_ARGS, mode, args["w_hh"], args["w_hr"], args["h0"], args["c0"], bs, reverse, out,
         saved, args["dy"], args["dh_n"], args["dc_n"])


# ----------------------------------------------------------------------------------------- attention
ATTENTION_ARGS = ("q", "k", "v", "mask", "is_causal", "scale", "dropout_p", "key", "offset", "dout", "out", "lse",
                  "attention_forward", "attention_backward", "attention_forward_reference",
                  "attention_backward_reference")
NORM_ARGS = ("x", "weight", "bias", "eps", "dy", "mean", "rstd", "output_mask", "num_groups")


@SETTINGS
@given(st.data())
def test_fuzz_attention(data):
    """Mostly consistent shapes with one argument perturbed: other shapes, layouts, dtypes, masks, scalars. A
    forward that succeeds on finite inputs agrees with the plain reference; the backward is then fuzzed."""
    B, Hk, G = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2)), data.draw(st.integers(1, 2))
    Hq, Lq, Lk = Hk * G, data.draw(st.integers(0, 9)), data.draw(st.integers(0, 9))
    D, Dv = data.draw(st.integers(0, 5)), data.draw(st.integers(0, 5))
    dt = data.draw(st.sampled_from((np.float32, np.float64)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    shapes = {"q": (B, Hq, Lq, D), "k": (B, Hk, Lk, D), "v": (B, Hk, Lk, Dv)}
    bad = data.draw(st.sampled_from(tuple(shapes) + ("none",) * 4))
    args = {}
    for name, shp in shapes.items():
        args[name] = data.draw(st.one_of(arrays(4, dims=st.integers(0, 5)), st.just(None), st.just([1.0]))) \
            if name == bad else rng.standard_normal(shp).astype(dt)
    mask_kind = data.draw(st.sampled_from(("none", "none", "bool", "add", "odd")))
    mask = None
    if mask_kind == "bool":
        mshape = tuple(data.draw(st.sampled_from((1, n))) for n in (B, Hq, Lq)) + (Lk,)
        mask = rng.random(mshape) > 0.3
    elif mask_kind == "add":
        mask = rng.standard_normal((1, 1, Lq, Lk)).astype(dt)
    elif mask_kind == "odd":
        mask = data.draw(arrays(data.draw(st.integers(3, 4)), dims=st.integers(0, 5)))
    causal = data.draw(st.booleans())
    scale = data.draw(st.sampled_from((0.5, 1.0, 0.0, -2.0, math.nan, math.inf)))
    p = data.draw(st.sampled_from((0.0, 0.0, 0.3, 1.0, -0.1, math.nan)))
    key, offset = data.draw(st.sampled_from((0, 5, -1, 2 ** 64, 2 ** 64 - 1))), data.draw(st.sampled_from((0, 3, -2)))
    which = data.draw(st.sampled_from(("attention_forward", "attention_forward_reference")))
    r = call(which, ATTENTION_ARGS, args["q"], args["k"], args["v"], mask, causal, scale, p, key, offset)
    if r is None:
        return
    out, lse, counters = r
    q, k, v = args["q"], args["k"], args["v"]
    assert out.shape == q.shape[:3] + (v.shape[3],) and lse.shape == q.shape[:3] and counters >= 0
    finite = all(np.isfinite(a).all() for a in (q, k, v)) and (mask is None or np.isfinite(mask).all())
    if finite and which == "attention_forward" and q.dtype in (np.float32, np.float64):
        ref, ref_lse, _ = _C.attention_forward_reference(q, k, v, mask, causal, scale, p, key, offset)
        _close(out, ref, q.dtype)
    dout = data.draw(st.one_of(st.just(rng.standard_normal(out.shape).astype(out.dtype)),
                               arrays(4, dims=st.integers(0, 5))))
    if data.draw(st.integers(0, 3)) == 0:
        lse = data.draw(arrays(3, dims=st.integers(0, 5)))
    back = data.draw(st.sampled_from(("attention_backward", "attention_backward_reference")))
    g = call(back, ATTENTION_ARGS, dout, q, k, v, out, lse, mask, causal, scale, p, key, offset)
    if g is not None:
        assert g[0].shape == q.shape and g[1].shape == k.shape and g[2].shape == v.shape


# ----------------------------------------------------------------------------------------- norm
def _norm_arguments(data, good, rng, dt):
    """Arrays of the shapes in ``good`` with at most one replaced by a bad value (weight/bias sometimes
    None), an eps among good and bad values, and which binding to call ("" or "_reference")."""
    bad = data.draw(st.sampled_from(tuple(good) + ("none",) * 4))
    args = {}
    for k, shp in good.items():
        if k == bad:
            args[k] = data.draw(st.one_of(arrays(len(shp)), st.just(None), st.just([1.0])))
        elif k in ("weight", "bias") and data.draw(st.integers(0, 3)) == 0:
            args[k] = None
        else:
            args[k] = (rng.standard_normal(shp) * 2).astype(dt)
    eps = data.draw(st.sampled_from((1e-5, 1e-5, 0.0, -1.0, math.nan, math.inf, None, "e", 2 ** 70)))
    return args, eps, data.draw(st.sampled_from(("", "", "_reference")))


@SETTINGS
@given(st.data())
def test_fuzz_norm(data):
    """Mostly consistent (rows, C) blocks with one argument perturbed; accepted calls agree with the reference."""
    centered = data.draw(st.booleans())
    kind = "layer_norm" if centered else "rms_norm"
    rows, C = data.draw(st.integers(0, 9)), data.draw(st.integers(0, 40))
    dt = data.draw(st.sampled_from((np.float32, np.float64)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    good = {"x": (rows, C), "weight": (C,), "bias": (C,), "dy": (rows, C)}
    args, eps, ref = _norm_arguments(data, good, rng, dt)
    fargs = (args["x"], args["weight"], args["bias"], eps) if centered else (args["x"], args["weight"], eps)
    r = call(kind + "_forward" + ref, NORM_ARGS, *fargs)
    if r is not None and ref == "":
        want = getattr(_C, kind + "_forward_reference")(*fargs)
        for g, w in zip(r, want):
            _close(g, w, g.dtype)
    x = args["x"]
    if isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype in (np.float32, np.float64):
        stats = (r[1:] if r is not None else (np.ones(x.shape[0], x.dtype),) * (2 if centered else 1))
        stats = list(stats if centered else stats[-1:])
        if data.draw(st.integers(0, 4)) == 0:
            stats[0] = data.draw(arrays(1))
        mask = data.draw(st.sampled_from(((True,) * 3, (False, True, False), (True, False, True), "ab", (1, 2, 3))))
        mask = mask if isinstance(mask, str) or not isinstance(mask[0], bool) else mask[:3 if centered else 2]
        call(kind + "_backward" + ref, NORM_ARGS, args["dy"], x, *stats, args["weight"], mask)


@SETTINGS
@given(st.data())
def test_fuzz_batch_norm(data):
    """Mostly consistent (N, C, S) blocks with one argument perturbed; accepted calls agree with the reference."""
    N, C, S = (data.draw(st.integers(0, 6)) for _ in range(3))
    dt = data.draw(st.sampled_from((np.float32, np.float64)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    good = {"x": (N, C, S), "weight": (C,), "bias": (C,), "dy": (N, C, S)}
    args, eps, ref = _norm_arguments(data, good, rng, dt)
    fargs = (args["x"], args["weight"], args["bias"], eps)
    r = call("batch_norm_forward" + ref, NORM_ARGS, *fargs)
    if r is not None and ref == "":
        for g, w in zip(r, _C.batch_norm_forward_reference(*fargs)):
            _close(g, w, g.dtype)
    x = args["x"]
    if isinstance(x, np.ndarray) and x.ndim == 3 and x.dtype in (np.float32, np.float64):
        stats = [r[1], r[3]] if r is not None else [np.zeros(x.shape[1], x.dtype), np.ones(x.shape[1], x.dtype)]
        if data.draw(st.integers(0, 4)) == 0:
            stats[data.draw(st.integers(0, 1))] = data.draw(arrays(1))
        mask = data.draw(st.sampled_from(((True,) * 3, (False, True, False), (True, False, True), "ab", (1, 2, 3))))
        call("batch_norm_backward" + ref, NORM_ARGS, args["dy"], x, *stats, args["weight"], mask)


@SETTINGS
@given(st.data())
def test_fuzz_group_norm(data):
    """Mostly consistent (N, C, S) blocks and group counts with one argument perturbed; accepted calls agree with
    the reference."""
    N, G, K, S = (data.draw(st.integers(0, 5)) for _ in range(4))
    C = G * K
    groups = data.draw(st.sampled_from((G, G, G, 0, -1, C + 1, 2.0, True, None, 2 ** 70)))
    dt = data.draw(st.sampled_from((np.float32, np.float64)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    good = {"x": (N, C, S), "weight": (C,), "bias": (C,), "dy": (N, C, S)}
    args, eps, ref = _norm_arguments(data, good, rng, dt)
    fargs = (args["x"], groups, args["weight"], args["bias"], eps)
    r = call("group_norm_forward" + ref, NORM_ARGS, *fargs)
    if r is not None and ref == "":
        for g, w in zip(r, _C.group_norm_forward_reference(*fargs)):
            _close(g, w, g.dtype)
    x = args["x"]
    if isinstance(x, np.ndarray) and x.ndim == 3 and x.dtype in (np.float32, np.float64):
        g_ok = G if groups is None or isinstance(groups, float) else groups
        stats = [r[1], r[2]] if r is not None else [np.zeros((x.shape[0], G), x.dtype), np.ones((x.shape[0], G),
                                                                                               x.dtype)]
        if data.draw(st.integers(0, 4)) == 0:
            stats[data.draw(st.integers(0, 1))] = data.draw(arrays(2))
        mask = data.draw(st.sampled_from(((True,) * 3, (False, True, False), (True, False, True), "ab", (1, 2, 3))))
        got = call("group_norm_backward" + ref, NORM_ARGS, args["dy"], x, *stats, g_ok, args["weight"], mask)
        if got is not None and ref == "" and all(np.isfinite(a).all() for a in (args["dy"], x, *stats)):
            want = _C.group_norm_backward_reference(args["dy"], x, *stats, g_ok, args["weight"], mask)
            for g, w in zip(got, want):
                assert (g is None) == (w is None)
                if g is not None:
                    _close(g, w, g.dtype)


# ----------------------------------------------------------------------------------------- activation
ACTIVATION_ARGS = ("x", "kind", "negative_slope", "out", "dy")


@SETTINGS
@given(st.data())
def test_fuzz_activation(data):
    """Arrays of any layout, kinds and slopes, outputs aliasing inputs; accepted calls agree with the reference."""
    x = data.draw(arrays(data.draw(st.integers(0, 4))))
    kind = data.draw(st.sampled_from(("relu", "leaky_relu", "leaky_relu", "sigmoid", "silu", "gelu", 3, None)))
    # relu / leaky_relu are bitwise equal to the reference; sigmoid / silu go through an exp (a few ulp)
    same = (lambda a, b: np.array_equal(np.atleast_1d(a).view(np.uint8), np.atleast_1d(b).view(np.uint8))) \
        if kind in ("relu", "leaky_relu") else \
        (lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5 if a.dtype == np.float32 else 1e-13,
                                                 atol=1e-6 * (1 + np.nanmax(np.abs(b), initial=0))) is None)
    slope = data.draw(st.sampled_from((0.0, 0.2, -1.5, math.nan, math.inf, "s", None, True, 2 ** 70)))
    r = data.draw(st.integers(0, 5))
    out = None if r < 3 else (x if r == 3 else data.draw(arrays(x.ndim)))
    ref = data.draw(st.sampled_from(("", "", "_reference")))
    if data.draw(st.booleans()):
        y = call("activation_forward" + ref, ACTIVATION_ARGS, x, kind, slope, out)
        if y is not None and ref == "" and out is None:
            assert same(y, _C.activation_forward_reference(x, kind, slope))
    else:
        dy = x if data.draw(st.booleans()) else data.draw(arrays(x.ndim))
        g = call("activation_backward" + ref, ACTIVATION_ARGS, dy, x, kind, slope, out)
        if g is not None and ref == "" and out is None:
            assert same(g, _C.activation_backward_reference(dy, x, kind, slope))


# ----------------------------------------------------------------------------------------- diffusion
DIFFUSION_ARGS = ("x0", "timesteps", "sqrt_alpha_prod", "sqrt_one_minus_alpha_prod", "key", "offset", "noise",
                  "velocity", "model_output", "sample", "coef", "clip_range")
STORAGE = (np.float16, np.float32, np.float64)


@SETTINGS
@given(st.data())
def test_fuzz_diffusion(data):
    which = data.draw(st.sampled_from(("diffuse", "diffuse_reference", "sampling_step", "sampling_step_reference")))
    ndim = data.draw(st.integers(1, 4))
    dtype = data.draw(st.sampled_from(STORAGE + (None,)))
    x0 = data.draw(arrays(ndim, dims=st.integers(0, 6), dtype=dtype))
    key = data.draw(st.one_of(st.integers(0, 2 ** 64 - 1), st.just(-1), st.sampled_from((1.5, None))))
    offset = data.draw(st.one_of(st.integers(0, 2 ** 64 - 1), st.just(2 ** 64)))
    like = data.draw(st.sampled_from(("same", "other", "none")))
    other = data.draw(arrays(ndim, dims=st.integers(0, 6), dtype=data.draw(st.sampled_from(STORAGE))))
    noise = x0.copy() if like == "same" and x0.ndim else (other if like == "other" else None)
    if which.startswith("diffuse"):
        T = data.draw(st.integers(0, 5))
        n = x0.shape[0] if x0.ndim else 0
        n += data.draw(st.sampled_from((0, 0, 0, 1, -1)))
        t = data.draw(arrays(1, dims=st.just(max(n, 0)), dtype=data.draw(st.sampled_from((np.int64, np.int32,
                                                                                          np.float64))),
                             int_values=(-1, T + 1)))
        sa = data.draw(arrays(1, dims=st.just(T), dtype=data.draw(st.sampled_from((np.float64, np.float32)))))
        sb = data.draw(arrays(1, dims=st.sampled_from((T, T + 1)), dtype=np.float64))
        r = call(which, DIFFUSION_ARGS, x0, t, sa, sb, key, offset, noise, data.draw(st.booleans()))
        if r is not None:
            assert r[0].shape == x0.shape and r[0].dtype == x0.dtype
    else:
        coef = data.draw(st.one_of(st.lists(st.sampled_from((0.0, 1.0, -0.5, 2.0, math.nan)), min_size=8,
                                            max_size=10), st.just("x")))
        clip = data.draw(st.sampled_from((None, 1.0, 0.0, -1.0, math.nan, "1", True)))
        sample = x0.copy() if data.draw(st.booleans()) else other
        r = call(which, DIFFUSION_ARGS, x0, sample, coef, key, offset, noise, clip)
        if r is not None:
            assert r[0].shape == x0.shape and r[1].dtype == x0.dtype


# ----------------------------------------------------------------------------------------- coverage
FUZZED = {
    "gemm", "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "max_pool2d",
    "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward", "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward", "adaptive_max_pool2d", "upsample2d", "upsample2d_backward",
    "conv2d_output_size", "conv_transpose2d_output_size", "pool2d_output_size", "adam_step", "sgd_step",
    "philox_uniform", "philox_normal", "dropout_mask", "philox_fill_reference", "philox4x32_10",
    "word2vec_train", "gather_rows", "segment_reduce", "segment_reduce_reference", "segment_max_backward",
    "index_coalesce", "index_add_rows", "rows_renorm", "sparse_adam_step", "segment_dot", "csr_from_index",
    "segment_softmax", "segment_softmax_backward", "rnn_forward", "rnn_backward",
    "attention_forward", "attention_backward", "attention_forward_reference", "attention_backward_reference",
    "layer_norm_forward", "layer_norm_backward", "rms_norm_forward", "rms_norm_backward",
    "layer_norm_forward_reference", "layer_norm_backward_reference", "rms_norm_forward_reference",
    "rms_norm_backward_reference", "batch_norm_forward", "batch_norm_backward", "batch_norm_forward_reference",
    "batch_norm_backward_reference", "activation_forward", "activation_backward", "activation_forward_reference",
    "activation_backward_reference", "diffuse", "diffuse_reference", "sampling_step", "sampling_step_reference",
    "group_norm_forward", "group_norm_backward", "group_norm_forward_reference", "group_norm_backward_reference",
}
# Module functions that take no array input (configuration and queries).
NOT_KERNELS = {"cpu_path", "refresh_cpu_path", "cpu_paths", "cpu_extensions", "cpu_model", "cache_sizes",
               "get_num_threads", "set_num_threads", "set_conv_algorithm", "get_conv_algorithm", "families",
               "gemm_path", "host_empty"}


def test_every_binding_is_fuzzed():
    public = {n for n in dir(_C) if not n.startswith("_")}
    missing = public - FUZZED - NOT_KERNELS
    assert not missing, f"bindings without a fuzz test in this file: {sorted(missing)}"


def test_total_case_count():
    """Runs last in this file (pytest keeps definition order): the fuzz tests above made >= 10,000 calls."""
    if len(_counts) < len(FUZZED) - 2:  # (the shape and random tests pick one of several functions each)
        pytest.skip("only part of this file ran")
    assert sum(_counts.values()) >= 10_000, _counts
