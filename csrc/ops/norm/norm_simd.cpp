// The normalisation kernels on the SIMD layer, compiled once per CPU path (contract: norm.h).
// A row is the unit of work: its statistics are sums over C contiguous elements kept in four vector
// accumulators, then one more pass writes the row. Threads take whole rows (forward) or whole
// blocks of rows (backward, each with its own partial sums of dweight / dbias, added afterwards in
// block order), so the results do not depend on the thread count.
#include <cmath>

#include "core/simd/rows.h"
#include "core/simd/simd.h"
#include "core/simd/simd_math.h"
#include "core/threads.h"
#include "ops/norm/cpu.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace norm {
namespace {

using simd::Vec;


// f(j, n) over the row [0, C) in vectors: n = W, then one tail with n < W.
template <typename T, typename F>
FASTNN_SIMD_INLINE void each_vec(int64_t C, F&& f) {
  constexpr int V = Vec<T>::W;
  int64_t j = 0;
  for (; j + V <= C; j += V) f(j, V);
  if (j < C) f(j, int(C - j));
}

// sum_j (x[j] - mu)^2, or sum_j x[j] when `square` is false (mu unused): four accumulators, so the
// additions are not one dependency chain.
template <typename T, bool square>
FASTNN_SIMD_INLINE T row_sum(const T* x, int64_t C, T mu) {
  constexpr int V = Vec<T>::W;
  const Vec<T> m = simd::set1<T>(mu);
  Vec<T> a0 = simd::zero<T>(), a1 = a0, a2 = a0, a3 = a0;
  auto term = [&](Vec<T> v) {
    if constexpr (square) {
      const Vec<T> d = v - m;
      return d * d;
    } else {
      return v;
    }
  };
  int64_t j = 0;
  for (; j + 4 * V <= C; j += 4 * V) {
    a0 += term(simd::load(x + j));
    a1 += term(simd::load(x + j + V));
    a2 += term(simd::load(x + j + 2 * V));
    a3 += term(simd::load(x + j + 3 * V));
  }
  for (; j + V <= C; j += V) a0 += term(simd::load(x + j));
  T tail = T(0);  // scalar: a masked load would add (0 - mu)^2 in the unused lanes
  for (; j < C; ++j) tail += square ? (x[j] - mu) * (x[j] - mu) : x[j];
  return simd::reduce_add((a0 + a1) + (a2 + a3)) + tail;
}

template <typename T>
void forward_rows(bool centered, int64_t r0, int64_t r1, int64_t C, const T* x, const T* w, const T* b, T eps, T* y,
                  T* mean, T* rstd) {
  const T inv_c = C > 0 ? T(1) / T(C) : T(0);
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
    const T mu = centered ? row_sum<T, false>(xr, C, T(0)) * inv_c : T(0);
    const T ss = row_sum<T, true>(xr, C, mu);
    const T rs = T(1) / std::sqrt(ss * inv_c + eps);
    if (mean) mean[r] = mu;
    rstd[r] = rs;
    const Vec<T> m = simd::set1<T>(mu), s = simd::set1<T>(rs);
    using simd::load_upto;
    using simd::store_upto;
    if (w && b)
      each_vec<T>(C, [&](int64_t j, int n) {
        store_upto(yr + j, simd::fma((load_upto(xr + j, n) - m) * s, load_upto(w + j, n), load_upto(b + j, n)), n);
      });
    else if (w)
      each_vec<T>(C, [&](int64_t j, int n) {
        store_upto(yr + j, (load_upto(xr + j, n) - m) * s * load_upto(w + j, n), n);
      });
    else if (b)
      each_vec<T>(C, [&](int64_t j, int n) {
        store_upto(yr + j, (load_upto(xr + j, n) - m) * s + load_upto(b + j, n), n);
      });
    else
      each_vec<T>(C, [&](int64_t j, int n) { store_upto(yr + j, (load_upto(xr + j, n) - m) * s, n); });
  }
}

// One block of rows of the backward: dx for each row, and the block's partial sums pw / pb.
template <typename T>
void backward_rows(bool centered, int64_t r0, int64_t r1, int64_t C, const T* dy, const T* x, const T* mean,
                   const T* rstd, const T* w, T* dx, T* pw, T* pb) {
  const T inv_c = C > 0 ? T(1) / T(C) : T(0);
  if (pw)
    for (int64_t j = 0; j < C; ++j) pw[j] = T(0);
  if (pb)
    for (int64_t j = 0; j < C; ++j) pb[j] = T(0);
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * C;
    const T* gr = dy + r * C;
    const Vec<T> m = simd::set1<T>(centered ? mean[r] : T(0)), s = simd::set1<T>(rstd[r]);
    Vec<T> sg = simd::zero<T>(), sgx = sg;
    each_vec<T>(C, [&](int64_t j, int n) {
      const Vec<T> d = simd::load_upto(gr + j, n);
      const Vec<T> xh = (simd::load_upto(xr + j, n) - m) * s;  // zero lanes past the tail: d is zero there
      const Vec<T> g = w ? d * simd::load_upto(w + j, n) : d;
      sg += g;
      sgx = simd::fma(g, xh, sgx);
      if (pw) simd::store_upto(pw + j, simd::fma(d, xh, simd::load_upto(pw + j, n)), n);
      if (pb) simd::store_upto(pb + j, simd::load_upto(pb + j, n) + d, n);
    });
    if (!dx) continue;
    const Vec<T> mg = simd::set1<T>(centered ? simd::reduce_add(sg) * inv_c : T(0));
    const Vec<T> mgx = simd::set1<T>(simd::reduce_add(sgx) * inv_c);
    T* dr = dx + r * C;
    each_vec<T>(C, [&](int64_t j, int n) {
      const Vec<T> d = simd::load_upto(gr + j, n);
      const Vec<T> xh = (simd::load_upto(xr + j, n) - m) * s;
      const Vec<T> g = w ? d * simd::load_upto(w + j, n) : d;
      simd::store_upto(dr + j, s * (g - mg - xh * mgx), n);
    });
  }
}

// Batch normalisation: one channel at a time, its N rows of S contiguous values each.
template <typename T>
void batch_forward_channel(int64_t N, int64_t C, int64_t S, int64_t c, const T* x, const T* w, const T* b, T eps,
                           T* y, T* mean, T* var, T* rstd) {
  const int64_t M = N * S;
  T sum = T(0);
  for (int64_t n = 0; n < N; ++n) sum += row_sum<T, false>(x + (n * C + c) * S, S, T(0));
  const T mu = M > 0 ? sum / T(M) : T(0);
  T ss = T(0);
  for (int64_t n = 0; n < N; ++n) ss += row_sum<T, true>(x + (n * C + c) * S, S, mu);
  const T v = M > 0 ? ss / T(M) : T(0);
  const T rs = T(1) / std::sqrt(v + eps);
  mean[c] = mu;
  var[c] = v;
  rstd[c] = rs;
  const Vec<T> m = simd::set1<T>(mu), sv = simd::set1<T>(rs), wv = simd::set1<T>(w ? w[c] : T(1)),
               bv = simd::set1<T>(b ? b[c] : T(0));
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + (n * C + c) * S;
    T* yr = y + (n * C + c) * S;
    each_vec<T>(S, [&](int64_t j, int k) {
      simd::store_upto(yr + j, simd::fma((simd::load_upto(xr + j, k) - m) * sv, wv, bv), k);
    });
  }
}

template <typename T>
void batch_backward_channel(int64_t N, int64_t C, int64_t S, int64_t c, const T* dy, const T* x, const T* mean,
                            const T* rstd, const T* w, T* dx, T* dw, T* db) {
  const int64_t M = N * S;
  const Vec<T> m = simd::set1<T>(mean[c]), sv = simd::set1<T>(rstd[c]);
  T sg = T(0), sgx = T(0);
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + (n * C + c) * S;
    const T* gr = dy + (n * C + c) * S;
    Vec<T> ag = simd::zero<T>(), agx = ag;
    each_vec<T>(S, [&](int64_t j, int k) {
      const Vec<T> d = simd::load_upto(gr + j, k);  // zero lanes past the tail
      ag += d;
      agx = simd::fma(d, (simd::load_upto(xr + j, k) - m) * sv, agx);
    });
    sg += simd::reduce_add(ag);
    sgx += simd::reduce_add(agx);
  }
  dw[c] = sgx;
  db[c] = sg;
  if (!dx || M == 0) return;
  const Vec<T> k = simd::set1<T>(w ? rstd[c] * w[c] : rstd[c]), mg = simd::set1<T>(sg / T(M)),
               mgx = simd::set1<T>(sgx / T(M));
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + (n * C + c) * S;
    const T* gr = dy + (n * C + c) * S;
    T* dr = dx + (n * C + c) * S;
    each_vec<T>(S, [&](int64_t j, int q) {
      const Vec<T> xh = (simd::load_upto(xr + j, q) - m) * sv;
      simd::store_upto(dr + j, k * (simd::load_upto(gr + j, q) - mg - xh * mgx), q);
    });
  }
}

// Group normalisation: one (n, g) row of D = K * S contiguous values, its K channels of S values each.
template <typename T>
void group_forward_row(int64_t K, int64_t S, int64_t c0, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                       T* rstd, bool silu) {
  const int64_t D = K * S;
  const T inv_d = D > 0 ? T(1) / T(D) : T(0);
  const T mu = row_sum<T, false>(x, D, T(0)) * inv_d;
  const T rs = T(1) / std::sqrt(row_sum<T, true>(x, D, mu) * inv_d + eps);
  *mean = mu;
  *rstd = rs;
  const Vec<T> m = simd::set1<T>(mu);
  for (int64_t k = 0; k < K; ++k) {
    const int64_t c = c0 + k;
    const Vec<T> a = simd::set1<T>(w ? rs * w[c] : rs), bb = simd::set1<T>(b ? b[c] : T(0));
    const T* xc = x + k * S;
    T* yc = y + k * S;
    if (silu)
      each_vec<T>(S, [&](int64_t j, int n) {
        simd::store_upto(yc + j, simd::silu(simd::fma(simd::load_upto(xc + j, n) - m, a, bb)), n);
      });
    else
      each_vec<T>(S, [&](int64_t j, int n) {
        simd::store_upto(yc + j, simd::fma(simd::load_upto(xc + j, n) - m, a, bb), n);
      });
  }
}

// One (n, g) row of the backward: the per-channel sums pw / pb (K each) and, when wanted, dx. With silu, dy is
// first turned into the gradient at the normalisation's output (v recomputed as the forward computed it), kept
// in dx for the second pass when dx is wanted.
template <typename T>
void group_backward_row(int64_t K, int64_t S, int64_t c0, const T* dy, const T* x, T mu, T rs, const T* w,
                        const T* b, bool silu, T* dx, T* pw, T* pb) {
  const Vec<T> m = simd::set1<T>(mu), s = simd::set1<T>(rs);
  T sg = T(0), sgx = T(0);
  for (int64_t k = 0; k < K; ++k) {
    const T* gc = dy + k * S;
    const T* xc = x + k * S;
    Vec<T> ab = simd::zero<T>(), aw = ab;
    if (silu) {
      const int64_t c = c0 + k;
      const Vec<T> a = simd::set1<T>(w ? rs * w[c] : rs), bb = simd::set1<T>(b ? b[c] : T(0));
      T* keep = dx ? dx + k * S : nullptr;
      each_vec<T>(S, [&](int64_t j, int n) {
        const Vec<T> xm = simd::load_upto(xc + j, n) - m;
        const Vec<T> d = simd::silu_grad(simd::load_upto(gc + j, n), simd::fma(xm, a, bb));
        if (keep) simd::store_upto(keep + j, d, n);
        ab += d;
        aw = simd::fma(d, xm * s, aw);
      });
    } else {
      each_vec<T>(S, [&](int64_t j, int n) {
        const Vec<T> d = simd::load_upto(gc + j, n);  // zero lanes past the tail
        ab += d;
        aw = simd::fma(d, (simd::load_upto(xc + j, n) - m) * s, aw);
      });
    }
    const T tb = simd::reduce_add(ab), tw = simd::reduce_add(aw);
    pb[k] = tb;
    pw[k] = tw;
    const T wc = w ? w[c0 + k] : T(1);
    sg += wc * tb;
    sgx += wc * tw;
  }
  if (!dx) return;
  const int64_t D = K * S;
  const Vec<T> mg = simd::set1<T>(D > 0 ? sg / T(D) : T(0)), mgx = simd::set1<T>(D > 0 ? sgx / T(D) : T(0));
  for (int64_t k = 0; k < K; ++k) {
    const Vec<T> wc = simd::set1<T>(w ? w[c0 + k] : T(1));
    T* dc = dx + k * S;
    const T* gc = silu ? dc : dy + k * S;  // with silu the first pass left g in dx
    const T* xc = x + k * S;
    each_vec<T>(S, [&](int64_t j, int n) {
      const Vec<T> xh = (simd::load_upto(xc + j, n) - m) * s;
      simd::store_upto(dc + j, s * (simd::load_upto(gc + j, n) * wc - mg - xh * mgx), n);
    });
  }
}

// out[j] = sum over k of part[k * C + j], added in k order (results independent of the thread count that made
// the partials), for the weight and the bias gradients (either may be absent).
template <typename T>
void sum_partials_in_order(int64_t parts_count, int64_t C, const T* pw, const T* pb, T* dw, T* db) {
  T* outs[2] = {dw, db};
  const T* parts[2] = {pw, pb};
  for (int o = 0; o < 2; ++o) {
    if (!outs[o]) continue;
    T* out = outs[o];
    const T* p = parts[o];
    each_vec<T>(C, [&](int64_t j, int n) {
      Vec<T> acc = simd::zero<T>();
      for (int64_t k = 0; k < parts_count; ++k) acc += simd::load_upto(p + k * C + j, n);
      simd::store_upto(out + j, acc, n);
    });
  }
}

}  // namespace

template <typename T>
void group_norm_forward(int64_t N, int64_t C, int64_t S, int64_t G, const T* x, const T* w, const T* b, T eps, T* y,
                        T* mean, T* rstd, bool silu) {
  const int64_t K = C / G, D = K * S, rows = N * G;
  const int threads = threads_for(rows * D * (silu ? 12 : 4));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t r = 0; r < rows; ++r)
    group_forward_row(K, S, (r % G) * K, x + r * D, w, b, eps, y + r * D, mean + r, rstd + r, silu);
}

template <typename T>
void group_norm_backward(int64_t N, int64_t C, int64_t S, int64_t G, const T* dy, const T* x, const T* mean,
                         const T* rstd, const T* w, const T* b, bool silu, T* dx, T* dw, T* db, T* partial) {
  const int64_t K = C / G, D = K * S, rows = N * G;
  T* pw = partial;
  T* pb = partial + N * C;
  const int threads = threads_for(rows * D * (silu ? 14 : 6));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t r = 0; r < rows; ++r)
    group_backward_row(K, S, (r % G) * K, dy + r * D, x + r * D, mean[r], rstd[r], w, b, silu,
                       dx ? dx + r * D : nullptr, pw + r * K, pb + r * K);
  // the samples' sums, added in sample order for every channel
  sum_partials_in_order(N, C, pw, pb, dw, db);
}

template <typename T>
void batch_norm_forward(int64_t N, int64_t C, int64_t S, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                        T* var, T* rstd) {
  const int threads = C > 1 ? threads_for(N * C * S * 4) : 1;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t c = 0; c < C; ++c) batch_forward_channel(N, C, S, c, x, w, b, eps, y, mean, var, rstd);
}

template <typename T>
void batch_norm_backward(int64_t N, int64_t C, int64_t S, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* w, T* dx, T* dw, T* db) {
  const int threads = C > 1 ? threads_for(N * C * S * 6) : 1;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t c = 0; c < C; ++c) batch_backward_channel(N, C, S, c, dy, x, mean, rstd, w, dx, dw, db);
}

template <typename T>
void norm_forward(bool centered, int64_t rows, int64_t C, const T* x, const T* w, const T* b, T eps, T* y, T* mean,
                  T* rstd) {
  const int threads = threads_for(rows * C * 4);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t r = 0; r < rows; ++r) forward_rows(centered, r, r + 1, C, x, w, b, eps, y, mean, rstd);
}

template <typename T>
void norm_backward(bool centered, int64_t rows, int64_t C, const T* dy, const T* x, const T* mean, const T* rstd,
                   const T* w, T* dx, T* dw, T* db, T* partial) {
  const int64_t br = fastnn::norm::block_rows(rows), nb = fastnn::norm::block_count(rows);
  T* pw = dw ? partial : nullptr;
  T* pb = db ? partial + nb * C : nullptr;
  const int threads = threads_for(rows * C * 6);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t k = 0; k < nb; ++k) {
    const int64_t r1 = (k + 1) * br < rows ? (k + 1) * br : rows;
    backward_rows(centered, k * br, r1, C, dy, x, mean, rstd, w, dx, pw ? pw + k * C : nullptr,
                  pb ? pb + k * C : nullptr);
  }
  // the blocks' partial sums, added in block order for every column
  sum_partials_in_order(nb, C, pw, pb, dw, db);
}

#define FASTNN_NORM_SIMD(T)                                                                                     \
  template void norm_forward<T>(bool, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, T*);            \
  template void norm_backward<T>(bool, int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                 T*, T*);                                                                        \
  template void batch_norm_forward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, T*, T*); \
  template void batch_norm_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, \
                                       T*, T*, T*);                                                              \
  template void group_norm_forward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, \
                                      T*, bool);                                                                 \
  template void group_norm_backward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*, const T*,          \
                                       const T*, const T*, const T*, bool, T*, T*, T*, T*);
FASTNN_NORM_SIMD(float)
FASTNN_NORM_SIMD(double)
#undef FASTNN_NORM_SIMD

}  // namespace norm
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
