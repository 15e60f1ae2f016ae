// 2-D upsampling on the GPU (NCHW, any element strides), PyTorch's interpolate semantics:
// sizes come from the arrays; scale_h/scale_w are the user's scale factors (<= 0: none given),
// which PyTorch uses instead of in/out to place the source pixels.
#pragma once
#include <cuda_runtime.h>

#include "core/cuda_arrays.h"

namespace fastnn::cuda {

struct InterpGeom {
  long long N, C, H, W, OH, OW;
  double scale_h, scale_w;
};

// mode "nearest": source index min(floor(dst * s), in - 1) with s = in / out (or 1 / scale), in float.
template <typename T>
void upsample_nearest2d_forward(const InterpGeom& g, Arr4<const T> x, Arr4<T> y, cudaStream_t stream);
template <typename T>
void upsample_nearest2d_backward(const InterpGeom& g, Arr4<const T> dy, Arr4<T> dx, cudaStream_t stream);

template <typename T>
void upsample_bilinear2d_forward(const InterpGeom& g, bool align_corners, Arr4<const T> x, Arr4<T> y,
                                 cudaStream_t stream);
template <typename T>
void upsample_bilinear2d_backward(const InterpGeom& g, bool align_corners, Arr4<const T> dy, Arr4<T> dx,
                                  cudaStream_t stream);

}  // namespace fastnn::cuda
