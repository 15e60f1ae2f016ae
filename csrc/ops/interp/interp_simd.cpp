// Nearest and bilinear resampling on the SIMD layer (see interp_kernels.h). Vectors run along
// the output columns. Bilinear work is split by axis: each input row is interpolated along W
// once (a gather, scalar) into a two-row cache, and the output rows blend two cached rows with
// whole vectors; the backward runs the same way in reverse, accumulating h-weighted gradient
// rows before one horizontal scatter per input row.
#include <omp.h>

#include "core/simd/permute.h"
#include "core/simd/rows.h"
#include "ops/interp/interp_kernels.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace interp {

using namespace simd;
using ::fastnn::interp::Columns;
using ::fastnn::interp::LinearAxis;

namespace {

// dst[2j] = dst[2j + 1] = src[j] for j < n.
template <typename T>
void dup_row(const T* src, T* dst, int64_t n) {
  constexpr int V = Vec<T>::W;
  int64_t j = 0;
  for (; j + V <= n; j += V) {
    store_dup(dst + 2 * j, load(src + j));
  }
  for (; j < n; ++j) dst[2 * j] = dst[2 * j + 1] = src[j];
}

// dst[j] = (dst[j] + src[2j]) + src[2j + 1] for j < n: the adjoint of dup_row, in the order of
// the scalar scatter.
template <typename T>
void add_pairs(const T* src, T* dst, int64_t n) {
  constexpr int V = Vec<T>::W;
  int64_t j = 0;
  for (; j + V <= n; j += V) {
    Vec<T> even, odd;
    deinterleave(src + 2 * j, even, odd);
    store(dst + j, (load(dst + j) + even) + odd);
  }
  for (; j < n; ++j) dst[j] = (dst[j] + src[2 * j]) + src[2 * j + 1];
}

// dst[j] = a * x[j] + b * y[j] for j < n.
template <typename T>
void blend_rows(T a, const T* x, T b, const T* y, T* dst, int64_t n) {
  constexpr int V = Vec<T>::W;
  const Vec<T> va = set1<T>(a), vb = set1<T>(b);
  int64_t j = 0;
  for (; j + V <= n; j += V) store(dst + j, va * load(x + j) + vb * load(y + j));
  if (j < n) store_n(dst + j, va * load_n(x + j, int(n - j)) + vb * load_n(y + j, int(n - j)), int(n - j));
}

// dst[j] += a * x[j] for j < n.
template <typename T>
void axpy_row(T a, const T* x, T* dst, int64_t n) {
  constexpr int V = Vec<T>::W;
  const Vec<T> va = set1<T>(a);
  int64_t j = 0;
  for (; j + V <= n; j += V) store(dst + j, fma(va, load(x + j), load(dst + j)));
  if (j < n) store_n(dst + j, fma(va, load_n(x + j, int(n - j)), load_n(dst + j, int(n - j))), int(n - j));
}

// Two rows of OW elements standing for input rows row[0], row[1] (-1: none yet).
template <typename T>
struct RowCache {
  T* buf;
  int64_t OW;
  int64_t row[2] = {-1, -1};
  T* slot(int k) { return buf + k * OW; }
  // The slot to reuse for a new row: not the one holding `keep`, still needed.
  int victim(int64_t keep) const { return row[0] == keep ? 1 : 0; }
};

}  // namespace

template <typename T>
void nearest_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const int64_t* th, const int64_t* tw,
                     Columns cols, const T* x, T* y, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t r = 0; r < P * OH; ++r) {
    const T* src = x + (r / OH) * H * W + th[r % OH] * W;
    T* dst = y + r * OW;
    if (cols == Columns::same) copy_row(src, dst, OW);
    else if (cols == Columns::twice) dup_row(src, dst, W);
    else
      for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = src[tw[ow]];
  }
}

template <typename T>
void nearest_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, const int64_t* th, const int64_t* tw,
                      Columns cols, const T* dy, T* dx, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t p = 0; p < P; ++p) {
    T* d = dx + p * H * W;
    zero_row(d, H * W);
    for (int64_t oh = 0; oh < OH; ++oh) {
      const T* g = dy + (p * OH + oh) * OW;
      T* row = d + th[oh] * W;
      if (cols == Columns::same) add_row(g, row, W);
      else if (cols == Columns::twice) add_pairs(g, row, W);
      else
        for (int64_t ow = 0; ow < OW; ++ow) row[tw[ow]] += g[ow];
    }
  }
}

template <typename T>
void bilinear_forward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, LinearAxis<T> th, LinearAxis<T> tw,
                      const T* x, T* y, T* scratch, int threads) {
  // Blocks of output rows, so that a few planes still spread over the threads; each block starts
  // with an empty cache.
  constexpr int64_t kRows = 32;
  const int64_t blocks = (OH + kRows - 1) / kRows;
#pragma omp parallel num_threads(threads)
  {
    T* buf = scratch + omp_get_thread_num() * 2 * OW;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < P * blocks; ++task) {
      const int64_t p = task / blocks, oh0 = (task % blocks) * kRows;
      const int64_t oh1 = oh0 + kRows < OH ? oh0 + kRows : OH;
      const T* xp = x + p * H * W;
      RowCache<T> cache{buf, OW};
      // Input row i interpolated along W, kept unless it is `keep`'s slot that must stay.
      auto row = [&](int64_t i, int64_t keep) -> const T* {
        if (cache.row[0] == i) return cache.slot(0);
        if (cache.row[1] == i) return cache.slot(1);
        const int k = cache.victim(keep);
        T* out = cache.slot(k);
        const T* src = xp + i * W;
        for (int64_t ow = 0; ow < OW; ++ow) out[ow] = tw.w0[ow] * src[tw.i0[ow]] + tw.w1[ow] * src[tw.i1[ow]];
        cache.row[k] = i;
        return out;
      };
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        const T* r0 = row(th.i0[oh], th.i1[oh]);
        const T* r1 = row(th.i1[oh], th.i0[oh]);
        blend_rows(th.w0[oh], r0, th.w1[oh], r1, y + (p * OH + oh) * OW, OW);
      }
    }
  }
}

template <typename T>
void bilinear_backward(int64_t P, int64_t H, int64_t W, int64_t OH, int64_t OW, LinearAxis<T> th, LinearAxis<T> tw,
                       const T* dy, T* dx, T* scratch, int threads) {
#pragma omp parallel num_threads(threads)
  {
    T* buf = scratch + omp_get_thread_num() * 2 * OW;
#pragma omp for schedule(static)
    for (int64_t p = 0; p < P; ++p) {
      T* d = dx + p * H * W;
      zero_row(d, H * W);
      RowCache<T> acc{buf, OW};
      // Adds a slot's sums into its input row: the adjoint of the interpolation along W.
      auto flush = [&](int k) {
        if (acc.row[k] < 0) return;
        T* drow = d + acc.row[k] * W;
        const T* a = acc.slot(k);
        for (int64_t ow = 0; ow < OW; ++ow) {
          drow[tw.i0[ow]] += tw.w0[ow] * a[ow];
          drow[tw.i1[ow]] += tw.w1[ow] * a[ow];
        }
        acc.row[k] = -1;
      };
      // The accumulator of input row i; flushing another is always right (a row that comes back
      // later starts from zero and is added again), and with rows in order it happens once per row.
      auto row = [&](int64_t i, int64_t keep) -> T* {
        if (acc.row[0] == i) return acc.slot(0);
        if (acc.row[1] == i) return acc.slot(1);
        const int k = acc.victim(keep);
        flush(k);
        zero_row(acc.slot(k), OW);
        acc.row[k] = i;
        return acc.slot(k);
      };
      for (int64_t oh = 0; oh < OH; ++oh) {
        const T* g = dy + (p * OH + oh) * OW;
        axpy_row(th.w0[oh], g, row(th.i0[oh], th.i1[oh]), OW);
        axpy_row(th.w1[oh], g, row(th.i1[oh], th.i0[oh]), OW);
      }
      flush(0);
      flush(1);
    }
  }
}

#define FASTNN_INTERP_INSTANTIATE(T)                                                                              \
  template void nearest_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const int64_t*, const int64_t*, \
                                   Columns, const T*, T*, int);                                                  \
  template void nearest_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const int64_t*, const int64_t*, \
                                    Columns, const T*, T*, int);                                                 \
  template void bilinear_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, LinearAxis<T>, LinearAxis<T>,   \
                                    const T*, T*, T*, int);                                                      \
  template void bilinear_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, LinearAxis<T>, LinearAxis<T>,  \
                                     const T*, T*, T*, int);
FASTNN_INTERP_INSTANTIATE(float)
FASTNN_INTERP_INSTANTIATE(double)
#undef FASTNN_INTERP_INSTANTIATE

}  // namespace interp
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
