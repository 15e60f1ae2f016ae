// 2-D pooling on the CPU over contiguous NCHW arrays seen as P = N * C planes.
#pragma once
#include <cstdint>

namespace fastnn {

// pad_h / pad_w pad both sides; the output size (OH, OW) is given by the caller, which
// applies PyTorch's formula (ceil_mode included). Windows are clipped to the input.
struct Pool2dShape {
  int64_t P, H, W, OH, OW;
  int64_t KH, KW, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
};

// idx (may be null) receives the flat index h * W + w of each maximum in its plane.
// NaN propagates, and ties keep the first element in scan order, as in PyTorch.
template <typename T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int64_t* idx);

// dx (P, H, W) = scatter-add of dy (P, OH, OW) at idx: the backward of max_pool2d and of
// adaptive_max_pool2d. Returns false if some index lies outside [0, H * W) (it is skipped).
template <typename T>
bool max_pool2d_backward(const Pool2dShape& s, const T* dy, const int64_t* idx, T* dx);

// divisor_override <= 0 means none.
template <typename T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* x, T* y);
template <typename T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* dy, T* dx);

// Adaptive pooling: output cell o covers [floor(o * I / O), ceil((o + 1) * I / O)).
template <typename T>
void adaptive_avg_pool2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* y);
template <typename T>
void adaptive_avg_pool2d_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* dy, T* dx);
template <typename T>
void adaptive_max_pool2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* y,
                                 int64_t* idx);

}  // namespace fastnn
