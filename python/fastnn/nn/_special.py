"""The error function on arrays (numpy has none and the library depends on numpy only).

W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev approximations for the error
function", Math. Comp. 1969), evaluated piecewise on whole arrays: accurate to double precision.
"""
from __future__ import annotations

import numpy as np

_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)
_SQRPI = 5.6418958354775628695e-1  # 1/sqrt(pi)


def _erfc_tail(y):
    """erfc(y) for y > 0.46875 (y is a float64 array)."""
    mid = y <= 4.0
    out = np.empty_like(y)
    ym = y[mid]
    if ym.size:
        num = _C[8] * ym
        den = ym.copy()
        for i in range(7):
            num = (num + _C[i]) * ym
            den = (den + _D[i]) * ym
        out[mid] = (num + _C[7]) / (den + _D[7])
    yl = y[~mid]
    if yl.size:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            ysq = 1.0 / (yl * yl)
            num = _P[5] * ysq
            den = ysq.copy()
            for i in range(4):
                num = (num + _P[i]) * ysq
                den = (den + _Q[i]) * ysq
            r = ysq * (num + _P[4]) / (den + _Q[4])
            out[~mid] = (_SQRPI - r) / yl
    # exp(-y*y) split in two factors to keep the low bits of y*y (Cody's trick)
    with np.errstate(under="ignore", invalid="ignore", over="ignore"):
        ysq = np.trunc(y * 16.0) / 16.0
        delta = (y - ysq) * (y + ysq)
        out *= np.exp(-ysq * ysq) * np.exp(-delta)
    out[y >= 26.543] = 0.0
    return out


def erf(x):
    """Element-wise erf of a numpy array, computed in float64 and returned in ``x``'s float dtype."""
    x = np.asarray(x)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    xd = x.astype(np.float64, copy=False)
    y = np.abs(xd)
    res = np.empty_like(xd)
    small = y <= 0.46875
    xs = xd[small]
    if xs.size:
        ysq = xs * xs
        num = _A[4] * ysq
        den = ysq.copy()
        for i in range(3):
            num = (num + _A[i]) * ysq
            den = (den + _B[i]) * ysq
        res[small] = xs * (num + _A[3]) / (den + _B[3])
    big = ~small
    if big.any():
        yb = y[big]
        r = 1.0 - _erfc_tail(np.where(np.isnan(yb), 1.0, yb))
        r = np.where(np.isnan(yb), np.nan, r)
        res[big] = np.copysign(r, xd[big])
    return res.astype(out_dtype, copy=False)
