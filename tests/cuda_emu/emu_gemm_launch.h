// The GEMM launchers of csrc/ops/gemm/core.cuh for the emulation (its own launchers are CUDA-only):
// the CUDA threads of a block are std::threads with real block and warp barriers, blocks run one
// after another, and the grid is capped at g_cap_yz blocks along y and z so that the kernels'
// grid-stride loops over row tiles and batches run.
#pragma once
#include "cuda_runtime.h"

#include <algorithm>

#define __CUDA_ARCH__ 900  // the TF32 kernel's body is compiled for sm_80 and later only
#include "ops/gemm/core.cuh"
#undef __CUDA_ARCH__

inline unsigned g_cap_yz = 2;
inline long long g_launches = 0;
inline long long g_last_batch = 0;  // the batch count of the last GEMM launch (a split-K weight gradient multiplies it)

namespace fastnn::cuda::gemm_detail {
template <class Kernel>
void emu_run_blocks(dim3 grid, unsigned threads, Kernel kernel) {
  ++g_launches;
  emu_run_threaded(grid, threads, kernel);
}

template <typename T, typename AAcc, typename BAcc, typename CAcc>
inline void launch_gemm(long long batch, long long M, long long N, long long K, T alpha, AAcc a, int amode, BAcc b,
                        int bmode, T beta, CAcc c, bool tf32, cudaStream_t) {
  if (batch == 0 || M == 0 || N == 0) return;
  g_last_batch = batch;
  auto grid_for = [&](long long bm, long long bn) {
    dim3 grid;
    grid.x = (unsigned)ceil_div(N, bn);
    grid.y = (unsigned)std::min<long long>(ceil_div(M, bm), g_cap_yz);
    grid.z = (unsigned)std::min<long long>(batch, g_cap_yz);
    return grid;
  };
  if constexpr (sizeof(T) == 4) {
    if (tf32) {
      emu_run_blocks(grid_for(Tf32Config::BM, Tf32Config::BN), Tf32Config::THREADS,
                     [&] { gemm_tf32<AAcc, BAcc, CAcc>(batch, M, N, K, alpha, a, amode, b, bmode, beta, c); });
      return;
    }
  }
  using Cfg = SimtConfig<T>;
  emu_run_blocks(grid_for(Cfg::BM, Cfg::BN), Cfg::THREADS,
                 [&] { gemm_simt<T, AAcc, BAcc, CAcc>(batch, M, N, K, alpha, a, amode, b, bmode, beta, c); });
}

template <typename T, typename AAcc, typename BAcc, typename CAcc>
inline void launch_gemm_simt(long long batch, long long M, long long N, long long K, T alpha, AAcc a, int amode, BAcc b,
                             int bmode, T beta, CAcc c, cudaStream_t stream) {
  launch_gemm<T>(batch, M, N, K, alpha, a, amode, b, bmode, beta, c, false, stream);
}
}  // namespace fastnn::cuda::gemm_detail
