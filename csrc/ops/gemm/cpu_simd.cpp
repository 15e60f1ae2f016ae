// GEMM kernels written once on the SIMD layer and compiled per CPU path: packing of A and B,
// the register-tiled micro-kernel (MR rows x NV vectors of C in registers, one broadcast of A
// and NV loads of B per step of k) and the matrix-vector rows.
//
// Register tiles (accumulators + B vectors + one broadcast must fit the register file):
//   avx512 (32 zmm)  float 14 x 32, double 14 x 16: 28 accumulators + 2 + 1
//   avx2   (16 ymm)  float  6 x 16, double  6 x  8: 12 + 2 + 1
//   portable (16 xmm) float 4 x 8,  double  4 x  4: 8 + 2 + 1, and a temporary for each
//                     product, as SSE2 has no fused multiply-add (6 rows spilled in the loop)
// On AVX-512, 14 x 32 was measured against 6 x 64, 12 x 32 and 8 x 48 (Zen 4, float, side by
// side in one process): one thread, all four within 2 % of each other; two threads, 14 x 32 was
// ahead by 1-3.5 % at 512^3 and 2048^3 and level at 1024^3 and 128 x 784 x 256. It also has the
// fewest loads per multiply-add (2 vectors and 14 broadcasts for 28), and GCC keeps all 28
// accumulators in registers (no spill in the inner loop).
// Edge tiles run the same code with fewer rows (a kernel per row count) and fewer vectors, the
// last vector's columns masked on store, so a partial tile costs its own size, not a full one.
#include "core/simd/simd_transpose.h"
#include "ops/gemm/cpu_kernel.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using simd::Vec;

template <typename T>
struct Tile {
#if defined(FASTNN_ISA_AVX512)
  static constexpr int MR = 14, NV = 2;
#elif defined(FASTNN_ISA_AVX2)
  static constexpr int MR = 6, NV = 2;
#else
  static constexpr int MR = 4, NV = 2;
#endif
  static constexpr int W = Vec<T>::W, NR = NV * W;
};

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// ---------------------------------------------------------------- micro-kernel

// C[0:R, 0:n] = alpha * c + beta * C (C not read when beta == 0): whole vectors where C's
// columns are contiguous, the last one masked; through a buffer when they are strided.
template <typename T, int R, int NVU>
FASTNN_SIMD_INLINE void store_tile(const Vec<T> (&c)[R][NVU], T* C, int64_t rs, int64_t cs, T alpha, T beta, int n) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const V va = simd::set1<T>(alpha), vb = simd::set1<T>(beta);
  if (cs == 1) {
#pragma GCC unroll 32
    for (int i = 0; i < R; ++i) {
      T* row = C + i * rs;
#pragma GCC unroll 4
      for (int v = 0; v < NVU; ++v) {
        const int cols = n - v * W;
        if (cols >= W) {
          simd::store(row + v * W, beta == T(0) ? c[i][v] * va : simd::fma(simd::load(row + v * W), vb, c[i][v] * va));
        } else if (cols > 0) {
          simd::store_n(row + v * W,
                        beta == T(0) ? c[i][v] * va : simd::fma(simd::load_n(row + v * W, cols), vb, c[i][v] * va),
                        cols);
        }
      }
    }
    return;
  }
  // Strided columns: through a buffer, element by element.
  alignas(64) T buf[R * NVU * W];
#pragma GCC unroll 32
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NVU; ++v) simd::store(buf + (i * NVU + v) * W, c[i][v] * va);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < n; ++j) {
      T& dst = C[i * rs + j * cs];
      dst = beta == T(0) ? buf[i * NVU * W + j] : buf[i * NVU * W + j] + beta * dst;
    }
}

// C[0:R, 0:n] (n <= NVU * W) from one packed strip of A (stride MR per k) and one of B
// (stride NR per k).
template <typename T, int R, int NVU>
FASTNN_SIMD_INLINE void tile(int64_t kc, const T* __restrict Ap, const T* __restrict Bp, T* C, int64_t rs,
                             int64_t cs, T alpha, T beta, int n) {
  using V = Vec<T>;
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR, W = V::W;
  for (int i = 0; i < R; ++i) {
    __builtin_prefetch(C + i * rs, 1);
    __builtin_prefetch(C + i * rs + (n - 1) * cs, 1);
  }
  V c[R][NVU];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NVU; ++v) c[i][v] = simd::zero<T>();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    V b[NVU];
#pragma GCC unroll 4
    for (int v = 0; v < NVU; ++v) b[v] = simd::load(Bp + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const V a = simd::bcast(Ap + i);
#pragma GCC unroll 4
      for (int v = 0; v < NVU; ++v) c[i][v] = simd::fma(a, b[v], c[i][v]);
    }
    Ap += MR;
    Bp += NR;
  }
  store_tile<T, R, NVU>(c, C, rs, cs, alpha, beta, n);
}

template <typename T>
using TileFn = void (*)(int64_t, const T*, const T*, T*, int64_t, int64_t, T, T, int);

template <typename T, int R, int NVU>
void tile_fn(int64_t kc, const T* Ap, const T* Bp, T* C, int64_t rs, int64_t cs, T alpha, T beta, int n) {
  tile<T, R, NVU>(kc, Ap, Bp, C, rs, cs, alpha, beta, n);
}

// Kernels for every row count 1..MR and vector count 1..NV: table[nv - 1][m - 1].
template <typename T>
struct TileTable {
  static constexpr int MR = Tile<T>::MR, NV = Tile<T>::NV;
  TileFn<T> fn[NV][MR];
  template <int R, int NVU>
  constexpr void fill() {
    fn[NVU - 1][R - 1] = &tile_fn<T, R, NVU>;
    if constexpr (R > 1) fill<R - 1, NVU>();
    else if constexpr (NVU > 1) fill<MR, NVU - 1>();
  }
  constexpr TileTable() : fn{} { fill<MR, NV>(); }
};

template <typename T>
void block(int64_t mc, int64_t nc, int64_t kc, const T* Ap, const T* Bp, int64_t s0, int64_t s1, T* C, int64_t rs,
           int64_t cs, T alpha, T beta) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR, NV = Tile<T>::NV, W = Tile<T>::W;
  static constexpr TileTable<T> table;
  for (int64_t s = s0; s < s1; ++s) {
    const int64_t j = s * NR;
    const int n = int(min64(NR, nc - j));
    const T* b = Bp + s * NR * kc;
    const int nv = (n + W - 1) / W;
    for (int64_t i = 0; i < mc; i += MR) {
      const int m = int(min64(MR, mc - i));
      T* c = C + i * rs + j * cs;
      if (m == MR && nv == NV) tile<T, MR, NV>(kc, Ap + i * kc, b, c, rs, cs, alpha, beta, n);
      else table.fn[nv - 1][m - 1](kc, Ap + i * kc, b, c, rs, cs, alpha, beta, n);
    }
  }
}

// ---------------------------------------------------------------- packing

// One strip of A, k-major (MR values per k). Row-major A (unit stride along k) goes through
// W x W register transposes of W rows by W steps of k; each transposed column is stored whole
// when later stores cover what it writes past the strip's row (it spills into the next steps of
// k), masked otherwise. Rows of a partial strip past m are zeros there, unset on other paths.
// Rows [g W, g W + W) of a strip, k .. k + kb, transposed: r[kk] holds step k + kk of them.
// Full blocks take unconditional loads, so the block stays in registers.
template <typename T, int G>
FASTNN_SIMD_INLINE void load_rows_t(Vec<T> (&r)[G][Vec<T>::W], int m, int kb, const T* a, int64_t sm, int64_t k) {
  constexpr int MR = Tile<T>::MR, W = Vec<T>::W;
  if (m == MR && kb == W) {
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
#pragma GCC unroll 16
      for (int i = 0; i < W; ++i) r[g][i] = g * W + i < MR ? simd::load(a + (g * W + i) * sm + k) : simd::zero<T>();
      simd::transpose(r[g]);
    }
    return;
  }
  for (int g = 0; g < G; ++g) {
    for (int i = 0; i < W; ++i) {
      const int row = g * W + i;
      r[g][i] = row < m ? simd::load_n(a + row * sm + k, kb) : simd::zero<T>();
    }
    simd::transpose(r[g]);
  }
}

template <typename T>
FASTNN_SIMD_INLINE void pack_a_strip(int m, int64_t kc, const T* a, int64_t sm, int64_t sk, T* dst) {
  using V = Vec<T>;
  constexpr int MR = Tile<T>::MR, W = V::W;
  constexpr int G = (MR + W - 1) / W;  // groups of W rows
  if (sk == 1 && kc >= W) {
    for (int64_t k = 0; k < kc; k += W) {
      const int kb = int(min64(W, kc - k));
      V r[G][W];
      load_rows_t<T, G>(r, m, kb, a, sm, k);
#pragma GCC unroll 16
      for (int kk = 0; kk < W; ++kk) {
        if (kk >= kb) break;
        T* d = dst + (k + kk) * MR;
        // The last group first: its spill lands on the rows of the next steps of k, stored
        // after it; a store that would reach past the strip is masked.
#pragma GCC unroll 4
        for (int g = G - 1; g >= 0; --g) {
          constexpr int last_lanes = MR - (G - 1) * W;
          const int lanes = g == G - 1 ? last_lanes : W;
          if (lanes == W || (k + kk) * MR + (g + 1) * W <= kc * MR) simd::store(d + g * W, r[g][kk]);
          else simd::store_n(d + g * W, r[g][kk], lanes);
        }
      }
    }
    return;
  }
  if (sm == 1 && m == MR) {
    for (int64_t k = 0; k < kc; ++k) {
      const T* s = a + k * sk;
      T* d = dst + k * MR;
      int i = 0;
      for (; i + W <= MR; i += W) simd::store(d + i, simd::load(s + i));
      if (i < MR) simd::store_n(d + i, simd::load_n(s + i, MR - i), MR - i);
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k)
    for (int i = 0; i < m; ++i) dst[k * MR + i] = a[i * sm + k * sk];
}

template <typename T>
void pack_a(int64_t mc, int64_t kc, const T* A, int64_t sm, int64_t sk, T* dst) {
  constexpr int MR = Tile<T>::MR, W = Vec<T>::W;
  if (sm == 1 && sk != 1) {
    // Column-major A (a transposed operand, as in dW = dY^T X): step k's values of all the strips
    // are one contiguous source row, read once. Strip by strip, a block as large as L2 had its
    // cache lines read once per strip, from L3 after the first (measured: 4x slower on a 512 x
    // 512 float block with 2 KiB between steps of k).
    for (int64_t k = 0; k < kc; ++k) {
      const T* s = A + k * sk;
      for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        const int m = int(min64(MR, mc - i0));
        T* d = dst + i0 * kc + k * MR;
        for (int i = 0; i < m; i += W) {
          const int n = m - i < W ? m - i : W;
          simd::store_n(d + i, simd::load_n(s + i0 + i, n), n);
        }
      }
    }
    return;
  }
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc)
    pack_a_strip<T>(int(min64(MR, mc - i0)), kc, A + i0 * sm, sm, sk, dst);
}

// One strip of B, kc x NR, zero beyond n columns. Row-major B copies vectors; B with unit
// stride along k (a transposed operand, as in x @ W.T) goes through register transposes.
template <typename T>
FASTNN_SIMD_INLINE void pack_b_strip(int n, int64_t kc, const T* b, int64_t sk, int64_t sn, T* dst) {
  using V = Vec<T>;
  constexpr int NR = Tile<T>::NR, NV = Tile<T>::NV, W = V::W;
  if (sn == 1) {
    for (int64_t k = 0; k < kc; ++k) {
      const T* s = b + k * sk;
      T* d = dst + k * NR;
      for (int v = 0; v < NV; ++v) {
        const int cols = n - v * W;
        simd::store(d + v * W, cols >= W ? simd::load(s + v * W)
                                         : cols > 0 ? simd::load_n(s + v * W, cols) : simd::zero<T>());
      }
    }
    return;
  }
  if (sk == 1) {
    // One vector of columns at a time over all of k: W source rows streamed at once, few
    // enough for the hardware prefetcher to follow.
    for (int v = 0; v < NV; ++v) {
      for (int64_t k = 0; k < kc; k += W) {
        const int kb = int(min64(W, kc - k));
        V r[W];
        if (n == NR && kb == W) {
          // A full block: unconditional loads keep it in registers.
#pragma GCC unroll 16
          for (int j = 0; j < W; ++j) r[j] = simd::load(b + (v * W + j) * sn + k);
        } else {
          for (int j = 0; j < W; ++j)
            r[j] = v * W + j < n ? simd::load_n(b + (v * W + j) * sn + k, kb) : simd::zero<T>();
        }
        simd::transpose(r);
#pragma GCC unroll 16
        for (int kk = 0; kk < W; ++kk) {
          if (kk >= kb) break;
          simd::store(dst + (k + kk) * NR + v * W, r[kk]);
        }
      }
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    int j = 0;
    for (; j < n; ++j) dst[k * NR + j] = b[j * sn + k * sk];
    for (; j < NR; ++j) dst[k * NR + j] = T(0);
  }
}

template <typename T>
void pack_b(int64_t kc, int64_t nc, const T* B, int64_t sk, int64_t sn, T* dst) {
  constexpr int NR = Tile<T>::NR;
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc)
    pack_b_strip<T>(int(min64(NR, nc - j0)), kc, B + j0 * sn, sk, sn, dst);
}

// ---------------------------------------------------------------- matrix-vector

// Dot products when X's rows are contiguous (or only one row is wanted), else a sum of scaled
// columns over contiguous rows (four columns per pass over acc), else element by element.
template <typename T>
void gemv_rows(int64_t r0, int64_t r1, int64_t K, T alpha, const T* X, int64_t sr, int64_t sk, const T* v,
               int64_t sv, T beta, T* y, int64_t sy, T* acc) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const int64_t ask = sk < 0 ? -sk : sk, asr = sr < 0 ? -sr : sr;
  if (ask <= asr || r1 - r0 == 1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = X + r * sr;
      T sum = T(0);
      if (sk == 1 && sv == 1) {
        // Four chains of vector sums: enough to hide the add latency.
        V s0 = simd::zero<T>(), s1 = s0, s2 = s0, s3 = s0;
        int64_t k = 0;
        for (; k + 4 * W <= K; k += 4 * W) {
          s0 = simd::fma(simd::load(x + k), simd::load(v + k), s0);
          s1 = simd::fma(simd::load(x + k + W), simd::load(v + k + W), s1);
          s2 = simd::fma(simd::load(x + k + 2 * W), simd::load(v + k + 2 * W), s2);
          s3 = simd::fma(simd::load(x + k + 3 * W), simd::load(v + k + 3 * W), s3);
        }
        for (; k < K; k += W) {
          const int n = int(min64(W, K - k));
          s0 = simd::fma(simd::load_n(x + k, n), simd::load_n(v + k, n), s0);
        }
        sum = simd::reduce_add((s0 + s1) + (s2 + s3));
      } else {
        for (int64_t k = 0; k < K; ++k) sum += x[k * sk] * v[k * sv];
      }
      acc[r] = sum;
    }
  } else if (sr == 1) {
    for (int64_t r = r0; r < r1; ++r) acc[r] = T(0);
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
      const T *x0 = X + k * sk, *x1 = x0 + sk, *x2 = x1 + sk, *x3 = x2 + sk;
      const V v0 = simd::set1<T>(v[k * sv]), v1 = simd::set1<T>(v[(k + 1) * sv]);
      const V v2 = simd::set1<T>(v[(k + 2) * sv]), v3 = simd::set1<T>(v[(k + 3) * sv]);
      for (int64_t r = r0; r < r1; r += W) {
        const int n = int(min64(W, r1 - r));
        const V s = simd::fma(simd::load_n(x0 + r, n), v0, simd::load_n(x1 + r, n) * v1) +
                    simd::fma(simd::load_n(x2 + r, n), v2, simd::load_n(x3 + r, n) * v3);
        simd::store_n(acc + r, simd::load_n(acc + r, n) + s, n);
      }
    }
    for (; k < K; ++k) {
      const T* x = X + k * sk;
      const V vk = simd::set1<T>(v[k * sv]);
      for (int64_t r = r0; r < r1; r += W) {
        const int n = int(min64(W, r1 - r));
        simd::store_n(acc + r, simd::fma(simd::load_n(x + r, n), vk, simd::load_n(acc + r, n)), n);
      }
    }
  } else {
    for (int64_t r = r0; r < r1; ++r) acc[r] = T(0);
    for (int64_t k = 0; k < K; ++k) {
      const T* x = X + k * sk;
      const T vk = v[k * sv];
      for (int64_t r = r0; r < r1; ++r) acc[r] += x[r * sr] * vk;
    }
  }
  for (int64_t r = r0; r < r1; ++r) y[r * sy] = beta == T(0) ? alpha * acc[r] : alpha * acc[r] + beta * y[r * sy];
}

// ---------------------------------------------------------------- narrow products

// C = alpha * A @ B + beta * C where C has at most one vector of columns (a tall matrix times a
// narrow one, as in a graph layer's X @ W). Packing A would cost as much as the product (each of
// its elements is used n <= W times) and a packed micro-tile would be mostly padding, so A is read
// in place: NarrowTile<T>::MR rows of C in registers, one vector each, one broadcast of A and one
// fused multiply-add per row and step of k. The accumulators, the B vector and a broadcast (held
// in a register where the ISA cannot fold it into the fma) fill the register file.
template <typename T>
struct NarrowTile {
#if defined(FASTNN_ISA_AVX512)
  static constexpr int MR = 24;
#elif defined(FASTNN_ISA_AVX2)
  static constexpr int MR = 12;
#else
  static constexpr int MR = 8;
#endif
};

// Layouts of A the compiler sees a unit stride in: its rows contiguous (stride along k is 1),
// its columns contiguous (stride between rows is 1: a transposed view), or neither.
enum NarrowLayout { kRowMajor, kColMajor, kStrided };
constexpr int kNarrowAhead = 16;

// C[0:R, 0:n] over steps [0, kc) of k; Bp: kc x W, zero past column n.
template <typename T, int R, int L>
FASTNN_SIMD_INLINE void narrow_tile(int64_t kc, const T* A, int64_t sm, int64_t sk, const T* __restrict Bp, T* C,
                                    int64_t rs, int64_t cs, T alpha, T beta, int n) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const int64_t am = L == kColMajor ? 1 : sm, ak = L == kRowMajor ? 1 : sk;
  V c[R][1];
#pragma GCC unroll 32
  for (int i = 0; i < R; ++i) c[i][0] = simd::zero<T>();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const V b = simd::load(Bp + k * W);
    const T* a = A + k * ak;
    if constexpr (L == kColMajor) {
      // Every step of k reads new cache lines (a row of a transposed operand): fetch them
      // kNarrowAhead steps early, as the hardware prefetcher does not keep up.
      __builtin_prefetch(a + kNarrowAhead * ak);
      __builtin_prefetch(a + kNarrowAhead * ak + R - 1);
    }
#pragma GCC unroll 32
    for (int i = 0; i < R; ++i) c[i][0] = simd::fma(simd::bcast(a + i * am), b, c[i][0]);
  }
  store_tile<T, R, 1>(c, C, rs, cs, alpha, beta, n);
}

// Rows [r0, r1) of C: full tiles, then the rest in tiles of 8, 4, 2 and 1 rows (a few
// kernels instead of one per row count; the rest is at most one tile per call).
template <typename T, int L>
void narrow_rows_layout(int64_t r0, int64_t r1, int64_t kc, T alpha, const T* A, int64_t sm, int64_t sk,
                        const T* Bp, T beta, T* C, int64_t rs, int64_t cs, int n) {
  // Rows apart in memory each need an address register: past 8 of them GCC spills the pointers
  // and reloads them at every step of k.
  constexpr int MR = L == kColMajor ? NarrowTile<T>::MR : 8;
  int64_t i = r0;
  for (; i + MR <= r1; i += MR) narrow_tile<T, MR, L>(kc, A + i * sm, sm, sk, Bp, C + i * rs, rs, cs, alpha, beta, n);
  if constexpr (MR > 8) {
    for (; i + 8 <= r1; i += 8) narrow_tile<T, 8, L>(kc, A + i * sm, sm, sk, Bp, C + i * rs, rs, cs, alpha, beta, n);
  }
  if (i + 4 <= r1) {
    narrow_tile<T, 4, L>(kc, A + i * sm, sm, sk, Bp, C + i * rs, rs, cs, alpha, beta, n);
    i += 4;
  }
  if (i + 2 <= r1) {
    narrow_tile<T, 2, L>(kc, A + i * sm, sm, sk, Bp, C + i * rs, rs, cs, alpha, beta, n);
    i += 2;
  }
  if (i < r1) narrow_tile<T, 1, L>(kc, A + i * sm, sm, sk, Bp, C + i * rs, rs, cs, alpha, beta, n);
}

template <typename T>
void narrow_rows(int64_t r0, int64_t r1, int64_t kc, T alpha, const T* A, int64_t sm, int64_t sk, const T* Bp,
                 T beta, T* C, int64_t rs, int64_t cs, int n) {
  if (sk == 1) narrow_rows_layout<T, kRowMajor>(r0, r1, kc, alpha, A, sm, sk, Bp, beta, C, rs, cs, n);
  else if (sm == 1) narrow_rows_layout<T, kColMajor>(r0, r1, kc, alpha, A, sm, sk, Bp, beta, C, rs, cs, n);
  else narrow_rows_layout<T, kStrided>(r0, r1, kc, alpha, A, sm, sk, Bp, beta, C, rs, cs, n);
}

}  // namespace

template <typename T>
const gemm_detail::Kernel<T>& gemm_kernel() {
#if defined(FASTNN_ISA_AVX512)
  static constexpr const char* kName = "avx512";
#elif defined(FASTNN_ISA_AVX2)
  static constexpr const char* kName = "avx2";
#else
  static constexpr const char* kName = "portable";
#endif
  static const gemm_detail::Kernel<T> k{kName,      Tile<T>::MR,       Tile<T>::NR,    Tile<T>::W,
                                        NarrowTile<T>::MR, &pack_a<T>, &pack_b<T>, &block<T>,
                                        &gemv_rows<T>, &narrow_rows<T>};
  return k;
}

template const gemm_detail::Kernel<float>& gemm_kernel<float>();
template const gemm_detail::Kernel<double>& gemm_kernel<double>();

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
