// Direct convolution. Each (image, group) pair copies its input channels into a zero-padded
// block whose rows are Wp = OW + (KW - 1) * dil_w / stride_w wide; in that layout every tap
// (c, kh, kw) is one constant offset, so an output "wide row" of length L = (OH - 1) * Wp + OW
// is a sum of shifted copies of the block: long contiguous vector loops with no im2col buffer.
// Columns ow >= OW of the wide result are discarded. Strides split the block into phases
// (see Geometry).
#include "ops/conv/cpu_direct.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"

#if FASTNN_HAVE_X86
#include <immintrin.h>
#endif

namespace fastnn {

namespace {

std::atomic<int> g_algo{0};


// Measured on 2-core Zen 3 against im2col + GEMM: the direct kernel wins on every stride-1
// layer of LeNet and ResNet (up to 128 channels, 3x3 and 5x5), since it reads the input block
// from cache instead of writing and re-reading a column buffer 9-25 times its size. The
// limits keep the per-thread block (and the tap table) bounded.
constexpr int64_t kMaxTaps = 4608;
constexpr int64_t kMaxBlock = int64_t(1) << 22;
// Lengths are padded to a multiple of both tile widths (3 vectors for 4 channels, 2 for 6).
constexpr int64_t kVec = 48;

// A strided convolution reads input row sh * oh + kh * dil_h - pad_h. Splitting the padded input
// into sh * sw phase planes, plane (rh, rw) holding rows sh * i + rh and columns sw * j + rw,
// turns tap (kh, kw) into a constant offset inside plane ((kh * dil_h) % sh, (kw * dil_w) % sw)
// at row (kh * dil_h) / sh and column (kw * dil_w) / sw: the stride-1 wide-row scheme then
// applies unchanged, with exactly the original taps (stride 1 has a single phase).
//
// The positions computed are a list of 8-float vector starts in the wide layout: either the whole
// wide row (0, 8, ..., covering L) or, when fewer, ceil(OW / 8) vectors per output row, which skips
// the discarded columns (an 8-wide output in 12-wide rows computes 8 vectors instead of 12).
struct Geometry {
  int64_t sh, sw, Hp, Wp, L, Lv, plane, buf;
  std::vector<int64_t> starts;
};

void wide_starts(int64_t len, std::vector<int64_t>& starts) {
  const int64_t nv = (len + 7) / 8;
  starts.resize(nv);
  for (int64_t v = 0; v < nv; ++v) starts[v] = 8 * v;
}

Geometry geometry(const Conv2dShape& s) {
  Geometry g;
  g.sh = s.stride_h;
  g.sw = s.stride_w;
  g.Hp = s.OH + ((s.KH - 1) * s.dil_h) / g.sh;
  g.Wp = s.OW + ((s.KW - 1) * s.dil_w) / g.sw;
  g.L = (s.OH - 1) * g.Wp + s.OW;
  // Room for the last vector of a row-mode list, which may end up to 7 past L.
  g.Lv = (g.L + 7 + kVec - 1) / kVec * kVec;
  g.plane = g.Hp * g.Wp;
  const int64_t per_row = (s.OW + 7) / 8;
  if (s.OH * per_row < (g.L + 7) / 8) {
    g.starts.clear();
    for (int64_t oh = 0; oh < s.OH; ++oh)
      for (int64_t j = 0; j < per_row; ++j) g.starts.push_back(oh * g.Wp + 8 * j);
  } else {
    wide_starts(g.L, g.starts);
  }
  // The last vectors run Lv - L elements past the last tap's final element.
  g.buf = (s.C / s.groups) * g.sh * g.sw * g.plane + (g.Lv - g.L) + kVec;
  return g;
}

bool within_limits(const Conv2dShape& s, int64_t taps) {
  const Geometry g = geometry(s);
  return taps <= kMaxTaps && g.buf <= kMaxBlock && (s.OC / s.groups) * g.Lv <= kMaxBlock;
}

// Forward and weight-gradient: any stride.
bool eligible(const Conv2dShape& s, int64_t taps) {
  const int algo = g_algo.load(std::memory_order_relaxed);
  if (algo == 1) return false;
  if (algo == 2) return true;
  return within_limits(s, taps);
}

#if FASTNN_HAVE_X86
// dst[j] = src[2 * j] for j < n, 8 at a time: even lanes of two vectors, put back in order. Reads
// stop at src[2 * n - 2], the last element used.
FASTNN_TARGET_AVX2 int64_t gather_stride2_avx2(const float* src, int64_t n, float* dst) {
  int64_t j = 0;
  for (; j + 9 <= n; j += 8) {
    const __m256 a = _mm256_loadu_ps(src + 2 * j), b = _mm256_loadu_ps(src + 2 * j + 8);
    const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
    _mm256_storeu_ps(dst + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8)));
  }
  return j;
}
#endif

// dst[j] = src[j * stride] for j < n: the columns of one phase plane row. A stride-2 layer
// gathers its whole input this way, against half the arithmetic per element of a stride-1 one.
template <typename T>
void gather_strided(const T* src, int64_t stride, int64_t n, T* dst) {
  int64_t j = 0;
#if FASTNN_HAVE_X86
  if constexpr (std::is_same_v<T, float>) {
    if (stride == 2 && cpu_path_avx2()) j = gather_stride2_avx2(src, n, dst);
  }
#endif
  for (; j < n; ++j) dst[j] = src[j * stride];
}

// The phase planes of channels [c0, c0 + Cg) of one image (see Geometry).
template <typename T>
void pad_block(const Conv2dShape& s, const Geometry& g, const T* img, T* buf) {
  const int64_t Cg = s.C / s.groups;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t rh = 0; rh < g.sh; ++rh)
      for (int64_t rw = 0; rw < g.sw; ++rw) {
        T* plane = buf + ((c * g.sh + rh) * g.sw + rw) * g.plane;
        // Columns j with 0 <= sw * j + rw - pad_w < W.
        const int64_t off = rw - s.pad_w;
        int64_t lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
        int64_t hi = s.W - off <= 0 ? 0 : (s.W - off + g.sw - 1) / g.sw;
        lo = std::min(lo, g.Wp);
        hi = std::max(lo, std::min(hi, g.Wp));
        for (int64_t i = 0; i < g.Hp; ++i) {
          T* dst = plane + i * g.Wp;
          const int64_t ih = g.sh * i + rh - s.pad_h;
          if (ih < 0 || ih >= s.H || lo == hi) {
            std::fill(dst, dst + g.Wp, T(0));
            continue;
          }
          const T* src = img + (c * s.H + ih) * s.W + off;
          std::fill(dst, dst + lo, T(0));
          if (g.sw == 1) {
            std::memcpy(dst + lo, src + lo, (hi - lo) * sizeof(T));
          } else {
            gather_strided(src + lo * g.sw, g.sw, hi - lo, dst + lo);
          }
          std::fill(dst + hi, dst + g.Wp, T(0));
        }
      }
  const int64_t used = Cg * g.sh * g.sw * g.plane;
  std::fill(buf + used, buf + g.buf, T(0));
}

void tap_offsets(const Conv2dShape& s, const Geometry& g, std::vector<int64_t>& off) {
  const int64_t Cg = s.C / s.groups;
  off.resize(Cg * s.KH * s.KW);
  for (int64_t c = 0, t = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < s.KH; ++kh)
      for (int64_t kw = 0; kw < s.KW; ++kw, ++t) {
        const int64_t uh = kh * s.dil_h, uw = kw * s.dil_w;
        const int64_t phase = (c * g.sh + uh % g.sh) * g.sw + uw % g.sw;
        off[t] = phase * g.plane + (uh / g.sh) * g.Wp + uw / g.sw;
      }
}

// ------------------------------------------------------------------ forward tiles

// Vectors of positions computed per pass over the output-channel tiles. A pass reads, in every
// channel plane of the block, about the span of its positions: keeping that under ~256 KB (the
// L2 cache) lets every output-channel tile re-read it from L2 instead of streaming the whole
// block from L3 once per tile (the 64 -> 128 stride-2 layer: 256 planes of 29 x 29 floats).
int64_t chunk_vectors(int64_t planes) {
  const int64_t v = (int64_t(1) << 16) / std::max<int64_t>(planes, 1) / 8;
  return std::max<int64_t>(kVec / 8, v / (kVec / 8) * (kVec / 8));  // whole groups of 2 and 3 vectors
}

// Positions per pass (chunk, in vectors) and taps per pass (tblock). When the block is too large
// for the L1 cache over a chunk's span, the taps are split into channel groups whose span fits
// (about 24 KB over 12 vectors): every output-channel tile then re-reads them from L1, at the cost
// of adding partial sums into the wide rows once per group. Measured on Zen 3, one thread, CPU
// time: 64 -> 128 stride 2 (256 phase planes per image) 66 -> 77 GFLOP/s, 64 -> 64 56x56 80 -> 88,
// 128 -> 128 28x28 77 -> 85; 6 or 24 vectors and 16 or 32 KB spans did no better.
void forward_blocking(const Conv2dShape& s, const Geometry& g, int64_t& chunk, int64_t& tblock) {
  constexpr int64_t kL1Floats = 6144, kBlockedChunk = 12;
  const int64_t Cg = s.C / s.groups, planes = g.sh * g.sw, KK = s.KH * s.KW;
  chunk = chunk_vectors(Cg * planes);
  tblock = Cg * KK;
  const int64_t extra = (g.Hp - s.OH) * g.Wp + (g.Wp - s.OW) + 8;
  if (Cg * planes * (chunk * 8 + extra) <= kL1Floats) return;
  chunk = std::min<int64_t>(chunk, kBlockedChunk);
  const int64_t cb = std::max<int64_t>(1, kL1Floats / (planes * (chunk * 8 + extra)));
  tblock = std::min(Cg, cb) * KK;
}

// wide[oc][p + j] = sum_t w[oc][t] * block[off[t] + p + j] for every oc < OCg, start p in
// starts[0, ns) and j < 8.
template <typename T>
void forward_wide_portable(const T* block, const int64_t* off, int64_t taps, const T* w, int64_t OCg, int64_t Lv,
                           const int64_t* starts, int64_t ns, int64_t, T* wide) {
  for (int64_t oc = 0; oc < OCg; ++oc)
    for (int64_t v = 0; v < ns; ++v) {
      T acc[8] = {};
      for (int64_t t = 0; t < taps; ++t) {
        const T wv = w[oc * taps + t];
        const T* xs = block + off[t] + starts[v];
        for (int j = 0; j < 8; ++j) acc[j] += wv * xs[j];
      }
      std::copy(acc, acc + 8, wide + oc * Lv + starts[v]);
    }
}

#if FASTNN_HAVE_X86
// OB output channels x NV vectors of positions in OB * NV accumulators (12 of the 16 registers).
// A last group of fewer than NV vectors runs with that many (an 8 x 8 output is 8 vectors: 3 + 3 + 2).
// Taps [0, taps) of rows of w that are ldw apart; with `add`, the sums add to those in wide.
template <int OB, int NV>
FASTNN_TARGET_AVX2 void forward_tile_avx2(const float* block, const int64_t* off, int64_t taps, const float* w,
                                          int64_t ldw, int64_t Lv, const int64_t* starts, int64_t ns, float* wide,
                                          bool add) {
  if constexpr (NV > 1) {
    const int64_t rem = ns % NV;
    if (rem != 0) {
      forward_tile_avx2<OB, NV - 1>(block, off, taps, w, ldw, Lv, starts + (ns - rem), rem, wide, add);
      ns -= rem;
    }
  }
  for (int64_t v0 = 0; v0 + NV <= ns; v0 += NV) {
    __m256 acc[OB][NV];
    #pragma GCC unroll 16
    for (int ob = 0; ob < OB; ++ob)
      #pragma GCC unroll 16
      for (int v = 0; v < NV; ++v)
        acc[ob][v] = add ? _mm256_loadu_ps(wide + ob * Lv + starts[v0 + v]) : _mm256_setzero_ps();
    const float* xb[NV];
    #pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) xb[v] = block + starts[v0 + v];
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t o = off[t];
      __m256 xv[NV];
      #pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) xv[v] = _mm256_loadu_ps(xb[v] + o);
      #pragma GCC unroll 16
      for (int ob = 0; ob < OB; ++ob) {
        const __m256 wv = _mm256_broadcast_ss(w + ob * ldw + t);
        #pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[ob][v] = _mm256_fmadd_ps(wv, xv[v], acc[ob][v]);
      }
    }
    #pragma GCC unroll 16
    for (int ob = 0; ob < OB; ++ob)
      #pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) _mm256_storeu_ps(wide + ob * Lv + starts[v0 + v], acc[ob][v]);
  }
}

FASTNN_TARGET_AVX2 void forward_wide_avx2(const float* block, const int64_t* off, int64_t taps, const float* w,
                                          int64_t OCg, int64_t Lv, const int64_t* starts, int64_t ns, int64_t chunk,
                                          int64_t tblock, float* wide) {
  for (int64_t c0 = 0; c0 < ns; c0 += chunk) {
    const int64_t* st = starts + c0;
    const int64_t n = std::min(chunk, ns - c0);
    for (int64_t t0 = 0; t0 < taps; t0 += tblock) {
      const int64_t nt = std::min(tblock, taps - t0);
      const int64_t* o = off + t0;
      const bool add = t0 > 0;
      int64_t oc = 0;
      if (OCg % 4 != 0)  // e.g. 6 channels (LeNet): 6 x 2 vectors instead of 4 x 3 plus a thin 2 x 3
        for (; oc + 6 <= OCg; oc += 6)
          forward_tile_avx2<6, 2>(block, o, nt, w + oc * taps + t0, taps, Lv, st, n, wide + oc * Lv, add);
      for (; oc + 4 <= OCg; oc += 4)
        forward_tile_avx2<4, 3>(block, o, nt, w + oc * taps + t0, taps, Lv, st, n, wide + oc * Lv, add);
      switch (OCg - oc) {
        case 3: forward_tile_avx2<3, 3>(block, o, nt, w + oc * taps + t0, taps, Lv, st, n, wide + oc * Lv, add); break;
        case 2: forward_tile_avx2<2, 3>(block, o, nt, w + oc * taps + t0, taps, Lv, st, n, wide + oc * Lv, add); break;
        case 1: forward_tile_avx2<1, 3>(block, o, nt, w + oc * taps + t0, taps, Lv, st, n, wide + oc * Lv, add); break;
        default: break;
      }
    }
  }
}
#endif

template <typename T>
void forward_wide(const T* block, const int64_t* off, int64_t taps, const T* w, int64_t OCg, int64_t Lv,
                  const int64_t* starts, int64_t ns, int64_t chunk, int64_t tblock, T* wide) {
#if FASTNN_HAVE_X86
  if constexpr (std::is_same_v<T, float>) {
    if (cpu_path_avx2()) return forward_wide_avx2(block, off, taps, w, OCg, Lv, starts, ns, chunk, tblock, wide);
  }
#endif
  forward_wide_portable(block, off, taps, w, OCg, Lv, starts, ns, chunk, wide);  // no blocking: not cache-bound
}

template <typename T>
void forward_impl(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const Geometry g = geometry(s);
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, taps = Cg * s.KH * s.KW;
  std::vector<int64_t> off;
  tap_offsets(s, g, off);
  const int64_t tasks = s.N * s.groups;
  int64_t chunk, tblock;
  forward_blocking(s, g, chunk, tblock);
  // Per-thread buffers are allocated here: an exception must not leave an OpenMP region.
  const int team = (int)std::max<int64_t>(1, std::min<int64_t>(threads_for(tasks * OCg * taps * g.Lv), tasks));
  std::vector<T> blocks(team * g.buf), wides(team * OCg * g.Lv);
#pragma omp parallel num_threads(team)
  {
    T* block = blocks.data() + omp_get_thread_num() * g.buf;
    T* wide = wides.data() + omp_get_thread_num() * OCg * g.Lv;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / s.groups, gr = task % s.groups;
      pad_block(s, g, x + (n * s.C + gr * Cg) * s.H * s.W, block);
      forward_wide(block, off.data(), taps, w + gr * OCg * taps, OCg, g.Lv, g.starts.data(),
                   (int64_t)g.starts.size(), chunk, tblock, wide);
      for (int64_t oc = 0; oc < OCg; ++oc) {
        const T b = bias ? bias[gr * OCg + oc] : T(0);
        T* dst = y + (n * s.OC + gr * OCg + oc) * s.OH * s.OW;
        const T* src = wide + oc * g.Lv;
        for (int64_t oh = 0; oh < s.OH; ++oh)
          for (int64_t ow = 0; ow < s.OW; ++ow) dst[oh * s.OW + ow] = src[oh * g.Wp + ow] + b;
      }
    }
  }
}

// ------------------------------------------------------------------ weight-gradient tiles

// dw[oc][t] += sum over the vectors p in starts[0, ns) of sum_j<8 dyw[oc][p + j] * block[off[t] + p + j]
template <typename T>
void wgrad_portable(const T* dyw, int64_t OCg, const T* block, const int64_t* off, int64_t taps, int64_t Lv,
                    const int64_t* starts, int64_t ns, T* dw) {
  for (int64_t oc = 0; oc < OCg; ++oc)
    for (int64_t t = 0; t < taps; ++t) {
      T acc = 0;
      for (int64_t v = 0; v < ns; ++v) {
        const T* d = dyw + oc * Lv + starts[v];
        const T* xs = block + off[t] + starts[v];
        for (int j = 0; j < 8; ++j) acc += d[j] * xs[j];
      }
      dw[oc * taps + t] += acc;
    }
}

#if FASTNN_HAVE_X86
template <int OB, int TB>
FASTNN_TARGET_AVX2 void wgrad_tile_avx2(const float* dyw, int64_t Lv, const float* block, const int64_t* off,
                                        int64_t taps, const int64_t* starts, int64_t ns, float* dw) {
  __m256 acc[OB][TB];
  #pragma GCC unroll 16
  for (int ob = 0; ob < OB; ++ob)
    #pragma GCC unroll 16
    for (int tb = 0; tb < TB; ++tb) acc[ob][tb] = _mm256_setzero_ps();
  const float* xs[TB];
  #pragma GCC unroll 16
  for (int tb = 0; tb < TB; ++tb) xs[tb] = block + off[tb];
  for (int64_t v = 0; v < ns; ++v) {
    const int64_t i = starts[v];
    __m256 xv[TB];
    #pragma GCC unroll 16
    for (int tb = 0; tb < TB; ++tb) xv[tb] = _mm256_loadu_ps(xs[tb] + i);
    #pragma GCC unroll 16
    for (int ob = 0; ob < OB; ++ob) {
      const __m256 d = _mm256_loadu_ps(dyw + ob * Lv + i);
      #pragma GCC unroll 16
      for (int tb = 0; tb < TB; ++tb) acc[ob][tb] = _mm256_fmadd_ps(d, xv[tb], acc[ob][tb]);
    }
  }
  // Lane sums stay vectors until every image is done: one horizontal sum per weight, not per image.
  #pragma GCC unroll 16
  for (int ob = 0; ob < OB; ++ob)
    #pragma GCC unroll 16
    for (int tb = 0; tb < TB; ++tb) {
      float* slot = dw + (ob * taps + tb) * 8;
      _mm256_storeu_ps(slot, _mm256_add_ps(_mm256_loadu_ps(slot), acc[ob][tb]));
    }
}

template <int OB>
FASTNN_TARGET_AVX2 void wgrad_row_avx2(const float* dyw, int64_t Lv, const float* block, const int64_t* off,
                                       int64_t taps, const int64_t* starts, int64_t ns, float* dw) {
  int64_t t = 0;
  for (; t + 3 <= taps; t += 3) wgrad_tile_avx2<OB, 3>(dyw, Lv, block, off + t, taps, starts, ns, dw + t * 8);
  switch (taps - t) {
    case 2: wgrad_tile_avx2<OB, 2>(dyw, Lv, block, off + t, taps, starts, ns, dw + t * 8); break;
    case 1: wgrad_tile_avx2<OB, 1>(dyw, Lv, block, off + t, taps, starts, ns, dw + t * 8); break;
    default: break;
  }
}

FASTNN_TARGET_AVX2 void wgrad_avx2(const float* dyw, int64_t OCg, const float* block, const int64_t* off,
                                   int64_t taps, int64_t Lv, const int64_t* starts, int64_t ns, float* dw) {
  int64_t oc = 0;
  for (; oc + 4 <= OCg; oc += 4)
    wgrad_row_avx2<4>(dyw + oc * Lv, Lv, block, off, taps, starts, ns, dw + oc * taps * 8);
  switch (OCg - oc) {
    case 3: wgrad_row_avx2<3>(dyw + oc * Lv, Lv, block, off, taps, starts, ns, dw + oc * taps * 8); break;
    case 2: wgrad_row_avx2<2>(dyw + oc * Lv, Lv, block, off, taps, starts, ns, dw + oc * taps * 8); break;
    case 1: wgrad_row_avx2<1>(dyw + oc * Lv, Lv, block, off, taps, starts, ns, dw + oc * taps * 8); break;
    default: break;
  }
}
#endif

// Accumulator lanes per weight: the AVX2 path keeps 8 partial sums per weight (see wgrad_tile_avx2).
template <typename T>
int64_t wgrad_lanes() {
#if FASTNN_HAVE_X86
  if constexpr (std::is_same_v<T, float>) {
    if (cpu_path_avx2()) return 8;
  }
#endif
  return 1;
}

// acc holds wgrad_lanes<T>() partial sums per weight.
template <typename T>
void wgrad(const T* dyw, int64_t OCg, const T* block, const int64_t* off, int64_t taps, int64_t Lv,
           const int64_t* starts, int64_t ns, T* acc, int64_t lanes) {
#if FASTNN_HAVE_X86
  if constexpr (std::is_same_v<T, float>) {
    if (lanes == 8) return wgrad_avx2(dyw, OCg, block, off, taps, Lv, starts, ns, acc);
  }
#endif
  wgrad_portable(dyw, OCg, block, off, taps, Lv, starts, ns, acc);
}

}  // namespace

void set_conv_algorithm(int algo) { g_algo.store(algo); }
int get_conv_algorithm() { return g_algo.load(); }

template <typename T>
bool conv_direct_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  if (!eligible(s, (s.C / s.groups) * s.KH * s.KW)) return false;
  forward_impl(s, x, w, bias, y);
  return true;
}

// The input-gradient of a strided convolution, phase by phase: the adjoint of
// y[oc][i] = sum_t w[oc][t] * block[phase(t)][i + q(t)] is
// dblock[phase][c][j] = sum over oc and the taps of that phase of w[oc][c][tap] * dy[oc][j - q(tap)],
// a stride-1 wide-row sum over a zero-margined copy of dy; each phase plane then lands on its
// own rows and columns of dx (every dx element belongs to exactly one phase position).
template <typename T>
bool backward_input_phases(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int algo = g_algo.load(std::memory_order_relaxed);
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, KK = s.KH * s.KW;
  if (algo == 1 || s.OH * s.OW == 0) return false;
  const Geometry g = geometry(s);
  const int64_t qh_max = ((s.KH - 1) * s.dil_h) / g.sh, qw_max = ((s.KW - 1) * s.dil_w) / g.sw;
  const int64_t margin = qh_max * g.Wp + qw_max;
  const int64_t Lp = (g.plane + kVec - 1) / kVec * kVec;  // computed length of each phase plane
  const int64_t ld = margin + Lp + kVec;                    // per output channel of the dy copy
  if (algo != 2 && (OCg * KK > kMaxTaps || OCg * ld > kMaxBlock || Cg * Lp > kMaxBlock)) return false;
  // Per phase: its taps (oc, kh, kw), their offsets into the dy copy, and weights [c][tap].
  const int64_t phases = g.sh * g.sw;
  std::vector<std::vector<int64_t>> offs(phases);
  std::vector<std::vector<T>> wts(phases * s.groups);
  std::vector<std::vector<int64_t>> tap_k(phases);  // kh * KW + kw of each tap, per phase (oc-major)
  for (int64_t oc = 0; oc < OCg; ++oc)
    for (int64_t kh = 0; kh < s.KH; ++kh)
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        const int64_t uh = kh * s.dil_h, uw = kw * s.dil_w;
        const int64_t ph = (uh % g.sh) * g.sw + uw % g.sw;
        offs[ph].push_back(oc * ld + margin - ((uh / g.sh) * g.Wp + uw / g.sw));
        tap_k[ph].push_back(oc * KK + kh * s.KW + kw);
      }
  for (int64_t gr = 0; gr < s.groups; ++gr)
    for (int64_t ph = 0; ph < phases; ++ph) {
      const int64_t nt = (int64_t)tap_k[ph].size();
      std::vector<T>& wt = wts[gr * phases + ph];
      wt.resize(Cg * nt);
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t t = 0; t < nt; ++t) {
          const int64_t oc = tap_k[ph][t] / KK, k = tap_k[ph][t] % KK;
          wt[c * nt + t] = w[((gr * OCg + oc) * Cg + c) * KK + k];
        }
    }
  const int64_t tasks = s.N * s.groups;
  const int team = (int)std::max<int64_t>(1, std::min<int64_t>(threads_for(tasks * Cg * OCg * KK * g.plane), tasks));
  std::vector<T> dyps(team * OCg * ld, T(0)), outs(team * Cg * Lp);
  std::vector<int64_t> starts;
  wide_starts(Lp, starts);
  const int64_t chunk = chunk_vectors(OCg);
#pragma omp parallel num_threads(team)
  {
    T* dyp = dyps.data() + omp_get_thread_num() * OCg * ld;
    T* out = outs.data() + omp_get_thread_num() * Cg * Lp;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / s.groups, gr = task % s.groups;
      for (int64_t oc = 0; oc < OCg; ++oc) {
        const T* src = dy + (n * s.OC + gr * OCg + oc) * s.OH * s.OW;
        T* dst = dyp + oc * ld + margin;
        for (int64_t oh = 0; oh < s.OH; ++oh) std::memcpy(dst + oh * g.Wp, src + oh * s.OW, s.OW * sizeof(T));
      }
      T* dxg = dx + (n * s.C + gr * Cg) * s.H * s.W;
      std::fill(dxg, dxg + Cg * s.H * s.W, T(0));
      for (int64_t ph = 0; ph < phases; ++ph) {
        const int64_t nt = (int64_t)offs[ph].size();
        if (nt == 0) continue;
        forward_wide(dyp, offs[ph].data(), nt, wts[gr * phases + ph].data(), Cg, Lp, starts.data(), (int64_t)starts.size(),
                     chunk, nt, out);
        const int64_t rh = ph / g.sw, rw = ph % g.sw;
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t i = 0; i < g.Hp; ++i) {
            const int64_t ih = g.sh * i + rh - s.pad_h;
            if (ih < 0 || ih >= s.H) continue;
            const T* o = out + c * Lp + i * g.Wp;
            T* d = dxg + (c * s.H + ih) * s.W;
            for (int64_t j = 0; j < g.Wp; ++j) {
              const int64_t iw = g.sw * j + rw - s.pad_w;
              if (iw >= 0 && iw < s.W) d[iw] = o[j];
            }
          }
      }
    }
  }
  return true;
}

// ------------------------------------------------------------------ input-gradient as the forward's adjoint

// The forward computes wide[oc][p] = sum_t w[oc][t] * block[off[t] + p]; its adjoint scatters
// dblock[off[t] + p] += sum_oc w[oc][t] * dyw[oc][p] over the same vector starts p. A register
// tile holds TB taps x NV vectors, reduced over the output channels and then added into the
// block: the work is that of the forward, with none of the zero rows and columns that the
// flipped-kernel form computes around a small dy (8 x 8 with a 5 x 5 kernel: 144 outputs of 25
// taps for 64 x 25 products). Taps are ordered (kw, kh, c) so that the TB taps of a tile lie in
// different channels or rows: their vectors never partly overlap, which would stall the loads of
// the additions on the stores before them.
template <typename T>
void adjoint_tile_portable(const T* dyw, int64_t Lv, int64_t OCg, const T* wt, const int64_t* off, int64_t tb,
                           const int64_t* st, int64_t nv, T* dblock) {
  for (int64_t a = 0; a < tb; ++a)
    for (int64_t v = 0; v < nv; ++v) {
      T acc[8] = {};
      for (int64_t oc = 0; oc < OCg; ++oc) {
        const T wv = wt[a * OCg + oc];
        const T* d = dyw + oc * Lv + st[v];
        for (int j = 0; j < 8; ++j) acc[j] += wv * d[j];
      }
      T* o = dblock + off[a] + st[v];
      for (int j = 0; j < 8; ++j) o[j] += acc[j];
    }
}

#if FASTNN_HAVE_X86
template <int TB, int NV>
FASTNN_TARGET_AVX2 void adjoint_tile_avx2(const float* dyw, int64_t Lv, int64_t OCg, const float* wt,
                                          const int64_t* off, const int64_t* st, float* dblock) {
  __m256 acc[TB][NV];
  #pragma GCC unroll 16
  for (int a = 0; a < TB; ++a)
    #pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[a][v] = _mm256_setzero_ps();
  for (int64_t oc = 0; oc < OCg; ++oc) {
    __m256 dv[NV];
    #pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) dv[v] = _mm256_loadu_ps(dyw + oc * Lv + st[v]);
    #pragma GCC unroll 16
    for (int a = 0; a < TB; ++a) {
      const __m256 wv = _mm256_broadcast_ss(wt + a * OCg + oc);
      #pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[a][v] = _mm256_fmadd_ps(wv, dv[v], acc[a][v]);
    }
  }
  #pragma GCC unroll 16
  for (int a = 0; a < TB; ++a)
    #pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      float* o = dblock + off[a] + st[v];
      _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), acc[a][v]));
    }
}

template <int NV>
FASTNN_TARGET_AVX2 void adjoint_taps_avx2(const float* dyw, int64_t Lv, int64_t OCg, const float* wt,
                                          const int64_t* off, int64_t taps, const int64_t* st, float* dblock) {
  int64_t t = 0;
  for (; t + 6 <= taps; t += 6) adjoint_tile_avx2<6, NV>(dyw, Lv, OCg, wt + t * OCg, off + t, st, dblock);
  switch (taps - t) {
    case 5: adjoint_tile_avx2<5, NV>(dyw, Lv, OCg, wt + t * OCg, off + t, st, dblock); break;
    case 4: adjoint_tile_avx2<4, NV>(dyw, Lv, OCg, wt + t * OCg, off + t, st, dblock); break;
    case 3: adjoint_tile_avx2<3, NV>(dyw, Lv, OCg, wt + t * OCg, off + t, st, dblock); break;
    case 2: adjoint_tile_avx2<2, NV>(dyw, Lv, OCg, wt + t * OCg, off + t, st, dblock); break;
    case 1: adjoint_tile_avx2<1, NV>(dyw, Lv, OCg, wt + t * OCg, off + t, st, dblock); break;
    default: break;
  }
}
#endif

// dblock += the adjoint of forward_wide, for the vectors starts[0, ns); wt is [tap][oc].
template <typename T>
void adjoint_wide(const T* dyw, int64_t Lv, int64_t OCg, const T* wt, const int64_t* off, int64_t taps,
                  const int64_t* starts, int64_t ns, T* dblock) {
#if FASTNN_HAVE_X86
  if constexpr (std::is_same_v<T, float>) {
    if (cpu_path_avx2()) {
      int64_t v = 0;
      for (; v + 2 <= ns; v += 2) adjoint_taps_avx2<2>(dyw, Lv, OCg, wt, off, taps, starts + v, dblock);
      if (v < ns) adjoint_taps_avx2<1>(dyw, Lv, OCg, wt, off, taps, starts + v, dblock);
      return;
    }
  }
#endif
  for (int64_t v = 0; v < ns; v += 2)
    for (int64_t t = 0; t < taps; t += 6)
      adjoint_tile_portable(dyw, Lv, OCg, wt + t * OCg, off + t, std::min<int64_t>(6, taps - t), starts + v,
                            std::min<int64_t>(2, ns - v), dblock);
}

// Vectors the adjoint form computes per (image, group), against the flipped-kernel form (whose
// sum has the same taps per vector): the adjoint is chosen when it computes fewer, or when the
// padding is too large for the flipped form.
template <typename T>
bool backward_input_adjoint(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const Geometry g = geometry(s);
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, KK = s.KH * s.KW, taps = Cg * KK;
  std::vector<int64_t> off0;
  tap_offsets(s, g, off0);
  // Tap order (kw, kh, c); weights transposed to [tap][oc] per group.
  std::vector<int64_t> perm, off;
  for (int64_t kw = 0; kw < s.KW; ++kw)
    for (int64_t kh = 0; kh < s.KH; ++kh)
      for (int64_t c = 0; c < Cg; ++c) perm.push_back(c * KK + kh * s.KW + kw);
  for (int64_t t : perm) off.push_back(off0[t]);
  std::vector<T> wt(s.groups * taps * OCg);
  for (int64_t gr = 0; gr < s.groups; ++gr)
    for (int64_t i = 0; i < taps; ++i)
      for (int64_t oc = 0; oc < OCg; ++oc) wt[(gr * taps + i) * OCg + oc] = w[(gr * OCg + oc) * taps + perm[i]];
  const int64_t tasks = s.N * s.groups, ns = (int64_t)g.starts.size();
  const int team = (int)std::max<int64_t>(1, std::min<int64_t>(threads_for(tasks * OCg * taps * ns * 8), tasks));
  std::vector<T> blocks(team * g.buf), dyws(team * OCg * g.Lv, T(0));
#pragma omp parallel num_threads(team)
  {
    const int tid = omp_get_thread_num();
    T* dblock = blocks.data() + tid * g.buf;
    T* dyw = dyws.data() + tid * OCg * g.Lv;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / s.groups, gr = task % s.groups;
      // dy in the wide layout; the discarded columns stay zero so they add nothing.
      for (int64_t oc = 0; oc < OCg; ++oc) {
        const T* src = dy + (n * s.OC + gr * OCg + oc) * s.OH * s.OW;
        T* dst = dyw + oc * g.Lv;
        for (int64_t oh = 0; oh < s.OH; ++oh) std::memcpy(dst + oh * g.Wp, src + oh * s.OW, s.OW * sizeof(T));
      }
      std::fill(dblock, dblock + g.buf, T(0));
      adjoint_wide(dyw, g.Lv, OCg, wt.data() + gr * taps * OCg, off.data(), taps, g.starts.data(), ns, dblock);
      // Input element (ih, iw) is block element (ih + pad_h, iw + pad_w); rows and columns beyond the
      // block are read by no tap.
      for (int64_t c = 0; c < Cg; ++c) {
        T* d = dx + (n * s.C + gr * Cg + c) * s.H * s.W;
        const T* b = dblock + c * g.plane;
        for (int64_t ih = 0; ih < s.H; ++ih) {
          const int64_t i = ih + s.pad_h;
          T* drow = d + ih * s.W;
          if (i >= g.Hp) {
            std::fill(drow, drow + s.W, T(0));
            continue;
          }
          const int64_t n_in = std::max<int64_t>(0, std::min<int64_t>(s.W, g.Wp - s.pad_w));
          std::memcpy(drow, b + i * g.Wp + s.pad_w, n_in * sizeof(T));
          std::fill(drow + n_in, drow + s.W, T(0));
        }
      }
    }
  }
  return true;
}

// The input-gradient of a stride-1 convolution is a stride-1 convolution of dy with the
// kernel flipped and its channel axes swapped, padded by dil * (K - 1) - pad.
template <typename T>
bool conv_direct_backward_input(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  Conv2dShape t = s;
  t.C = s.OC;
  t.H = s.OH;
  t.W = s.OW;
  t.OC = s.C;
  t.OH = s.H;
  t.OW = s.W;
  t.pad_h = (s.KH - 1) * s.dil_h - s.pad_h;
  t.pad_w = (s.KW - 1) * s.dil_w - s.pad_w;
  if (s.stride_h != 1 || s.stride_w != 1) return backward_input_phases(s, dy, w, dx);
  if (s.OH * s.OW == 0) return false;
  const bool flipped_ok = t.pad_h >= 0 && t.pad_w >= 0 && eligible(t, (t.C / t.groups) * t.KH * t.KW);
  if (eligible(s, (s.C / s.groups) * s.KH * s.KW) &&
      (!flipped_ok || geometry(s).starts.size() < geometry(t).starts.size()))
    return backward_input_adjoint(s, dy, w, dx);
  if (!flipped_ok) return false;
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, KK = s.KH * s.KW;
  std::vector<T> wt(s.OC * Cg * KK);
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t oc = 0; oc < OCg; ++oc)
        for (int64_t k = 0; k < KK; ++k)
          wt[((g * Cg + c) * OCg + oc) * KK + k] = w[((g * OCg + oc) * Cg + c) * KK + (KK - 1 - k)];
  forward_impl(t, dy, wt.data(), static_cast<const T*>(nullptr), dx);
  return true;
}

template <typename T>
bool conv_direct_backward_weight(const Conv2dShape& s, const T* x, const T* dy, T* dw) {
  const int64_t Cg = s.C / s.groups, OCg = s.OC / s.groups, taps = Cg * s.KH * s.KW;
  if (!eligible(s, taps)) return false;
  const Geometry g = geometry(s);
  std::vector<int64_t> off;
  tap_offsets(s, g, off);
  // A few images per task when they are small: each tile then sums over the vectors of all of them
  // before adding its accumulators out (an 8 x 8 output has only 8 vectors per image, against 12
  // accumulators to add out per tile). Block and
  // dy copy of image b sit at b * S in their buffers, so one list of starts serves both.
  const int64_t S = std::max<int64_t>(g.buf, OCg * g.Lv), ns = (int64_t)g.starts.size();
  // About 48 vectors per pass: more would move the images' working set from L1 to L2.
  const int64_t per_task = std::max<int64_t>(
      1, std::min({(48 + ns - 1) / ns, (int64_t(1) << 15) / S, s.N / (4 * std::max(1, get_num_threads()))}));
  const int64_t chunks = (s.N + per_task - 1) / per_task;
  std::vector<int64_t> starts(per_task * ns);
  for (int64_t b = 0; b < per_task; ++b)
    for (int64_t v = 0; v < ns; ++v) starts[b * ns + v] = b * S + g.starts[v];
  const int64_t tasks = chunks * s.groups, total = s.OC * taps, lanes = wgrad_lanes<T>();
  std::fill(dw, dw + total, T(0));
  const int team = (int)std::max<int64_t>(
      1, std::min<int64_t>(threads_for(s.N * s.groups * OCg * taps * ns * 8), tasks));
  std::vector<T> blocks(team * per_task * S), dyws(team * per_task * S, T(0)), locals(team * total * lanes, T(0));
#pragma omp parallel num_threads(team)
  {
    const int tid = omp_get_thread_num();
    T* block = blocks.data() + tid * per_task * S;
    T* dyw = dyws.data() + tid * per_task * S;
    T* local = locals.data() + tid * total * lanes;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n0 = task / s.groups * per_task, gr = task % s.groups;
      const int64_t nb = std::min(per_task, s.N - n0);
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t n = n0 + b;
        pad_block(s, g, x + (n * s.C + gr * Cg) * s.H * s.W, block + b * S);
        // dy in the wide layout; the discarded columns stay zero so they add nothing.
        for (int64_t oc = 0; oc < OCg; ++oc) {
          const T* src = dy + (n * s.OC + gr * OCg + oc) * s.OH * s.OW;
          T* dst = dyw + b * S + oc * g.Lv;
          for (int64_t oh = 0; oh < s.OH; ++oh) std::memcpy(dst + oh * g.Wp, src + oh * s.OW, s.OW * sizeof(T));
        }
      }
      wgrad(dyw, OCg, block, off.data(), taps, g.Lv, starts.data(), nb * ns, local + gr * OCg * taps * lanes, lanes);
    }
#pragma omp critical
    for (int64_t i = 0; i < total; ++i) {
      T sum = 0;
      for (int64_t l = 0; l < lanes; ++l) sum += local[i * lanes + l];
      dw[i] += sum;
    }
  }
  return true;
}

template bool conv_direct_forward<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template bool conv_direct_forward<double>(const Conv2dShape&, const double*, const double*, const double*, double*);
template bool conv_direct_backward_input<float>(const Conv2dShape&, const float*, const float*, float*);
template bool conv_direct_backward_input<double>(const Conv2dShape&, const double*, const double*, double*);
template bool conv_direct_backward_weight<float>(const Conv2dShape&, const float*, const float*, float*);
template bool conv_direct_backward_weight<double>(const Conv2dShape&, const double*, const double*, double*);

}  // namespace fastnn
