// Tiled GEMM kernels shared by the plain GEMM and the implicit-GEMM convolutions.
//
//   C(m, n) = alpha * sum_k A(m, k) * B(k, n) + beta * C(m, n)      for every batch index z
//
// The operands are reached through accessor types, so the same kernels serve strided matrices
// (gemm.cu) and im2col gathers that never materialise the unfolded matrix (conv.cu):
//   A accessor: T get(z, m, k)            B accessor: T get(z, n, k)   (both "outer, k")
//               kVectorizable, and get4_k / get4_outer for the 16-byte fast path (strided operands)
//   C accessor: void store(z, m, n, value, alpha, beta)  (applies alpha/beta, bias or atomics)
//
// Two kernels:
//  * gemm_simt: block tile BM x BN x 8, double-buffered shared memory, warp tiling (8 warps in a
//    4 x 2 grid, each warp 4 x 8 threads, each thread 2 x 2 micro-tiles of R x R with R = 16 bytes /
//    sizeof(T)), so every shared-memory read is one 16-byte vector and conflict-free.
//  * gemm_tf32: the same tiles and loaders with a BK of 16, the products on the tensor cores
//    through wmma m16n16k8 TF32 fragments (sm_80+), float32 accumulation.
#pragma once
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

#include "core/cuda_common.cuh"

namespace fastnn::cuda::gemm_detail {

// Layout of one thread's L global loads of a tile, chosen per operand on the host:
//   kMajor: L consecutive k at one outer index (for operands whose k stride is the small one)
//   vector: 16-byte loads (float only; the host proved alignment and unit stride)
enum LoadMode : int { kOuterMajor = 0, kKMajor = 1, kVector = 2 };

// A (outer = m) or B (outer = n) tile: OUTER x BK elements, stored in shared memory as
// [BK][OUTER + PAD] so the compute loop reads consecutive outer indices at a fixed k.
template <typename T, int OUTER, int BK, int THREADS>
struct TileLoader {
  static constexpr int L = OUTER * BK / THREADS;
  static_assert(L >= 1 && OUTER * BK == L * THREADS, "tile must split evenly over the threads");
  static_assert(BK % L == 0 && OUTER % L == 0, "per-thread run must divide the tile");
  T reg[L];

  template <typename Acc>
  __device__ __forceinline__ void load(const Acc& acc, long long z, long long n_outer, long long K, long long o0,
                                       long long k0, int mode, int tid) {
    if (mode & kKMajor) {
      const int tpr = BK / L;
      const long long og = o0 + tid / tpr;
      const long long kg = k0 + (tid % tpr) * L;
      if constexpr (sizeof(T) == 4 && L % 4 == 0 && Acc::kVectorizable) {
        if ((mode & kVector) && og < n_outer && kg + L <= K) {
#pragma unroll
          for (int v = 0; v < L / 4; ++v) {
            float4 q = acc.get4_k(z, og, kg + 4 * v);
            reg[4 * v + 0] = q.x;
            reg[4 * v + 1] = q.y;
            reg[4 * v + 2] = q.z;
            reg[4 * v + 3] = q.w;
          }
          return;
        }
      }
#pragma unroll
      for (int i = 0; i < L; ++i) reg[i] = (og < n_outer && kg + i < K) ? acc.get(z, og, kg + i) : T(0);
    } else {
      const int tpk = OUTER / L;
      const long long kg = k0 + tid / tpk;
      const long long og = o0 + (tid % tpk) * L;
      if constexpr (sizeof(T) == 4 && L % 4 == 0 && Acc::kVectorizable) {
        if ((mode & kVector) && kg < K && og + L <= n_outer) {
#pragma unroll
          for (int v = 0; v < L / 4; ++v) {
            float4 q = acc.get4_outer(z, og + 4 * v, kg);
            reg[4 * v + 0] = q.x;
            reg[4 * v + 1] = q.y;
            reg[4 * v + 2] = q.z;
            reg[4 * v + 3] = q.w;
          }
          return;
        }
      }
#pragma unroll
      for (int i = 0; i < L; ++i) reg[i] = (kg < K && og + i < n_outer) ? acc.get(z, og + i, kg) : T(0);
    }
  }

  // LD is the padded row length of the shared tile.
  template <int LD>
  __device__ __forceinline__ void store(T* s, int mode, int tid) const {
    if (mode & kKMajor) {
      const int tpr = BK / L;
      const int o = tid / tpr, k = (tid % tpr) * L;
#pragma unroll
      for (int i = 0; i < L; ++i) s[(k + i) * LD + o] = reg[i];
    } else {
      const int tpk = OUTER / L;
      const int k = tid / tpk, o = (tid % tpk) * L;
#pragma unroll
      for (int i = 0; i < L; ++i) s[k * LD + o + i] = reg[i];
    }
  }
};

// Operand seen as (outer, k): A with outer = m, B with outer = n.
template <typename T>
struct StridedOperand {
  static constexpr bool kVectorizable = true;
  const T* __restrict__ p;
  long long sz, so, sk;
  __device__ __forceinline__ T get(long long z, long long o, long long k) const { return p[z * sz + o * so + k * sk]; }
  __device__ __forceinline__ float4 get4_k(long long z, long long o, long long k) const {
    return *reinterpret_cast<const float4*>(p + z * sz + o * so + k);
  }
  __device__ __forceinline__ float4 get4_outer(long long z, long long o, long long k) const {
    return *reinterpret_cast<const float4*>(p + z * sz + o + k * sk);
  }
};

inline long long absll(long long v) { return v < 0 ? -v : v; }

// Load layout for one operand: follow its unit (or smaller) stride so a warp's loads coalesce,
// and use 16-byte loads when every vector the kernel reads is provably aligned.
inline int operand_mode(bool is_float, const void* p, long long batch, long long sz, long long n_outer, long long so,
                 long long K, long long sk) {
  bool kmajor;
  if (sk == 1 && K > 1) kmajor = true;
  else if (so == 1 && n_outer > 1) kmajor = false;
  else kmajor = absll(sk) <= absll(so);
  int mode = kmajor ? kKMajor : kOuterMajor;
  if (!is_float || !aligned16(p)) return mode;
  const bool zok = batch == 1 || sz % 4 == 0;
  if (kmajor && sk == 1 && zok && (n_outer == 1 || so % 4 == 0)) mode |= kVector;
  if (!kmajor && so == 1 && zok && (K == 1 || sk % 4 == 0)) mode |= kVector;
  return mode;
}

// 16 bytes of T: float4 for float, double2 for double.
template <typename T>
struct Vec16;
template <>
struct Vec16<float> {
  using type = float4;
  static constexpr int n = 4;
};
template <>
struct Vec16<double> {
  using type = double2;
  static constexpr int n = 2;
};

template <typename T>
__device__ __forceinline__ void load16(T* dst, const T* src) {
  using V = typename Vec16<T>::type;
  V v = *reinterpret_cast<const V*>(src);
  if constexpr (Vec16<T>::n == 4) {
    dst[0] = v.x;
    dst[1] = v.y;
    dst[2] = v.z;
    dst[3] = v.w;
  } else {
    dst[0] = v.x;
    dst[1] = v.y;
  }
}

// ------------------------------------------------------------------ SIMT kernel
template <typename T>
struct SimtConfig {
  static constexpr int R = Vec16<T>::n;         // micro-tile side: 4 (float) or 2 (double)
  static constexpr int WARP_M = 4, WARP_N = 8;  // threads in a warp
  static constexpr int ITER = 2;                // micro-tiles per thread along m and along n
  static constexpr int WM = ITER * WARP_M * R;  // warp tile
  static constexpr int WN = ITER * WARP_N * R;
  static constexpr int WARPS_M = 4, WARPS_N = 2;
  static constexpr int BM = WARPS_M * WM;  // 128 (float) or 64 (double)
  static constexpr int BN = WARPS_N * WN;  // 128 (float) or 64 (double)
  static constexpr int BK = 8;
  static constexpr int THREADS = 32 * WARPS_M * WARPS_N;  // 256
  static constexpr int PAD = R;  // one 16-byte vector: keeps vector reads aligned, spreads the transposed stores
  static constexpr int LDA = BM + PAD, LDB = BN + PAD;
};

template <typename T, typename AAcc, typename BAcc, typename CAcc>
__global__ void __launch_bounds__(SimtConfig<T>::THREADS)
    gemm_simt(long long batch, long long M, long long N, long long K, T alpha, AAcc aacc, int amode, BAcc bacc,
              int bmode, T beta, CAcc cacc) {
  using C = SimtConfig<T>;
  constexpr int BM = C::BM, BN = C::BN, BK = C::BK, R = C::R, LDA = C::LDA, LDB = C::LDB;
  __shared__ __align__(16) T As[2][BK * LDA];
  __shared__ __align__(16) T Bs[2][BK * LDB];

  const int tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  const int wm = warp / C::WARPS_N, wn = warp % C::WARPS_N;
  const int tm = lane / C::WARP_N, tn = lane % C::WARP_N;
  const long long mtiles = ceil_div_dev(M, BM);
  const long long ktiles = ceil_div_dev(K, BK);
  const long long n0 = (long long)blockIdx.x * BN;

  TileLoader<T, BM, BK, C::THREADS> la;
  TileLoader<T, BN, BK, C::THREADS> lb;

  for (long long z = blockIdx.z; z < batch; z += gridDim.z) {
    for (long long mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
      const long long m0 = mt * BM;
      T acc[C::ITER * R][C::ITER * R];
#pragma unroll
      for (int i = 0; i < C::ITER * R; ++i)
#pragma unroll
        for (int j = 0; j < C::ITER * R; ++j) acc[i][j] = T(0);

      if (ktiles > 0) {
        la.load(aacc, z, M, K, m0, 0, amode, tid);
        lb.load(bacc, z, N, K, n0, 0, bmode, tid);
        la.template store<LDA>(As[0], amode, tid);
        lb.template store<LDB>(Bs[0], bmode, tid);
      }
      __syncthreads();

      for (long long kt = 0; kt < ktiles; ++kt) {
        const int cur = (int)(kt & 1);
        const bool more = kt + 1 < ktiles;
        // The next tile's global loads are issued before this tile's arithmetic so their
        // latency hides behind it; they land in shared memory only after the arithmetic.
        if (more) {
          la.load(aacc, z, M, K, m0, (kt + 1) * BK, amode, tid);
          lb.load(bacc, z, N, K, n0, (kt + 1) * BK, bmode, tid);
        }
        const T* as = As[cur];
        const T* bs = Bs[cur];
#pragma unroll
        for (int k = 0; k < BK; ++k) {
          T a[C::ITER * R], b[C::ITER * R];
#pragma unroll
          for (int it = 0; it < C::ITER; ++it) {
            load16(&a[it * R], as + k * LDA + wm * C::WM + it * (C::WARP_M * R) + tm * R);
            load16(&b[it * R], bs + k * LDB + wn * C::WN + it * (C::WARP_N * R) + tn * R);
          }
#pragma unroll
          for (int i = 0; i < C::ITER * R; ++i)
#pragma unroll
            for (int j = 0; j < C::ITER * R; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        if (more) {
          // Buffer cur^1 was last read in the previous iteration, which every thread finished
          // before the barrier that ended it; one barrier per k-tile is enough.
          la.template store<LDA>(As[cur ^ 1], amode, tid);
          lb.template store<LDB>(Bs[cur ^ 1], bmode, tid);
        }
        __syncthreads();
      }

#pragma unroll
      for (int im = 0; im < C::ITER; ++im)
#pragma unroll
        for (int i = 0; i < R; ++i) {
          const long long m = m0 + wm * C::WM + im * (C::WARP_M * R) + tm * R + i;
          if (m >= M) continue;
#pragma unroll
          for (int jn = 0; jn < C::ITER; ++jn)
#pragma unroll
            for (int j = 0; j < R; ++j) {
              const long long n = n0 + wn * C::WN + jn * (C::WARP_N * R) + tn * R + j;
              if (n < N) cacc.store(z, m, n, acc[im * R + i][jn * R + j], alpha, beta);
            }
        }
    }
  }
}

// ------------------------------------------------------------------ TF32 tensor-core kernel
struct Tf32Config {
  static constexpr int BM = 128, BN = 128, BK = 16;
  static constexpr int WARPS_M = 2, WARPS_N = 4;  // warp tile 64 x 32
  static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
  static constexpr int FM = WM / 16, FN = WN / 16;  // 4 x 2 accumulator fragments per warp
  static constexpr int THREADS = 32 * WARPS_M * WARPS_N;
  // wmma needs 32-byte aligned fragment pointers and a leading dimension that is a multiple of 4:
  // 136 floats = 544 bytes keeps both for every k and every 16-wide fragment offset.
  static constexpr int LDA = BM + 8, LDB = BN + 8;
};

template <typename AAcc, typename BAcc, typename CAcc>
__global__ void __launch_bounds__(Tf32Config::THREADS)
    gemm_tf32(long long batch, long long M, long long N, long long K, float alpha, AAcc aacc, int amode, BAcc bacc,
              int bmode, float beta, CAcc cacc) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  using C = Tf32Config;
  constexpr int BM = C::BM, BN = C::BN, BK = C::BK, LDA = C::LDA, LDB = C::LDB;
  __shared__ __align__(32) float As[2][BK * LDA];
  __shared__ __align__(32) float Bs[2][BK * LDB];
  __shared__ __align__(32) float Cs[C::WARPS_M * C::WARPS_N][16 * 16];

  const int tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  const int wm = warp / C::WARPS_N, wn = warp % C::WARPS_N;
  const long long mtiles = ceil_div_dev(M, BM);
  const long long ktiles = ceil_div_dev(K, BK);
  const long long n0 = (long long)blockIdx.x * BN;

  TileLoader<float, BM, BK, C::THREADS> la;
  TileLoader<float, BN, BK, C::THREADS> lb;

  for (long long z = blockIdx.z; z < batch; z += gridDim.z) {
    for (long long mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
      const long long m0 = mt * BM;
      wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[C::FM][C::FN];
#pragma unroll
      for (int i = 0; i < C::FM; ++i)
#pragma unroll
        for (int j = 0; j < C::FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

      if (ktiles > 0) {
        la.load(aacc, z, M, K, m0, 0, amode, tid);
        lb.load(bacc, z, N, K, n0, 0, bmode, tid);
        la.template store<LDA>(As[0], amode, tid);
        lb.template store<LDB>(Bs[0], bmode, tid);
      }
      __syncthreads();

      for (long long kt = 0; kt < ktiles; ++kt) {
        const int cur = (int)(kt & 1);
        const bool more = kt + 1 < ktiles;
        if (more) {
          la.load(aacc, z, M, K, m0, (kt + 1) * BK, amode, tid);
          lb.load(bacc, z, N, K, n0, (kt + 1) * BK, bmode, tid);
        }
#pragma unroll
        for (int k = 0; k < BK; k += 8) {
          // As is [k][m]: element (m, k) at m + k * LDA, i.e. a column-major M x K tile.
          wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fa[C::FM];
          wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb[C::FN];
#pragma unroll
          for (int i = 0; i < C::FM; ++i) {
            wmma::load_matrix_sync(fa[i], As[cur] + k * LDA + wm * C::WM + i * 16, LDA);
#pragma unroll
            for (int e = 0; e < fa[i].num_elements; ++e) fa[i].x[e] = wmma::__float_to_tf32(fa[i].x[e]);
          }
#pragma unroll
          for (int j = 0; j < C::FN; ++j) {
            wmma::load_matrix_sync(fb[j], Bs[cur] + k * LDB + wn * C::WN + j * 16, LDB);
#pragma unroll
            for (int e = 0; e < fb[j].num_elements; ++e) fb[j].x[e] = wmma::__float_to_tf32(fb[j].x[e]);
          }
#pragma unroll
          for (int i = 0; i < C::FM; ++i)
#pragma unroll
            for (int j = 0; j < C::FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
        if (more) {
          la.template store<LDA>(As[cur ^ 1], amode, tid);
          lb.template store<LDB>(Bs[cur ^ 1], bmode, tid);
        }
        __syncthreads();
      }

      // Fragment layouts are opaque: each warp goes through its own 16 x 16 scratch tile, then
      // the lanes apply alpha/beta with bounds and strides.
      float* cs = Cs[warp];
#pragma unroll
      for (int i = 0; i < C::FM; ++i)
#pragma unroll
        for (int j = 0; j < C::FN; ++j) {
          wmma::store_matrix_sync(cs, acc[i][j], 16, wmma::mem_row_major);
          __syncwarp();
          for (int e = lane; e < 256; e += 32) {
            const long long m = m0 + wm * C::WM + i * 16 + e / 16;
            const long long n = n0 + wn * C::WN + j * 16 + e % 16;
            if (m < M && n < N) cacc.store(z, m, n, cs[e], alpha, beta);
          }
          __syncwarp();
        }
    }
  }
#endif
}

#ifdef __CUDACC__
// Launches the SIMT kernel; nothing is launched for an empty output.
template <typename T, typename AAcc, typename BAcc, typename CAcc>
inline void launch_gemm_simt(long long batch, long long M, long long N, long long K, T alpha, AAcc a, int amode, BAcc b,
                             int bmode, T beta, CAcc c, cudaStream_t stream) {
  if (batch == 0 || M == 0 || N == 0) return;
  using Cfg = SimtConfig<T>;
  long long nt = ceil_div(N, Cfg::BN);
  if (nt > kMaxGridX) throw std::runtime_error("gemm: N is too large for one launch");
  dim3 grid(grid_x(nt), grid_yz(ceil_div(M, Cfg::BM)), grid_yz(batch));
  gemm_simt<T, AAcc, BAcc, CAcc><<<grid, Cfg::THREADS, 0, stream>>>(batch, M, N, K, alpha, a, amode, b, bmode, beta, c);
  check_launch("gemm (simt kernel)");
}

// Launches the TF32 kernel (float only) when tf32 is set, else the SIMT kernel.
template <typename T, typename AAcc, typename BAcc, typename CAcc>
inline void launch_gemm(long long batch, long long M, long long N, long long K, T alpha, AAcc a, int amode, BAcc b,
                        int bmode, T beta, CAcc c, bool tf32, cudaStream_t stream) {
  if (batch == 0 || M == 0 || N == 0) return;
  if constexpr (sizeof(T) == 4) {
    if (tf32) {
      using Cfg = Tf32Config;
      long long nt = ceil_div(N, Cfg::BN);
      if (nt > kMaxGridX) throw std::runtime_error("gemm: N is too large for one launch");
      dim3 grid(grid_x(nt), grid_yz(ceil_div(M, Cfg::BM)), grid_yz(batch));
      gemm_tf32<AAcc, BAcc, CAcc><<<grid, Cfg::THREADS, 0, stream>>>(batch, M, N, K, alpha, a, amode, b, bmode, beta, c);
      check_launch("gemm (tf32 kernel)");
      return;
    }
  }
  launch_gemm_simt<T>(batch, M, N, K, alpha, a, amode, b, bmode, beta, c, stream);
}

#endif  // __CUDACC__

}  // namespace fastnn::cuda::gemm_detail
