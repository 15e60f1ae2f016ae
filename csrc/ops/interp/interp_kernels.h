// The resampling loops (interp_simd.cpp), written once on the SIMD layer and compiled per CPU
// path. cpu.cpp computes the index and weight tables (PyTorch's rules) and calls these with them.
#pragma once
#include <cstdint>

#include "core/cpu_features.h"

namespace fastnn {
namespace interp {

// How the nearest column table maps output columns to input columns: a general gather, the
// identity, or each input column twice (2x upsampling), whose loops are plain vector copies.
enum class Columns : int { general = 0, same = 1, twice = 2 };

// Linear interpolation along one axis: output o blends inputs i0[o] and i1[o] with w0[o], w1[o].
template <typename T>
struct LinearAxis {
  const int64_t* i0;
  const int64_t* i1;
  const T* w0;
  const T* w1;
};

}  // namespace interp
}  // namespace fastnn

// P planes of H x W in, OH x OW out; `threads` is the team size. Scratch buffers hold
// 2 * OW elements per thread.
FASTNN_DECLARE_PER_PATH(namespace interp {
  template <typename T>
  void nearest_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const int64_t* th,
                       const int64_t* tw, ::fastnn::interp::Columns cols, const T* x, T* y, int threads);
  template <typename T>
  void nearest_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const int64_t* th,
                        const int64_t* tw, ::fastnn::interp::Columns cols, const T* dy, T* dx, int threads);
  template <typename T>
  void bilinear_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW,
                        ::fastnn::interp::LinearAxis<T> th, ::fastnn::interp::LinearAxis<T> tw, const T* x, T* y,
                        T* scratch, int threads);
  template <typename T>
  void bilinear_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW,
                         ::fastnn::interp::LinearAxis<T> th, ::fastnn::interp::LinearAxis<T> tw, const T* dy, T* dx,
                         T* scratch, int threads);
})
