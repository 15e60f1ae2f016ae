// Nearest and bilinear resampling of contiguous NCHW arrays (P = N * C planes), with the
// backward passes; index and weight rules are PyTorch's (upsample_nearest2d / bilinear2d).
#pragma once
#include <cstdint>

namespace fastnn {

// scale_h / scale_w: the user's scale factors when the output size came from them
// (PyTorch then maps with 1 / scale), or <= 0 to map with in / out.
template <typename T>
void upsample_nearest2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, double scale_h,
                                double scale_w, const T* x, T* y);
template <typename T>
void upsample_nearest2d_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, double scale_h,
                                 double scale_w, const T* dy, T* dx);
template <typename T>
void upsample_bilinear2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, bool align_corners,
                                 double scale_h, double scale_w, const T* x, T* y);
template <typename T>
void upsample_bilinear2d_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, bool align_corners,
                                  double scale_h, double scale_w, const T* dy, T* dx);

}  // namespace fastnn
