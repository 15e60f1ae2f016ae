// The activation kernels on the GPU (contract: activation.h): one thread per element, grid-stride loop. For
// relu / leaky_relu the product is a correctly rounded intrinsic, so the results equal the CPU paths'
// bitwise; sigmoid / silu use CUDA's expf / exp (a few ulp). No __restrict__: y / dx may be x / dy (in place).
#include "core/cuda_common.cuh"
#include "ops/activation/cuda.h"

namespace fastnn::cuda::activation {
namespace {

using ::fastnn::activation::kLeakyRelu;
using ::fastnn::activation::kRelu;
using ::fastnn::activation::kSilu;

__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float exp_(float a) { return expf(a); }
__device__ __forceinline__ double exp_(double a) { return exp(a); }

constexpr int kThreads = 256;

template <typename T>
__global__ void forward_kernel(Kind kind, long long n, const T* x, T slope, T* y) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const T v = x[i];
    if (kind == kRelu) y[i] = (v > T(0) || v != v) ? v : T(0);
    else if (kind == kLeakyRelu) y[i] = v > T(0) ? v : mul(v, slope);
    else {
      const T d = T(1) + exp_(-v);
      y[i] = kind == kSilu ? v / d : T(1) / d;
    }
  }
}

template <typename T>
__global__ void backward_kernel(Kind kind, long long n, const T* dy, const T* x, T slope, T* dx) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const T g = dy[i], v = x[i];
    if (kind == kRelu) dx[i] = v > T(0) ? g : T(0);
    else if (kind == kLeakyRelu) dx[i] = v > T(0) ? g : mul(g, slope);
    else {
      const T s = T(1) / (T(1) + exp_(-v));
      dx[i] = kind == kSilu ? g * s * (T(1) + v * (T(1) - s)) : g * s * (T(1) - s);
    }
  }
}

}  // namespace

template <typename T>
void forward(Kind kind, int64_t n, const T* x, T slope, T* y, cudaStream_t stream) {
  if (n <= 0) return;
  forward_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(kind, n, x, slope, y);
  check_launch("activation_forward");
}

template <typename T>
void backward(Kind kind, int64_t n, const T* dy, const T* x, T slope, T* dx, cudaStream_t stream) {
  if (n <= 0) return;
  backward_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(kind, n, dy, x, slope, dx);
  check_launch("activation_backward");
}

template void forward<float>(Kind, int64_t, const float*, float, float*, cudaStream_t);
template void forward<double>(Kind, int64_t, const double*, double, double*, cudaStream_t);
template void backward<float>(Kind, int64_t, const float*, const float*, float, float*, cudaStream_t);
template void backward<double>(Kind, int64_t, const double*, const double*, double, double*, cudaStream_t);

}  // namespace fastnn::cuda::activation
