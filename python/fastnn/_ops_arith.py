"""Arithmetic, matmul, comparisons and logical ops with PyTorch's type promotion (differentiable)."""
from __future__ import annotations

import builtins

import numpy as np

from . import backend
from . import dtypes as _dt
from . import kernels
from ._autograd_engine import _mode
from .tensor import Tensor, _as_tensor_like, _bcast_error, _make, _operands, _scalar_operand, _sum_to, _wrap, _xp


def _pooled(ad, bd):
    """A pooled destination for ``ad (op) bd`` when both are host arrays of one shape and dtype (the residual
    adds and gradient products of a training step), else None."""
    if bd.__class__ is ad.__class__ and bd.shape == ad.shape and bd.dtype == ad.dtype:
        return backend.out_like(ad)
    return None


def _add_bw(g):
    return g, g


def _add(a, b):
    ad, bd, bt = _operands(a, b, "add")
    try:
        out = np.add(ad, bd, out=_pooled(ad, bd))
    except ValueError:
        _bcast_error("add", ad, bd)
    if _mode.enabled and (a._requires_grad or (bt is not None and bt._requires_grad)):
        return _make(out, (a, bt), _add_bw, "Add")
    return _wrap(out)


def _sub_bw(g):
    return g, -g


def _sub(a, b):
    ad, bd, bt = _operands(a, b, "sub")
    if ad.dtype == np.bool_:
        raise TypeError("sub: subtraction of bool tensors is not supported; use logical_xor or ~")
    try:
        out = ad - bd
    except ValueError:
        _bcast_error("sub", ad, bd)
    if _mode.enabled and (a._requires_grad or (bt is not None and bt._requires_grad)):
        return _make(out, (a, bt), _sub_bw, "Sub")
    return _wrap(out)


def _rsub(a, b):
    ad, bd, bt = _operands(a, b, "rsub")
    out = bd - ad
    if _mode.enabled and (a._requires_grad or (bt is not None and bt._requires_grad)):
        return _make(out, (a, bt), lambda g: (-g, g), "Rsub")
    return _wrap(out)


def _mul(a, b):
    ad, bd, bt = _operands(a, b, "mul")
    try:
        out = np.multiply(ad, bd, out=_pooled(ad, bd))
    except ValueError:
        _bcast_error("mul", ad, bd)
    if _mode.enabled and (a._requires_grad or (bt is not None and bt._requires_grad)):
        if bt is None:
            s = b
            return _make(out, (a,), lambda g: (g * s,), "Mul")
        return _make(out, (a, bt), lambda g: (g * bt if a._requires_grad else None,
                                              g * a if bt._requires_grad else None), "Mul")
    return _wrap(out)


def _true_div_arrays(ad, bd):
    if ad.dtype.kind != "f":
        f = _dt.get_default_dtype()
        ad = ad.astype(f)
        if hasattr(bd, "dtype") and bd.dtype.kind != "f":
            bd = bd.astype(f)
    return ad, bd


def _div(a, b, rounding_mode=None):
    ad, bd, bt = _operands(a, b, "div")
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div: argument 'rounding_mode' must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        with np.errstate(divide="ignore", invalid="ignore"):
            if rounding_mode == "floor":
                out = np.floor_divide(ad, bd) if ad.dtype.kind != "f" else np.floor(ad / bd)
            else:
                out = np.trunc(ad / bd).astype(ad.dtype) if ad.dtype.kind != "f" else np.trunc(ad / bd)
        # a numpy scalar for 0-d CPU operands (its astype gives a scalar, made a 0-d array by _wrap)
        return _wrap(out.astype(ad.dtype, copy=False))
    ad, bd = _true_div_arrays(ad, bd)
    try:
        # no np.errstate here: it costs more than the division of small operands; a division by
        # zero gives inf/nan as in PyTorch (numpy may print one RuntimeWarning for it)
        out = ad / bd
    except ValueError:
        _bcast_error("div", ad, bd)
    if _mode.enabled and (a._requires_grad or (bt is not None and bt._requires_grad)):
        if bt is None:
            s = b
            return _make(out, (a,), lambda g: (g / s,), "Div")

        def bw(g):
            ga = g / bt if a._requires_grad else None
            gb = -g * a / (bt * bt) if bt._requires_grad else None
            return ga, gb
        return _make(out, (a, bt), bw, "Div")
    return _wrap(out)


def _rdiv(a, b):
    """b / a for a scalar or array b."""
    ad, bd, bt = _operands(a, b, "div")
    if bt is not None:
        return _div(bt, a)
    if ad.dtype.kind != "f":
        ad = ad.astype(_dt.get_default_dtype())
    out = bd / ad
    if _mode.enabled and a._requires_grad:
        s = b
        return _make(out, (a,), lambda g: (-g * s / (a * a),), "Reciprocal")
    return _wrap(out)


def _neg(a):
    ad = a._data
    if ad.dtype == np.bool_:
        raise TypeError("neg: negation of a bool tensor is not supported; use ~ or logical_not")
    out = -ad
    if _mode.enabled and a._requires_grad:
        return _make(out, (a,), lambda g: (-g,), "Neg")
    return _wrap(out)


def _pow(a, b):
    ad, bd, bt = _operands(a, b, "pow")
    if bt is None:
        e = b
        if ad.dtype.kind in "iu" and isinstance(e, (builtins.int, np.integer)) and e < 0:
            raise RuntimeError("pow: integers to negative integer powers are not allowed")
        if e == 2:
            out = ad * ad
        elif e == 1:
            out = ad.copy()
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = ad ** bd
        if _mode.enabled and a._requires_grad:
            if e == 0:
                return _make(out, (a,), lambda g: (g * 0.0,), "Pow")
            if e == 1:
                return _make(out, (a,), lambda g: (g,), "Pow")
            if e == 2:
                return _make(out, (a,), lambda g: (g * 2.0 * a,), "Pow")
            return _make(out, (a,), lambda g: (g * e * a ** (e - 1),), "Pow")
        return _wrap(out)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = ad ** bd
    except ValueError:
        _bcast_error("pow", ad, bd)
    if _mode.enabled and (a._requires_grad or bt._requires_grad):
        def bw(g):
            ga = g * bt * a ** (bt - 1) if a._requires_grad else None
            if bt._requires_grad:
                # d/db a**b = a**b * log(a); 0 where a == 0 (the limit for b > 0)
                la = a.log()
                la = la.masked_fill(a._data == 0, 0.0)
                gb = g * (a ** bt) * la
            else:
                gb = None
            return ga, gb
        return _make(out, (a, bt), bw, "Pow")
    return _wrap(out)


def _rpow(a, b):
    """b ** a for a scalar b."""
    if isinstance(b, Tensor):
        return _pow(b, a)
    ad = a._data
    r = _dt.scalar_result(ad.dtype, b)
    ad2 = ad if ad.dtype == r else ad.astype(r)
    base = _scalar_operand(ad2, b, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = base ** ad2
    if _mode.enabled and a._requires_grad:
        lb = float(np.log(b)) if b > 0 else float("nan") if b < 0 else 0.0
        if b == 0:
            return _make(out, (a,), lambda g: (g * 0.0,), "Pow")
        return _make(out, (a,), lambda g: (g * (b ** a) * lb,), "Pow")
    return _wrap(out)


def _check_float_for_matmul(ad, bd):
    if ad.dtype != bd.dtype:
        r = _dt.promote(ad.dtype, True, bd.dtype, True)
        raise RuntimeError(f"matmul: expected both operands to have the same dtype, got {ad.dtype} and {bd.dtype} "
                           f"(convert one with .to({r}))")


def _matmul_arrays(ad, bd):
    if bd.__class__ is not ad.__class__:
        backend.check_same_device(ad, bd, "matmul")
    if ad.dtype.kind == "f" and ad.dtype.itemsize >= 4 and ad.size and bd.size:
        return kernels.matmul(ad, bd)
    return np.matmul(ad, bd)


def _matmul_bw(a, b):
    def bw(g):
        ga = gb = None
        a_, b_, g_ = a, b, g
        if b.ndim == 1:
            b_ = b.unsqueeze(-1)
            g_ = g_.unsqueeze(-1)
        if a.ndim == 1:
            a_ = a.unsqueeze(0)
            g_ = g_.unsqueeze(-2)
        if a._requires_grad:
            ga = g_.matmul(b_.mT)
            if ga._data.shape != a_._data.shape:
                ga = _sum_to(ga, a_._data.shape)
            if a.ndim == 1:
                ga = ga.reshape(a._data.shape)
        if b._requires_grad:
            gb = a_.mT.matmul(g_)
            if gb._data.shape != b_._data.shape:
                gb = _sum_to(gb, b_._data.shape)
            if b.ndim == 1:
                gb = gb.reshape(b._data.shape)
        return ga, gb
    return bw


def matmul(input, other):
    """Matrix product with numpy/PyTorch semantics (1-D operands, broadcast batch dims), by fastnn's GEMM."""
    if not isinstance(input, Tensor):
        raise TypeError(f"matmul: argument 'input' must be a Tensor, got {type(input).__name__}")
    if not isinstance(other, Tensor):
        raise TypeError(f"matmul: argument 'other' must be a Tensor, got {type(other).__name__}")
    ad, bd = input._data, other._data
    if ad.dtype != bd.dtype:
        _check_float_for_matmul(ad, bd)
    if ad.ndim == 0 or bd.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(ad.shape)} and {tuple(bd.shape)}")
    out = _matmul_arrays(ad, bd)
    if _mode.enabled and (input._requires_grad or other._requires_grad):
        return _make(out, (input, other), _matmul_bw(input, other), "Mm" if ad.ndim == 2 and bd.ndim == 2 else "Matmul")
    return _wrap(out)


def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def mv(input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expected a 2-D and a 1-D tensor, got shapes {tuple(input.shape)} and {tuple(vec.shape)}")
    return matmul(input, vec)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: expected 1-D tensors, got shapes {tuple(input.shape)} and {tuple(other.shape)}")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"dot: tensors have different sizes {input.shape[0]} and {other.shape[0]}")
    return matmul(input, other)


def add(input, other, *, alpha=1, out=None):
    if not isinstance(input, Tensor):
        input = _as_tensor_like(input, other)
    if alpha != 1:
        other = other * alpha
    return _out(_add(input, other), out)


def sub(input, other, *, alpha=1, out=None):
    if not isinstance(input, Tensor):
        input = _as_tensor_like(input, other)
    if alpha != 1:
        other = other * alpha
    return _out(_sub(input, other), out)


def mul(input, other, *, out=None):
    if not isinstance(input, Tensor):
        input = _as_tensor_like(input, other)
    return _out(_mul(input, other), out)


def div(input, other, *, rounding_mode=None, out=None):
    if not isinstance(input, Tensor):
        input = _as_tensor_like(input, other)
    return _out(_div(input, other, rounding_mode), out)


def true_divide(input, other):
    return div(input, other)


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")


def pow(input, exponent, *, out=None):
    if not isinstance(input, Tensor):
        return _out(_rpow(exponent, input), out)
    return _out(_pow(input, exponent), out)


def neg(input):
    return _neg(input)


negative = neg


def rsub(input, other, *, alpha=1):
    return sub(other, input * alpha if alpha != 1 else input)


def remainder(input, other):
    """Python-style modulus (sign of the divisor); gradient 1 w.r.t. input (like PyTorch)."""
    ad, bd, bt = _operands(input, other, "remainder")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.mod(ad, bd)
    if _mode.enabled and input._requires_grad and ad.dtype.kind == "f":
        def bw(g):
            gb = None
            if bt is not None and bt._requires_grad:
                gb = -g * (input / bt).floor()
            return g, gb
        return _make(out, (input, bt), bw, "Remainder")
    return _wrap(out)


def fmod(input, other):
    ad, bd, bt = _operands(input, other, "fmod")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.fmod(ad, bd)
    if _mode.enabled and input._requires_grad and ad.dtype.kind == "f":
        return _make(out, (input,), lambda g: (g,), "Fmod")
    return _wrap(out)


def _out(res, out):
    if out is None:
        return res
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be a Tensor, got {type(out).__name__}")
    if out.shape != res.shape:
        out._data = _xp(out._data).empty(res._data.shape, dtype=out._data.dtype)
    np.copyto(out._data, res._data, casting="same_kind")
    return out


# ---------------------------------------------------------------------------- comparisons / logic

def _cmp(name, ufunc):
    def op(input, other):
        if not isinstance(input, Tensor):
            input = _as_tensor_like(input, other)
        ad, bd, _ = _operands(input, other, name)
        try:
            return _wrap(ufunc(ad, bd))
        except ValueError:
            _bcast_error(name, ad, bd)
    op.__name__ = name
    op.__doc__ = f"Element-wise ``{name}`` with broadcasting; returns a bool tensor."
    return op


eq = _cmp("eq", np.equal)
ne = _cmp("ne", np.not_equal)
lt = _cmp("lt", np.less)
le = _cmp("le", np.less_equal)
gt = _cmp("gt", np.greater)
ge = _cmp("ge", np.greater_equal)
less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne


def _logic(name, ufunc, ints_ok):
    def op(input, other):
        if not isinstance(input, Tensor):
            input = _as_tensor_like(input, other)
        ad, bd, _ = _operands(input, other, name)
        if ints_ok:
            if ad.dtype.kind == "f" or (hasattr(bd, "dtype") and bd.dtype.kind == "f"):
                raise TypeError(f"{name}: only integer and bool tensors are supported, got {ad.dtype}")
            return _wrap(ufunc(ad, bd))
        bb = bd.astype(bool, copy=False) if hasattr(bd, "astype") else builtins.bool(bd)
        return _wrap(ufunc(ad.astype(bool, copy=False), bb))
    op.__name__ = name
    return op


bitwise_and = _logic("bitwise_and", np.bitwise_and, True)
bitwise_or = _logic("bitwise_or", np.bitwise_or, True)
bitwise_xor = _logic("bitwise_xor", np.bitwise_xor, True)
logical_and = _logic("logical_and", np.logical_and, False)
logical_or = _logic("logical_or", np.logical_or, False)
logical_xor = _logic("logical_xor", np.logical_xor, False)


def logical_not(input):
    return _wrap(np.logical_not(input._data))


def bitwise_not(input):
    ad = input._data
    if ad.dtype.kind == "f":
        raise TypeError(f"bitwise_not: only integer and bool tensors are supported, got {ad.dtype}")
    return _wrap(np.invert(ad))


def _attach():
    pairs = {
        "add": add,
        "sub": sub,
        "subtract": sub,
        "mul": mul,
        "multiply": mul,
        "div": div,
        "divide": div,
        "true_divide": true_divide,
        "floor_divide": floor_divide,
        "pow": pow,
        "neg": neg,
        "negative": neg,
        "remainder": remainder,
        "fmod": fmod,
        "matmul": matmul,
        "mm": mm,
        "bmm": bmm,
        "mv": mv,
        "dot": dot,
        "eq": eq,
        "ne": ne,
        "lt": lt,
        "le": le,
        "gt": gt,
        "ge": ge,
        "not_equal": ne,
        "less": lt,
        "less_equal": le,
        "greater": gt,
        "greater_equal": ge,
        "logical_and": logical_and,
        "logical_or": logical_or,
        "logical_xor": logical_xor,
        "logical_not": logical_not,
        "bitwise_and": bitwise_and,
        "bitwise_or": bitwise_or,
        "bitwise_xor": bitwise_xor,
        "bitwise_not": bitwise_not,
    }
    for name, fn in pairs.items():
        setattr(Tensor, name, fn)


_attach()
