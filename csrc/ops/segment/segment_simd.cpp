// The segment-reduction kernels on the SIMD layer, compiled once per CPU path (contract: segment.h).
// Rows are the unit of work: each is d contiguous elements read or written with whole vectors and
// one masked tail. Parallel loops split the outputs (positions, segments, unique rows or column
// blocks) among threads, so no two threads write one element and results do not depend on the
// thread count.
#include <cmath>

#include "core/simd/rows.h"
#include "core/simd/simd.h"
#include "core/simd/simd_gather.h"
#include "core/simd/simd_math.h"
#include "core/threads.h"
#include "ops/segment/cpu.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace segment {
namespace {

using simd::Vec;

// dst[j] += w * src[j]
template <typename T>
FASTNN_SIMD_INLINE void axpy_row(T w, const T* src, T* dst, int64_t d) {
  constexpr int V = Vec<T>::W;
  const Vec<T> wv = simd::set1<T>(w);
  int64_t j = 0;
  for (; j + V <= d; j += V) simd::store(dst + j, simd::load(dst + j) + wv * simd::load(src + j));
  if (j < d) {
    const int r = int(d - j);
    simd::store_n(dst + j, simd::load_n(dst + j, r) + wv * simd::load_n(src + j, r), r);
  }
}

// dst[j] *= s
template <typename T>
FASTNN_SIMD_INLINE void scale_row(T s, T* dst, int64_t d) {
  constexpr int V = Vec<T>::W;
  const Vec<T> sv = simd::set1<T>(s);
  int64_t j = 0;
  for (; j + V <= d; j += V) simd::store(dst + j, simd::load(dst + j) * sv);
  if (j < d) simd::store_n(dst + j, simd::load_n(dst + j, int(d - j)) * sv, int(d - j));
}

// dst[j] /= c
template <typename T>
FASTNN_SIMD_INLINE void divide_row(T c, T* dst, int64_t d) {
  constexpr int V = Vec<T>::W;
  const Vec<T> cv = simd::set1<T>(c);
  int64_t j = 0;
  for (; j + V <= d; j += V) simd::store(dst + j, simd::load(dst + j) / cv);
  if (j < d) simd::store_n(dst + j, simd::load_n(dst + j, int(d - j)) / cv, int(d - j));
}

}  // namespace

template <typename T, typename I>
void gather_rows(int64_t n, int64_t d, const T* src, const I* index, T* out) {
  const int threads = threads_for(n * d);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) simd::copy_row(src + (int64_t)index[i] * d, out + i * d, d);
}

// ------------------------------------------------------------------ segment_reduce and friends
//
// Threads own runs of whole segments, split by binary search in `offsets` so that each run holds about
// the same number of positions plus segments: skewed degrees do not leave one thread with most of the
// edges. Within a segment a block of up to kMaxVecs vectors of columns stays in registers for the
// whole segment (no load or store of the output per position), and the rows of a few positions ahead
// are prefetched: the rows are scattered over the table, so their addresses are known early but the
// hardware prefetcher cannot guess them.

namespace {

constexpr int kMaxVecs = simd::kVectorRegisters / 4;  // accumulators per block: 8 on avx512, else 4
constexpr int64_t kPrefetch = 8;                       // positions ahead

// The first segment of run t of `runs`: cost(s) = positions before segment s + s.
inline int64_t run_start(const int64_t* offsets, int64_t segs, int t, int runs) {
  if (t <= 0) return 0;
  if (t >= runs) return segs;
  const int64_t base = offsets[0], total = offsets[segs] - base + segs;
  const int64_t target = total / runs * t + total % runs * t / runs;
  int64_t lo = 0, hi = segs;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (offsets[mid] - base + mid < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// body(s0, s1) on runs of segments, one per thread, balanced by positions.
template <class Body>
inline void for_segment_runs(const int64_t* offsets, int64_t segs, int64_t work_per_position, bool serial,
                             Body&& body) {
  const int64_t n = offsets[segs] - offsets[0];
  int runs = serial ? 1 : threads_for((n + segs) * work_per_position);
  if (runs > segs) runs = segs > 0 ? (int)segs : 1;
#pragma omp parallel for schedule(static, 1) num_threads(runs)
  for (int t = 0; t < runs; ++t) body(run_start(offsets, segs, t, runs), run_start(offsets, segs, t + 1, runs));
}

template <typename I>
FASTNN_SIMD_INLINE int64_t row_of(const I* index, int64_t k) {
  return index ? (int64_t)index[k] : k;
}

// The rows of `src` one segment reads, with what the sum and mean blocks need to weight them.
template <typename T, typename I>
struct Gathered {
  const T* src;
  const I* index;
  int64_t d, skip;
  int64_t prefetch_end;  // positions below it may be read ahead
  const T* w;
  int64_t heads;
  const I* weight_index;
};

enum class Weighting { none, scalar, head_per_vector, head_per_lane };

FASTNN_SIMD_INLINE void prefetch_row(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(c + b, 0, 3);
}

// Columns [j0, j0 + (NV - 1) * V + last) of segment [k0, k1): out = sum of w * rows (divided by the
// number of rows kept for mean). `hid`: the head of each lane's column (weighted by head).
template <typename T, typename I, int NV, Weighting WT>
FASTNN_SIMD_INLINE void sum_block(const Gathered<T, I>& g, int64_t k0, int64_t k1, int64_t j0, int last, bool mean,
                                  const int32_t* hid, T* out) {
  constexpr int V = Vec<T>::W;
  Vec<T> acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = simd::zero<T>();
  const int64_t row_bytes = ((NV - 1) * V + last) * (int64_t)sizeof(T);
  int64_t kept = 0;
  for (int64_t k = k0; k < k1; ++k) {
    if (k + kPrefetch < g.prefetch_end) {
      const int64_t ra = row_of(g.index, k + kPrefetch);
      if (ra != g.skip) prefetch_row(g.src + ra * g.d + j0, row_bytes);
    }
    const int64_t r = row_of(g.index, k);
    if (r == g.skip) continue;
    ++kept;
    const T* x = g.src + r * g.d + j0;
    [[maybe_unused]] const T* wrow = nullptr;
    [[maybe_unused]] Vec<T> ws;
    if constexpr (WT != Weighting::none) {
      const int64_t wk = row_of(g.weight_index, k);
      wrow = g.w + wk * g.heads;
      if constexpr (WT == Weighting::scalar) ws = simd::set1<T>(*wrow);
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const Vec<T> xv = (v < NV - 1 || last == V) ? simd::load(x + v * V) : simd::load_n(x + v * V, last);
      if constexpr (WT == Weighting::none) acc[v] += xv;
      else if constexpr (WT == Weighting::scalar) acc[v] = simd::fma(ws, xv, acc[v]);
      else if constexpr (WT == Weighting::head_per_vector) acc[v] = simd::fma(simd::set1<T>(wrow[hid[v * V]]), xv, acc[v]);
      else acc[v] = simd::fma(simd::gather(wrow, hid + v * V), xv, acc[v]);
    }
  }
  const Vec<T> scale = simd::set1<T>(mean && kept > 1 ? T(1) / T(kept) : T(1));
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    Vec<T> o = acc[v];
    if (mean && kept > 1) o = o * scale;
    if (v < NV - 1 || last == V) simd::store(out + j0 + v * V, o);
    else simd::store_n(out + j0 + v * V, o, last);
  }
}

template <typename T, typename I, Weighting WT>
void sum_segments(const Gathered<T, I>& g, const int64_t* offsets, int64_t s0, int64_t s1, bool mean, T* out) {
  constexpr int V = Vec<T>::W;
  constexpr int64_t B = kMaxVecs * V;
  const int64_t d = g.d;
  alignas(64) int32_t hid[kMaxVecs * V];
  const int64_t C = d / (g.heads > 0 ? g.heads : 1);
  for (int64_t j0 = 0; j0 < d; j0 += B) {
    const int64_t cols = d - j0 < B ? d - j0 : B;
    const int nv = int((cols + V - 1) / V), last = int(cols - (nv - 1) * V);
    if constexpr (WT == Weighting::head_per_vector || WT == Weighting::head_per_lane)
      for (int64_t j = 0; j < nv * V; ++j) {
        const int64_t h = (j0 + j) / C;
        hid[j] = int32_t(h < g.heads ? h : g.heads - 1);  // lanes past d read a real weight, then unused
      }
    for (int64_t s = s0; s < s1; ++s) {
      T* o = out + s * d;
      const int64_t k0 = offsets[s], k1 = offsets[s + 1];
      switch (nv) {
#define FASTNN_SUM_BLOCK(N) \
  case N:                   \
    if constexpr (N <= kMaxVecs) sum_block<T, I, N, WT>(g, k0, k1, j0, last, mean, hid, o); \
    break;
        FASTNN_SUM_BLOCK(1)
        FASTNN_SUM_BLOCK(2)
        FASTNN_SUM_BLOCK(3)
        FASTNN_SUM_BLOCK(4)
        FASTNN_SUM_BLOCK(5)
        FASTNN_SUM_BLOCK(6)
        FASTNN_SUM_BLOCK(7)
        FASTNN_SUM_BLOCK(8)
#undef FASTNN_SUM_BLOCK
      }
    }
  }
}

// Max (or min) of a block of columns [j0, j0 + cols) of a segment, NaN propagating, with the row of
// the first position where each column reached it (the plain reference's rule: a later row wins only
// when strictly better, or NaN where the best so far is not). Pass one finds the extremes with whole
// vectors; pass two walks the positions again until every column has found its first row, and takes
// the value from that row (so -0 and 0, or NaN payloads, come out as the reference's).
template <typename T, typename I, bool MAX>
void extreme_block(const Gathered<T, I>& g, int64_t k0, int64_t k1, int64_t j0, int64_t cols, T* o, int64_t* a) {
  constexpr int V = Vec<T>::W;
  constexpr int NB = kMaxVecs;
  const int nv = int((cols + V - 1) / V);
  Vec<T> m[NB];
  for (int v = 0; v < nv; ++v) m[v] = simd::set1<T>(MAX ? -INFINITY : INFINITY);
  int64_t kept = 0;
  for (int64_t k = k0; k < k1; ++k) {
    if (k + kPrefetch < g.prefetch_end) {
      const int64_t ra = row_of(g.index, k + kPrefetch);
      if (ra != g.skip) prefetch_row(g.src + ra * g.d + j0, cols * (int64_t)sizeof(T));
    }
    const int64_t r = row_of(g.index, k);
    if (r == g.skip) continue;
    ++kept;
    const T* x = g.src + r * g.d + j0;
    for (int v = 0; v < nv; ++v) {
      const int n = int(cols - v * V < V ? cols - v * V : V);
      const Vec<T> xv = n == V ? simd::load(x + v * V) : simd::load_n(x + v * V, n);
      const Vec<T> best = MAX ? simd::max(xv, m[v]) : simd::min(xv, m[v]);  // m[v] when either is NaN
      m[v] = simd::select(simd::is_nan(xv), xv, best);
    }
  }
  if (kept == 0) {
    simd::zero_row(o + j0, cols);
    for (int64_t j = 0; j < cols; ++j) a[j0 + j] = -1;
    return;
  }
  for (int v = 0; v < nv; ++v) {
    const int n = int(cols - v * V < V ? cols - v * V : V);
    simd::store_n(o + j0 + v * V, m[v], n);
  }
  for (int64_t j = 0; j < cols; ++j) a[j0 + j] = -1;
  int64_t missing = cols;
  for (int64_t k = k0; k < k1 && missing > 0; ++k) {
    const int64_t r = row_of(g.index, k);
    if (r == g.skip) continue;
    const T* x = g.src + r * g.d + j0;
    for (int v = 0; v < nv; ++v) {
      const int n = int(cols - v * V < V ? cols - v * V : V);
      const Vec<T> xv = n == V ? simd::load(x + v * V) : simd::load_n(x + v * V, n);
      const auto hit = simd::cmp_eq(xv, m[v]) | (simd::is_nan(xv) & simd::is_nan(m[v]));
      if (!simd::any(hit)) continue;
      for (int l = 0; l < n; ++l) {
        const int64_t j = j0 + v * V + l;
        const T y = x[v * V + l], best = o[j];
        if (a[j] < 0 && (y == best || (y != y && best != best))) {
          a[j] = r;
          o[j] = y;
          --missing;
        }
      }
    }
  }
}

}  // namespace

template <typename T, typename I>
void segment_reduce(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets, const T* w,
                    int64_t heads, const I* weight_index, Mode mode, int64_t skip, T* out, int64_t* argmax) {
  constexpr int V = Vec<T>::W;
  if (segs <= 0 || d <= 0) return;
  const Gathered<T, I> g{src, index, d, skip, offsets[segs], w, heads, weight_index};
  if (mode == Mode::max || mode == Mode::min) {
    for_segment_runs(offsets, segs, d, false, [&](int64_t s0, int64_t s1) {
      constexpr int64_t B = kMaxVecs * V;
      for (int64_t j0 = 0; j0 < d; j0 += B) {
        const int64_t cols = d - j0 < B ? d - j0 : B;
        for (int64_t s = s0; s < s1; ++s) {
          if (mode == Mode::max)
            extreme_block<T, I, true>(g, offsets[s], offsets[s + 1], j0, cols, out + s * d, argmax + s * d);
          else
            extreme_block<T, I, false>(g, offsets[s], offsets[s + 1], j0, cols, out + s * d, argmax + s * d);
        }
      }
    });
    return;
  }
  const bool mean = mode == Mode::mean;
  const int64_t C = heads > 0 ? d / heads : d;
  for_segment_runs(offsets, segs, d, false, [&](int64_t s0, int64_t s1) {
    if (!w) sum_segments<T, I, Weighting::none>(g, offsets, s0, s1, mean, out);
    else if (heads == 1) sum_segments<T, I, Weighting::scalar>(g, offsets, s0, s1, mean, out);
    else if (C % V == 0) sum_segments<T, I, Weighting::head_per_vector>(g, offsets, s0, s1, mean, out);
    else sum_segments<T, I, Weighting::head_per_lane>(g, offsets, s0, s1, mean, out);
  });
}

// ------------------------------------------------------------------ segment_dot (SDDMM)

namespace {

// sum_j a[j] * x[j] for j < n.
template <typename T>
FASTNN_SIMD_INLINE T dot_row(const T* a, const T* x, int64_t n) {
  constexpr int V = Vec<T>::W;
  Vec<T> acc0 = simd::zero<T>(), acc1 = simd::zero<T>();
  int64_t j = 0;
  for (; j + 2 * V <= n; j += 2 * V) {
    acc0 = simd::fma(simd::load(a + j), simd::load(x + j), acc0);
    acc1 = simd::fma(simd::load(a + j + V), simd::load(x + j + V), acc1);
  }
  for (; j + V <= n; j += V) acc0 = simd::fma(simd::load(a + j), simd::load(x + j), acc0);
  if (j < n) acc1 = simd::fma(simd::load_n(a + j, int(n - j)), simd::load_n(x + j, int(n - j)), acc1);
  return simd::reduce_add(acc0 + acc1);
}

}  // namespace

template <typename T, typename I>
void segment_dot(int64_t segs, int64_t d, int64_t heads, const T* a, const T* src, const I* index,
                 const int64_t* offsets, const I* weight_index, int64_t num_out, bool serial, T* out) {
  const int64_t total = num_out * heads;
  {
    const int threads = serial ? 1 : threads_for(total);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t b = 0; b < total; b += 4096) simd::zero_row(out + b, total - b < 4096 ? total - b : 4096);
  }
  if (segs <= 0 || d <= 0) return;
  const int64_t C = d / heads;
  const int64_t end = offsets[segs];
  for_segment_runs(offsets, segs, d, serial, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const T* as = a + s * d;
      for (int64_t k = offsets[s]; k < offsets[s + 1]; ++k) {
        if (k + kPrefetch < end) prefetch_row(src + row_of(index, k + kPrefetch) * d, d * (int64_t)sizeof(T));
        const T* x = src + row_of(index, k) * d;
        T* o = out + row_of(weight_index, k) * heads;
        for (int64_t h = 0; h < heads; ++h) o[h] += dot_row(as + h * C, x + h * C, C);
      }
    }
  });
}

// ------------------------------------------------------------------ segment softmax
//
// Each segment is a set of rows of an (num_rows, h) table in edge order, named by perm; columns are
// independent. Blocks of V columns are processed with vectors (the tail masked).

namespace {

template <typename T>
FASTNN_SIMD_INLINE Vec<T> load_cols(const T* p, int n) {
  return n == Vec<T>::W ? simd::load(p) : simd::load_n(p, n);
}
template <typename T>
FASTNN_SIMD_INLINE void store_cols(T* p, Vec<T> x, int n) {
  if (n == Vec<T>::W) simd::store(p, x);
  else simd::store_n(p, x, n);
}

template <typename T>
void zero_table(int64_t total, bool serial, T* out) {
  const int threads = serial ? 1 : threads_for(total);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t b = 0; b < total; b += 4096) simd::zero_row(out + b, total - b < 4096 ? total - b : 4096);
}

}  // namespace

template <typename T, typename I>
void segment_softmax(int64_t segs, int64_t h, const T* src, const int64_t* offsets, const I* perm, int64_t num_rows,
                     bool zero_first, bool serial, T* out) {
  constexpr int V = Vec<T>::W;
  if (zero_first) zero_table(num_rows * h, serial, out);
  if (segs <= 0 || h <= 0) return;
  for_segment_runs(offsets, segs, h * 8, serial, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t k0 = offsets[s], k1 = offsets[s + 1];
      for (int64_t j = 0; j < h; j += V) {
        const int n = int(h - j < V ? h - j : V);
        Vec<T> m = simd::set1<T>(-INFINITY);
        for (int64_t k = k0; k < k1; ++k) {
          const Vec<T> x = load_cols(src + (int64_t)perm[k] * h + j, n);
          m = simd::select(simd::is_nan(x), x, simd::max(x, m));
        }
        Vec<T> sum = simd::zero<T>();
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t e = (int64_t)perm[k] * h + j;
          const Vec<T> y = simd::exp(load_cols(src + e, n) - m);
          store_cols(out + e, y, n);
          sum += y;
        }
        const Vec<T> inv = simd::set1<T>(T(1)) / sum;
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t e = (int64_t)perm[k] * h + j;
          store_cols(out + e, load_cols(out + e, n) * inv, n);
        }
      }
    }
  });
}

template <typename T, typename I>
void segment_softmax_backward(int64_t segs, int64_t h, const T* grad, const T* out, const int64_t* offsets,
                              const I* perm, int64_t num_rows, bool zero_first, bool serial, T* dsrc) {
  constexpr int V = Vec<T>::W;
  if (zero_first) zero_table(num_rows * h, serial, dsrc);
  if (segs <= 0 || h <= 0) return;
  for_segment_runs(offsets, segs, h * 4, serial, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t k0 = offsets[s], k1 = offsets[s + 1];
      for (int64_t j = 0; j < h; j += V) {
        const int n = int(h - j < V ? h - j : V);
        Vec<T> dot = simd::zero<T>();
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t e = (int64_t)perm[k] * h + j;
          dot = simd::fma(load_cols(grad + e, n), load_cols(out + e, n), dot);
        }
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t e = (int64_t)perm[k] * h + j;
          store_cols(dsrc + e, load_cols(out + e, n) * (load_cols(grad + e, n) - dot), n);
        }
      }
    }
  });
}

template <typename T>
void segment_max_backward(int64_t segs, int64_t d, const T* grad, const int64_t* argmax, int64_t rows, T* dst) {
  // Threads own blocks of columns: the rows each bag picked differ per column, so columns are the
  // unit that no two threads share.
  constexpr int64_t kBlock = 16;
  const int64_t blocks = (d + kBlock - 1) / kBlock;
  const int threads = threads_for((rows + segs) * d);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t r = 0; r < rows; ++r) simd::zero_row(dst + r * d, d);
#pragma omp parallel for schedule(static) num_threads(blocks < threads ? (int)blocks : threads)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t j0 = b * kBlock, j1 = j0 + kBlock < d ? j0 + kBlock : d;
    for (int64_t s = 0; s < segs; ++s)
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t r = argmax[s * d + j];
        if (r >= 0) dst[r * d + j] += grad[s * d + j];
      }
  }
}

template <typename T>
void index_add_rows(int64_t u, int64_t d, const int64_t* ids, const T* rows, T alpha, T* dst) {
  const int threads = threads_for(u * d);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t k = 0; k < u; ++k) {
    if (alpha == T(1)) simd::add_row(rows + k * d, dst + ids[k] * d, d);
    else axpy_row(alpha, rows + k * d, dst + ids[k] * d, d);
  }
}

template <typename T>
void rows_renorm(int64_t u, int64_t d, const int64_t* ids, T* dst, double max_norm, double norm_type) {
  constexpr int V = Vec<T>::W;
  const int threads = threads_for(u * d * 2);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t k = 0; k < u; ++k) {
    T* row = dst + ids[k] * d;
    double norm;
    if (norm_type == 2.0) {
      Vec<T> acc = simd::zero<T>();
      int64_t j = 0;
      for (; j + V <= d; j += V) acc = simd::fma(simd::load(row + j), simd::load(row + j), acc);
      if (j < d) {
        const Vec<T> x = simd::load_n(row + j, int(d - j));
        acc = simd::fma(x, x, acc);
      }
      norm = std::sqrt((double)simd::reduce_add(acc));
    } else if (norm_type == 1.0) {
      Vec<T> acc = simd::zero<T>();
      int64_t j = 0;
      for (; j + V <= d; j += V) acc += simd::abs(simd::load(row + j));
      if (j < d) acc += simd::abs(simd::load_n(row + j, int(d - j)));
      norm = (double)simd::reduce_add(acc);
    } else if (std::isinf(norm_type)) {
      norm = norm_type > 0 ? 0.0 : INFINITY;
      for (int64_t j = 0; j < d; ++j) {
        const double x = std::fabs((double)row[j]);
        norm = norm_type > 0 ? (x > norm ? x : norm) : (x < norm ? x : norm);
      }
    } else if (norm_type == 0.0) {
      norm = 0;
      for (int64_t j = 0; j < d; ++j) norm += row[j] != T(0);
    } else {
      double acc = 0;
      for (int64_t j = 0; j < d; ++j) acc += std::pow(std::fabs((double)row[j]), norm_type);
      norm = std::pow(acc, 1.0 / norm_type);
    }
    if (norm > max_norm) scale_row((T)(max_norm / (norm + 1e-7)), row, d);
  }
}

template <typename T>
void sparse_adam_step(int64_t u, int64_t d, const int64_t* ids, const T* g, T* p, T* m, T* v,
                      const SparseAdamScalars<T>& s) {
  constexpr int V = Vec<T>::W;
  const Vec<T> b1 = simd::set1<T>(s.one_minus_beta1), b2 = simd::set1<T>(s.one_minus_beta2),
               eps = simd::set1<T>(s.eps), step = simd::set1<T>(s.neg_step_size), neg = simd::set1<T>(T(-1));
  const int threads = threads_for(u * d * 8);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t k = 0; k < u; ++k) {
    const int64_t off = ids[k] * d;
    const T* gr = g + k * d;
    T *pr = p + off, *mr = m + off, *vr = v + off;
    auto body = [&](int64_t j, int count, bool full) {
      auto load = [&](const T* a) { return full ? simd::load(a + j) : simd::load_n(a + j, count); };
      auto store = [&](T* a, Vec<T> x) {
        if (full) simd::store(a + j, x);
        else simd::store_n(a + j, x, count);
      };
      Vec<T> gi = load(gr);
      if (s.maximize) gi = gi * neg;
      const Vec<T> m_old = load(mr), v_old = load(vr);
      const Vec<T> m_upd = (gi - m_old) * b1;
      const Vec<T> v_upd = (gi * gi - v_old) * b2;
      store(mr, m_old + m_upd);
      store(vr, v_old + v_upd);
      const Vec<T> numer = m_upd + m_old;
      const Vec<T> denom = simd::sqrt(v_upd + v_old) + eps;
      store(pr, load(pr) + step * (numer / denom));
    };
    int64_t j = 0;
    for (; j + V <= d; j += V) body(j, V, true);
    if (j < d) body(j, int(d - j), false);
  }
}

#define FASTNN_SEGMENT_INDEXED(T, I)                                                                               \
  template void gather_rows<T, I>(int64_t, int64_t, const T*, const I*, T*);                                      \
  template void segment_reduce<T, I>(int64_t, int64_t, const T*, const I*, const int64_t*, const T*, int64_t,      \
                                     const I*, Mode, int64_t, T*, int64_t*);                                       \
  template void segment_dot<T, I>(int64_t, int64_t, int64_t, const T*, const T*, const I*, const int64_t*,         \
                                  const I*, int64_t, bool, T*);                                                    \
  template void segment_softmax<T, I>(int64_t, int64_t, const T*, const int64_t*, const I*, int64_t, bool, bool,   \
                                      T*);                                                                         \
  template void segment_softmax_backward<T, I>(int64_t, int64_t, const T*, const T*, const int64_t*, const I*,     \
                                               int64_t, bool, bool, T*);
#define FASTNN_SEGMENT_TYPED(T)                                                                                   \
  FASTNN_SEGMENT_INDEXED(T, int32_t)                                                                              \
  FASTNN_SEGMENT_INDEXED(T, int64_t)                                                                              \
  template void segment_max_backward<T>(int64_t, int64_t, const T*, const int64_t*, int64_t, T*);                 \
  template void index_add_rows<T>(int64_t, int64_t, const int64_t*, const T*, T, T*);                             \
  template void rows_renorm<T>(int64_t, int64_t, const int64_t*, T*, double, double);                             \
  template void sparse_adam_step<T>(int64_t, int64_t, const int64_t*, const T*, T*, T*, T*,                       \
                                    const SparseAdamScalars<T>&);
FASTNN_SEGMENT_TYPED(float)
FASTNN_SEGMENT_TYPED(double)
#undef FASTNN_SEGMENT_TYPED
#undef FASTNN_SEGMENT_INDEXED

}  // namespace segment
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
