// Double-precision log and sin/cos that give the same bits on the CPU and on a GPU.
//
// Library log/sin/cos differ between glibc, the CPU's vector math and CUDA's libdevice by an ulp
// here and there, so noise drawn from them would differ between devices. These functions use only
// +, -, *, / and sqrt, each correctly rounded, in a fixed order (on the device through the _rn
// intrinsics, which nvcc never contracts into an FMA); host files that include this header must
// not contract either (`#pragma GCC optimize("fp-contract=off")` before the includes, or an ISO
// -std= mode). The polynomials are fdlibm's (FreeBSD msun e_log.c, k_sin.c, k_cos.c): within about
// one ulp of the exact value over the ranges used here.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/host_device.h"

namespace fastnn {
namespace bitwise {

#if defined(__CUDA_ARCH__)
FASTNN_HD double add(double a, double b) { return __dadd_rn(a, b); }
FASTNN_HD double sub(double a, double b) { return __dsub_rn(a, b); }
FASTNN_HD double mul(double a, double b) { return __dmul_rn(a, b); }
FASTNN_HD double div(double a, double b) { return __ddiv_rn(a, b); }
FASTNN_HD double sqrt(double a) { return __dsqrt_rn(a); }
FASTNN_HD uint64_t bits_of(double x) { return (uint64_t)__double_as_longlong(x); }
FASTNN_HD double from_bits(uint64_t b) { return __longlong_as_double((long long)b); }
#else
FASTNN_HD double add(double a, double b) { return a + b; }
FASTNN_HD double sub(double a, double b) { return a - b; }
FASTNN_HD double mul(double a, double b) { return a * b; }
FASTNN_HD double div(double a, double b) { return a / b; }
FASTNN_HD double sqrt(double a) { return __builtin_sqrt(a); }
FASTNN_HD uint64_t bits_of(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
FASTNN_HD double from_bits(uint64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}
#endif

// Exact integer-to-double conversions written with bit operations and one exact subtraction,
// so that they vectorise on every CPU path (AVX2 has no 64-bit integer conversion).
FASTNN_HD double small_int_to_double(int64_t v) {  // |v| < 2^51
  return sub(from_bits(0x4338000000000000ull + (uint64_t)v), 6755399441055744.0);  // 1.5 * 2^52
}
FASTNN_HD double u53_to_double(uint64_t v) {  // v < 2^53
  return add(mul(small_int_to_double((int64_t)(v >> 26)), 67108864.0), small_int_to_double((int64_t)(v & 0x3ffffffu)));
}

// Natural logarithm of a positive, finite, normal x (no checks: the callers pass (0, 1]).
FASTNN_HD double log_normal_positive(double x) {
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01,
               Lg4 = 2.222219843214978396e-01, Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
               Lg7 = 1.479819860511658591e-01;
  // x = 2^k * m with m in [sqrt(2)/2, sqrt(2)): exact, from the bits.
  const uint64_t ix = bits_of(x);
  const uint32_t hx = (uint32_t)(ix >> 32);
  int32_t k = (int32_t)(hx >> 20) - 1023;
  const uint32_t mant = hx & 0x000fffffu;
  const uint32_t i = (mant + 0x95f64u) & 0x100000u;  // set when m would be >= sqrt(2): halve it
  const uint64_t m_bits = ((uint64_t)(mant | (i ^ 0x3ff00000u)) << 32) | (ix & 0xffffffffu);
  k += (int32_t)(i >> 20);
  const double f = sub(from_bits(m_bits), 1.0);
  // log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f)
  const double s = div(f, add(2.0, f));
  const double dk = small_int_to_double(k);
  const double z = mul(s, s);
  const double w = mul(z, z);
  const double t1 = mul(w, add(Lg2, mul(w, add(Lg4, mul(w, Lg6)))));
  const double t2 = mul(z, add(Lg1, mul(w, add(Lg3, mul(w, add(Lg5, mul(w, Lg7)))))));
  const double R = add(t2, t1);
  const double hfsq = mul(mul(0.5, f), f);
  return sub(mul(dk, ln2_hi), sub(sub(hfsq, add(mul(s, add(hfsq, R)), mul(dk, ln2_lo))), f));
}

// sin(x) and cos(x) for |x| <= pi/4.
FASTNN_HD double kernel_sin(double x) {
  const double S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03, S3 = -1.98412698298579493134e-04,
               S4 = 2.75573137070700676789e-06, S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10;
  const double z = mul(x, x);
  const double w = mul(z, z);
  const double r = add(add(S2, mul(z, add(S3, mul(z, S4)))), mul(mul(z, w), add(S5, mul(z, S6))));
  const double v = mul(z, x);
  return add(x, mul(v, add(S1, mul(z, r))));
}

FASTNN_HD double kernel_cos(double x) {
  const double C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03, C3 = 2.48015872894767294178e-05,
               C4 = -2.75573143513906633035e-07, C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
  const double z = mul(x, x);
  const double w = mul(z, z);
  const double r = add(mul(z, add(C1, mul(z, add(C2, mul(z, C3))))), mul(mul(w, w), add(C4, mul(z, add(C5, mul(z, C6))))));
  const double hz = mul(0.5, z);
  const double one_minus_hz = sub(1.0, hz);
  return add(one_minus_hz, add(sub(sub(1.0, one_minus_hz), hz), mul(z, r)));
}

// sin and cos of the angle 2*pi * X / 2^Bits, for an integer 0 <= X < 2^Bits (Bits <= 53): the
// reduction to [-pi/4, pi/4] is exact, done on the integer.
template <int Bits>
FASTNN_HD void sincos_turns(uint64_t X, double* sin_out, double* cos_out) {
  static_assert(Bits >= 3 && Bits <= 53, "the angle must fit a double's mantissa");
  const uint64_t q = ((X >> (Bits - 3)) + 1) >> 1;  // nearest quarter turn, 0..4
  const int64_t r = (int64_t)X - (int64_t)(q << (Bits - 2));  // |r| <= 2^(Bits-3): exact as a double
  const double scale = from_bits((uint64_t)(1023 - (Bits - 2)) << 52);  // 2^-(Bits-2)
  const double t = mul(mul(small_int_to_double(r), scale), 1.57079632679489661923);  // in [-pi/4, pi/4]
  const double s = kernel_sin(t), c = kernel_cos(t);
  // rotate by q quarter turns
  const double a = (q & 1) ? c : s;
  const double b = (q & 1) ? s : c;
  *sin_out = (q & 2) ? -a : a;
  *cos_out = ((q + 1) & 2) ? -b : b;
}

}  // namespace bitwise
}  // namespace fastnn
