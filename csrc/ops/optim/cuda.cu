// Fused Adam / AdamW and SGD updates: one thread per element, grid-stride loop. Every operation is a
// correctly rounded intrinsic (no FMA contraction), in the CPU path's order.
#include "core/cuda_common.cuh"
#include "ops/optim/cuda.h"

namespace fastnn::cuda {
namespace {

__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ double sub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ double div(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ double sqrt_rn(double a) { return __dsqrt_rn(a); }

// numpy.maximum: NaN in either operand wins.
template <typename T>
__device__ __forceinline__ T maximum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

template <typename T>
__global__ void adam_kernel(long long n, T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                            T* __restrict__ v, T* __restrict__ vmax, AdamScalars<T> s) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    T pi = p[i];
    T gi = g[i];
    if (s.maximize) gi = -gi;
    if (s.l2 != T(0)) gi = add(gi, mul(s.l2, pi));
    if (s.decay != T(1)) pi = mul(pi, s.decay);
    T mi = m[i];
    mi = s.lerp_low ? add(mi, mul(sub(gi, mi), s.w)) : add(gi, mul(sub(mi, gi), s.one_minus_w));
    const T vi = add(mul(v[i], s.beta2), mul(mul(gi, gi), s.one_minus_beta2));
    T top = vi;
    if (s.amsgrad) {
      top = maximum(vmax[i], vi);
      vmax[i] = top;
    }
    const T denom = add(div(sqrt_rn(top), s.bias_correction2_sqrt), s.eps);
    p[i] = sub(pi, mul(div(mi, denom), s.step_size));
    m[i] = mi;
    v[i] = vi;
  }
}

template <typename T>
__global__ void sgd_kernel(long long n, T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf,
                           SgdScalars<T> s) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const T pi = p[i];
    T d = g[i];
    if (s.maximize) d = -d;
    if (s.l2 != T(0)) d = add(d, mul(s.l2, pi));
    if (s.momentum != T(0)) {
      T b = d;
      if (!s.first) {
        b = mul(buf[i], s.momentum);
        b = s.dampened ? add(b, mul(s.one_minus_dampening, d)) : add(b, d);
      }
      buf[i] = b;
      d = s.nesterov ? add(d, mul(s.momentum, b)) : b;
    }
    p[i] = sub(pi, mul(s.lr, d));
  }
}

constexpr int kThreads = 256;

}  // namespace

template <typename T>
void adam_step(long long n, T* p, const T* g, T* m, T* v, T* vmax, const AdamScalars<T>& s, cudaStream_t stream) {
  if (n == 0) return;
  adam_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(n, p, g, m, v, vmax, s);
  check_launch("adam_step");
}

template <typename T>
void sgd_step(long long n, T* p, const T* g, T* buf, const SgdScalars<T>& s, cudaStream_t stream) {
  if (n == 0) return;
  sgd_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(n, p, g, buf, s);
  check_launch("sgd_step");
}

template void sgd_step<float>(long long, float*, const float*, float*, const SgdScalars<float>&, cudaStream_t);
template void sgd_step<double>(long long, double*, const double*, double*, const SgdScalars<double>&, cudaStream_t);
template void adam_step<float>(long long, float*, const float*, float*, float*, float*, const AdamScalars<float>&,
                               cudaStream_t);
template void adam_step<double>(long long, double*, const double*, double*, double*, double*,
                                const AdamScalars<double>&, cudaStream_t);

}  // namespace fastnn::cuda
