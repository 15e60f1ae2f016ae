// CPU stand-in for <cuda_fp16.h>: the __half storage type and the conversions the kernels use
// (round to nearest even, as the device's __float2half_rn and numpy's float16 cast).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

struct __half {
  unsigned short __x;
};
typedef __half half;

inline __half __ushort_as_half(unsigned short x) { return __half{x}; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }

inline float __half2float(__half h) {
  const uint32_t s = (uint32_t)(h.__x & 0x8000u) << 16, e = (h.__x >> 10) & 0x1fu, m = h.__x & 0x3ffu;
  uint32_t u;
  if (e == 0x1f) {
    u = s | 0x7f800000u | (m << 13);
  } else if (e != 0) {
    u = s | ((e + 112u) << 23) | (m << 13);
  } else {  // zero or subnormal: m * 2^-24 is exact in float
    float f = std::ldexp((float)m, -24);
    std::memcpy(&u, &f, 4);
    u |= s;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline __half __float2half_rn(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const unsigned short s = (unsigned short)((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return __half{(unsigned short)(s | 0x7e00u)};  // NaN
  if (a >= 0x477ff000u) return __half{(unsigned short)(s | 0x7c00u)};  // rounds to infinity
  if (a < 0x38800000u) {  // below the smallest normal: a multiple of 2^-24, rounded to nearest even
    const float q = std::nearbyint(std::ldexp(std::fabs(f), 24));
    return __half{(unsigned short)(s | (unsigned short)q)};
  }
  const uint32_t e = (a >> 23) - 112u, m = a & 0x7fffffu;
  uint32_t h = (e << 10) | (m >> 13);
  const uint32_t rest = m & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return __half{(unsigned short)(s | h)};
}
