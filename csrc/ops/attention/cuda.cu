// The attention kernels on the GPU. Contract and formulas: attention.h.
//
// General path (every dtype, every head dim): one warp per query row. The lanes take 32 keys at a
// time, one key each, for the scores (online softmax across the chunks), then share the chunk's
// probabilities through shared memory and accumulate the output over the columns they own (lane +
// 32 c, c < C; head dims wider than 32 C are done in slices of 32 C columns, each slice recomputing
// the scores). The backward is three passes, none with atomics, so its result does not depend on
// scheduling: Delta_i = dout_i . out_i per row, dq per query row (a warp walking the keys), dk/dv
// per key row (a warp walking the query rows of the G query heads that share the key head).
//
// Tensor-core forward (float16/bfloat16 at head dims 32/64/128, FlashAttention-2's loop order):
// a block of 4 warps holds 64 query rows (16 per warp, kept in wmma fragments) and walks tiles of
// BC keys through shared memory; each warp computes its 16 x BC scores with m16n16k16 products
// (float accumulation), the online softmax is done on a shared-memory copy by two lanes per row,
// and P V goes through the tensor cores again. A wmma accumulator's element layout is unspecified,
// so each 16 x 16 block of P V is stored to shared memory and added into the output held in
// registers in a layout of our own (lane owns row lane / 2, columns (lane % 2) 8 .. + 8 of every
// 16-column block), where the per-row rescaling can be applied. Under causal masking the key tiles
// past the block's last query row are skipped. The float16/bfloat16 backward runs the general path.
//
// Dropout regenerates z[i, j] from Philox for each element where it is needed (random.h's element
// placement, float32's for the 16-bit formats), so no mask is stored and the bits match the CPU's.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/cuda_common.cuh"
#include "ops/attention/cuda.h"
#include "ops/attention/dropout.h"
#include "ops/random/random.h"

namespace fastnn::cuda::attention {
namespace {

using ::fastnn::attention::MaskKind;
using ::fastnn::attention::Strides3;

constexpr int kWarps = 4, kThreads = 32 * kWarps;
constexpr int kMaxChunks = 8;  // columns per lane held in registers by the general path: 8 (256 per slice)

// ---------------------------------------------------------------- storage formats
// S the stored type, A the accumulation type; load/store convert (round to nearest even on store).
struct F32 {
  using S = float;
  using A = float;
  static __device__ __forceinline__ A load(S x) { return x; }
  static __device__ __forceinline__ S store(A x) { return x; }
};
struct F64 {
  using S = double;
  using A = double;
  static __device__ __forceinline__ A load(S x) { return x; }
  static __device__ __forceinline__ S store(A x) { return x; }
};
struct FP16 {
  using S = uint16_t;
  using A = float;
  using E = __half;  // the wmma element type
  static __device__ __forceinline__ A load(S x) { return __half2float(__ushort_as_half(x)); }
  static __device__ __forceinline__ S store(A x) { return __half_as_ushort(__float2half_rn(x)); }
  static __device__ __forceinline__ E to_e(A x) { return __float2half_rn(x); }
};
struct BF16 {
  using S = uint16_t;
  using A = float;
  using E = __nv_bfloat16;
  static __device__ __forceinline__ A load(S x) { return __bfloat162float(__ushort_as_bfloat16(x)); }
  static __device__ __forceinline__ S store(A x) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); }
  static __device__ __forceinline__ E to_e(A x) { return __float2bfloat16_rn(x); }
};

__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float log_(float x) { return logf(x); }
__device__ __forceinline__ double log_(double x) { return log(x); }
template <typename A>
__device__ __forceinline__ A neg_inf() {
  return -(A)INFINITY;
}

template <typename A>
__device__ __forceinline__ A warp_max(A v) {
  for (int o = 16; o; o >>= 1) {
    const A w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}
template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Dropout's keep mask: z of element n of the (B, Hq, Lq, Lk) draw, as random.h places it (four
// values per block for every type). `on` false: no dropout, z = 1.
template <typename A>
struct Drop {
  bool on = false;
  uint64_t key = 0, offset = 0, threshold = 0;
  A scale = A(1);
  __device__ __forceinline__ A z(long long n) const {
    return ::fastnn::attention::kept(key, offset, threshold, n) ? scale : A(0);
  }
};

template <typename A, typename T>
Drop<A> make_drop(const Problem<T>& p) {
  Drop<A> d;
  d.on = p.dropout_p > 0.0;
  d.key = p.key;
  d.offset = p.offset;
  d.threshold = ::fastnn::random::keep_threshold(p.dropout_p);
  d.scale = (A)(1.0 / (1.0 - p.dropout_p));
  return d;
}

// Where query row r = (b, h, i) of the flattened (B, Hq, Lq) lies.
struct Row {
  long long b, h, i;
};
template <typename T>
__device__ __forceinline__ Row row_of(const Problem<T>& p, long long r) {
  Row w;
  w.i = r % p.Lq;
  const long long bh = r / p.Lq;
  w.h = bh % p.Hq;
  w.b = bh / p.Hq;
  return w;
}
__device__ __forceinline__ long long at(const Strides3& s, long long b, long long h, long long l) {
  return b * s.b + h * s.h + l * s.l;
}

// The score's mask term for key j of the row whose mask offset is `mrow`: 0 or -inf (boolean) or the
// additive value.
template <class F>
__device__ __forceinline__ typename F::A mask_term(const Problem<typename F::S>& p, long long mrow, long long j) {
  using A = typename F::A;
  if (p.mask_kind == MaskKind::boolean)
    return static_cast<const uint8_t*>(p.mask)[mrow + j * p.mask_sk] ? A(0) : neg_inf<A>();
  if (p.mask_kind == MaskKind::additive)
    return F::load(static_cast<const typename F::S*>(p.mask)[mrow + j * p.mask_sk]);
  return A(0);
}
template <typename T>
__device__ __forceinline__ long long mask_row(const Problem<T>& p, long long b, long long h, long long i) {
  return b * p.mask_sb + h * p.mask_sh + i * p.mask_sq;
}

template <class F>
__device__ __forceinline__ typename F::A dot(const typename F::S* x, const typename F::S* y, long long n) {
  typename F::A s = 0;
  for (long long d = 0; d < n; ++d) s += F::load(x[d]) * F::load(y[d]);
  return s;
}

// The keys a query row attends: [0, Lk), or [0, min(Lk, i + 1)) under top-left causal masking.
template <typename T>
__device__ __forceinline__ long long key_end(const Problem<T>& p, long long i) {
  return p.causal ? (i + 1 < p.Lk ? i + 1 : p.Lk) : p.Lk;
}

// ---------------------------------------------------------------- general forward
// Output columns [c0, c0 + 32 C) of every row; lse written by the slice at c0 = 0.
template <class F, int C>
__global__ void __launch_bounds__(kThreads)
    forward_rows(Problem<typename F::S> p, Drop<typename F::A> dr, typename F::S* out, typename F::A* lse, long long c0) {
  using S = typename F::S;
  using A = typename F::A;
  __shared__ A pz_s[kWarps][32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long rows = p.B * p.Hq * p.Lq, G = p.Hq / p.Hk;
  const A scale = (A)p.scale;
  for (long long r = (long long)blockIdx.x * kWarps + warp; r < rows; r += (long long)gridDim.x * kWarps) {
    const Row w = row_of(p, r);
    const long long hk = w.h / G, jend = key_end(p, w.i), mrow = mask_row(p, w.b, w.h, w.i);
    const S* q = p.q + at(p.qs, w.b, w.h, w.i);
    const S* kb = p.k + at(p.ks, w.b, hk, 0);
    const S* vb = p.v + at(p.vs, w.b, hk, 0) + c0;
    A acc[C];
    for (int c = 0; c < C; ++c) acc[c] = 0;
    A m = neg_inf<A>(), l = 0;
    for (long long j0 = 0; j0 < jend; j0 += 32) {
      const long long j = j0 + lane;
      A s = neg_inf<A>();
      if (j < jend) s = dot<F>(q, kb + j * p.ks.l, p.D) * scale + mask_term<F>(p, mrow, j);
      const A m_new = max(m, warp_max(s));
      A pz = 0;
      if (m_new != neg_inf<A>()) {  // the same in every lane
        const A alpha = exp_(m - m_new);
        const A pj = s == neg_inf<A>() ? A(0) : exp_(s - m_new);
        l = l * alpha + warp_sum(pj);
        for (int c = 0; c < C; ++c) acc[c] *= alpha;
        m = m_new;
        pz = (dr.on && pj != A(0)) ? pj * dr.z(r * p.Lk + j) : pj;
      }
      pz_s[warp][lane] = pz;
      __syncwarp();
      const int nt = jend - j0 < 32 ? (int)(jend - j0) : 32;
      for (int t = 0; t < nt; ++t) {
        const A pt = pz_s[warp][t];
        if (pt == A(0)) continue;
        const S* vr = vb + (j0 + t) * p.vs.l;
        for (int c = 0; c < C; ++c) {
          const long long d = lane + 32 * c;
          if (c0 + d < p.Dv) acc[c] += pt * F::load(vr[d]);
        }
      }
      __syncwarp();
    }
    const A inv = l > A(0) ? A(1) / l : A(0);
    S* o = out + r * p.Dv + c0;
    for (int c = 0; c < C; ++c) {
      const long long d = lane + 32 * c;
      if (c0 + d < p.Dv) o[d] = F::store(acc[c] * inv);
    }
    if (c0 == 0 && lane == 0) lse[r] = l > A(0) ? m + log_(l) : neg_inf<A>();
  }
}

// ---------------------------------------------------------------- general backward
// Delta_i = dout_i . out_i.
template <class F>
__global__ void __launch_bounds__(kThreads)
    delta_rows(Problem<typename F::S> p, Grads<typename F::S, typename F::A> g, typename F::A* delta) {
  using A = typename F::A;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long rows = p.B * p.Hq * p.Lq;
  for (long long r = (long long)blockIdx.x * kWarps + warp; r < rows; r += (long long)gridDim.x * kWarps) {
    const Row w = row_of(p, r);
    const typename F::S* d_o = g.dout + at(g.dos, w.b, w.h, w.i);
    const typename F::S* o = g.out + r * p.Dv;
    A s = 0;
    for (long long d = lane; d < p.Dv; d += 32) s += F::load(d_o[d]) * F::load(o[d]);
    s = warp_sum(s);
    if (lane == 0) delta[r] = s;
  }
}

// dq_i = scale sum_j ds[i, j] k_j, columns [c0, c0 + 32 C).
template <class F, int C>
__global__ void __launch_bounds__(kThreads) dq_rows(Problem<typename F::S> p, Grads<typename F::S, typename F::A> g,
                                                    Drop<typename F::A> dr, const typename F::A* delta, long long c0) {
  using S = typename F::S;
  using A = typename F::A;
  __shared__ A ds_s[kWarps][32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long rows = p.B * p.Hq * p.Lq, G = p.Hq / p.Hk;
  const A scale = (A)p.scale;
  for (long long r = (long long)blockIdx.x * kWarps + warp; r < rows; r += (long long)gridDim.x * kWarps) {
    const Row w = row_of(p, r);
    const long long hk = w.h / G, mrow = mask_row(p, w.b, w.h, w.i);
    const A lse = g.lse[r], dl = delta[r];
    const long long jend = lse == neg_inf<A>() ? 0 : key_end(p, w.i);  // a fully masked row has no gradient
    const S* q = p.q + at(p.qs, w.b, w.h, w.i);
    const S* d_o = g.dout + at(g.dos, w.b, w.h, w.i);
    const S* kb = p.k + at(p.ks, w.b, hk, 0);
    const S* vb = p.v + at(p.vs, w.b, hk, 0);
    A acc[C];
    for (int c = 0; c < C; ++c) acc[c] = 0;
    for (long long j0 = 0; j0 < jend; j0 += 32) {
      const long long j = j0 + lane;
      A ds = 0;
      if (j < jend) {
        const A s = dot<F>(q, kb + j * p.ks.l, p.D) * scale + mask_term<F>(p, mrow, j);
        if (s != neg_inf<A>()) {
          const A pj = exp_(s - lse);
          A dp = dot<F>(d_o, vb + j * p.vs.l, p.Dv);
          if (dr.on) dp *= dr.z(r * p.Lk + j);
          ds = pj * (dp - dl);
        }
      }
      ds_s[warp][lane] = ds;
      __syncwarp();
      const int nt = jend - j0 < 32 ? (int)(jend - j0) : 32;
      for (int t = 0; t < nt; ++t) {
        const A dt = ds_s[warp][t];
        if (dt == A(0)) continue;
        const S* kr = kb + (j0 + t) * p.ks.l + c0;
        for (int c = 0; c < C; ++c) {
          const long long d = lane + 32 * c;
          if (c0 + d < p.D) acc[c] += dt * F::load(kr[d]);
        }
      }
      __syncwarp();
    }
    S* dq = g.dq + r * p.D + c0;
    for (int c = 0; c < C; ++c) {
      const long long d = lane + 32 * c;
      if (c0 + d < p.D) dq[d] = F::store(acc[c] * scale);
    }
  }
}

// dv_j = sum_i p z dout_i and dk_j = scale sum_i ds q_i over the G query heads of key head hk:
// columns [c0, c0 + 32 C) of both.
template <class F, int C>
__global__ void __launch_bounds__(kThreads) dkv_rows(Problem<typename F::S> p, Grads<typename F::S, typename F::A> g,
                                                     Drop<typename F::A> dr, const typename F::A* delta, long long c0) {
  using S = typename F::S;
  using A = typename F::A;
  __shared__ A pz_s[kWarps][32];
  __shared__ A ds_s[kWarps][32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long krows = p.B * p.Hk * p.Lk, G = p.Hq / p.Hk;
  const A scale = (A)p.scale;
  for (long long rk = (long long)blockIdx.x * kWarps + warp; rk < krows; rk += (long long)gridDim.x * kWarps) {
    const long long j = rk % p.Lk, bhk = rk / p.Lk, hk = bhk % p.Hk, b = bhk / p.Hk;
    const S* kr = p.k + at(p.ks, b, hk, j);
    const S* vr = p.v + at(p.vs, b, hk, j);
    A dk[C], dv[C];
    for (int c = 0; c < C; ++c) dk[c] = dv[c] = 0;
    for (long long h = hk * G; h < (hk + 1) * G; ++h) {
      const long long rbase = (b * p.Hq + h) * p.Lq;  // flattened row of (b, h, 0)
      for (long long i0 = p.causal ? j : 0; i0 < p.Lq; i0 += 32) {
        const long long i = i0 + lane;
        A pz = 0, ds = 0;
        if (i < p.Lq) {
          const A lse = g.lse[rbase + i];
          if (lse != neg_inf<A>()) {
            const A s = dot<F>(p.q + at(p.qs, b, h, i), kr, p.D) * scale + mask_term<F>(p, mask_row(p, b, h, i), j);
            if (s != neg_inf<A>()) {
              const A pj = exp_(s - lse);
              const A z = dr.on ? dr.z((rbase + i) * p.Lk + j) : A(1);
              const A dp = dot<F>(g.dout + at(g.dos, b, h, i), vr, p.Dv) * z;
              pz = pj * z;
              ds = pj * (dp - delta[rbase + i]);
            }
          }
        }
        pz_s[warp][lane] = pz;
        ds_s[warp][lane] = ds;
        __syncwarp();
        const int nt = p.Lq - i0 < 32 ? (int)(p.Lq - i0) : 32;
        for (int t = 0; t < nt; ++t) {
          const A pt = pz_s[warp][t], dt = ds_s[warp][t];
          if (pt != A(0)) {
            const S* d_o = g.dout + at(g.dos, b, h, i0 + t) + c0;
            for (int c = 0; c < C; ++c) {
              const long long d = lane + 32 * c;
              if (c0 + d < p.Dv) dv[c] += pt * F::load(d_o[d]);
            }
          }
          if (dt != A(0)) {
            const S* qr = p.q + at(p.qs, b, h, i0 + t) + c0;
            for (int c = 0; c < C; ++c) {
              const long long d = lane + 32 * c;
              if (c0 + d < p.D) dk[c] += dt * F::load(qr[d]);
            }
          }
        }
        __syncwarp();
      }
    }
    for (int c = 0; c < C; ++c) {
      const long long d = lane + 32 * c;
      if (c0 + d < p.D) g.dk[rk * p.D + c0 + d] = F::store(dk[c] * scale);
      if (c0 + d < p.Dv) g.dv[rk * p.Dv + c0 + d] = F::store(dv[c]);
    }
  }
}

// ---------------------------------------------------------------- tensor-core forward
template <int D>
struct TcConfig {
  static constexpr int BR = 16 * kWarps;        // query rows per block
  static constexpr int BC = D == 128 ? 32 : 64;  // keys per tile (keeps the static shared memory < 48 KB)
  static constexpr int LD = D + 8;              // padded row of the Q/K/V tiles (fewer bank conflicts)
  static constexpr int NB = D / 16;             // 16-column blocks of a row
};

// Rows [r0, r0 + rows) of a (L, D) slab with row stride `ld` into a shared tile of row pitch LD; rows
// at or past L are zeros. `vec`: base and row stride allow 16-byte loads.
template <int D, int LD>
__device__ __forceinline__ void load_tile(uint16_t* dst, const uint16_t* src, long long ld, long long r0, long long L,
                                          int rows, bool vec) {
  constexpr int V = D / 8;  // 16-byte vectors per row
  for (int e = threadIdx.x; e < rows * V; e += kThreads) {
    const int r = e / V, c = (e % V) * 8;
    const long long gr = r0 + r;
    uint16_t* d = dst + r * LD + c;
    if (gr >= L) {
      *reinterpret_cast<uint4*>(d) = make_uint4(0, 0, 0, 0);
    } else if (vec) {
      *reinterpret_cast<uint4*>(d) = *reinterpret_cast<const uint4*>(src + gr * ld + c);
    } else {
      for (int t = 0; t < 8; ++t) d[t] = src[gr * ld + c + t];
    }
  }
}

template <class F, int D>
__global__ void __launch_bounds__(kThreads)
    forward_tc(Problem<uint16_t> p, Drop<float> dr, uint16_t* out, float* lse, bool vq, bool vk, bool vv) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  using E = typename F::E;
  using Cfg = TcConfig<D>;
  constexpr int BR = Cfg::BR, BC = Cfg::BC, LD = Cfg::LD, NB = Cfg::NB;
  static_assert(BR * LD <= 2 * BC * LD, "the Q tile is staged in the K/V tiles' memory");
  __shared__ __align__(32) E kv_s[2 * BC * LD];  // the K tile, then the V tile
  __shared__ __align__(32) float s_s[kWarps][16 * BC];
  __shared__ __align__(32) E p_s[kWarps][16 * BC];
  E* const k_s = kv_s;
  E* const v_s = kv_s + BC * LD;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int rw = lane / 2, hc = lane % 2;  // this lane's row in the warp's 16, and which half of its columns
  const long long G = p.Hq / p.Hk, qtiles = (p.Lq + BR - 1) / BR;
  const float scale = (float)p.scale;
  for (long long bh = blockIdx.y; bh < p.B * p.Hq; bh += gridDim.y) {
    const long long b = bh / p.Hq, h = bh % p.Hq, hk = h / G;
    const uint16_t* qb = p.q + at(p.qs, b, h, 0);
    const uint16_t* kb = p.k + at(p.ks, b, hk, 0);
    const uint16_t* vb = p.v + at(p.vs, b, hk, 0);
    for (long long qt = blockIdx.x; qt < qtiles; qt += gridDim.x) {
      const long long q0 = qt * BR;
      const long long i = q0 + warp * 16 + rw;  // this lane's query row
      const long long mrow = mask_row(p, b, h, i);
      load_tile<D, LD>(reinterpret_cast<uint16_t*>(kv_s), qb, p.qs.l, q0, p.Lq, BR, vq);
      __syncthreads();
      wmma::fragment<wmma::matrix_a, 16, 16, 16, E, wmma::row_major> qf[NB];
      for (int kk = 0; kk < NB; ++kk) wmma::load_matrix_sync(qf[kk], kv_s + warp * 16 * LD + kk * 16, LD);
      __syncthreads();
      float o[NB][8];
      for (int nb = 0; nb < NB; ++nb)
        for (int e = 0; e < 8; ++e) o[nb][e] = 0.f;
      float m = -INFINITY, l = 0.f;
      const long long kend = p.causal ? (q0 + BR < p.Lk ? q0 + BR : p.Lk) : p.Lk;  // later tiles are all masked
      for (long long k0 = 0; k0 < kend; k0 += BC) {
        load_tile<D, LD>(reinterpret_cast<uint16_t*>(k_s), kb, p.ks.l, k0, p.Lk, BC, vk);
        load_tile<D, LD>(reinterpret_cast<uint16_t*>(v_s), vb, p.vs.l, k0, p.Lk, BC, vv);
        __syncthreads();
        // S = Q K^T for the warp's 16 rows
        for (int nb = 0; nb < BC / 16; ++nb) {
          wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
          wmma::fill_fragment(sf, 0.f);
          for (int kk = 0; kk < NB; ++kk) {
            wmma::fragment<wmma::matrix_b, 16, 16, 16, E, wmma::col_major> kf;
            wmma::load_matrix_sync(kf, k_s + nb * 16 * LD + kk * 16, LD);
            wmma::mma_sync(sf, qf[kk], kf, sf);
          }
          wmma::store_matrix_sync(s_s[warp] + nb * 16, sf, BC, wmma::mem_row_major);
        }
        __syncwarp();
        // online softmax of row rw over this lane's half of the tile's columns
        float* srow = s_s[warp] + rw * BC + hc * (BC / 2);
        float mx = -INFINITY;
        for (int c = 0; c < BC / 2; ++c) {
          const long long j = k0 + hc * (BC / 2) + c;
          float s = -INFINITY;
          if (i < p.Lq && j < p.Lk && !(p.causal && j > i)) s = srow[c] * scale + mask_term<F>(p, mrow, j);
          srow[c] = s;
          mx = s > mx ? s : mx;
        }
        const float mo = __shfl_xor_sync(0xffffffffu, mx, 1);
        mx = mo > mx ? mo : mx;
        const float m_new = m > mx ? m : mx;
        const float alpha = m_new == -INFINITY ? 1.f : expf(m - m_new);
        float sum = 0.f;
        E* prow = p_s[warp] + rw * BC + hc * (BC / 2);
        for (int c = 0; c < BC / 2; ++c) {
          const float s = srow[c];
          float pj = s == -INFINITY ? 0.f : expf(s - m_new);
          sum += pj;
          if (dr.on && pj != 0.f) pj *= dr.z(((bh * p.Lq) + i) * p.Lk + k0 + hc * (BC / 2) + c);
          prow[c] = F::to_e(pj);
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        l = l * alpha + sum;
        m = m_new;
        for (int nb = 0; nb < NB; ++nb)
          for (int e = 0; e < 8; ++e) o[nb][e] *= alpha;
        __syncwarp();
        // O += P V, one 16-column block at a time through the warp's score buffer
        for (int nb = 0; nb < NB; ++nb) {
          wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
          wmma::fill_fragment(of, 0.f);
          for (int kk = 0; kk < BC / 16; ++kk) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, E, wmma::row_major> pf;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, E, wmma::row_major> vf;
            wmma::load_matrix_sync(pf, p_s[warp] + kk * 16, BC);
            wmma::load_matrix_sync(vf, v_s + kk * 16 * LD + nb * 16, LD);
            wmma::mma_sync(of, pf, vf, of);
          }
          wmma::store_matrix_sync(s_s[warp], of, 16, wmma::mem_row_major);
          __syncwarp();
          for (int e = 0; e < 8; ++e) o[nb][e] += s_s[warp][rw * 16 + hc * 8 + e];
          __syncwarp();
        }
        __syncthreads();  // the next tile overwrites K and V
      }
      if (i < p.Lq) {
        const float inv = l > 0.f ? 1.f / l : 0.f;
        uint16_t* orow = out + (bh * p.Lq + i) * D + hc * 8;
        for (int nb = 0; nb < NB; ++nb)
          for (int e = 0; e < 8; ++e) orow[nb * 16 + e] = F::store(o[nb][e] * inv);
        if (hc == 0) lse[bh * p.Lq + i] = l > 0.f ? m + logf(l) : -INFINITY;
      }
    }
  }
#endif
}

// ---------------------------------------------------------------- launchers
unsigned row_blocks(long long rows) { return grid_x(ceil_div(rows, kWarps)); }

// Calls f(std::integral_constant<int, C>) with C the power of two >= ceil(cols / 32) (at most kMaxChunks).
template <class Fn>
void with_chunks(long long cols, Fn&& f) {
  const long long n = ceil_div(cols < 1 ? 1 : cols, 32);
  if (n <= 1) f(std::integral_constant<int, 1>());
  else if (n <= 2) f(std::integral_constant<int, 2>());
  else if (n <= 4) f(std::integral_constant<int, 4>());
  else f(std::integral_constant<int, kMaxChunks>());
}
constexpr long long kSlice = 32 * kMaxChunks;

template <class F>
void forward_general(const Problem<typename F::S>& p, typename F::S* out, typename F::A* lse, cudaStream_t stream) {
  const long long rows = p.B * p.Hq * p.Lq;
  if (rows == 0) return;
  const auto dr = make_drop<typename F::A>(p);
  const dim3 grid{row_blocks(rows), 1, 1}, block{kThreads, 1, 1};
  for (long long c0 = 0; c0 == 0 || c0 < p.Dv; c0 += kSlice) {
    with_chunks(p.Dv - c0, [&](auto chunks) {
      constexpr int C = decltype(chunks)::value;
      forward_rows<F, C><<<grid, block, 0, stream>>>(p, dr, out, lse, c0);
    });
    check_launch("attention forward");
  }
}

template <class F>
void backward_general(const Problem<typename F::S>& p, const Grads<typename F::S, typename F::A>& g,
                      cudaStream_t stream) {
  using A = typename F::A;
  const long long rows = p.B * p.Hq * p.Lq, krows = p.B * p.Hk * p.Lk;
  const auto dr = make_drop<A>(p);
  const dim3 block{kThreads, 1, 1};
  A* delta = nullptr;
  if (rows > 0) {
    check(cudaMallocAsync(reinterpret_cast<void**>(&delta), (size_t)rows * sizeof(A), stream), "attention backward");
    delta_rows<F><<<dim3{row_blocks(rows), 1, 1}, block, 0, stream>>>(p, g, delta);
    check_launch("attention backward (Delta)");
    for (long long c0 = 0; c0 < p.D; c0 += kSlice) {
      with_chunks(p.D - c0, [&](auto chunks) {
        constexpr int C = decltype(chunks)::value;
        dq_rows<F, C><<<dim3{row_blocks(rows), 1, 1}, block, 0, stream>>>(p, g, dr, delta, c0);
      });
      check_launch("attention backward (dq)");
    }
  }
  const long long width = p.D > p.Dv ? p.D : p.Dv;
  if (krows > 0) {
    if (rows == 0) {  // no query rows: dk and dv are zeros
      if (p.D) check(cudaMemsetAsync(g.dk, 0, (size_t)krows * p.D * sizeof(typename F::S), stream), "attention backward");
      if (p.Dv) check(cudaMemsetAsync(g.dv, 0, (size_t)krows * p.Dv * sizeof(typename F::S), stream), "attention backward");
    } else {
      for (long long c0 = 0; c0 < width; c0 += kSlice) {
        with_chunks(width - c0, [&](auto chunks) {
          constexpr int C = decltype(chunks)::value;
          dkv_rows<F, C><<<dim3{row_blocks(krows), 1, 1}, block, 0, stream>>>(p, g, dr, delta, c0);
        });
        check_launch("attention backward (dk, dv)");
      }
    }
  }
  if (delta) check(cudaFreeAsync(delta, stream), "attention backward");
}

bool aligned_rows(const uint16_t* base, const Strides3& s) {
  return aligned16(base) && s.b % 8 == 0 && s.h % 8 == 0 && s.l % 8 == 0;
}

bool tensor_cores_available() {
  int dev = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return false;
  return major >= 8;
}

template <class F, int D>
void forward_tc_launch(const Problem<uint16_t>& p, uint16_t* out, float* lse, cudaStream_t stream) {
  using Cfg = TcConfig<D>;
  const dim3 grid{grid_x(ceil_div(p.Lq, Cfg::BR)), grid_yz(p.B * p.Hq), 1}, block{kThreads, 1, 1};
  forward_tc<F, D><<<grid, block, 0, stream>>>(p, make_drop<float>(p), out, lse, aligned_rows(p.q, p.qs),
                                                aligned_rows(p.k, p.ks), aligned_rows(p.v, p.vs));
  check_launch("attention forward (tensor cores)");
}

template <class F>
void forward_16_as(const Problem<uint16_t>& p, uint16_t* out, float* lse, cudaStream_t stream) {
  const bool tc = p.D == p.Dv && (p.D == 32 || p.D == 64 || p.D == 128) && p.B * p.Hq * p.Lq > 0 &&
                  tensor_cores_available();
  if (!tc) return forward_general<F>(p, out, lse, stream);
  if (p.D == 32) forward_tc_launch<F, 32>(p, out, lse, stream);
  else if (p.D == 64) forward_tc_launch<F, 64>(p, out, lse, stream);
  else forward_tc_launch<F, 128>(p, out, lse, stream);
}

template <typename T>
struct FormatOf;
template <>
struct FormatOf<float> {
  using type = F32;
};
template <>
struct FormatOf<double> {
  using type = F64;
};

}  // namespace

template <typename T, typename Acc>
void forward(const Problem<T>& p, T* out, Acc* lse, cudaStream_t stream) {
  static_assert(std::is_same_v<Acc, typename FormatOf<T>::type::A>, "float accumulates in float, double in double");
  forward_general<typename FormatOf<T>::type>(p, out, lse, stream);
}

template <typename T, typename Acc>
void backward(const Problem<T>& p, const Grads<T, Acc>& g, cudaStream_t stream) {
  static_assert(std::is_same_v<Acc, typename FormatOf<T>::type::A>, "float accumulates in float, double in double");
  backward_general<typename FormatOf<T>::type>(p, g, stream);
}

void forward_16(const Problem<uint16_t>& p, Format16 f, uint16_t* out, float* lse, cudaStream_t stream) {
  if (f == Format16::float16) forward_16_as<FP16>(p, out, lse, stream);
  else forward_16_as<BF16>(p, out, lse, stream);
}

void backward_16(const Problem<uint16_t>& p, Format16 f, const Grads<uint16_t, float>& g, cudaStream_t stream) {
  if (f == Format16::float16) backward_general<FP16>(p, g, stream);
  else backward_general<BF16>(p, g, stream);
}

template void forward<float, float>(const Problem<float>&, float*, float*, cudaStream_t);
template void forward<double, double>(const Problem<double>&, double*, double*, cudaStream_t);
template void backward<float, float>(const Problem<float>&, const Grads<float, float>&, cudaStream_t);
template void backward<double, double>(const Problem<double>&, const Grads<double, double>&, cudaStream_t);

}  // namespace fastnn::cuda::attention
