// The diffusion kernels on the GPU (contract: ops/diffusion/diffusion.h). Every floating-point
// operation is a correctly rounded one (diffusion::fp, the _rn intrinsics), so the values equal the CPU
// kernels' bit for bit.
//
// With a draw, one thread per Philox block (grid-stride): its P values are the elements 16 j + b % 16
// of its group of 16 blocks, so the 16 threads of a group read and write 16 consecutive elements per
// value (64 bytes for float32): coalesced without staging. Without a draw (noise given, or a step with
// no noise term), each thread moves one 16-byte pack (4 float32, 8 float16, 2 float64) per load and
// store; a misaligned array or the tail goes element by element.
#include "core/cuda_common.cuh"
#include "ops/diffusion/cuda.h"

namespace fastnn::cuda::diffusion {
namespace {

namespace fd = ::fastnn::diffusion;

constexpr int kThreads = 256;

template <typename A>
__global__ void coef_kernel(long long N, const void* __restrict__ timesteps, bool t64, const double* __restrict__ sa,
                            const double* __restrict__ sb, long long T, A* __restrict__ coef, long long* __restrict__ bad) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < N; i += (long long)gridDim.x * blockDim.x) {
    const long long t = t64 ? ((const long long*)timesteps)[i] : (long long)((const int*)timesteps)[i];
    if (t < 0 || t >= T) {
      atomicMin(bad, i);
      coef[2 * i] = coef[2 * i + 1] = A(0);
    } else {
      coef[2 * i] = (A)sa[t];
      coef[2 * i + 1] = (A)sb[t];
    }
  }
}

// The sample of element i: a 32-bit division where the indices fit (a 64-bit one is emulated, several times slower).
__device__ __forceinline__ long long sample_of(long long i, long long per_sample) {
  if (((unsigned long long)i | (unsigned long long)per_sample) >> 32 == 0)
    return (long long)((unsigned)i / (unsigned)per_sample);
  return i / per_sample;
}

// Calls f(i, z) for every element i < n of a draw of `blocks` Philox blocks, z its noise value (in A), one
// thread per block (grid-stride); the layout is the random family's (random.h).
template <typename S, typename F>
__device__ __forceinline__ void for_each_drawn(long long n, unsigned long long blocks, uint64_t key, uint64_t offset,
                                               F&& f) {
  using A = typename Storage<S>::A;
  constexpr int P = sizeof(S) == 8 ? 2 : 4;
  constexpr long long group = (long long)random::kGroupBlocks * P;
  const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
  for (unsigned long long b = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
    A z[P];
    fd::block_noise(philox::draw(key, offset, b), z);
    const long long first = (long long)(b / random::kGroupBlocks) * group + (long long)(b % random::kGroupBlocks);
#pragma unroll
    for (int j = 0; j < P; ++j) {
      const long long i = first + (long long)j * random::kGroupBlocks;
      if (i < n) f(i, z[j]);
    }
  }
}

// One element of diffuse, eps in A (already rounded to S when drawn).
template <typename S, bool Vel>
__device__ __forceinline__ void diffuse_element(long long i, long long per_sample, const S* __restrict__ x0,
                                                const typename Storage<S>::A* __restrict__ coef,
                                                typename Storage<S>::A eps, S* __restrict__ xt, S* __restrict__ v) {
  using St = Storage<S>;
  const long long s = sample_of(i, per_sample);
  const auto sa = coef[2 * s], sb = coef[2 * s + 1];
  const auto x = St::load(x0[i]);
  xt[i] = St::store(fd::noised(sa, sb, x, eps));
  if (Vel) v[i] = St::store(fd::velocity(sa, sb, x, eps));
}

template <typename S, bool Vel>
__global__ void diffuse_draw_kernel(long long n, long long per_sample, unsigned long long blocks, const S* __restrict__ x0,
                                    const typename Storage<S>::A* __restrict__ coef, S* __restrict__ noise,
                                    S* __restrict__ xt, S* __restrict__ v, uint64_t key, uint64_t offset) {
  using St = Storage<S>;
  for_each_drawn<S>(n, blocks, key, offset, [&](long long i, typename St::A z) {
    const S e = St::store(z);
    noise[i] = e;
    diffuse_element<S, Vel>(i, per_sample, x0, coef, St::load(e), xt, v);
  });
}

// 16 bytes of S.
template <typename S>
struct Pack {
  static constexpr int K = 16 / sizeof(S);
  S x[K];
};

template <typename S>
__device__ __forceinline__ Pack<S> load_pack(const S* p) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  Pack<S> r;
  memcpy(&r, &u, 16);
  return r;
}
template <typename S>
__device__ __forceinline__ void store_pack(S* p, const Pack<S>& r) {
  uint4 u;
  memcpy(&u, &r, 16);
  *reinterpret_cast<uint4*>(p) = u;
}

// Elements [16 k / sizeof(S), ...) in packs when `packed` (every array 16-byte aligned), else one by one.
template <typename S, class F, class FPack>
__device__ __forceinline__ void for_elements(long long n, bool packed, F&& one, FPack&& pack) {
  constexpr int K = Pack<S>::K;
  const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long stride = (long long)gridDim.x * blockDim.x;
  if (!packed) {
    for (long long i = start; i < n; i += stride) one(i);
    return;
  }
  const long long packs = n / K;
  for (long long p = start; p < packs; p += stride) pack(p * K);
  for (long long i = packs * K + start; i < n; i += stride) one(i);
}

template <typename S, bool Vel>
__global__ void diffuse_given_kernel(long long n, long long per_sample, bool packed, const S* __restrict__ x0,
                                     const typename Storage<S>::A* __restrict__ coef, const S* __restrict__ noise,
                                     S* __restrict__ xt, S* __restrict__ v) {
  using St = Storage<S>;
  constexpr int K = Pack<S>::K;
  for_elements<S>(
      n, packed, [&](long long i) { diffuse_element<S, Vel>(i, per_sample, x0, coef, St::load(noise[i]), xt, v); },
      [&](long long i0) {
        const Pack<S> xs = load_pack(x0 + i0), es = load_pack(noise + i0);
        Pack<S> xo, vo;
#pragma unroll
        for (int j = 0; j < K; ++j) {
          const long long s = sample_of(i0 + j, per_sample);
          const auto sa = coef[2 * s], sb = coef[2 * s + 1];
          const auto x = St::load(xs.x[j]), eps = St::load(es.x[j]);
          xo.x[j] = St::store(fd::noised(sa, sb, x, eps));
          if (Vel) vo.x[j] = St::store(fd::velocity(sa, sb, x, eps));
        }
        store_pack(xt + i0, xo);
        if (Vel) store_pack(v + i0, vo);
      });
}

template <typename S>
__device__ __forceinline__ void step_element(long long i, const StepCoef<typename Storage<S>::A>& k,
                                             const S* __restrict__ mo, const S* __restrict__ sample,
                                             typename Storage<S>::A z, S* __restrict__ prev, S* __restrict__ x0) {
  using St = Storage<S>;
  typename St::A x, p;
  fd::step_values(k, St::load(sample[i]), St::load(mo[i]), z, &x, &p);
  x0[i] = St::store(x);
  prev[i] = St::store(p);
}

template <typename S>
__global__ void step_draw_kernel(long long n, unsigned long long blocks, StepCoef<typename Storage<S>::A> k,
                                 const S* __restrict__ mo, const S* __restrict__ sample, S* __restrict__ prev,
                                 S* __restrict__ x0, uint64_t key, uint64_t offset) {
  using St = Storage<S>;
  for_each_drawn<S>(n, blocks, key, offset, [&](long long i, typename St::A z) {
    step_element<S>(i, k, mo, sample, St::load(St::store(z)), prev, x0);
  });
}

template <typename S>
__global__ void step_plain_kernel(long long n, bool packed, StepCoef<typename Storage<S>::A> k, const S* __restrict__ mo,
                                  const S* __restrict__ sample, const S* __restrict__ z, S* __restrict__ prev,
                                  S* __restrict__ x0) {
  using St = Storage<S>;
  using A = typename St::A;
  constexpr int K = Pack<S>::K;
  for_elements<S>(
      n, packed, [&](long long i) { step_element<S>(i, k, mo, sample, z ? St::load(z[i]) : A(0), prev, x0); },
      [&](long long i0) {
        const Pack<S> ms = load_pack(mo + i0), ss = load_pack(sample + i0);
        Pack<S> zs;
        if (z) zs = load_pack(z + i0);
        Pack<S> po, xo;
#pragma unroll
        for (int j = 0; j < K; ++j) {
          A x, p;
          fd::step_values(k, St::load(ss.x[j]), St::load(ms.x[j]), z ? St::load(zs.x[j]) : A(0), &x, &p);
          xo.x[j] = St::store(x);
          po.x[j] = St::store(p);
        }
        store_pack(prev + i0, po);
        store_pack(x0 + i0, xo);
      });
}

}  // namespace

template <typename S>
int64_t diffuse(long long n, long long N, const S* x0, const void* timesteps, bool t64, const double* sqrt_alpha_prod,
                const double* sqrt_one_minus_alpha_prod, long long T, const S* noise_in, S* noise_out, S* xt, S* v,
                uint64_t key, uint64_t offset, int64_t* bad_value, cudaStream_t stream) {
  using A = typename Storage<S>::A;
  if (n <= 0 || N <= 0) return -1;
  const long long per_sample = n / N;
  // the per-sample coefficients and the first bad timestep, in one allocation
  const size_t coef_bytes = ((2 * (size_t)N * sizeof(A)) + 15) / 16 * 16;
  char* scratch = nullptr;
  check(cudaMallocAsync((void**)&scratch, coef_bytes + 2 * sizeof(long long), stream), "diffuse: scratch");
  A* coef = (A*)scratch;
  long long* bad = (long long*)(scratch + coef_bytes);
  long long none = N;
  check(cudaMemcpyAsync(bad, &none, sizeof none, cudaMemcpyHostToDevice, stream), "diffuse: scratch");
  coef_kernel<A><<<elementwise_blocks(N, kThreads), kThreads, 0, stream>>>(N, timesteps, t64, sqrt_alpha_prod,
                                                                           sqrt_one_minus_alpha_prod, T, coef, bad);
  check_launch("diffuse: timesteps");
  if (noise_in) {
    const bool packed = aligned16(x0) && aligned16(noise_in) && aligned16(xt) && (!v || aligned16(v));
    const long long work = packed ? n / Pack<S>::K + 1 : n;
    if (v)
      diffuse_given_kernel<S, true><<<elementwise_blocks(work, kThreads), kThreads, 0, stream>>>(n, per_sample, packed, x0,
                                                                                                coef, noise_in, xt, v);
    else
      diffuse_given_kernel<S, false><<<elementwise_blocks(work, kThreads), kThreads, 0, stream>>>(n, per_sample, packed,
                                                                                                 x0, coef, noise_in, xt, v);
  } else {
    const uint64_t blocks = fd::counters_for((int)sizeof(S), n);
    if (v)
      diffuse_draw_kernel<S, true><<<elementwise_blocks((long long)blocks, kThreads), kThreads, 0, stream>>>(
          n, per_sample, (unsigned long long)blocks, x0, coef, noise_out, xt, v, key, offset);
    else
      diffuse_draw_kernel<S, false><<<elementwise_blocks((long long)blocks, kThreads), kThreads, 0, stream>>>(
          n, per_sample, (unsigned long long)blocks, x0, coef, noise_out, xt, v, key, offset);
  }
  check_launch("diffuse");
  // read back after the fused kernel was queued, so the wait overlaps it
  long long first = N;
  check(cudaMemcpyAsync(&first, bad, sizeof first, cudaMemcpyDeviceToHost, stream), "diffuse: timesteps");
  check(cudaStreamSynchronize(stream), "diffuse");
  int64_t result = -1;
  if (first < N) {
    result = first;
    if (t64) {
      long long value = 0;
      check(cudaMemcpyAsync(&value, (const long long*)timesteps + first, sizeof value, cudaMemcpyDeviceToHost, stream),
            "diffuse: timesteps");
      check(cudaStreamSynchronize(stream), "diffuse");
      *bad_value = value;
    } else {
      int value = 0;
      check(cudaMemcpyAsync(&value, (const int*)timesteps + first, sizeof value, cudaMemcpyDeviceToHost, stream),
            "diffuse: timesteps");
      check(cudaStreamSynchronize(stream), "diffuse");
      *bad_value = value;
    }
  }
  check(cudaFreeAsync(scratch, stream), "diffuse: scratch");
  return result;
}

template <typename S>
void sampling_step(long long n, const S* model_output, const S* sample, const StepCoef<typename Storage<S>::A>& k,
                   const S* z, bool draw, S* prev, S* x0, uint64_t key, uint64_t offset, cudaStream_t stream) {
  if (n <= 0) return;
  if (draw) {
    const uint64_t blocks = fd::counters_for((int)sizeof(S), n);
    step_draw_kernel<S><<<elementwise_blocks((long long)blocks, kThreads), kThreads, 0, stream>>>(
        n, (unsigned long long)blocks, k, model_output, sample, prev, x0, key, offset);
  } else {
    const S* zr = k.s != 0 ? z : nullptr;
    const bool packed = aligned16(model_output) && aligned16(sample) && aligned16(prev) && aligned16(x0) &&
                        (!zr || aligned16(zr));
    const long long work = packed ? n / Pack<S>::K + 1 : n;
    step_plain_kernel<S><<<elementwise_blocks(work, kThreads), kThreads, 0, stream>>>(n, packed, k, model_output, sample,
                                                                                     zr, prev, x0);
  }
  check_launch("sampling_step");
}

#define FASTNN_DIFFUSION_CUDA(S)                                                                                  \
  template int64_t diffuse<S>(long long, long long, const S*, const void*, bool, const double*, const double*,   \
                              long long, const S*, S*, S*, S*, uint64_t, uint64_t, int64_t*, cudaStream_t);       \
  template void sampling_step<S>(long long, const S*, const S*, const StepCoef<Storage<S>::A>&, const S*, bool, S*, \
                                 S*, uint64_t, uint64_t, cudaStream_t);
FASTNN_DIFFUSION_CUDA(uint16_t)
FASTNN_DIFFUSION_CUDA(float)
FASTNN_DIFFUSION_CUDA(double)
#undef FASTNN_DIFFUSION_CUDA

}  // namespace fastnn::cuda::diffusion
