// Pooling is memory-bound: every kernel makes one pass over its planes, split across
// threads by plane (or by output row in the forward passes), and the backward passes
// clear and fill one plane at a time so the plane is still in cache when it is filled.
#include "ops/pool/cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/cpu_features.h"
#include "core/shape.h"

#if FASTNN_HAVE_X86
#include <immintrin.h>
#endif

namespace fastnn {

namespace {


template <typename T>
inline bool take(T v, T m) {
  // Non-short-circuit so that the compiler can use selects: random data mispredicts branches.
  return (v > m) | (v != v);
}

// One output row of the general max pool.
template <typename T>
void max_row(const Pool2dShape& s, const T* x, int64_t oh, T* y, int64_t* idx) {
  int64_t h0 = oh * s.stride_h - s.pad_h;
  const int64_t h1 = std::min(h0 + (s.KH - 1) * s.dil_h + 1, s.H);
  while (h0 < 0) h0 += s.dil_h;
  for (int64_t ow = 0; ow < s.OW; ++ow) {
    int64_t w0 = ow * s.stride_w - s.pad_w;
    const int64_t w1 = std::min(w0 + (s.KW - 1) * s.dil_w + 1, s.W);
    while (w0 < 0) w0 += s.dil_w;
    T m = -INFINITY;
    int64_t best = h0 * s.W + w0;
    for (int64_t h = h0; h < h1; h += s.dil_h)
      for (int64_t w = w0; w < w1; w += s.dil_w) {
        const T v = x[h * s.W + w];
        const bool t = take(v, m);
        m = t ? v : m;
        best = t ? h * s.W + w : best;
      }
    y[ow] = m;
    if (idx) idx[ow] = best;
  }
}

bool is_2x2s2(const Pool2dShape& s) {
  return s.KH == 2 && s.KW == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_h == 0 && s.pad_w == 0 &&
         s.dil_h == 1 && s.dil_w == 1 && 2 * s.OH <= s.H && 2 * s.OW <= s.W && s.H * s.W < (int64_t(1) << 31);
}

#if FASTNN_HAVE_X86
// Even and odd elements of the 16 floats at p, each in order.
FASTNN_TARGET_AVX2 inline void deinterleave(const float* p, __m256& even, __m256& odd) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

FASTNN_TARGET_AVX2 inline void take_avx2(__m256 v, __m256i off, __m256& m, __m256i& sel) {
  const __m256 mask = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  m = _mm256_blendv_ps(m, v, mask);
  sel = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(sel), _mm256_castsi256_ps(off), mask));
}

// Output row oh of a 2x2 stride-2 max pool: eight outputs per step, scalar tail.
FASTNN_TARGET_AVX2 void max_row_2x2_avx2(const Pool2dShape& s, const float* x, int64_t oh, float* y, int64_t* idx) {
  const float* r0 = x + 2 * oh * s.W;
  const float* r1 = r0 + s.W;
  const int32_t W = (int32_t)s.W;
  const __m256i o1 = _mm256_set1_epi32(1), oW = _mm256_set1_epi32(W), oW1 = _mm256_set1_epi32(W + 1);
  const __m256i lanes = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  int64_t ow = 0;
  for (int64_t step = 0; ow < s.OW && s.OW >= 8; ow += step) {
    // The last step overlaps the previous one rather than leaving a scalar tail.
    if (ow + 8 > s.OW) ow = s.OW - 8;
    step = 8;
    __m256 ae, ao, be, bo;
    deinterleave(r0 + 2 * ow, ae, ao);
    deinterleave(r1 + 2 * ow, be, bo);
    __m256 m = ae;
    __m256i sel = _mm256_setzero_si256();
    take_avx2(ao, o1, m, sel);
    take_avx2(be, oW, m, sel);
    take_avx2(bo, oW1, m, sel);
    _mm256_storeu_ps(y + ow, m);
    if (idx) {
      const __m256i base = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(2 * oh * s.W + 2 * ow)), lanes);
      const __m256i id = _mm256_add_epi32(base, sel);
      _mm256_storeu_si256((__m256i*)(idx + ow), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(id)));
      _mm256_storeu_si256((__m256i*)(idx + ow + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(id, 1)));
    }
  }
  for (; ow < s.OW; ++ow) {
    const int64_t c = 2 * ow;
    float m = r0[c];
    int64_t best = 2 * oh * s.W + c;
    if (take(r0[c + 1], m)) m = r0[c + 1], best = 2 * oh * s.W + c + 1;
    if (take(r1[c], m)) m = r1[c], best = (2 * oh + 1) * s.W + c;
    if (take(r1[c + 1], m)) m = r1[c + 1], best = (2 * oh + 1) * s.W + c + 1;
    y[ow] = m;
    if (idx) idx[ow] = best;
  }
}

FASTNN_TARGET_AVX2 void avg_row_2x2_avx2(const Pool2dShape& s, const float* x, int64_t oh, float divisor, float* y) {
  const float* r0 = x + 2 * oh * s.W;
  const float* r1 = r0 + s.W;
  const __m256 d = _mm256_set1_ps(divisor);
  int64_t ow = 0;
  for (int64_t step = 0; ow < s.OW && s.OW >= 8; ow += step) {
    if (ow + 8 > s.OW) ow = s.OW - 8;
    step = 8;
    __m256 ae, ao, be, bo;
    deinterleave(r0 + 2 * ow, ae, ao);
    deinterleave(r1 + 2 * ow, be, bo);
    // Same summation order as the scalar path: row by row, left to right.
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(ae, ao), be), bo);
    _mm256_storeu_ps(y + ow, _mm256_div_ps(sum, d));
  }
  for (; ow < s.OW; ++ow) {
    const int64_t c = 2 * ow;
    y[ow] = (((r0[c] + r0[c + 1]) + r1[c]) + r1[c + 1]) / divisor;
  }
}
#endif

#if FASTNN_HAVE_X86
// One output row of the 2x2 max backward: four outputs per step. Each int64 index is compared
// with the four positions of its window; the 64-bit masks, split into their 32-bit halves,
// select the gradient for the even / odd column of each row. Returns the count of indices
// outside their window (those outputs are left to the caller's general path).
FASTNN_TARGET_AVX2 int64_t max_bwd_row_2x2_avx2(const float* g, const int64_t* ip, int64_t oh, int64_t OW, int64_t W,
                                                float* r0, float* r1) {
  const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256i lanes = _mm256_setr_epi64x(0, 2, 4, 6);
  const __m256i one = _mm256_set1_epi64x(1), w0 = _mm256_set1_epi64x(W), w1 = _mm256_set1_epi64x(W + 1);
  int64_t bad = 0, ow = 0;
  for (; ow + 4 <= OW; ow += 4) {
    const __m256i base = _mm256_add_epi64(_mm256_set1_epi64x(2 * oh * W + 2 * ow), lanes);
    const __m256i at = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i*)(ip + ow)), base);
    const __m256i m0 = _mm256_cmpeq_epi64(at, _mm256_setzero_si256()), m1 = _mm256_cmpeq_epi64(at, one);
    const __m256i m2 = _mm256_cmpeq_epi64(at, w0), m3 = _mm256_cmpeq_epi64(at, w1);
    const __m256 gg = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(g + ow)), dup);
    _mm256_storeu_ps(r0 + 2 * ow, _mm256_and_ps(gg, _mm256_castsi256_ps(_mm256_blend_epi32(m0, m1, 0xAA))));
    _mm256_storeu_ps(r1 + 2 * ow, _mm256_and_ps(gg, _mm256_castsi256_ps(_mm256_blend_epi32(m2, m3, 0xAA))));
    const __m256i any = _mm256_or_si256(_mm256_or_si256(m0, m1), _mm256_or_si256(m2, m3));
    bad += 4 - __builtin_popcount(_mm256_movemask_pd(_mm256_castsi256_pd(any)));
  }
  for (; ow < OW; ++ow) {
    const int64_t at = ip[ow] - 2 * oh * W - 2 * ow;
    const float v = g[ow];
    r0[2 * ow] = at == 0 ? v : 0.0f;
    r0[2 * ow + 1] = at == 1 ? v : 0.0f;
    r1[2 * ow] = at == W ? v : 0.0f;
    r1[2 * ow + 1] = at == W + 1 ? v : 0.0f;
    bad += (at != 0 && at != 1 && at != W && at != W + 1);
  }
  return bad;
}
#endif

// Window bounds of PyTorch's avg_pool2d and its divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};

inline AvgWindow avg_window(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, int64_t oh,
                            int64_t ow) {
  AvgWindow a;
  a.h0 = oh * s.stride_h - s.pad_h;
  a.w0 = ow * s.stride_w - s.pad_w;
  a.h1 = std::min(a.h0 + s.KH, s.H + s.pad_h);
  a.w1 = std::min(a.w0 + s.KW, s.W + s.pad_w);
  const int64_t pool_size = (a.h1 - a.h0) * (a.w1 - a.w0);
  a.h0 = std::max<int64_t>(a.h0, 0);
  a.w0 = std::max<int64_t>(a.w0, 0);
  a.h1 = std::min(a.h1, s.H);
  a.w1 = std::min(a.w1, s.W);
  if (divisor_override > 0) a.divisor = divisor_override;
  else if (count_include_pad) a.divisor = pool_size;
  else a.divisor = (a.h1 - a.h0) * (a.w1 - a.w0);
  return a;
}

inline int64_t start_index(int64_t o, int64_t I, int64_t O) { return shape::adaptive_start(o, I, O); }
inline int64_t end_index(int64_t o, int64_t I, int64_t O) { return shape::adaptive_end(o, I, O); }

}  // namespace

template <typename T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int64_t* idx) {
  const int64_t rows = s.P * s.OH;
  const bool fast = is_2x2s2(s);
  (void)fast;
#pragma omp parallel for schedule(static) num_threads(threads_for(s.P * s.H * s.W))
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r / s.OH, oh = r % s.OH;
    const T* xp = x + p * s.H * s.W;
    int64_t* ip = idx ? idx + r * s.OW : nullptr;
#if FASTNN_HAVE_X86
    if constexpr (std::is_same_v<T, float>) {
      if (fast && cpu_path_avx2()) {
        max_row_2x2_avx2(s, xp, oh, y + r * s.OW, ip);
        continue;
      }
    }
#endif
    max_row(s, xp, oh, y + r * s.OW, ip);
  }
}

// 2x2 stride-2 windows do not overlap: each input row pair is written once, from one output
// row, instead of clearing the plane and scattering into it.
template <typename T>
bool max_backward_2x2(const Pool2dShape& s, const T* dy, const int64_t* idx, T* dx) {
  const int64_t HW = s.H * s.W;
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) num_threads(threads_for(s.P * HW))
  for (int64_t p = 0; p < s.P; ++p) {
    T* d = dx + p * HW;
    for (int64_t oh = 0; oh < s.OH; ++oh) {
      T* r0 = d + 2 * oh * s.W;
      T* r1 = r0 + s.W;
      const T* g = dy + (p * s.OH + oh) * s.OW;
      const int64_t* ip = idx + (p * s.OH + oh) * s.OW;
      const int64_t base = 2 * oh * s.W;
#if FASTNN_HAVE_X86
      if constexpr (std::is_same_v<T, float>) {
        if (cpu_path_avx2()) {
          bad += max_bwd_row_2x2_avx2(g, ip, oh, s.OW, s.W, r0, r1);
          std::fill(r0 + 2 * s.OW, r0 + s.W, T(0));
          std::fill(r1 + 2 * s.OW, r1 + s.W, T(0));
          continue;
        }
      }
#endif
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const int64_t at = ip[ow] - base - 2 * ow;  // 0, 1, W or W + 1 for an index of this window
        const T v = g[ow];
        r0[2 * ow] = at == 0 ? v : T(0);
        r0[2 * ow + 1] = at == 1 ? v : T(0);
        r1[2 * ow] = at == s.W ? v : T(0);
        r1[2 * ow + 1] = at == s.W + 1 ? v : T(0);
        bad += (at != 0 && at != 1 && at != s.W && at != s.W + 1);
      }
      std::fill(r0 + 2 * s.OW, r0 + s.W, T(0));
      std::fill(r1 + 2 * s.OW, r1 + s.W, T(0));
    }
    std::fill(d + 2 * s.OH * s.W, d + HW, T(0));
  }
  return bad == 0;
}

template <typename T>
bool max_pool2d_backward(const Pool2dShape& s, const T* dy, const int64_t* idx, T* dx) {
  const int64_t HW = s.H * s.W, OHW = s.OH * s.OW;
  if (is_2x2s2(s) && max_backward_2x2(s, dy, idx, dx)) return true;
  // Indices from elsewhere (max_unpool2d, adaptive pooling): the general scatter below.
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) num_threads(threads_for(s.P * s.H * s.W))
  for (int64_t p = 0; p < s.P; ++p) {
    T* d = dx + p * HW;
    std::fill(d, d + HW, T(0));
    const T* g = dy + p * OHW;
    const int64_t* ip = idx + p * OHW;
    for (int64_t o = 0; o < OHW; ++o) {
      const uint64_t i = (uint64_t)ip[o];
      if (i < (uint64_t)HW) d[i] += g[o];
      else ++bad;
    }
  }
  return bad == 0;
}

template <typename T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* x, T* y) {
  const int64_t rows = s.P * s.OH;
  const bool fast = is_2x2s2(s);
  (void)fast;
#pragma omp parallel for schedule(static) num_threads(threads_for(s.P * s.H * s.W))
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r / s.OH, oh = r % s.OH;
    const T* xp = x + p * s.H * s.W;
    T* yr = y + r * s.OW;
#if FASTNN_HAVE_X86
    if constexpr (std::is_same_v<T, float>) {
      if (fast && cpu_path_avx2()) {
        avg_row_2x2_avx2(s, xp, oh, divisor_override > 0 ? (float)divisor_override : 4.0f, yr);
        continue;
      }
    }
#endif
    for (int64_t ow = 0; ow < s.OW; ++ow) {
      const AvgWindow a = avg_window(s, count_include_pad, divisor_override, oh, ow);
      T sum = 0;
      for (int64_t h = a.h0; h < a.h1; ++h)
        for (int64_t w = a.w0; w < a.w1; ++w) sum += xp[h * s.W + w];
      yr[ow] = a.divisor > 0 ? sum / T(a.divisor) : T(0);
    }
  }
}

template <typename T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* dy,
                         T* dx) {
  const int64_t HW = s.H * s.W, OHW = s.OH * s.OW;
  if (is_2x2s2(s)) {
    // Non-overlapping windows inside the input: every element is written once.
    const T div = divisor_override > 0 ? T(divisor_override) : T(4);
#pragma omp parallel for schedule(static) num_threads(threads_for(s.P * HW))
    for (int64_t p = 0; p < s.P; ++p) {
      T* d = dx + p * HW;
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        T* r0 = d + 2 * oh * s.W;
        T* r1 = r0 + s.W;
        const T* g = dy + (p * s.OH + oh) * s.OW;
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const T v = g[ow] / div;
          r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = v;
        }
        std::fill(r0 + 2 * s.OW, r0 + s.W, T(0));
        std::fill(r1 + 2 * s.OW, r1 + s.W, T(0));
      }
      std::fill(d + 2 * s.OH * s.W, d + HW, T(0));
    }
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads_for(s.P * s.H * s.W))
  for (int64_t p = 0; p < s.P; ++p) {
    T* d = dx + p * HW;
    std::fill(d, d + HW, T(0));
    const T* g = dy + p * OHW;
    for (int64_t oh = 0; oh < s.OH; ++oh)
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const AvgWindow a = avg_window(s, count_include_pad, divisor_override, oh, ow);
        if (a.divisor <= 0) continue;
        const T v = g[oh * s.OW + ow] / T(a.divisor);
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) d[h * s.W + w] += v;
      }
  }
}

template <typename T>
void adaptive_avg_pool2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* y) {
#pragma omp parallel for schedule(static) num_threads(threads_for(P * H * W))
  for (int64_t r = 0; r < P * OH; ++r) {
    const int64_t p = r / OH, oh = r % OH;
    const int64_t h0 = start_index(oh, H, OH), h1 = end_index(oh, H, OH);
    const T* xp = x + p * H * W;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t w0 = start_index(ow, W, OW), w1 = end_index(ow, W, OW);
      T sum = 0;
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w) sum += xp[h * W + w];
      y[r * OW + ow] = sum / T((h1 - h0) * (w1 - w0));
    }
  }
}

template <typename T>
void adaptive_avg_pool2d_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) num_threads(threads_for(P * H * W))
  for (int64_t p = 0; p < P; ++p) {
    T* d = dx + p * H * W;
    std::fill(d, d + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = start_index(oh, H, OH), h1 = end_index(oh, H, OH);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = start_index(ow, W, OW), w1 = end_index(ow, W, OW);
        const T v = dy[(p * OH + oh) * OW + ow] / T((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) d[h * W + w] += v;
      }
    }
  }
}

template <typename T>
void adaptive_max_pool2d_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* x, T* y,
                                 int64_t* idx) {
#pragma omp parallel for schedule(static) num_threads(threads_for(P * H * W))
  for (int64_t r = 0; r < P * OH; ++r) {
    const int64_t p = r / OH, oh = r % OH;
    const int64_t h0 = start_index(oh, H, OH), h1 = end_index(oh, H, OH);
    const T* xp = x + p * H * W;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t w0 = start_index(ow, W, OW), w1 = end_index(ow, W, OW);
      T m = -INFINITY;
      int64_t best = h0 * W + w0;
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w)
          if (take(xp[h * W + w], m)) m = xp[h * W + w], best = h * W + w;
      y[r * OW + ow] = m;
      if (idx) idx[r * OW + ow] = best;
    }
  }
}

#define FASTNN_POOL_INSTANTIATE(T)                                                                                 \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int64_t*);                                \
  template bool max_pool2d_backward<T>(const Pool2dShape&, const T*, const int64_t*, T*);                         \
  template void avg_pool2d_forward<T>(const Pool2dShape&, bool, int64_t, const T*, T*);                           \
  template void avg_pool2d_backward<T>(const Pool2dShape&, bool, int64_t, const T*, T*);                          \
  template void adaptive_avg_pool2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*);        \
  template void adaptive_avg_pool2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*);       \
  template void adaptive_max_pool2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*, int64_t*);

FASTNN_POOL_INSTANTIATE(float)
FASTNN_POOL_INSTANTIATE(double)

}  // namespace fastnn
