// Pooling is memory-bound: every kernel makes one pass over its planes, split across
// threads by plane (or by output row in the forward passes), and the backward passes
// clear and fill one plane at a time so the plane is still in cache when it is filled.
// Max and average pooling run on the SIMD layer (pool_simd.cpp); the scatter of indices from
// elsewhere and the adaptive pools, whose windows differ from column to column, stay here.
#include "ops/pool/cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/cpu_features.h"
#include "core/shape.h"
#include "ops/pool/pool_kernels.h"
#include "ops/pool/window.h"

namespace fastnn {

namespace {

// NaN propagates, and ties keep the first element in scan order, as in PyTorch.
template <typename T>
inline bool take(T v, T m) {
  return (v > m) | (v != v);
}

inline int64_t start_index(int64_t o, int64_t I, int64_t O) { return shape::adaptive_start(o, I, O); }
inline int64_t end_index(int64_t o, int64_t I, int64_t O) { return shape::adaptive_end(o, I, O); }

}  // namespace

template <typename T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int64_t* idx) {
  FASTNN_DISPATCH(pool::max_forward<T>)(s, x, y, idx, threads_for(s.P * s.H * s.W));
}

template <typename T>
bool max_pool2d_backward(const Pool2dShape& s, const T* dy, const int64_t* idx, T* dx) {
  const int64_t HW = s.H * s.W, OHW = s.OH * s.OW;
  if (pool::is_2x2s2(s) && FASTNN_DISPATCH(pool::max_backward_2x2<T>)(s, dy, idx, dx, threads_for(s.P * HW)))
    return true;
  // Indices from elsewhere (max_unpool2d, adaptive pooling): the general scatter below.
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) num_threads(threads_for(s.P * s.H * s.W))
  for (int64_t p = 0; p < s.P; ++p) {
    T* d = dx + p * HW;
    std::fill(d, d + HW, T(0));
    const T* g = dy + p * OHW;
    const int64_t* ip = idx + p * OHW;
    for (int64_t o = 0; o < OHW; ++o) {
      const uint64_t i = (uint64_t)ip[o];
      if (i < (uint64_t)HW) d[i] += g[o];
      else ++bad;
    }
  }
  return bad == 0;
}

template <typename T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* x, T* y) {
  FASTNN_DISPATCH(pool::avg_forward<T>)(s, count_include_pad, divisor_override, x, y, threads_for(s.P * s.H * s.W));
}

template <typename T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* dy,
                         T* dx) {
  FASTNN_DISPATCH(pool::avg_backward<T>)(s, count_include_pad, divisor_override, dy, dx,
                                         threads_for(s.P * s.H * s.W));
}

template <typename T>
void adaptive_avg_pool2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* y) {
#pragma omp parallel for schedule(static) num_threads(threads_for(P * H * W))
  for (int64_t r = 0; r < P * OH; ++r) {
    const int64_t p = r / OH, oh = r % OH;
    const int64_t h0 = start_index(oh, H, OH), h1 = end_index(oh, H, OH);
    const T* xp = x + p * H * W;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t w0 = start_index(ow, W, OW), w1 = end_index(ow, W, OW);
      T sum = 0;
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w) sum += xp[h * W + w];
      y[r * OW + ow] = sum / T((h1 - h0) * (w1 - w0));
    }
  }
}

template <typename T>
void adaptive_avg_pool2d_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) num_threads(threads_for(P * H * W))
  for (int64_t p = 0; p < P; ++p) {
    T* d = dx + p * H * W;
    std::fill(d, d + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = start_index(oh, H, OH), h1 = end_index(oh, H, OH);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = start_index(ow, W, OW), w1 = end_index(ow, W, OW);
        const T v = dy[(p * OH + oh) * OW + ow] / T((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) d[h * W + w] += v;
      }
    }
  }
}

template <typename T>
void adaptive_max_pool2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* y,
                                 int64_t* idx) {
#pragma omp parallel for schedule(static) num_threads(threads_for(P * H * W))
  for (int64_t r = 0; r < P * OH; ++r) {
    const int64_t p = r / OH, oh = r % OH;
    const int64_t h0 = start_index(oh, H, OH), h1 = end_index(oh, H, OH);
    const T* xp = x + p * H * W;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t w0 = start_index(ow, W, OW), w1 = end_index(ow, W, OW);
      T m = -INFINITY;
      int64_t best = h0 * W + w0;
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w)
          if (take(xp[h * W + w], m)) m = xp[h * W + w], best = h * W + w;
      y[r * OW + ow] = m;
      if (idx) idx[r * OW + ow] = best;
    }
  }
}

#define FASTNN_POOL_INSTANTIATE(T)                                                                                 \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int64_t*);                                \
  template bool max_pool2d_backward<T>(const Pool2dShape&, const T*, const int64_t*, T*);                         \
  template void avg_pool2d_forward<T>(const Pool2dShape&, bool, int64_t, const T*, T*);                           \
  template void avg_pool2d_backward<T>(const Pool2dShape&, bool, int64_t, const T*, T*);                          \
  template void adaptive_avg_pool2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*);        \
  template void adaptive_avg_pool2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*);       \
  template void adaptive_max_pool2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*, int64_t*);

FASTNN_POOL_INSTANTIATE(float)
FASTNN_POOL_INSTANTIATE(double)

}  // namespace fastnn
