// Pooling windows, shared by the host code (cpu.cpp) and the per-path kernels (pool_simd.cpp).
// Internal linkage on purpose: each per-path file gets its own copy, compiled with its flags,
// instead of one the linker might pick from a wider path.
#pragma once
#include <cstdint>

#include "ops/pool/cpu.h"

namespace fastnn {
namespace pool {
namespace {

// 2x2 windows with stride 2 and no padding, inside the input: each input element is read by at
// most one window, so the backward passes write every element once.
inline bool is_2x2s2(const Pool2dShape& s) {
  return s.KH == 2 && s.KW == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_h == 0 && s.pad_w == 0 &&
         s.dil_h == 1 && s.dil_w == 1 && 2 * s.OH <= s.H && 2 * s.OW <= s.W;
}

// Max windows: rows h0, h0 + dil_h, ... < h1 and columns w0, w0 + dil_w, ... < w1, clipped to the
// input (the first row and column that fall inside it).
struct MaxWindow {
  int64_t h0, h1, w0, w1;
};
inline MaxWindow max_window(const Pool2dShape& s, int64_t oh, int64_t ow) {
  MaxWindow m;
  m.h0 = oh * s.stride_h - s.pad_h;
  m.h1 = m.h0 + (s.KH - 1) * s.dil_h + 1;
  m.h1 = m.h1 < s.H ? m.h1 : s.H;
  while (m.h0 < 0) m.h0 += s.dil_h;
  m.w0 = ow * s.stride_w - s.pad_w;
  m.w1 = m.w0 + (s.KW - 1) * s.dil_w + 1;
  m.w1 = m.w1 < s.W ? m.w1 : s.W;
  while (m.w0 < 0) m.w0 += s.dil_w;
  return m;
}

// PyTorch's avg_pool2d window and divisor: the window may reach into the padding, which counts
// in the divisor when count_include_pad; the sum covers its part inside the input.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};
inline AvgWindow avg_window(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, int64_t oh,
                            int64_t ow) {
  AvgWindow a;
  a.h0 = oh * s.stride_h - s.pad_h;
  a.w0 = ow * s.stride_w - s.pad_w;
  a.h1 = a.h0 + s.KH < s.H + s.pad_h ? a.h0 + s.KH : s.H + s.pad_h;
  a.w1 = a.w0 + s.KW < s.W + s.pad_w ? a.w0 + s.KW : s.W + s.pad_w;
  const int64_t pool_size = (a.h1 - a.h0) * (a.w1 - a.w0);
  a.h0 = a.h0 > 0 ? a.h0 : 0;
  a.w0 = a.w0 > 0 ? a.w0 : 0;
  a.h1 = a.h1 < s.H ? a.h1 : s.H;
  a.w1 = a.w1 < s.W ? a.w1 : s.W;
  if (divisor_override > 0) a.divisor = divisor_override;
  else if (count_include_pad) a.divisor = pool_size;
  else a.divisor = (a.h1 - a.h0) * (a.w1 - a.w0);
  return a;
}

// Output columns [lo, hi) whose windows lie inside the input horizontally (no clipping), with
// `reach` more elements readable after each window's last column (vector loads of strided
// columns read the odd element after the last even one).
inline void inner_columns(const Pool2dShape& s, int64_t span, int64_t reach, int64_t& lo, int64_t& hi) {
  lo = s.pad_w > 0 ? (s.pad_w + s.stride_w - 1) / s.stride_w : 0;
  const int64_t last = s.W - 1 - (span - 1) - reach + s.pad_w;  // window start + pad_w <= last
  hi = last < 0 ? 0 : last / s.stride_w + 1;
  hi = hi < s.OW ? hi : s.OW;
  lo = lo < hi ? lo : hi;
}

}  // namespace
}  // namespace pool
}  // namespace fastnn
