// The column-buffer loops of the im2col convolution on the SIMD layer (see im2col_kernels.h):
// each row of the buffer is one output row of one tap, a contiguous (stride 1) or stride-2
// gather of an input row between zero borders.
#include "core/simd/rows.h"
#include "ops/conv/im2col_kernels.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace conv {

using namespace simd;

namespace {

// Output columns ow whose input column ow * stride + off lies in [0, W): [lo, hi).
inline void valid_range(int64_t off, int64_t stride, int64_t W, int64_t OW, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = W - off <= 0 ? 0 : (W - off + stride - 1) / stride;
  lo = lo < OW ? lo : OW;
  hi = hi < OW ? hi : OW;
  hi = hi > lo ? hi : lo;
}

}  // namespace

template <typename T>
void im2col(const Conv2dShape& s, const T* x, int64_t n0, int64_t nb, int64_t g, T* col, int threads) {
  const int64_t Cg = s.C / s.groups, KK = s.KH * s.KW, OHW = s.OH * s.OW, ld = nb * OHW;
  const int64_t rows = Cg * KK;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t nl = 0; nl < nb; ++nl) {
      const int64_t c = r / KK, kh = (r % KK) / s.KW, kw = r % s.KW;
      const T* xp = x + ((n0 + nl) * s.C + g * Cg + c) * s.H * s.W;
      T* dst = col + r * ld + nl * OHW;
      const int64_t off = kw * s.dil_w - s.pad_w;
      int64_t lo, hi;
      valid_range(off, s.stride_w, s.W, s.OW, lo, hi);
      for (int64_t oh = 0; oh < s.OH; ++oh, dst += s.OW) {
        const int64_t ih = oh * s.stride_h - s.pad_h + kh * s.dil_h;
        if (ih < 0 || ih >= s.H || lo == hi) {
          zero_row(dst, s.OW);
          continue;
        }
        zero_row(dst, lo);
        gather_row(xp + ih * s.W + off + lo * s.stride_w, s.stride_w, hi - lo, dst + lo);
        zero_row(dst + hi, s.OW - hi);
      }
    }
}

template <typename T>
void col2im(const Conv2dShape& s, const T* col, int64_t n0, int64_t nb, int64_t g, T* dx, int threads) {
  const int64_t Cg = s.C / s.groups, KK = s.KH * s.KW, OHW = s.OH * s.OW, ld = nb * OHW;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int64_t nl = 0; nl < nb; ++nl)
    for (int64_t c = 0; c < Cg; ++c) {
      T* xp = dx + ((n0 + nl) * s.C + g * Cg + c) * s.H * s.W;
      // kw outermost: consecutive row additions then touch either other rows or exactly the same
      // elements, never a partly overlapping range still in the store buffer (which stalls loads).
      for (int64_t kw = 0; kw < s.KW; ++kw)
        for (int64_t kh = 0; kh < s.KH; ++kh) {
          const T* src = col + (c * KK + kh * s.KW + kw) * ld + nl * OHW;
          const int64_t off = kw * s.dil_w - s.pad_w;
          int64_t lo, hi;
          valid_range(off, s.stride_w, s.W, s.OW, lo, hi);
          if (lo == hi) continue;
          for (int64_t oh = 0; oh < s.OH; ++oh) {
            const int64_t ih = oh * s.stride_h - s.pad_h + kh * s.dil_h;
            if (ih < 0 || ih >= s.H) continue;
            scatter_add_row(src + oh * s.OW + lo, s.stride_w, hi - lo, xp + ih * s.W + off + lo * s.stride_w);
          }
        }
    }
}

template <typename T>
void scatter_rows(const Conv2dShape& s, const T* buf, const T* bias, int64_t n0, int64_t nb, int64_t g, T* y,
                  int threads) {
  const int64_t OCg = s.OC / s.groups, OHW = s.OH * s.OW;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int64_t nl = 0; nl < nb; ++nl)
    for (int64_t oc = 0; oc < OCg; ++oc)
      copy_row(buf + (oc * nb + nl) * OHW, y + ((n0 + nl) * s.OC + g * OCg + oc) * OHW, OHW,
               set1<T>(bias ? bias[g * OCg + oc] : T(0)));
}

template <typename T>
void add_bias(const Conv2dShape& s, const T* bias, int64_t n0, int64_t nb, T* y, int threads) {
  const int64_t OHW = s.OH * s.OW;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int64_t nl = 0; nl < nb; ++nl)
    for (int64_t oc = 0; oc < s.OC; ++oc) {
      T* dst = y + ((n0 + nl) * s.OC + oc) * OHW;
      copy_row(dst, dst, OHW, set1<T>(bias[oc]));
    }
}

#define FASTNN_IM2COL_INSTANTIATE(T)                                                                            \
  template void im2col<T>(const Conv2dShape&, const T*, int64_t, int64_t, int64_t, T*, int);                   \
  template void col2im<T>(const Conv2dShape&, const T*, int64_t, int64_t, int64_t, T*, int);                   \
  template void scatter_rows<T>(const Conv2dShape&, const T*, const T*, int64_t, int64_t, int64_t, T*, int);   \
  template void add_bias<T>(const Conv2dShape&, const T*, int64_t, int64_t, T*, int);
FASTNN_IM2COL_INSTANTIATE(float)
FASTNN_IM2COL_INSTANTIATE(double)
#undef FASTNN_IM2COL_INSTANTIATE

}  // namespace conv
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
