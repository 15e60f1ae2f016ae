// The diffusion kernels' contract, shared by the reference (ref.cpp), the CPU kernels (cpu_simd.cpp)
// and the CUDA kernels (cuda.cu). Forward only: gradients are not taken through them.
//
// Arrays: C-contiguous, storage S = float16 (uint16_t bits), float32 or float64; the arithmetic is in
// A = float32 for float16/float32 storage and float64 for float64. The first dimension is the batch
// N; an element's sample is its flat index over M = numel / N.
//
// diffuse (the forward process in closed form, per-sample timestep t_n):
//   x_t = sa_n x0 + sb_n eps,  and with velocity  v = sa_n eps - sb_n x0
// with sa_n = (A) sqrt_alpha_prod[t_n], sb_n = (A) sqrt_one_minus_alpha_prod[t_n] (float64 tables
// rounded once to A), each product and sum rounded on its own in that order (no fused multiply-add:
// the float32 formula `sa * x0 + sb * eps` of numpy gives the same bits, and so do the CPU paths and the
// GPU). eps is either given (read only) or drawn in the kernel (below) and written out.
//
// sampling_step (one reverse step, nine scalar coefficients (a, b, c, d, h, e, f, g, s) rounded to A):
//   x0   = a sample + b model_output;   x0 = clamp(x0, -clip, clip) when clipping (NaN stays NaN)
//   eps  = (c sample + d model_output) + h x0
//   prev = ((e x0 + f sample) + g eps) + s z
// in that order of operations; a term whose coefficient g or s is 0 is left out (it adds nothing, and
// an infinite operand then cannot make a NaN). z is given (read only) or, when s != 0, drawn in the
// kernel. Outputs prev and x0 (pred_original_sample), in S.
//
// The noise. Element i (flat index over the whole array) of a draw under (key, offset) is laid out as
// the random family lays out normals (ops/random/random.h: groups of 16 Philox blocks, element i is
// value (i % 16P) / 16 of block 16 (i / 16P) + i % 16), and counters_for() counters are used:
//   float64 storage: P = 2, the float64 normals of random.h bit for bit: `philox_normal` into a float64
//     array of the same size under the same (key, offset) writes the same eps;
//   float32 / float16 storage: P = 4, Box-Muller in float32 (normal_pair_f32 below) on the same word
//     pairs as random.h's float32 normals (radius word 2k, angle word 2k + 1 of a block). It differs from
//     `philox_normal`'s double-precision transform by a few float32 ulps (a float32 transform is what
//     makes the fused draw several times faster); every CPU path, the reference and the GPU give the
//     same bits, because it uses only correctly rounded float32 +, -, *, /, sqrt and exact integer
//     steps. float16 storage rounds it once more (to nearest even), and that rounded value is what the
//     formulas use, so `diffuse(x0, ..., noise=returned_noise)` reproduces x_t exactly.
// The radius uniform is (R | 1) 2^-32 rounded to float32 (in (0, 1], so the log is finite: |z| <= 6.67),
// the angle the top 24 bits of its word; log is fdlibm's logf, sin/cos Cephes' sinf/cosf polynomials on an
// exactly reduced angle: within 2 float32 ulps of the exact value.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/bitwise_math.h"
#include "core/host_device.h"
#include "core/philox.h"
#include "ops/random/random.h"

namespace fastnn {
namespace diffusion {

// Correctly rounded float32 operations, never contracted (host files that include this header compile
// with fp-contract=off, the device spells them with the _rn intrinsics).
namespace fp {
#if defined(__CUDA_ARCH__)
FASTNN_HD float add(float a, float b) { return __fadd_rn(a, b); }
FASTNN_HD float sub(float a, float b) { return __fsub_rn(a, b); }
FASTNN_HD float mul(float a, float b) { return __fmul_rn(a, b); }
FASTNN_HD float div(float a, float b) { return __fdiv_rn(a, b); }
FASTNN_HD float sqrt(float a) { return __fsqrt_rn(a); }
FASTNN_HD uint32_t bits_of(float x) { return __float_as_uint(x); }
FASTNN_HD float from_bits(uint32_t b) { return __uint_as_float(b); }
#else
FASTNN_HD float add(float a, float b) { return a + b; }
FASTNN_HD float sub(float a, float b) { return a - b; }
FASTNN_HD float mul(float a, float b) { return a * b; }
FASTNN_HD float div(float a, float b) { return a / b; }
FASTNN_HD float sqrt(float a) { return __builtin_sqrtf(a); }
FASTNN_HD uint32_t bits_of(float x) { return __builtin_bit_cast(uint32_t, x); }  // vectorises, memcpy does not
FASTNN_HD float from_bits(uint32_t b) { return __builtin_bit_cast(float, b); }
#endif
FASTNN_HD double add(double a, double b) { return bitwise::add(a, b); }
FASTNN_HD double sub(double a, double b) { return bitwise::sub(a, b); }
FASTNN_HD double mul(double a, double b) { return bitwise::mul(a, b); }
}  // namespace fp

// ---------------------------------------------------------------- float32 normals

// log(x) for x in (0, 1], normal (fdlibm e_logf.c without its special cases).
FASTNN_HD float log_unit_f32(float x) {
  const float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f;
  const float Lg1 = 0x1.555554p-1f, Lg2 = 0x1.999c26p-2f, Lg3 = 0x1.23d3dcp-2f, Lg4 = 0x1.f13c4cp-3f;
  uint32_t ix = fp::bits_of(x);
  int32_t k = (int32_t)(ix >> 23) - 127;
  ix &= 0x007fffffu;
  const uint32_t i = (ix + (0x95f64u << 3)) & 0x800000u;  // set when the mantissa would be >= sqrt(2): halve it
  const float m = fp::from_bits(ix | (i ^ 0x3f800000u));
  k += (int32_t)(i >> 23);
  const float f = fp::sub(m, 1.0f);
  const float s = fp::div(f, fp::add(2.0f, f));
  const float dk = (float)k;  // exact
  const float z = fp::mul(s, s);
  const float w = fp::mul(z, z);
  const float t1 = fp::mul(w, fp::add(Lg2, fp::mul(w, Lg4)));
  const float t2 = fp::mul(z, fp::add(Lg1, fp::mul(w, Lg3)));
  const float R = fp::add(t2, t1);
  const float hfsq = fp::mul(fp::mul(0.5f, f), f);
  return fp::sub(fp::mul(dk, ln2_hi), fp::sub(fp::sub(hfsq, fp::add(fp::mul(s, fp::add(hfsq, R)), fp::mul(dk, ln2_lo))), f));
}

// sin and cos of the angle 2 pi X / 2^24 for 0 <= X < 2^24: the reduction to [-pi/4, pi/4] is exact
// on the integer, then Cephes' sinf/cosf polynomials.
FASTNN_HD void sincos_turns24(uint32_t X, float* sin_out, float* cos_out) {
  const uint32_t q = ((X >> 21) + 1u) >> 1;  // nearest quarter turn, 0..4
  const int32_t r = (int32_t)X - (int32_t)(q << 22);  // |r| <= 2^21: exact as a float
  const float t = fp::mul((float)r, 0x1.921fb6p-22f);  // (float)(pi/2) 2^-22: one rounding
  const float z = fp::mul(t, t);
  const float ps = fp::add(fp::mul(fp::add(fp::mul(-1.9515295891e-4f, z), 8.3321608736e-3f), z), -1.6666654611e-1f);
  const float s = fp::add(fp::mul(fp::mul(ps, z), t), t);
  const float pc = fp::add(fp::mul(fp::add(fp::mul(2.443315711809948e-5f, z), -1.388731625493765e-3f), z),
                           4.166664568298827e-2f);
  const float c = fp::add(fp::sub(fp::mul(fp::mul(pc, z), z), fp::mul(0.5f, z)), 1.0f);
  const float a = (q & 1u) ? c : s;
  const float b = (q & 1u) ? s : c;
  *sin_out = (q & 2u) ? -a : a;
  *cos_out = ((q + 1u) & 2u) ? -b : b;
}

// Two standard normals from a radius word R and an angle word A.
FASTNN_HD void normal_pair_f32(uint32_t R, uint32_t A, float* z0, float* z1) {
  // u = float32(R | 1) 2^-32, the double transform's radius uniform rounded once: the integer's two
  // halves convert exactly, their sum rounds once (int32 conversion would lose the top bit)
  const uint32_t odd = R | 1u;
  const float u = fp::mul(fp::add(fp::mul((float)(int32_t)(odd >> 16), 65536.0f), (float)(int32_t)(odd & 0xffffu)),
                          0x1p-32f);
  const float radius = fp::sqrt(fp::mul(-2.0f, log_unit_f32(u)));
  float s, c;
  sincos_turns24(A >> 8, &s, &c);
  *z0 = fp::mul(radius, s);
  *z1 = fp::mul(radius, c);
}

// Values per Philox block of the noise for storage of `itemsize` bytes.
FASTNN_HD int per_block(int itemsize) { return itemsize == 8 ? 2 : 4; }

// Counters a draw of n elements uses (random.h's count for P values per block).
FASTNN_HD uint64_t counters_for(int itemsize, long long n) {
  return itemsize == 8 ? random::counters_for<double>(random::Dist::normal, n)
                       : random::counters_for<float>(random::Dist::normal, n);
}

// The noise values of one block: four float32 ones, or two float64 ones (random.h's, bit for bit).
FASTNN_HD void block_noise(const philox::Block& b, float out[4]) {
  normal_pair_f32(b.w[0], b.w[1], &out[0], &out[1]);
  normal_pair_f32(b.w[2], b.w[3], &out[2], &out[3]);
}
FASTNN_HD void block_noise(const philox::Block& b, double out[2]) {
  random::block_values<double, random::Dist::normal>(b, random::Params<double>{}, out);
}

// ---------------------------------------------------------------- float16 storage

// float16 bits to float32 (exact) and float32 to float16 bits rounded to nearest even (what numpy's
// cast and CUDA's __float2half_rn do), with integer steps and exact float operations only.
// Branch-free (selects only), so that the CPU loops over elements vectorise.
FASTNN_HD float half_to_float(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  const uint32_t normal = sign | ((e + 112u) << 23) | (m << 13);
  const uint32_t special = sign | 0x7f800000u | (m << 13);
  const uint32_t sub = sign | fp::bits_of(fp::mul((float)(int32_t)m, 0x1p-24f));  // zero or subnormal: exact
  uint32_t r = e != 0u ? normal : sub;
  r = e == 0x1fu ? special : r;
  return fp::from_bits(r);
}

FASTNN_HD uint32_t float_to_half_bits(float f) {
  const uint32_t u = fp::bits_of(f);
  const uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  // below the smallest normal: a multiple of 2^-24, rounded to nearest even by adding 2^23 (exact
  // scaling by 2^24, one rounding in the addition)
  const uint32_t sub = fp::bits_of(fp::add(fp::mul(fp::from_bits(a), 0x1p24f), 8388608.0f)) & 0x7ffu;
  // normal: rebias the exponent (127 -> 15) and drop 13 mantissa bits rounding to nearest even; a carry
  // out of the mantissa moves into the exponent, as it should
  const uint32_t normal = ((a - 0x38000000u) + 0xfffu + ((a >> 13) & 1u)) >> 13;
  uint32_t r = a < 0x38800000u ? sub : normal;
  r = a >= 0x477ff000u ? 0x7c00u : r;
  r = a > 0x7f800000u ? 0x7e00u : r;
  return sign | r;
}

// Storage S <-> arithmetic type A (static members: FASTNN_HD's `static` is for free functions).
#if defined(__CUDACC__)
#define FASTNN_HD_MEMBER __host__ __device__ __forceinline__
#else
#define FASTNN_HD_MEMBER inline __attribute__((always_inline))
#endif
template <typename S>
struct Storage {
  using A = S;
  FASTNN_HD_MEMBER static A load(S x) { return x; }
  FASTNN_HD_MEMBER static S store(A x) { return x; }
};
template <>
struct Storage<uint16_t> {
  using A = float;
  FASTNN_HD_MEMBER static float load(uint16_t x) { return half_to_float(x); }
  FASTNN_HD_MEMBER static uint16_t store(float x) { return (uint16_t)float_to_half_bits(x); }
};

// ---------------------------------------------------------------- the element formulas

template <typename A>
FASTNN_HD A noised(A sa, A sb, A x0, A eps) {
  return fp::add(fp::mul(sa, x0), fp::mul(sb, eps));
}
template <typename A>
FASTNN_HD A velocity(A sa, A sb, A x0, A eps) {
  return fp::sub(fp::mul(sa, eps), fp::mul(sb, x0));
}

template <typename A>
struct StepCoef {
  A a, b, c, d, h, e, f, g, s;
  A clip;  // the clip range; +infinity when not clipping (the clamp then changes nothing, NaN included)
};

// x0 (pred_original_sample) and the previous sample from one element of sample and model output, and
// the noise z (read only when s != 0). Selects, not branches, so that the CPU loops vectorise.
template <typename A>
FASTNN_HD void step_values(const StepCoef<A>& k, A sample, A model_output, A z, A* x0_out, A* prev_out) {
  A x0 = fp::add(fp::mul(k.a, sample), fp::mul(k.b, model_output));
  x0 = x0 < -k.clip ? -k.clip : (x0 > k.clip ? k.clip : x0);
  const A base = fp::add(fp::mul(k.e, x0), fp::mul(k.f, sample));
  const A eps = fp::add(fp::add(fp::mul(k.c, sample), fp::mul(k.d, model_output)), fp::mul(k.h, x0));
  const A with_eps = k.g != A(0) ? fp::add(base, fp::mul(k.g, eps)) : base;
  *x0_out = x0;
  *prev_out = k.s != A(0) ? fp::add(with_eps, fp::mul(k.s, z)) : with_eps;
}

}  // namespace diffusion
}  // namespace fastnn
