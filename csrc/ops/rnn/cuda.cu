// The fused recurrent gate kernels on the GPU (one thread per element of a step, grid-stride) and
// the loops over time of driver.h on them, with the GEMM of ops/gemm. Formulas: rnn.h (the same
// order of operations as the CPU kernels in cell_simd.cpp).
#include "core/cuda_common.cuh"
#include "ops/gemm/cuda.h"
#include "ops/rnn/cuda.h"

namespace fastnn {
namespace rnn {
namespace {

using cuda::check_launch;
using cuda::elementwise_blocks;

constexpr int kThreads = 256;

__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float tanh_(float x) { return tanhf(x); }
__device__ __forceinline__ double tanh_(double x) { return tanh(x); }

template <typename T>
__device__ __forceinline__ T sigmoid(T x) {
  return T(1) / (T(1) + exp_(-x));
}

template <typename T>
__device__ __forceinline__ T bias(const T* b, long long k) {
  return b ? b[k] : T(0);
}

template <typename T>
__global__ void forward_kernel(Mode mode, StepFwd<T> a) {
  const long long H = a.H, n = a.b * H, G = mode == Mode::lstm ? 4 : mode == Mode::gru ? 3 : 1, GH = G * H;
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += stride) {
    const long long r = e / H, j = e - r * H;
    const T* xg = a.xg + r * GH;
    const T* hg = a.hg + r * GH;
    T* sv = a.saved ? a.saved + e : nullptr;
    auto pre = [&](long long k) {
      const long long q = k * H + j;
      return (xg[q] + bias(a.b_ih, q)) + (hg[q] + bias(a.b_hh, q));
    };
    if (mode == Mode::rnn_tanh || mode == Mode::rnn_relu) {
      const T x = pre(0);
      const T h = mode == Mode::rnn_tanh ? tanh_(x) : (x > T(0) ? x : T(0));
      a.h_out[e] = h;
      if (sv) sv[0] = h;
    } else if (mode == Mode::lstm) {
      const T i = sigmoid(pre(0)), f = sigmoid(pre(1)), g = tanh_(pre(2)), o = sigmoid(pre(3));
      const T c = f * a.c[e] + i * g;
      a.c[e] = c;
      a.h_out[e] = o * tanh_(c);
      if (sv) {
        sv[0] = i;
        sv[a.plane] = f;
        sv[2 * a.plane] = g;
        sv[3 * a.plane] = o;
        sv[4 * a.plane] = c;
      }
    } else {
      const T rg = sigmoid(pre(0)), z = sigmoid(pre(1));
      const T hn = hg[2 * H + j] + bias(a.b_hh, 2 * H + j);
      const T nn = tanh_((xg[2 * H + j] + bias(a.b_ih, 2 * H + j)) + rg * hn);
      a.h_out[e] = (T(1) - z) * nn + z * a.h_prev[e];
      if (sv) {
        sv[0] = rg;
        sv[a.plane] = z;
        sv[2 * a.plane] = nn;
        sv[3 * a.plane] = hn;
      }
    }
  }
}

template <typename T>
__global__ void backward_kernel(Mode mode, StepBwd<T> a) {
  const long long H = a.H, n = a.b * H, G = mode == Mode::lstm ? 4 : mode == Mode::gru ? 3 : 1, GH = G * H;
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += stride) {
    const long long r = e / H, j = e - r * H;
    const T* sv = a.saved + e;
    T* dgx = a.dgx + r * GH + j;
    T dh = a.dh_a[e];
    if (a.dh_b) dh = dh + a.dh_b[e];
    if (mode == Mode::rnn_tanh || mode == Mode::rnn_relu) {
      const T h = sv[0];
      dgx[0] = mode == Mode::rnn_tanh ? dh * (T(1) - h * h) : (h > T(0) ? dh : T(0));
    } else if (mode == Mode::lstm) {
      const T i = sv[0], f = sv[a.plane], g = sv[2 * a.plane], o = sv[3 * a.plane];
      const T tc = tanh_(sv[4 * a.plane]);
      const T dc = a.dc[e] + dh * o * (T(1) - tc * tc);
      a.dc[e] = dc * f;
      dgx[0] = dc * g * i * (T(1) - i);
      dgx[H] = dc * a.c_prev[e] * f * (T(1) - f);
      dgx[2 * H] = dc * i * (T(1) - g * g);
      dgx[3 * H] = dh * tc * o * (T(1) - o);
    } else {
      const T rg = sv[0], z = sv[a.plane], nn = sv[2 * a.plane], hn = sv[3 * a.plane];
      const T hp = a.h_prev[e];
      const T dn = dh * (T(1) - z) * (T(1) - nn * nn);
      const T dz = dh * (hp - nn) * z * (T(1) - z);
      const T dr = dn * hn * rg * (T(1) - rg);
      T* dgh = a.dgh + r * GH + j;
      dgx[0] = dr;
      dgx[H] = dz;
      dgx[2 * H] = dn;
      dgh[0] = dr;
      dgh[H] = dz;
      dgh[2 * H] = dn * rg;
      a.dh_prev[e] = dh * z;
    }
  }
}

template <typename T>
__global__ void copy_kernel(long long n, T* dst, const T* src) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = src[i];
}

template <typename T>
__global__ void add_kernel(long long n, T* dst, const T* x, const T* y) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = x[i] + y[i];
}

template <typename T>
struct CudaOps {
  cudaStream_t stream;
  void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t sAm, int64_t sAk, const T* B, int64_t sBk,
            int64_t sBn, T beta, T* C, int64_t sCm) const {
    if (M <= 0 || N <= 0) return;
    cuda::gemm_batched<T>(1, M, N, K, T(1), A, 0, sAm, sAk, B, 0, sBk, sBn, beta, C, 0, sCm, 1, false, stream);
  }
  void step_forward(Mode m, const StepFwd<T>& a) const {
    const long long n = a.b * a.H;
    if (n <= 0) return;
    forward_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(m, a);
    check_launch("rnn_forward");
  }
  void step_backward(Mode m, const StepBwd<T>& a) const {
    const long long n = a.b * a.H;
    if (n <= 0) return;
    backward_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(m, a);
    check_launch("rnn_backward");
  }
  void copy(T* dst, const T* src, int64_t n) const {
    if (n <= 0) return;
    copy_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(n, dst, src);
    check_launch("rnn copy");
  }
  void zero(T* dst, int64_t n) const {
    if (n > 0) cuda::check(cudaMemsetAsync(dst, 0, sizeof(T) * n, stream), "rnn zero");
  }
  void add(T* dst, const T* x, const T* y, int64_t n) const {
    if (n <= 0) return;
    add_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(n, dst, x, y);
    check_launch("rnn add");
  }
};

}  // namespace

template <typename T>
void sequence_forward_cuda(const SeqFwd<T>& s, cudaStream_t stream) {
  run_forward(CudaOps<T>{stream}, s);
}

template <typename T>
void sequence_backward_cuda(const SeqBwd<T>& s, cudaStream_t stream) {
  run_backward(CudaOps<T>{stream}, s);
}

template void sequence_forward_cuda<float>(const SeqFwd<float>&, cudaStream_t);
template void sequence_forward_cuda<double>(const SeqFwd<double>&, cudaStream_t);
template void sequence_backward_cuda<float>(const SeqBwd<float>&, cudaStream_t);
template void sequence_backward_cuda<double>(const SeqBwd<double>&, cudaStream_t);

}  // namespace rnn
}  // namespace fastnn
