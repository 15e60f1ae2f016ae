// The segment-reduction kernels on the SIMD layer, compiled once per CPU path (contract: segment.h).
// Rows are the unit of work: each is d contiguous elements read or written with whole vectors and
// one masked tail. Parallel loops split the outputs (positions, segments, unique rows or column
// blocks) among threads, so no two threads write one element and results do not depend on the
// thread count.
#include <cmath>

#include "core/simd/rows.h"
#include "core/simd/simd.h"
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

// Column-wise maximum of dst and src; where src wins (strictly greater, or NaN where dst is not),
// arg[j] = row. NaN propagates as in PyTorch.
template <typename T>
FASTNN_SIMD_INLINE void max_row(const T* src, T* dst, int64_t* arg, int64_t row, int64_t d) {
  for (int64_t j = 0; j < d; ++j) {
    const T x = src[j], y = dst[j];
    if (x > y || (x != x && y == y)) {
      dst[j] = x;
      arg[j] = row;
    }
  }
}

}  // namespace

template <typename T, typename I>
void gather_rows(int64_t n, int64_t d, const T* src, const I* index, T* out) {
  const int threads = threads_for(n * d);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) simd::copy_row(src + (int64_t)index[i] * d, out + i * d, d);
}

template <typename T, typename I>
void segment_reduce(int64_t segs, int64_t d, const T* src, const I* index, const int64_t* offsets, const T* w,
                    Mode mode, int64_t skip, T* out, int64_t* argmax) {
  const int64_t work = (offsets[segs] - offsets[0] + segs) * d;
  const int threads = threads_for(work);
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
  for (int64_t s = 0; s < segs; ++s) {
    T* o = out + s * d;
    int64_t* a = argmax ? argmax + s * d : nullptr;
    int64_t kept = 0;
    if (mode == Mode::max) {
      for (int64_t j = 0; j < d; ++j) a[j] = -1;
      for (int64_t k = offsets[s]; k < offsets[s + 1]; ++k) {
        const int64_t r = (int64_t)index[k];
        if (r == skip) continue;
        if (kept++ == 0) {
          simd::copy_row(src + r * d, o, d);
          for (int64_t j = 0; j < d; ++j) a[j] = r;
        } else {
          max_row(src + r * d, o, a, r, d);
        }
      }
      if (kept == 0) simd::zero_row(o, d);
      continue;
    }
    simd::zero_row(o, d);
    for (int64_t k = offsets[s]; k < offsets[s + 1]; ++k) {
      const int64_t r = (int64_t)index[k];
      if (r == skip) continue;
      ++kept;
      if (w) axpy_row(w[k], src + r * d, o, d);
      else simd::add_row(src + r * d, o, d);
    }
    if (mode == Mode::mean && kept > 1) divide_row(T(kept), o, d);
  }
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
  template void segment_reduce<T, I>(int64_t, int64_t, const T*, const I*, const int64_t*, const T*, Mode, int64_t, \
                                     T*, int64_t*);
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
