// The edge-level kernels of graph attention on the GPU (contract: segment.h), one warp per segment,
// every reduction a fixed shuffle tree (so the results are the same at every run):
// - segment_dot: for each position, one dot product per head between the segment's row of `a` and
//   the position's source row (added into the output with atomicAdd when weight_index names the
//   rows, so that positions naming one row add up; exact and repeatable when they name distinct rows). When a head's width C divides 32, a warp step covers 32 / C heads at
//   once and reduces each group of C lanes; otherwise the lanes stride over one head at a time.
// - segment_softmax (and its backward): the lanes stride over the segment's positions, one column at
//   a time: the column's maximum, the sum of exponentials, then the normalised values.
#include "ops/segment/cuda.h"
#include "ops/segment/warp.cuh"

namespace fastnn::cuda::segment {
namespace {

// Positions naming one output row (through weight_index) add up; the output starts at 0.
template <typename T>
__device__ __forceinline__ void put(T* at, T v, bool shared_rows) {
  if (shared_rows) atomicAdd(at, v);
  else *at = v;
}

template <typename T, typename I>
__global__ void __launch_bounds__(kBlock) dot_kernel(long long segs, long long d, long long heads, const T* __restrict__ a,
                                                      const T* __restrict__ src, const I* __restrict__ index,
                                                      const long long* __restrict__ offsets,
                                                      const I* __restrict__ weight_index, T* __restrict__ out) {
  const long long C = d / heads;
  const bool grouped = C <= 32 && 32 % C == 0;
  const long long lane = lane_id();
  for (long long s = global_warp(); s < segs; s += warp_count()) {
    const T* as = a + s * d;
    for (long long k = offsets[s]; k < offsets[s + 1]; ++k) {
      const T* xs = src + (index ? (long long)index[k] : k) * d;
      T* o = out + (weight_index ? (long long)weight_index[k] : k) * heads;
      if (grouped) {
        for (long long cb = 0; cb < d; cb += 32) {
          const long long c = cb + lane;
          T v = c < d ? as[c] * xs[c] : T(0);
          for (int m = (int)C / 2; m > 0; m >>= 1) v += __shfl_xor_sync(kFullMask, v, m);
          if (c < d && lane % C == 0) put(o + c / C, v, weight_index != nullptr);
        }
      } else {
        for (long long h = 0; h < heads; ++h) {
          T v = 0;
          for (long long c = h * C + lane; c < (h + 1) * C; c += 32) v += as[c] * xs[c];
          v = warp_sum(v);
          if (lane == 0) put(o + h, v, weight_index != nullptr);
        }
      }
    }
  }
}

template <typename T, typename I>
__global__ void __launch_bounds__(kBlock) softmax_kernel(long long segs, long long h, const T* __restrict__ src,
                                                          const long long* __restrict__ offsets,
                                                          const I* __restrict__ perm, T* __restrict__ out) {
  const long long lane = lane_id();
  for (long long s = global_warp(); s < segs; s += warp_count()) {
    const long long k0 = offsets[s], k1 = offsets[s + 1];
    for (long long c = 0; c < h; ++c) {
      T m = -INFINITY;
      for (long long k = k0 + lane; k < k1; k += 32) m = max_nan(m, src[(long long)perm[k] * h + c]);
      m = warp_max_nan(m);
      T z = 0;
      for (long long k = k0 + lane; k < k1; k += 32) z += exp_of(src[(long long)perm[k] * h + c] - m);
      const T inv = T(1) / warp_sum(z);
      for (long long k = k0 + lane; k < k1; k += 32) {
        const long long at = (long long)perm[k] * h + c;
        out[at] = exp_of(src[at] - m) * inv;
      }
    }
  }
}

template <typename T, typename I>
__global__ void __launch_bounds__(kBlock) softmax_backward_kernel(long long segs, long long h,
                                                                   const T* __restrict__ grad,
                                                                   const T* __restrict__ out,
                                                                   const long long* __restrict__ offsets,
                                                                   const I* __restrict__ perm, T* __restrict__ dsrc) {
  const long long lane = lane_id();
  for (long long s = global_warp(); s < segs; s += warp_count()) {
    const long long k0 = offsets[s], k1 = offsets[s + 1];
    for (long long c = 0; c < h; ++c) {
      T dot = 0;
      for (long long k = k0 + lane; k < k1; k += 32) {
        const long long at = (long long)perm[k] * h + c;
        dot += grad[at] * out[at];
      }
      dot = warp_sum(dot);
      for (long long k = k0 + lane; k < k1; k += 32) {
        const long long at = (long long)perm[k] * h + c;
        dsrc[at] = out[at] * (grad[at] - dot);
      }
    }
  }
}

template <typename T>
void zero(T* p, long long count, const char* what, cudaStream_t stream) {
  if (count > 0) check(cudaMemsetAsync(p, 0, (size_t)count * sizeof(T), stream), what);
}

}  // namespace

template <typename T, typename I>
void segment_dot(int64_t segs, int64_t d, int64_t heads, const T* a, const T* src, const I* index,
                 const int64_t* offsets, const I* weight_index, int64_t num_out, T* out, cudaStream_t stream) {
  zero(out, num_out * heads, "segment_dot", stream);
  if (segs == 0 || heads == 0) return;
  dot_kernel<T, I><<<warp_grid(segs), block_dim(), 0, stream>>>(segs, d, heads, a, src, index,
                                                                (const long long*)offsets, weight_index, out);
  check_launch("segment_dot");
}

template <typename T, typename I>
void segment_softmax(int64_t segs, int64_t h, const T* src, const int64_t* offsets, const I* perm, int64_t num_rows,
                     T* out, cudaStream_t stream) {
  zero(out, num_rows * h, "segment_softmax", stream);
  if (segs == 0 || h == 0) return;
  softmax_kernel<T, I><<<warp_grid(segs), block_dim(), 0, stream>>>(segs, h, src, (const long long*)offsets, perm,
                                                                    out);
  check_launch("segment_softmax");
}

template <typename T, typename I>
void segment_softmax_backward(int64_t segs, int64_t h, const T* grad, const T* out, const int64_t* offsets,
                              const I* perm, int64_t num_rows, T* dsrc, cudaStream_t stream) {
  zero(dsrc, num_rows * h, "segment_softmax_backward", stream);
  if (segs == 0 || h == 0) return;
  softmax_backward_kernel<T, I><<<warp_grid(segs), block_dim(), 0, stream>>>(segs, h, grad, out,
                                                                             (const long long*)offsets, perm, dsrc);
  check_launch("segment_softmax_backward");
}

#define FASTNN_SEGMENT_GRAPH(T, I)                                                                                  \
  template void segment_dot<T, I>(int64_t, int64_t, int64_t, const T*, const T*, const I*, const int64_t*, const I*, \
                                  int64_t, T*, cudaStream_t);                                                      \
  template void segment_softmax<T, I>(int64_t, int64_t, const T*, const int64_t*, const I*, int64_t, T*,             \
                                      cudaStream_t);                                                               \
  template void segment_softmax_backward<T, I>(int64_t, int64_t, const T*, const T*, const int64_t*, const I*,      \
                                               int64_t, T*, cudaStream_t);
FASTNN_SEGMENT_GRAPH(float, int32_t)
FASTNN_SEGMENT_GRAPH(float, int64_t)
FASTNN_SEGMENT_GRAPH(double, int32_t)
FASTNN_SEGMENT_GRAPH(double, int64_t)
#undef FASTNN_SEGMENT_GRAPH

}  // namespace fastnn::cuda::segment
