// The flash-attention kernels on the SIMD layer, compiled once per CPU path (contract: attention.h).
//
// Forward: a tile of BQ query rows against tiles of BK keys with an online softmax (running max m
// and sum l per row; the output rows, accumulated in place in `out`, are rescaled by exp(m_old -
// m_new) when the max grows). Two register-tiled micro-kernels do the products:
//   nt  C = A . Bp^T, A rows read in place (q or dout rows, any row stride), Bp a key/value head
//       packed once into strips of NR keys, k-major (D x NR): the scores S = Q K^T and dP = dO V^T;
//   nn  C += A . B, A addressed through two strides (so P and P^T alike), B rows read in place (v,
//       k, q or dout rows, unit stride on the row): P V, dS K, P^T dO, dS^T Q.
// Each key/value head is packed once per thread and reused by all its query tiles (and the G query
// heads of a grouped-query group), so packing costs O(L D) against O(L^2 D) of products.
// Causal masking never visits a tile wholly above the diagonal; the element mask is applied in the
// tiles it cuts. Memory: per thread, the packed head (O(Lk D)) and tiles of BQ x BK scores: no
// Lq x Lk buffer anywhere.
//
// Backward: the scores are recomputed from the saved lse (P = exp(S - lse)), dropout's mask is drawn
// again from (key, offset). The unit of work is a key tile of one key/value head: it owns its rows of
// dK and dV, visits the query tiles below the diagonal of the G query heads that read it, and adds
// into dQ. When there are at least as many key/value heads as threads, threads take whole heads and
// add dQ in place (no recomputation, no reduction: each product of the five is done once). With
// fewer heads than threads, key tiles of one head are split among threads, each adding into its own
// dQ buffer, summed at the end; this keeps every thread busy for a single long sequence at the cost
// of one extra pass over dQ, instead of the second score recomputation a separate dQ pass needs.
// Work is split into contiguous ranges of equal cost (tiles visited), so causal work is balanced.
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/simd/simd.h"
#include "core/simd/simd_math.h"
#include "core/threads.h"
#include "ops/attention/cpu.h"
#include "ops/attention/dropout.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace attention {
namespace {

using simd::Vec;
using ::fastnn::attention::kept_run;
using ::fastnn::attention::MaskKind;

// Register tiles: MR rows x NV vectors of accumulators, plus NV loaded vectors and one broadcast.
//   avx512 (32 registers): 6 x 4 = 24 + 4 + 1;  avx2 (16): 6 x 2 = 12 + 2 + 1;  portable: 4 x 2.
template <typename T>
struct Tile {
#if defined(FASTNN_ISA_AVX512)
  static constexpr int MR = 6, NV = 4;
#elif defined(FASTNN_ISA_AVX2)
  static constexpr int MR = 6, NV = 2;
#else
  static constexpr int MR = 4, NV = 2;
#endif
  static constexpr int W = Vec<T>::W, NR = NV * W;
  // Query rows and keys of a tile. A BQ x BK score tile and the rows of V it reads stay in L1/L2.
  static constexpr int BQ = 48;
  static constexpr int BK = NR * (sizeof(T) == 4 ? 2 : 2);
};

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------- micro-kernels

// C[r][0:NR] = sum_k A[r * lda + k] * Bp[k * NR + 0:NR] for r < R.
template <typename T, int R>
void nt_tile(int64_t K, const T* __restrict A, int64_t lda, const T* __restrict Bp, T* __restrict C, int64_t ldc) {
  using V = Vec<T>;
  constexpr int NV = Tile<T>::NV, W = V::W, NR = Tile<T>::NR;
  V c[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[r][v] = simd::zero<T>();
#pragma GCC unroll 2
  for (int64_t k = 0; k < K; ++k) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = simd::load(Bp + k * NR + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V a = simd::set1<T>(A[r * lda + k]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) c[r][v] = simd::fma(a, b[v], c[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) simd::store(C + r * ldc + v * W, c[r][v]);
}

// C[r][0:n] += sum_k A[r * ars + k * aks] * B[k * ldb + 0:n] for r < R, n = (NVU - 1) W + tail
// (tail = W when FULL).
template <typename T, int R, int NVU, bool FULL>
void nn_tile(int64_t K, const T* __restrict A, int64_t ars, int64_t aks, const T* __restrict B, int64_t ldb,
             T* __restrict C, int64_t ldc, int tail) {
  using V = Vec<T>;
  constexpr int W = V::W;
  V c[R][NVU];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NVU - 1; ++v) c[r][v] = simd::load(C + r * ldc + v * W);
    c[r][NVU - 1] = FULL ? simd::load(C + r * ldc + (NVU - 1) * W) : simd::load_n(C + r * ldc + (NVU - 1) * W, tail);
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < K; ++k) {
    const T* b_row = B + k * ldb;
    V b[NVU];
#pragma GCC unroll 4
    for (int v = 0; v < NVU - 1; ++v) b[v] = simd::load(b_row + v * W);
    b[NVU - 1] = FULL ? simd::load(b_row + (NVU - 1) * W) : simd::load_n(b_row + (NVU - 1) * W, tail);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V a = simd::set1<T>(A[r * ars + k * aks]);
#pragma GCC unroll 4
      for (int v = 0; v < NVU; ++v) c[r][v] = simd::fma(a, b[v], c[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NVU - 1; ++v) simd::store(C + r * ldc + v * W, c[r][v]);
    if (FULL) simd::store(C + r * ldc + (NVU - 1) * W, c[r][NVU - 1]);
    else simd::store_n(C + r * ldc + (NVU - 1) * W, c[r][NVU - 1], tail);
  }
}

// The micro-kernel for r (1..MR) rows.
template <typename T, int R = Tile<T>::MR>
void nt_rows(int r, int64_t K, const T* A, int64_t lda, const T* Bp, T* C, int64_t ldc) {
  if constexpr (R > 1) {
    if (r < R) return nt_rows<T, R - 1>(r, K, A, lda, Bp, C, ldc);
  }
  nt_tile<T, R>(K, A, lda, Bp, C, ldc);
}
template <typename T, int NVU, bool FULL, int R = Tile<T>::MR>
void nn_rows(int r, int64_t K, const T* A, int64_t ars, int64_t aks, const T* B, int64_t ldb, T* C, int64_t ldc,
             int tail) {
  if constexpr (R > 1) {
    if (r < R) return nn_rows<T, NVU, FULL, R - 1>(r, K, A, ars, aks, B, ldb, C, ldc, tail);
  }
  nn_tile<T, R, NVU, FULL>(K, A, ars, aks, B, ldb, C, ldc, tail);
}

// Rows [0, M) of one column chunk of NVU vectors.
template <typename T, int NVU, bool FULL>
void nn_chunk(int64_t M, int64_t K, const T* A, int64_t ars, int64_t aks, const T* B, int64_t ldb, T* C,
              int64_t ldc, int tail) {
  constexpr int MR = Tile<T>::MR;
  int64_t r = 0;
  for (; r + MR <= M; r += MR) nn_tile<T, MR, NVU, FULL>(K, A + r * ars, ars, aks, B, ldb, C + r * ldc, ldc, tail);
  if (r < M) nn_rows<T, NVU, FULL>(int(M - r), K, A + r * ars, ars, aks, B, ldb, C + r * ldc, ldc, tail);
}

template <typename T, int NVU = Tile<T>::NV>
void nn_chunk_of(int nvu, bool full, int64_t M, int64_t K, const T* A, int64_t ars, int64_t aks, const T* B,
                 int64_t ldb, T* C, int64_t ldc, int tail) {
  if constexpr (NVU > 1) {
    if (nvu < NVU) return nn_chunk_of<T, NVU - 1>(nvu, full, M, K, A, ars, aks, B, ldb, C, ldc, tail);
  }
  if (full) nn_chunk<T, NVU, true>(M, K, A, ars, aks, B, ldb, C, ldc, tail);
  else nn_chunk<T, NVU, false>(M, K, A, ars, aks, B, ldb, C, ldc, tail);
}

// C (M x N, row stride ldc) += A (M x K; element (r, k) at A[r * ars + k * aks]) . B (K x N, row
// stride ldb, unit stride along N).
template <typename T>
void nn(int64_t M, int64_t N, int64_t K, const T* A, int64_t ars, int64_t aks, const T* B, int64_t ldb, T* C,
        int64_t ldc) {
  constexpr int W = Tile<T>::W, NR = Tile<T>::NR;
  if (M <= 0 || K <= 0) return;
  for (int64_t c0 = 0; c0 < N; c0 += NR) {
    const int64_t n = min64(NR, N - c0);
    const int nvu = int(ceil_div(n, W));
    const int tail = int(n - (nvu - 1) * W);
    nn_chunk_of<T>(nvu, tail == W, M, K, A, ars, aks, B + c0, ldb, C + c0, ldc, tail);
  }
}

// S (rows [0, M), columns [0, strips * NR), row stride lds) = A (M x K rows, stride lda) . Bp^T over
// `strips` packed strips.
template <typename T>
void nt(int64_t M, int64_t K, const T* A, int64_t lda, const T* Bp, int64_t strips, T* S, int64_t lds) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  for (int64_t s = 0; s < strips; ++s) {
    const T* b = Bp + s * K * NR;
    T* c = S + s * NR;
    int64_t r = 0;
    for (; r + MR <= M; r += MR) nt_tile<T, MR>(K, A + r * lda, lda, b, c + r * lds, lds);
    if (r < M) nt_rows<T>(int(M - r), K, A + r * lda, lda, b, c + r * lds, lds);
  }
}

// Packs rows [0, L) of one head (row stride ls, K elements a row) into strips of NR rows, k-major,
// zero past L: the Bp of nt.
template <typename T>
void pack_strips(int64_t L, int64_t K, const T* src, int64_t ls, T* dst) {
  constexpr int NR = Tile<T>::NR;
  const int64_t strips = ceil_div(L, NR);
  for (int64_t s = 0; s < strips; ++s) {
    T* d = dst + s * K * NR;
    const int64_t rows = min64(NR, L - s * NR);
    for (int64_t j = 0; j < rows; ++j) {
      const T* row = src + (s * NR + j) * ls;
      for (int64_t k = 0; k < K; ++k) d[k * NR + j] = row[k];
    }
    for (int64_t j = rows; j < NR; ++j)
      for (int64_t k = 0; k < K; ++k) d[k * NR + j] = T(0);
  }
}

// ---------------------------------------------------------------- row operations

// Scores of row i (global query index gi) of a tile starting at key j0 with nk keys, in place:
// s = scale * s + additive mask, -inf where masked (boolean mask, causal, or past nk up to width).
template <typename T>
void mask_row(const Problem<T>& p, const void* mrow, int64_t gi, int64_t j0, int64_t nk, int64_t width, T* s) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const V sc = simd::set1<T>((T)p.scale);
  for (int64_t j = 0; j < width; j += W) simd::store(s + j, simd::load(s + j) * sc);
  if (p.mask_kind == MaskKind::additive) {
    const T* m = static_cast<const T*>(mrow) + j0 * p.mask_sk;
    if (p.mask_sk == 1) {
      int64_t j = 0;
      for (; j + W <= nk; j += W) simd::store(s + j, simd::load(s + j) + simd::load(m + j));
      if (j < nk) simd::store_n(s + j, simd::load_n(s + j, int(nk - j)) + simd::load_n(m + j, int(nk - j)), int(nk - j));
    } else {
      for (int64_t j = 0; j < nk; ++j) s[j] += m[j * p.mask_sk];
    }
  } else if (p.mask_kind == MaskKind::boolean) {
    const uint8_t* m = static_cast<const uint8_t*>(mrow) + j0 * p.mask_sk;
    const T ninf = T(-INFINITY);
    if (p.mask_sk == 1) {
      for (int64_t j = 0; j < nk; ++j) s[j] = m[j] ? s[j] : ninf;
    } else {
      for (int64_t j = 0; j < nk; ++j) s[j] = m[j * p.mask_sk] ? s[j] : ninf;
    }
  }
  int64_t limit = nk;
  if (p.causal && gi - j0 + 1 < limit) limit = gi - j0 + 1 < 0 ? 0 : gi - j0 + 1;
  for (int64_t j = limit; j < width; ++j) s[j] = T(-INFINITY);
}

template <typename T>
const void* mask_row_ptr(const Problem<T>& p, int64_t b, int64_t h, int64_t i) {
  if (p.mask_kind == MaskKind::none) return nullptr;
  const int64_t at = b * p.mask_sb + h * p.mask_sh + i * p.mask_sq;
  if (p.mask_kind == MaskKind::boolean) return static_cast<const uint8_t*>(p.mask) + at;
  return static_cast<const T*>(p.mask) + at;
}

// The largest of s[0:width) (width a multiple of W).
template <typename T>
T row_max(const T* s, int64_t width) {
  using V = Vec<T>;
  constexpr int W = V::W;
  V m = simd::set1<T>(T(-INFINITY));
  for (int64_t j = 0; j < width; j += W) m = simd::max(simd::load(s + j), m);
  return simd::reduce_max(m);
}

// s[j] = exp(s[j] - shift) over [0, width); returns their sum.
template <typename T>
T exp_row(T* s, int64_t width, T shift) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const V sh = simd::set1<T>(shift);
  V acc = simd::zero<T>();
  for (int64_t j = 0; j < width; j += W) {
    const V e = simd::exp(simd::load(s + j) - sh);
    simd::store(s + j, e);
    acc += e;
  }
  return simd::reduce_add(acc);
}

template <typename T>
void scale_row(T* x, int64_t n, T a) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const V av = simd::set1<T>(a);
  int64_t j = 0;
  for (; j + W <= n; j += W) simd::store(x + j, simd::load(x + j) * av);
  if (j < n) simd::store_n(x + j, simd::load_n(x + j, int(n - j)) * av, int(n - j));
}

template <typename T>
T dot_row(const T* a, const T* b, int64_t n) {
  using V = Vec<T>;
  constexpr int W = V::W;
  V acc = simd::zero<T>();
  int64_t j = 0;
  for (; j + W <= n; j += W) acc = simd::fma(simd::load(a + j), simd::load(b + j), acc);
  if (j < n) acc = simd::fma(simd::load_n(a + j, int(n - j)), simd::load_n(b + j, int(n - j)), acc);
  return simd::reduce_add(acc);
}

// Dropout: s[j] *= z for the nk elements from n0 of the keep mask (keep: nk bytes of scratch).
template <typename T>
void drop_row(const Problem<T>& p, uint64_t threshold, T keep_scale, long long n0, int64_t nk, uint8_t* keep, T* s) {
  kept_run(p.key, p.offset, threshold, n0, nk, keep);
  for (int64_t j = 0; j < nk; ++j) s[j] = keep[j] ? s[j] * keep_scale : T(0);
}

// ---------------------------------------------------------------- work split and scratch

// Scratch of one thread: 64-byte aligned, freed with it.
struct Scratch {
  void* ptr = nullptr;
  bool ok = true;
  template <typename T>
  T* take(int64_t n) {
    const size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(T) + 63) / 64 * 64;
    ptr = std::aligned_alloc(64, bytes);
    ok = ptr != nullptr;
    return static_cast<T*>(ptr);
  }
  ~Scratch() { std::free(ptr); }
};

// [begin, end) of the items thread t of n takes: contiguous ranges of about equal total cost.
template <class Cost>
void cost_range(int64_t items, int t, int n, const Cost& cost, int64_t* begin, int64_t* end) {
  double total = 0;
  for (int64_t x = 0; x < items; ++x) total += cost(x);
  const double lo = total * t / n, hi = total * (t + 1) / n;
  double acc = 0;
  *begin = *end = items;
  bool started = false;
  for (int64_t x = 0; x < items; ++x) {
    const double mid = acc + 0.5 * cost(x);
    if (!started && mid >= lo) {
      *begin = x;
      started = true;
    }
    if (mid >= hi) {
      *end = x;
      break;
    }
    acc += cost(x);
  }
  if (!started) *begin = items;
  if (t == n - 1) *end = items;
  if (*end < *begin) *end = *begin;
}

// The first query row that key tile j0 can reach (causal: rows below j0 see none of its keys).
inline int64_t first_row(bool causal, int64_t j0) { return causal ? j0 : 0; }
// The keys a query tile [i0, i0 + nq) reaches: all Lk, or those up to its last row when causal.
inline int64_t keys_reached(bool causal, int64_t i0, int64_t nq, int64_t Lk) {
  return causal ? min64(Lk, i0 + nq) : Lk;
}

}  // namespace

// ---------------------------------------------------------------- forward

template <typename T>
void forward(const Problem<T>& p, T* out, T* lse) {
  using Tl = Tile<T>;
  constexpr int BQ = Tl::BQ, BK = Tl::BK, NR = Tl::NR;
  if (p.Hk == 0) return;
  const int64_t G = p.Hq / p.Hk;
  const int64_t n_qt = ceil_div(p.Lq, BQ);
  const int64_t items = p.B * p.Hq * n_qt;
  if (items == 0) return;
  const int64_t strips_all = ceil_div(p.Lk, NR);
  const bool dropout = p.dropout_p > 0;
  const uint64_t threshold = random::keep_threshold(p.dropout_p);
  const T keep_scale = (T)(1.0 / (1.0 - p.dropout_p));
  auto cost = [&](int64_t x) {
    const int64_t qt = x % n_qt;
    return 1.0 + (double)keys_reached(p.causal, qt * BQ, min64(BQ, p.Lq - qt * BQ), p.Lk);
  };
  const int threads = (int)min64(threads_for(p.B * p.Hq * p.Lq * (p.Lk + 1) * (p.D + p.Dv + 8)), items);
  bool failed = false;
#pragma omp parallel num_threads(threads) reduction(|| : failed)
  {
    Scratch s_kt, s_s, s_ml, s_keep;
    T* kt = s_kt.take<T>(strips_all * NR * p.D);
    T* S = s_s.take<T>((int64_t)BQ * BK);
    T* ml = s_ml.take<T>(2 * BQ);
    uint8_t* keep = s_keep.take<uint8_t>(BK);
    if (!(s_kt.ok && s_s.ok && s_ml.ok && s_keep.ok)) {
      failed = true;
    } else {
      int64_t x0, x1;
      cost_range(items, omp_get_thread_num(), omp_get_num_threads(), cost, &x0, &x1);
      int64_t packed = -1;  // the (b, hk) whose keys kt holds
      T* m = ml;
      T* l = ml + BQ;
      for (int64_t x = x0; x < x1; ++x) {
        const int64_t qt = x % n_qt, bh = x / n_qt, b = bh / p.Hq, h = bh % p.Hq, hk = h / G;
        const int64_t i0 = qt * BQ, nq = min64(BQ, p.Lq - i0);
        const int64_t lk = keys_reached(p.causal, i0, nq, p.Lk);
        if (packed != b * p.Hk + hk) {
          pack_strips<T>(p.Lk, p.D, p.k + b * p.ks.b + hk * p.ks.h, p.ks.l, kt);
          packed = b * p.Hk + hk;
        }
        const T* q = p.q + b * p.qs.b + h * p.qs.h + i0 * p.qs.l;
        const T* v = p.v + b * p.vs.b + hk * p.vs.h;
        T* o = out + (bh * p.Lq + i0) * p.Dv;
        for (int64_t i = 0; i < nq; ++i) {
          m[i] = T(-INFINITY);
          l[i] = T(0);
        }
        if (p.Dv > 0) std::memset(o, 0, sizeof(T) * nq * p.Dv);
        for (int64_t j0 = 0; j0 < lk; j0 += BK) {
          const int64_t nk = min64(BK, lk - j0);
          const int64_t tile_strips = ceil_div(nk, NR), width = tile_strips * NR;
          nt<T>(nq, p.D, q, p.qs.l, kt + (j0 / NR) * p.D * NR, tile_strips, S, BK);
          for (int64_t i = 0; i < nq; ++i) {
            T* s = S + i * BK;
            mask_row<T>(p, mask_row_ptr(p, b, h, i0 + i), i0 + i, j0, nk, width, s);
            const T mt = row_max(s, width);
            const T m_new = mt > m[i] ? mt : m[i];
            if (m_new == T(-INFINITY)) {  // nothing kept so far in this row
              std::memset(s, 0, sizeof(T) * width);
              continue;
            }
            const T sum = exp_row(s, width, m_new);
            const T alpha = m[i] == T(-INFINITY) ? T(0) : (T)std::exp(m[i] - m_new);
            if (alpha != T(1)) scale_row(o + i * p.Dv, p.Dv, alpha);
            l[i] = l[i] * alpha + sum;
            m[i] = m_new;
            if (dropout) {
              const long long n0 = ((long long)bh * p.Lq + i0 + i) * p.Lk + j0;
              drop_row<T>(p, threshold, keep_scale, n0, nk, keep, s);
            }
          }
          nn<T>(nq, p.Dv, nk, S, BK, 1, v + j0 * p.vs.l, p.vs.l, o, p.Dv);
        }
        for (int64_t i = 0; i < nq; ++i) {
          const bool any = l[i] > T(0);
          if (any) scale_row(o + i * p.Dv, p.Dv, T(1) / l[i]);
          else if (p.Dv > 0) std::memset(o + i * p.Dv, 0, sizeof(T) * p.Dv);
          lse[bh * p.Lq + i0 + i] = any ? m[i] + (T)std::log(l[i]) : T(-INFINITY);
        }
      }
    }
  }
  if (failed) throw std::bad_alloc();
}

// ---------------------------------------------------------------- backward

template <typename T>
void backward(const Problem<T>& p, const Grads<T, T>& g) {
  using Tl = Tile<T>;
  constexpr int BQ = Tl::BQ, BK = Tl::BK, NR = Tl::NR;
  if (p.Hk == 0) return;
  const int64_t G = p.Hq / p.Hk;
  const int64_t heads = p.B * p.Hk;
  const int64_t n_kt = ceil_div(p.Lk, BK), n_qt = ceil_div(p.Lq, BQ);
  const int64_t strips_all = ceil_div(p.Lk, NR);
  const bool dropout = p.dropout_p > 0;
  const uint64_t threshold = random::keep_threshold(p.dropout_p);
  const T keep_scale = (T)(1.0 / (1.0 - p.dropout_p));
  const T scale = (T)p.scale;
  const int64_t dq_head = G * p.Lq * p.D;  // dq elements of one key/value head's query heads
  if (heads == 0) return;
  int threads = threads_for(p.B * p.Hq * (p.Lq + 1) * (p.Lk + 1) * (p.D + p.Dv + 8));
  // Whole heads per thread when there are enough of them, else key tiles with private dq buffers.
  const bool split_heads = heads < threads && n_kt > 1;
  const int64_t items = split_heads ? heads * n_kt : heads;
  if (threads > items) threads = (int)(items > 0 ? items : 1);
  // Query tiles a key tile visits (per query head), plus its share of fixed costs.
  auto tile_cost = [&](int64_t kt) {
    const int64_t first = first_row(p.causal, kt * BK);
    return 1.0 + (double)(first >= p.Lq ? 0 : n_qt - first / BQ);
  };
  auto cost = [&](int64_t x) {
    if (split_heads) return tile_cost(x % n_kt);
    double c = 1.0;
    for (int64_t kt = 0; kt < n_kt; ++kt) c += tile_cost(kt);
    return c;
  };
  T* dq_parts = nullptr;
  if (split_heads) {
    dq_parts = static_cast<T*>(std::calloc((size_t)threads * heads * (dq_head > 0 ? dq_head : 1), sizeof(T)));
    if (!dq_parts) throw std::bad_alloc();
  }
  const int64_t zero_work = p.B * p.Hq * p.Lq * p.D + heads * p.Lk * (p.D + p.Dv);
  // Every gradient starts at zero: the tiles add into them.
#pragma omp parallel for schedule(static) num_threads(threads_for(zero_work))
  for (int64_t hd = 0; hd < heads; ++hd) {
    if (!split_heads && dq_head > 0) std::memset(g.dq + hd * dq_head, 0, sizeof(T) * dq_head);
    if (p.Lk * p.D > 0) std::memset(g.dk + hd * p.Lk * p.D, 0, sizeof(T) * p.Lk * p.D);
    if (p.Lk * p.Dv > 0) std::memset(g.dv + hd * p.Lk * p.Dv, 0, sizeof(T) * p.Lk * p.Dv);
  }
  bool failed = false;
#pragma omp parallel num_threads(threads) reduction(|| : failed)
  {
    Scratch s_kt, s_vt, s_s, s_dp, s_delta, s_keep;
    T* kt_p = s_kt.take<T>(strips_all * NR * p.D);
    T* vt_p = s_vt.take<T>(strips_all * NR * p.Dv);
    T* S = s_s.take<T>((int64_t)BQ * BK);
    T* dP = s_dp.take<T>((int64_t)BQ * BK);
    T* delta = s_delta.take<T>(G * p.Lq);
    uint8_t* keep = s_keep.take<uint8_t>(BK);
    if (!(s_kt.ok && s_vt.ok && s_s.ok && s_dp.ok && s_delta.ok && s_keep.ok)) {
      failed = true;
    } else {
      const int tid = omp_get_thread_num();
      int64_t x0, x1;
      cost_range(items, tid, omp_get_num_threads(), cost, &x0, &x1);
      int64_t packed = -1;
      for (int64_t x = x0; x < x1; ++x) {
        const int64_t hd = split_heads ? x / n_kt : x;
        const int64_t kt_begin = split_heads ? x % n_kt : 0, kt_end = split_heads ? kt_begin + 1 : n_kt;
        const int64_t b = hd / p.Hk, hk = hd % p.Hk;
        const T* kh = p.k + b * p.ks.b + hk * p.ks.h;
        const T* vh = p.v + b * p.vs.b + hk * p.vs.h;
        T* dq = split_heads ? dq_parts + ((int64_t)tid * heads + hd) * dq_head : g.dq + hd * dq_head;
        if (packed != hd) {
          pack_strips<T>(p.Lk, p.D, kh, p.ks.l, kt_p);
          pack_strips<T>(p.Lk, p.Dv, vh, p.vs.l, vt_p);
          for (int64_t gg = 0; gg < G; ++gg) {
            const int64_t h = hk * G + gg;
            for (int64_t i = 0; i < p.Lq; ++i) {
              const T* dout = g.dout + b * g.dos.b + h * g.dos.h + i * g.dos.l;
              delta[gg * p.Lq + i] = dot_row(dout, g.out + ((b * p.Hq + h) * p.Lq + i) * p.Dv, p.Dv);
            }
          }
          packed = hd;
        }
        for (int64_t kt = kt_begin; kt < kt_end; ++kt) {
          const int64_t j0 = kt * BK, nk = min64(BK, p.Lk - j0);
          const int64_t tile_strips = ceil_div(nk, NR), width = tile_strips * NR;
          T* dk = g.dk + (hd * p.Lk + j0) * p.D;
          T* dv = g.dv + (hd * p.Lk + j0) * p.Dv;
          const int64_t first = first_row(p.causal, j0);
          for (int64_t gg = 0; gg < G; ++gg) {
            const int64_t h = hk * G + gg, bh = b * p.Hq + h;
            for (int64_t i0 = first / BQ * BQ; i0 < p.Lq; i0 += BQ) {
              const int64_t nq = min64(BQ, p.Lq - i0);
              const T* q = p.q + b * p.qs.b + h * p.qs.h + i0 * p.qs.l;
              const T* dout = g.dout + b * g.dos.b + h * g.dos.h + i0 * g.dos.l;
              const T* lse = g.lse + bh * p.Lq + i0;
              nt<T>(nq, p.D, q, p.qs.l, kt_p + (j0 / NR) * p.D * NR, tile_strips, S, BK);
              nt<T>(nq, p.Dv, dout, g.dos.l, vt_p + (j0 / NR) * p.Dv * NR, tile_strips, dP, BK);
              for (int64_t i = 0; i < nq; ++i) {
                T* s = S + i * BK;
                T* dp = dP + i * BK;
                if (lse[i] == T(-INFINITY)) {  // a fully masked row: no gradient
                  std::memset(s, 0, sizeof(T) * width);
                  std::memset(dp, 0, sizeof(T) * width);
                  continue;
                }
                mask_row<T>(p, mask_row_ptr(p, b, h, i0 + i), i0 + i, j0, nk, width, s);
                exp_row(s, width, lse[i]);
                if (dropout) {
                  const long long n0 = ((long long)bh * p.Lq + i0 + i) * p.Lk + j0;
                  kept_run(p.key, p.offset, threshold, n0, nk, keep);
                  for (int64_t j = 0; j < nk; ++j) {
                    const T z = keep[j] ? keep_scale : T(0);
                    dp[j] = s[j] * (z * dp[j] - delta[gg * p.Lq + i0 + i]) * scale;
                    s[j] *= z;
                  }
                } else {
                  using V = Vec<T>;
                  const V dl = simd::set1<T>(delta[gg * p.Lq + i0 + i]), sc = simd::set1<T>(scale);
                  for (int64_t j = 0; j < width; j += V::W)
                    simd::store(dp + j, simd::load(s + j) * (simd::load(dp + j) - dl) * sc);
                }
              }
              // dV += P^T dO, dK += dS^T Q, dQ += dS K
              nn<T>(nk, p.Dv, nq, S, 1, BK, dout, g.dos.l, dv, p.Dv);
              nn<T>(nk, p.D, nq, dP, 1, BK, q, p.qs.l, dk, p.D);
              nn<T>(nq, p.D, nk, dP, BK, 1, kh + j0 * p.ks.l, p.ks.l, dq + (gg * p.Lq + i0) * p.D, p.D);
            }
          }
        }
      }
    }
  }
  if (failed) {
    std::free(dq_parts);
    throw std::bad_alloc();
  }
  if (split_heads) {
    const int64_t n = heads * dq_head;
#pragma omp parallel for schedule(static) num_threads(threads_for(n * threads))
    for (int64_t e = 0; e < n; ++e) {
      T acc = 0;
      for (int t = 0; t < threads; ++t) acc += dq_parts[(int64_t)t * n + e];
      g.dq[e] = acc;
    }
    std::free(dq_parts);
  }
}

template void forward<float>(const Problem<float>&, float*, float*);
template void forward<double>(const Problem<double>&, double*, double*);
template void backward<float>(const Problem<float>&, const Grads<float, float>&);
template void backward<double>(const Problem<double>&, const Grads<double, double>&);

}  // namespace attention
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
