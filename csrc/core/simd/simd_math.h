// Vector exp, log, tanh, sin and cos for float and double, written once on the layer's own
// operations, so the same code serves the three widths.
//
// Accuracy (measured by tests/test_simd.py against numpy's float64 / long double results, on
// every path): within 2 ulp for float and double over the whole domain, with the C library's
// special values: exp(-inf) = 0, exp(large) = inf, exp of a large negative argument rounds into
// the subnormals and then to 0; log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, subnormal
// arguments are exact powers of two away from normal ones; tanh saturates to exactly +-1;
// sin(+-inf) = cos(+-inf) = NaN; sin(-0) = -0; NaN in, NaN out.
//
// sin and cos reduce the argument by pi/2 in double precision (float arguments are widened):
// Cody-Waite with pi/2 in four parts of at most 33 bits, so j * part is exact and the
// reduction is exact up to the last part for |j| < 2^20, i.e. |x| <= kReduceLimit (about
// 1.5e6). Lanes beyond it (rare: sin of a value that large is barely defined by its own
// rounding) are computed by the C library, whose Payne-Hanek reduction keeps the bound.
#pragma once

#include "core/simd/simd_int.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace simd {
namespace math_detail {

template <typename T>
struct Bits;
template <>
struct Bits<float> {
  using I = int32_t;
  static constexpr int kMant = 23, kBias = 127;
  static constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  static constexpr float kMinNormal = 1.17549435e-38f;
  static constexpr float kSubnormalScale = 33554432.0f, kSubnormalExp = 25.0f;  // 2^25
};
template <>
struct Bits<double> {
  using I = int64_t;
  static constexpr int kMant = 52, kBias = 1023;
  static constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double kMinNormal = 2.2250738585072014e-308;
  static constexpr double kSubnormalScale = 18014398509481984.0, kSubnormalExp = 54.0;  // 2^54
};

template <typename T>
using IVec = Vec<typename Bits<T>::I>;

// Integer-valued n (|n| < 2^22 for float, 2^51 for double) as integer lanes: adding 1.5 * 2^mant
// moves n into the low mantissa bits, in two's complement.
template <typename T>
FASTNN_SIMD_INLINE IVec<T> to_int(Vec<T> n) {
  const Vec<T> m = set1<T>(Bits<T>::kMagic);
  return as_bits(n + m) - as_bits(m);
}
template <typename T>
FASTNN_SIMD_INLINE Vec<T> from_int(IVec<T> i) {
  const Vec<T> m = set1<T>(Bits<T>::kMagic);
  return from_bits(i + as_bits(m)) - m;
}
// 2^n for integer-valued n in the normal exponent range.
template <typename T>
FASTNN_SIMD_INLINE Vec<T> pow2(Vec<T> n) {
  using I = typename Bits<T>::I;
  return from_bits(shl(to_int(n) + set1<I>(I(Bits<T>::kBias)), Bits<T>::kMant));
}
// Sign bit of s on the magnitude of m (m >= 0).
template <typename T>
FASTNN_SIMD_INLINE Vec<T> with_sign_of(Vec<T> m, Vec<T> s) {
  return from_bits(as_bits(m) | (as_bits(s) & as_bits(set1<T>(T(-0.0)))));
}

// Horner's scheme, coefficients from the highest degree down.
template <typename T, int N>
FASTNN_SIMD_INLINE Vec<T> poly(Vec<T> x, const T (&c)[N]) {
  Vec<T> p = set1<T>(c[0]);
  for (int i = 1; i < N; ++i) p = fma(p, x, set1<T>(c[i]));
  return p;
}

// ---------------------------------------------------------------- exp
// exp(x) = 2^n exp(r), r = x - n ln2 with ln2 in two parts (n * hi exact), |r| <= ln2 / 2;
// exp(r) = 1 + (r + r^2 q(r)).
template <typename T>
struct ExpC;
template <>
struct ExpC<float> {
  static constexpr float lo = -104.0f, hi = 89.0f;  // beyond: 0 and inf
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  static constexpr float q[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
};
template <>
struct ExpC<double> {
  static constexpr double lo = -746.0, hi = 710.0;
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  // Taylor coefficients 1/13! ... 1/2: the first omitted term is below 2^-57 on |r| <= ln2 / 2.
  static constexpr double q[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                 1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
                                 1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
};

}  // namespace math_detail

template <typename T>
FASTNN_SIMD_INLINE Vec<T> exp(Vec<T> x) {
  using C = math_detail::ExpC<T>;
  // Clamping keeps n in range; NaN becomes `lo` here and is put back at the end.
  const Vec<T> xc = min(max(x, set1<T>(C::lo)), set1<T>(C::hi));
  const Vec<T> n = round_nearest(xc * set1<T>(T(1.44269504088896340736)));
  Vec<T> r = fma(n, set1<T>(-C::ln2_hi), xc);
  r = fma(n, set1<T>(-C::ln2_lo), r);
  const Vec<T> er = set1<T>(T(1)) + fma(r * r, math_detail::poly(r, C::q), r);
  // 2^n as two factors: neither overflows near the top of the range nor underflows when the
  // result is subnormal, so only the last product rounds.
  const Vec<T> n1 = round_nearest(n * set1<T>(T(0.5)));
  const Vec<T> y = er * math_detail::pow2(n1) * math_detail::pow2(n - n1);
  return select(is_nan(x), x, y);
}

namespace math_detail {

// ---------------------------------------------------------------- log
// x = 2^e m with m in [sqrt(1/2), sqrt(2)), f = m - 1, s = f / (2 + f):
// log(1 + f) = f - (f^2 / 2 - s (f^2 / 2 + R(s^2))), R(z) = z P(z) (fdlibm's scheme).
template <typename T>
struct LogC;
template <>
struct LogC<float> {
  static constexpr float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f;
  static constexpr float p[] = {0.24279078841f, 0.28498786688f, 0.40000972152f, 0.66666662693f};
};
template <>
struct LogC<double> {
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  static constexpr double p[] = {1.479819860511658591e-01, 1.531383769920937332e-01, 1.818357216161805012e-01,
                                 2.222219843214978396e-01, 2.857142874366239149e-01, 3.999999999940941908e-01,
                                 6.666666666666735130e-01};
};

}  // namespace math_detail

template <typename T>
FASTNN_SIMD_INLINE Vec<T> log(Vec<T> x) {
  using B = math_detail::Bits<T>;
  using C = math_detail::LogC<T>;
  using I = typename B::I;
  const Vec<T> one = set1<T>(T(1));
  // Subnormals are scaled into the normal range first, so the exponent field is the exponent.
  const Mask<T> sub = cmp_lt(x, set1<T>(B::kMinNormal));
  const Vec<T> xs = select(sub, x * set1<T>(B::kSubnormalScale), x);
  const math_detail::IVec<T> bits = as_bits(xs);
  Vec<T> e = math_detail::from_int<T>(shr(bits, B::kMant) - set1<I>(I(B::kBias)));
  e = select(sub, e - set1<T>(B::kSubnormalExp), e);
  Vec<T> m = from_bits((bits & set1<I>((I(1) << B::kMant) - 1)) | as_bits(one));
  const Mask<T> high = cmp_gt(m, set1<T>(T(1.41421356237309504880)));
  m = select(high, m * set1<T>(T(0.5)), m);
  e = select(high, e + one, e);
  const Vec<T> f = m - one;
  const Vec<T> s = f / (set1<T>(T(2)) + f);
  const Vec<T> z = s * s;
  const Vec<T> R = z * math_detail::poly(z, C::p);
  const Vec<T> hfsq = set1<T>(T(0.5)) * f * f;
  Vec<T> y = e * set1<T>(C::ln2_hi) - ((hfsq - fma(s, hfsq + R, e * set1<T>(C::ln2_lo))) - f);
  y = select(cmp_lt(x, zero<T>()), set1<T>(T(__builtin_nan(""))), y);
  y = select(cmp_eq(x, zero<T>()), set1<T>(T(-__builtin_inf())), y);
  y = select(cmp_eq(x, set1<T>(T(__builtin_inf()))), x, y);
  return select(is_nan(x), x, y);
}

namespace math_detail {

// ---------------------------------------------------------------- tanh
// |x| < 0.625: x + x z P(z) with z = x^2 (a rational P for double, Cephes' coefficients);
// beyond: 1 - 2 / (exp(2|x|) + 1), which reaches exactly 1 once exp(2|x|) is large.
FASTNN_SIMD_INLINE Vec<float> tanh_small(Vec<float> z) {
  static constexpr float p[] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f,
                                -3.33332819422e-1f};
  return poly(z, p);
}
FASTNN_SIMD_INLINE Vec<double> tanh_small(Vec<double> z) {
  static constexpr double p[] = {-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3};
  static constexpr double q[] = {1.0, 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3};
  return poly(z, p) / poly(z, q);
}

}  // namespace math_detail

template <typename T>
FASTNN_SIMD_INLINE Vec<T> tanh(Vec<T> x) {
  const Vec<T> one = set1<T>(T(1));
  const Vec<T> ax = abs(x);
  const Vec<T> big = math_detail::with_sign_of(one - set1<T>(T(2)) / (exp(ax + ax) + one), x);
  const Vec<T> z = x * x;
  const Vec<T> small = fma(x * z, math_detail::tanh_small(z), x);
  return select(cmp_lt(ax, set1<T>(T(0.625))), small, big);
}

namespace math_detail {

// ---------------------------------------------------------------- sin, cos
constexpr double kReduceLimit = 1572864.0;  // 1.5 * 2^20 < 2^20 pi / 2

// x - j pi/2 = hi + lo with |hi| <= pi/4 (a little more when x * 2/pi rounds across a half).
// j * part is exact for every part; the rounding of the second subtraction is carried in lo.
FASTNN_SIMD_INLINE Vec<double> reduce_pio2(Vec<double> x, Vec<double>& j, Vec<double>& lo) {
  j = round_nearest(x * set1<double>(6.36619772367581382433e-01));
  const Vec<double> r1 = x - j * set1<double>(1.57079632673412561417e+00);  // exact
  const Vec<double> t = j * set1<double>(6.07710050630396597660e-11);
  const Vec<double> r2 = r1 - t;
  const Vec<double> s = ((r1 - r2) - t) - j * set1<double>(2.02226624871116645580e-21) -
                        j * set1<double>(8.47842766036889956997e-32);
  const Vec<double> hi = r2 + s;
  lo = (r2 - hi) + s;
  return hi;
}
FASTNN_SIMD_INLINE Vec<double> reduce(Vec<double> x, Vec<int64_t>& q, Vec<double>& lo) {
  Vec<double> j;
  const Vec<double> r = reduce_pio2(x, j, lo);
  q = to_int(j);
  return r;
}
// Float arguments are reduced in double: the float Cody-Waite chain would need a fused
// multiply-add to stay exact, and the portable path has none. The float result needs no tail.
FASTNN_SIMD_INLINE Vec<float> reduce(Vec<float> x, Vec<int32_t>& q, Vec<float>& lo) {
  Vec<double> jl, jh, lol, loh;
  const Vec<double> rl = reduce_pio2(widen_lo(x), jl, lol), rh = reduce_pio2(widen_hi(x), jh, loh);
  q = to_int(narrow(jl, jh));
  lo = zero<float>();
  return narrow(rl, rh);
}

// On |r| <= pi/4, with r = x + y (y the tail of the reduction), z = x^2, v = x^3:
// sin r = x - ((z (y/2 - v S(z)) - y) - v s1), cos r = w + (((1 - w) - z/2) + (z^2 C(z) - x y)),
// w = 1 - z/2: fdlibm's kernels (its double coefficients, Cephes' float ones), summed so that
// the large terms are added last.
template <typename T>
struct SinCosC;
template <>
struct SinCosC<float> {
  static constexpr float s1 = -1.6666654611e-1f;
  static constexpr float s[] = {-1.9515295891e-4f, 8.3321608736e-3f};
  static constexpr float c[] = {2.443315711809948e-5f, -1.388731625493765e-3f, 4.166664568298827e-2f};
  static constexpr float tiny = 2.44140625e-4f;  // 2^-12: below it sin x rounds to x
};
template <>
struct SinCosC<double> {
  static constexpr double s1 = -1.66666666666666324348e-01;
  static constexpr double s[] = {1.58969099521155010221e-10, -2.50507602534068634195e-08,
                                 2.75573137070700676789e-06, -1.98412698298579493134e-04,
                                 8.33333333332248946124e-03};
  static constexpr double c[] = {-1.13596475577881948265e-11, 2.08757232129817482790e-09,
                                 -2.75573143513906633035e-07, 2.48015872894767294178e-05,
                                 -1.38888888888741095749e-03, 4.16666666666666019037e-02};
  static constexpr double tiny = 1.4901161193847656e-08;  // 2^-26
};

FASTNN_SIMD_INLINE float libm_sin(float x) { return __builtin_sinf(x); }
FASTNN_SIMD_INLINE double libm_sin(double x) { return __builtin_sin(x); }
FASTNN_SIMD_INLINE float libm_cos(float x) { return __builtin_cosf(x); }
FASTNN_SIMD_INLINE double libm_cos(double x) { return __builtin_cos(x); }

// sin x (is_cos false) or cos x = sin(x + pi/2).
template <typename T>
FASTNN_SIMD_INLINE Vec<T> sin_cos(Vec<T> x, bool is_cos) {
  using I = typename Bits<T>::I;
  using C = SinCosC<T>;
  IVec<T> q;
  Vec<T> y;
  const Vec<T> r = reduce(x, q, y);
  if (is_cos) q = q + set1<I>(I(1));
  // sin x = [sin r, cos r, -sin r, -cos r][q mod 4]
  const Vec<T> half = set1<T>(T(0.5)), one = set1<T>(T(1));
  const Vec<T> z = r * r, v = z * r;
  const Vec<T> s = r - ((z * (half * y - v * poly(z, C::s)) - y) - v * set1<T>(C::s1));
  const Vec<T> hz = half * z, w = one - hz;
  const Vec<T> c = w + (((one - w) - hz) + (z * z * poly(z, C::c) - r * y));
  const IVec<T> odd = q & set1<I>(I(1));
  IVec<T> bits = select(cmp_eq(odd, zero<I>()), as_bits(s), as_bits(c));
  bits = bits ^ shl(q & set1<I>(I(2)), 8 * int(sizeof(T)) - 2);
  Vec<T> res = from_bits(bits);
  if (!is_cos) res = select(cmp_lt(abs(x), set1<T>(C::tiny)), x, res);  // keeps -0 and subnormals exact
  // NaN compares false and takes the vector result, which is NaN already.
  if (any(cmp_gt(abs(x), set1<T>(T(kReduceLimit))))) {
    alignas(64) T xs[Vec<T>::W], ys[Vec<T>::W];
    store(xs, x);
    store(ys, res);
    for (int i = 0; i < Vec<T>::W; ++i)
      if (!(xs[i] >= -T(kReduceLimit) && xs[i] <= T(kReduceLimit))) ys[i] = is_cos ? libm_cos(xs[i]) : libm_sin(xs[i]);
    res = load(ys);
  }
  return res;
}

}  // namespace math_detail

// 1 + exp(-v): the denominator of sigmoid and silu (exp(-v) = inf for v below about -89 (float), so the
// quotients go to 0 without a NaN unless v itself is infinite, as in PyTorch).
template <typename T>
FASTNN_SIMD_INLINE Vec<T> one_plus_exp_neg(Vec<T> v) {
  return set1<T>(T(1)) + exp(zero<T>() - v);
}

// silu(v) = v / (1 + exp(-v)) and its gradient g * s * (1 + v * (1 - s)), s = sigmoid(v) (PyTorch's CPU
// formulas): the activation family's SiLU and the group norm's fused SiLU, so the two give the same bits.
template <typename T>
FASTNN_SIMD_INLINE Vec<T> silu(Vec<T> v) {
  return v / one_plus_exp_neg(v);
}
template <typename T>
FASTNN_SIMD_INLINE Vec<T> silu_grad(Vec<T> g, Vec<T> v) {
  const Vec<T> one = set1<T>(T(1));
  const Vec<T> s = one / one_plus_exp_neg(v);
  return g * s * fma(v, one - s, one);
}

template <typename T>
FASTNN_SIMD_INLINE Vec<T> sin(Vec<T> x) {
  return math_detail::sin_cos(x, false);
}
template <typename T>
FASTNN_SIMD_INLINE Vec<T> cos(Vec<T> x) {
  return math_detail::sin_cos(x, true);
}

}  // namespace simd
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
