// The direct convolution's micro-kernels on the SIMD layer, compiled once per CPU path (see
// direct_kernels.h for what each computes). Register tiles are sized from the path's register
// count: accumulators plus the vectors loaded per step fill the register file without spilling.
#include "core/simd/permute.h"
#include "core/simd/rows.h"
#include "ops/conv/direct_kernels.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace conv {

using namespace simd;

namespace {

// Forward: OB output channels x NV vectors of positions per tile, OB * NV accumulators, NV input
// vectors and one broadcast weight: 4 x 3 (16 registers) or 8 x 3 (32). Channel counts that are
// not a multiple of OB but are of 6 (LeNet) take 6 x 2 or 6 x 4 tiles instead of a thin remainder.
constexpr int kWide = kVectorRegisters >= 32;
constexpr int kFwdOB = kWide ? 8 : 4, kFwdNV = 3;
constexpr int kAltOB = 6, kAltNV = kWide ? 4 : 2;
// Weight gradient: OB output channels x TB taps of lane-wise sums, loading TB input vectors and
// one dy vector per channel: 4 x 3 or 4 x 6 (10 loads for 24 fused multiply-adds; on Zen 4 it beat
// 6 x 4 by up to 3%, and 3 x 8, 8 x 3 and 2 x 12 by 10 to 40% on the ResNet layers).
constexpr int kWgOB = 4, kWgTB = kWide ? 6 : 3;
// Adjoint: TB taps x NV vectors, reduced over the output channels: 6 x 2 or 6 x 4 (on Zen 4, 6 x 4
// ran LeNet's input gradients 2 to 14% faster than 8 x 3, whose 8 x 1 remainder tile for 4
// vectors loads a broadcast per product).
constexpr int kAdjTB = 6, kAdjNV = kWide ? 4 : 2;

// ------------------------------------------------------------------ position vectors

// A vector of positions is `lanes` consecutive positions from one start or, split, half of them
// from each of two starts (two output rows narrower than half a vector in one register).
template <bool Split>
constexpr int kStarts = Split ? 2 : 1;

// p[0 .. kStarts) point at the vector's start(s); o is an offset added to each.
template <bool Split, typename T>
FASTNN_SIMD_INLINE Vec<T> load_at(const T* const* p, int64_t o) {
  if constexpr (Split) return load_halves(p[0] + o, p[1] + o);
  else return load(p[0] + o);
}
template <bool Split, typename T>
FASTNN_SIMD_INLINE void store_at(T* const* p, int64_t o, Vec<T> a) {
  if constexpr (Split) store_halves(p[0] + o, p[1] + o, a);
  else store(p[0] + o, a);
}

// ------------------------------------------------------------------ forward

// A last group of fewer than NV vectors runs with that many (8 vectors with NV = 3: 3 + 3 + 2).
template <typename T, bool Split, int OB, int NV>
void forward_tile(const T* block, const int64_t* off, int64_t taps, const T* w, int64_t ldw, int64_t Lv,
                  const int64_t* starts, int64_t ns, T* wide, bool add) {
  constexpr int K = kStarts<Split>;
  if constexpr (NV > 1) {
    const int64_t rem = ns % NV;
    if (rem != 0) {
      forward_tile<T, Split, OB, NV - 1>(block, off, taps, w, ldw, Lv, starts + (ns - rem) * K, rem, wide, add);
      ns -= rem;
    }
  }
  for (int64_t v0 = 0; v0 + NV <= ns; v0 += NV) {
    const T* xb[NV][K];
    T* wb[NV][K];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
#pragma GCC unroll 2
      for (int k = 0; k < K; ++k) {
        xb[v][k] = block + starts[(v0 + v) * K + k];
        wb[v][k] = wide + starts[(v0 + v) * K + k];
      }
    Vec<T> acc[OB][NV];
#pragma GCC unroll 16
    for (int ob = 0; ob < OB; ++ob)
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[ob][v] = add ? load_at<Split>(wb[v], ob * Lv) : zero<T>();
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t o = off[t];
      Vec<T> xv[NV];
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) xv[v] = load_at<Split>(xb[v], o);
#pragma GCC unroll 16
      for (int ob = 0; ob < OB; ++ob) {
        const Vec<T> wv = bcast(w + ob * ldw + t);
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[ob][v] = fma(wv, xv[v], acc[ob][v]);
      }
    }
#pragma GCC unroll 16
    for (int ob = 0; ob < OB; ++ob)
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) store_at<Split>(wb[v], ob * Lv, acc[ob][v]);
  }
}

// The last rest < kFwdOB output channels.
template <typename T, bool Split, int OB = 1>
void forward_rest(int64_t rest, const T* block, const int64_t* off, int64_t taps, const T* w, int64_t ldw,
                  int64_t Lv, const int64_t* starts, int64_t ns, T* wide, bool add) {
  if constexpr (OB < kFwdOB) {
    if (rest == OB) return forward_tile<T, Split, OB, kFwdNV>(block, off, taps, w, ldw, Lv, starts, ns, wide, add);
    forward_rest<T, Split, OB + 1>(rest, block, off, taps, w, ldw, Lv, starts, ns, wide, add);
  }
}

template <typename T, bool Split>
void forward_split(const T* block, const int64_t* off, int64_t taps, const T* w, int64_t ldw, int64_t OCg,
                   int64_t Lv, const int64_t* starts, int64_t ns, bool add, T* wide) {
  int64_t oc = 0;
  if (OCg % kFwdOB != 0)
    for (; oc + kAltOB <= OCg; oc += kAltOB)
      forward_tile<T, Split, kAltOB, kAltNV>(block, off, taps, w + oc * ldw, ldw, Lv, starts, ns, wide + oc * Lv, add);
  for (; oc + kFwdOB <= OCg; oc += kFwdOB)
    forward_tile<T, Split, kFwdOB, kFwdNV>(block, off, taps, w + oc * ldw, ldw, Lv, starts, ns, wide + oc * Lv, add);
  if (oc < OCg)
    forward_rest<T, Split>(OCg - oc, block, off, taps, w + oc * ldw, ldw, Lv, starts, ns, wide + oc * Lv, add);
}

template <typename T>
void forward(const T* block, const int64_t* off, int64_t taps, const T* w, int64_t ldw, int64_t OCg, int64_t Lv,
             const int64_t* starts, int64_t ns, bool split, bool add, T* wide) {
  if (split) forward_split<T, true>(block, off, taps, w, ldw, OCg, Lv, starts, ns, add, wide);
  else forward_split<T, false>(block, off, taps, w, ldw, OCg, Lv, starts, ns, add, wide);
}

// ------------------------------------------------------------------ weight gradient

// Rows of acc are ldt taps apart.
template <typename T, bool Split, int OB, int TB>
void wgrad_tile(const T* dyw, int64_t Lv, const T* block, const int64_t* off, int64_t ldt, const int64_t* starts,
                int64_t ns, T* acc) {
  constexpr int V = Vec<T>::W, K = kStarts<Split>;
  Vec<T> a[OB][TB];
#pragma GCC unroll 16
  for (int ob = 0; ob < OB; ++ob)
#pragma GCC unroll 16
    for (int tb = 0; tb < TB; ++tb) a[ob][tb] = zero<T>();
  for (int64_t v = 0; v < ns; ++v) {
    const T* xs[K];
    const T* ds[K];
#pragma GCC unroll 2
    for (int k = 0; k < K; ++k) {
      xs[k] = block + starts[v * K + k];
      ds[k] = dyw + starts[v * K + k];
    }
    Vec<T> xv[TB];
#pragma GCC unroll 16
    for (int tb = 0; tb < TB; ++tb) xv[tb] = load_at<Split>(xs, off[tb]);
#pragma GCC unroll 16
    for (int ob = 0; ob < OB; ++ob) {
      const Vec<T> d = load_at<Split>(ds, ob * Lv);
#pragma GCC unroll 16
      for (int tb = 0; tb < TB; ++tb) a[ob][tb] = fma(d, xv[tb], a[ob][tb]);
    }
  }
  // Lane sums stay vectors until every image is done: one horizontal sum per weight, not per image.
#pragma GCC unroll 16
  for (int ob = 0; ob < OB; ++ob)
#pragma GCC unroll 16
    for (int tb = 0; tb < TB; ++tb) {
      T* slot = acc + (ob * ldt + tb) * V;
      store(slot, load(slot) + a[ob][tb]);
    }
}

// Taps [0, ntaps) of OB channels; a last group of fewer than TB taps runs with that many.
template <typename T, bool Split, int OB, int TB = kWgTB>
void wgrad_taps(const T* dyw, int64_t Lv, const T* block, const int64_t* off, int64_t ntaps, int64_t ldt,
                const int64_t* starts, int64_t ns, T* acc) {
  constexpr int V = Vec<T>::W;
  int64_t t = 0;
  for (; t + TB <= ntaps; t += TB)
    wgrad_tile<T, Split, OB, TB>(dyw, Lv, block, off + t, ldt, starts, ns, acc + t * V);
  if constexpr (TB > 1) {
    if (t < ntaps)
      wgrad_taps<T, Split, OB, TB - 1>(dyw, Lv, block, off + t, ntaps - t, ldt, starts, ns, acc + t * V);
  }
}

template <typename T, bool Split, int OB = kWgOB>
void wgrad_channels(const T* dyw, int64_t OCg, const T* block, const int64_t* off, int64_t taps, int64_t Lv,
                    const int64_t* starts, int64_t ns, T* acc) {
  constexpr int V = Vec<T>::W;
  int64_t oc = 0;
  for (; oc + OB <= OCg; oc += OB)
    wgrad_taps<T, Split, OB>(dyw + oc * Lv, Lv, block, off, taps, taps, starts, ns, acc + oc * taps * V);
  if constexpr (OB > 1) {
    if (oc < OCg)
      wgrad_channels<T, Split, OB - 1>(dyw + oc * Lv, OCg - oc, block, off, taps, Lv, starts, ns,
                                       acc + oc * taps * V);
  }
}

template <typename T>
void wgrad(const T* dyw, int64_t OCg, const T* block, const int64_t* off, int64_t taps, int64_t Lv,
           const int64_t* starts, int64_t ns, bool split, T* acc) {
  if (split) wgrad_channels<T, true>(dyw, OCg, block, off, taps, Lv, starts, ns, acc);
  else wgrad_channels<T, false>(dyw, OCg, block, off, taps, Lv, starts, ns, acc);
}

// ------------------------------------------------------------------ adjoint

// TB taps x NV vectors, reduced over the output channels, then added into the block. Callers
// order the taps so that the TB taps of a tile fall in different rows or channels.
template <typename T, bool Split, int TB, int NV>
void adjoint_tile(const T* dyw, int64_t Lv, int64_t OCg, const T* wt, const int64_t* off, const int64_t* st,
                  T* dblock) {
  constexpr int K = kStarts<Split>;
  const T* db[NV][K];
  T* bb[NV][K];
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v)
#pragma GCC unroll 2
    for (int k = 0; k < K; ++k) {
      db[v][k] = dyw + st[v * K + k];
      bb[v][k] = dblock + st[v * K + k];
    }
  Vec<T> acc[TB][NV];
#pragma GCC unroll 16
  for (int a = 0; a < TB; ++a)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[a][v] = zero<T>();
  for (int64_t oc = 0; oc < OCg; ++oc) {
    Vec<T> dv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) dv[v] = load_at<Split>(db[v], oc * Lv);
#pragma GCC unroll 16
    for (int a = 0; a < TB; ++a) {
      const Vec<T> wv = bcast(wt + a * OCg + oc);
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[a][v] = fma(wv, dv[v], acc[a][v]);
    }
  }
#pragma GCC unroll 16
  for (int a = 0; a < TB; ++a)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) store_at<Split>(bb[v], off[a], load_at<Split>(bb[v], off[a]) + acc[a][v]);
}

template <typename T, bool Split, int NV, int TB = kAdjTB>
void adjoint_taps(const T* dyw, int64_t Lv, int64_t OCg, const T* wt, const int64_t* off, int64_t taps,
                  const int64_t* st, T* dblock) {
  int64_t t = 0;
  for (; t + TB <= taps; t += TB) adjoint_tile<T, Split, TB, NV>(dyw, Lv, OCg, wt + t * OCg, off + t, st, dblock);
  if constexpr (TB > 1) {
    if (t < taps) adjoint_taps<T, Split, NV, TB - 1>(dyw, Lv, OCg, wt + t * OCg, off + t, taps - t, st, dblock);
  }
}

template <typename T, bool Split, int NV = kAdjNV>
void adjoint_vectors(const T* dyw, int64_t Lv, int64_t OCg, const T* wt, const int64_t* off, int64_t taps,
                     const int64_t* starts, int64_t ns, T* dblock) {
  constexpr int K = kStarts<Split>;
  int64_t v = 0;
  for (; v + NV <= ns; v += NV) adjoint_taps<T, Split, NV>(dyw, Lv, OCg, wt, off, taps, starts + v * K, dblock);
  if constexpr (NV > 1) {
    if (v < ns) adjoint_vectors<T, Split, NV - 1>(dyw, Lv, OCg, wt, off, taps, starts + v * K, ns - v, dblock);
  }
}

template <typename T>
void adjoint(const T* dyw, int64_t Lv, int64_t OCg, const T* wt, const int64_t* off, int64_t taps,
             const int64_t* starts, int64_t ns, bool split, T* dblock) {
  if (split) adjoint_vectors<T, true>(dyw, Lv, OCg, wt, off, taps, starts, ns, dblock);
  else adjoint_vectors<T, false>(dyw, Lv, OCg, wt, off, taps, starts, ns, dblock);
}

// ------------------------------------------------------------------ copies

template <typename T>
void pad_plane(const T* chan, int64_t H, int64_t W, int64_t sh, int64_t r0, int64_t sw, int64_t c0, int64_t rows,
               int64_t n, T* plane) {
  // Columns j with 0 <= sw * j + c0 < W.
  int64_t lo = c0 >= 0 ? 0 : (-c0 + sw - 1) / sw;
  int64_t hi = W - c0 <= 0 ? 0 : (W - c0 + sw - 1) / sw;
  lo = lo < n ? lo : n;
  hi = hi < n ? hi : n;
  hi = hi > lo ? hi : lo;
  for (int64_t i = 0; i < rows; ++i) {
    T* dst = plane + i * n;
    const int64_t ih = sh * i + r0;
    if (ih < 0 || ih >= H || lo == hi) {
      zero_row(dst, n);
      continue;
    }
    zero_row(dst, lo);
    gather_row(chan + ih * W + c0 + lo * sw, sw, hi - lo, dst + lo);
    zero_row(dst + hi, n - hi);
  }
}

template <typename T>
void copy_rows(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows, int64_t cols, T add) {
  const Vec<T> a = set1<T>(add);
  if (lds == cols && ldd == cols) return copy_row(src, dst, rows * cols, a);
  for (int64_t r = 0; r < rows; ++r) copy_row(src + r * lds, dst + r * ldd, cols, a);
}

template <typename T>
void add_rows(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) add_row(src + r * lds, dst + r * ldd, cols);
}

// ------------------------------------------------------------------ offset GEMM

// MR rows x OV vectors of columns per tile: 6 x 4 (24 accumulators, 4 loads and a broadcast per
// step: 29 of 32 registers) or 6 x 2 (15 of 16).
constexpr int kOgMR = 6, kOgOV = kWide ? 4 : 2;

template <typename T, int MR, int OV>
void offset_gemm_tile(const T* base, const int64_t* ri, const int64_t* ck, int64_t K, const T* B, int64_t ldb,
                      T* C, int64_t ldc, bool add) {
  constexpr int L = Vec<T>::W;
  const T* a[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) a[i] = base + ri[i];
  Vec<T> acc[MR][OV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < OV; ++v) acc[i][v] = add ? load(C + i * ldc + v * L) : zero<T>();
  for (int64_t k = 0; k < K; ++k) {
    const int64_t o = ck[k];
    const T* b = B + k * ldb;
    Vec<T> bv[OV];
#pragma GCC unroll 16
    for (int v = 0; v < OV; ++v) bv[v] = load(b + v * L);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const Vec<T> av = bcast(a[i] + o);
#pragma GCC unroll 16
      for (int v = 0; v < OV; ++v) acc[i][v] = fma(av, bv[v], acc[i][v]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < OV; ++v) store(C + i * ldc + v * L, acc[i][v]);
}

// Rows in tiles of MR, the last rest < MR in one tile of that many.
template <typename T, int OV, int MR = kOgMR>
void offset_gemm_rows(const T* base, const int64_t* ri, int64_t M, const int64_t* ck, int64_t K, const T* B,
                      int64_t ldb, T* C, int64_t ldc, bool add) {
  int64_t i = 0;
  for (; i + MR <= M; i += MR) offset_gemm_tile<T, MR, OV>(base, ri + i, ck, K, B, ldb, C + i * ldc, ldc, add);
  if constexpr (MR > 1) {
    if (i < M) offset_gemm_rows<T, OV, MR - 1>(base, ri + i, M - i, ck, K, B, ldb, C + i * ldc, ldc, add);
  }
}

// Column vectors in groups of kOgOV, the last rest in one group of that many.
template <typename T, int OV = kOgOV>
void offset_gemm_cols(const T* base, const int64_t* ri, int64_t M, const int64_t* ck, int64_t K, const T* B,
                      int64_t ldb, int64_t nv, T* C, int64_t ldc, bool add) {
  constexpr int L = Vec<T>::W;
  int64_t v = 0;
  for (; v + OV <= nv; v += OV) offset_gemm_rows<T, OV>(base, ri, M, ck, K, B + v * L, ldb, C + v * L, ldc, add);
  if constexpr (OV > 1) {
    if (v < nv) offset_gemm_cols<T, OV - 1>(base, ri, M, ck, K, B + v * L, ldb, nv - v, C + v * L, ldc, add);
  }
}

template <typename T>
void offset_gemm(const T* base, const int64_t* ri, int64_t M, const int64_t* ck, int64_t K, const T* B, int64_t ldb,
                 int64_t NB, T* C, int64_t ldc, bool add) {
  offset_gemm_cols<T>(base, ri, M, ck, K, B, ldb, NB / Vec<T>::W, C, ldc, add);
}

}  // namespace

template <typename T>
const ConvDirectKernels<T>& direct_kernels() {
  static const ConvDirectKernels<T> k = {Vec<T>::W,     &forward<T>,   &wgrad<T>,   &adjoint<T>,
                                         &pad_plane<T>, &copy_rows<T>, &add_rows<T>, &offset_gemm<T>};
  return k;
}
template const ConvDirectKernels<float>& direct_kernels<float>();
template const ConvDirectKernels<double>& direct_kernels<double>();

}  // namespace conv
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
