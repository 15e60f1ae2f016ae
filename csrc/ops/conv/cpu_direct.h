// Direct convolution (any stride, dilation and groups) without a column buffer: the im2col
// buffer would cost more memory traffic than the arithmetic it feeds.
#pragma once
#include "ops/conv/cpu.h"

namespace fastnn {

// Which algorithm conv2d uses: 0 = by shape (default), 1 = always im2col + GEMM,
// 2 = direct whenever it applies. Tests and benchmarks pin it to compare both.
void set_conv_algorithm(int algo);
int get_conv_algorithm();

// Each returns false, doing nothing, when the shape is not one it handles.
template <typename T>
bool conv_direct_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <typename T>
bool conv_direct_backward_input(const Conv2dShape& s, const T* dy, const T* w, T* dx);
template <typename T>
bool conv_direct_backward_weight(const Conv2dShape& s, const T* x, const T* dy, T* dw);

}  // namespace fastnn
