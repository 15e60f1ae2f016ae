// The column-buffer loops of the im2col convolution (im2col_simd.cpp), written once on the SIMD
// layer and compiled per CPU path; cpu.cpp calls them around the GEMMs. `threads` is the team
// size for the loop (fastnn::threads_for of its work, decided by the caller).
#pragma once
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/conv/cpu.h"

FASTNN_DECLARE_PER_PATH(namespace conv {
  // col[(c, kh, kw), (image, oh, ow)] for images [n0, n0 + nb) and the channels of group g.
  template <typename T>
  void im2col(const Conv2dShape& s, const T* x, int64_t n0, int64_t nb, int64_t g, T* col, int threads);

  // dx[image, c] += the columns of col that read it: the adjoint of im2col (each thread owns whole
  // (image, channel) planes).
  template <typename T>
  void col2im(const Conv2dShape& s, const T* col, int64_t n0, int64_t nb, int64_t g, T* dx, int threads);

  // y[n0 + image, g * OCg + oc] = buf[oc, (image, p)] + bias[g * OCg + oc] (bias may be null).
  template <typename T>
  void scatter_rows(const Conv2dShape& s, const T* buf, const T* bias, int64_t n0, int64_t nb, int64_t g, T* y,
                    int threads);

  // y[n0 + image, oc] += bias[oc] for images [n0, n0 + nb).
  template <typename T>
  void add_bias(const Conv2dShape& s, const T* bias, int64_t n0, int64_t nb, T* y, int threads);
})
