// The plain reference of segment_reduce: one element at a time, in position order, no SIMD and
// no threads; what the tests compare the kernels of every CPU path (and the CUDA ones) with.
#pragma GCC optimize("fp-contract=off")

#include "ops/segment/cpu.h"

namespace fastnn {
namespace segment {

template <typename T, typename I>
void segment_reduce_reference(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets,
                              const T* w, Mode mode, int64_t skip, T* out, int64_t* argmax) {
  for (int64_t s = 0; s < segs; ++s) {
    for (int64_t j = 0; j < d; ++j) {
      T acc = 0;
      int64_t kept = 0, arg = -1;
      for (int64_t k = offsets[s]; k < offsets[s + 1]; ++k) {
        const int64_t r = (int64_t)index[k];
        if (r == skip) continue;
        const T x = src[r * d + j];
        if (mode == Mode::max) {
          if (kept == 0 || x > acc || (x != x && acc == acc)) {
            acc = x;
            arg = r;
          }
        } else {
          acc += w ? w[k] * x : x;
        }
        ++kept;
      }
      if (kept == 0) acc = 0;
      if (mode == Mode::mean && kept > 0) acc /= T(kept);
      out[s * d + j] = acc;
      if (argmax) argmax[s * d + j] = arg;
    }
  }
}

#define FASTNN_SEGMENT_REF(T, I)                                                                                  \
  template void segment_reduce_reference<T, I>(int64_t, int64_t, const T*, const I*, const int64_t*, const T*, Mode, \
                                               int64_t, T*, int64_t*);
FASTNN_SEGMENT_REF(float, int32_t)
FASTNN_SEGMENT_REF(float, int64_t)
FASTNN_SEGMENT_REF(double, int32_t)
FASTNN_SEGMENT_REF(double, int64_t)
#undef FASTNN_SEGMENT_REF

}  // namespace segment
}  // namespace fastnn
