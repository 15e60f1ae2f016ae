// The segment-reduction kernels on the SIMD layer, compiled once per CPU path (contract: segment.h).
// Rows are the unit of work: each is d contiguous elements read or written with whole vectors and
// one masked tail. Parallel loops split the outputs (positions, segments, unique rows or column
// blocks) among threads, so no two threads write one element and results do not depend on the
// thread count.
#include <cmath>

#include "core/simd/index.h"
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
constexpr int64_t kPrefetch = 16;                      // positions ahead

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

// body(s0, s1, j0, j1) on the columns [j0, j1) of the segments [s0, s1), one call per thread: runs of
// segments as above, or, when one segment alone outweighs a thread's share (a hub, or a single bag) and
// the rows are wide enough, every segment on runs of whole vectors of columns.
template <class Body>
inline void for_reduce_work(const int64_t* offsets, int64_t segs, int64_t d, int lanes, Body&& body) {
  const int64_t n = offsets[segs] - offsets[0];
  const int threads = threads_for((n + segs) * d);
  const int64_t vecs = (d + lanes - 1) / lanes;
  if (threads > 1 && vecs >= threads) {
    int64_t longest = 0;
    for (int64_t s = 0; s < segs; ++s) {
      const int64_t len = offsets[s + 1] - offsets[s];
      longest = len > longest ? len : longest;
    }
    if ((longest + 1) * threads > n + segs) {
#pragma omp parallel for schedule(static, 1) num_threads(threads)
      for (int t = 0; t < threads; ++t) {
        const int64_t j0 = vecs * t / threads * lanes, j1 = vecs * (t + 1) / threads * lanes;
        body(int64_t(0), segs, j0, j1 < d ? j1 : d);
      }
      return;
    }
  }
  for_segment_runs(offsets, segs, d, false, [&](int64_t s0, int64_t s1) { body(s0, s1, int64_t(0), d); });
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

// How a position's weight row (`heads` values) scales a vector of columns: not at all; one scalar; one
// head per vector (a head's columns fill whole vectors); a few heads per vector (vectors hold whole
// heads: the heads' weights are blended lane by lane); otherwise gathered lane by lane.
enum class Weighting { none, scalar, head_per_vector, heads_in_vector, head_per_lane };

FASTNN_SIMD_INLINE void prefetch_row(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(c + b, 0, 3);
}

// The lanes of a block that the heads of its columns select (weighted by head).
template <typename T>
struct HeadLanes {
  alignas(64) int32_t hid[kMaxVecs * Vec<T>::W];  // the head of each lane's column
  simd::Mask<T> from[Vec<T>::W];                   // heads_in_vector: lanes of the i-th head on, i >= 1
  int per_vector, width;                           // heads per vector, columns per head
};

// Columns [j0, j0 + (NV - 1) * V + last) of segment [k0, k1): out = sum of w * rows (divided by the
// number of rows kept for mean).
template <typename T, typename I, int NV, Weighting WT>
FASTNN_SIMD_INLINE void sum_block(const Gathered<T, I>& g, int64_t k0, int64_t k1, int64_t j0, int last, bool mean,
                                  const HeadLanes<T>& hl, T* out) {
  const int32_t* hid = hl.hid;
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
      if constexpr (WT != Weighting::none)  // weights in edge order: scattered too
        __builtin_prefetch(g.w + row_of(g.weight_index, k + kPrefetch) * g.heads + hid[0], 0, 3);
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
      else if constexpr (WT == Weighting::head_per_vector)
        acc[v] = simd::fma(simd::set1<T>(wrow[hid[v * V]]), xv, acc[v]);
      else if constexpr (WT == Weighting::heads_in_vector) {
        Vec<T> wv = simd::set1<T>(wrow[hid[v * V]]);
        for (int i = 1; i < hl.per_vector; ++i)
          wv = simd::select(hl.from[i], simd::set1<T>(wrow[hid[v * V + i * hl.width]]), wv);
        acc[v] = simd::fma(wv, xv, acc[v]);
      } else acc[v] = simd::fma(simd::gather(wrow, hid + v * V), xv, acc[v]);
    }
  }
  const Vec<T> count = simd::set1<T>(T(kept));
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    Vec<T> o = acc[v];
    if (mean && kept > 1) o = o / count;  // a division, as the reference and PyTorch round it
    if (v < NV - 1 || last == V) simd::store(out + j0 + v * V, o);
    else simd::store_n(out + j0 + v * V, o, last);
  }
}

template <typename T, typename I, Weighting WT>
void sum_segments(const Gathered<T, I>& g, const int64_t* offsets, int64_t s0, int64_t s1, int64_t jb, int64_t je,
                  bool mean, T* out) {
  constexpr int V = Vec<T>::W;
  constexpr int64_t B = kMaxVecs * V;
  const int64_t d = g.d;
  HeadLanes<T> hl;
  const int64_t C = d / (g.heads > 0 ? g.heads : 1);
  hl.width = int(C < V ? C : V);
  hl.per_vector = int(V / hl.width);
  if constexpr (WT == Weighting::heads_in_vector) {
    alignas(64) T lane[V];
    for (int l = 0; l < V; ++l) lane[l] = T(l);
    for (int i = 1; i < hl.per_vector; ++i)
      hl.from[i] = simd::cmp_ge(simd::load(lane), simd::set1<T>(T(i * hl.width)));
  }
  for (int64_t j = 0; j < kMaxVecs * V; ++j) hl.hid[j] = 0;
  for (int64_t j0 = jb; j0 < je; j0 += B) {
    const int64_t cols = je - j0 < B ? je - j0 : B;
    const int nv = int((cols + V - 1) / V), last = int(cols - (nv - 1) * V);
    if constexpr (WT != Weighting::none && WT != Weighting::scalar)
      for (int64_t j = 0; j < nv * V; ++j) {
        const int64_t h = (j0 + j) / C;
        hl.hid[j] = int32_t(h < g.heads ? h : g.heads - 1);  // lanes past d read a real weight, then unused
      }
    for (int64_t s = s0; s < s1; ++s) {
      T* o = out + s * d;
      const int64_t k0 = offsets[s], k1 = offsets[s + 1];
      switch (nv) {
#define FASTNN_SUM_BLOCK(N) \
  case N:                   \
    if constexpr (N <= kMaxVecs) sum_block<T, I, N, WT>(g, k0, k1, j0, last, mean, hl, o); \
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

// Max (or min) of columns [j0, j0 + (NV - 1) * V + last) of a segment, with the row each came from,
// in one pass: a later row replaces the best so far only when strictly better, or NaN where the best
// is not (the plain reference's rule, so ties keep the first row and NaN propagates).
template <typename T, typename I, int NV, bool MAX>
FASTNN_SIMD_INLINE void extreme_block(const Gathered<T, I>& g, int64_t k0, int64_t k1, int64_t j0, int last, T* o,
                                      int64_t* a) {
  constexpr int V = Vec<T>::W;
  const int64_t cols = (NV - 1) * V + last;
  int64_t k = k0;
  while (k < k1 && row_of(g.index, k) == g.skip) ++k;
  if (k == k1) {
    simd::zero_row(o + j0, cols);
    for (int64_t j = 0; j < cols; ++j) a[j0 + j] = -1;
    return;
  }
  Vec<T> m[NV];
  simd::IndexVec<T> arg[NV];
  {
    const int64_t r = row_of(g.index, k);
    const T* x = g.src + r * g.d + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      m[v] = (v < NV - 1 || last == V) ? simd::load(x + v * V) : simd::load_n(x + v * V, last);
      arg[v] = simd::index_set1<T>(r);
    }
  }
  for (++k; k < k1; ++k) {
    if (k + kPrefetch < g.prefetch_end) {
      const int64_t ra = row_of(g.index, k + kPrefetch);
      if (ra != g.skip) prefetch_row(g.src + ra * g.d + j0, cols * (int64_t)sizeof(T));
    }
    const int64_t r = row_of(g.index, k);
    if (r == g.skip) continue;
    const T* x = g.src + r * g.d + j0;
    const simd::IndexVec<T> rv = simd::index_set1<T>(r);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const Vec<T> xv = (v < NV - 1 || last == V) ? simd::load(x + v * V) : simd::load_n(x + v * V, last);
      const auto better = (MAX ? simd::cmp_gt(xv, m[v]) : simd::cmp_lt(xv, m[v])) |
                          (simd::is_nan(xv) & ~simd::is_nan(m[v]));
      m[v] = simd::select(better, xv, m[v]);
      arg[v] = simd::index_select(better, rv, arg[v]);
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    if (v < NV - 1 || last == V) {
      simd::store(o + j0 + v * V, m[v]);
      simd::index_store(a + j0 + v * V, arg[v]);
    } else {
      simd::store_n(o + j0 + v * V, m[v], last);
      alignas(64) int64_t t[V];
      simd::index_store(t, arg[v]);
      for (int l = 0; l < last; ++l) a[j0 + v * V + l] = t[l];
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
    // Half the accumulators of a sum: each column also carries its row index.
    constexpr int NB = kMaxVecs / 2;
    constexpr int64_t B = NB * V;
    for_reduce_work(offsets, segs, d, V, [&](int64_t s0, int64_t s1, int64_t jb, int64_t je) {
      for (int64_t j0 = jb; j0 < je; j0 += B) {
        const int64_t cols = je - j0 < B ? je - j0 : B;
        const int nv = int((cols + V - 1) / V), last = int(cols - (nv - 1) * V);
        for (int64_t s = s0; s < s1; ++s) {
          const int64_t k0 = offsets[s], k1 = offsets[s + 1];
          T* o = out + s * d;
          int64_t* a = argmax + s * d;
          switch (nv) {
#define FASTNN_EXTREME_BLOCK(N)                                                         \
  case N:                                                                               \
    if constexpr (N <= NB) {                                                            \
      if (mode == Mode::max) extreme_block<T, I, N, true>(g, k0, k1, j0, last, o, a);   \
      else extreme_block<T, I, N, false>(g, k0, k1, j0, last, o, a);                    \
    }                                                                                   \
    break;
            FASTNN_EXTREME_BLOCK(1)
            FASTNN_EXTREME_BLOCK(2)
            FASTNN_EXTREME_BLOCK(3)
            FASTNN_EXTREME_BLOCK(4)
#undef FASTNN_EXTREME_BLOCK
          }
        }
      }
    });
    return;
  }
  const bool mean = mode == Mode::mean;
  const int64_t C = heads > 0 ? d / heads : d;
  for_reduce_work(offsets, segs, d, V, [&](int64_t s0, int64_t s1, int64_t jb, int64_t je) {
    if (!w) sum_segments<T, I, Weighting::none>(g, offsets, s0, s1, jb, je, mean, out);
    else if (heads == 1) sum_segments<T, I, Weighting::scalar>(g, offsets, s0, s1, jb, je, mean, out);
    else if (C % V == 0) sum_segments<T, I, Weighting::head_per_vector>(g, offsets, s0, s1, jb, je, mean, out);
    else if (V % C == 0) sum_segments<T, I, Weighting::heads_in_vector>(g, offsets, s0, s1, jb, je, mean, out);
    else sum_segments<T, I, Weighting::head_per_lane>(g, offsets, s0, s1, jb, je, mean, out);
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
        if (k + kPrefetch < end) {
          prefetch_row(src + row_of(index, k + kPrefetch) * d, d * (int64_t)sizeof(T));
          // the output rows are scattered over an (E, heads) table in edge order: fetch them for writing
          __builtin_prefetch(out + row_of(weight_index, k + kPrefetch) * heads, 1, 3);
        }
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
// independent. Rows are processed one by one with vectors of columns (the tail masked), except narrow
// rows (h <= V / 8: one or two attention heads), which would use a lane or two of each vector and touch
// each scattered row several times: their segments are copied, a chunk of positions at a time, into a
// column-major buffer, so each row is read and written once and the exponentials run over whole
// vectors of positions (measured: about as fast as row by row at 4 heads, 1.1-1.3x faster at 1 or 2).
// Segments longer than a chunk keep a running maximum and a rescaled sum.

namespace {

constexpr int64_t kChunk = 256;  // positions per buffered chunk of a narrow segment

// buf[c * kChunk + i] = src[perm[k0 + i] * h + c]
template <typename T, typename I>
FASTNN_SIMD_INLINE void gather_columns(const T* src, const I* perm, int64_t k0, int64_t len, int64_t h, T* buf) {
  for (int64_t i = 0; i < len; ++i) {
    const T* row = src + (int64_t)perm[k0 + i] * h;
    for (int64_t c = 0; c < h; ++c) buf[c * kChunk + i] = row[c];
  }
}
template <typename T, typename I>
FASTNN_SIMD_INLINE void scatter_columns(const T* buf, const I* perm, int64_t k0, int64_t len, int64_t h, T* dst) {
  for (int64_t i = 0; i < len; ++i) {
    T* row = dst + (int64_t)perm[k0 + i] * h;
    for (int64_t c = 0; c < h; ++c) row[c] = buf[c * kChunk + i];
  }
}

// max(m, col[0, len)), NaN propagating.
template <typename T>
T column_max(const T* col, int64_t len, T m) {
  constexpr int V = Vec<T>::W;
  Vec<T> mv = simd::set1<T>(m);
  int64_t i = 0;
  for (; i + V <= len; i += V) {
    const Vec<T> x = simd::load(col + i);
    mv = simd::select(simd::is_nan(x), x, simd::max(x, mv));
  }
  if (simd::any(simd::is_nan(mv))) return NAN;
  T r = simd::reduce_max(mv);
  for (; i < len; ++i) {
    if (col[i] != col[i]) return NAN;
    r = col[i] > r ? col[i] : r;
  }
  return r;
}

// col[i] = exp(col[i] - m) for i < len; returns their sum.
template <typename T>
T column_exp(T* col, int64_t len, T m) {
  constexpr int V = Vec<T>::W;
  const Vec<T> mv = simd::set1<T>(m);
  Vec<T> sum = simd::zero<T>();
  int64_t i = 0;
  for (; i + V <= len; i += V) {
    const Vec<T> y = simd::exp(simd::load(col + i) - mv);
    simd::store(col + i, y);
    sum += y;
  }
  T total = simd::reduce_add(sum);
  if (i < len) {  // the lanes past len hold exp(-m): summed only up to len
    const int n = int(len - i);
    alignas(64) T y[V];
    simd::store(y, simd::exp(simd::load_n(col + i, n) - mv));
    for (int l = 0; l < n; ++l) {
      col[i + l] = y[l];
      total += y[l];
    }
  }
  return total;
}

// col[i] *= s for i < len.
template <typename T>
FASTNN_SIMD_INLINE void column_scale(T* col, int64_t len, T s) {
  constexpr int V = Vec<T>::W;
  const Vec<T> sv = simd::set1<T>(s);
  int64_t i = 0;
  for (; i + V <= len; i += V) simd::store(col + i, simd::load(col + i) * sv);
  if (i < len) simd::store_n(col + i, simd::load_n(col + i, int(len - i)) * sv, int(len - i));
}

// Softmax of the narrow rows (h < V) of one segment [k0, k1).
template <typename T, typename I>
void softmax_narrow(const T* src, const I* perm, int64_t k0, int64_t k1, int64_t h, T* out) {
  constexpr int V = Vec<T>::W;
  alignas(64) T buf[V * kChunk];
  const int64_t len = k1 - k0;
  if (len <= kChunk) {
    gather_columns(src, perm, k0, len, h, buf);
    for (int64_t c = 0; c < h; ++c) {
      T* col = buf + c * kChunk;
      const T m = column_max(col, len, T(-INFINITY));
      column_scale(col, len, T(1) / column_exp(col, len, m));
    }
    scatter_columns(buf, perm, k0, len, h, out);
    return;
  }
  T m[V], sum[V];
  for (int64_t c = 0; c < h; ++c) m[c] = -INFINITY, sum[c] = 0;
  for (int64_t b = k0; b < k1; b += kChunk) {
    const int64_t n = k1 - b < kChunk ? k1 - b : kChunk;
    gather_columns(src, perm, b, n, h, buf);
    for (int64_t c = 0; c < h; ++c) {
      const T cm = column_max(buf + c * kChunk, n, m[c]);
      if (cm == T(-INFINITY)) continue;  // only -inf so far: nothing to add (the final pass gives NaN if all are)
      if (sum[c] != T(0) && cm != m[c]) sum[c] *= std::exp(m[c] - cm);
      m[c] = cm;
      sum[c] += column_exp(buf + c * kChunk, n, cm);
    }
  }
  for (int64_t b = k0; b < k1; b += kChunk) {
    const int64_t n = k1 - b < kChunk ? k1 - b : kChunk;
    gather_columns(src, perm, b, n, h, buf);
    for (int64_t c = 0; c < h; ++c) {
      T* col = buf + c * kChunk;
      column_exp(col, n, m[c]);
      column_scale(col, n, T(1) / sum[c]);
    }
    scatter_columns(buf, perm, b, n, h, out);
  }
}

// The softmax backward of the narrow rows of one segment: dsrc = out * (grad - sum(grad * out)).
template <typename T, typename I>
void softmax_backward_narrow(const T* grad, const T* out, const I* perm, int64_t k0, int64_t k1, int64_t h,
                             T* dsrc) {
  constexpr int V = Vec<T>::W;
  alignas(64) T gb[V * kChunk], ob[V * kChunk];
  T dot[V];
  for (int64_t c = 0; c < h; ++c) dot[c] = 0;
  const int64_t len = k1 - k0;
  for (int64_t b = k0; b < k1; b += kChunk) {
    const int64_t n = k1 - b < kChunk ? k1 - b : kChunk;
    gather_columns(grad, perm, b, n, h, gb);
    gather_columns(out, perm, b, n, h, ob);
    for (int64_t c = 0; c < h; ++c) dot[c] += dot_row(gb + c * kChunk, ob + c * kChunk, n);
  }
  for (int64_t b = k0; b < k1; b += kChunk) {
    const int64_t n = k1 - b < kChunk ? k1 - b : kChunk;
    if (len > kChunk) {  // a short segment's chunk is still in the buffers
      gather_columns(grad, perm, b, n, h, gb);
      gather_columns(out, perm, b, n, h, ob);
    }
    for (int64_t c = 0; c < h; ++c) {
      T* g = gb + c * kChunk;
      const T* o = ob + c * kChunk;
      const Vec<T> dv = simd::set1<T>(dot[c]);
      int64_t i = 0;
      for (; i + V <= n; i += V) simd::store(g + i, simd::load(o + i) * (simd::load(g + i) - dv));
      if (i < n) {
        const int r = int(n - i);
        simd::store_n(g + i, simd::load_n(o + i, r) * (simd::load_n(g + i, r) - dv), r);
      }
    }
    scatter_columns(gb, perm, b, n, h, dsrc);
  }
}

}  // namespace

namespace {


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
      if (h * 8 <= V) {
        softmax_narrow(src, perm, k0, k1, h, out);
        continue;
      }
      for (int64_t j = 0; j < h; j += V) {
        const int n = int(h - j < V ? h - j : V);
        Vec<T> m = simd::set1<T>(-INFINITY);
        for (int64_t k = k0; k < k1; ++k) {
          const Vec<T> x = simd::load_upto(src + (int64_t)perm[k] * h + j, n);
          m = simd::select(simd::is_nan(x), x, simd::max(x, m));
        }
        Vec<T> sum = simd::zero<T>();
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t e = (int64_t)perm[k] * h + j;
          const Vec<T> y = simd::exp(simd::load_upto(src + e, n) - m);
          simd::store_upto(out + e, y, n);
          sum += y;
        }
        const Vec<T> inv = simd::set1<T>(T(1)) / sum;
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t e = (int64_t)perm[k] * h + j;
          simd::store_upto(out + e, simd::load_upto(out + e, n) * inv, n);
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
      if (h * 8 <= V) {
        softmax_backward_narrow(grad, out, perm, k0, k1, h, dsrc);
        continue;
      }
      for (int64_t j = 0; j < h; j += V) {
        const int n = int(h - j < V ? h - j : V);
        Vec<T> dot = simd::zero<T>();
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t e = (int64_t)perm[k] * h + j;
          dot = simd::fma(simd::load_upto(grad + e, n), simd::load_upto(out + e, n), dot);
        }
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t e = (int64_t)perm[k] * h + j;
          simd::store_upto(dsrc + e, simd::load_upto(out + e, n) * (simd::load_upto(grad + e, n) - dot), n);
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
