// Pooling kernels: one thread per output element (forward) or per input element (the gather
// form of the backward passes, which needs no atomics), grid-stride loops. Index arithmetic is
// 32-bit when the element count allows it, since 64-bit division is several times slower.
#include <climits>

#include "core/cuda_common.cuh"
#include "core/shape.h"
#include "ops/pool/cuda.h"

namespace fastnn::cuda {
namespace {

using shape::unflatten;

template <typename T>
__device__ __forceinline__ bool is_nan(T v) {
  return v != v;
}

template <typename T>
__device__ __forceinline__ T neg_inf();
template <>
__device__ __forceinline__ float neg_inf<float>() {
  return -__int_as_float(0x7f800000);
}
template <>
__device__ __forceinline__ double neg_inf<double>() {
  return -__longlong_as_double(0x7ff0000000000000LL);
}

// Geometry in the index type I.
template <typename I>
struct G {
  I N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
};
template <typename I>
G<I> narrow(const PoolGeom& g) {
  return {(I)g.N, (I)g.C, (I)g.H, (I)g.W, (I)g.OH, (I)g.OW, (I)g.kh, (I)g.kw,
          (I)g.sh, (I)g.sw, (I)g.ph, (I)g.pw, (I)g.dh, (I)g.dw};
}

template <typename T, typename I>
__global__ void max_pool_fwd(G<I> g, Arr4<const T> x, Arr4<T> y, Arr4<int64_t> ind) {
  const I total = g.N * g.C * g.OH * g.OW;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I n, c, oh, ow;
    unflatten<I>(i, g.C, g.OH, g.OW, n, c, oh, ow);
    I hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
    const I he = min(hs + (g.kh - 1) * g.dh + 1, g.H), we = min(ws + (g.kw - 1) * g.dw + 1, g.W);
    while (hs < 0) hs += g.dh;
    while (ws < 0) ws += g.dw;
    const T* px = x.p + n * x.s0 + c * x.s1;
    T best = neg_inf<T>();
    long long arg = (long long)hs * g.W + ws;
    for (I h = hs; h < he; h += g.dh)
      for (I w = ws; w < we; w += g.dw) {
        const T v = px[h * x.s2 + w * x.s3];
        if (v > best || is_nan(v)) {
          best = v;
          arg = (long long)h * g.W + w;
        }
      }
    y.p[n * y.s0 + c * y.s1 + oh * y.s2 + ow * y.s3] = best;
    ind.p[n * ind.s0 + c * ind.s1 + oh * ind.s2 + ow * ind.s3] = arg;
  }
}

// Scatter of dy into dx at the recorded maxima; windows may overlap, hence the atomics.
template <typename T, typename I>
__global__ void max_pool_bwd(I N, I C, I H, I W, I OH, I OW, Arr4<const T> dy, Arr4<const int64_t> ind, Arr4<T> dx) {
  const I total = N * C * OH * OW;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I n, c, oh, ow;
    unflatten<I>(i, C, OH, OW, n, c, oh, ow);
    const long long idx = ind.p[n * ind.s0 + c * ind.s1 + oh * ind.s2 + ow * ind.s3];
    // Indices come from the forward pass; one out of range (a caller's own array) is skipped
    // rather than written outside dx.
    if (idx < 0 || idx >= (long long)H * W) continue;
    const I h = (I)(idx / W), w = (I)(idx % W);
    atomicAdd(dx.p + n * dx.s0 + c * dx.s1 + h * dx.s2 + w * dx.s3, dy.p[n * dy.s0 + c * dy.s1 + oh * dy.s2 + ow * dy.s3]);
  }
}

// PyTorch's divisor: the window clipped to the padded input (count_include_pad) or to the input.
template <typename I>
__device__ __forceinline__ I avg_window(const G<I>& g, I oh, I ow, bool include_pad, long long div_override, I& hs,
                                        I& he, I& ws, I& we) {
  hs = oh * g.sh - g.ph;
  ws = ow * g.sw - g.pw;
  he = min(hs + g.kh, g.H + g.ph);
  we = min(ws + g.kw, g.W + g.pw);
  const I pool_size = (he - hs) * (we - ws);
  hs = max(hs, (I)0);
  ws = max(ws, (I)0);
  he = min(he, g.H);
  we = min(we, g.W);
  if (div_override > 0) return (I)div_override;
  return include_pad ? pool_size : (he - hs) * (we - ws);
}

template <typename T, typename I>
__global__ void avg_pool_fwd(G<I> g, bool include_pad, long long div_override, Arr4<const T> x, Arr4<T> y) {
  const I total = g.N * g.C * g.OH * g.OW;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I n, c, oh, ow, hs, he, ws, we;
    unflatten<I>(i, g.C, g.OH, g.OW, n, c, oh, ow);
    const I div = avg_window<I>(g, oh, ow, include_pad, div_override, hs, he, ws, we);
    T out = T(0);
    if (hs < he && ws < we) {
      const T* px = x.p + n * x.s0 + c * x.s1;
      T s = T(0);
      for (I h = hs; h < he; ++h)
        for (I w = ws; w < we; ++w) s += px[h * x.s2 + w * x.s3];
      out = s / T(div);
    }
    y.p[n * y.s0 + c * y.s1 + oh * y.s2 + ow * y.s3] = out;
  }
}

// Gather: input (h, w) collects dy / divisor from every output window that covers it.
template <typename T, typename I>
__global__ void avg_pool_bwd(G<I> g, bool include_pad, long long div_override, Arr4<const T> dy, Arr4<T> dx) {
  const I total = g.N * g.C * g.H * g.W;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I n, c, h, w;
    unflatten<I>(i, g.C, g.H, g.W, n, c, h, w);
    const I hp = h + g.ph, wp = w + g.pw;
    const I ohs = hp < g.kh ? 0 : (hp - g.kh) / g.sh + 1, ohe = min(hp / g.sh + 1, g.OH);
    const I ows = wp < g.kw ? 0 : (wp - g.kw) / g.sw + 1, owe = min(wp / g.sw + 1, g.OW);
    const T* pdy = dy.p + n * dy.s0 + c * dy.s1;
    T s = T(0);
    for (I oh = ohs; oh < ohe; ++oh)
      for (I ow = ows; ow < owe; ++ow) {
        I hs, he, ws, we;
        const I div = avg_window<I>(g, oh, ow, include_pad, div_override, hs, he, ws, we);
        // The clipped window may exclude (h, w) even though the unclipped one covers it.
        if (h >= hs && h < he && w >= ws && w < we) s += pdy[oh * dy.s2 + ow * dy.s3] / T(div);
      }
    dx.p[n * dx.s0 + c * dx.s1 + h * dx.s2 + w * dx.s3] = s;
  }
}

using shape::adaptive_end;
using shape::adaptive_start;

template <typename T, typename I>
__global__ void adaptive_avg_fwd(I N, I C, I H, I W, I OH, I OW, Arr4<const T> x, Arr4<T> y) {
  const I total = N * C * OH * OW;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I n, c, oh, ow;
    unflatten<I>(i, C, OH, OW, n, c, oh, ow);
    const I hs = adaptive_start(oh, H, OH), he = adaptive_end(oh, H, OH);
    const I ws = adaptive_start(ow, W, OW), we = adaptive_end(ow, W, OW);
    const T* px = x.p + n * x.s0 + c * x.s1;
    T s = T(0);
    for (I h = hs; h < he; ++h)
      for (I w = ws; w < we; ++w) s += px[h * x.s2 + w * x.s3];
    y.p[n * y.s0 + c * y.s1 + oh * y.s2 + ow * y.s3] = s / T((he - hs) * (we - ws));
  }
}

template <typename T, typename I>
__global__ void adaptive_avg_bwd(I N, I C, I H, I W, I OH, I OW, Arr4<const T> dy, Arr4<T> dx) {
  const I total = N * C * H * W;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I n, c, h, w;
    unflatten<I>(i, C, H, W, n, c, h, w);
    // Outputs whose window can hold h: [floor(h*OH/H), ceil((h+1)*OH/H)); membership is re-checked.
    const I ohs = (I)(((long long)h * OH) / H), ohe = min((I)(((long long)(h + 1) * OH + H - 1) / H), OH);
    const I ows = (I)(((long long)w * OW) / W), owe = min((I)(((long long)(w + 1) * OW + W - 1) / W), OW);
    const T* pdy = dy.p + n * dy.s0 + c * dy.s1;
    T s = T(0);
    for (I oh = ohs; oh < ohe; ++oh) {
      const I hs = adaptive_start(oh, H, OH), he = adaptive_end(oh, H, OH);
      if (h < hs || h >= he) continue;
      for (I ow = ows; ow < owe; ++ow) {
        const I ws = adaptive_start(ow, W, OW), we = adaptive_end(ow, W, OW);
        if (w < ws || w >= we) continue;
        s += pdy[oh * dy.s2 + ow * dy.s3] / T((he - hs) * (we - ws));
      }
    }
    dx.p[n * dx.s0 + c * dx.s1 + h * dx.s2 + w * dx.s3] = s;
  }
}

template <typename T, typename I>
__global__ void adaptive_max_fwd(I N, I C, I H, I W, I OH, I OW, Arr4<const T> x, Arr4<T> y, Arr4<int64_t> ind) {
  const I total = N * C * OH * OW;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I n, c, oh, ow;
    unflatten<I>(i, C, OH, OW, n, c, oh, ow);
    const I hs = adaptive_start(oh, H, OH), he = adaptive_end(oh, H, OH);
    const I ws = adaptive_start(ow, W, OW), we = adaptive_end(ow, W, OW);
    const T* px = x.p + n * x.s0 + c * x.s1;
    T best = neg_inf<T>();
    long long arg = (long long)hs * W + ws;
    for (I h = hs; h < he; ++h)
      for (I w = ws; w < we; ++w) {
        const T v = px[h * x.s2 + w * x.s3];
        if (v > best || is_nan(v)) {
          best = v;
          arg = (long long)h * W + w;
        }
      }
    y.p[n * y.s0 + c * y.s1 + oh * y.s2 + ow * y.s3] = best;
    ind.p[n * ind.s0 + c * ind.s1 + oh * ind.s2 + ow * ind.s3] = arg;
  }
}

constexpr int kThreads = 256;

bool fits_int(long long total) { return total <= (long long)INT_MAX - 65535LL * 4 * kThreads; }

}  // namespace

// Each launcher picks 32-bit indexing when the element counts (plus one grid stride) fit.
template <typename T>
void max_pool2d_forward(const PoolGeom& g, Arr4<const T> x, Arr4<T> y, Arr4<int64_t> ind, cudaStream_t stream) {
  const long long total = g.N * g.C * g.OH * g.OW;
  if (total == 0) return;
  const unsigned blocks = elementwise_blocks(total, kThreads);
  if (fits_int(total)) max_pool_fwd<T, int><<<blocks, kThreads, 0, stream>>>(narrow<int>(g), x, y, ind);
  else max_pool_fwd<T, long long><<<blocks, kThreads, 0, stream>>>(narrow<long long>(g), x, y, ind);
  check_launch("max_pool2d_forward");
}

template <typename T>
void max_pool2d_backward(long long N, long long C, long long H, long long W, long long OH, long long OW,
                         Arr4<const T> dy, Arr4<const int64_t> ind, Arr4<T> dx, cudaStream_t stream) {
  zero_fill4<T>(dx, N, C, H, W, stream);
  const long long total = N * C * OH * OW;
  if (total == 0 || H * W == 0) return;
  const unsigned blocks = elementwise_blocks(total, kThreads);
  if (fits_int(total) && fits_int(N * C * H * W))
    max_pool_bwd<T, int><<<blocks, kThreads, 0, stream>>>((int)N, (int)C, (int)H, (int)W, (int)OH, (int)OW, dy, ind, dx);
  else
    max_pool_bwd<T, long long><<<blocks, kThreads, 0, stream>>>(N, C, H, W, OH, OW, dy, ind, dx);
  check_launch("max_pool2d_backward");
}

template <typename T>
void avg_pool2d_forward(const PoolGeom& g, bool include_pad, long long div_override, Arr4<const T> x, Arr4<T> y,
                        cudaStream_t stream) {
  const long long total = g.N * g.C * g.OH * g.OW;
  if (total == 0) return;
  const unsigned blocks = elementwise_blocks(total, kThreads);
  if (fits_int(total) && fits_int(g.N * g.C * g.H * g.W))
    avg_pool_fwd<T, int><<<blocks, kThreads, 0, stream>>>(narrow<int>(g), include_pad, div_override, x, y);
  else
    avg_pool_fwd<T, long long><<<blocks, kThreads, 0, stream>>>(narrow<long long>(g), include_pad, div_override, x, y);
  check_launch("avg_pool2d_forward");
}

template <typename T>
void avg_pool2d_backward(const PoolGeom& g, bool include_pad, long long div_override, Arr4<const T> dy, Arr4<T> dx,
                         cudaStream_t stream) {
  const long long total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  const unsigned blocks = elementwise_blocks(total, kThreads);
  if (fits_int(total) && fits_int(g.N * g.C * g.OH * g.OW))
    avg_pool_bwd<T, int><<<blocks, kThreads, 0, stream>>>(narrow<int>(g), include_pad, div_override, dy, dx);
  else
    avg_pool_bwd<T, long long><<<blocks, kThreads, 0, stream>>>(narrow<long long>(g), include_pad, div_override, dy, dx);
  check_launch("avg_pool2d_backward");
}

template <typename T>
void adaptive_avg_pool2d_forward(long long N, long long C, long long H, long long W, long long OH, long long OW,
                                 Arr4<const T> x, Arr4<T> y, cudaStream_t stream) {
  const long long total = N * C * OH * OW;
  if (total == 0) return;
  const unsigned blocks = elementwise_blocks(total, kThreads);
  if (fits_int(total) && fits_int(N * C * H * W))
    adaptive_avg_fwd<T, int><<<blocks, kThreads, 0, stream>>>((int)N, (int)C, (int)H, (int)W, (int)OH, (int)OW, x, y);
  else
    adaptive_avg_fwd<T, long long><<<blocks, kThreads, 0, stream>>>(N, C, H, W, OH, OW, x, y);
  check_launch("adaptive_avg_pool2d_forward");
}

template <typename T>
void adaptive_avg_pool2d_backward(long long N, long long C, long long H, long long W, long long OH, long long OW,
                                  Arr4<const T> dy, Arr4<T> dx, cudaStream_t stream) {
  const long long total = N * C * H * W;
  if (total == 0) return;
  const unsigned blocks = elementwise_blocks(total, kThreads);
  if (fits_int(total) && fits_int(N * C * OH * OW))
    adaptive_avg_bwd<T, int><<<blocks, kThreads, 0, stream>>>((int)N, (int)C, (int)H, (int)W, (int)OH, (int)OW, dy, dx);
  else
    adaptive_avg_bwd<T, long long><<<blocks, kThreads, 0, stream>>>(N, C, H, W, OH, OW, dy, dx);
  check_launch("adaptive_avg_pool2d_backward");
}

template <typename T>
void adaptive_max_pool2d_forward(long long N, long long C, long long H, long long W, long long OH, long long OW,
                                 Arr4<const T> x, Arr4<T> y, Arr4<int64_t> ind, cudaStream_t stream) {
  const long long total = N * C * OH * OW;
  if (total == 0) return;
  const unsigned blocks = elementwise_blocks(total, kThreads);
  if (fits_int(total) && fits_int(N * C * H * W))
    adaptive_max_fwd<T, int><<<blocks, kThreads, 0, stream>>>((int)N, (int)C, (int)H, (int)W, (int)OH, (int)OW, x, y,
                                                              ind);
  else
    adaptive_max_fwd<T, long long><<<blocks, kThreads, 0, stream>>>(N, C, H, W, OH, OW, x, y, ind);
  check_launch("adaptive_max_pool2d_forward");
}

#define FASTNN_INSTANTIATE_POOL(T)                                                                                    \
  template void max_pool2d_forward<T>(const PoolGeom&, Arr4<const T>, Arr4<T>, Arr4<int64_t>, cudaStream_t);          \
  template void max_pool2d_backward<T>(long long, long long, long long, long long, long long, long long,               \
                                       Arr4<const T>, Arr4<const int64_t>, Arr4<T>, cudaStream_t);                    \
  template void avg_pool2d_forward<T>(const PoolGeom&, bool, long long, Arr4<const T>, Arr4<T>, cudaStream_t);        \
  template void avg_pool2d_backward<T>(const PoolGeom&, bool, long long, Arr4<const T>, Arr4<T>, cudaStream_t);       \
  template void adaptive_avg_pool2d_forward<T>(long long, long long, long long, long long, long long, long long,       \
                                               Arr4<const T>, Arr4<T>, cudaStream_t);                                 \
  template void adaptive_avg_pool2d_backward<T>(long long, long long, long long, long long, long long, long long,      \
                                                Arr4<const T>, Arr4<T>, cudaStream_t);                                \
  template void adaptive_max_pool2d_forward<T>(long long, long long, long long, long long, long long, long long,       \
                                               Arr4<const T>, Arr4<T>, Arr4<int64_t>, cudaStream_t);
FASTNN_INSTANTIATE_POOL(float)
FASTNN_INSTANTIATE_POOL(double)

}  // namespace fastnn::cuda
