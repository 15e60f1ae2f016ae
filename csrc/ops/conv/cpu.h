// 2-D convolution on the CPU (NCHW, contiguous arrays): forward, input-gradient and
// weight-gradient. conv_transpose2d is the input-gradient; conv1d is the H == 1 case.
#pragma once
#include <cstdint>

namespace fastnn {

// Input (N, C, H, W), weight (OC, C / groups, KH, KW), output (N, OC, OH, OW).
// pad_h / pad_w are the top / left padding: the output size is given explicitly, so
// asymmetric padding ("same" with an even kernel) and transposed-convolution
// output_padding need nothing more. Taps that fall outside the input read zero.
struct Conv2dShape {
  int64_t N, C, H, W;
  int64_t OC, KH, KW;
  int64_t OH, OW;
  int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
};

// y = conv(x, w) + bias (bias may be null).
template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// dx = adjoint of conv(., w) applied to dy; dx is fully overwritten.
template <typename T>
void conv2d_backward_input(const Conv2dShape& s, const T* dy, const T* w, T* dx);

// dw = gradient of <dy, conv(x, w)> with respect to w; dw is fully overwritten.
template <typename T>
void conv2d_backward_weight(const Conv2dShape& s, const T* x, const T* dy, T* dw);

}  // namespace fastnn
