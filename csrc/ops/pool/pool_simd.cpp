// Max and average pooling on the SIMD layer, compiled once per CPU path (see pool_kernels.h).
// Vectors run along the output columns: lane j of a vector is output column ow + j, whose window
// column kw is input column (ow + j) * stride_w - pad_w + kw * dil_w, a contiguous load for
// stride 1 and the even lanes of two loads for stride 2. Windows clipped by the input's border
// (and other strides) take the scalar loop, which is also the reference for the vector one:
// both scan a window row by row, left to right, so sums and the first-maximum rule agree.
#include <cmath>

#include "core/simd/index.h"
#include "core/simd/permute.h"
#include "core/simd/rows.h"
#include "ops/pool/pool_kernels.h"
#include "ops/pool/window.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace pool {

using namespace simd;
using ::fastnn::pool::avg_window;
using ::fastnn::pool::AvgWindow;
using ::fastnn::pool::inner_columns;
using ::fastnn::pool::is_2x2s2;
using ::fastnn::pool::max_window;
using ::fastnn::pool::MaxWindow;

namespace {

// NaN propagates and ties keep the first element in scan order, as in PyTorch. Non-short-circuit
// so that the compiler can use selects: random data mispredicts branches.
template <typename T>
inline bool take(T v, T m) {
  return (v > m) | (v != v);
}
template <typename T>
FASTNN_SIMD_INLINE Mask<T> take(Vec<T> v, Vec<T> m) {
  return cmp_gt(v, m) | is_nan(v);
}

// Lanes ow .. ow + V - 1 of input row `row` at column offset c (stride sw: 1 or 2).
template <typename T>
FASTNN_SIMD_INLINE Vec<T> load_cols(const T* row, int64_t c, int64_t sw) {
  return sw == 1 ? load(row + c) : load_even(row + c);
}

// ------------------------------------------------------------------ max

template <typename T>
void max_cell(const Pool2dShape& s, const T* x, int64_t oh, int64_t ow, T* y, int64_t* idx) {
  const MaxWindow m = max_window(s, oh, ow);
  T best = -INFINITY;
  int64_t at = m.h0 * s.W + m.w0;
  for (int64_t h = m.h0; h < m.h1; h += s.dil_h)
    for (int64_t w = m.w0; w < m.w1; w += s.dil_w) {
      const T v = x[h * s.W + w];
      const bool t = take(v, best);
      best = t ? v : best;
      at = t ? h * s.W + w : at;
    }
  *y = best;
  if (idx) *idx = at;
}

// One output row of the general max pool.
template <typename T>
void max_row(const Pool2dShape& s, const T* x, int64_t oh, T* y, int64_t* idx) {
  constexpr int V = Vec<T>::W;
  int64_t lo = 0, hi = 0;
  if (s.stride_w <= 2) inner_columns(s, (s.KW - 1) * s.dil_w + 1, s.stride_w - 1, lo, hi);
  for (int64_t ow = 0; ow < lo; ++ow) max_cell(s, x, oh, ow, y + ow, idx ? idx + ow : nullptr);
  int64_t ow = lo;
  if (hi - lo >= V) {
    const MaxWindow m0 = max_window(s, oh, lo);  // rows only: columns are not clipped in [lo, hi)
    for (;; ow += V) {
      if (ow + V > hi) ow = hi - V;  // the last vector overlaps the one before: same values again
      const int64_t c0 = ow * s.stride_w - s.pad_w;
      const IndexVec<T> cols = index_iota<T>(c0, s.stride_w);
      Vec<T> best = set1<T>(-INFINITY);
      IndexVec<T> at = cols + index_set1<T>(m0.h0 * s.W);
      for (int64_t h = m0.h0; h < m0.h1; h += s.dil_h) {
        const T* row = x + h * s.W;
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          const Vec<T> v = load_cols(row, c0 + kw * s.dil_w, s.stride_w);
          const Mask<T> t = take(v, best);
          best = select(t, v, best);
          at = index_select(t, cols + index_set1<T>(h * s.W + kw * s.dil_w), at);
        }
      }
      store(y + ow, best);
      if (idx) index_store(idx + ow, at);
      if (ow + V >= hi) break;
    }
    ow = hi;
  }
  for (; ow < s.OW; ++ow) max_cell(s, x, oh, ow, y + ow, idx ? idx + ow : nullptr);
}

// Output row oh of a 2x2 stride-2 max pool: the even and odd columns of the two input rows. The
// position of each maximum in its window, 0, 1, W or W + 1, is tracked in T lanes (exact: the
// caller keeps W + 1 below 2^24) and widened to int64 once.
template <typename T>
void max_row_2x2(const Pool2dShape& s, const T* x, int64_t oh, T* y, int64_t* idx) {
  constexpr int V = Vec<T>::W;
  const T* r0 = x + 2 * oh * s.W;
  const T* r1 = r0 + s.W;
  const Vec<T> o1 = set1<T>(T(1)), oW = set1<T>(T(s.W)), oW1 = set1<T>(T(s.W + 1));
  int64_t ow = 0;
  for (; ow < s.OW && s.OW >= V; ow += V) {
    if (ow + V > s.OW) ow = s.OW - V;  // the last vector overlaps the one before
    Vec<T> ae, ao, be, bo;
    deinterleave(r0 + 2 * ow, ae, ao);
    deinterleave(r1 + 2 * ow, be, bo);
    Vec<T> m = ae, at = zero<T>();
    Mask<T> t = take(ao, m);
    m = select(t, ao, m), at = select(t, o1, at);
    t = take(be, m);
    m = select(t, be, m), at = select(t, oW, at);
    t = take(bo, m);
    m = select(t, bo, m), at = select(t, oW1, at);
    store(y + ow, m);
    if (idx) index_store(idx + ow, index_iota<T>(2 * oh * s.W + 2 * ow, 2) + index_from(at));
  }
  for (; ow < s.OW; ++ow) max_cell(s, x, oh, ow, y + ow, idx ? idx + ow : nullptr);
}

// ------------------------------------------------------------------ average

template <typename T>
T avg_cell(const Pool2dShape& s, const AvgWindow& a, const T* x) {
  T sum = 0;
  for (int64_t h = a.h0; h < a.h1; ++h)
    for (int64_t w = a.w0; w < a.w1; ++w) sum += x[h * s.W + w];
  return a.divisor > 0 ? sum / T(a.divisor) : T(0);
}

template <typename T>
void avg_row(const Pool2dShape& s, bool cip, int64_t div, const T* x, int64_t oh, T* y) {
  constexpr int V = Vec<T>::W;
  int64_t lo = 0, hi = 0;
  if (s.stride_w <= 2) inner_columns(s, s.KW, s.stride_w - 1, lo, hi);
  for (int64_t ow = 0; ow < lo; ++ow) y[ow] = avg_cell(s, avg_window(s, cip, div, oh, ow), x);
  int64_t ow = lo;
  if (hi - lo >= V) {
    const AvgWindow a = avg_window(s, cip, div, oh, lo);  // the divisor is the same for [lo, hi)
    const Vec<T> d = set1<T>(T(a.divisor));
    for (;; ow += V) {
      if (ow + V > hi) ow = hi - V;
      const int64_t c0 = ow * s.stride_w - s.pad_w;
      Vec<T> sum = zero<T>();
      for (int64_t h = a.h0; h < a.h1; ++h)
        for (int64_t kw = 0; kw < s.KW; ++kw) sum += load_cols(x + h * s.W, c0 + kw, s.stride_w);
      store(y + ow, a.divisor > 0 ? sum / d : zero<T>());
      if (ow + V >= hi) break;
    }
    ow = hi;
  }
  for (; ow < s.OW; ++ow) y[ow] = avg_cell(s, avg_window(s, cip, div, oh, ow), x);
}

template <typename T>
void avg_row_2x2(const Pool2dShape& s, T divisor, const T* x, int64_t oh, T* y) {
  constexpr int V = Vec<T>::W;
  const T* r0 = x + 2 * oh * s.W;
  const T* r1 = r0 + s.W;
  const Vec<T> d = set1<T>(divisor);
  int64_t ow = 0;
  for (; ow < s.OW && s.OW >= V; ow += V) {
    if (ow + V > s.OW) ow = s.OW - V;
    Vec<T> ae, ao, be, bo;
    deinterleave(r0 + 2 * ow, ae, ao);
    deinterleave(r1 + 2 * ow, be, bo);
    // Row by row, left to right, as the scalar loop.
    store(y + ow, (((ae + ao) + be) + bo) / d);
  }
  for (; ow < s.OW; ++ow) {
    const int64_t c = 2 * ow;
    y[ow] = (((r0[c] + r0[c + 1]) + r1[c]) + r1[c + 1]) / divisor;
  }
}

// Plane p of the average backward: each window adds its share to the elements it covers.
template <typename T>
void avg_backward_plane(const Pool2dShape& s, bool cip, int64_t div, const T* g, T* d) {
  constexpr int V = Vec<T>::W;
  zero_row(d, s.H * s.W);
  int64_t lo = 0, hi = 0;
  if (s.stride_w <= 2) inner_columns(s, s.KW, s.stride_w - 1, lo, hi);
  for (int64_t oh = 0; oh < s.OH; ++oh) {
    const T* gr = g + oh * s.OW;
    auto cell = [&](int64_t ow) {
      const AvgWindow a = avg_window(s, cip, div, oh, ow);
      if (a.divisor <= 0) return;
      const T v = gr[ow] / T(a.divisor);
      for (int64_t h = a.h0; h < a.h1; ++h)
        for (int64_t w = a.w0; w < a.w1; ++w) d[h * s.W + w] += v;
    };
    if (hi - lo < V) {
      for (int64_t ow = 0; ow < s.OW; ++ow) cell(ow);
      continue;
    }
    for (int64_t ow = 0; ow < lo; ++ow) cell(ow);
    const AvgWindow a = avg_window(s, cip, div, oh, lo);
    const int64_t nv = (hi - lo) / V * V;  // whole vectors: an overlapping one would add twice
    if (a.divisor > 0) {
      const Vec<T> dv = set1<T>(T(a.divisor));
      for (int64_t ow = lo; ow < lo + nv; ow += V) {
        const Vec<T> v = load(gr + ow) / dv;
        const int64_t c0 = ow * s.stride_w - s.pad_w;
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t kw = 0; kw < s.KW; ++kw) {
            T* q = d + h * s.W + c0 + kw;
            if (s.stride_w == 1) {
              store(q, load(q) + v);
            } else {
              // The odd elements between go back unchanged; inner_columns keeps the last one in the row.
              Vec<T> even, odd;
              deinterleave(q, even, odd);
              store_interleaved(q, even + v, odd);
            }
          }
      }
    }
    for (int64_t ow = lo + nv; ow < s.OW; ++ow) cell(ow);
  }
}

}  // namespace

// ------------------------------------------------------------------ entry points

template <typename T>
void max_forward(const Pool2dShape& s, const T* x, T* y, int64_t* idx, int threads) {
  const bool fast = is_2x2s2(s) && s.W < (int64_t(1) << 24) - 1;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t r = 0; r < s.P * s.OH; ++r) {
    const int64_t p = r / s.OH, oh = r % s.OH;
    const T* xp = x + p * s.H * s.W;
    int64_t* ip = idx ? idx + r * s.OW : nullptr;
    if (fast) max_row_2x2(s, xp, oh, y + r * s.OW, ip);
    else max_row(s, xp, oh, y + r * s.OW, ip);
  }
}

template <typename T>
bool max_backward_2x2(const Pool2dShape& s, const T* dy, const int64_t* idx, T* dx, int threads) {
  constexpr int H = Vec<T>::W / 2;  // windows per vector: each covers two input columns
  const int64_t W = s.W, OW = s.OW, OH = s.OH, HW = s.H * s.W;
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) num_threads(threads)
  for (int64_t p = 0; p < s.P; ++p) {
    T* d = dx + p * HW;
    // Targets of the first windows of a row, less the row's first element: the two columns of the
    // upper input row, then of the lower one.
    const PairIndex<T> step = pair_index_iota<T>(2 * H, 0), c0 = pair_index_iota<T>(0, 2),
                       c1 = pair_index_iota<T>(1, 2), c2 = pair_index_iota<T>(W, 2), c3 = pair_index_iota<T>(W + 1, 2);
    for (int64_t oh = 0; oh < OH; ++oh) {
      T* r0 = d + 2 * oh * W;
      T* r1 = r0 + W;
      const T* g = dy + (p * OH + oh) * OW;
      const int64_t* ip = idx + (p * OH + oh) * OW;
      // Lanes 2i and 2i + 1 of a row vector are the two columns of window ow + i: each takes the
      // window's gradient where the window's index points at it (targets e0, o0 in the upper input
      // row, e1, o1 in the lower). An index at none of the four is counted: the caller then
      // scatters instead.
      auto windows = [&](int64_t ow, PairIndex<T> e0, PairIndex<T> o0, PairIndex<T> e1, PairIndex<T> o1) {
        const PairIndex<T> at = pair_index_load<T>(ip + ow);
        const Vec<T> gv = load_dup(g + ow), z = zero<T>();
        const Mask<T> m0 = pair_eq(at, e0, o0), m1 = pair_eq(at, e1, o1);
        store(r0 + 2 * ow, select(m0, gv, z));
        store(r1 + 2 * ow, select(m1, gv, z));
        bad += !pairs_all(m0 | m1);
      };
      const int64_t first = 2 * oh * W;
      const PairIndex<T> f = pair_index_iota<T>(first, 0);
      PairIndex<T> e0 = c0 + f, o0 = c1 + f, e1 = c2 + f, o1 = c3 + f;
      int64_t ow = 0;
      for (; ow + H <= OW; ow += H) {
        windows(ow, e0, o0, e1, o1);
        e0 = e0 + step, o0 = o0 + step, e1 = e1 + step, o1 = o1 + step;
      }
      if (ow < OW && OW >= H) {
        // The last vector overlaps the one before: the same writes again.
        const int64_t at = first + 2 * (OW - H);
        windows(OW - H, pair_index_iota<T>(at, 2), pair_index_iota<T>(at + 1, 2), pair_index_iota<T>(at + W, 2),
                pair_index_iota<T>(at + W + 1, 2));
        ow = OW;
      }
      for (; ow < OW; ++ow) {
        const int64_t at = ip[ow] - first - 2 * ow;
        const T v = g[ow];
        r0[2 * ow] = at == 0 ? v : T(0);
        r0[2 * ow + 1] = at == 1 ? v : T(0);
        r1[2 * ow] = at == W ? v : T(0);
        r1[2 * ow + 1] = at == W + 1 ? v : T(0);
        bad += (at != 0 && at != 1 && at != W && at != W + 1);
      }
      zero_row(r0 + 2 * OW, W - 2 * OW);
      zero_row(r1 + 2 * OW, W - 2 * OW);
    }
    zero_row(d + 2 * OH * W, HW - 2 * OH * W);
  }
  return bad == 0;
}

template <typename T>
void avg_forward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* x, T* y,
                 int threads) {
  const bool fast = is_2x2s2(s);
  const T div2x2 = divisor_override > 0 ? T(divisor_override) : T(4);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t r = 0; r < s.P * s.OH; ++r) {
    const int64_t p = r / s.OH, oh = r % s.OH;
    const T* xp = x + p * s.H * s.W;
    if (fast) avg_row_2x2(s, div2x2, xp, oh, y + r * s.OW);
    else avg_row(s, count_include_pad, divisor_override, xp, oh, y + r * s.OW);
  }
}

template <typename T>
void avg_backward(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override, const T* dy, T* dx,
                  int threads) {
  constexpr int V = Vec<T>::W;
  const int64_t HW = s.H * s.W, OHW = s.OH * s.OW;
  if (is_2x2s2(s)) {
    // Non-overlapping windows inside the input: every element is written once.
    const T div = divisor_override > 0 ? T(divisor_override) : T(4);
    const Vec<T> dv = set1<T>(div);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t p = 0; p < s.P; ++p) {
      T* d = dx + p * HW;
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        T* r0 = d + 2 * oh * s.W;
        T* r1 = r0 + s.W;
        const T* g = dy + (p * s.OH + oh) * s.OW;
        int64_t ow = 0;
        for (; ow < s.OW && s.OW >= V; ow += V) {
          if (ow + V > s.OW) ow = s.OW - V;
          const Vec<T> v = load(g + ow) / dv;
          store_dup(r0 + 2 * ow, v);
          store_dup(r1 + 2 * ow, v);
        }
        for (; ow < s.OW; ++ow) {
          const T v = g[ow] / div;
          r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = v;
        }
        zero_row(r0 + 2 * s.OW, s.W - 2 * s.OW);
        zero_row(r1 + 2 * s.OW, s.W - 2 * s.OW);
      }
      zero_row(d + 2 * s.OH * s.W, HW - 2 * s.OH * s.W);
    }
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t p = 0; p < s.P; ++p)
    avg_backward_plane(s, count_include_pad, divisor_override, dy + p * OHW, dx + p * HW);
}

#define FASTNN_POOL_INSTANTIATE(T)                                                                         \
  template void max_forward<T>(const Pool2dShape&, const T*, T*, int64_t*, int);                          \
  template bool max_backward_2x2<T>(const Pool2dShape&, const T*, const int64_t*, T*, int);               \
  template void avg_forward<T>(const Pool2dShape&, bool, int64_t, const T*, T*, int);                     \
  template void avg_backward<T>(const Pool2dShape&, bool, int64_t, const T*, T*, int);
FASTNN_POOL_INSTANTIATE(float)
FASTNN_POOL_INSTANTIATE(double)
#undef FASTNN_POOL_INSTANTIATE

}  // namespace pool
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
