// The CPU diffusion kernels, compiled once per CPU path (contract: ops/diffusion/diffusion.h). The
// noise of a chunk of elements is drawn first, kLanes Philox blocks at a time (ops/random/lanes_simd.h),
// into a small buffer, then one pass over the chunk reads the inputs and writes every output; the loops
// over lanes and elements are plain loops the compiler vectorises. Nothing is contracted into an FMA
// (the results equal the reference's and the GPU's bit for bit).
// no-trapping-math lets the compiler compute both sides of a select (the float16 conversions, the clamp) and
// so vectorise the loops; it changes no result.
#pragma GCC optimize("fp-contract=off", "no-trapping-math")

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/threads.h"
#include "ops/diffusion/cpu.h"
#include "ops/random/lanes_simd.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace diffusion {
namespace {

namespace fr = ::fastnn::random;

// Groups of Philox blocks per chunk (a chunk is what one loop iteration of the parallel loop does), and
// the chunk size when nothing is drawn.
constexpr int kGroupsPerChunk = 4;
constexpr long long kPlainChunk = 4096;
// Element operations per element, for the thread count: with a draw, and without.
constexpr int64_t kCostDraw = 48, kCostPlain = 4;

// The float32 noise of one group (16 blocks, 64 elements in element order).
inline void group_noise(const random::Lanes& lanes, float* __restrict out) {
  for (int q = 0; q < 2; ++q)
    for (int l = 0; l < random::kLanes; ++l)
      ::fastnn::diffusion::normal_pair_f32(lanes.w[2 * q][l], lanes.w[2 * q + 1][l], &out[random::kLanes * (2 * q) + l],
                                           &out[random::kLanes * (2 * q + 1) + l]);
}
// The float64 noise of one group (32 elements): the random family's float64 normals.
inline void group_noise(const random::Lanes& lanes, double* __restrict out) {
  random::group_values<double, fr::Dist::normal>(lanes, fr::Params<double>{}, out);
}

// float16 <-> float32 with AVX-512F's conversion instructions (exact, and rounding to nearest even: the bits
// of diffusion.h's software conversions, which the other paths use inline); the tails in software.
#if defined(FASTNN_ISA_AVX512)  // (immintrin.h comes with lanes_simd.h)
constexpr bool kHardwareHalf = true;
inline void halves_to_floats(const uint16_t* __restrict in, float* __restrict out, long long m) {
  long long j = 0;
  for (; j + 16 <= m; j += 16)
    _mm512_storeu_ps(out + j, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + j))));
  for (; j < m; ++j) out[j] = ::fastnn::diffusion::half_to_float(in[j]);
}
inline void floats_to_halves(const float* __restrict in, uint16_t* __restrict out, long long m) {
  long long j = 0;
  for (; j + 16 <= m; j += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j),
                        _mm512_cvtps_ph(_mm512_loadu_ps(in + j), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; j < m; ++j) out[j] = (uint16_t)::fastnn::diffusion::float_to_half_bits(in[j]);
}
#else
constexpr bool kHardwareHalf = false;
inline void halves_to_floats(const uint16_t*, float*, long long) {}
inline void floats_to_halves(const float*, uint16_t*, long long) {}
#endif
// Elements per float buffer of the float16 runs.
constexpr long long kHalfBlock = 256;

// Runs body(begin, end, z) over [0, n) in chunks, in parallel: z holds the noise of elements
// begin .. end - 1 (as A) when `draw`, else it is null.
template <typename S, class Body>
void for_chunks(long long n, bool draw, uint64_t key, uint64_t offset, Body&& body) {
  using A = typename Storage<S>::A;
  if (n <= 0) return;
  if (!draw) {
    const long long chunks = (n + kPlainChunk - 1) / kPlainChunk;
#pragma omp parallel for schedule(static) num_threads(threads_for((int64_t)n * kCostPlain))
    for (long long c = 0; c < chunks; ++c) body(c * kPlainChunk, std::min(n, (c + 1) * kPlainChunk), (const A*)nullptr);
    return;
  }
  constexpr long long group = (long long)random::kLanes * (sizeof(S) == 8 ? 2 : 4);  // per_block()
  constexpr long long chunk = group * kGroupsPerChunk;
  const long long chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) num_threads(threads_for((int64_t)n * kCostDraw))
  for (long long c = 0; c < chunks; ++c) {
    alignas(64) A z[chunk];
    const long long begin = c * chunk, end = std::min(n, begin + chunk);
    for (long long g = 0; g * group < end - begin; ++g) {
      random::Lanes lanes;
      random::philox_lanes(key, offset, (uint64_t)((c * kGroupsPerChunk + g) * random::kLanes), lanes);
      group_noise(lanes, z + g * group);
    }
    body(begin, end, (const A*)z);
  }
}

// x_t (and v) over elements [b, e) of one sample; eps from z (drawn: also written to noise) or noise.
template <typename S, bool Draw, bool Velocity>
inline void diffuse_run(long long b, long long e, typename Storage<S>::A sa, typename Storage<S>::A sb,
                        const S* __restrict x0, const typename Storage<S>::A* __restrict z, const S* __restrict noise_in,
                        S* __restrict noise_out, S* __restrict xt, S* __restrict v) {
  using St = Storage<S>;
  using A = typename St::A;
  for (long long i = b; i < e; ++i) {
    A eps;
    if constexpr (Draw) {
      const S stored = St::store(z[i - b]);
      noise_out[i] = stored;
      eps = St::load(stored);
    } else {
      eps = St::load(noise_in[i]);
    }
    const A x = St::load(x0[i]);
    xt[i] = St::store(::fastnn::diffusion::noised(sa, sb, x, eps));
    if constexpr (Velocity) v[i] = St::store(::fastnn::diffusion::velocity(sa, sb, x, eps));
  }
}

// diffuse_run for float16 storage with the hardware conversions: blocks of elements converted to float32
// buffers, the float32 loop, the results converted back.
template <bool Draw, bool Velocity>
inline void diffuse_run_half(long long b, long long e, float sa, float sb, const uint16_t* __restrict x0,
                             const float* __restrict z, const uint16_t* __restrict noise_in,
                             uint16_t* __restrict noise_out, uint16_t* __restrict xt, uint16_t* __restrict v) {
  alignas(64) float xf[kHalfBlock], ef[kHalfBlock], of[kHalfBlock], vf[kHalfBlock];
  for (long long p = b; p < e; p += kHalfBlock) {
    const long long m = std::min(kHalfBlock, e - p);
    halves_to_floats(x0 + p, xf, m);
    if constexpr (Draw) {
      floats_to_halves(z + (p - b), noise_out + p, m);  // the noise rounded to its storage, then used as stored
      halves_to_floats(noise_out + p, ef, m);
    } else {
      halves_to_floats(noise_in + p, ef, m);
    }
    for (long long j = 0; j < m; ++j) {
      of[j] = ::fastnn::diffusion::noised(sa, sb, xf[j], ef[j]);
      if constexpr (Velocity) vf[j] = ::fastnn::diffusion::velocity(sa, sb, xf[j], ef[j]);
    }
    floats_to_halves(of, xt + p, m);
    if constexpr (Velocity) floats_to_halves(vf, v + p, m);
  }
}

template <typename S, bool Draw, bool Velocity>
void diffuse_as(long long n, long long per_sample, const S* x0, const typename Storage<S>::A* coef, const S* noise_in,
                S* noise_out, S* xt, S* v, uint64_t key, uint64_t offset) {
  using A = typename Storage<S>::A;
  for_chunks<S>(n, Draw, key, offset, [&](long long begin, long long end, const A* z) {
    // the chunk, cut where samples change
    for (long long pos = begin; pos < end;) {
      const long long s = pos / per_sample;
      const long long run_end = std::min(end, (s + 1) * per_sample);
      if constexpr (kHardwareHalf && std::is_same_v<S, uint16_t>)
        diffuse_run_half<Draw, Velocity>(pos, run_end, coef[2 * s], coef[2 * s + 1], x0,
                                         z ? z + (pos - begin) : nullptr, noise_in, noise_out, xt, v);
      else
        diffuse_run<S, Draw, Velocity>(pos, run_end, coef[2 * s], coef[2 * s + 1], x0, z ? z + (pos - begin) : nullptr,
                                       noise_in, noise_out, xt, v);
      pos = run_end;
    }
  });
}

template <typename S, int Noise>  // Noise: 0 none (s == 0), 1 given, 2 drawn
void step_as(long long n, const S* model_output, const S* sample, const StepCoef<typename Storage<S>::A>& coef,
             const S* zin, S* prev, S* x0, uint64_t key, uint64_t offset) {
  using St = Storage<S>;
  using A = typename St::A;
  const StepCoef<A> k = coef;  // a copy: the outputs cannot alias it
  for_chunks<S>(n, Noise == 2, key, offset, [&](long long begin, long long end, const A* zd) {
    const S* __restrict mo = model_output;
    const S* __restrict sm = sample;
    S* __restrict pv = prev;
    S* __restrict xo = x0;
    if constexpr (kHardwareHalf && std::is_same_v<S, uint16_t>) {
      alignas(64) float mf[kHalfBlock], sf[kHalfBlock], zf[kHalfBlock], xf[kHalfBlock], pf[kHalfBlock];
      alignas(64) uint16_t zh[kHalfBlock];
      for (long long p0 = begin; p0 < end; p0 += kHalfBlock) {
        const long long m = std::min(kHalfBlock, end - p0);
        halves_to_floats(mo + p0, mf, m);
        halves_to_floats(sm + p0, sf, m);
        if constexpr (Noise == 2) {  // the noise rounded to float16 first, as stored noise would be
          floats_to_halves(zd + (p0 - begin), zh, m);
          halves_to_floats(zh, zf, m);
        } else if constexpr (Noise == 1) {
          halves_to_floats(zin + p0, zf, m);
        } else {
          for (long long j = 0; j < m; ++j) zf[j] = 0.0f;
        }
        for (long long j = 0; j < m; ++j) ::fastnn::diffusion::step_values(k, sf[j], mf[j], zf[j], &xf[j], &pf[j]);
        floats_to_halves(xf, xo + p0, m);
        floats_to_halves(pf, pv + p0, m);
      }
    } else {
      for (long long i = begin; i < end; ++i) {
        A zi = A(0);
        if constexpr (Noise == 2) zi = St::load(St::store(zd[i - begin]));
        else if constexpr (Noise == 1) zi = St::load(zin[i]);
        A x, p;
        ::fastnn::diffusion::step_values(k, St::load(sm[i]), St::load(mo[i]), zi, &x, &p);
        xo[i] = St::store(x);
        pv[i] = St::store(p);
      }
    }
  });
}

}  // namespace

template <typename S>
void diffuse(long long n, long long per_sample, const S* x0, const typename Storage<S>::A* coef, const S* noise_in,
             S* noise_out, S* xt, S* v, uint64_t key, uint64_t offset) {
  if (noise_in) {
    if (v) diffuse_as<S, false, true>(n, per_sample, x0, coef, noise_in, noise_out, xt, v, key, offset);
    else diffuse_as<S, false, false>(n, per_sample, x0, coef, noise_in, noise_out, xt, v, key, offset);
  } else {
    if (v) diffuse_as<S, true, true>(n, per_sample, x0, coef, noise_in, noise_out, xt, v, key, offset);
    else diffuse_as<S, true, false>(n, per_sample, x0, coef, noise_in, noise_out, xt, v, key, offset);
  }
}

template <typename S>
void sampling_step(long long n, const S* model_output, const S* sample, const StepCoef<typename Storage<S>::A>& k,
                   const S* z, bool draw, S* prev, S* x0, uint64_t key, uint64_t offset) {
  using A = typename Storage<S>::A;
  if (k.s == A(0)) step_as<S, 0>(n, model_output, sample, k, z, prev, x0, key, offset);
  else if (draw) step_as<S, 2>(n, model_output, sample, k, z, prev, x0, key, offset);
  else step_as<S, 1>(n, model_output, sample, k, z, prev, x0, key, offset);
}

#define FASTNN_DIFFUSION_CPU(S)                                                                                    \
  template void diffuse<S>(long long, long long, const S*, const Storage<S>::A*, const S*, S*, S*, S*, uint64_t,  \
                           uint64_t);                                                                              \
  template void sampling_step<S>(long long, const S*, const S*, const StepCoef<Storage<S>::A>&, const S*, bool, S*, \
                                 S*, uint64_t, uint64_t);
FASTNN_DIFFUSION_CPU(uint16_t)
FASTNN_DIFFUSION_CPU(float)
FASTNN_DIFFUSION_CPU(double)
#undef FASTNN_DIFFUSION_CPU

}  // namespace diffusion
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
