"""Element-wise math and activations (differentiable), attached to Tensor as methods.

Backward rules that need the op's output use the saved array when no graph is being built and
recompute it from the input (a differentiable path) under ``create_graph``: this keeps graphs
free of reference cycles while still giving gradients of gradients.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from . import backend, kernels
from . import dtypes as _dt
from ._autograd_engine import _mode
from .tensor import (Tensor, _as_tensor_like, _bcast_error, _filled, _make, _on_device_of, _operands, _wrap, _xp,
                     _zero_grad_like)


def _float_input(x, op):
    """The array of x, integers/bools promoted to the default float dtype (PyTorch's unary float ops)."""
    a = x._data
    if a.dtype.kind != "f":
        a = a.astype(_dt.get_default_dtype())
    return a


def _unary(name, forward, backward):
    """An op ``forward(array) -> array`` whose gradient is ``backward(x, out_array, g)`` (Tensor ops)."""
    node_name = name[0].upper() + name[1:]

    def op(input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be a Tensor, got {type(input).__name__}")
        a = input._data
        if a.dtype.kind != "f":
            a = a.astype(_dt.get_default_dtype())
        out = forward(a)
        if _mode.enabled and input._requires_grad:
            return _make(out, (input,), lambda g: (backward(input, out, g),), node_name)
        return _wrap(out)
    op.__name__ = name
    op.__qualname__ = name
    return op


def _saved(out, recompute):
    """The op's output as a Tensor for a backward rule (see the module docstring)."""
    return recompute() if _mode.enabled else _wrap(out)


exp = _unary("exp", np.exp, lambda x, y, g: g * _saved(y, x.exp))
exp2 = _unary("exp2", np.exp2, lambda x, y, g: g * _saved(y, x.exp2) * math.log(2.0))
expm1 = _unary("expm1", np.expm1, lambda x, y, g: g * (_saved(y, x.expm1) + 1.0))
log = _unary("log", np.log, lambda x, y, g: g / x)
log2 = _unary("log2", np.log2, lambda x, y, g: g / (x * math.log(2.0)))
log10 = _unary("log10", np.log10, lambda x, y, g: g / (x * math.log(10.0)))
log1p = _unary("log1p", np.log1p, lambda x, y, g: g / (x + 1.0))
sqrt = _unary("sqrt", np.sqrt, lambda x, y, g: g * 0.5 / _saved(y, x.sqrt))
rsqrt = _unary("rsqrt", lambda a: 1.0 / np.sqrt(a), lambda x, y, g: g * -0.5 * _saved(y, x.rsqrt) ** 3)
sin = _unary("sin", np.sin, lambda x, y, g: g * x.cos())
cos = _unary("cos", np.cos, lambda x, y, g: -g * x.sin())
tan = _unary("tan", np.tan, lambda x, y, g: g * (1.0 + _saved(y, x.tan) ** 2))
asin = _unary("asin", np.arcsin, lambda x, y, g: g * (1.0 - x * x).rsqrt())
acos = _unary("acos", np.arccos, lambda x, y, g: -g * (1.0 - x * x).rsqrt())
atan = _unary("atan", np.arctan, lambda x, y, g: g / (1.0 + x * x))
sinh = _unary("sinh", np.sinh, lambda x, y, g: g * x.cosh())
cosh = _unary("cosh", np.cosh, lambda x, y, g: g * x.sinh())
tanh = _unary("tanh", np.tanh, lambda x, y, g: g * (1.0 - _saved(y, x.tanh) ** 2))
asinh = _unary("asinh", np.arcsinh, lambda x, y, g: g * (x * x + 1.0).rsqrt())
acosh = _unary("acosh", np.arccosh, lambda x, y, g: g * (x * x - 1.0).rsqrt())
atanh = _unary("atanh", np.arctanh, lambda x, y, g: g / (1.0 - x * x))
reciprocal = _unary("reciprocal", lambda a: 1.0 / a, lambda x, y, g: -g * _saved(y, x.reciprocal) ** 2)
square = _unary("square", np.square, lambda x, y, g: g * 2.0 * x)
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def _sigmoid_fwd(a):
    # exp of a non-positive number only: no overflow for large |x|
    e = np.exp(-np.abs(a))
    d = 1.0 + e
    return np.where(a >= 0, 1.0 / d, e / d).astype(a.dtype, copy=False)


_sigmoid_numpy = _unary("sigmoid", _sigmoid_fwd, lambda x, y, g: _sigmoid_bw(x, y, g))


def sigmoid(input):
    """1 / (1 + exp(-x)): through the native activation kernel for float32/float64, else numpy."""
    if isinstance(input, Tensor) and input._data.dtype in _NATIVE_FLOATS:
        return _native_activation(input, "sigmoid", 0.0, "Sigmoid")
    return _sigmoid_numpy(input)


def silu(input):
    """x * sigmoid(x) (PyTorch's ``x / (1 + exp(-x))``): through the native activation kernel for
    float32/float64, else as the product of Tensor ops."""
    if input._data.dtype in _NATIVE_FLOATS:
        return _native_activation(input, "silu", 0.0, "Silu")
    return input * input.sigmoid()


def _sigmoid_bw(x, y, g):
    s = _saved(y, x.sigmoid)
    return g * s * (1.0 - s)


def _logsigmoid_fwd(a):
    return (np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))).astype(a.dtype, copy=False)


logsigmoid = _unary("logsigmoid", _logsigmoid_fwd, lambda x, y, g: g * (-x).sigmoid())


def _softplus_fwd(a):
    return (np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))).astype(a.dtype, copy=False)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (PyTorch's)."""
    a = _float_input(input, "softplus")
    with np.errstate(all="ignore"):
        bx = a * beta if beta != 1 else a
        out = np.where(bx > threshold, a, _softplus_fwd(bx) / beta if beta != 1 else _softplus_fwd(bx))
    if _mode.enabled and input._requires_grad:
        def bw(g):
            bx_t = input * beta if beta != 1 else input
            return (where_(_wrap(bx > threshold), g, g * bx_t.sigmoid()),)
        return _make(out, (input,), bw, "Softplus")
    return _wrap(out)


_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _contiguous(a):
    return a if a.flags.c_contiguous else _xp(a).ascontiguousarray(a)


_BACKWARD_NAMES = {"relu": "ReluBackward", "leaky_relu": "LeakyReluBackward", "sigmoid": "SigmoidBackward",
                   "silu": "SiluBackward"}


def _second_derivative_term(gg, g, x, kind):
    """The gradient, for the forward's input, of the activation-gradient node ``dy * f'(x)``: zero for relu /
    leaky_relu (f' is constant almost everywhere; passed on as zeros as PyTorch does, so a bias just before the
    activation gets a zero ``.grad`` from a gradient penalty, not None), ``gg * dy * f''(x)`` for sigmoid / silu,
    written in Tensor ops so that it is differentiable again: sigmoid'' = s (1 - s) (1 - 2 s),
    silu'' = s (1 - s) (2 + x (1 - 2 s)) with s = sigmoid(x)."""
    if kind in ("relu", "leaky_relu"):
        return _zero_grad_like(x._data)
    s = x.sigmoid()
    ds = s * (1.0 - s)
    return gg * g * (ds * (1.0 - 2.0 * s) if kind == "sigmoid" else ds * (2.0 + x * (1.0 - 2.0 * s)))


def _activation_grad(g, x, kind, slope, source):
    """The gradient of an activation of the native family from output gradient ``g`` (a Tensor) and the
    forward's input array ``x`` (the data of the Tensor ``source``): one native pass. The node it records is
    linear in ``g`` (its gradient for ``g`` is the same op on the incoming gradient) and takes the second
    derivative term for the input, so gradients of gradients work (WGAN-GP, to any order for sigmoid / silu)."""
    gd = g._data
    if gd.dtype != x.dtype:
        gd = gd.astype(x.dtype)
    d = kernels.activation_backward(_contiguous(gd), x, kind, slope, backend.out_like(x))
    name = _BACKWARD_NAMES[kind]
    if _mode.enabled and source._requires_grad:
        return _make(d, (g, source), lambda gg: (_activation_grad(gg, x, kind, slope, source),
                                                 _second_derivative_term(gg, g, source, kind)), name)
    if _mode.enabled and g._requires_grad:
        return _make(d, (g,), lambda gg: (_activation_grad(gg, x, kind, slope, source),), name)
    return _wrap(d)


def _native_activation(input, kind, slope, name):
    """relu / leaky_relu / sigmoid / silu of a float32/float64 Tensor through the native kernel (PyTorch's
    definitions, contract: activation.h)."""
    a = _contiguous(input._data)
    out = kernels.activation_forward(a, kind, slope, backend.out_like(a))
    if _mode.enabled and input._requires_grad:
        return _make(out, (input,), lambda g: (_activation_grad(g, a, kind, slope, input),), name)
    return _wrap(out)


def relu(input):
    a = input._data
    if a.dtype in _NATIVE_FLOATS:
        return _native_activation(input, "relu", 0.0, "Relu")
    out = np.maximum(a, 0, out=backend.out_like(a))
    if _mode.enabled and input._requires_grad:
        return _make(out, (input,), lambda g: (g * _wrap((a > 0).astype(a.dtype)),), "Relu")
    return _wrap(out)


def relu6(input):
    return hardtanh(input, 0.0, 6.0)


def leaky_relu(input, negative_slope=0.01):
    a = input._data
    if a.dtype in _NATIVE_FLOATS:
        return _native_activation(input, "leaky_relu", float(negative_slope), "LeakyRelu")
    pos = a > 0
    out = np.where(pos, a, a * a.dtype.type(negative_slope)) if a.dtype.kind == "f" else np.where(pos, a, a * negative_slope)
    if _mode.enabled and input._requires_grad:
        m = np.where(pos, 1.0, negative_slope).astype(a.dtype)
        return _make(out, (input,), lambda g: (g * _wrap(m),), "LeakyRelu")
    return _wrap(out)


def elu(input, alpha=1.0, scale=1.0, input_scale=1.0):
    a = _float_input(input, "elu")
    pos = a > 0
    with np.errstate(all="ignore"):
        neg = alpha * np.expm1(np.minimum(a, 0) * input_scale)
    out = (scale * np.where(pos, a, neg)).astype(a.dtype, copy=False)
    if _mode.enabled and input._requires_grad:
        def bw(g):
            if _mode.enabled:
                d = where_(_wrap(pos), scale, (input * input_scale).clamp(max=0).exp() * (alpha * input_scale * scale))
            else:
                d = _wrap(np.where(pos, scale, (neg + alpha) * input_scale * scale).astype(a.dtype))
            return (g * d,)
        return _make(out, (input,), bw, "Elu")
    return _wrap(out)


def selu(input):
    return elu(input, 1.6732632423543772848170429916717, 1.0507009873554804934193349852946)


def celu(input, alpha=1.0):
    return elu(input, alpha, 1.0, 1.0 / alpha)


def hardtanh(input, min_val=-1.0, max_val=1.0):
    a = input._data
    out = a.clip(min_val, max_val)      # the method: np.clip may give a numpy scalar for a 0-d device array
    if _mode.enabled and input._requires_grad:
        m = ((a > min_val) & (a < max_val)).astype(a.dtype)
        return _make(out, (input,), lambda g: (g * _wrap(m),), "Hardtanh")
    return _wrap(out)


def mish(input):
    return input * tanh(softplus(input))


def hardsigmoid(input):
    return (input / 6.0 + 0.5).clamp(0.0, 1.0)


def hardswish(input):
    return input * hardsigmoid(input)


# ---- erf: numpy has none. Polynomial in x^2 on [0, 1); beyond, erfc(x) = t exp(-x^2 + P(t)) with
# t = 1 / (1 + x/2) and P a Chebyshev series on x in [1, 6.5] (erf(x) rounds to 1 above 6.5).
# Coefficients are fitted once, at first use, to math.erf/erfc in float64 (|error| < 2e-15).
_ERF = {}
_ERF_SPLIT = 1.0
_ERF_MAX = 6.5


def _erf_coeffs():
    if not _ERF:
        xs = np.cos(np.linspace(0, np.pi, 400)) * (_ERF_SPLIT / 2) + _ERF_SPLIT / 2
        ys = np.array([math.erf(v) / v if v > 0 else 2 / math.sqrt(math.pi) for v in xs])
        # Python floats: the series are evaluated below with scalar coefficients, so that the same code
        # runs on numpy and on device arrays (a host coefficient array cannot meet a device array)
        _ERF["small"] = [builtins.float(v) for v in np.polynomial.polynomial.polyfit(xs * xs, ys, 12)]
        t0, t1 = 1 / (1 + _ERF_SPLIT / 2), 1 / (1 + _ERF_MAX / 2)
        ts = np.cos(np.linspace(0, np.pi, 1000)) * 0.5 * (t0 - t1) + 0.5 * (t0 + t1)
        xv = 2.0 / ts - 2.0
        yv = np.array([math.log(math.erfc(v)) + v * v for v in xv]) - np.log(ts)
        cheb = np.polynomial.chebyshev.Chebyshev.fit(ts, yv, 22)
        off, scl = np.polynomial.polyutils.mapparms(cheb.domain, cheb.window)
        _ERF["cheb"] = ([builtins.float(v) for v in cheb.coef], builtins.float(off), builtins.float(scl))
    return _ERF


def _polyval(x, c):
    """sum_k c[k] x^k by Horner's rule (numpy's polyval, in the same order of operations)."""
    r = c[-1] + x * 0
    for k in range(len(c) - 2, -1, -1):
        r = c[k] + r * x
    return r


def _chebval(t, cheb):
    """The fitted Chebyshev series at t by Clenshaw's recurrence (numpy's chebval on the mapped argument)."""
    c, off, scl = cheb
    x = off + scl * t
    x2 = 2 * x
    c0, c1 = c[-2], c[-1]
    for k in range(3, len(c) + 1):
        c0, c1 = c[-k] - c1, c0 + c1 * x2
    return c0 + c1 * x


def _erf_fwd(a):
    c = _erf_coeffs()
    x = np.abs(a).astype(np.float64)
    out = np.empty_like(x)
    small = x < _ERF_SPLIT
    xs = x[small]
    out[small] = xs * _polyval(xs * xs, c["small"])
    xl = np.minimum(x[~small], _ERF_MAX)
    t = 1.0 / (1.0 + 0.5 * xl)
    out[~small] = 1.0 - t * np.exp(-xl * xl + _chebval(t, c["cheb"]))
    out[np.isnan(x)] = np.nan
    return (np.sign(a) * out).astype(a.dtype, copy=False)


def _erfc_fwd(a):
    # erfc from its own series rather than 1 - erf, which keeps no significant digit once erf(x) rounds
    # to 1 (x > 6): the likelihoods of far-out values (a discretised Gaussian's tail bins) need them.
    # Beyond the fit's range, the asymptotic series exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) ...),
    # whose first eleven terms are exact to ~1e-12 relative there.
    c = _erf_coeffs()
    x = a.astype(np.float64).reshape(-1)  # 1-d: a 0-d result could not be assigned into
    ax = np.abs(x)
    out = 1.0 - _erf_fwd(x)
    mid = (ax >= _ERF_SPLIT) & (ax <= _ERF_MAX)
    t = 1.0 / (1.0 + 0.5 * ax[mid])
    out[mid] = t * np.exp(-ax[mid] * ax[mid] + _chebval(t, c["cheb"]))
    far = ax > _ERF_MAX
    xf = np.minimum(ax[far], 1e100)  # erfc(inf) = 0 without inf * 0
    inv2 = 1.0 / (2.0 * xf * xf)
    series, term = 1.0 + xf * 0, 1.0 + xf * 0
    for k in range(1, 11):
        term = -term * (2 * k - 1) * inv2
        series = series + term
    with np.errstate(under="ignore"):
        out[far] = np.exp(-xf * xf) / (xf * math.sqrt(math.pi)) * series
    neg = (x < 0) & (ax >= _ERF_SPLIT)
    out[neg] = 2.0 - out[neg]
    out[np.isnan(x)] = np.nan
    return out.reshape(a.shape).astype(a.dtype, copy=False)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
erf = _unary("erf", _erf_fwd, lambda x, y, g: g * (-(x * x)).exp() * _TWO_OVER_SQRT_PI)
erfc = _unary("erfc", _erfc_fwd, lambda x, y, g: g * (-(x * x)).exp() * -_TWO_OVER_SQRT_PI)


def _erfinv_fwd(a):
    # Giles's single-precision approximation ("Approximating the erfinv function", 2010) as a start,
    # then two Newton steps on erf(x) = y in float64, which bring it to float64 accuracy.
    y = a.astype(np.float64)  # a method, not np.asarray, so a cupy array stays on its device
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
        ws = w - 2.5
        p = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941):
            p = c + p * ws
        wl = np.sqrt(w) - 3.0
        q = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            q = c + q * wl
        x = np.where(w < 5.0, p, q) * y
        for _ in range(2):
            x = x - (_erf_fwd(x) - y) / (_TWO_OVER_SQRT_PI * np.exp(-x * x))
        x = np.where(np.abs(y) == 1.0, np.copysign(np.inf, y), x)
        x = np.where(np.abs(y) > 1.0, np.nan, x)
    return x.astype(a.dtype, copy=False)


# d erfinv(y) / dy = sqrt(pi) / 2 * exp(erfinv(y)^2); the output is recomputed as a Tensor when a graph is
# recorded so the rule itself differentiates
erfinv = _unary("erfinv", _erfinv_fwd,
                lambda x, y, g: g * (_saved(y, lambda: erfinv(x)) ** 2).exp() * (1.0 / _TWO_OVER_SQRT_PI))


def gelu(input, approximate="none"):
    if approximate == "tanh":
        k = math.sqrt(2.0 / math.pi)
        return 0.5 * input * (1.0 + tanh(k * (input + 0.044715 * input * input * input)))
    if approximate != "none":
        raise ValueError(f"gelu: argument 'approximate' must be 'none' or 'tanh', got {approximate!r}")
    a = _float_input(input, "gelu")
    cdf = 0.5 * (1.0 + _erf_fwd(a * (1.0 / math.sqrt(2.0))))
    out = a * cdf
    if _mode.enabled and input._requires_grad:
        def bw(g):
            if _mode.enabled:
                c = 0.5 * (1.0 + erf(input * (1.0 / math.sqrt(2.0))))
                pdf = (input * input * -0.5).exp() * (1.0 / math.sqrt(2.0 * math.pi))
                return (g * (c + input * pdf),)
            pdf = np.exp(-0.5 * a * a) * (1.0 / math.sqrt(2.0 * math.pi))
            return (g * _wrap((cdf + a * pdf).astype(a.dtype, copy=False)),)
        return _make(out.astype(a.dtype, copy=False), (input,), bw, "Gelu")
    return _wrap(out.astype(a.dtype, copy=False))


def abs(input):
    a = input._data
    out = np.abs(a)
    if _mode.enabled and input._requires_grad:
        return _make(out, (input,), lambda g: (g * _wrap(np.sign(a)),), "Abs")
    return _wrap(out)


absolute = abs


def _zero_grad_op(name, fn):
    node = name.capitalize()

    def op(input, *args, **kwargs):
        a = input._data
        out = fn(a, *args, **kwargs)
        if out.__class__ is not a.__class__:
            out = _on_device_of(a, out)     # numpy's functions give numpy scalars for 0-d arrays
        if _mode.enabled and input._requires_grad and out.dtype.kind == "f":
            return _make(out, (input,), lambda g: (g * 0.0,), node)
        return _wrap(out)
    op.__name__ = name
    return op


def _round(a, decimals=0):
    return np.round(a, decimals)


sign = _zero_grad_op("sign", np.sign)
floor = _zero_grad_op("floor", lambda a: np.floor(a) if a.dtype.kind == "f" else a.copy())
ceil = _zero_grad_op("ceil", lambda a: np.ceil(a) if a.dtype.kind == "f" else a.copy())
trunc = _zero_grad_op("trunc", lambda a: np.trunc(a) if a.dtype.kind == "f" else a.copy())
fix = trunc
round = _zero_grad_op("round", _round)


def sgn(input):
    return sign(input)


def signbit(input):
    return _wrap(np.signbit(input._data))


def frac(input):
    return input - trunc(input).detach()


def isnan(input):
    return _wrap(np.isnan(input._data))


def isinf(input):
    return _wrap(np.isinf(input._data))


def isposinf(input):
    return _wrap(np.isposinf(input._data))


def isneginf(input):
    return _wrap(np.isneginf(input._data))


def isfinite(input):
    return _wrap(np.isfinite(input._data))


def isreal(input):
    return _wrap(_filled(input._data, input._data.shape, True, bool))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    a = input._data
    out = _on_device_of(a, np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf))
    if _mode.enabled and input._requires_grad:
        m = np.isfinite(a).astype(a.dtype)
        return _make(out, (input,), lambda g: (g * _wrap(m),), "NanToNum")
    return _wrap(out)


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min if isinstance(min, Tensor) else _as_tensor_like(min, input))
        if max is not None:
            out = minimum(out, max if isinstance(max, Tensor) else _as_tensor_like(max, input))
        return out
    a = input._data
    if a.dtype.kind != "f" and (isinstance(min, builtins.float) or isinstance(max, builtins.float)):
        a = a.astype(_dt.get_default_dtype())
    out = a.clip(min, max)
    if out.dtype != a.dtype:
        out = out.astype(a.dtype)
    if _mode.enabled and input._requires_grad:
        m = a >= min if min is not None else None
        if max is not None:
            m = a <= max if m is None else m & (a <= max)
        m = m.astype(a.dtype)
        return _make(out, (input,), lambda g: (g * _wrap(m),), "Clamp")
    return _wrap(out)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def _minmax2(name, ufunc, pick_first):
    def op(input, other):
        if not isinstance(input, Tensor):
            input = _as_tensor_like(input, other)
        ad, bd, bt = _operands(input, other, name)
        try:
            out = ufunc(ad, bd)
        except ValueError:
            _bcast_error(name, ad, bd)
        if _mode.enabled and (input._requires_grad or (bt is not None and bt._requires_grad)):
            first = pick_first(ad, bd)
            tie = ad == bd
            wa = np.where(tie, 0.5, first).astype(out.dtype)
            wb = (1.0 - wa).astype(out.dtype)

            def bw(g):
                return (g * _wrap(wa) if input._requires_grad else None,
                        g * _wrap(wb) if bt is not None and bt._requires_grad else None)
            return _make(out, (input, bt), bw, name.capitalize())
        return _wrap(out)
    op.__name__ = name
    return op


maximum = _minmax2("maximum", np.maximum, lambda a, b: a > b)
minimum = _minmax2("minimum", np.minimum, lambda a, b: a < b)
fmax = maximum
fmin = minimum


def atan2(input, other):
    ad, bd, bt = _operands(input, other, "atan2")
    out = np.arctan2(ad, bd)
    if _mode.enabled and (input._requires_grad or (bt is not None and bt._requires_grad)):
        yb = bt if bt is not None else _as_tensor_like(other, input)

        def bw(g):
            d = input * input + yb * yb
            return g * yb / d, -g * input / d
        return _make(out, (input, bt), bw, "Atan2")
    return _wrap(out)


arctan2 = atan2


def logaddexp(input, other):
    m = maximum(input, other).detach()
    return m + ((input - m).exp() + (other - m).exp()).log()


def lerp(input, end, weight):
    return input + (end - input) * weight


def addcmul(input, tensor1, tensor2, *, value=1):
    return input + tensor1 * tensor2 * value if value != 1 else input + tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, *, value=1):
    return input + tensor1 / tensor2 * value if value != 1 else input + tensor1 / tensor2


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    p = mat1.matmul(mat2)
    if alpha != 1:
        p = p * alpha
    return (input * beta if beta != 1 else input) + p


def outer(input, vec2):
    if input._data.ndim != 1 or vec2._data.ndim != 1:
        raise RuntimeError(f"outer: expected 1-D tensors, got shapes {tuple(input.shape)} and {tuple(vec2.shape)}")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    o = other._data if isinstance(other, Tensor) else other
    return _wrap(_on_device_of(input._data, np.isclose(input._data, o, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    o = other._data if isinstance(other, Tensor) else other
    return builtins.bool(np.allclose(input._data, o, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    return input._data.shape == other._data.shape and builtins.bool(np.array_equal(input._data, other._data))


def where_(cond, x, y):
    from ._ops_shape import where
    return where(cond, x, y)


def _attach():
    g = globals()
    methods = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos", "tan",
               "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "arcsin", "arccos",
               "arctan", "arcsinh", "arccosh", "arctanh", "reciprocal", "square", "sigmoid", "relu", "erf", "erfc",
               "erfinv", "abs", "absolute", "sign", "sgn", "signbit", "floor", "ceil", "trunc", "fix", "round", "frac",
               "isnan", "isinf", "isposinf", "isneginf", "isfinite", "isreal", "nan_to_num", "clamp", "clip",
               "clamp_min", "clamp_max", "maximum", "minimum", "fmax", "fmin", "atan2", "arctan2", "logaddexp",
               "lerp", "addcmul", "addcdiv", "addmm", "outer", "ger", "isclose", "allclose", "equal"]
    for n in methods:
        setattr(Tensor, n, g[n])

    def _inplace(fn):
        def m(self, *args, **kwargs):
            return self._unary_inplace(lambda s: fn(s, *args, **kwargs))
        m.__name__ = fn.__name__ + "_"
        return m
    for n in ["exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "floor",
              "ceil", "trunc", "round", "sign", "reciprocal", "square", "erf", "nan_to_num", "clamp_min",
              "clamp_max", "lerp", "atan2", "expm1", "frac"]:
        if n + "_" not in Tensor.__dict__:
            setattr(Tensor, n + "_", _inplace(g[n]))


_attach()
