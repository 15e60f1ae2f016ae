// Resampling tables (source index and weights per output row / column) are computed once
// per call; the planes are then processed in parallel, one plane per task in the backward
// passes so that the scatter-adds of a plane never race.
#include "ops/interp/cpu.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu_features.h"

namespace fastnn {

namespace {


// Computed in float like PyTorch's nearest kernels, so indices agree exactly.
std::vector<int64_t> nearest_table(int64_t in, int64_t out, double scale) {
  std::vector<int64_t> t(out);
  if (out == in) {
    for (int64_t o = 0; o < out; ++o) t[o] = o;
  } else if (out == 2 * in) {
    for (int64_t o = 0; o < out; ++o) t[o] = o >> 1;
  } else {
    const float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
    for (int64_t o = 0; o < out; ++o) t[o] = std::min((int64_t)std::floor((float)o * s), in - 1);
  }
  return t;
}

template <typename T>
struct Linear {
  std::vector<int64_t> i0, i1;
  std::vector<T> w0, w1;
};

// PyTorch's area_pixel_compute_scale / area_pixel_compute_source_index in the op type.
template <typename T>
Linear<T> linear_table(int64_t in, int64_t out, bool align_corners, double scale) {
  T s;
  if (align_corners) s = out > 1 ? T(in - 1) / T(out - 1) : T(0);
  else s = scale > 0 ? T(1.0 / scale) : T(in) / T(out);
  Linear<T> t;
  t.i0.resize(out), t.i1.resize(out), t.w0.resize(out), t.w1.resize(out);
  for (int64_t o = 0; o < out; ++o) {
    T src = align_corners ? s * T(o) : s * (T(o) + T(0.5)) - T(0.5);
    if (src < T(0)) src = T(0);
    int64_t i = std::min((int64_t)src, in - 1);
    const int64_t step = i < in - 1 ? 1 : 0;
    const T l1 = std::min(std::max(src - T(i), T(0)), T(1));
    t.i0[o] = i;
    t.i1[o] = i + step;
    t.w1[o] = l1;
    t.w0[o] = T(1) - l1;
  }
  return t;
}

}  // namespace

template <typename T>
void upsample_nearest2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, double scale_h,
                                double scale_w, const T* x, T* y) {
  const auto th = nearest_table(H, OH, scale_h), tw = nearest_table(W, OW, scale_w);
#pragma omp parallel for schedule(static) num_threads(threads_for(P * (H * W + OH * OW)))
  for (int64_t r = 0; r < P * OH; ++r) {
    const T* src = x + (r / OH) * H * W + th[r % OH] * W;
    T* dst = y + r * OW;
    for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = src[tw[ow]];
  }
}

template <typename T>
void upsample_nearest2d_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, double scale_h,
                                 double scale_w, const T* dy, T* dx) {
  const auto th = nearest_table(H, OH, scale_h), tw = nearest_table(W, OW, scale_w);
#pragma omp parallel for schedule(static) num_threads(threads_for(P * (H * W + OH * OW)))
  for (int64_t p = 0; p < P; ++p) {
    T* d = dx + p * H * W;
    std::fill(d, d + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh) {
      const T* g = dy + (p * OH + oh) * OW;
      T* row = d + th[oh] * W;
      for (int64_t ow = 0; ow < OW; ++ow) row[tw[ow]] += g[ow];
    }
  }
}

template <typename T>
void upsample_bilinear2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, bool align_corners,
                                 double scale_h, double scale_w, const T* x, T* y) {
  const auto th = linear_table<T>(H, OH, align_corners, scale_h);
  const auto tw = linear_table<T>(W, OW, align_corners, scale_w);
#pragma omp parallel for schedule(static) num_threads(threads_for(P * (H * W + OH * OW)))
  for (int64_t r = 0; r < P * OH; ++r) {
    const int64_t p = r / OH, oh = r % OH;
    const T* r0 = x + p * H * W + th.i0[oh] * W;
    const T* r1 = x + p * H * W + th.i1[oh] * W;
    const T h0 = th.w0[oh], h1 = th.w1[oh];
    T* dst = y + r * OW;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t a = tw.i0[ow], b = tw.i1[ow];
      dst[ow] = h0 * (tw.w0[ow] * r0[a] + tw.w1[ow] * r0[b]) + h1 * (tw.w0[ow] * r1[a] + tw.w1[ow] * r1[b]);
    }
  }
}

template <typename T>
void upsample_bilinear2d_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, bool align_corners,
                                  double scale_h, double scale_w, const T* dy, T* dx) {
  const auto th = linear_table<T>(H, OH, align_corners, scale_h);
  const auto tw = linear_table<T>(W, OW, align_corners, scale_w);
#pragma omp parallel for schedule(static) num_threads(threads_for(P * (H * W + OH * OW)))
  for (int64_t p = 0; p < P; ++p) {
    T* d = dx + p * H * W;
    std::fill(d, d + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh) {
      T* r0 = d + th.i0[oh] * W;
      T* r1 = d + th.i1[oh] * W;
      const T h0 = th.w0[oh], h1 = th.w1[oh];
      const T* g = dy + (p * OH + oh) * OW;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t a = tw.i0[ow], b = tw.i1[ow];
        r0[a] += h0 * tw.w0[ow] * g[ow];
        r0[b] += h0 * tw.w1[ow] * g[ow];
        r1[a] += h1 * tw.w0[ow] * g[ow];
        r1[b] += h1 * tw.w1[ow] * g[ow];
      }
    }
  }
}

#define FASTNN_INTERP_INSTANTIATE(T)                                                                              \
  template void upsample_nearest2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, double, double,       \
                                              const T*, T*);                                                     \
  template void upsample_nearest2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, double, double,      \
                                               const T*, T*);                                                    \
  template void upsample_bilinear2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, bool, double, double, \
                                               const T*, T*);                                                    \
  template void upsample_bilinear2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, bool, double,       \
                                                double, const T*, T*);

FASTNN_INTERP_INSTANTIATE(float)
FASTNN_INTERP_INSTANTIATE(double)

}  // namespace fastnn
