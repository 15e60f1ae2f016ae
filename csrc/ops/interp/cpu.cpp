// Resampling tables (source index and weights per output row / column) are computed here once
// per call; the loops over the planes run on the SIMD layer (interp_simd.cpp), one plane per
// task in the backward passes so that the scatter-adds of a plane never race.
#include "ops/interp/cpu.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu_features.h"
#include "ops/interp/interp_kernels.h"

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

interp::Columns columns(const std::vector<int64_t>& t, int64_t in) {
  const int64_t out = (int64_t)t.size();
  bool same = out == in, twice = out == 2 * in;
  for (int64_t o = 0; o < out; ++o) {
    same = same && t[o] == o;
    twice = twice && t[o] == o / 2;
  }
  return same ? interp::Columns::same : twice ? interp::Columns::twice : interp::Columns::general;
}

template <typename T>
struct Linear {
  std::vector<int64_t> i0, i1;
  std::vector<T> w0, w1;
  interp::LinearAxis<T> axis() const { return {i0.data(), i1.data(), w0.data(), w1.data()}; }
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
  FASTNN_DISPATCH(interp::nearest_forward<T>)(P, H, W, OH, OW, th.data(), tw.data(), columns(tw, W), x, y,
                                              threads_for(P * (H * W + OH * OW)));
}

template <typename T>
void upsample_nearest2d_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, double scale_h,
                                 double scale_w, const T* dy, T* dx) {
  const auto th = nearest_table(H, OH, scale_h), tw = nearest_table(W, OW, scale_w);
  FASTNN_DISPATCH(interp::nearest_backward<T>)(P, H, W, OH, OW, th.data(), tw.data(), columns(tw, W), dy, dx,
                                               threads_for(P * (H * W + OH * OW)));
}

template <typename T>
void upsample_bilinear2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, bool align_corners,
                                 double scale_h, double scale_w, const T* x, T* y) {
  const auto th = linear_table<T>(H, OH, align_corners, scale_h);
  const auto tw = linear_table<T>(W, OW, align_corners, scale_w);
  const int threads = threads_for(P * (H * W + OH * OW));
  std::vector<T> scratch(threads * 2 * OW);
  FASTNN_DISPATCH(interp::bilinear_forward<T>)(P, H, W, OH, OW, th.axis(), tw.axis(), x, y, scratch.data(), threads);
}

template <typename T>
void upsample_bilinear2d_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, bool align_corners,
                                  double scale_h, double scale_w, const T* dy, T* dx) {
  const auto th = linear_table<T>(H, OH, align_corners, scale_h);
  const auto tw = linear_table<T>(W, OW, align_corners, scale_w);
  const int threads = threads_for(P * (H * W + OH * OW));
  std::vector<T> scratch(threads * 2 * OW);
  FASTNN_DISPATCH(interp::bilinear_backward<T>)(P, H, W, OH, OW, th.axis(), tw.axis(), dy, dx, scratch.data(),
                                                threads);
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
