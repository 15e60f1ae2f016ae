// The plain reference of segment_reduce: one element at a time, in position order, no SIMD and
// no threads; what the tests compare the kernels of every CPU path (and the CUDA ones) with.
#pragma GCC optimize("fp-contract=off")

#include "ops/segment/cpu.h"

namespace fastnn {
namespace segment {

template <typename T, typename I>
void segment_reduce_reference(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets,
                              const T* w, int64_t heads, const I* weight_index, Mode mode, int64_t skip, T* out,
                              int64_t* argmax) {
  const bool extreme = mode == Mode::max || mode == Mode::min;
  const int64_t C = heads > 0 ? d / heads : d;
  for (int64_t s = 0; s < segs; ++s) {
    for (int64_t j = 0; j < d; ++j) {
      T acc = 0;
      int64_t kept = 0, arg = -1;
      for (int64_t k = offsets[s]; k < offsets[s + 1]; ++k) {
        const int64_t r = index ? (int64_t)index[k] : k;
        if (r == skip) continue;
        const T x = src[r * d + j];
        if (extreme) {
          const bool better = mode == Mode::max ? x > acc : x < acc;
          if (kept == 0 || better || (x != x && acc == acc)) {
            acc = x;
            arg = r;
          }
        } else if (w) {
          const int64_t wk = weight_index ? (int64_t)weight_index[k] : k;
          acc += w[wk * heads + j / C] * x;
        } else {
          acc += x;
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
  template void segment_reduce_reference<T, I>(int64_t, int64_t, const T*, const I*, const int64_t*, const T*,     \
                                               int64_t, const I*, Mode, int64_t, T*, int64_t*);
FASTNN_SEGMENT_REF(float, int32_t)
FASTNN_SEGMENT_REF(float, int64_t)
FASTNN_SEGMENT_REF(double, int32_t)
FASTNN_SEGMENT_REF(double, int64_t)
#undef FASTNN_SEGMENT_REF

}  // namespace segment
}  // namespace fastnn
