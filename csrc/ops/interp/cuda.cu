// Upsampling kernels: one thread per output element; the backward passes scatter with atomics
// into a zeroed dx (several outputs read the same input pixel).
#include <climits>

#include "core/cuda_common.cuh"
#include "core/shape.h"
#include "ops/interp/cuda.h"

namespace fastnn::cuda {
namespace {

constexpr int kThreads = 256;

// Scale from output to input coordinates, as PyTorch computes it (float for nearest).
float nearest_scale(long long in, long long out, double scale) {
  return scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
}

// Accumulation type: float for float, double for double (PyTorch's accscalar on CUDA).
template <typename T>
T linear_scale(long long in, long long out, bool align_corners, double scale) {
  if (align_corners) return out > 1 ? T(in - 1) / T(out - 1) : T(0);
  return scale > 0 ? T(1.0 / scale) : T(in) / T(out);
}

__device__ __forceinline__ long long nearest_src(long long dst, float s, long long in) {
  const long long v = (long long)floorf((float)dst * s);
  return v < in - 1 ? v : in - 1;
}

template <typename T>
__device__ __forceinline__ void linear_src(long long dst, T s, bool align_corners, long long in, long long& i0,
                                           long long& i1, T& l0, T& l1) {
  T src = align_corners ? s * T(dst) : s * (T(dst) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  i0 = (long long)src;
  if (i0 > in - 1) i0 = in - 1;
  i1 = i0 + (i0 < in - 1 ? 1 : 0);
  l1 = src - T(i0);
  l0 = T(1) - l1;
}

using shape::unflatten;

template <typename T>
__global__ void nearest_fwd(InterpGeom g, float sh, float sw, Arr4<const T> x, Arr4<T> y) {
  const long long total = g.N * g.C * g.OH * g.OW;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    long long n, c, oh, ow;
    unflatten(i, g.C, g.OH, g.OW, n, c, oh, ow);
    const long long h = nearest_src(oh, sh, g.H), w = nearest_src(ow, sw, g.W);
    y.p[n * y.s0 + c * y.s1 + oh * y.s2 + ow * y.s3] = x.p[n * x.s0 + c * x.s1 + h * x.s2 + w * x.s3];
  }
}

template <typename T>
__global__ void nearest_bwd(InterpGeom g, float sh, float sw, Arr4<const T> dy, Arr4<T> dx) {
  const long long total = g.N * g.C * g.OH * g.OW;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    long long n, c, oh, ow;
    unflatten(i, g.C, g.OH, g.OW, n, c, oh, ow);
    const long long h = nearest_src(oh, sh, g.H), w = nearest_src(ow, sw, g.W);
    atomicAdd(dx.p + n * dx.s0 + c * dx.s1 + h * dx.s2 + w * dx.s3, dy.p[n * dy.s0 + c * dy.s1 + oh * dy.s2 + ow * dy.s3]);
  }
}

template <typename T>
__global__ void bilinear_fwd(InterpGeom g, T sh, T sw, bool ac, Arr4<const T> x, Arr4<T> y) {
  const long long total = g.N * g.C * g.OH * g.OW;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    long long n, c, oh, ow, h0, h1, w0, w1;
    T a0, a1, b0, b1;
    unflatten(i, g.C, g.OH, g.OW, n, c, oh, ow);
    linear_src<T>(oh, sh, ac, g.H, h0, h1, a0, a1);
    linear_src<T>(ow, sw, ac, g.W, w0, w1, b0, b1);
    const T* p = x.p + n * x.s0 + c * x.s1;
    const T v = a0 * (b0 * p[h0 * x.s2 + w0 * x.s3] + b1 * p[h0 * x.s2 + w1 * x.s3]) +
                a1 * (b0 * p[h1 * x.s2 + w0 * x.s3] + b1 * p[h1 * x.s2 + w1 * x.s3]);
    y.p[n * y.s0 + c * y.s1 + oh * y.s2 + ow * y.s3] = v;
  }
}

template <typename T>
__global__ void bilinear_bwd(InterpGeom g, T sh, T sw, bool ac, Arr4<const T> dy, Arr4<T> dx) {
  const long long total = g.N * g.C * g.OH * g.OW;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    long long n, c, oh, ow, h0, h1, w0, w1;
    T a0, a1, b0, b1;
    unflatten(i, g.C, g.OH, g.OW, n, c, oh, ow);
    linear_src<T>(oh, sh, ac, g.H, h0, h1, a0, a1);
    linear_src<T>(ow, sw, ac, g.W, w0, w1, b0, b1);
    const T d = dy.p[n * dy.s0 + c * dy.s1 + oh * dy.s2 + ow * dy.s3];
    T* p = dx.p + n * dx.s0 + c * dx.s1;
    atomicAdd(p + h0 * dx.s2 + w0 * dx.s3, a0 * b0 * d);
    atomicAdd(p + h0 * dx.s2 + w1 * dx.s3, a0 * b1 * d);
    atomicAdd(p + h1 * dx.s2 + w0 * dx.s3, a1 * b0 * d);
    atomicAdd(p + h1 * dx.s2 + w1 * dx.s3, a1 * b1 * d);
  }
}

long long out_elems(const InterpGeom& g) { return g.N * g.C * g.OH * g.OW; }

}  // namespace

template <typename T>
void upsample_nearest2d_forward(const InterpGeom& g, Arr4<const T> x, Arr4<T> y, cudaStream_t stream) {
  const long long total = out_elems(g);
  if (total == 0) return;
  nearest_fwd<T><<<elementwise_blocks(total, kThreads), kThreads, 0, stream>>>(
      g, nearest_scale(g.H, g.OH, g.scale_h), nearest_scale(g.W, g.OW, g.scale_w), x, y);
  check_launch("upsample_nearest2d_forward");
}

template <typename T>
void upsample_nearest2d_backward(const InterpGeom& g, Arr4<const T> dy, Arr4<T> dx, cudaStream_t stream) {
  zero_fill4<T>(dx, g.N, g.C, g.H, g.W, stream);
  const long long total = out_elems(g);
  if (total == 0 || g.H * g.W == 0) return;
  nearest_bwd<T><<<elementwise_blocks(total, kThreads), kThreads, 0, stream>>>(
      g, nearest_scale(g.H, g.OH, g.scale_h), nearest_scale(g.W, g.OW, g.scale_w), dy, dx);
  check_launch("upsample_nearest2d_backward");
}

template <typename T>
void upsample_bilinear2d_forward(const InterpGeom& g, bool ac, Arr4<const T> x, Arr4<T> y, cudaStream_t stream) {
  const long long total = out_elems(g);
  if (total == 0) return;
  bilinear_fwd<T><<<elementwise_blocks(total, kThreads), kThreads, 0, stream>>>(
      g, linear_scale<T>(g.H, g.OH, ac, g.scale_h), linear_scale<T>(g.W, g.OW, ac, g.scale_w), ac, x, y);
  check_launch("upsample_bilinear2d_forward");
}

template <typename T>
void upsample_bilinear2d_backward(const InterpGeom& g, bool ac, Arr4<const T> dy, Arr4<T> dx, cudaStream_t stream) {
  zero_fill4<T>(dx, g.N, g.C, g.H, g.W, stream);
  const long long total = out_elems(g);
  if (total == 0 || g.H * g.W == 0) return;
  bilinear_bwd<T><<<elementwise_blocks(total, kThreads), kThreads, 0, stream>>>(
      g, linear_scale<T>(g.H, g.OH, ac, g.scale_h), linear_scale<T>(g.W, g.OW, ac, g.scale_w), ac, dy, dx);
  check_launch("upsample_bilinear2d_backward");
}

#define FASTNN_INSTANTIATE_INTERP(T)                                                                         \
  template void upsample_nearest2d_forward<T>(const InterpGeom&, Arr4<const T>, Arr4<T>, cudaStream_t);      \
  template void upsample_nearest2d_backward<T>(const InterpGeom&, Arr4<const T>, Arr4<T>, cudaStream_t);     \
  template void upsample_bilinear2d_forward<T>(const InterpGeom&, bool, Arr4<const T>, Arr4<T>, cudaStream_t); \
  template void upsample_bilinear2d_backward<T>(const InterpGeom&, bool, Arr4<const T>, Arr4<T>, cudaStream_t);
FASTNN_INSTANTIATE_INTERP(float)
FASTNN_INSTANTIATE_INTERP(double)

}  // namespace fastnn::cuda
